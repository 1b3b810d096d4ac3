"""sitewatch.values: the one place text limits, URLs and JSON/YAML documents are checked."""

import os
import time
import tracemalloc
from pathlib import Path

import pytest

from sitewatch.errors import BadInputError, DatasetNotFoundError
from sitewatch.ingest.provenance import given
from sitewatch.values import (
    MAX_NAME,
    MAX_TEXT,
    http_url,
    load_json,
    load_yaml,
    read_document,
    text,
)
from tests.test_bad_values import LAUGHS, time_limit


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        ({"name": "Maxar"}, "must be text, not a mapping"),
        (["a"], "must be text, not a list"),
        (3, "must be text, not a number"),
        (True, "must be text, not true/false"),
        ("x" * (MAX_NAME + 1), "257 characters long; the limit is 256"),
        ("one\ntwo", "holds a line break"),
        ("red\x1b[31m", "control character '\\x1b'"),
    ],
)
def test_short_text_refusals_name_the_field(value: object, phrase: str) -> None:
    with pytest.raises(BadInputError, match="provider") as caught:
        text(value, "file.json", "provider", MAX_NAME)
    assert phrase in str(caught.value) and str(caught.value).startswith("file.json: provider ")


def test_text_is_stripped_blank_is_absent_and_long_text_keeps_its_lines() -> None:
    assert text("  Airbus DS ", "w", limit=MAX_NAME) == "Airbus DS"
    assert text("   ", "w") is None and text(None, "w") is None
    assert text("line one\nline two\ttab", "w", "notes") == "line one\nline two\ttab"
    assert text("n" * MAX_TEXT, "w") == "n" * MAX_TEXT
    with pytest.raises(BadInputError, match="10,001 characters long"):
        text("n" * (MAX_TEXT + 1), "w", "notes")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "\tjavascript:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "file:///etc/passwd",
        "//evil.example/x",
        "http://",
        "https:///path",
        "https://exa mple.org/",
        "http://[::1",
        "ftp://example.org/x",
        "example.org/article",
        "https://e.org/" + "x" * 2048,
    ],
)
def test_only_http_urls_with_a_host_are_accepted(url: str) -> None:
    with pytest.raises(BadInputError, match="source_url"):
        http_url(url, "source_url", field=None)


def test_good_urls_are_kept_as_given() -> None:
    for url in ("https://example.org/a?b=c#d", "HTTP://Example.org", "http://[::1]:8000/x"):
        assert http_url(f"  {url} ", "w") == url


def test_given_names_the_flag_or_the_form_field() -> None:
    with pytest.raises(BadInputError, match=r"^--source-url: 'javascript:x' is not an http"):
        given(source_url="javascript:x", prefix="--")
    with pytest.raises(BadInputError, match=r"^source_url: 'javascript:x' is not an http"):
        given(source_url="javascript:x")  # the upload form
    with pytest.raises(BadInputError, match=r"^notes: is 10,001 characters long"):
        given(notes="n" * 10_001)
    assert given(provider=" Maxar ", source_url="https://e.org/a").provider == "Maxar"


def test_json_is_strict() -> None:
    assert load_json('{"a": [1, 2.5, "x"]}', "f.json") == {"a": [1, 2.5, "x"]}
    with pytest.raises(BadInputError, match="key 'a' appears twice"):
        load_json('{"a": 1, "a": 2}', "f.json")
    with pytest.raises(BadInputError, match="NaN is not a number JSON allows"):
        load_json('{"gsd": NaN}', "f.json")
    for depth in (65, 500, 100_000):  # 500: the parser copes, shapely's shape() would not
        with pytest.raises(BadInputError, match="nested more than 64 levels deep"):
            load_json("[" * depth + "]" * depth, "f.json")
    assert load_json("[" * 64 + "]" * 64, "f.json") is not None
    assert load_json("null", "f.json") is None
    with pytest.raises(BadInputError, match=r"^f.json: not valid JSON"):
        load_json("{", "f.json")


def test_yaml_keeps_dates_as_text_and_refuses_repeats() -> None:
    data = load_yaml("a: 2024-02-30\nb: 2024-05-01\nc: 1.5\nd: [x, y]\n", "f.yaml")
    assert data == {"a": "2024-02-30", "b": "2024-05-01", "c": 1.5, "d": ["x", "y"]}
    with pytest.raises(BadInputError, match="key 'a' appears twice in one mapping at line 2"):
        load_yaml("a: 1\na: 2\n", "f.yaml")
    with pytest.raises(BadInputError, match="not valid YAML"):
        load_yaml("a: !!python/object:os.system ls\n", "f.yaml")


def test_billion_laughs_is_refused_in_bounded_time_and_memory() -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(BadInputError, match="aliases"):
            load_yaml(LAUGHS + "claims: *i\n", "laughs.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 1 and peak < 5 * 2**20
    with pytest.raises(BadInputError, match="aliases"):  # even one alias
        load_yaml("a: &x 1\nb: *x\n", "f.yaml")


def test_read_document_opens_only_regular_files_of_bounded_size(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    # opening a FIFO for reading would wait for a writer for ever
    with time_limit(10), pytest.raises(BadInputError, match="is a named pipe"):
        read_document(fifo, "sidecar")
    with pytest.raises(BadInputError, match="is a folder"):
        read_document(tmp_path, "AOI")
    with pytest.raises(DatasetNotFoundError, match="sidecar file does not exist"):
        read_document(tmp_path / "none.json", "sidecar")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2048)
    with pytest.raises(BadInputError, match="claims file may be 1,024 bytes at most"):
        read_document(big, "claims", limit=1024)
    latin = tmp_path / "latin.json"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(BadInputError, match="not UTF-8"):
        read_document(latin, "sidecar")


@pytest.mark.parametrize(
    ("text", "loader"),
    [('{"x": 1e999}', "json"), ('{"x": [-1e400]}', "json"), ("x: .inf", "yaml"),
     ("x: [1, .nan]", "yaml")],
)  # fmt: skip
def test_numbers_too_big_or_not_numbers_are_refused(text: str, loader: str) -> None:
    from sitewatch.values import load_json, load_yaml

    with pytest.raises(BadInputError, match="not a finite number"):
        (load_json if loader == "json" else load_yaml)(text, "doc")
