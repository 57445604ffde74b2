"""The transactional outbox relay, on SQLite and PostgreSQL: order, marking, failures, concurrency."""

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lotse_contracts import EventEnvelope
from lotse_kit.outbox import (
    InProcessBus,
    Publisher,
    RelayWorker,
    SqlOutbox,
    add_event,
    outbox_table,
    topic_matches,
)
from sqlalchemy import Engine, MetaData, create_engine, select


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = (
        f"sqlite:///{tmp_path / 'outbox.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )
    made = create_engine(url)
    metadata = MetaData()
    outbox_table(metadata, "test_outbox")
    metadata.drop_all(made)
    metadata.create_all(made)
    yield made
    metadata.drop_all(made)
    made.dispose()


def _outbox(engine: Engine) -> SqlOutbox:
    metadata = MetaData()
    return SqlOutbox(engine, outbox_table(metadata, "test_outbox"))


def _write(outbox: SqlOutbox, n: int, key: str = "directory.service.changed.any.05954036") -> list[str]:
    ids = []
    with outbox.engine.begin() as conn:
        for i in range(n):
            event = EventEnvelope(type="directory.service.changed", source="test", data={"i": i})
            add_event(conn, outbox.table, event, key)
            ids.append(event.id)
    return ids


class Recorder:
    def __init__(self, fail_at: int | None = None) -> None:
        self.seen: list[str] = []
        self.fail_at = fail_at
        self.lock = threading.Lock()

    def publish(self, routing_key: str, payload: str, message_id: str) -> None:
        with self.lock:
            if self.fail_at is not None and len(self.seen) == self.fail_at:
                raise ConnectionError("broker gone")
            self.seen.append(message_id)


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("referral.*.sgb_viii.05954036", "referral.requested.sgb_viii.05954036", True),
        ("referral.*.sgb_viii.05954036", "referral.requested.sgb_ii.05954036", False),
        ("referral.#", "referral.requested.sgb_ii.05954036", True),
        ("#", "directory.service.changed.any.any", True),
        ("directory.*.changed.#", "directory.service.changed.any.05", True),
        ("directory.*.changed", "directory.service.changed.any.05", False),
        ("a.#.z", "a.z", True),
        ("*", "a.b", False),
    ],
)
def test_topic_matching_follows_amqp(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected


def test_relay_publishes_in_order_and_marks_rows(engine: Engine) -> None:
    outbox = _outbox(engine)
    ids = _write(outbox, 5)
    recorder = Recorder()
    assert outbox.relay(recorder, batch=3) == 3
    assert outbox.relay(recorder, batch=3) == 2
    assert outbox.relay(recorder) == 0
    assert recorder.seen == ids and outbox.pending() == 0


def test_a_failing_publisher_loses_nothing(engine: Engine) -> None:
    outbox = _outbox(engine)
    ids = _write(outbox, 4)
    failing = Recorder(fail_at=2)
    with pytest.raises(ConnectionError):
        outbox.relay(failing)
    assert failing.seen == ids[:2]
    assert outbox.pending() == 2  # the two confirmed ones are marked, the rest wait
    recovered = Recorder()
    assert outbox.relay(recovered) == 2
    assert recovered.seen == ids[2:]


def test_concurrent_relays_publish_every_event_once(engine: Engine) -> None:
    outbox = _outbox(engine)
    ids = _write(outbox, 200)
    recorder = Recorder()

    def drain() -> None:
        relay = _outbox(engine)
        while relay.relay(recorder, batch=7):
            pass

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(recorder.seen) == sorted(ids)
    assert len(recorder.seen) == len(set(recorder.seen))


def test_in_process_bus_and_worker_deliver_to_matching_subscribers(engine: Engine) -> None:
    outbox = _outbox(engine)
    bus = InProcessBus()
    received: list[tuple[str, str]] = []
    done = threading.Event()

    def handler(event: EventEnvelope, key: str) -> None:
        received.append((event.id, key))
        done.set()

    bus.subscribe("directory.*.changed.#", handler)
    bus.subscribe("referral.#", lambda e, k: pytest.fail("wrong subscriber"))
    worker = RelayWorker(outbox, bus, interval=30)
    worker.start()
    try:
        ids = _write(outbox, 1)
        worker.wake()
        assert done.wait(10)
    finally:
        worker.stop()
    assert received == [(ids[0], "directory.service.changed.any.05954036")]
    with engine.connect() as conn:
        assert conn.execute(select(outbox.table.c.published_at)).scalar_one() is not None


def test_a_woken_relay_stops_at_a_short_batch_and_takes_what_commits_meanwhile(engine: Engine) -> None:
    """Five events in batches of two make three passes (2, 2, 1), none of them empty; an event written
    later is relayed when its commit wakes the thread, not at the next interval."""
    outbox = _outbox(engine)
    passes = _count_passes(outbox)
    recorder = Recorder()
    worker = RelayWorker(outbox, recorder, interval=30, batch=2)
    ids = _write(outbox, 5)
    worker.start()  # its first pass starts at once
    try:
        _until(lambda: sum(passes) == 5)  # a pass is counted once it returned, after its publishing
        assert passes == [2, 2, 1]
        ids += _write(outbox, 1)
        worker.wake()
        _until(lambda: sum(passes) == 6)
        assert passes == [2, 2, 1, 1]
    finally:
        worker.stop()
    assert recorder.seen == ids


def test_a_lingering_relay_takes_what_commits_while_it_lingers_in_one_pass(engine: Engine) -> None:
    """Woken for one event, a relay with ``linger`` waits before its pass: events committed meanwhile go in
    the same pass instead of a pass each."""
    outbox = _outbox(engine)
    passes = _count_passes(outbox)
    recorder = Recorder()
    worker = RelayWorker(outbox, recorder, interval=30, linger=0.5)
    worker.start()
    try:
        _until(lambda: passes == [0])  # the first pass, at start, finds nothing
        ids = _write(outbox, 1)
        worker.wake()
        for _ in range(3):  # more commits while it lingers, each waking it
            time.sleep(0.05)
            ids += _write(outbox, 1)
            worker.wake()
        _until(lambda: len(passes) == 2)
        assert passes == [0, 4]
    finally:
        worker.stop()
    assert recorder.seen == ids


def _count_passes(outbox: SqlOutbox) -> list[int]:
    """How many events each of the outbox's relay passes published, as they happen."""
    passes: list[int] = []
    relay = outbox.relay

    def counted(publisher: Publisher, batch: int = 100) -> int:
        passes.append(relay(publisher, batch))
        return passes[-1]

    outbox.relay = counted  # type: ignore[method-assign]
    return passes


def _until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.01)
