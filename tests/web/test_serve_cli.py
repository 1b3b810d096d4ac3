"""`sitewatch serve` as a user starts it: a real process, the address it prints, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import copy_catalog


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(workspace, *args: str) -> tuple[subprocess.Popen, str]:  # type: ignore[no-untyped-def]
    cmd = [sys.executable, "-m", "sitewatch.cli", "-w", str(workspace), "serve", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SITEWATCH_TOKEN", None)
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        found = re.search(r"(http://\S+/\?token=(\S+))", line)
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"sitewatch serve printed no address: {proc.stdout.read()}")  # type: ignore[union-attr]


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for _ in range(50):
        try:
            with urllib.request.urlopen(request, timeout=10) as res:
                return res.status, res.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:  # not listening yet
            time.sleep(0.2)
    raise AssertionError(f"{url}: no answer")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    assert proc.wait(timeout=20) == 0


def test_serve_prints_a_token_address_and_serves_the_catalog(monitored, tmp_path) -> None:
    workspace = copy_catalog(monitored[0], tmp_path / "ws").workspace
    port = _free_port()
    proc, address = _start(workspace, "--port", str(port))
    try:
        token = address.split("token=")[1]
        assert address.startswith(f"http://127.0.0.1:{port}/?token=") and len(token) >= 24
        status, body = _get(f"http://127.0.0.1:{port}/api/sites")
        assert status == 200 and [s["name"] for s in json.loads(body)] == ["apt"]
        status, page = _get(f"http://127.0.0.1:{port}/sites/apt")
        assert status == 200 and b"leaflet.js" in page
        status, _ = _get(f"http://127.0.0.1:{port}/static/vendor/leaflet/leaflet.js")
        assert status == 200  # packaged: nothing is fetched from a CDN
    finally:
        _stop(proc)


def test_serve_off_loopback_needs_the_token_for_everything(monitored, tmp_path) -> None:
    workspace = copy_catalog(monitored[0], tmp_path / "ws").workspace
    port = _free_port()
    proc, address = _start(
        workspace, "--host", "0.0.0.0", "--port", str(port), "--token", "s3cret-token"
    )
    try:
        assert address.endswith("?token=s3cret-token")
        assert _get(f"http://127.0.0.1:{port}/api/sites")[0] == 401
        assert _get(f"http://127.0.0.1:{port}/api/sites", "s3cret-token")[0] == 200
    finally:
        _stop(proc)


def test_serve_without_the_web_extra_says_what_to_install(monkeypatch, tmp_path) -> None:
    from typer.testing import CliRunner

    from sitewatch.cli import app

    monkeypatch.setitem(sys.modules, "sitewatch.web.app", None)  # as if fastapi were absent
    result = CliRunner().invoke(app, ["-w", str(tmp_path / "ws"), "serve"])
    assert result.exit_code == 1
    assert "pip install 'sitewatch[web]'" in result.output


def _serve_once(workspace, *args: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    cmd = [sys.executable, "-m", "sitewatch.cli", "-w", str(workspace), "serve", *args]
    env = {k: v for k, v in os.environ.items() if k != "SITEWATCH_TOKEN"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("port", ["99999", "0", "-1", "eighty", "65536", "²"])
def test_serve_refuses_a_port_that_is_not_one_in_one_line(tmp_path, port: str) -> None:
    result = _serve_once(tmp_path / "ws", "--port", port)
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1, lines
    assert lines[0] == f"error: --port {port}: not a TCP port (use a number, 1 to 65535)"


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve_once(tmp_path / "ws", "--port", str(port))
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: 127.0.0.1 port {port}: cannot listen there")
    assert "in use" in lines[0]


@pytest.mark.parametrize(
    ("address", "says"),
    [("not an address", "is not a Dask scheduler address"),
     ("tcp://127.0.0.1:9", "cannot reach the Dask scheduler")],
)  # fmt: skip
def test_serve_refuses_a_scheduler_it_cannot_use_in_one_line(
    tmp_path, address: str, says: str
) -> None:
    pytest.importorskip("distributed", reason="Dask is the scale extra")
    with socket.socket() as probe:  # a port free now, so the scheduler is what fails
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    result = _serve_once(tmp_path / "ws", "--port", port, "--scheduler", address)
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1, lines
    assert lines[0].startswith("error: --scheduler") and says in lines[0]
