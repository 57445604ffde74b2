"""Routing's events on the real RabbitMQ: an institution's own queue gets exactly its domain and Gemeinde,
a relay killed mid-publish loses nothing, directory changes reach routing's cache."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from lotse_contracts import EventEnvelope, LegalDomain
from lotse_kit.outbox import add_events
from lotse_kit.rabbitmq import RabbitMqEventPublisher, RabbitMqSubscriber, connection_parameters
from lotse_routing import create_app
from lotse_routing.adapters.storage.tables import outbox
from lotse_routing.bootstrap import Container, build
from lotse_routing.settings import Settings

from tests.routing.conftest import SECRET, Api, Directory
from tests.routing.test_referrals_api import KREIS_JUGENDAMT, Walk, body

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def exchange(rabbitmq_url: str) -> Iterator[str]:
    """A topic exchange of this test's own, deleted afterwards (with the queues the test made)."""
    name = f"lotse.events.test-{uuid.uuid4().hex[:8]}"
    yield name
    connection = pika.BlockingConnection(connection_parameters(rabbitmq_url))
    connection.channel().exchange_delete(name)
    connection.close()


@pytest.fixture
def queue(rabbitmq_url: str) -> Iterator[Any]:
    """Make a durable queue bound to the exchange with the given keys; deleted afterwards."""
    made: list[str] = []
    connection = pika.BlockingConnection(connection_parameters(rabbitmq_url))
    channel = connection.channel()

    def make(exchange: str, *keys: str) -> str:
        name = f"test-institution-{uuid.uuid4().hex[:8]}"
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
        for key in keys:
            channel.queue_bind(name, exchange, routing_key=key)
        made.append(name)
        return name

    yield make
    for name in made:
        channel.queue_delete(name)
    connection.close()


def drain(url: str, queue: str) -> list[tuple[str, str, dict[str, Any], Any]]:
    connection = pika.BlockingConnection(connection_parameters(url))
    channel = connection.channel()
    got = []
    while True:
        method, properties, raw = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        got.append((method.routing_key, properties.message_id, json.loads(raw), properties))
    connection.close()
    return got


def routing_on(directory: Directory, tmp_path: Path, publisher: RabbitMqEventPublisher) -> Container:
    settings = Settings.from_env(
        {"LOTSE_AUTH_SECRET": SECRET, "LOTSE_ROUTING_DIRECTORY_URL": directory.url, "LOTSE_VAR_DIR": str(tmp_path)}
    )
    container = build(settings, publisher=publisher)
    container.migrate()
    return container


def test_an_institutions_queue_gets_exactly_its_domain_and_gemeinde(
    rabbitmq_url: str, exchange: str, queue: Any, directory: Directory, tmp_path: Path
) -> None:
    publisher = RabbitMqEventPublisher(rabbitmq_url, exchange)
    container = routing_on(directory, tmp_path, publisher)
    api = Api(create_app(container.settings, container).test_client(), container, directory)
    witten_jugendamt = queue(exchange, "referral.*.sgb_viii.05954036")
    walk = Walk(api)
    mine = walk.create()["id"]  # SGB VIII, Witten
    walk.act(mine, "acknowledge", walk.recipient)
    walk.act(mine, "forward", walk.recipient, to_organization_id=walk.kreis)
    wetter = api.post("/referrals", body(walk.kreis, location="58300 Wetter (Ruhr)"), walk.sender)
    assert wetter.status_code == 422  # Wetter has its own Jugendamt: the consent names the wrong one
    wetter_jugendamt = api.directory.org_named("Jugendamt der Stadt Wetter (Ruhr) (Demo)")
    assert api.post("/referrals", body(wetter_jugendamt, location="58300"), walk.sender).status_code == 201
    jobcenter = api.directory.org_named("Jobcenter Ennepe-Ruhr-Kreis (Demo)")
    sgb_ii = body(jobcenter, legal_domain="SGB_II", residence_of="client")
    assert api.post("/referrals", sgb_ii, walk.sender).status_code == 201

    while container.outbox.relay(container.publisher):
        pass
    publisher.close()
    got = drain(rabbitmq_url, witten_jugendamt)
    assert [key for key, _, _, _ in got] == [
        "referral.requested.sgb_viii.05954036",
        "referral.acknowledged.sgb_viii.05954036",
        "referral.forwarded.sgb_viii.05954036",
        "referral.requested.sgb_viii.05954036",  # the child, for the Kreis: the client still lives in Witten
    ]
    assert [envelope["data"]["referral_id"] for _, _, envelope, _ in got][:3] == [mine] * 3
    child = got[3][2]["data"]
    assert child["parent_referral_id"] == mine
    assert child["recipient_organization_id"] == api.directory.org_named(KREIS_JUGENDAMT)
    for _, message_id, envelope, properties in got:
        assert message_id == envelope["id"] and properties.delivery_mode == 2
        assert properties.content_type == "application/json" and properties.type == envelope["type"]
    with container.engine.connect() as conn:
        assert conn.execute(outbox.select().where(outbox.c.published_at.is_(None))).first() is None


RELAY = """
import sys
from lotse_kit.outbox import SqlOutbox
from lotse_kit.rabbitmq import RabbitMqEventPublisher
from lotse_kit.sql import make_engine
from lotse_routing.adapters.storage.tables import outbox
relay = SqlOutbox(make_engine(sys.argv[1]), outbox)
publisher = RabbitMqEventPublisher(sys.argv[2], sys.argv[3])
print("ready", flush=True)
while relay.relay(publisher, batch=5):
    pass
"""


def test_a_relay_killed_mid_publish_loses_nothing_and_a_repeat_has_the_same_id(
    rabbitmq_url: str, exchange: str, queue: Any, directory: Directory, tmp_path: Path
) -> None:
    publisher = RabbitMqEventPublisher(rabbitmq_url, exchange)
    container = routing_on(directory, tmp_path, publisher)
    everything = queue(exchange, "referral.#")
    events = [
        (
            EventEnvelope("referral.requested", "lotse-routing", {"n": n}),
            f"referral.requested.{LegalDomain.SGB_II.value.lower()}.05954036",
        )
        for n in range(3000)
    ]
    with container.engine.begin() as conn:
        add_events(conn, outbox, events)
    relay = subprocess.Popen(
        [sys.executable, "-c", RELAY, container.settings.database_url, rabbitmq_url, exchange],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert relay.stdout is not None and relay.stdout.readline().strip() == "ready"
    connection = pika.BlockingConnection(connection_parameters(rabbitmq_url))
    deadline = time.monotonic() + 60
    while connection.channel().queue_declare(everything, passive=True).method.message_count < 300:
        assert time.monotonic() < deadline and relay.poll() is None, "the relay finished before it was killed"
        time.sleep(0.01)
    relay.send_signal(signal.SIGKILL)
    relay.wait(10)
    relay.stdout.close()
    connection.close()
    before = [message_id for _, message_id, _, _ in drain(rabbitmq_url, everything)]
    assert 300 <= len(before) < 3000

    while container.outbox.relay(publisher):  # a new relay takes over where the killed one stopped
        pass
    publisher.close()
    after = [message_id for _, message_id, _, _ in drain(rabbitmq_url, everything)]
    assert set(before) | set(after) == {e.id for e, _ in events}  # nothing lost
    # what came twice is at most the killed relay's batch that was confirmed but not yet marked, and it
    # came again with the same id (consumers drop it by that id)
    twice = set(before) & set(after)
    assert len(before) + len(after) - 3000 == len(twice) <= 5


def test_directory_changes_reach_routings_cache_over_rabbitmq(
    rabbitmq_url: str, exchange: str, directory: Directory, tmp_path: Path
) -> None:
    container = routing_on(directory, tmp_path, RabbitMqEventPublisher(rabbitmq_url, exchange))
    cache = container.directory
    assert cache.jurisdictions(LegalDomain.SGB_II, ["05954036"])
    assert cache._jurisdictions is not None
    subscriber = RabbitMqSubscriber(
        rabbitmq_url,
        f"lotse.routing.directory-cache.test-{uuid.uuid4().hex[:8]}",
        ["directory.#"],
        cache.on_event,
        exchange=exchange,
        transient=True,
        on_connect=cache.forget,
    )
    subscriber.start()
    try:
        assert subscriber.ready.wait(10)
        assert cache._jurisdictions is None  # connecting forgets what may have changed while away
        cache.jurisdictions(LegalDomain.SGB_II, ["05954036"])
        directory_publisher = RabbitMqEventPublisher(rabbitmq_url, exchange)
        event = EventEnvelope("directory.jurisdiction.changed", "lotse-directory", {"id": "j-1"})
        directory_publisher.publish(
            "directory.jurisdiction.changed.sgb_ii.05954", json.dumps(event.to_dict()), event.id
        )
        directory_publisher.close()
        deadline = time.monotonic() + 10
        while cache._jurisdictions is not None:
            assert time.monotonic() < deadline, "the change did not reach the cache"
            time.sleep(0.02)
    finally:
        subscriber.stop()
