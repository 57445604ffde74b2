"""The command line and the served app, as `make run` uses them: a real process on a real port."""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port

CLI = str(Path(sys.executable).with_name("lotse-directory"))
FIXTURE = Path(__file__).parent / "fixtures" / "hsds-examples"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOTSE_") and k != "DATABASE_URL"}
    return {**clean, "LOTSE_VAR_DIR": str(tmp_path), "LOTSE_DIRECTORY_PORT": str(free_port())}


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _call(
    url: str, token: str | None = None, body: Any = None, method: str | None = None, if_match: str | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method)
    request.add_header("Content-Type", "application/json")
    if if_match:
        request.add_header("If-Match", if_match)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if response.headers.get_content_subtype() == "json" else raw
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_served_directory_answers_and_relays_its_events(env: dict[str, str], tmp_path: Path) -> None:
    _cli(env, "db", "upgrade")
    token = _cli(env, "users", "create", "--name", "Test Admin", "--role", "admin").splitlines()[-1]
    base = f"http://127.0.0.1:{env['LOTSE_DIRECTORY_PORT']}"
    server = subprocess.Popen([CLI, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(100):
            try:
                if _call(f"{base}/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        assert _call(f"{base}/health") == (200, {"status": "ok"})
        status, spec = _call(f"{base}/openapi.json")
        assert status == 200 and spec["openapi"].startswith("3.1")
        assert _call(f"{base}/docs")[0] == 200
        assert _call(f"{base}/api/v1/organizations")[0] == 401
        status, org = _call(f"{base}/api/v1/organizations", token, {"name": "Served (Test)", "description": "x"})
        assert status == 201, org

        database = sqlite3.connect(tmp_path / "directory.db")
        for _ in range(100):  # the relay thread is woken by the commit
            pending = database.execute("SELECT count(*) FROM lotse_outbox WHERE published_at IS NULL").fetchone()[0]
            if pending == 0:
                break
            time.sleep(0.1)
        assert database.execute("SELECT count(*), count(published_at) FROM lotse_outbox").fetchone() == (1, 1)
        database.close()
        # what gunicorn answers before the app sees the request is problem+json too, naming what was wrong
        port = int(env["LOTSE_DIRECTORY_PORT"])
        for request, status, field in [
            (f"GET /{'x' * 5000} HTTP/1.1\r\nHost: a\r\n\r\n".encode(), 414, "url"),
            (f"GET / HTTP/1.1\r\nHost: a\r\nX-Big: {'y' * 9000}\r\n\r\n".encode(), 431, "headers"),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX-Bad\x01: 1\r\n\r\n", 400, "request"),
        ]:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                raw.sendall(request)
                answer = b""
                while chunk := raw.recv(65536):
                    answer += chunk
            head, _, payload = answer.partition(b"\r\n\r\n")
            assert head.startswith(f"HTTP/1.1 {status} ".encode()), head
            assert b"Content-Type: application/problem+json" in head, head
            problem = json.loads(payload)
            assert problem["status"] == status and problem["errors"][0]["name"] == field, problem
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert f"{base}/docs" in output


def test_cli_imports_and_exports_hsds(env: dict[str, str], tmp_path: Path) -> None:
    _cli(env, "db", "upgrade")
    report = json.loads(_cli(env, "import", str(FIXTURE / "csv")))
    assert report["created"]["organization"] >= 1
    exported = json.loads(_cli(env, "export"))
    assert {o["name"] for o in exported["organizations"]} >= {"Example Organization Inc."}
    _cli(env, "export", "--format", "csv", "--out", str(tmp_path / "out.zip"))
    assert (tmp_path / "out.zip").stat().st_size > 0


def test_demo_tokens_need_the_demo_data(env: dict[str, str]) -> None:
    _cli(env, "db", "upgrade")
    done = subprocess.run(
        [CLI, "users", "demo-tokens"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0 and "demo load" in done.stderr


def test_serve_refuses_a_database_that_is_not_upgraded(env: dict[str, str]) -> None:
    done = subprocess.run([CLI, "serve"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "db upgrade" in done.stderr


def test_processes_starting_together_share_one_embedded_secret(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from lotse_kit.settings import embedded_secret

    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: embedded_secret(tmp_path), range(32)))
    assert len(secrets) == 1 and len(secrets.pop()) >= 32
    assert [p.name for p in tmp_path.iterdir()] == ["auth-secret"], "no drafts left behind"


def test_demo_load_without_leave_for_a_loopback_webhook_loads_the_data_and_says_why_there_is_no_webhook(
    env: dict[str, str], tmp_path: Path
) -> None:
    _cli(env, "db", "upgrade")
    done = subprocess.run([CLI, "demo", "load"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "demo data loaded" in done.stdout
    assert "demo webhook not set up" in done.stderr and "LOTSE_WEBHOOK_ALLOWED_NETWORKS" in done.stderr
    assert not (tmp_path / "demo-webhook-secret").exists()
