"""Referrals in SQL (SQLite in embedded mode, PostgreSQL in scale mode), one transaction per use case."""

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from lotse_contracts import EventEnvelope, ReferralStatus
from lotse_kit.outbox import add_events
from lotse_kit.sql import write_turn
from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from lotse_routing.adapters.ports import FigureScope
from lotse_routing.adapters.storage.tables import (
    audit,
    consent,
    history,
    notification_report,
    outbox,
    referral,
    reminder,
)

Row = dict[str, Any]

_ADD_REPORT = {  # bound, not literal: built once, its compiled form cached
    "postgresql": postgresql.insert(notification_report).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(notification_report).on_conflict_do_nothing(),
}


class SqlReferralSession:
    """One transaction's view of the referrals; what it writes commits together or not at all."""

    def __init__(self, conn: Connection) -> None:
        self.connection = conn
        self.events: list[tuple[EventEnvelope, str]] = []
        self._history: list[Row] = []
        """History entries not yet written: a submission's two go in one statement."""

    def add_consent(self, row: Row) -> None:
        self.connection.execute(insert(consent), row)  # bound, not literal: the statement is cached

    def consent(self, ident: str, for_update: bool = False) -> Row | None:
        query = select(consent).where(consent.c.id == ident)
        found = self.connection.execute(query.with_for_update() if for_update else query).mappings().first()
        return dict(found) if found else None

    def update_consent(self, ident: str, values: Row) -> None:
        self.connection.execute(update(consent).where(consent.c.id == ident).values(values))

    def add_referral(self, row: Row) -> None:
        self.connection.execute(insert(referral), row)

    def referral(self, ident: str, for_update: bool = False) -> Row | None:
        query = select(referral).where(referral.c.id == ident)
        found = self.connection.execute(query.with_for_update() if for_update else query).mappings().first()
        return dict(found) if found else None

    def has_referral(self, ident: str) -> bool:
        return self.connection.execute(select(referral.c.id).where(referral.c.id == ident)).first() is not None

    def update_referral(self, ident: str, revision: int, values: Row) -> bool:
        """Change a referral read at ``revision``; False if it changed meanwhile."""
        done = self.connection.execute(
            update(referral)
            .where(referral.c.id == ident, referral.c.revision == revision)
            .values(**values, revision=revision + 1)
        )
        return done.rowcount == 1

    def referrals_of_consent(self, consent_id: str) -> list[Row]:
        query = select(referral).where(referral.c.consent_id == consent_id).order_by(referral.c.created_at)
        return [dict(r) for r in self.connection.execute(query.with_for_update()).mappings()]

    def page(
        self,
        where: Mapping[str, Any],
        page: int,
        per_page: int,
        hidden_statuses: Sequence[str] = (),
        sort: str = "changed",
        overdue_at: datetime | None = None,
    ) -> tuple[list[Row], int]:
        conditions = [referral.c[name] == value for name, value in where.items()]
        if hidden_statuses:
            conditions.append(referral.c.status.not_in(hidden_statuses))
        awaited = and_(  # a referral still waiting for its acknowledgement: when it is due
            reminder.c.referral_id == referral.c.id,
            reminder.c.kind == "acknowledge",
            referral.c.status == ReferralStatus.REQUESTED.value,
        )
        if overdue_at is not None:
            conditions.append(reminder.c.due_at <= overdue_at)
        joined = referral.outerjoin(reminder, awaited)
        total = self.connection.execute(select(func.count()).select_from(joined).where(*conditions)).scalar_one()
        order = {
            "changed": (referral.c.updated_at.desc(),),
            "newest": (referral.c.requested_at.desc(), referral.c.created_at.desc()),
            "oldest": (referral.c.requested_at.asc(), referral.c.created_at.asc()),
            "due": (reminder.c.due_at.is_(None), reminder.c.due_at.asc(), referral.c.updated_at.desc()),
        }[sort]
        rows = self.connection.execute(
            select(referral, reminder.c.due_at.label("acknowledge_by"))
            .select_from(joined)
            .where(*conditions)
            .order_by(*order, referral.c.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).mappings()
        return [dict(r) for r in rows], int(total)

    def status_counts(
        self, where: Mapping[str, Any], hidden_statuses: Sequence[str] = (), overdue_at: datetime | None = None
    ) -> dict[str, int]:
        """How many of the referrals ``where`` selects are in each status; with ``overdue_at`` also how many
        wait for an acknowledgement due by then (``overdue``)."""
        conditions = [referral.c[name] == value for name, value in where.items()]
        if hidden_statuses:
            conditions.append(referral.c.status.not_in(hidden_statuses))
        rows = self.connection.execute(
            select(referral.c.status, func.count()).where(*conditions).group_by(referral.c.status)
        ).all()
        counts = {str(status): int(count) for status, count in rows}
        if overdue_at is not None:
            late = and_(
                reminder.c.referral_id == referral.c.id,
                reminder.c.kind == "acknowledge",
                referral.c.status == ReferralStatus.REQUESTED.value,
                reminder.c.due_at <= overdue_at,
            )
            overdue = select(func.count()).select_from(referral.join(reminder, late)).where(*conditions)
            counts["overdue"] = int(self.connection.execute(overdue).scalar_one())
        return counts

    def add_history(self, row: Row) -> None:
        self._history.append(row)

    def write_history(self) -> None:
        """Write the entries added since the last time (before the history is read, and at commit)."""
        if self._history:
            self.connection.execute(insert(history), self._history)
            self._history = []

    def history(self, referral_id: str) -> list[Row]:
        self.write_history()
        query = select(history).where(history.c.referral_id == referral_id).order_by(history.c.seq)
        return [dict(r) for r in self.connection.execute(query).mappings()]

    def add_audit(self, rows: Sequence[Row]) -> None:
        if rows:
            self.connection.execute(insert(audit), list(rows))

    def audit_trail(self, referral_id: str) -> list[Row]:
        query = select(audit).where(audit.c.referral_id == referral_id).order_by(audit.c.seq)
        return [dict(r) for r in self.connection.execute(query).mappings()]

    def add_report(self, row: Row) -> bool:
        statement = _ADD_REPORT[self.connection.dialect.name]
        return bool(self.connection.execute(statement, row).rowcount == 1)

    def reports(self, referral_id: str) -> list[Row]:
        r = notification_report.c
        query = select(notification_report).where(r.referral_id == referral_id).order_by(r.at, r.delivery_id)
        return [dict(found) for found in self.connection.execute(query).mappings()]

    def add_event(self, event: EventEnvelope, routing_key: str) -> None:
        self.events.append((event, routing_key))

    def set_reminder(self, referral_id: str, kind: str, due_at: datetime) -> None:
        self.connection.execute(
            insert(reminder), {"referral_id": referral_id, "kind": kind, "due_at": due_at, "fired": False}
        )

    def close_reminders(self, referral_id: str, at: datetime) -> None:
        self.connection.execute(
            update(reminder)
            .where(reminder.c.referral_id == referral_id, reminder.c.done_at.is_(None))
            .values(done_at=at)
        )

    def due_reminders(self, now: datetime, limit: int) -> list[Row]:
        query = (
            select(reminder)
            .where(reminder.c.done_at.is_(None), reminder.c.due_at <= now)
            .order_by(reminder.c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [dict(r) for r in self.connection.execute(query).mappings()]

    def fire_reminder(self, referral_id: str, kind: str, at: datetime) -> None:
        self.connection.execute(
            update(reminder)
            .where(reminder.c.referral_id == referral_id, reminder.c.kind == kind)
            .values(done_at=at, fired=True)
        )

    def expired(self, closed_before: datetime, limit: int) -> list[str]:
        query = (
            select(referral.c.id)
            .where(referral.c.erased_at.is_(None), referral.c.closed_at < closed_before)
            .order_by(referral.c.closed_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.connection.execute(query).scalars())

    def plain_topics(self, limit: int) -> list[tuple[str, str, str | None]]:
        """Referrals whose topic was stored in the clear (before topics were sealed): id, topic, sealed."""
        r = referral.c
        query = select(r.id, r.topic, r.sealed).where(r.topic.is_not(None), r.erased_at.is_(None)).limit(limit)
        return [(str(i), str(t), s) for i, t, s in self.connection.execute(query)]

    def seal_topic(self, referral_id: str, sealed: str, key_id: str) -> None:
        values = {"topic": None, "sealed": sealed, "sealed_with": key_id}
        self.connection.execute(update(referral).where(referral.c.id == referral_id).values(**values))

    def erase(self, referral_ids: Sequence[str], at: datetime) -> None:
        self.write_history()  # what this transaction noted is erased too
        ids = list(referral_ids)
        self.connection.execute(
            update(referral)
            .where(referral.c.id.in_(ids))
            .values(sealed=None, sealed_with=None, client_index=None, topic=None, erased_at=at)
        )
        self.connection.execute(
            update(history).where(history.c.referral_id.in_(ids)).values(sealed=None, sealed_with=None)
        )
        still_held = select(referral.c.id).where(referral.c.consent_id == consent.c.id, referral.c.erased_at.is_(None))
        their_consents = select(referral.c.consent_id).where(referral.c.id.in_(ids))
        self.connection.execute(
            update(consent)
            .where(consent.c.id.in_(their_consents), ~still_held.exists())
            .values(sealed=None, sealed_with=None)
        )

    def counts(self, dimensions: Sequence[str], scope: FigureScope) -> list[Row]:
        """Referrals counted by the given columns (coordinators' figures)."""
        columns = [referral.c[d] for d in dimensions]
        query = select(*columns, func.count().label("count")).where(*_in_scope(scope)).group_by(*columns)
        return [dict(r) for r in self.connection.execute(query).mappings()]

    def durations(self, scope: FigureScope) -> list[Row]:
        r = referral.c
        query = select(
            r.legal_domain,
            r.requested_at,
            r.acknowledged_at,
            r.accepted_at,
            r.forwarded_to_id.is_not(None).label("forwarded"),
        ).where(r.requested_at.is_not(None), *_in_scope(scope))
        return [dict(row) for row in self.connection.execute(query).mappings()]

    def sealed_with_other_key(self, key_id: str, limit: int) -> list[tuple[str, str, str]]:
        """Up to ``limit`` sealed values not sealed with ``key_id``: (table, key, sealed text)."""
        self.write_history()
        found: list[tuple[str, str, str]] = []
        for table, key in ((referral, "id"), (consent, "id"), (history, "seq")):
            query = (
                select(table.c[key], table.c.sealed)
                .where(table.c.sealed.is_not(None), table.c.sealed_with != key_id)
                .limit(limit - len(found))
            )
            found.extend((table.name, str(k), s) for k, s in self.connection.execute(query))
            if len(found) >= limit:
                break
        return found

    def count_sealed_with_other_key(self, key_id: str) -> int:
        return sum(
            int(
                self.connection.execute(
                    select(func.count()).where(table.c.sealed.is_not(None), table.c.sealed_with != key_id)
                ).scalar_one()
            )
            for table in (referral, consent, history)
        )

    def reseal(self, table_name: str, key: str, sealed: str, key_id: str, client_index: str | None = None) -> None:
        table = {t.name: t for t in (referral, consent, history)}[table_name]
        column = table.c.seq if table is history else table.c.id
        value: Any = int(key) if table is history else key
        values: dict[str, str | None] = {"sealed": sealed, "sealed_with": key_id}
        if table is referral:
            values["client_index"] = client_index
        self.connection.execute(update(table).where(column == value).values(values))

    def unindexed(self, limit: int) -> list[tuple[str, str]]:
        query = (
            select(referral.c.id, referral.c.sealed)
            .where(referral.c.sealed.is_not(None), referral.c.client_index.is_(None))
            .limit(limit)
        )
        return [(str(i), str(sealed)) for i, sealed in self.connection.execute(query)]

    def set_client_index(self, referral_id: str, client_index: str) -> None:
        self.connection.execute(update(referral).where(referral.c.id == referral_id).values(client_index=client_index))

    def about_person(self, client_indexes: Sequence[str]) -> list[Row]:
        query = (
            select(referral)
            .where(referral.c.client_index.in_(list(client_indexes)))
            .order_by(referral.c.created_at, referral.c.id)
        )
        return [dict(r) for r in self.connection.execute(query).mappings()]

    def audit_of(self, referral_ids: Sequence[str], consent_ids: Sequence[str]) -> list[Row]:
        a = audit.c
        query = (
            select(audit)
            .where(a.referral_id.in_(list(referral_ids)) | a.consent_id.in_(list(consent_ids)))
            .order_by(a.seq)
        )
        return [dict(r) for r in self.connection.execute(query).mappings()]


class SqlReferralStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._after_commit: list[Callable[[SqlReferralSession], None]] = []

    def after_commit(self, hook: Callable[[SqlReferralSession], None]) -> None:
        self._after_commit.append(hook)

    def reminder_counts(self, now: datetime) -> dict[str, int]:
        """Acknowledgement reminders (for metrics): ``due`` (past due, not yet sent by the sweep: should stay
        near 0) and ``overdue`` (referrals past the date and still not acknowledged, reminded or not)."""
        r = reminder.c
        with self.engine.connect() as conn:
            due = conn.execute(
                select(func.count()).where(r.done_at.is_(None), r.fired.is_(False), r.due_at <= now)
            ).scalar_one()
            overdue = conn.execute(
                select(func.count())
                .select_from(reminder.join(referral, referral.c.id == r.referral_id))
                .where(r.kind == "acknowledge", r.due_at <= now, referral.c.status == ReferralStatus.REQUESTED.value)
            ).scalar_one()
        return {"due": int(due), "overdue": int(overdue)}

    @contextmanager
    def transaction(self) -> Iterator[SqlReferralSession]:
        """A write transaction; on SQLite it takes the write lock at once, so that what it reads stays true."""
        with write_turn(self.engine), self.engine.connect() as conn, conn.begin():
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the driver would begin only at the first write
            session = SqlReferralSession(conn)
            yield session
            session.write_history()
            if session.events:
                add_events(conn, outbox, session.events)
        for hook in self._after_commit:
            hook(session)

    @contextmanager
    def reading(self) -> Iterator[SqlReferralSession]:
        """A transaction that only reads (a snapshot; it writes nothing and is rolled back)."""
        with self.engine.connect() as conn:
            yield SqlReferralSession(conn)
            conn.rollback()


def _in_scope(scope: FigureScope) -> list[Any]:
    r = referral.c
    found: list[Any] = []
    if scope.legal_domain:
        found.append(r.legal_domain == scope.legal_domain)
    if scope.region:
        found.append(r.region_key.startswith(scope.region, autoescape=True))
    if scope.since:
        found.append(r.requested_at >= scope.since)
    if scope.until:
        found.append(r.requested_at < scope.until)
    return found
