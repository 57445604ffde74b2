"""Transactional outbox: events are written with the change that caused them and relayed afterwards.

A service writes its events into its own outbox table in the same transaction as the change
(:func:`add_event`, :func:`add_events`). A relay reads unpublished rows in order, hands each to a :class:`Publisher`
(RabbitMQ with publisher confirms in scale mode, :class:`InProcessBus` in embedded mode) and marks
a row published only after the publisher returned, i.e. after the confirm. A relay killed at any
point loses nothing; it may publish a row again, which consumers recognise by the event id.
"""

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from lotse_contracts import EventEnvelope
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.engine import Connection

from lotse_kit.bulk import insert_many
from lotse_kit.logs import current_request_id, handling
from lotse_kit.sql import UtcDateTime, sqlite_turn, write_turn

log = logging.getLogger(__name__)


def outbox_table(metadata: MetaData, name: str = "lotse_outbox") -> Table:
    """The outbox table in a service's own metadata (and so in its migrations)."""
    return Table(
        name,
        metadata,
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("id", String(64), nullable=False, unique=True),
        Column("event_type", String(200), nullable=False),
        Column("routing_key", String(300), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("published_at", UtcDateTime(), index=True),
    )


_encode = json.JSONEncoder(ensure_ascii=False).encode


def add_event(conn: Connection, table: Table, event: EventEnvelope, routing_key: str) -> None:
    """Write ``event`` to the outbox in the caller's transaction."""
    add_events(conn, table, [(event, routing_key)])


def add_events(conn: Connection, table: Table, events: Iterable[tuple[EventEnvelope, str]]) -> None:
    """Write events with their routing keys to the outbox in the caller's transaction, in this order; each
    carries the request id bound now (:mod:`lotse_kit.logs`) unless it has one."""
    request_id = current_request_id()
    rows = [
        {
            "id": event.id,
            "event_type": event.type,
            "routing_key": routing_key,
            "payload": _encode(
                (replace(event, requestid=request_id) if request_id and not event.requestid else event).to_dict()
            ),
        }
        for event, routing_key in events
    ]
    insert_many(conn, table, rows, ("id", "event_type", "routing_key", "payload"), {"created_at": datetime.now(UTC)})


class Publisher(Protocol):
    def publish(self, routing_key: str, payload: str, message_id: str) -> None:
        """Return only once the event is safely handed over (confirmed); raise otherwise."""
        ...


@runtime_checkable
class BatchPublisher(Publisher, Protocol):
    def publish_all(self, messages: Sequence[tuple[str, str, str]]) -> None:
        """Publish ``(routing_key, payload, message_id)`` messages in order; return only once all are safely
        handed over, raise otherwise (then any of them may have gone out)."""
        ...


Handler = Callable[[EventEnvelope, str], None]
"""A subscriber: the event and its routing key."""

BatchHandler = Callable[[Sequence[tuple[EventEnvelope, str]]], None]
"""A subscriber that takes several events at once (each with its routing key), in the order they came."""


class TryLater(Exception):
    """A subscriber could not handle the event now (a server it needs is away): offer it again later, rather
    than setting it aside as one that cannot be handled."""


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: ``*`` is exactly one word, ``#`` zero or more words."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])

    return match(pattern.split("."), key.split("."))


class InProcessBus:
    """Embedded mode's message bus: subscribers in this process, called in order of subscription.

    A subscriber that raises stops the relay at that event; it is offered again on the next pass, so
    subscribers must be idempotent (the event id is the key), as with a real broker.
    """

    def __init__(self) -> None:
        self._subscribers: list[tuple[str, Handler]] = []

    def subscribe(self, pattern: str, handler: Handler) -> None:
        self._subscribers.append((pattern, handler))

    def publish(self, routing_key: str, payload: str, message_id: str) -> None:
        event = EventEnvelope.from_dict(json.loads(payload))
        with handling(event.requestid, event_id=event.id):
            for pattern, handler in self._subscribers:
                if topic_matches(pattern, routing_key):
                    handler(event, routing_key)


class SqlOutbox:
    """Relays one service's outbox table to a publisher."""

    def __init__(self, engine: Engine, table: Table) -> None:
        self.engine = engine
        self.table = table
        t = table  # a relay's statements, built once (SQLAlchemy then neither builds them nor their cache keys)
        self._unpublished = (
            select(t.c.seq, t.c.id, t.c.routing_key, t.c.payload)
            .where(t.c.published_at.is_(None))
            .order_by(t.c.seq)
            .limit(bindparam("batch", type_=Integer))
        )
        self._unpublished_locked = self._unpublished.with_for_update(skip_locked=True)
        self._mark = (
            update(t)
            .where(t.c.seq.in_(bindparam("published", expanding=True)))
            .values(published_at=bindparam("at", type_=t.c.published_at.type))
        )

    def pending(self) -> int:
        with self.engine.connect() as conn:
            query = select(func.count()).where(self.table.c.published_at.is_(None))
            return int(conn.execute(query).scalar_one())

    def backlog(self) -> tuple[int, datetime | None]:
        """How many events wait to be relayed, and when the oldest of them was written (for metrics)."""
        t = self.table
        with self.engine.connect() as conn:
            row = conn.execute(select(func.count(), func.min(t.c.created_at)).where(t.c.published_at.is_(None))).one()
        return int(row[0]), row[1]

    def since(self, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """A change feed: up to ``limit`` events written after sequence number ``after`` (published or not),
        oldest first, each with its ``seq``, ``routing_key`` and ``event``; and the newest sequence number.

        For readers that cannot subscribe to the broker (embedded mode across processes). On PostgreSQL a
        transaction may commit after one with a higher number: a reader should read again from a little
        before its last number and skip the event ids it has seen."""
        t = self.table
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.seq, t.c.routing_key, t.c.payload).where(t.c.seq > after).order_by(t.c.seq).limit(limit)
            ).all()
            last = conn.execute(select(func.max(t.c.seq))).scalar_one()
        events = [{"seq": r.seq, "routing_key": r.routing_key, "event": json.loads(r.payload)} for r in rows]
        return events, int(last or 0)

    def relay(self, publisher: Publisher, batch: int = 100) -> int:
        """Publish up to ``batch`` unpublished events, oldest first; return how many were published.

        Relays in several processes never publish the same row at the same time: on PostgreSQL the
        rows are locked (``FOR UPDATE SKIP LOCKED``) while they are published; on SQLite, which has no
        row locks, relays take turns, and publish outside the database's write lock (a broker's
        confirm takes a millisecond or two that writers need not wait for). If the publisher fails,
        the rows published before are marked and the error is raised.
        """
        if self.engine.dialect.name == "sqlite":
            with sqlite_turn(self.engine, "relay"):
                with self.engine.connect() as conn:
                    rows = conn.execute(self._unpublished, {"batch": batch}).all()
                    conn.rollback()
                published, failure = _publish(publisher, rows)
                if published:
                    with write_turn(self.engine), self.engine.begin() as conn:
                        conn.execute(self._mark, {"published": published, "at": datetime.now(UTC)})
        else:
            with self.engine.begin() as conn:
                rows = conn.execute(self._unpublished_locked, {"batch": batch}).all()
                published, failure = _publish(publisher, rows)
                if published:
                    conn.execute(self._mark, {"published": published, "at": datetime.now(UTC)})
        if failure is not None:
            raise failure
        return len(published)


def _publish(publisher: Publisher, rows: Sequence[Row[Any, Any, Any, Any]]) -> tuple[list[int], Exception | None]:
    """Publish in order until one fails (several at once where the publisher can): the rows' sequence numbers
    that went out, and the failure."""
    if len(rows) > 1 and isinstance(publisher, BatchPublisher):
        try:
            publisher.publish_all([(row.routing_key, row.payload, row.id) for row in rows])
        except Exception as error:
            return [], error
        return [row.seq for row in rows], None
    published: list[int] = []
    for row in rows:
        try:
            publisher.publish(row.routing_key, row.payload, row.id)
        except Exception as error:
            return published, error
        published.append(row.seq)
    return published, None


class RelayWorker:
    """A background thread that relays an outbox: at once when woken, else every ``interval`` seconds.

    A pass relays batches until one comes back short: what commits later wakes the thread again (the
    service wakes it after each commit that wrote events), so no pass ends with a query that finds nothing.
    After a publisher failure it waits with exponential backoff (up to ``max_backoff``) and tries again.
    Woken, it first waits ``linger`` seconds, so that events committed meanwhile go in the same pass (fewer
    passes for many small commits, each event that much later).
    """

    def __init__(
        self,
        outbox: SqlOutbox,
        publisher: Publisher,
        interval: float = 1.0,
        max_backoff: float = 5.0,
        batch: int = 100,
        linger: float = 0.0,
    ) -> None:
        self.outbox = outbox
        self.publisher = publisher
        self.interval = interval
        self.max_backoff = max_backoff
        self.batch = batch
        self.linger = linger
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            try:
                while self.outbox.relay(self.publisher, self.batch) == self.batch and not self._stop.is_set():
                    pass
                backoff = self.interval
                wait = self.interval
            except Exception:
                log.exception("outbox relay failed; retrying in %.1f s", backoff)
                wait = backoff
                backoff = min(backoff * 2, self.max_backoff)
            if self._wake.wait(wait) and self.linger:
                self._stop.wait(self.linger)
            self._wake.clear()
