"""`sitewatch change SITE`: pixel change between the registered dates of a site, in its frame
(a shell over sitewatch.change)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sitewatch.cli_common import catalog, fails_cleanly, out
from sitewatch.errors import BadInputError

if TYPE_CHECKING:
    from sitewatch.change import ChangeMethod


def chosen_method(method: str | None, model: Path | None, default: ChangeMethod) -> ChangeMethod:
    """--method by name; --model implies the model method (and refuses another one)."""
    from sitewatch.change import ChangeMethod

    chosen = default if method is None else ChangeMethod.named(method)
    if model is None:
        return chosen
    if method is not None and chosen != ChangeMethod.MODEL:
        raise BadInputError("--model", f"a model file with --method {chosen}",
                            "drop one: --model runs the model method")  # fmt: skip
    return ChangeMethod.MODEL


@fails_cleanly
def change(
    name: Annotated[str, typer.Argument(help="Site name (run `sitewatch register` first).")],
    start: Annotated[
        str | None, typer.Option("--from", help="First date compared (YYYY-MM-DD).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last date compared (YYYY-MM-DD).")
    ] = None,
    method: Annotated[
        str | None, typer.Option(help="Change method: model, irmad or cva (default irmad).")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="A change model file (.onnx): implies --method model.")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for maps, regions and series (default: workspace)."),
    ] = None,
    min_area: Annotated[float, typer.Option(help="Smallest changed region kept, in m².")] = 20.0,
    false_alarm: Annotated[
        float,
        typer.Option(
            "--false-alarm",
            help="Alert on a pair when more changed than this share of quiet pairs of dates "
            "reach (the change model's measured ones).",
        ),
    ] = 0.01,
) -> None:
    """Where and how much the site changed between consecutive registered dates: a change
    map per pair, the changed regions (appeared / removed / altered, with area) and the
    changed-area series."""
    import math

    from sitewatch.change import ChangeKind, ChangeMethod, change_site
    from sitewatch.dates import parse_day

    chosen = chosen_method(method, model, ChangeMethod.IRMAD)
    if not math.isfinite(min_area) or min_area < 0:
        raise BadInputError("--min-area", f"{min_area:g} is not an area: give m² ≥ 0")
    if not (math.isfinite(false_alarm) and 0 < false_alarm < 1):
        raise BadInputError("--false-alarm", f"{false_alarm:g} is not a share in (0, 1)",
                            "give e.g. 0.01: one quiet pair in a hundred alerts")  # fmt: skip
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if first and last and first > last:
        raise BadInputError("--from", f"{first} is after --to {last}")
    cat = catalog()
    folder = cat.output(out_dir or cat.workspace / "change" / name)
    if folder.exists() and not folder.is_dir():
        raise BadInputError(folder, "is a file", "give a folder for the change outputs")
    report = change_site(
        cat, name, method=chosen, out=folder, min_area_m2=min_area, model=model,
        false_alarm=false_alarm,
        since=datetime.combine(first, time.min, UTC) if first else None,
        until=datetime.combine(last, time.max, UTC) if last else None,
    )  # fmt: skip
    unit = "m²" if report.frame_gsd_m else "frame px"
    table = Table("before", "after", f"compared {unit}", f"changed {unit}",
                  *(f"{k.value} {unit}" for k in ChangeKind), "regions", "alert")  # fmt: skip
    for p in report.pairs:
        metric = report.frame_gsd_m is not None
        areas = (
            [p.compared_m2, p.changed_m2(), *(p.changed_m2(k) for k in ChangeKind)]
            if metric
            else [p.compared_px, p.changed_px(), *(p.changed_px(k) for k in ChangeKind)]
        )
        table.add_row(
            escape(
                f"{p.before_name} ({p.before_date:%Y-%m-%d})" if p.before_date else p.before_name
            ),
            escape(f"{p.after_name} ({p.after_date:%Y-%m-%d})" if p.after_date else p.after_name),
            *(f"{a:,.0f}" if a is not None else "" for a in areas),
            str(len(p.regions)),
            {None: "", True: "yes", False: "no"}[report.alert(p)],
        )
    out.print(table)
    if report.quiet is not None and report.quiet_level is not None:
        out.print(
            f"alert: more than {report.quiet_level:.2%} of the compared area changed, which "
            f"one quiet pair in {1 / report.false_alarm:,.0f} passes "
            f"({len(report.quiet.shares)} quiet pairs measured: {escape(report.quiet.source)})",
            highlight=False,
        )
    else:
        out.print(f"no alerts: this {report.method} method has no measured rate of false "
                  "change on quiet pairs (the shipped change model has one)",
                  highlight=False)  # fmt: skip
    for why in report.skipped:
        out.print(f"left out: {escape(why)}", highlight=False)
    out.print("written: " + ", ".join(escape(str(p)) for p in report.files), highlight=False)
