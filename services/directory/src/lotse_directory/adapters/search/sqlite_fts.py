# ruff: noqa: S608  -- SQL is assembled from constants; every value is a bound parameter
"""The embedded search backend: SQLite FTS5 in the directory database, written in the change's transaction.

Text is analysed in Python (same terms as Elasticsearch's ``german`` analyzer) and stored as terms.
The tables are the index's record; a search process answers from their columns held in memory
(:mod:`.columns`), kept at the index's version (``search_state``), and asks FTS5 for phrases.
"""

import gc
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from lotse_directory.adapters.search.columns import Columns, Int64s, Rows, Segment
from lotse_directory.domain.search.analysis import STOP, index_text
from lotse_directory.domain.search.documents import SearchDocument
from lotse_directory.domain.search.plan import FIELDS
from lotse_directory.domain.search.query import FACETS, SearchQuery, SearchResult


def write_documents(conn: Connection, documents: Mapping[str, SearchDocument | None]) -> None:
    """Replace the index entries of these offers (None: remove the offer from the index)."""
    if not documents:
        return
    conn.execute(text("UPDATE search_state SET version = version + 1"))
    ids = list(documents)
    found = conn.execute(
        text("SELECT rowid, service_id FROM search_doc WHERE service_id IN (SELECT value FROM json_each(:ids))"),
        {"ids": _json(ids)},
    ).all()
    old = [int(r[0]) for r in found]
    if old:
        params = {"docs": _json(old)}
        for table in ("search_point", "search_region", "search_hours"):
            conn.execute(text(f"DELETE FROM {table} WHERE doc IN (SELECT value FROM json_each(:docs))"), params)
        conn.execute(text("DELETE FROM search_text WHERE rowid IN (SELECT value FROM json_each(:docs))"), params)
        conn.execute(text("DELETE FROM search_doc WHERE rowid IN (SELECT value FROM json_each(:docs))"), params)
    docs = [d for d in documents.values() if d is not None]
    if not docs:
        return
    # one writer at a time (SQLite's write lock is held): the next document numbers are ours
    first = int(conn.execute(text("SELECT next_doc FROM search_state")).scalar_one())
    rowids = {d.service_id: first + i for i, d in enumerate(docs)}
    conn.execute(text("UPDATE search_state SET next_doc = :next"), {"next": first + len(docs)})
    _insert(
        conn,
        "INSERT INTO search_doc (rowid, service_id, organization_id, verified_on, closed_on_holidays, "
        f"{_FACET_COLUMNS})",
        [
            (
                rowids[d.service_id],
                d.service_id,
                d.organization_id,
                d.verified_on.isoformat() if d.verified_on else None,
                int(d.closed_on_holidays),
                *(_joined(d.facet_values()[f]) for f in FACETS),
            )
            for d in docs
        ],
    )
    _insert(
        conn,
        f"INSERT INTO search_text (rowid, {', '.join(FIELDS)})",
        [(rowids[d.service_id], *(index_text(d.texts.get(f, "")) for f in FIELDS)) for d in docs],
    )
    points = [(rowids[d.service_id], p.latitude, p.longitude, int(p.public)) for d in docs for p in d.points]
    _insert(conn, "INSERT INTO search_point (doc, lat, lon, public)", points)
    regions = [(rowids[d.service_id], ags) for d in docs for ags in set(d.region_keys)]
    _insert(conn, "INSERT INTO search_region (doc, ags)", regions)
    hours = [(rowids[d.service_id], h.start, h.end, h.valid_from, h.valid_to) for d in docs for h in d.hours]
    _insert(conn, 'INSERT INTO search_hours (doc, start, "end", valid_from, valid_to)', hours)


def clear(conn: Connection) -> None:
    for table in ("search_point", "search_region", "search_hours", "search_text", "search_doc"):
        conn.execute(text(f"DELETE FROM {table}"))
    conn.execute(text("UPDATE search_state SET generation = generation + 1, version = version + 1"))


SEP = "\x1f"
"""Delimits an offer's values of one facet in its ``f_<facet>`` column: ``SEP a SEP b SEP``."""


def _joined(values: Iterable[str]) -> str:
    return SEP + "".join(f"{v.replace(SEP, ' ')}{SEP}" for v in sorted(set(values)))


def _insert(conn: Connection, into: str, rows: list[tuple[Any, ...]]) -> None:
    """``INSERT INTO table (columns)`` these rows, straight to the driver (an import writes 100,000s)."""
    if rows:
        conn.exec_driver_sql(f"{into} VALUES ({', '.join('?' * len(rows[0]))})", rows)


def _json(values: Iterable[Any]) -> str:
    return json.dumps(list(values))


def _quote(phrase: Iterable[str | None]) -> str:
    return '"' + " ".join(t if t is not None else STOP for t in phrase) + '"'


_FACET_COLUMNS = ", ".join(f"f_{f}" for f in FACETS)


_DELTA_SHARE, _DELTA_MIN = 10, 1_000
"""The documents written since the last full load live in a second segment until they are more than
a tenth of the first (or a thousand): then the process loads the whole index again."""


def _rows(conn: sqlite3.Connection, after: int) -> Rows:
    """Every row of the index's documents numbered above ``after``, in document order, as read."""
    return Rows(
        docs=(
            (r[0], r[1], r[2], r[3], bool(r[4]), [v.split(SEP)[1:-1] for v in r[5:]])
            for r in conn.execute(
                f"SELECT rowid, service_id, organization_id, verified_on, closed_on_holidays, {_FACET_COLUMNS} "
                "FROM search_doc WHERE rowid > ? ORDER BY rowid",
                (after,),
            )
        ),
        texts=conn.execute(
            f"SELECT rowid, {', '.join(FIELDS)} FROM search_text WHERE rowid > ? ORDER BY rowid", (after,)
        ),
        points=conn.execute("SELECT doc, lat, lon, public FROM search_point WHERE doc > ? ORDER BY doc", (after,)),
        regions=conn.execute("SELECT doc, ags FROM search_region WHERE doc > ?", (after,)),
        hours=conn.execute('SELECT doc, start, "end", valid_from, valid_to FROM search_hours WHERE doc > ?', (after,)),
    )


class SqliteSearch:
    """Answers searches from the embedded index (read-only; writes happen in the change's transaction).

    The index's columns are held in memory (:class:`~.columns.Columns`) and brought up to the
    index's version at the start of each search, in the same read transaction that then looks up
    phrases in FTS5, so a search sees every committed change and nothing half-written.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._columns: Columns | None = None
        self._lock = threading.Lock()
        self._phrases: dict[tuple[int, int, tuple[tuple[str | None, ...], ...]], Int64s] = {}

    def search(self, query: SearchQuery) -> SearchResult:
        raw = self.engine.raw_connection()
        try:
            conn: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
            conn.execute("BEGIN")
            try:
                generation, version = conn.execute("SELECT generation, version FROM search_state").fetchone()
                columns = self._columns_at(conn, (int(generation), int(version)))
                return columns.search(query, partial(self._phrase_rowids, conn, columns.version[1]))
            finally:
                conn.execute("ROLLBACK")
        finally:
            raw.close()

    def warm(self) -> None:
        """Load the index's columns now rather than at the first search."""
        self.search(SearchQuery(per_page=1))

    def _columns_at(self, conn: sqlite3.Connection, version: tuple[int, int]) -> Columns:
        columns = self._columns
        if columns is not None and columns.version == version:
            return columns
        with self._lock:
            columns = self._columns
            if columns is not None and columns.version == version:
                return columns
            collecting = gc.isenabled()
            gc.disable()  # a load makes millions of short-lived objects; collections would only rescan them
            try:
                loaded = self._load(conn, version, columns)
            finally:
                if collecting:
                    gc.enable()
            if columns is None or version[1] > columns.version[1]:
                self._columns = loaded
                self._phrases.clear()
            return loaded

    @staticmethod
    def _load(conn: sqlite3.Connection, version: tuple[int, int], old: Columns | None) -> Columns:
        """The index at ``version``: the old snapshot's first segment, minus what was removed since,
        and the documents written since; all of it again after a clear or when that is not small."""
        if old is not None and old.version[0] == version[0]:
            base = old.segments[0]
            top = int(base.rowid[-1]) if base.n else 0
            (added,) = conn.execute("SELECT count(*) FROM search_doc WHERE rowid > ?", (top,)).fetchone()
            if added <= max(_DELTA_MIN, base.n // _DELTA_SHARE):
                kept = conn.execute("SELECT rowid FROM search_doc WHERE rowid <= ?", (top,))
                alive = np.zeros(base.n, np.bool_)
                alive[base.local(np.fromiter((r[0] for r in kept), np.int64))] = True
                if alive.sum() * 2 >= base.n:
                    since = Segment(_rows(conn, top))
                    return Columns([base, since], [alive, np.ones(since.n, np.bool_)], version)
        segment = Segment(_rows(conn, 0))
        return Columns([segment], [np.ones(segment.n, np.bool_)], version)

    def _phrase_rowids(
        self, conn: sqlite3.Connection, version: int, field: int, phrases: tuple[tuple[str | None, ...], ...]
    ) -> Int64s:
        key = (version, field, phrases)
        found = self._phrases.get(key)
        if found is None:
            match = "{" + FIELDS[field] + "} : (" + " OR ".join(_quote(p) for p in phrases) + ")"
            rows = conn.execute("SELECT rowid FROM search_text WHERE search_text MATCH ?", (match,))
            found = np.fromiter((r[0] for r in rows), np.int64)
            if len(self._phrases) > 1_000:
                self._phrases.clear()
            self._phrases[key] = found
        return found
