"""The model registry: shipped and workspace models, names, broken files, and the CLI over it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from sitewatch.cli import app
from sitewatch.detect.model import DEFAULT_MODEL
from sitewatch.detect.registry import list_models, resolve_model
from sitewatch.errors import BadInputError, NotFoundError
from sitewatch.files import owner_tag
from sitewatch.hashing import sha256_file
from sitewatch.store.catalog import Catalog
from sitewatch.store.models import Detection, Run
from tests.conftest import AIRCRAFT_THRESHOLD, retag_model, write_jpeg

VEHICLE = {
    "name": "test-vehicle",
    "version": "0.1",
    "classes": ["vehicle"],
    "class_thresholds": {"vehicle": 0.6},
    "metrics": {"per_class": {"vehicle": {"ap50": 0.7, "precision": 0.8, "recall": 0.75,
                                          "count_mare": 0.12, "held_out": "test split"}}},
    "experimental": True,
    "licence": "test licence",
    "credit": "test credit",
    "card": "A test model: the aircraft weights under another name.",
}  # fmt: skip


def shipped_names() -> list[str]:
    return [e.name for e in list_models(None)]


def test_shipped_models_are_listed_with_their_card() -> None:
    entries = {e.name: e for e in list_models(None)}
    assert all(e.source == "shipped" and not e.broken for e in entries.values())
    aircraft = entries["sitewatch-aircraft"]  # whatever else ships, the default is there
    assert aircraft.path == DEFAULT_MODEL and aircraft.sha256 == sha256_file(DEFAULT_MODEL)
    assert aircraft.classes == ["aircraft"] and aircraft.info is not None
    data = aircraft.to_dict(card=True)
    assert data["thresholds"] == {"aircraft": aircraft.info.threshold}
    assert data["metrics"]["aircraft"]["precision"] > 0.9
    assert data["model_gsd_m"] == 1.0 and data["experimental"] is False
    assert "CC BY-NC-SA" in data["licence"] and "Airbus" in data["credit"]
    assert "Model card" in data["card"]  # MODEL_CARD.md names aircraft.onnx
    assert resolve_model("sitewatch-aircraft").path == DEFAULT_MODEL
    assert resolve_model(None).path == DEFAULT_MODEL


def test_the_shipped_vehicle_model_is_experimental_and_says_what_it_learnt_from() -> None:
    entries = {e.name: e for e in list_models(None)}
    vehicle = entries["sitewatch-vehicle"]
    assert vehicle.classes == ["vehicle"] and vehicle.info is not None
    data = vehicle.to_dict(card=True)
    assert data["experimental"] is True and data["model_gsd_m"] == 0.3
    assert "CC BY-SA" in data["licence"] and "KIT AIS" in data["credit"]
    assert "EXPERIMENTAL" in data["card"] and "Military vehicles" in data["card"]
    held_out = vehicle.info.class_metrics("vehicle")
    # measured city against city, both ways, and the interval coverage stated
    assert set(held_out["folds"]) == {"munich-to-minsk", "minsk-to-munich"}
    assert 0 < held_out["precision"] < 1 and 0 < held_out["recall"] < 1
    assert 0 < held_out["interval_coverage_90"] < 1


def test_workspace_models_broken_files_and_duplicate_names(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    retag_model(ws / "models" / "vehicle.onnx", **VEHICLE)
    shutil.copy(DEFAULT_MODEL, ws / "models" / "aircraft-copy.onnx")  # same name as shipped
    (ws / "models" / "broken.onnx").write_bytes(b"not a model at all")
    # a killed export's half-written file (files.temp_name) is not a model, broken or not
    half = ws / "models" / f".tmp-{owner_tag()}-0123456789ab-half.onnx"
    half.write_bytes(DEFAULT_MODEL.read_bytes()[:1000])
    entries = {e.name: e for e in list_models(ws)}
    assert not any("half" in str(e.path) for e in entries.values())
    assert set(shipped_names()) < set(entries)
    vehicle = entries["test-vehicle"]
    assert vehicle.source == "workspace" and vehicle.classes == ["vehicle"]
    assert vehicle.info is not None and vehicle.info.threshold_for("vehicle") == 0.6
    assert vehicle.info.class_metrics("vehicle")["recall"] == 0.75 and vehicle.info.experimental
    assert vehicle.card() == VEHICLE["card"]
    # a second file with a taken name is listed apart; the shipped one keeps its name
    copy = entries["sitewatch-aircraft@aircraft-copy.onnx"]
    assert copy.source == "workspace" and copy.path.name == "aircraft-copy.onnx"
    assert resolve_model("sitewatch-aircraft", ws).path == DEFAULT_MODEL
    assert resolve_model("sitewatch-aircraft@aircraft-copy.onnx", ws).path == copy.path
    # a broken file is listed with its reason, never a crash
    broken = entries["broken.onnx"]
    assert (
        broken.broken
        and broken.info is None
        and "not a usable sitewatch ONNX model" in (broken.error or "")
    )
    assert broken.to_dict()["broken"] is True
    with pytest.raises(BadInputError, match="not a usable"):
        resolve_model(ws / "models" / "broken.onnx", ws)
    # names resolve in the workspace, paths anywhere
    assert resolve_model("test-vehicle", ws).path == vehicle.path
    assert resolve_model(str(vehicle.path)).info.name == "test-vehicle"  # type: ignore[union-attr]
    with pytest.raises(NotFoundError, match=r"known models: .*test-vehicle") as caught:
        resolve_model("tank-finder", ws)
    assert "sitewatch-aircraft" in str(caught.value) and "broken.onnx" not in str(caught.value)
    with pytest.raises(NotFoundError, match="no model named 'test-vehicle'"):
        resolve_model("test-vehicle", tmp_path / "other")  # another workspace lacks it


def run(ws: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["--workspace", str(ws), *args])


def test_cli_lists_and_shows_models(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    retag_model(ws / "models" / "vehicle.onnx", **VEHICLE)
    (ws / "models" / "broken.onnx").write_bytes(b"\0" * 10)
    result = run(ws, "models", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = {m["name"]: m for m in json.loads(result.stdout)}
    assert listed["sitewatch-aircraft"]["source"] == "shipped"
    vehicle = listed["test-vehicle"]
    assert vehicle["source"] == "workspace" and vehicle["classes"] == ["vehicle"]
    assert vehicle["thresholds"] == {"vehicle": 0.6} and vehicle["experimental"] is True
    assert vehicle["metrics"]["vehicle"]["ap50"] == 0.7
    assert listed["broken.onnx"]["broken"] and listed["broken.onnx"]["error"]
    table = run(ws, "models", "list")
    assert table.exit_code == 0 and "test-vehicle" in table.stdout and "broken" in table.stdout
    shown = run(ws, "models", "show", "test-vehicle")
    assert shown.exit_code == 0, shown.output
    for text in ("experimental", "test licence", "test credit", "0.750", "test split",
                 "A test model"):  # fmt: skip
        assert text in shown.stdout, text
    card = json.loads(run(ws, "models", "show", "test-vehicle", "--json").stdout)
    assert card["card"] == VEHICLE["card"] and card["metrics"]["vehicle"]["precision"] == 0.8
    missing = run(ws, "models", "show", "tank-finder")
    assert missing.exit_code == 1 and "known models" in missing.stderr


def test_cli_detects_with_each_model_named(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    retag_model(ws / "models" / "vehicle.onnx", **VEHICLE)
    image = write_jpeg(tmp_path / "scene.jpg", size=(256, 192))
    assert run(ws, "ingest", str(image), "--acquired", "2024-01-02").exit_code == 0
    result = run(ws, "detect", str(image), "--model", "sitewatch-aircraft",
                 "--model", "test-vehicle")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"operating threshold aircraft {AIRCRAFT_THRESHOLD:.2f}" in result.stdout
    assert "model test-vehicle 0.1+" in result.stdout and "vehicle 0.60" in result.stdout
    again = run(ws, "detect", str(image), "--model", "test-vehicle")
    assert again.exit_code == 0 and "stored result reused" in again.stdout
    typo = run(ws, "detect", str(image), "--model", "tank-finder")
    assert typo.exit_code == 1 and "no model named 'tank-finder'" in typo.stderr
    cat = Catalog(ws)
    try:
        with cat.session() as s:
            runs = s.scalars(select(Run).where(Run.stage == "detect").order_by(Run.id)).all()
            classes = {r.method: {d.class_name for d in s.scalars(
                select(Detection).where(Detection.run_id == r.id))} for r in runs}  # fmt: skip
    finally:
        cat.close()
    assert [r.method for r in runs] == ["sitewatch-aircraft", "test-vehicle"]
    vehicle = runs[1].parameters
    assert vehicle["thresholds"] == {"vehicle": 0.6} and vehicle["classes"] == ["vehicle"]
    assert vehicle["per_class"]["vehicle"]["precision"] == 0.8 and vehicle["experimental"]
    assert runs[0].parameters["per_class"]["aircraft"]["recall"] > 0.9
    assert classes["test-vehicle"] <= {"vehicle"} and classes["sitewatch-aircraft"] <= {"aircraft"}


HOSTILE = {
    "metrics-list": ({"metrics": []}, "metrics must be an object"),
    "version-number": ({"version": 1}, "version must be text"),
    "version-too-long": ({"version": "1." * 40}, "version must be 1…48 characters"),
    "name-too-long": ({"name": "m" * 129}, "name must be 1…128 characters"),
    "threshold-text": ({"class_thresholds": {"aircraft": "x"}}, "thresholds must be numbers"),
    "zero-gsd": ({"model_gsd_m": 0}, "model_gsd_m must be a GSD"),
    "nan-metric": (
        {"metrics": {"per_class": {"aircraft": {"recall": "abc"}}}},
        "metric recall of aircraft must be a number",
    ),
    "precision-in-percent": (
        {"metrics": {"per_class": {"aircraft": {"precision": 97.0}}}},
        "metric precision of aircraft must be a number in 0…1",
    ),
    "dispersion-text": (
        {"metrics": {"per_class": {"aircraft": {"count_dispersion": "wide"}}}},
        "metric count_dispersion of aircraft must be a number in 0…10",
    ),
    "dispersion-absurd": (
        {"metrics": {"per_class": {"aircraft": {"count_dispersion": 1e9}}}},
        "metric count_dispersion of aircraft must be a number in 0…10",
    ),
    "two-classes-one-channel": ({"classes": ["aircraft", "vehicle"]}, "1 channels for 2"),
    "no-classes": ({"classes": []}, "classes must be a non-empty list"),
    "extra-field": ({"shell": "rm -rf /"}, "unknown metadata field(s) shell"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_model_card_is_a_broken_entry_not_a_crash(tmp_path: Path, case: str) -> None:
    """A model file from anywhere may say anything in its metadata: the listing marks it
    broken with the reason, and running it is refused before any image is read."""
    from sitewatch.detect.model import Detector

    info, cause = HOSTILE[case]
    retag_model(tmp_path / "models" / "bad.onnx", **({"name": "bad"} | info))
    entries = {e.name: e for e in list_models(tmp_path)}
    assert entries["bad.onnx"].info is None and cause in (entries["bad.onnx"].error or "")
    assert entries["sitewatch-aircraft"].info is not None  # the rest still listed
    with pytest.raises(BadInputError, match="not a usable sitewatch ONNX model"):
        Detector(tmp_path / "models" / "bad.onnx", threads=1)
    listing = CliRunner().invoke(app, ["--workspace", str(tmp_path), "models", "list"])
    assert listing.exit_code == 0 and "broken" in listing.output
