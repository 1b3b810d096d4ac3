"""The models sitewatch can run: the shipped ONNX files and a workspace's own.

Shipped models are the package's ``models/*.onnx``; a user adds one by dropping an exported
``.onnx`` into ``<workspace>/models/``. Each is described by the ``ModelInfo`` JSON in its
ONNX metadata, read without building a full inference session's optimised graph.

Names are unique. A model is listed under its ``ModelInfo.name``; when that name is already
taken (shipped models first, then workspace files in name order) the later file is listed as
``NAME@FILE`` (e.g. ``sitewatch-aircraft@aircraft-v2.onnx``), so nothing is shadowed silently
and the shipped model always answers to its own name. A file can always be named by its path.
A file that cannot be read is listed as broken, with the reason, under its file name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sitewatch.detect.model import DEFAULT_MODEL, ModelInfo, read_session_info
from sitewatch.errors import BadInputError, DatasetNotFoundError, NotFoundError
from sitewatch.hashing import sha256_file

SHIPPED = DEFAULT_MODEL.parent
DEFAULT_NAME = "sitewatch-aircraft"  # the shipped aircraft model: `detect` without --model
# the held-out figures a listing shows per class (``ModelInfo.class_metrics`` keys)
LISTED_METRICS = ("ap50", "precision", "recall", "count_mare")

Source = Literal["shipped", "workspace", "path"]


@dataclass(frozen=True)
class ModelEntry:
    """One model file and what its metadata says (``info`` is None when it is broken)."""

    name: str  # unique within a listing
    path: Path
    source: Source
    sha256: str
    info: ModelInfo | None
    error: str | None = None  # why the file cannot be used

    @property
    def broken(self) -> bool:
        return self.info is None

    @property
    def version(self) -> str | None:
        return self.info.version if self.info else None

    @property
    def classes(self) -> list[str]:
        return list(self.info.classes) if self.info else []

    def card(self) -> str:
        """The model card: the metadata's ``card`` text, else a Markdown file beside the
        model (``<stem>.md``, or the folder's ``MODEL_CARD.md`` when it names this file)."""
        if self.info is not None and self.info.card:
            return self.info.card
        own = self.path.with_suffix(".md")
        if own.is_file():
            return own.read_text(encoding="utf-8")
        shared = self.path.parent / "MODEL_CARD.md"
        if shared.is_file():
            text = shared.read_text(encoding="utf-8")
            if f"`{self.path.name}`" in text.split("\n", 1)[0]:
                return text
        return ""

    def to_dict(self, card: bool = False) -> dict[str, Any]:
        """Plain data (``models list --json``; with ``card``, ``models show --json``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "path": str(self.path),
            "sha256": self.sha256,
            "broken": self.broken,
            "error": self.error,
        }
        info = self.info
        if info is None:
            return out
        out |= {
            "model": info.name,
            "version": info.version,
            "classes": list(info.classes),
            "model_gsd_m": info.model_gsd_m,
            "train_gsd_m": info.train_gsd_m,
            "experimental": info.experimental,
            "licence": info.licence,
            "credit": info.credit,
            "threshold": info.threshold,
            "thresholds": {c: info.threshold_for(c) for c in info.classes},
            "metrics": {c: info.class_metrics(c) for c in info.classes},
        }
        if card:
            out["card"] = self.card()
            out["overall"] = {k: v for k, v in info.metrics.items() if k != "per_class"}
        return out


def read_info(path: Path) -> ModelInfo:
    """The ``ModelInfo`` in an ONNX file's metadata (BadInputError: not a sitewatch model)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return read_session_info(session)
    except Exception as exc:  # onnxruntime raises several unrelated types on bad files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BadInputError(path, f"not a usable sitewatch ONNX model ({first})") from None


def describe(path: Path, source: Source, name: str | None = None) -> ModelEntry:
    """A model file as a listing entry; a file that cannot be read is a broken entry."""
    digest = sha256_file(path)
    try:
        info = read_info(path)
    except BadInputError as exc:
        return ModelEntry(name or path.name, path, source, digest, None, exc.cause)
    return ModelEntry(name or info.name, path, source, digest, info)


def workspace_models(workspace: str | Path | None) -> Path | None:
    """Where a workspace keeps its own models (``<workspace>/models``)."""
    return Path(workspace) / "models" if workspace is not None else None


def _model_files(folder: Path) -> list[Path]:
    """The ``*.onnx`` files of a folder; hidden names are writes in progress (or a killed
    writer's leftovers, see ``files.temp_name``), never models."""
    return sorted(p for p in folder.glob("*.onnx") if not p.name.startswith(".") and p.is_file())


def list_models(workspace: str | Path | None = None) -> list[ModelEntry]:
    """Every shipped model, then the workspace's, each under a unique name."""
    files: list[tuple[Path, Source]] = [(p, "shipped") for p in _model_files(SHIPPED)]
    folder = workspace_models(workspace)
    if folder is not None and folder.is_dir():
        files += [(p, "workspace") for p in _model_files(folder)]
    entries: list[ModelEntry] = []
    taken: set[str] = set()
    for path, source in files:
        entry = describe(path, source)
        if entry.name in taken:
            entry = ModelEntry(
                f"{entry.name}@{path.name}", path, source, entry.sha256, entry.info, entry.error
            )
        taken.add(entry.name)
        entries.append(entry)
    return entries


def looks_like_path(ref: str | Path) -> bool:
    """Whether ``ref`` names a file rather than a model: a Path, or text with a separator
    (a bare ``x.onnx`` is tried as a name first, then as a file in the current folder)."""
    text = str(ref)
    return isinstance(ref, Path) or "/" in text or "\\" in text


def resolve_model(ref: str | Path | None, workspace: str | Path | None = None) -> ModelEntry:
    """A model by registry name (``list_models``) or by the path of an ``.onnx`` file;
    ``None`` is the shipped aircraft model. Unknown names are a NotFoundError listing the
    known ones; a broken file is a BadInputError with its reason."""
    if ref is None:
        ref = DEFAULT_NAME
    entry: ModelEntry | None = None
    if not looks_like_path(ref):
        models = list_models(workspace)
        entry = next((m for m in models if m.name == str(ref)), None)
        if entry is None and not (Path(ref).is_file() or str(ref).endswith(".onnx")):
            known = ", ".join(m.name for m in models if not m.broken) or "none"
            raise NotFoundError(
                f"no model named {str(ref)!r} (known models: {known}); add one by copying an "
                f"exported .onnx into {workspace_models(workspace) or '<workspace>/models'}"
            )
    if entry is None:
        path = Path(ref).expanduser()
        if not path.is_file():
            raise DatasetNotFoundError(
                f"{path}: model file does not exist (name a model from `sitewatch models "
                "list`, or the path of an exported .onnx)"
            )
        entry = describe(path.resolve(), "path")
    if entry.info is None:
        raise BadInputError(entry.path, entry.error or "not a usable sitewatch ONNX model")
    return entry
