"""Stored vocabularies are StrEnums whose values are what older catalogs hold."""

from __future__ import annotations

from sitewatch.store.models import ChangeKind, LinkMethod, RegistrationStatus, RunStatus, SiteKind


def test_vocabularies_keep_their_stored_spelling() -> None:
    assert [k.value for k in SiteKind] == ["geo", "frame"]
    assert [m.value for m in LinkMethod] == ["explicit", "footprint", "reference"]
    assert [s.value for s in RegistrationStatus] == ["ok", "failed"]
    assert [c.value for c in ChangeKind] == ["stayed", "appeared", "departed"]
    assert "interrupted" in {s.value for s in RunStatus}
    # a row read back is a plain string, and compares equal to its member
    assert SiteKind.GEO == "geo" and {"stayed": 1}[ChangeKind.STAYED] == 1


def test_monitoring_stores_change_kinds_from_the_vocabulary(monitored) -> None:  # type: ignore[no-untyped-def]
    _catalog, result = monitored
    kinds = {c.kind for pair in result.pairs for c in pair.changes}
    assert kinds <= set(ChangeKind) and ChangeKind.STAYED in kinds
    assert all(isinstance(k, ChangeKind) for k in kinds)
