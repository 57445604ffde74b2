"""A service's subscriber on the real RabbitMQ: a message whose handler finds its database away is handled
once the database answers, not set aside; one the handler cannot handle at all goes to the dead letters."""

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence

import pika
import pytest
from lotse_contracts import EventEnvelope
from lotse_kit.rabbitmq import RabbitMqEventPublisher, RabbitMqSubscriber, connection_parameters
from sqlalchemy import Engine, create_engine, text

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

REFUSED = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1


@pytest.fixture
def names(rabbitmq_url: str) -> Iterator[tuple[str, str, str]]:
    """This test's own exchange, queue and dead-letter exchange; deleted afterwards."""
    tag = uuid.uuid4().hex[:8]
    made = (f"lotse.events.test-{tag}", f"lotse.test.subscriber-{tag}", f"lotse.dead.test-{tag}")
    yield made
    connection = pika.BlockingConnection(connection_parameters(rabbitmq_url))
    channel = connection.channel()
    exchange, queue, dead = made
    for name in (queue, f"{queue}.dead"):
        channel.queue_delete(name)
    for name in (exchange, dead):
        channel.exchange_delete(name)
    connection.close()


def _subscribe(
    rabbitmq_url: str, names: tuple[str, str, str], handler: Callable[[EventEnvelope, str], None]
) -> RabbitMqSubscriber:
    exchange, queue, dead = names
    subscriber = RabbitMqSubscriber(
        rabbitmq_url, queue, ["test.#"], handler, exchange=exchange, max_backoff=0.5, dead_letter_exchange=dead
    )
    subscriber.start()
    assert subscriber.ready.wait(10)
    return subscriber


def _publish(rabbitmq_url: str, exchange: str) -> str:
    event = EventEnvelope("test.happened", "test", {})
    publisher = RabbitMqEventPublisher(rabbitmq_url, exchange)
    publisher.publish("test.happened", json.dumps(event.to_dict()), event.id)
    publisher.close()
    return event.id


def _depths(rabbitmq_url: str, queue: str) -> tuple[int, int]:
    """Messages waiting in the queue and in its dead letters (unacknowledged ones are not counted)."""
    connection = pika.BlockingConnection(connection_parameters(rabbitmq_url))
    channel = connection.channel()
    depths = tuple(channel.queue_declare(name, passive=True).method.message_count for name in (queue, f"{queue}.dead"))
    connection.close()
    return depths[0], depths[1]


def test_a_handler_whose_database_is_away_handles_the_message_once_it_answers(
    rabbitmq_url: str, postgres_url: str, names: tuple[str, str, str]
) -> None:
    engines = {"away": create_engine(REFUSED), "back": create_engine(postgres_url)}
    engine: list[Engine] = [engines["away"]]
    handled: list[str] = []
    failures: list[str] = []
    done = threading.Event()

    def handler(event: EventEnvelope, _key: str) -> None:
        try:
            with engine[0].connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            failures.append(type(exc).__name__)
            if len(failures) == 2:
                engine[0] = engines["back"]  # the database is back
            raise
        handled.append(event.id)
        done.set()

    subscriber = _subscribe(rabbitmq_url, names, handler)
    try:
        sent = _publish(rabbitmq_url, names[0])
        assert done.wait(20)
    finally:
        subscriber.stop()
        for made in engines.values():
            made.dispose()
    assert failures == ["OperationalError", "OperationalError"]
    assert handled == [sent]
    assert _depths(rabbitmq_url, names[1]) == (0, 0)  # acknowledged, nothing set aside


def test_a_message_its_handler_cannot_handle_goes_to_the_dead_letters(
    rabbitmq_url: str, names: tuple[str, str, str]
) -> None:
    calls: list[str] = []

    def handler(event: EventEnvelope, _key: str) -> None:
        calls.append(event.id)
        raise ValueError("cannot be handled")

    subscriber = _subscribe(rabbitmq_url, names, handler)
    try:
        sent = _publish(rabbitmq_url, names[0])
        deadline = time.monotonic() + 20
        while _depths(rabbitmq_url, names[1]) != (0, 1):
            assert time.monotonic() < deadline, "not set aside"
            time.sleep(0.05)
    finally:
        subscriber.stop()
    assert calls == [sent]


def test_events_published_together_are_handled_together_and_a_bad_one_alone_is_set_aside(
    rabbitmq_url: str, names: tuple[str, str, str]
) -> None:
    """The outbox relay's batches (one AMQP transaction) and the subscriber's (what waits, to one handler
    call, acknowledged at once): every event handled once; a batch with an event that cannot be handled is
    handled one by one, and only that event goes to the dead letters."""
    exchange, queue, dead = names
    events = [EventEnvelope("test.happened", "test", {"n": n}) for n in range(60)]
    bad = events[37].id
    batches: list[list[str]] = []
    singles: list[str] = []

    def one(event: EventEnvelope, _key: str) -> None:
        if event.id == bad:
            raise ValueError("cannot be handled")
        singles.append(event.id)

    def together(taken: Sequence[tuple[EventEnvelope, str]]) -> None:
        if any(event.id == bad for event, _ in taken):
            raise ValueError("one of them cannot be handled")
        batches.append([event.id for event, _ in taken])

    subscriber = RabbitMqSubscriber(
        rabbitmq_url, queue, ["test.#"], one, exchange=exchange, dead_letter_exchange=dead, batch_handler=together
    )
    publisher = RabbitMqEventPublisher(rabbitmq_url, exchange)
    subscriber.start()
    try:
        assert subscriber.ready.wait(10)
        messages = [("test.happened", json.dumps(e.to_dict()), e.id) for e in events]
        publisher.publish_all(messages[:30])
        publisher.publish_all(messages[30:])
        deadline = time.monotonic() + 20
        while _depths(rabbitmq_url, queue) != (0, 1) or len(singles) + sum(map(len, batches)) < 59:
            assert time.monotonic() < deadline, (len(singles), batches)
            time.sleep(0.05)
    finally:
        subscriber.stop()
        publisher.close()
    handled = [ident for batch in batches for ident in batch] + singles
    assert sorted(handled) == sorted(e.id for e in events if e.id != bad)  # each once, all but the bad one
    assert max(map(len, batches)) > 1  # those that waited went together
    assert bad not in singles and len(singles) >= 1  # its batch went one by one
