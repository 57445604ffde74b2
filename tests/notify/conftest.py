"""Notify fixtures: a real webhook receiver (HTTP server) and a real SMTP server (aiosmtpd)."""

import json
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lotse_contracts import EventEnvelope
from lotse_kit.sql import make_engine, upgrade
from lotse_notify.domain.channels import Channel
from sqlalchemy import Engine

from tests.conftest import fresh_postgres_database


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An organisation's webhook endpoint: records every request and answers the statuses queued in
    ``answers`` (then 200)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with box.lock:
                box.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status = box.answers.pop(0) if box.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_port}/lotse"
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

    with socket.socket() as probe:  # the controller checks its port by connecting, so it needs a real one
        probe.bind(("127.0.0.1", 0))
        box.port = probe.getsockname()[1]
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
