"""Schema-driven fuzzing (schemathesis) of every operation in the dashboard's OpenAPI spec:
whatever a client sends, the server answers with a 2xx/4xx, never a 5xx, and every answer the
spec describes (the typed JSON ones, the 422s) matches its schema and media type."""

from __future__ import annotations

import pytest

from tests.conftest import copy_catalog
from tests.web.conftest import TOKEN, make_client, with_joplin

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev extra")
from hypothesis import HealthCheck, given, settings  # noqa: E402  (comes with schemathesis)
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

EXAMPLES = 25  # per operation, and per generation mode (valid and invalid data)


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def test_no_operation_answers_with_a_server_error_or_off_its_schema(monitored, tmp_path) -> None:
    # schemathesis' pytest plugin does not load under this pytest, so each operation's
    # strategy is driven by hypothesis directly: the same cases, the same checks
    catalog = with_joplin(copy_catalog(monitored[0], tmp_path / "ws"))
    auth = {"Authorization": f"Bearer {TOKEN}"}  # so writes reach their validation
    tried = []
    with make_client(catalog) as client:
        schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(max_examples=EXAMPLES, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))  # fmt: skip
                def fuzz(case) -> None:  # type: ignore[no-untyped-def]
                    case.call_and_validate(headers=auth, checks=CHECKS)

                try:
                    fuzz()
                except Unsatisfiable:
                    assert mode == GenerationMode.NEGATIVE  # nothing in it to make invalid
            tried.append(operation.label)
    catalog.close()
    assert len(tried) >= 12 and "POST /api/images" in tried, tried
