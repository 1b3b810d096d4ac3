"""Errors travel between processes (``detect --workers``, later a cluster) as themselves."""

from __future__ import annotations

import pickle

import pytest

from sitewatch import errors


@pytest.mark.parametrize(
    "error",
    [
        errors.BadInputError("scene.tif", "not a raster", "give a GeoTIFF"),
        errors.MissingDateError("scene.jpg", "no acquisition date"),
        errors.CRSError("scene.tif", "no CRS", "set one with --crs"),
        errors.OutputError("report.pdf", "the disk is full", "free some space"),
        errors.MissingDependencyError("PDF", "WeasyPrint is not installed", "pip install …"),
        errors.NotFoundError("no site named 'apron'"),
        errors.ConflictError("a site named 'apron' exists"),
        errors.StoreError("the catalog is locked"),
        errors.DatasetNotFoundError("../shared/datasets/x"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_error_survives_pickling_with_its_message_and_fields(error: Exception) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error)
    assert back.__dict__ == error.__dict__
