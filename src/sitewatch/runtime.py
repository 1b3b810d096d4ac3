"""Opening a shipped or user-given ONNX model with onnxruntime: one place that turns a
missing or unusable file into one line that says so (a detector, the change model)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sitewatch.errors import BadInputError, DatasetNotFoundError

Info = TypeVar("Info")
METADATA_KEY = "sitewatch"  # the ONNX metadata entry holding a model's JSON card


def open_session(
    path: Path, read_info: Callable[[Any], Info], missing: str, threads: int | None = None
) -> tuple[Any, Info]:
    """An onnxruntime CPU session of ``path`` and what ``read_info(session)`` makes of its
    metadata (a ValueError there: not a usable model). ``missing`` says how to get one."""
    import onnxruntime as ort

    if not path.is_file():
        raise DatasetNotFoundError(f"{path}: model file does not exist ({missing})")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 8)
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return session, read_info(session)
    except BadInputError:
        raise
    except Exception as exc:  # onnxruntime raises several unrelated types on bad files
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(path, f"not a usable sitewatch ONNX model ({first})") from None
