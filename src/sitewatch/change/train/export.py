"""Export a trained change model to ONNX with its card in the metadata (and beside it as
JSON), both written whole or not at all."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from sitewatch.change.model import ChangeModelInfo
from sitewatch.change.train.loop import ChangeTrainConfig
from sitewatch.change.train.net import ChangeNet, ChangeNetConfig, Probability
from sitewatch.errors import OutputError
from sitewatch.files import write_bytes_atomic, write_text_atomic
from sitewatch.runtime import METADATA_KEY


def load_trained(checkpoint: Path) -> tuple[ChangeNet, dict[str, Any]]:
    """The averaged (EMA) network of a checkpoint and the configuration it was trained with."""
    import torch

    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    config = ckpt["config"]
    saved: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in config["net"].items()
    }
    net = ChangeNet(ChangeNetConfig(**saved))
    net.load_state_dict(ckpt["ema"])
    return net.eval(), config


def export_onnx(
    checkpoint: Path,
    out: Path,
    *,
    name: str,
    version: str,
    threshold: float,
    gsd_m: tuple[float, float],
    metrics: dict[str, Any],
    licence: str,
    credit: str,
    card: str,
    experimental: bool = False,
) -> ChangeModelInfo:
    """Write ``out`` (.onnx, inputs ``before`` and ``after``, output ``change``) and its
    card ``out.json``."""
    import onnx
    import torch

    if out.is_dir() or out.suffix.lower() != ".onnx":
        raise OutputError(out, "a model file's name must end in .onnx", "e.g. NAME.onnx")
    net, config = load_trained(checkpoint)
    info = ChangeModelInfo(
        name=name, version=version, task="change", gsd_m=gsd_m, threshold=threshold,
        metrics=metrics, licence=licence, credit=credit, experimental=experimental, card=card,
    )  # fmt: skip
    ChangeModelInfo.from_json(info.to_json())  # the card is checked before anything is written
    dummies = (torch.randn(1, 3, 128, 128), torch.randn(1, 3, 128, 128))
    with tempfile.TemporaryDirectory(prefix="sitewatch-export-") as scratch:
        raw_path = Path(scratch) / "raw.onnx"
        torch.onnx.export(
            Probability(net),
            dummies,
            raw_path,
            opset_version=17,
            dynamo=False,
            input_names=["before", "after"],
            output_names=["change"],
            dynamic_axes={k: {0: "n", 2: "h", 3: "w"} for k in ("before", "after", "change")},
        )
        proto = onnx.load(raw_path)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    onnx.checker.check_model(proto)
    train = {k: v for k, v in config.items() if k in ChangeTrainConfig.__dataclass_fields__}
    # the readable card first: a kill between the two leaves the old model beside a card of
    # another version (never a new model described by an old card), as detectors do
    write_text_atomic(
        out.with_suffix(".json"),
        json.dumps({**json.loads(info.to_json()), "train": train}, indent=1, default=str),
    )
    write_bytes_atomic(out, proto.SerializeToString())
    return info
