"""What every `sitewatch` command shares: consoles, the catalog it opens, clean failures."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sitewatch.errors import SitewatchError, describe_os_error

if TYPE_CHECKING:
    from sitewatch.store.catalog import Catalog

# Piped output gets a wide page so tables are not squeezed into 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)
F = TypeVar("F", bound=Callable[..., Any])


class State:
    workspace: Path | None = None
    db_url: str | None = None


def catalog() -> Catalog:
    from sitewatch.store.catalog import Catalog

    return Catalog(State.workspace, State.db_url)


def fails_cleanly(func: F) -> F:
    """Turn a SitewatchError or an OSError into one red line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SitewatchError as exc:
            fail(str(exc))
        except OSError as exc:  # a file the command reads or writes: name it and the cause
            cause, fix = describe_os_error(exc.filename, exc)
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{cause}" + (f" ({fix})" if fix else ""))

    return wrapper  # type: ignore[return-value]


def fail(message: str) -> NoReturn:
    """Print one red error line on stderr and exit with status 1."""
    error_line(message)
    raise typer.Exit(1) from None


def error_line(message: str) -> None:
    """Print one red error line on stderr (the command goes on)."""
    err.print(f"[red]error:[/red] {escape(one_line(message))}", highlight=False, soft_wrap=True)


def one_line(message: str) -> str:
    """A message on one line: causes quoted from libraries (YAML, GDAL) may hold breaks."""
    return " ".join(message.split())


def progress_bar(disable: bool = False) -> Progress:
    """The progress bar of every long command (on stderr, gone when done)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=disable or not err.is_terminal,  # no bar into logs and pipes
    )
