"""Notify's database in SQL (SQLite embedded, PostgreSQL in scale mode)."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from lotse_contracts import EventEnvelope
from lotse_kit.outbox import add_events
from lotse_kit.sql import write_turn
from sqlalchemy import Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from lotse_notify.adapters.ports import Row
from lotse_notify.adapters.storage.tables import (
    delivery,
    gone_endpoint,
    notification,
    outbox,
    processed_event,
)
from lotse_notify.domain.delivery import DUE, State

_DUE = [s.value for s in DUE]


def _dialect(conn: Connection) -> Any:
    return postgresql if conn.dialect.name == "postgresql" else sqlite


def _attemptable(now: datetime) -> Any:
    d = delivery.c
    return or_(
        and_(d.state.in_(_DUE), d.next_due_at <= now),
        and_(d.state == State.DELIVERING.value, d.lease_until < now),
    )


class SqlNotifySession:
    def __init__(self, conn: Connection) -> None:
        self.connection = conn
        self.events: list[tuple[EventEnvelope, str]] = []

    def first_time(self, event_id: str, event_type: str, at: datetime) -> bool:
        statement = (
            _dialect(self.connection)
            .insert(processed_event)
            .values(event_id=event_id, event_type=event_type, received_at=at)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(processed_event.c.event_id)
        )
        return self.connection.execute(statement).first() is not None

    def add_notification(self, row: Row) -> None:
        self.connection.execute(insert(notification), row)

    def add_deliveries(self, rows: Sequence[Row]) -> None:
        if rows:
            self.connection.execute(insert(delivery), list(rows))

    def claim(self, delivery_id: str, now: datetime, lease_until: datetime) -> Row | None:
        d = delivery.c
        taken = self.connection.execute(
            update(delivery)
            .where(d.id == delivery_id, _attemptable(now))
            .values(state=State.DELIVERING.value, attempts=d.attempts + 1, lease_until=lease_until, updated_at=now)
            .returning(d.id)
        ).first()
        if taken is None:
            return None
        n, g = notification.c, gone_endpoint.c
        query = (
            select(delivery, n.event_id, n.event_type, n.organization_id, n.side, n.referral_id)
            .add_columns(n.legal_domain, n.region_key, n.referral_status, n.urgency, n.created_at.label("notified_at"))
            .add_columns(g.channel_revision.label("gone_revision"))
            .join(notification, n.id == d.notification_id)
            .outerjoin(gone_endpoint, g.channel_id == d.channel_id)
            .where(d.id == delivery_id)
        )
        return dict(self.connection.execute(query).mappings().one())

    def finish(self, delivery_id: str, attempts: int, changes: Row) -> bool:
        d = delivery.c
        result = self.connection.execute(
            update(delivery)
            .where(d.id == delivery_id, d.state == State.DELIVERING.value, d.attempts == attempts)
            .values({**changes, "lease_until": None, "kicked_at": None})
        )
        return bool(result.rowcount == 1)

    def mark_gone(self, channel_id: str, revision: int, at: datetime, detail: str) -> None:
        values = {"channel_id": channel_id, "channel_revision": revision, "gone_at": at, "detail": detail}
        statement = _dialect(self.connection).insert(gone_endpoint).values(values)
        self.connection.execute(
            statement.on_conflict_do_update(index_elements=["channel_id"], set_={k: v for k, v in values.items()})
        )

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
