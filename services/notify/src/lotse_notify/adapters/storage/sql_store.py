"""Notify's database in SQL (SQLite embedded, PostgreSQL in scale mode)."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from lotse_contracts import EventEnvelope
from lotse_kit.outbox import add_events
from lotse_kit.sql import write_turn
from sqlalchemy import Engine, and_, bindparam, delete, func, insert, null, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import BindParameter

from lotse_notify.adapters.ports import Row
from lotse_notify.adapters.storage.tables import (
    delivery,
    endpoint_pause,
    gone_endpoint,
    notification,
    outbox,
    processed_event,
)
from lotse_notify.domain.delivery import DUE, State

_DUE = [s.value for s in DUE]


def _dialect(conn: Connection) -> Any:
    return postgresql if conn.dialect.name == "postgresql" else sqlite


def _attemptable(now: datetime | BindParameter[datetime]) -> Any:
    d = delivery.c
    return or_(
        and_(d.state.in_(_DUE), d.next_due_at <= now),
        and_(d.state == State.DELIVERING.value, d.lease_until < now),
    )


# What runs for every event and every attempt is built once, with bound parameters: SQLAlchemy then neither
# builds the statements nor works out their cache keys again.
_FIRST_TIME = {
    name: dialect.insert(processed_event)
    .on_conflict_do_nothing(index_elements=["event_id"])
    .returning(processed_event.c.event_id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_CLAIM = (
    update(delivery)
    .where(delivery.c.id == bindparam("delivery_id"), _attemptable(bindparam("now", type_=delivery.c.updated_at.type)))
    .values(
        state=State.DELIVERING.value,
        attempts=delivery.c.attempts + 1,
        lease_until=bindparam("until"),
        updated_at=bindparam("now"),
    )
    .returning(delivery.c.id)
)
_CLAIMED = (
    select(delivery, *(notification.c[name] for name in ("event_id", "event_type", "organization_id", "side")))
    .add_columns(*(notification.c[name] for name in ("referral_id", "legal_domain", "region_key")))
    .add_columns(notification.c.referral_status, notification.c.urgency, notification.c.created_at.label("notified_at"))
    .add_columns(notification.c.request_id)
    .add_columns(gone_endpoint.c.channel_revision.label("gone_revision"))
    .add_columns(endpoint_pause.c.until.label("paused_until"), endpoint_pause.c.failures.label("pause_failures"))
    .join(notification, notification.c.id == delivery.c.notification_id)
    .outerjoin(gone_endpoint, gone_endpoint.c.channel_id == delivery.c.channel_id)
    .outerjoin(endpoint_pause, endpoint_pause.c.target == delivery.c.target)
    .where(delivery.c.id == bindparam("delivery_id"))
)

_HOLDS = union_all(  # gone channels with their revision, and paused targets (revision NULL), in one round trip
    select(gone_endpoint.c.channel_id, gone_endpoint.c.channel_revision).where(
        gone_endpoint.c.channel_id.in_(bindparam("channels", expanding=True))
    ),
    select(endpoint_pause.c.target, null()).where(endpoint_pause.c.target.in_(bindparam("targets", expanding=True))),
)

_FINISH: dict[frozenset[str], Any] = {}
"""The UPDATE that records an attempt's result, per set of columns it changes (a handful of shapes)."""


def _finish(columns: frozenset[str]) -> Any:
    statement = _FINISH.get(columns)
    if statement is None:
        d = delivery.c
        values: dict[str, Any] = {name: bindparam(f"new_{name}", type_=d[name].type) for name in columns}
        statement = _FINISH[columns] = (
            update(delivery)
            .where(d.id == bindparam("delivery_id"), d.state == State.DELIVERING.value)
            .where(d.attempts == bindparam("claimed_attempts"))
            .values({**values, "lease_until": None, "kicked_at": None})
        )
    return statement


class SqlNotifySession:
    def __init__(self, conn: Connection) -> None:
        self.connection = conn
        self.events: list[tuple[EventEnvelope, str]] = []

    def first_time(self, events: Sequence[tuple[str, str]], at: datetime) -> set[str]:
        rows = [{"event_id": ident, "event_type": kind, "received_at": at} for ident, kind in dict(events).items()]
        statement = _FIRST_TIME[self.connection.dialect.name].values(rows)  # one statement, however many
        return set(self.connection.execute(statement).scalars())

    def add_notification(self, row: Row) -> None:
        self.connection.execute(insert(notification), row)

    def add_deliveries(self, rows: Sequence[Row]) -> None:
        if rows:
            self.connection.execute(insert(delivery), list(rows))

    def holds(self, channel_ids: Sequence[str], targets: Sequence[str]) -> tuple[dict[str, int], set[str]]:
        if not channel_ids:
            return {}, set()
        params = {"channels": list(set(channel_ids)), "targets": list(set(targets))}
        gone: dict[str, int] = {}
        paused: set[str] = set()
        for key, revision in self.connection.execute(_HOLDS, params):
            if revision is None:
                paused.add(key)
            else:
                gone[key] = revision
        return gone, paused

    def claim(self, delivery_id: str, now: datetime, lease_until: datetime) -> Row | None:
        params = {"delivery_id": delivery_id, "now": now, "until": lease_until}
        if self.connection.execute(_CLAIM, params).first() is None:
            return None
        return dict(self.connection.execute(_CLAIMED, params).mappings().one())

    def finish(self, delivery_id: str, attempts: int, changes: Row) -> bool:
        params = {"delivery_id": delivery_id, "claimed_attempts": attempts}
        params.update({f"new_{name}": value for name, value in changes.items()})
        result = self.connection.execute(_finish(frozenset(changes)), params)
        return bool(result.rowcount == 1)

    def mark_gone(self, channel_id: str, revision: int, at: datetime, detail: str) -> None:
        values = {"channel_id": channel_id, "channel_revision": revision, "gone_at": at, "detail": detail}
        statement = _dialect(self.connection).insert(gone_endpoint).values(values)
        self.connection.execute(
            statement.on_conflict_do_update(index_elements=["channel_id"], set_={k: v for k, v in values.items()})
        )

    def take_probe(self, target: str, now: datetime, until: datetime) -> bool:
        p = endpoint_pause.c
        taken = self.connection.execute(
            update(endpoint_pause).where(p.target == target, p.until <= now).values(until=until).returning(p.target)
        )
        return taken.first() is not None

    def pause(self, target: str, failures: int, at: datetime, until: datetime, detail: str) -> None:
        values = {"target": target, "until": until, "failures": failures, "since": at, "detail": detail}
        statement = _dialect(self.connection).insert(endpoint_pause).values(values)
        again = {"until": until, "failures": failures, "detail": detail}  # ``since``: when it first went quiet
        self.connection.execute(statement.on_conflict_do_update(index_elements=["target"], set_=again))

    def resume(self, target: str, now: datetime, waited_until: datetime) -> None:
        self.connection.execute(delete(endpoint_pause).where(endpoint_pause.c.target == target))
        d = delivery.c
        waiting = and_(d.target == target, d.state.in_(_DUE), d.next_due_at > now, d.next_due_at <= waited_until)
        self.connection.execute(update(delivery).where(waiting).values(next_due_at=now, updated_at=now))

    def due(self, now: datetime, kicked_before: datetime, limit: int) -> list[str]:
        d = delivery.c
        not_kicked = or_(d.kicked_at.is_(None), d.kicked_at < kicked_before)
        query = select(d.id).where(_attemptable(now), not_kicked).order_by(d.next_due_at).limit(limit)
        if self.connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(self.connection.execute(query).scalars())
        if ids:
            self.connection.execute(update(delivery).where(d.id.in_(ids)).values(kicked_at=now))
        return ids

    def paused(self) -> list[Row]:
        p, d = endpoint_pause.c, delivery.c
        waiting = select(func.count()).where(d.target == p.target, d.state.in_(_DUE)).scalar_subquery()
        query = select(endpoint_pause, waiting.label("waiting")).order_by(p.since, p.target)
        return [dict(r) for r in self.connection.execute(query).mappings()]

    def dead(self, limit: int, offset: int) -> tuple[list[Row], int]:
        d, n = delivery.c, notification.c
        where = d.state == State.DEAD.value
        total = int(self.connection.execute(select(func.count()).where(where)).scalar_one())
        query = (
            select(d.id, d.kind, d.channel_id, d.attempts, d.last_status, d.last_error, d.updated_at)
            .add_columns(n.organization_id, n.referral_id, n.event_type, n.created_at)
            .join(notification, n.id == d.notification_id)
            .where(where)
            .order_by(d.updated_at.desc(), d.id)
            .limit(limit)
            .offset(offset)
        )
        return [dict(r) for r in self.connection.execute(query).mappings()], total

    def redrive(self, delivery_id: str, now: datetime) -> bool:
        d = delivery.c
        channel = self.connection.execute(
            update(delivery)
            .where(d.id == delivery_id, d.state == State.DEAD.value)
            .values(state=State.PENDING.value, attempts=0, next_due_at=now, kicked_at=None, updated_at=now)
            .returning(d.channel_id)
        ).scalar()
        if channel is None:
            return False
        # the operator means it: the endpoint is tried again, whatever it answered before
        self.connection.execute(delete(gone_endpoint).where(gone_endpoint.c.channel_id == channel))
        return True

    def inbox(self, organization_id: str, unread_only: bool, limit: int, offset: int) -> tuple[list[Row], int]:
        n = notification.c
        where = [n.organization_id == organization_id, *([n.read_at.is_(None)] if unread_only else [])]
        total = int(self.connection.execute(select(func.count()).where(*where)).scalar_one())
        query = select(notification).where(*where).order_by(n.created_at.desc(), n.id).limit(limit).offset(offset)
        return [dict(r) for r in self.connection.execute(query).mappings()], total

    def mark_read(self, organization_id: str, ids: Sequence[str] | None, by: str, at: datetime) -> int:
        n = notification.c
        where = [n.organization_id == organization_id, n.read_at.is_(None)]
        if ids is not None:
            where.append(n.id.in_(list(ids)))
        result = self.connection.execute(update(notification).where(*where).values(read_at=at, read_by=by))
        return int(result.rowcount)

    def add_event(self, event: EventEnvelope, routing_key: str) -> None:
        self.events.append((event, routing_key))


class SqlNotifyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._after_commit: list[Callable[[SqlNotifySession], None]] = []

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries by state (for metrics; ``dead`` ones wait for an admin's re-drive)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(delivery.c.state, func.count()).group_by(delivery.c.state)).all()
        return {str(state): int(count) for state, count in rows}

    def after_commit(self, callback: Callable[[SqlNotifySession], None]) -> None:
        """Call ``callback`` with the session after each transaction committed (to wake the relay)."""
        self._after_commit.append(callback)

    @contextmanager
    def transaction(self) -> Iterator[SqlNotifySession]:
        """One write transaction (on SQLite: writers take turns, see :func:`lotse_kit.sql.write_turn`)."""
        with write_turn(self.engine), self.engine.begin() as conn:
            session = SqlNotifySession(conn)
            yield session
            if session.events:
                add_events(conn, outbox, session.events)
        for callback in self._after_commit:
            callback(session)
