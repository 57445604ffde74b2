"""Notify fixtures: a real webhook receiver (HTTP server), a real SMTP server (aiosmtpd), notification
channels added through the directory's API, and scale mode on the real servers: routing on PostgreSQL
publishing to RabbitMQ, and notify's `consume` and `worker --beat` as processes that can be killed."""

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pika
import pytest
import urllib3
from lotse_contracts import EventEnvelope, Role
from lotse_kit.outbox import SqlOutbox
from lotse_kit.rabbitmq import connection_parameters
from lotse_kit.sql import make_engine, upgrade
from lotse_kit.tokens import HmacTokenVerifier
from lotse_notify.adapters.storage.tables import outbox as notify_outbox
from lotse_notify.domain.channels import Channel
from lotse_routing import create_app as create_routing_app
from lotse_routing.bootstrap import Container as RoutingContainer
from lotse_routing.bootstrap import build as build_routing
from lotse_routing.settings import Settings as RoutingSettings
from sqlalchemy import Engine, func, select, text
from werkzeug.serving import make_server

from tests.conftest import LOOPBACK_WEBHOOKS, free_port, fresh_postgres_database, rabbitmq_tool
from tests.routing.conftest import SECRET, Directory, directory  # noqa: F401 (the served directory fixture)
from tests.routing.test_referrals_api import SENDER_ORG, WITTEN_JUGENDAMT, body

http = urllib3.PoolManager(maxsize=16)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An organisation's webhook endpoint: records every request and answers the statuses queued in
    ``answers``, then 500 while ``failing``, else 200; each answer after ``delay`` seconds (the request is
    recorded first, as a receiver that processed it but answered too late)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    failing: bool = False
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests]

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.status < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving_receiver() as box:
        yield box


@contextmanager
def serving_receiver(tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> Iterator[Receiver]:
    """A webhook receiver on a free local port while the block runs (over TLS with ``tls``, its URL naming
    ``host``)."""
    box = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with box.lock:
                status = box.answers.pop(0) if box.answers else 500 if box.failing else 200
                headers = {k.lower(): v for k, v in self.headers.items()}
                box.requests.append(Received(self.path, headers, body, status))
            time.sleep(box.delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    box.url = f"{'https' if tls else 'http'}://{host}:{server.server_port}/lotse"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox("127.0.0.1", 0)

    class Handler:
        async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
            if address in box.refuse:
                return "550 5.1.1 Mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            box.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 Message accepted for delivery"

    box.port = free_port()  # the controller checks its port by connecting, so it needs a real one
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


JUGENDAMT = "7e3123f2-11cb-5dc6-b31a-ff3ad5ac0995"
KIM_TEAM = "0a1b2c3d-0000-4000-8000-00000000c0de"


class ChannelTable:
    def __init__(self, channels: Sequence[Channel]) -> None:
        self.channels = channels

    def of(self, organization_id: str) -> Sequence[Channel]:
        return [c for c in self.channels if c.organization_id == organization_id]

    def manageable(self, token: str, channel_id: str) -> str | None:
        return None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'notify.db'}")
        upgrade("lotse_notify", made)
        yield made
        made.dispose()
        return
    with fresh_postgres_database() as url:
        made = make_engine(url)
        upgrade("lotse_notify", made)
        yield made
        made.dispose()


def referral_event(kind: str, **data: object) -> EventEnvelope:
    return EventEnvelope(
        type=f"referral.{kind}",
        source="lotse-routing",
        data={
            "referral_id": "5b9d0c1e-0000-4000-8000-000000000001",
            "legal_domain": "SGB_VIII",
            "region_key": "05954036",
            "status": kind,
            "sender_organization_id": KIM_TEAM,
            "recipient_organization_id": JUGENDAMT,
            "urgency": "urgent",
            **data,
        },
    )


def token(role: Role, org: str | None, sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {HmacTokenVerifier(SECRET).issue(sub, role, org, 'Test')}"}


def call(method: str, url: str, who: dict[str, str], payload: Any = None) -> tuple[int, Any]:
    response = http.request(method, url, json=payload, headers=who)
    return response.status, json.loads(response.data) if response.data else None


def wait_for(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.1)


class Channels:
    """Notification channels added through the directory's API, removed again afterwards (the directory
    is shared by the whole test session)."""

    def __init__(self, directory: Directory) -> None:  # noqa: F811
        self.directory = directory
        self.made: list[str] = []
        self.admin = token(Role.ADMIN, None, "admin-1")

    def add(self, organization_id: str, kind: str, target: str, who: dict[str, str] | None = None) -> Any:
        url = f"{self.directory.url}/api/v1/organizations/{organization_id}/notification_channels"
        status, channel = call("POST", url, who or self.admin, {"kind": kind, "target": target})
        assert status == 201, channel
        self.made.append(channel["id"])
        return channel

    def remove_all(self) -> None:
        for ident in self.made:
            url = f"{self.directory.url}/api/v1/notification_channels/{ident}"
            found = http.request("GET", url, headers=self.admin)
            if found.status == 200:
                gone = http.request("DELETE", url, headers={**self.admin, "If-Match": found.headers["ETag"]})
                assert gone.status == 204, gone.data


@pytest.fixture
def channels(directory: Directory) -> Iterator[Channels]:  # noqa: F811
    made = Channels(directory)
    try:
        yield made
    finally:
        made.remove_all()


NOTIFY = str(Path(sys.executable).with_name("lotse-notify"))
REPORTS = "lotse.routing.notifications"  # routing's queue of delivery reports


class Scale:
    """Scale mode on the real servers: routing served over HTTP on PostgreSQL, publishing to RabbitMQ, and
    notify's ``consume``, ``worker`` and ``beat`` as processes (each its own process group, so that a kill
    takes whatever it started too), on notify's own PostgreSQL database and a per-test queue."""

    def __init__(self, routing: RoutingContainer, routing_url: str, env: dict[str, str], logs: Path) -> None:
        self.routing = routing
        self.routing_url = routing_url
        self.env = env
        self.logs = logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.probes: dict[str, str] = {}
        """Each process's /health, /ready and /metrics, by its name: ``http://127.0.0.1:<port>``."""
        self.notify_db = make_engine(env["LOTSE_NOTIFY_DATABASE_URL"])
        self.sender = token(Role.CASE_MANAGER, SENDER_ORG, "cm-1")
        self.referrals: list[str] = []
        self.jugendamt = ""

    def migrate(self) -> None:
        done = subprocess.run(
            [NOTIFY, "db", "upgrade"], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr

    def start(self, *commands: str) -> None:
        """Start ``lotse-notify <command>`` for each (``consume``, ``worker``, ``worker --beat``, ``beat``),
        known by its first word, and wait until the consumer's queue is declared and bound."""
        for command in commands:
            name = command.split()[0]
            port = free_port()
            self.probes[name] = f"http://127.0.0.1:{port}"
            with (self.logs / f"{name}.log").open("a") as out:
                self.processes[name] = subprocess.Popen(
                    [NOTIFY, *command.split()],
                    env={**self.env, "LOTSE_METRICS_PORT": str(port)},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        if "consume" in commands:
            wait_for(lambda: self.consumers(self.env["LOTSE_NOTIFY_QUEUE"]) > 0, 30, "the consumer's queue")

    def probe(self, name: str, path: str) -> tuple[int, str]:
        """``GET <path>`` of a process's probes: status and body (0 while the process does not listen yet)."""
        try:
            response = urllib3.request("GET", self.probes[name] + path, timeout=10, retries=False)
        except urllib3.exceptions.HTTPError:
            return 0, ""
        return response.status, response.data.decode()

    def kill(self, *which: str) -> None:
        """kill -9, the whole process group."""
        for name in which:
            process = self.processes.pop(name)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def stop(self) -> None:
        for process in self.processes.values():
            os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.processes.clear()

    def consumers(self, queue: str) -> int:
        return self._queue(queue)[1]

    def depth(self, queue: str) -> int:
        """Messages ready in a queue (0 for one not declared)."""
        return self._queue(queue)[0]

    def _queue(self, queue: str) -> tuple[int, int]:
        connection = pika.BlockingConnection(connection_parameters(self.env["LOTSE_AMQP_URL"]))
        try:
            ok = connection.channel().queue_declare(queue, passive=True).method
            return ok.message_count, ok.consumer_count
        except pika.exceptions.ChannelClosedByBroker:
            return 0, 0
        finally:
            if connection.is_open:
                connection.close()

    def refer(self, count: int, threads: int = 8) -> None:
        """Create ``count`` referrals to the Witten Jugendamt over HTTP, ``threads`` at a time; their ids
        are added to :attr:`referrals` as they are created."""

        def one(_: int) -> None:
            status, referral = call("POST", f"{self.routing_url}/api/v1/referrals", self.sender, body(self.jugendamt))
            assert status == 201, referral
            self.referrals.append(referral["id"])

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(count)))

    def delivery_states(self) -> Counter[str]:
        with self.notify_db.connect() as conn:
            rows = conn.execute(text("SELECT state, count(*) FROM delivery GROUP BY state")).all()
        return Counter({state: n for state, n in rows})

    def reports(self) -> int:
        """How many delivery reports routing keeps."""
        from lotse_routing.adapters.storage.tables import notification_report

        with self.routing.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(notification_report)).scalar_one())

    def outboxes_empty(self) -> bool:
        """Routing and notify have published every event they recorded."""
        return self.routing.outbox.pending() == SqlOutbox(self.notify_db, notify_outbox).pending() == 0

    def log_tails(self) -> str:
        return "\n".join(f"--- {f.name}\n{f.read_text()[-3000:]}" for f in sorted(self.logs.glob("*.log")))


@pytest.fixture
def scale(directory: Directory, rabbitmq_url: str, mailbox: Mailbox, tmp_path: Path) -> Iterator[Scale]:  # noqa: F811
    queue = f"lotse.notify.test-{uuid.uuid4().hex[:8]}"
    with fresh_postgres_database() as routing_db, fresh_postgres_database() as notify_db:
        settings = RoutingSettings.from_env(
            {
                "LOTSE_AUTH_SECRET": SECRET,
                "LOTSE_VAR_DIR": str(tmp_path / "routing"),
                "LOTSE_ROUTING_DATABASE_URL": routing_db,
                "LOTSE_ROUTING_DIRECTORY_URL": directory.url,
                "LOTSE_ROUTING_AMQP_URL": rabbitmq_url,
            }
        )
        routing = build_routing(settings)
        routing.migrate()
        routing.start_background()
        server = make_server("127.0.0.1", 0, create_routing_app(settings, routing), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env = {
            **os.environ,
            "LOTSE_AUTH_SECRET": SECRET,
            "LOTSE_VAR_DIR": str(tmp_path / "notify"),
            "LOTSE_NOTIFY_DATABASE_URL": notify_db,
            **LOOPBACK_WEBHOOKS,
            "LOTSE_AMQP_URL": rabbitmq_url,
            "LOTSE_NOTIFY_QUEUE": queue,
            "LOTSE_NOTIFY_DIRECTORY_URL": directory.url,
            "LOTSE_NOTIFY_SMTP_HOST": mailbox.host,
            "LOTSE_NOTIFY_SMTP_PORT": str(mailbox.port),
            "LOTSE_NOTIFY_SWEEP_SECONDS": "1",
            "LOTSE_NOTIFY_LEASE_SECONDS": "5",
            "LOTSE_NOTIFY_RETRY_FIRST_SECONDS": "1",
            "LOTSE_NOTIFY_RETRY_LONGEST_SECONDS": "2",
            "LOTSE_NOTIFY_RETRY_ATTEMPTS": "30",
        }
        logs = tmp_path / "logs"
        logs.mkdir()
        made = Scale(routing, f"http://127.0.0.1:{server.server_port}", env, logs)
        made.jugendamt = directory.org_named(WITTEN_JUGENDAMT)
        made.migrate()
        try:
            yield made
        finally:
            made.stop()
            print(made.log_tails())  # shown when the test failed
            server.shutdown()
            server.server_close()
            routing.stop_background()
            routing.publisher.close()  # type: ignore[attr-defined]
            routing.engine.dispose()
            made.notify_db.dispose()
            http.clear()
            connection = pika.BlockingConnection(connection_parameters(rabbitmq_url))
            channel = connection.channel()
            for name in (queue, f"{queue}.dead", f"{queue}.deliveries", REPORTS, f"{REPORTS}.dead"):
                channel.queue_delete(name)
            connection.close()


def restart_rabbitmq() -> None:
    """Stop the broker's node (every connection drops, the port closes) and start it again."""
    subprocess.run([rabbitmq_tool("rabbitmqctl"), "stop"], capture_output=True, timeout=60, check=True)
    start_rabbitmq()


def start_rabbitmq() -> None:
    """Start the local broker, if it is not running, and wait until it answers."""
    ctl, server = rabbitmq_tool("rabbitmqctl"), rabbitmq_tool("rabbitmq-server")

    def up() -> bool:
        return (
            subprocess.run([ctl, "await_startup", "--timeout", "5"], capture_output=True, check=False).returncode == 0
        )

    if up():
        return
    quiet = subprocess.DEVNULL
    subprocess.run([server, "-detached"], stdin=quiet, stdout=quiet, stderr=quiet, timeout=60, check=True)
    wait_for(up, 90, "RabbitMQ")
