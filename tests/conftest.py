"""Shared fixtures: real servers (PostgreSQL), skipped on a laptop without them, required by LOTSE_REQUIRE_SERVERS=1."""

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOOPBACK_WEBHOOKS = {"LOTSE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128"}
"""The tests' webhook receivers listen on this machine, which an operator must allow (the demo does too)."""
POSTGRES_ADMIN_URL = os.environ.get("LOTSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


_ports_given: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, and never one this test run has handed out before: two ports asked for
    one after the other may otherwise be the same once the first probe is closed (a served directory and a
    webhook receiver once came up on one port)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def server_missing(name: str, how: str) -> None:
    """Skip on a newcomer's laptop; fail in CI (LOTSE_REQUIRE_SERVERS=1)."""
    message = f"{name} is not reachable; start it with: {how}"
    if os.environ.get("LOTSE_REQUIRE_SERVERS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def rabbitmq_tool(name: str) -> str:
    """The path of a local RabbitMQ command (``rabbitmqctl``, ``rabbitmq-server``) for tests that restart
    the broker or import definitions into it; skipped without it (failed in CI)."""
    found = shutil.which(name)
    if found is None:
        server_missing(f"RabbitMQ's {name}", "install rabbitmq-server on this machine")
    assert found is not None
    return found


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new PostgreSQL database (one per service, as in production), dropped afterwards."""
    from lotse_kit.sql import scratch_database
    from sqlalchemy.exc import OperationalError

    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database(POSTGRES_ADMIN_URL, f"lotse_test_{uuid.uuid4().hex[:10]}"))
        except OperationalError:
            server_missing("PostgreSQL", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start")
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (the directory's), dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


RABBITMQ_URL = os.environ.get("LOTSE_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """The RabbitMQ broker; tests name their queues uniquely and delete them afterwards."""
    from kombu import Connection

    try:
        with Connection(RABBITMQ_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception:
        server_missing("RabbitMQ", "rabbitmq-server -detached")
    return RABBITMQ_URL


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    """An engine speaking the Elasticsearch API: osmem-server, started for this test session."""
    from osmem_server import OsmemServer

    server = OsmemServer.start(japanese=False)
    try:
        yield server.url
    finally:
        server.close()
        if server.process.stdout is not None:  # the package leaves its pipe open
            server.process.stdout.close()


def metric_samples(text: str | bytes) -> dict[str, float]:
    """A Prometheus exposition's samples as ``{'name{label="v",…}': value}``, labels sorted by name."""
    from prometheus_client.parser import text_string_to_metric_families

    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text.decode() if isinstance(text, bytes) else text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples
