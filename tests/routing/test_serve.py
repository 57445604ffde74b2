"""`make run`'s steps for real: the directory, routing and notify as served processes on their ports with the
demo webhook receiver, a referral made and acknowledged over HTTP with the demo tokens, the demo Jugendamt's
webhook called (signed) and its inbox filled, the delivery shown to the sender, routing's relay publishing
in the background, and a change in the directory reaching routing's cache by its change feed (no broker)."""

import json
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import LOOPBACK_WEBHOOKS, free_port, metric_samples
from tests.directory.test_cli_and_serve import _call, _cli, env  # noqa: F401 (env is a fixture)

ROUTING = str(Path(sys.executable).with_name("lotse-routing"))
NOTIFY = str(Path(sys.executable).with_name("lotse-notify"))
RECEIVER = Path(__file__).resolve().parents[2] / "deploy" / "demo" / "webhook_receiver.py"


def _wait(url: str) -> None:
    for _ in range(200):
        try:
            if _call(url)[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def test_make_run_serves_the_suite_together(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    ports = {"routing": free_port(), "notify": free_port(), "receiver": free_port()}
    env = {**env, "LOTSE_ROUTING_PORT": str(ports["routing"]), "LOTSE_ROUTING_DIRECTORY_POLL_SECONDS": "0.5"}
    env["LOTSE_LOG_FORMAT"] = "json"  # as in scale mode: one JSON object per line
    env |= LOOPBACK_WEBHOOKS  # as `make run` sets it for the demo receiver
    env["LOTSE_ROUTING_DIRECTORY_URL"] = f"http://127.0.0.1:{env['LOTSE_DIRECTORY_PORT']}"
    env |= {
        "LOTSE_ROUTING_NOTIFY_URL": f"http://127.0.0.1:{ports['notify']}",
        "LOTSE_NOTIFY_PORT": str(ports["notify"]),
        "LOTSE_NOTIFY_DIRECTORY_URL": env["LOTSE_ROUTING_DIRECTORY_URL"],
        "LOTSE_NOTIFY_ROUTING_URL": f"http://127.0.0.1:{ports['routing']}",
        "LOTSE_NOTIFY_POLL_SECONDS": "0.3",
        "LOTSE_DIRECTORY_DEMO_WEBHOOK_URL": f"http://127.0.0.1:{ports['receiver']}/lotse",
    }
    _cli(env, "db", "upgrade")
    _cli(env, "demo", "load", "--if-empty")
    tokens = dict(re.findall(r"^(\w+)\s+.*?: (\S+)$", _cli(env, "users", "demo-tokens"), re.M))
    admin = _cli(env, "users", "create", "--name", "Test Admin", "--role", "admin").splitlines()[-1]
    for cli in (ROUTING, NOTIFY):
        done = subprocess.run([cli, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
    receiver = subprocess.Popen(
        [
            sys.executable,
            str(RECEIVER),
            "--port",
            str(ports["receiver"]),
            "--secret-file",
            str(tmp_path / "demo-webhook-secret"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    notify_log = (tmp_path / "notify.log").open("wb")
    notify = subprocess.Popen([NOTIFY, "serve"], env=env, stdout=notify_log, stderr=subprocess.STDOUT)
    directory = subprocess.Popen(
        [str(Path(sys.executable).with_name("lotse-directory")), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    routing = subprocess.Popen([ROUTING, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{env['LOTSE_ROUTING_PORT']}"
    try:
        _wait(f"http://127.0.0.1:{env['LOTSE_DIRECTORY_PORT']}/health")
        _wait(f"{base}/health")
        _wait(f"http://127.0.0.1:{ports['notify']}/health")
        status, spec = _call(f"{base}/openapi.json")
        assert status == 200 and "/api/v1/referrals/{referral_id}/{action}" in spec["paths"]
        status, answer = _call(
            f"{base}/api/v1/responsible?legal_domain=SGB_VIII&location=58453&residence_of=parents",
            tokens["case_manager"],
        )
        assert status == 200, answer
        [jugendamt] = answer["candidates"]
        assert jugendamt["name"] == "Jugendamt der Stadt Witten (Demo)"
        referral = {
            "legal_domain": "SGB_VIII",
            "location": "58453",
            "residence_of": "parents",
            "reason": "Beratung zu Hilfen zur Erziehung",
            "client": {"name": "Demo Klientin"},
            "consent": {
                "given_by": "Demo Klientin",
                "given_at": "2026-11-20T09:00:00Z",
                "form": "electronic",
                "recipient_organization_id": jugendamt["organization_id"],
                "data_categories": ["name", "reason"],
                "informed_of": ["purpose", "refusal", "withdrawal"],
            },
        }
        create = urllib.request.Request(
            f"{base}/api/v1/referrals",
            data=json.dumps(referral).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {tokens['case_manager']}",
                "X-Request-Id": "trace-58453",  # the case manager's request, to be followed through the suite
            },
        )
        with urllib.request.urlopen(create, timeout=10) as answer:
            assert answer.status == 201 and answer.headers["X-Request-Id"] == "trace-58453"
            made = json.loads(answer.read())
        status, seen = _call(f"{base}/api/v1/referrals/{made['id']}/acknowledge", tokens["agency"], {})
        assert status == 200 and seen["status"] == "acknowledged", seen

        # notify read routing's feed: the Jugendamt's inbox holds the referral, its webhook was called once, and
        # routing, reading notify's feed, shows the case manager that the Jugendamt was told
        inbox_url = f"http://127.0.0.1:{ports['notify']}/api/v1/inbox"
        for _ in range(100):
            told = _call(f"{base}/api/v1/referrals/{made['id']}", tokens["case_manager"])[1]["notifications"]
            if told:
                break
            time.sleep(0.2)
        assert [(n["channel"], n["outcome"], n["about"]) for n in told] == [
            ("webhook", "delivered", "referral.requested")
        ]
        status, inbox = _call(inbox_url, tokens["agency"])
        assert status == 200 and [n["referral_id"] for n in inbox["contents"]] == [made["id"]], inbox
        for _ in range(100):  # told of the acknowledgement once notify read it (it may come a poll later)
            status, sender_inbox = _call(inbox_url, tokens["case_manager"])
            if sender_inbox["contents"]:
                break
            time.sleep(0.2)
        assert [n["event_type"] for n in sender_inbox["contents"]] == ["referral.acknowledged"], sender_inbox

        # the city's Jugendamt is no longer responsible for 58453 (its jurisdiction narrowed to 58452): routing's
        # processes hear it from the directory's feed
        directory_api = f"http://127.0.0.1:{env['LOTSE_DIRECTORY_PORT']}/api/v1/jurisdictions"
        status, held = _call(f"{directory_api}?organization_id={jugendamt['organization_id']}", admin)
        assert status == 200 and held["total_items"] == 1, held
        [rule] = held["contents"]
        item = urllib.request.Request(f"{directory_api}/{rule['id']}", headers={"Authorization": f"Bearer {admin}"})
        with urllib.request.urlopen(item, timeout=10) as response:
            etag = response.headers["ETag"]
        status, changed = _call(f"{directory_api}/{rule['id']}", admin, {"postal_codes": ["58452"]}, "PATCH", etag)
        assert status == 200, changed
        for _ in range(100):  # every process polls every 0.5 s; each of the two workers must have heard it
            answers = {
                _call(
                    f"{base}/api/v1/responsible?legal_domain=SGB_VIII&location=58453&residence_of=parents",
                    tokens["case_manager"],
                )[1]["candidates"][0]["name"]
                for _ in range(6)
            }
            if answers == {"Jugendamt Ennepe-Ruhr-Kreis (Demo)"}:
                break
            time.sleep(0.2)
        assert answers == {"Jugendamt Ennepe-Ruhr-Kreis (Demo)"}

        # the request id travelled: in routing's event, in notify's delivery report, and in both services' logs
        routing_db = sqlite3.connect(tmp_path / "routing.db")
        [requested] = routing_db.execute("SELECT payload FROM lotse_outbox WHERE event_type = 'referral.requested'")
        assert json.loads(requested[0])["requestid"] == "trace-58453"
        routing_db.close()
        notify_db = sqlite3.connect(tmp_path / "notify.db")
        reports = notify_db.execute("SELECT payload FROM lotse_outbox WHERE event_type = 'notification.delivered'")
        assert "trace-58453" in {json.loads(row[0]).get("requestid") for row in reports}
        notify_db.close()

        database = sqlite3.connect(tmp_path / "routing.db")
        for _ in range(100):  # the serving process's relay, woken by each commit
            if database.execute("SELECT count(*) FROM lotse_outbox WHERE published_at IS NULL").fetchone()[0] == 0:
                break
            time.sleep(0.1)
        assert database.execute("SELECT count(*), count(published_at) FROM lotse_outbox").fetchone() == (2, 2)
        database.close()
    finally:
        routing.terminate()
        directory.terminate()
        notify.terminate()
        receiver.terminate()
        output, _ = routing.communicate(timeout=15)
        heard, _ = receiver.communicate(timeout=15)
        directory.wait(15)
        notify.wait(15)
        notify_log.close()
    assert f"{base}/docs" in output
    assert f"referral.requested {made['id']}" in heard and "UNSIGNED" not in heard and "repeat" not in heard

    # one grep follows the case manager's request: routing's request line, notify's delivery (JSON lines)
    routing_lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert routing_lines and all(line["service"] == "routing" for line in routing_lines)
    traced = [line for line in routing_lines if line.get("request_id") == "trace-58453"]
    assert [(line["event"], line["route"], line["status"]) for line in traced] == [
        ("request", "/api/v1/referrals", 201)
    ]
    notify_lines = [json.loads(line) for line in (tmp_path / "notify.log").read_text().splitlines() if line[:1] == "{"]
    delivered = [line for line in notify_lines if line.get("request_id") == "trace-58453"]
    assert any("delivered" in line["event"] and line["service"] == "notify" for line in delivered), notify_lines[-9:]


def test_served_metrics_add_up_every_process(env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    """gunicorn runs 2 processes; whichever answers /metrics counts the requests both answered."""
    port = free_port()
    env = {**env, "LOTSE_ROUTING_PORT": str(port), "LOTSE_ROUTING_WORKERS": "2"}
    done = subprocess.run([ROUTING, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    routing = subprocess.Popen([ROUTING, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/health")
        for _ in range(40):  # a new connection each: the two processes take turns accepting them
            assert _call(f"{base}/ready")[0] == 200
        for _ in range(6):
            with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
                samples = metric_samples(answer.read())
            ready = 'lotse_http_requests_total{method="GET",route="/ready",service="routing",status="200"}'
            assert samples[ready] == 40
    finally:
        routing.terminate()
        routing.wait(30)
