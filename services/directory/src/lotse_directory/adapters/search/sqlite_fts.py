# ruff: noqa: S608  -- SQL is assembled from constants; every value is a bound parameter
"""The embedded search backend: SQLite FTS5 in the directory database, written in the change's transaction.

Text is analysed in Python (same terms as Elasticsearch's ``german`` analyzer) and stored as terms;
the query plan's scoring (:mod:`lotse_directory.domain.search.plan`) is computed in SQL: one FTS5
sub-query per distinct weight of each term, the first that matches gives the term's score.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from lotse_directory.domain.search.analysis import STOP, index_text, one_edit_variants
from lotse_directory.domain.search.documents import SearchDocument
from lotse_directory.domain.search.plan import FIELDS, KINDS, WEIGHTS, PlannedTerm
from lotse_directory.domain.search.query import EARTH_RADIUS_KM, FACETS, Hit, SearchQuery, SearchResult, bounding_box


def write_documents(conn: Connection, documents: Mapping[str, SearchDocument | None]) -> None:
    """Replace the index entries of these offers (None: remove the offer from the index)."""
    if not documents:
        return
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
    # one writer at a time (SQLite's write lock is held): the next rowids are ours
    last = int(conn.execute(text("SELECT coalesce(max(rowid), 0) FROM search_doc")).scalar_one())
    rowids = {d.service_id: last + i for i, d in enumerate(docs, start=1)}
    _insert(
        conn,
        "INSERT INTO search_doc (rowid, service_id, organization_id, verified_on, closed_on_holidays, "
        + ", ".join(f"f_{f}" for f in FACETS)
        + ") VALUES (:rowid, :sid, :org, :verified, :closed, "
        + ", ".join(f":f_{f}" for f in FACETS)
        + ")",
        [
            {
                "rowid": rowids[d.service_id],
                "sid": d.service_id,
                "org": d.organization_id,
                "verified": d.verified_on.isoformat() if d.verified_on else None,
                "closed": int(d.closed_on_holidays),
                **{f"f_{f}": _joined(values) for f, values in d.facet_values().items()},
            }
            for d in docs
        ],
    )
    conn.execute(
        text(
            "INSERT INTO search_text (rowid, name, organization, topics, roles, description) "
            "VALUES (:rowid, :name, :organization, :topics, :roles, :description)"
        ),
        [{"rowid": rowids[d.service_id], **{f: index_text(d.texts.get(f, "")) for f in FIELDS}} for d in docs],
    )
    points = [
        {"doc": rowids[d.service_id], "lat": p.latitude, "lon": p.longitude, "public": int(p.public)}
        for d in docs
        for p in d.points
    ]
    _insert(conn, "INSERT INTO search_point (doc, lat, lon, public) VALUES (:doc, :lat, :lon, :public)", points)
    regions = [{"doc": rowids[d.service_id], "ags": ags} for d in docs for ags in set(d.region_keys)]
    _insert(conn, "INSERT INTO search_region (doc, ags) VALUES (:doc, :ags)", regions)
    hours = [
        {"doc": rowids[d.service_id], "start": h.start, "end": h.end, "from": h.valid_from, "to": h.valid_to}
        for d in docs
        for h in d.hours
    ]
    _insert(
        conn,
        'INSERT INTO search_hours (doc, start, "end", valid_from, valid_to) VALUES (:doc, :start, :end, :from, :to)',
        hours,
    )


def clear(conn: Connection) -> None:
    for table in ("search_point", "search_region", "search_hours", "search_text", "search_doc"):
        conn.execute(text(f"DELETE FROM {table}"))


SEP = "\x1f"
"""Delimits an offer's values of one facet in its ``f_<facet>`` column: ``SEP a SEP b SEP``."""


def _joined(values: Iterable[str]) -> str:
    return SEP + "".join(f"{v.replace(SEP, ' ')}{SEP}" for v in sorted(set(values)))


def _insert(conn: Connection, sql: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(text(sql), rows)


def _json(values: Iterable[Any]) -> str:
    return json.dumps(list(values))


def _quote(phrase: Iterable[str | None]) -> str:
    return '"' + " ".join(t if t is not None else STOP for t in phrase) + '"'


_FACET_COLUMNS = ", ".join(f"f_{f}" for f in FACETS)


class _Sql:
    """Collects SQL fragments and their bound parameters."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"


class SqliteSearch:
    """Answers searches from the embedded index (read-only; writes happen in the change's transaction)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- text -------------------------------------------------------------------------
    def _alternatives(self, conn: Connection, term: PlannedTerm) -> dict[str, list[str]]:
        """FTS5 phrases per kind of match."""
        out = {
            "exact": [_quote(term.exact.terms)],
            "synonym": [_quote(p.terms) for p in term.synonyms],
            "fuzzy": [],
        }
        if term.fuzzy:
            stem = term.exact.terms[0] or ""
            variants = sorted(one_edit_variants(stem))
            found = conn.execute(
                text("SELECT term FROM search_vocab WHERE term IN (SELECT value FROM json_each(:v))"),
                {"v": _json(variants)},
            ).scalars()
            out["fuzzy"] = [_quote([t]) for t in sorted(found)]
        return out

    def _text_parts(self, conn: Connection, terms: list[PlannedTerm], sql: _Sql) -> tuple[str, str]:
        """(FTS5 expression every document must match, SQL expression of its text score)."""
        must, scores = [], []
        for term in terms:
            alternatives = self._alternatives(conn, term)
            every = [a for kind in KINDS for a in alternatives[kind]]
            must.append("(" + " OR ".join(every) + ")")
            by_weight: dict[int, list[str]] = {}
            for kind in KINDS:
                if not alternatives[kind]:
                    continue
                for field in FIELDS:
                    by_weight.setdefault(WEIGHTS[kind][field], []).append(
                        "{" + field + "} : (" + " OR ".join(alternatives[kind]) + ")"
                    )
            cases = [
                f"WHEN d.rowid IN (SELECT rowid FROM search_text WHERE search_text MATCH {sql.bind(' OR '.join(e))}) "
                f"THEN {weight}"
                for weight, e in sorted(by_weight.items(), reverse=True)
            ]
            scores.append("(CASE " + " ".join(cases) + " ELSE 0 END)")
        return " AND ".join(must), " + ".join(scores) or "0"

    # -- search -----------------------------------------------------------------------
    def search(self, query: SearchQuery) -> SearchResult:
        sql = _Sql()
        with self.engine.connect() as conn:
            terms = query.terms
            where: list[str] = []
            score = "0"
            if terms:
                match, score = self._text_parts(conn, terms, sql)
                where.append(f"d.rowid IN (SELECT rowid FROM search_text WHERE search_text MATCH {sql.bind(match)})")
            where += self._filters(query, sql)
            if not terms and query.near is not None and query.near.radius_km is not None:
                # without words the places lead: only offers with a place in the box get their distance
                # computed (with words, the matching offers lead and each distance is one index look-up)
                where.append(self._within_box(query, sql))
            distance = "NULL"
            if query.near is not None:
                distance = self._distance(query, sql)
            fresh = f"(CASE WHEN d.verified_on >= {sql.bind(query.fresh_from.isoformat())} THEN 1 ELSE 0 END)"
            base = (
                f"SELECT d.rowid AS doc, d.service_id AS sid, 2 * ({score}) + {fresh} AS score, {distance} AS dist, "
                f"{_FACET_COLUMNS} FROM search_doc d WHERE {' AND '.join(where) or '1'}"
            )
            if query.near is not None and query.near.radius_km is not None:
                base = f"SELECT * FROM ({base}) WHERE dist <= {sql.bind(query.near.radius_km)}"
            conn.execute(text("DROP TABLE IF EXISTS temp.search_base"))
            conn.execute(
                text(
                    "CREATE TEMP TABLE search_base (doc INTEGER PRIMARY KEY, sid TEXT NOT NULL, "
                    f"score INTEGER NOT NULL, dist REAL, {', '.join(f'f_{f} TEXT' for f in FACETS)})"
                )
            )
            conn.execute(
                text(f"INSERT INTO temp.search_base (doc, sid, score, dist, {_FACET_COLUMNS}) {base}"), sql.params
            )
            try:
                return self._collect(conn, query)
            finally:
                conn.execute(text("DROP TABLE IF EXISTS temp.search_base"))
                conn.rollback()

    def _collect(self, conn: Connection, query: SearchQuery) -> SearchResult:
        sql = _Sql()
        facet_filter = {f: self._facet_condition(f, values, sql) for f, values in query.facets.items() if values}
        all_facets = " AND ".join(facet_filter.values()) or "1"
        if query.sort == "distance" and query.near is not None:
            order = "dist IS NULL, dist, score DESC, sid"
        elif query.near is not None:
            order = "score DESC, dist IS NULL, dist, sid"
        else:
            order = "score DESC, sid"
        total = conn.execute(
            text(f"SELECT count(*) FROM temp.search_base b WHERE {all_facets}"),
            sql.params,
        ).scalar_one()
        rows = conn.execute(
            text(
                f"SELECT sid, score, dist FROM temp.search_base b WHERE {all_facets} "
                f"ORDER BY {order} LIMIT {sql.bind(query.per_page)} OFFSET {sql.bind(query.offset)}"
            ),
            sql.params,
        ).all()
        counts: dict[str, dict[str, int]] = {f: {} for f in FACETS}
        for facet in FACETS:
            # each facet under the other facets' filters: offers grouped by their values of it
            others = " AND ".join(c for f, c in facet_filter.items() if f != facet) or "1"
            found = counts[facet]
            for joined, count in conn.execute(
                text(f"SELECT b.f_{facet}, count(*) FROM temp.search_base b WHERE {others} GROUP BY b.f_{facet}"),
                sql.params,
            ):
                for value in str(joined).split(SEP)[1:-1]:
                    found[value] = found.get(value, 0) + int(count)
        hits = [Hit(str(sid), int(s), float(d) if d is not None else None) for sid, s, d in rows]
        return SearchResult(total=int(total), hits=hits, facets=counts)

    @staticmethod
    def _facet_condition(facet: str, values: tuple[str, ...], sql: _Sql) -> str:
        anyof = " OR ".join(f"instr(b.f_{facet}, {sql.bind(SEP + v + SEP)}) > 0" for v in sorted(set(values)))
        return f"({anyof})"

    @staticmethod
    def _filters(query: SearchQuery, sql: _Sql) -> list[str]:
        out = []
        if query.organization_ids:
            out.append(f"d.organization_id IN (SELECT value FROM json_each({sql.bind(_json(query.organization_ids))}))")
        if query.region_keys:
            ranges = " OR ".join(
                f"(ags >= {sql.bind(key)} AND ags < {sql.bind(key + ':')})" for key in query.region_keys
            )
            out.append(f"d.rowid IN (SELECT doc FROM search_region WHERE {ranges})")
        moment = query.moment
        if moment is not None:
            minute, day = sql.bind(moment.minute_of_week), sql.bind(moment.day)
            out.append(
                f'd.rowid IN (SELECT doc FROM search_hours WHERE start <= {minute} AND "end" > {minute} '
                f"AND (valid_from IS NULL OR valid_from <= {day}) AND (valid_to IS NULL OR valid_to >= {day}))"
            )
            if moment.holiday:
                out.append("d.closed_on_holidays = 0")
        if query.verified_from is not None:
            out.append(f"d.verified_on >= {sql.bind(query.verified_from.isoformat())}")
        return out

    @staticmethod
    def _within_box(query: SearchQuery, sql: _Sql) -> str:
        """Only offers with a place in the box around the radius (the index on coordinates finds them)."""
        assert query.near is not None and query.near.radius_km is not None
        south, north, west, east = (
            sql.bind(v) for v in bounding_box(query.near.latitude, query.near.longitude, query.near.radius_km)
        )
        public = " AND public = 1" if query.public else ""
        return (
            f"d.rowid IN (SELECT doc FROM search_point WHERE lat BETWEEN {south} AND {north} "
            f"AND lon BETWEEN {west} AND {east}{public})"
        )

    @staticmethod
    def _distance(query: SearchQuery, sql: _Sql) -> str:
        assert query.near is not None
        lat, lon = sql.bind(query.near.latitude), sql.bind(query.near.longitude)
        public = " AND p.public = 1" if query.public else ""
        haversine = (
            f"2 * {EARTH_RADIUS_KM} * asin(sqrt(pow(sin(radians(p.lat - {lat}) / 2), 2) + "
            f"cos(radians({lat})) * cos(radians(p.lat)) * pow(sin(radians(p.lon - {lon}) / 2), 2)))"
        )
        return f"(SELECT min({haversine}) FROM search_point p WHERE p.doc = d.rowid{public})"
