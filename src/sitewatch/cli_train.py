"""`sitewatch train detector`: train a detector for any classes from a standard dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sitewatch.cli_common import State, err, fails_cleanly, out
from sitewatch.errors import BadInputError

train_app = typer.Typer(help="Train models (needs the `train` extra: torch).", no_args_is_help=True)

FORMAT_HELP = "airbus-csv, coco, yolo, dota or xview (layouts: sitewatch.detect.train.dataset)."


@train_app.command("detector")
@fails_cleanly
def train_detector(
    data: Annotated[Path, typer.Option(help="Dataset folder (images and labels).")],
    licence: Annotated[
        str, typer.Option(help="The data's licence; it goes into the model card (required).")
    ] = "",
    credit: Annotated[
        str, typer.Option(help="Who to credit for the data (required; into the card).")
    ] = "",
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "airbus-csv",
    classes: Annotated[
        str,
        typer.Option(help="Model classes: car,truck or merged vehicle=car+truck+bus."),
    ] = "aircraft",
    gsd: Annotated[
        float | None,
        typer.Option(help="Metres per model pixel (airbus-csv: 1.0; vehicles: 0.3)."),
    ] = None,
    source_gsd: Annotated[
        float | None,
        typer.Option(help="GSD of images whose labels do not say it (airbus-csv: 0.5)."),
    ] = None,
    split_by: Annotated[
        str | None,
        typer.Option(
            help="Image field naming the place (site_id, city…; 'image': each image its own "
            "place). Validation holds out whole places."
        ),
    ] = None,
    val_group: Annotated[
        list[str] | None, typer.Option(help="A place to hold out (repeat); else --fold.")
    ] = None,
    fold: Annotated[int, typer.Option(help="Held-out fold (-1: train on all).")] = 0,
    folds: Annotated[int, typer.Option(help="Number of place-wise folds.")] = 5,
    satellite: Annotated[
        bool,
        typer.Option(help="Degrade finer aerial/drone sources like a satellite sensor."),
    ] = False,
    name: Annotated[str, typer.Option(help="Model name (the registry's key).")] = "",
    out_model: Annotated[
        Path | None, typer.Option("--out", help="ONNX file (default: WORKSPACE/models/NAME.onnx).")
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="Checkpoint folder (resumes; default WORKSPACE/checkpoints/NAME)."),
    ] = None,
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 2200,
    crop: Annotated[int, typer.Option(help="Training crop side in model pixels.")] = 512,
    batch: Annotated[int, typer.Option(help="Crops per step.")] = 8,
    resume: Annotated[bool, typer.Option(help="Resume from the last checkpoint.")] = True,
) -> None:
    """Train a detector from scratch on a labelled dataset, then export it to ONNX with a
    card: classes, GSD, the data's licence and credit, held-out accuracy per class."""
    from sitewatch.config import Settings
    from sitewatch.detect.train.dataset import CLASS_NAME, FORMATS, ClassMap

    if not licence.strip() or not credit.strip():
        raise BadInputError(
            data,
            "the data's licence and credit are required",
            'pass --licence "…" and --credit "…": they go into the model card',
        )
    if fmt not in FORMATS:
        raise BadInputError(fmt, "unknown dataset format", f"use one of {', '.join(FORMATS)}")
    airbus = fmt == "airbus-csv"
    if split_by is None and not airbus:
        raise BadInputError(
            data,
            "no --split-by: validation must hold out whole places, not random images",
            "name the image field that says where each was taken (or --split-by image)",
        )
    if gsd is None and not airbus:
        raise BadInputError(data, "no --gsd", "say at what GSD (metres per pixel) to train")
    for value, what in ((gsd, "--gsd"), (source_gsd, "--source-gsd")):
        if value is not None and not 0.01 <= value <= 100:
            raise BadInputError(what, f"{value} is not a GSD in metres (0.01…100)")
    if not (1 <= steps <= 1_000_000 and 1 <= batch <= 256 and 2 <= folds <= 100):
        raise BadInputError("train", "steps 1…10⁶, batch 1…256, folds 2…100")
    if not (64 <= crop <= 2048 and crop % 32 == 0):
        raise BadInputError(
            "--crop", f"{crop} is not a multiple of 32 in 64…2048 (the net halves it 5 times)"
        )
    if not -1 <= fold < folds:
        raise BadInputError(
            "--fold", f"{fold} is not a fold of {folds} (0…{folds - 1}, or -1: none)"
        )
    class_map = ClassMap.parse(classes)
    model_name = name or f"sitewatch-{'-'.join(class_map.classes)}"
    if not CLASS_NAME.fullmatch(model_name):
        raise BadInputError(
            "--name", f"{model_name!r} is not a model name (letters, digits, '_', '-', '.')"
        )
    try:
        from sitewatch.detect.train.export import export_onnx
        from sitewatch.detect.train.loop import TrainConfig, train
    except ImportError as exc:
        raise BadInputError(
            "train", f"{exc}", "install the extra: pip install 'sitewatch[train]'"
        ) from None
    workspace = Settings.resolve(State.workspace, State.db_url).workspace
    if out_model is None:
        out_model = workspace / "models" / f"{model_name}.onnx"
    cfg = TrainConfig(
        data=str(data),
        out=str(checkpoints or workspace / "checkpoints" / model_name),
        format=fmt,
        classes=class_map.spec(),
        split_by=split_by or "site_id",
        val_groups=list(val_group) if val_group else None,
        fold=fold,
        folds=folds,
        gsd=gsd if gsd is not None else 1.0,
        source_gsd=source_gsd if source_gsd is not None else (0.5 if airbus else None),
        satellite=satellite,
        crop=crop,
        batch=batch,
        steps=steps,
        name=model_name,
        licence=licence.strip(),
        credit=credit.strip(),
    )
    last = train(cfg, log=lambda m: err.print(m, highlight=False), resume=resume)
    info = export_onnx(last, out_model)
    out.print(
        f"wrote {escape(str(out_model))} ({escape(info.name)}: {', '.join(info.classes)});"
        f" held-out {escape(str(info.metrics.get('per_class', 'not measured')))}",
        highlight=False,
    )
