"""Notify in scale mode on the real servers: routing (PostgreSQL) publishes referral events to RabbitMQ,
`lotse-notify consume` and `lotse-notify worker --beat` run as processes on their own PostgreSQL database,
a real webhook receiver and a real SMTP server get each notification exactly once (by id), signed, and
routing hears the delivery reports from its queue."""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
import urllib3
from lotse_contracts import Role
from lotse_contracts.webhooks import verify
from lotse_kit.rabbitmq import connection_parameters
from lotse_routing import create_app as create_routing_app
from lotse_routing.bootstrap import Container as RoutingContainer
from lotse_routing.bootstrap import build as build_routing
from lotse_routing.settings import Settings as RoutingSettings
from werkzeug.serving import make_server

from tests.conftest import fresh_postgres_database
from tests.notify.conftest import Mailbox, Receiver
from tests.routing.conftest import SECRET, Directory, directory  # noqa: F401 (the served directory fixture)
from tests.routing.test_referrals_api import SENDER_ORG, WITTEN_JUGENDAMT, body

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

NOTIFY = str(Path(sys.executable).with_name("lotse-notify"))
http = urllib3.PoolManager()


def _token(role: Role, org: str | None, sub: str) -> dict[str, str]:
    from lotse_kit.auth import HmacTokenVerifier

    return {"Authorization": f"Bearer {HmacTokenVerifier(SECRET).issue(sub, role, org, 'Test')}"}


def _call(method: str, url: str, who: dict[str, str], payload: Any = None) -> tuple[int, Any]:
    response = http.request(method, url, json=payload, headers=who)
    return response.status, json.loads(response.data) if response.data else None


def _wait(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.1)


@pytest.fixture
def routing(directory: Directory, rabbitmq_url: str, tmp_path: Path) -> Iterator[tuple[RoutingContainer, str]]:  # noqa: F811
    with fresh_postgres_database() as url:
        settings = RoutingSettings.from_env(
            {
                "LOTSE_AUTH_SECRET": SECRET,
                "LOTSE_VAR_DIR": str(tmp_path / "routing"),
                "LOTSE_ROUTING_DATABASE_URL": url,
                "LOTSE_ROUTING_DIRECTORY_URL": directory.url,
                "LOTSE_ROUTING_AMQP_URL": rabbitmq_url,
            }
        )
        container = build_routing(settings)
        container.migrate()
        container.start_background()
        server = make_server("127.0.0.1", 0, create_routing_app(settings, container), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield container, f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            server.server_close()
            container.stop_background()
            container.publisher.close()  # type: ignore[attr-defined]
            container.engine.dispose()
            http.clear()


@pytest.fixture
def notify_env(directory: Directory, rabbitmq_url: str, mailbox: Mailbox, tmp_path: Path) -> Iterator[dict[str, str]]:  # noqa: F811
    queue = f"lotse.notify.test-{uuid.uuid4().hex[:8]}"
    with fresh_postgres_database() as url:
        yield {
            **os.environ,
            "LOTSE_AUTH_SECRET": SECRET,
            "LOTSE_VAR_DIR": str(tmp_path / "notify"),
            "LOTSE_NOTIFY_DATABASE_URL": url,
            "LOTSE_AMQP_URL": rabbitmq_url,
            "LOTSE_NOTIFY_QUEUE": queue,
            "LOTSE_NOTIFY_DIRECTORY_URL": directory.url,
            "LOTSE_NOTIFY_SMTP_HOST": mailbox.host,
            "LOTSE_NOTIFY_SMTP_PORT": str(mailbox.port),
            "LOTSE_NOTIFY_SWEEP_SECONDS": "1",
            "LOTSE_NOTIFY_LEASE_SECONDS": "5",
            "LOTSE_NOTIFY_RETRY_FIRST_SECONDS": "1",
        }
        connection = pika.BlockingConnection(connection_parameters(rabbitmq_url))
        channel = connection.channel()
        for name in (queue, f"{queue}.dead", f"{queue}.deliveries"):
            channel.queue_delete(name)
        connection.close()


def test_each_referral_is_notified_exactly_once_by_webhook_and_email_through_rabbitmq_and_celery(
    directory: Directory,  # noqa: F811
    routing: tuple[RoutingContainer, str],
    notify_env: dict[str, str],
    receiver: Receiver,
    mailbox: Mailbox,
) -> None:
    _, routing_url = routing
    jugendamt = directory.org_named(WITTEN_JUGENDAMT)
    admin = _token(Role.ADMIN, None, "admin-1")
    made = []
    for kind, target in (("webhook", receiver.url), ("email", "eingang@jugendamt-witten.example")):
        status, channel = _call(
            "POST",
            f"{directory.url}/api/v1/organizations/{jugendamt}/notification_channels",
            admin,
            {"kind": kind, "target": target},
        )
        assert status == 201, channel
        made.append(channel)
    secret = made[0]["secrets"][0]["secret"]
    done = subprocess.run(
        [NOTIFY, "db", "upgrade"], env=notify_env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    logs = Path(notify_env["LOTSE_VAR_DIR"])
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "consume.log").open("w") as out:
        consumer = subprocess.Popen([NOTIFY, "consume"], env=notify_env, stdout=out, stderr=subprocess.STDOUT)
    with (logs / "worker.log").open("w") as out:
        worker = subprocess.Popen([NOTIFY, "worker", "--beat"], env=notify_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        time.sleep(3)  # the consumer declares and binds its queue before the first referral is published
        sender = _token(Role.CASE_MANAGER, SENDER_ORG, "cm-1")
        referrals = []
        for _ in range(20):
            status, referral = _call("POST", f"{routing_url}/api/v1/referrals", sender, body(jugendamt))
            assert status == 201, referral
            referrals.append(referral["id"])
        _wait(lambda: len(set(receiver.ids())) >= 20 and len(mailbox.messages) >= 20, 60, "all notifications")
        time.sleep(2)  # anything sent twice would come now
        by_referral: dict[str, set[str]] = {}
        for request in receiver.requests:
            assert verify([secret], request.headers, request.body, now=time.time())
            by_referral.setdefault(request.json["data"]["referral_id"], set()).add(request.headers["webhook-id"])
        assert sorted(by_referral) == sorted(referrals)
        assert all(len(ids) == 1 for ids in by_referral.values())
        assert len(receiver.requests) == 20  # exactly once: no retry was needed
        mails = [m["Message-ID"] for m in mailbox.messages]
        assert len(mails) == len(set(mails)) == 20

        def reported() -> bool:
            return all(
                len(_call("GET", f"{routing_url}/api/v1/referrals/{r}", sender)[1]["notifications"]) == 2
                for r in referrals
            )

        _wait(reported, 30, "reports in routing")
    finally:
        for process in (consumer, worker):
            process.terminate()
        for process in (consumer, worker):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        connection = pika.BlockingConnection(connection_parameters(notify_env["LOTSE_AMQP_URL"]))
        connection.channel().queue_delete("lotse.routing.notifications")
        connection.close()
        print((logs / "consume.log").read_text()[-3000:], (logs / "worker.log").read_text()[-3000:])  # on failure
