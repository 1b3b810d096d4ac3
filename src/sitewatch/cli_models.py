"""`sitewatch models …`: the detectors sitewatch can run (a shell over detect.registry)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from sitewatch.cli_common import State, fails_cleanly, out

models_app = typer.Typer(
    help="Detection models: the shipped ones and the workspace's own (<workspace>/models).",
    no_args_is_help=True,
)


def _workspace() -> Any:
    """The workspace folder (its models/ holds the user's models); no catalog is opened."""
    from sitewatch.config import Settings

    return Settings.resolve(State.workspace, State.db_url).workspace


def _num(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{float(value):.{digits}f}"


@models_app.command("list")
@fails_cleanly
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every model: name, version, classes with their held-out figures, GSD, source."""
    from sitewatch.detect.registry import list_models

    entries = list_models(_workspace())
    if as_json:
        print(json.dumps([e.to_dict() for e in entries], indent=1, ensure_ascii=False))
        return
    table = Table(title="detection models (AP50 · precision · recall · count error, held out)")
    for col in ("name", "version", "class", "GSD m", "AP50", "P", "R", "count err",
                "threshold", "experimental", "source"):  # fmt: skip
        table.add_column(col)
    for e in entries:
        if e.info is None:
            table.add_row(escape(e.name), "", "", "", "", "", "", "", "", "",
                          f"{e.source} [red]broken:[/red] {escape(e.error or '')}")  # fmt: skip
            continue
        for i, cls in enumerate(e.info.classes):
            m = e.info.class_metrics(cls)
            first = i == 0
            table.add_row(
                escape(e.name) if first else "",
                escape(e.info.version) if first else "",
                escape(cls),
                _num(e.info.model_gsd_m, 2) if first else "",
                _num(m.get("ap50")),
                _num(m.get("precision")),
                _num(m.get("recall")),
                _num(m.get("count_mare")),
                _num(e.info.threshold_for(cls), 2),
                ("yes" if e.info.experimental else "no") if first else "",
                e.source if first else "",
            )
    out.print(table)


@models_app.command("show")
@fails_cleanly
def models_show(
    name: Annotated[str, typer.Argument(help="A model name (`models list`) or an .onnx path.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """A model's full card: classes, thresholds, held-out metrics, licence, credit, card."""
    from sitewatch.detect.registry import resolve_model

    entry = resolve_model(name, _workspace())
    data = entry.to_dict(card=True)
    if as_json:
        print(json.dumps(data, indent=1, ensure_ascii=False))
        return
    info = entry.info
    assert info is not None  # resolve_model refuses broken files
    lines = [
        f"[bold]{escape(entry.name)}[/bold] version {escape(info.version)}"
        + (" [yellow](experimental)[/yellow]" if info.experimental else ""),
        f"file: {escape(str(entry.path))} ({entry.source}), sha256 {entry.sha256}",
        f"classes: {escape(', '.join(info.classes))}; model GSD {info.model_gsd_m} m "
        f"(trained on {info.train_gsd_m} m imagery)",
        f"licence: {escape(info.licence or 'not stated')}",
        f"credit: {escape(info.credit or 'not stated')}",
    ]
    out.print("\n".join(lines), highlight=False)
    table = Table(title="per class, held out", title_justify="left")
    for col in ("class", "threshold", "AP50", "AP50:95", "precision", "recall", "count error",
                "measured on"):  # fmt: skip
        table.add_column(col)
    for cls in info.classes:
        m = info.class_metrics(cls)
        table.add_row(
            escape(cls), _num(info.threshold_for(cls), 2), _num(m.get("ap50")),
            _num(m.get("ap50_95")), _num(m.get("precision")), _num(m.get("recall")),
            _num(m.get("count_mare")), escape(str(m.get("held_out") or "—")),
        )  # fmt: skip
    out.print(table)
    card = data.get("card") or ""
    out.print(escape(card) if card else "(no model card)", highlight=False)
