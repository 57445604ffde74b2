"""The directory store on SQLAlchemy Core: SQLite file (embedded) or PostgreSQL (scale)."""

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from lotse_contracts import EventEnvelope
from lotse_kit.bulk import insert_many
from lotse_kit.outbox import add_events
from sqlalchemy import Engine, Select, and_, bindparam, func, insert, literal, select, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from lotse_directory.adapters.ports import AtLeast, Row, StartsWith
from lotse_directory.adapters.storage.tables import (
    AUTHORITIES,
    REVISION,
    entity_tables,
    login_attempts,
    maintainer_grants,
    notification_channels,
    outbox,
    provider_replies,
    search_index_state,
    search_misses,
    users,
)
from lotse_directory.domain.search.documents import SearchDocument

_INTERNAL = (REVISION, "lotse_created_at", "lotse_updated_at")
_COLLECTIONS = (list, set, tuple, frozenset)
_MAX_IN = 10_000
_BULK_CACHE_KIB = 256 * 1024
_DEFAULT_CACHE = -2000  # SQLite's default: 2,000 KiB


@contextmanager
def _bulk_cache(conn: Connection, bulk: bool) -> Iterator[None]:
    """SQLite: keep the indexes' pages in memory while many rows with random keys go in (default: 2 MB)."""
    if not bulk or conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql(f"PRAGMA cache_size = -{_BULK_CACHE_KIB}")
    conn.commit()
    try:
        yield
    finally:
        conn.rollback()  # nothing is open unless the transaction failed
        conn.exec_driver_sql(f"PRAGMA cache_size = {_DEFAULT_CACHE}")
        conn.commit()


_Shape = tuple[tuple[str, str], ...]
"""Conditions of a select: (column, "in" | "in_json" | "null" | "min" | "eq")."""


def _shape(where: Mapping[str, Any] | None, json_lists: bool = False) -> tuple[_Shape, dict[str, Any]]:
    """The shape of ``where`` (see :meth:`SqlStoreSession._filtered`) and the values to bind.

    ``json_lists`` (SQLite): a list of strings is bound as one JSON array, read by ``json_each``,
    rather than as one parameter per value (an import asks for thousands of ids at a time)."""
    shape: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for name, value in (where or {}).items():
        if json_lists and isinstance(value, _COLLECTIONS) and all(isinstance(v, str) for v in value):
            shape.append((name, "in_json"))
            values[name] = json.dumps(list(value))
        elif isinstance(value, _COLLECTIONS):
            shape.append((name, "in"))
            values[name] = list(value)
        elif value is None:
            shape.append((name, "null"))
        elif isinstance(value, AtLeast):
            shape.append((name, "min"))
            values[name] = value.value
        elif isinstance(value, StartsWith):
            if "%" in value.value or "_" in value.value:
                raise ValueError(f"{value.value!r} would be a pattern, not a prefix")
            shape.append((name, "prefix"))
            values[name] = value.value
        else:
            shape.append((name, "eq"))
            values[name] = value
    return tuple(shape), values


def _now() -> datetime:
    return datetime.now(UTC)


def _public(row: Any) -> Row:
    return dict(row)


def _channel(row: Any) -> Row:
    found = {k: v for k, v in row.items() if k not in _INTERNAL}
    found["revision"] = row[REVISION]
    return found


class SqlStoreSession:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._sqlite = conn.dialect.name == "sqlite"
        self.wrote_events = False
        self._events: list[tuple[EventEnvelope, str]] = []
        self.touched: list[tuple[str, Row]] = []
        self.documents: dict[str, SearchDocument | None] = {}
        self.queued_for_indexing: set[str] = set()

    @property
    def connection(self) -> Connection:
        return self._conn

    def touch(self, entity: str, values: Mapping[str, Any]) -> None:
        self.touched.append((entity, dict(values)))

    def use_documents(self, documents: Mapping[str, SearchDocument | None]) -> None:
        self.documents.update(documents)

    @staticmethod
    @lru_cache(maxsize=1024)
    def _filtered(
        entity: str, shape: "_Shape", order_by: str | None = None, fields: tuple[str, ...] | None = None
    ) -> Select[Any]:
        """A select of ``entity`` (all columns, or these) by conditions of this shape, built once;
        values are bound at execution."""
        table = entity_tables[entity]
        conditions: list[ColumnElement[bool]] = []
        for name, kind in shape:
            column = table.c[name]
            if kind == "in":
                conditions.append(column.in_(bindparam(name, expanding=True)))
            elif kind == "in_json":
                listed = func.json_each(bindparam(name)).table_valued("value")
                conditions.append(column.in_(select(listed.c.value)))
            elif kind == "null":
                conditions.append(column.is_(None))
            elif kind == "min":
                conditions.append(column >= bindparam(name))
            elif kind == "prefix":
                conditions.append(column.startswith(bindparam(name)))
            else:
                conditions.append(column == bindparam(name))
        query = select(*(table.c[f] for f in fields)) if fields else select(table)
        query = query.where(and_(*conditions)) if conditions else query
        return query if order_by is None else query.order_by(table.c[order_by], table.c.id)

    def get(self, entity: str, ident: str) -> Row | None:
        table = entity_tables[entity]
        found = self._conn.execute(select(table).where(table.c.id == ident)).mappings().first()
        return _public(found) if found else None

    def select(
        self,
        entity: str,
        where: Mapping[str, Any] | None = None,
        *,
        order_by: str = "id",
        limit: int | None = None,
        offset: int = 0,
        fields: Sequence[str] | None = None,
    ) -> list[Row]:
        chosen = tuple(dict.fromkeys(["id", order_by, *fields])) if fields else None
        long = [k for k, v in (where or {}).items() if isinstance(v, _COLLECTIONS) and len(v) > _MAX_IN]
        if long and limit is None and not offset:
            # one statement has at most so many parameters (PostgreSQL: 65,535): ask in parts, merge in order
            assert where is not None
            parts = sorted(where[long[0]])
            rows = [
                row
                for start in range(0, len(parts), _MAX_IN)
                for row in self.select(
                    entity, {**where, long[0]: parts[start : start + _MAX_IN]}, order_by=order_by, fields=chosen
                )
            ]
            return sorted(rows, key=lambda r: (r[order_by] is not None, r[order_by], r["id"]))
        shape, values = _shape(where, self._sqlite)
        query = self._filtered(entity, shape, order_by, chosen)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        result = self._conn.execute(query, values)
        keys = list(result.keys())
        return [dict(zip(keys, r, strict=True)) for r in result.fetchall()]

    def count(self, entity: str, where: Mapping[str, Any] | None = None) -> int:
        shape, values = _shape(where, self._sqlite)
        inner = self._filtered(entity, shape).subquery()
        return int(self._conn.execute(select(func.count()).select_from(inner), values).scalar_one())

    def unknown_references(
        self, entity: str, field: str, target: str, where: Mapping[str, Any] | None = None
    ) -> set[str]:
        shape, values = _shape(where, self._sqlite)
        rows = self._filtered(entity, shape, None, (field,)).subquery()
        query = (
            select(rows.c[field])
            .distinct()
            .where(rows.c[field].is_not(None), rows.c[field].not_in(select(entity_tables[target].c.id)))
        )
        return {str(v) for v in self._conn.execute(query, values).scalars()}

    def insert(self, entity: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        now = _now()
        table = entity_tables[entity]
        names = [c.name for c in table.columns if c.name not in _INTERNAL]
        insert_many(self._conn, table, rows, names, {REVISION: 1, "lotse_created_at": now, "lotse_updated_at": now})

    def update(self, entity: str, ident: str, changes: Mapping[str, Any], expected_revision: int) -> bool:
        table = entity_tables[entity]
        result = self._conn.execute(
            update(table)
            .where(table.c.id == ident, table.c[REVISION] == expected_revision)
            .values({**changes, REVISION: expected_revision + 1, "lotse_updated_at": _now()})
        )
        return bool(result.rowcount == 1)

    def delete(self, entity: str, ident: str, expected_revision: int | None = None) -> bool:
        table = entity_tables[entity]
        query = sql_delete(table).where(table.c.id == ident)
        if expected_revision is not None:
            query = query.where(table.c[REVISION] == expected_revision)
        return bool(self._conn.execute(query).rowcount == 1)

    def add_event(self, event: EventEnvelope, routing_key: str) -> None:
        self._events.append((event, routing_key))  # written together at the end of the transaction
        self.wrote_events = True

    def flush_events(self) -> None:
        add_events(self._conn, outbox, self._events)
        self._events.clear()

    def queue_for_indexing(self, service_ids: Collection[str]) -> None:
        if not service_ids:
            return
        t = search_index_state
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(t).values(service_id=bindparam("sid"), version=1, indexed_version=0)
        upsert = upsert.on_conflict_do_update(index_elements=[t.c.service_id], set_={"version": t.c.version + 1})
        self._conn.execute(upsert, [{"sid": sid} for sid in sorted(service_ids)])  # sorted: no lock-order deadlocks
        self.queued_for_indexing |= set(service_ids)

    def indexing_due(self, service_ids: Collection[str] | None = None, limit: int = 500) -> dict[str, int]:
        t = search_index_state
        query = select(t.c.service_id, t.c.version).where(t.c.version > t.c.indexed_version)
        if service_ids is not None:
            query = query.where(t.c.service_id.in_(sorted(service_ids)))
        return {sid: int(v) for sid, v in self._conn.execute(query.order_by(t.c.service_id).limit(limit))}

    def indexing_versions(self) -> dict[str, int]:
        t, service = search_index_state, entity_tables["service"]
        known = select(t.c.service_id).where(t.c.service_id == service.c.id).exists()
        never = select(service.c.id, literal(1), literal(0)).where(~known)
        self._conn.execute(insert(t).from_select(["service_id", "version", "indexed_version"], never))
        return {sid: int(v) for sid, v in self._conn.execute(select(t.c.service_id, t.c.version))}

    def mark_indexed(self, versions: Mapping[str, int]) -> None:
        if not versions:
            return
        t = search_index_state
        self._conn.execute(
            update(t)
            .where(t.c.service_id == bindparam("sid"), t.c.indexed_version < bindparam("v"))
            .values(indexed_version=bindparam("v")),
            [{"sid": sid, "v": v} for sid, v in sorted(versions.items())],
        )

    def add_search_miss(
        self,
        hour: datetime,
        terms: str,
        terms_hash: str,
        filters: Mapping[str, Any],
        region_key: str | None,
        reveal_at: int,
    ) -> None:
        """Keep a search that found nothing; its words only once searched ``reveal_at`` times (then for all)."""
        t = search_misses
        row = {"hour": hour, "terms_hash": terms_hash, "filters": dict(filters), "region_key": region_key}
        self._conn.execute(insert(t).values(**row, terms=terms if not terms else None))
        if terms:
            seen = self._conn.execute(select(func.count()).where(t.c.terms_hash == terms_hash)).scalar_one()
            if seen >= reveal_at:
                self._conn.execute(
                    update(t).where(t.c.terms_hash == terms_hash, t.c.terms.is_(None)).values(terms=terms)
                )

    def authorities(self) -> list[Row]:
        org = entity_tables["organization"]
        query = select(org.c.id, org.c.name, org.c.authority_for).where(AUTHORITIES).order_by(org.c.name)
        return [dict(r) for r in self._conn.execute(query).mappings()]

    def search_misses(self, since: datetime | None) -> list[Row]:
        """Counted by words and place; the words not yet searched often enough as one count (terms None)."""
        t = search_misses
        count = func.count().label("count")
        query = select(t.c.terms, t.c.region_key, count, func.max(t.c.hour).label("last")).where(t.c.terms.is_not(None))
        withheld = select(func.count(), func.max(t.c.hour)).where(t.c.terms.is_(None))
        if since is not None:
            query = query.where(t.c.hour >= since)
            withheld = withheld.where(t.c.hour >= since)
        query = query.group_by(t.c.terms, t.c.region_key).order_by(count.desc(), t.c.terms, t.c.region_key)
        found = [
            {"terms": terms, "region_key": region, "count": int(n), "last": last.isoformat() if last else None}
            for terms, region, n, last in self._conn.execute(query)
        ]
        hidden, last = self._conn.execute(withheld).one()
        if hidden:
            found.append({"terms": None, "region_key": None, "count": int(hidden), "last": last.isoformat()})
        return found

    def hash_search_misses(self, terms_hash: Callable[[str], str], reveal_at: int) -> None:
        """Misses kept before their words were hashed: hashed, and their words dropped where seen too rarely."""
        t = search_misses
        for (terms,) in self._conn.execute(select(t.c.terms).where(t.c.terms_hash.is_(None)).distinct()).all():
            self._conn.execute(update(t).where(t.c.terms == terms).values(terms_hash=terms_hash(terms)))
        rare = select(t.c.terms_hash).group_by(t.c.terms_hash).having(func.count() < reveal_at)
        self._conn.execute(update(t).where(t.c.terms_hash.in_(rare), t.c.terms != "").values(terms=None))

    def maintainable_by(self, maintainer_organization_id: str) -> set[str]:
        query = select(maintainer_grants.c.organization_id).where(
            maintainer_grants.c.maintainer_organization_id == maintainer_organization_id
        )
        return {maintainer_organization_id, *self._conn.execute(query).scalars()}

    def grant(self, organization_id: str, maintainer_organization_id: str) -> None:
        exists = self._conn.execute(
            select(func.count()).where(
                maintainer_grants.c.organization_id == organization_id,
                maintainer_grants.c.maintainer_organization_id == maintainer_organization_id,
            )
        ).scalar_one()
        if not exists:
            self._conn.execute(
                insert(maintainer_grants).values(
                    organization_id=organization_id,
                    maintainer_organization_id=maintainer_organization_id,
                    created_at=_now(),
                )
            )

    def revoke(self, organization_id: str, maintainer_organization_id: str) -> bool:
        result = self._conn.execute(
            sql_delete(maintainer_grants).where(
                maintainer_grants.c.organization_id == organization_id,
                maintainer_grants.c.maintainer_organization_id == maintainer_organization_id,
            )
        )
        return bool(result.rowcount)

    def channels(self, organization_id: str) -> list[Row]:
        t = notification_channels
        query = select(t).where(t.c.organization_id == organization_id).order_by(t.c.lotse_created_at, t.c.id)
        return [_channel(r) for r in self._conn.execute(query).mappings()]

    def all_channels(self) -> list[Row]:
        t = notification_channels
        return [_channel(r) for r in self._conn.execute(select(t).order_by(t.c.id)).mappings()]

    def get_channel(self, ident: str) -> Row | None:
        t = notification_channels
        found = self._conn.execute(select(t).where(t.c.id == ident)).mappings().first()
        return _channel(found) if found else None

    def add_channel(self, row: Mapping[str, Any]) -> None:
        now = _now()
        values = {k: v for k, v in row.items() if k != "revision"}
        self._conn.execute(
            insert(notification_channels).values(
                {**values, REVISION: 1, "lotse_created_at": now, "lotse_updated_at": now}
            )
        )

    def update_channel(self, ident: str, changes: Mapping[str, Any], expected_revision: int) -> bool:
        t = notification_channels
        result = self._conn.execute(
            update(t)
            .where(t.c.id == ident, t.c[REVISION] == expected_revision)
            .values({**changes, REVISION: expected_revision + 1, "lotse_updated_at": _now()})
        )
        return bool(result.rowcount == 1)

    def delete_channel(self, ident: str, expected_revision: int) -> bool:
        t = notification_channels
        result = self._conn.execute(sql_delete(t).where(t.c.id == ident, t.c[REVISION] == expected_revision))
        return bool(result.rowcount == 1)

    def add_user(self, row: Mapping[str, Any]) -> None:
        self._conn.execute(insert(users).values({**row, "created_at": _now()}))

    def users(self) -> list[Row]:
        columns = [c for c in users.c if c.name != "password_hash"]
        return [dict(r) for r in self._conn.execute(select(*columns).order_by(users.c.name)).mappings()]

    def get_user(self, ident: str) -> Row | None:
        columns = [c for c in users.c if c.name != "password_hash"]  # a hash is read only to check a login
        found = self._conn.execute(select(*columns).where(users.c.id == ident)).mappings().first()
        return dict(found) if found else None

    def update_user(self, ident: str, changes: Mapping[str, Any]) -> None:
        self._conn.execute(update(users).where(users.c.id == ident).values(**changes))

    def login_attempts(self, login: str) -> tuple[int, datetime | None]:
        """Failed attempts in a row for ``login``, and until when it is refused."""
        row = self._conn.execute(
            select(login_attempts.c.failures, login_attempts.c.locked_until).where(login_attempts.c.login == login)
        ).first()
        return (int(row[0]), row[1]) if row else (0, None)

    def set_login_attempts(self, login: str, failures: int, locked_until: datetime | None) -> None:
        t = login_attempts
        self._conn.execute(sql_delete(t).where(t.c.login == login))
        if failures or locked_until:
            self._conn.execute(insert(t).values(login=login, failures=failures, locked_until=locked_until))

    def last_change(self) -> int:
        return int(self._conn.execute(select(func.max(outbox.c.seq))).scalar() or 0)

    def provider_reply(self, link_id: str) -> Row | None:
        found = self._conn.execute(select(provider_replies).where(provider_replies.c.link_id == link_id)).mappings()
        row = found.first()
        return dict(row) if row else None

    def add_provider_reply(self, row: Mapping[str, Any]) -> None:
        self._conn.execute(insert(provider_replies).values(**row))

    def provider_replies(
        self, organization_ids: Collection[str] | None, service_id: str | None, open_only: bool
    ) -> list[Row]:
        t = provider_replies
        query = select(t)
        if organization_ids is not None:
            query = query.where(t.c.organization_id.in_(list(organization_ids)))
        if service_id is not None:
            query = query.where(t.c.service_id == service_id)
        if open_only:
            query = query.where(t.c.kind == "correction", t.c.done_at.is_(None))
        return [dict(r) for r in self._conn.execute(query.order_by(t.c.created_at.desc())).mappings()]

    def close_provider_reply(self, link_id: str, done_by: str, done_at: datetime) -> bool:
        t = provider_replies
        done = self._conn.execute(
            update(t).where(t.c.link_id == link_id, t.c.done_at.is_(None)).values(done_at=done_at, done_by=done_by)
        )
        return bool(done.rowcount)

    def password_hash(self, ident: str) -> str | None:
        found = self._conn.execute(select(users.c.password_hash).where(users.c.id == ident)).scalar()
        return str(found) if found else None

    def set_password_hash(self, ident: str, hashed: str | None) -> None:
        self._conn.execute(update(users).where(users.c.id == ident).values(password_hash=hashed))


class SqlDirectoryStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._after_commit: list[Callable[[SqlStoreSession], None]] = []
        self._before_commit: list[Callable[[SqlStoreSession], None]] = []

    def indexing_backlog(self) -> int:
        """Scale mode: how many offers the search index has yet to catch up with (for metrics)."""
        t = search_index_state.c
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(t.version > t.indexed_version)).scalar_one())

    def before_commit(self, hook: Callable[["SqlStoreSession"], None]) -> None:
        """Call ``hook`` with the session at the end of each transaction that touched entries, inside it."""
        self._before_commit.append(hook)

    def after_commit(self, callback: Callable[["SqlStoreSession"], None]) -> None:
        """Call ``callback`` with the session after each transaction committed (to wake the relay, queue jobs)."""
        self._after_commit.append(callback)

    @contextmanager
    def transaction(self, bulk: bool = False) -> Iterator[SqlStoreSession]:
        with self.engine.connect() as conn, _bulk_cache(conn, bulk), conn.begin():
            if bulk and conn.dialect.name == "sqlite":
                # The driver opens SQLite's transaction only at the first write: an import's reads before
                # it (what the directory holds, what refers to what) must see the state its writes build on.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            session = SqlStoreSession(conn)
            yield session
            if session.touched:
                for hook in self._before_commit:
                    hook(session)
            session.flush_events()
        for callback in self._after_commit:
            callback(session)
