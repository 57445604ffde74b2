# ruff: noqa: S608  -- SQL is assembled from constants; every value is a bound parameter
"""PostgreSQL's own search: a directory on PostgreSQL without Elasticsearch searches in PostgreSQL (ADR 15).

The index is written in the change's transaction, as the embedded one is (tables of migration 0017):

- the offer's text as one ``tsvector`` under a GIN index. Its lexemes are the terms Lotse's analyser
  makes (:mod:`~lotse_directory.domain.search.analysis`, the same as Elasticsearch's ``german``
  analyzer), each prefixed with its field (``n/beratung``: "beratung" in the offer's name), at the
  word's position, so a phrase matches with ``<->`` and ``<N>`` (N - 1 stop words between) within one
  field. Synonyms come from the query plan (:mod:`~lotse_directory.domain.search.plan`);
- the index's terms under a trigram GIN index (``pg_trgm``): a typo's candidates are the terms similar
  to the word, those one edit away are kept;
- facet values as arrays under a GIN index; places by latitude and longitude under a B-tree (a radius
  search reads its bounding box, then computes the exact great-circle distance). A GiST index on points
  would serve the box as well, but PostgreSQL estimates every box to hold a fixed 0.1 % of the points, and
  with that estimate it planned common words badly (ADR 15); the B-tree's ranges are estimated from the
  column statistics. Opening hours are rows.

One statement answers a search: the matching offers with their score and distance, once, and from
them the page, the total and every facet's counts. Scores, filters, counts and order are the query
plan's, so the answers are those of the other backends (the conformance suite holds all three).
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from lotse_directory.domain.search.analysis import analyze, one_edit_variants
from lotse_directory.domain.search.documents import SearchDocument
from lotse_directory.domain.search.plan import FIELDS, KINDS, WEIGHTS, PlannedTerm
from lotse_directory.domain.search.query import EARTH_RADIUS_KM, Hit, SearchQuery, SearchResult, bounding_box

_PREFIX = {f: f[0] for f in FIELDS}
"""Each field's lexemes begin with its letter and a slash (the fields' first letters differ)."""
_MAX_POSITION, _MAX_POSITIONS = 16_383, 256
"""PostgreSQL keeps positions up to this and at most this many per lexeme."""
_TRIGRAM_THRESHOLD = 0.25
"""Every term one edit away from a word of five letters or more shares more than a quarter of its
trigrams with it (a transposition in a five-letter word: 3 of 11), so this similarity finds them all."""


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def text_vector(texts: Mapping[str, str], terms: set[str]) -> str:
    """The ``tsvector`` literal of an offer's text fields: field-prefixed terms at their positions (the terms
    are added to ``terms``)."""
    positions: dict[str, list[int]] = {}
    for field in FIELDS:
        for i, term in enumerate(analyze(texts.get(field, "")), start=1):
            if term is not None:
                terms.add(term)
                at = positions.setdefault(f"{_PREFIX[field]}/{term}", [])
                if len(at) < _MAX_POSITIONS:
                    at.append(min(i, _MAX_POSITION))
    return " ".join(f"{_quoted(lexeme)}:{','.join(map(str, at))}" for lexeme, at in positions.items())


def _phrase_query(field: str, phrase: Sequence[str | None]) -> str:
    """``'n/a' <-> 'n/b'``, ``<2>`` across a stop word."""
    out, gap = "", 0
    for term in phrase:
        gap += 1
        if term is None:
            continue
        lexeme = _quoted(f"{_PREFIX[field]}/{term}")
        out = lexeme if not out else f"{out} <{gap}> {lexeme}" if gap > 1 else f"{out} <-> {lexeme}"
        gap = 0
    return f"({out})" if out else ""


def write_documents(conn: Connection, documents: Mapping[str, SearchDocument | None]) -> None:
    """Replace the index entries of these offers (None: remove the offer from the index)."""
    if not documents:
        return
    ids = sorted(documents)  # rows locked in one order: two writers cannot wait on each other
    gone = [sid for sid in ids if documents[sid] is None]
    if gone:
        conn.execute(text("DELETE FROM pg_search_doc WHERE service_id = ANY(:ids)"), {"ids": gone})
    docs = [d for sid in ids if (d := documents[sid]) is not None]
    if not docs:
        return
    # The offers' rows first: a writer of the same offer holds them until it commits, and the statements
    # after this one see what it committed (its places and hours, replaced here in turn).
    terms: set[str] = set()
    _upsert_docs(conn, docs, [text_vector(d.texts, terms) for d in docs])
    kept = {"ids": [d.service_id for d in docs]}
    conn.execute(text("DELETE FROM pg_search_point WHERE service_id = ANY(:ids)"), kept)
    conn.execute(text("DELETE FROM pg_search_hours WHERE service_id = ANY(:ids)"), kept)
    points = [(d.service_id, p.latitude, p.longitude, p.public) for d in docs for p in d.points]
    if points:
        sid, lat, lon, public = map(list, zip(*points, strict=True))
        conn.execute(
            text(
                "INSERT INTO pg_search_point (service_id, lat, lon, public) "
                "SELECT * FROM unnest(CAST(:sid AS text[]), CAST(:lat AS float8[]), CAST(:lon AS float8[]), "
                "CAST(:public AS boolean[]))"
            ),
            {"sid": sid, "lat": lat, "lon": lon, "public": public},
        )
    hours = [(d.service_id, h.start, h.end, h.valid_from, h.valid_to) for d in docs for h in d.hours]
    if hours:
        sid, start, end, valid_from, valid_to = map(list, zip(*hours, strict=True))
        conn.execute(
            text(
                'INSERT INTO pg_search_hours (service_id, start, "end", valid_from, valid_to) '
                "SELECT * FROM unnest(CAST(:sid AS text[]), CAST(:start AS int[]), CAST(:end AS int[]), "
                "CAST(:valid_from AS date[]), CAST(:valid_to AS date[]))"
            ),
            {"sid": sid, "start": start, "end": end, "valid_from": valid_from, "valid_to": valid_to},
        )
    conn.execute(
        text(
            "INSERT INTO pg_search_term (term) SELECT unnest(CAST(:terms AS text[])) ORDER BY 1 ON CONFLICT DO NOTHING"
        ),
        {"terms": sorted(terms)},
    )


def _upsert_docs(conn: Connection, docs: Sequence[SearchDocument], vectors: list[str]) -> None:
    conn.execute(
        text(
            "INSERT INTO pg_search_doc (service_id, organization_id, verified_on, closed_on_holidays, terms, "
            "f_legal_domain, f_topic, f_language, f_target_group, f_gemeinde) "
            "SELECT s, o, v, c, t, l::text[], tp::text[], la::text[], tg::text[], g::text[] "
            "FROM unnest(CAST(:sid AS text[]), CAST(:org AS text[]), CAST(:verified AS date[]), "
            "CAST(:closed AS boolean[]), CAST(:terms AS tsvector[]), CAST(:legal AS text[]), CAST(:topic AS text[]), "
            "CAST(:language AS text[]), CAST(:target AS text[]), CAST(:gemeinde AS text[])) "
            "AS u(s, o, v, c, t, l, tp, la, tg, g) "
            "ON CONFLICT (service_id) DO UPDATE SET organization_id = excluded.organization_id, "
            "verified_on = excluded.verified_on, closed_on_holidays = excluded.closed_on_holidays, "
            "terms = excluded.terms, f_legal_domain = excluded.f_legal_domain, f_topic = excluded.f_topic, "
            "f_language = excluded.f_language, f_target_group = excluded.f_target_group, "
            "f_gemeinde = excluded.f_gemeinde"
        ).bindparams(
            sid=[d.service_id for d in docs],
            org=[d.organization_id for d in docs],
            verified=[d.verified_on for d in docs],
            closed=[d.closed_on_holidays for d in docs],
            terms=vectors,
            # unnest takes arrays of equal dimensions: each offer's values as one array literal
            legal=[_array(d.legal_domains) for d in docs],
            topic=[_array(d.topics) for d in docs],
            language=[_array(d.languages) for d in docs],
            target=[_array(d.target_groups) for d in docs],
            gemeinde=[_array(d.region_keys) for d in docs],
        )
    )


def _array(values: Iterable[str]) -> str:
    """A ``text[]`` literal (values quoted)."""
    inner = ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in sorted(set(values)))
    return "{" + inner + "}"


def clear(conn: Connection) -> None:
    conn.execute(text("TRUNCATE pg_search_doc, pg_search_point, pg_search_hours, pg_search_term"))


def index_is_empty(conn: Connection) -> bool:
    return conn.execute(text("SELECT NOT EXISTS (SELECT FROM pg_search_doc)")).scalar_one() is True


_FACET_COLUMN = {"legal_domain": "f_legal_domain", "topic": "f_topic", "language": "f_language"}
_FACET_COLUMN |= {"target_group": "f_target_group", "gemeinde": "f_gemeinde"}

_HAVERSINE = (
    f"2 * {EARTH_RADIUS_KM} * asin(sqrt(least(1.0, power(sin(radians(p.lat - :lat) / 2), 2) "
    "+ cos(radians(:lat)) * cos(radians(p.lat)) * power(sin(radians(p.lon - :lon) / 2), 2))))"
)


@lru_cache(maxsize=1024)
def _variants(stem: str) -> frozenset[str]:
    return frozenset(one_edit_variants(stem))


class PostgresSearch:
    """Answers searches from PostgreSQL's index (read-only; writes happen in the change's transaction)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def warm(self) -> None:
        self.search(SearchQuery(per_page=1))

    def search(self, query: SearchQuery) -> SearchResult:
        with self.engine.connect() as conn:
            params: dict[str, Any] = {}
            where: list[str] = []
            scores: list[str] = []
            for i, term in enumerate(query.terms):
                levels = self._levels(conn, term)
                for weight, tsquery in levels.items():
                    params[f"q{i}_{weight}"] = tsquery
                params[f"q{i}"] = " | ".join(levels.values())
                where.append(f"d.terms @@ CAST(:q{i} AS tsquery)")
                cases = " ".join(f"WHEN d.terms @@ CAST(:q{i}_{w} AS tsquery) THEN {w}" for w in levels)
                scores.append(f"CASE {cases} ELSE 0 END")
            self._filters(query, where, params)
            places, grouped = self._places(query, params)
            params["fresh"] = query.fresh_from
            score = f"2 * ({' + '.join(scores) or '0'}) + coalesce(d.verified_on >= :fresh, false)::int"
            chosen = {f: v for f, v in query.facets.items() if v}
            for facet, values in chosen.items():
                params[f"f_{facet}"] = list(values)
            check = {f: f"d.{_FACET_COLUMN[f]} && CAST(:f_{f} AS text[])" for f in chosen}
            checks = "".join(f", {c} AS ok_{f}" for f, c in check.items())
            if len(chosen) > 1:  # an offer that fails two of the filters counts in no facet
                either = " OR ".join(f"({' AND '.join(c for g, c in check.items() if g != f)})" for f in chosen)
                where.append(f"({either})")
            facet_columns = "".join(f", d.{_FACET_COLUMN[f]}" for f in query.counted)
            matched = (
                f"SELECT d.service_id, {score} AS score, {f'min({_HAVERSINE})' if places else 'NULL::float8'} AS dist, "
                f"d.verified_on{facet_columns}{checks} FROM pg_search_doc d {places} "
                f"WHERE {' AND '.join(where) or 'true'} {grouped}"
            )

            def ok(but: str | None = None) -> str:
                return " AND ".join(f"ok_{f}" for f in chosen if f != but) or "true"

            order = {
                "distance": "dist NULLS LAST, score DESC",
                "relevance": "score DESC, dist NULLS LAST",
            }[query.sort if query.near is not None else "relevance"]
            params |= {"limit": query.per_page, "offset": query.offset}
            parts = [
                "(SELECT 'hit', service_id, score, dist FROM m WHERE "
                f'{ok()} ORDER BY {order}, service_id COLLATE "C" LIMIT :limit OFFSET :offset)',
                f"SELECT 'total', NULL, count(*), NULL FROM m WHERE {ok()}",
            ]
            for facet in query.counted:
                column = _FACET_COLUMN[facet]
                parts.append(
                    f"SELECT {_quoted(facet)}, v, count(*), NULL FROM m, unnest(m.{column}) v "
                    f"WHERE {ok(facet)} GROUP BY v"
                )
                if facet in query.counted_fresh:
                    parts.append(
                        f"SELECT {_quoted(facet + '__fresh')}, v, count(*), NULL FROM m, unnest(m.{column}) v "
                        f"WHERE {ok(facet)} AND m.verified_on >= :fresh GROUP BY v"
                    )
            statement = f"WITH m AS MATERIALIZED ({matched}) " + " UNION ALL ".join(parts)
            rows = conn.execute(text(statement), params).all()
        total = 0
        hits: list[Hit] = []
        facets: dict[str, dict[str, int]] = {f: {} for f in query.counted}
        facets |= {f"{f}__fresh": {} for f in query.counted_fresh}
        for part, key, n, dist in rows:
            if part == "hit":
                hits.append(Hit(key, int(n), None if dist is None else float(dist)))
            elif part == "total":
                total = int(n)
            else:
                facets[part][key] = int(n)
        return SearchResult(total=total, hits=hits, facets=facets)

    @staticmethod
    def _levels(conn: Connection, term: PlannedTerm) -> dict[int, str]:
        """The term's matches by weight, best first: ``{weight: tsquery}`` (a field's exact word, a synonym,
        a typo, each weighed as the plan says)."""
        alternatives: dict[str, list[Sequence[str | None]]] = {
            "exact": [term.exact.terms],
            "synonym": [p.terms for p in term.synonyms],
            "fuzzy": [],
        }
        stem = term.exact.terms[0] or ""
        if term.fuzzy:
            threshold = {"t": str(_TRIGRAM_THRESHOLD)}
            conn.execute(text("SELECT set_config('pg_trgm.similarity_threshold', :t, true)"), threshold)
            similar = conn.execute(text("SELECT term FROM pg_search_term WHERE term % :stem"), {"stem": stem})
            variants = _variants(stem)
            alternatives["fuzzy"] = [(t,) for (t,) in similar if t in variants]
        by_weight: dict[int, list[str]] = {}
        for kind in KINDS:
            for field in FIELDS:
                found = [q for phrase in alternatives[kind] if (q := _phrase_query(field, phrase))]
                if found:
                    by_weight.setdefault(WEIGHTS[kind][field], []).extend(found)
        return {w: " | ".join(by_weight[w]) for w in sorted(by_weight, reverse=True)}

    @staticmethod
    def _filters(query: SearchQuery, where: list[str], params: dict[str, Any]) -> None:
        if query.organization_ids:
            where.append("d.organization_id = ANY(:orgs)")
            params["orgs"] = list(query.organization_ids)
        if query.region_keys:
            where.append("EXISTS (SELECT FROM unnest(d.f_gemeinde) g WHERE g LIKE ANY(:regions))")
            params["regions"] = [f"{key}%" for key in query.region_keys]
        moment = query.moment
        if moment is not None:
            where.append(
                "EXISTS (SELECT FROM pg_search_hours h WHERE h.service_id = d.service_id AND h.start <= :minute "
                'AND h."end" > :minute AND (h.valid_from IS NULL OR h.valid_from <= :day) '
                "AND (h.valid_to IS NULL OR h.valid_to >= :day))"
            )
            params |= {"minute": moment.minute_of_week, "day": date.fromisoformat(moment.day)}
            if moment.holiday:
                where.append("NOT d.closed_on_holidays")
        if query.verified_from is not None:
            where.append("d.verified_on >= :verified_from")
            params["verified_from"] = query.verified_from

    @staticmethod
    def _places(query: SearchQuery, params: dict[str, Any]) -> tuple[str, str]:
        """The join to the offers' places and the grouping that give each offer its distance to the place
        searched (``dist``, to its nearest place; NULL: none); with a radius, only places in its bounding box
        (the B-tree on latitude and longitude) and only offers with a place within the radius."""
        near = query.near
        if near is None:
            return "", ""
        params |= {"lat": near.latitude, "lon": near.longitude}
        public = " AND p.public" if query.public else ""
        if near.radius_km is None:
            return f"LEFT JOIN pg_search_point p ON p.service_id = d.service_id{public}", "GROUP BY d.service_id"
        south, north, west, east = bounding_box(near.latitude, near.longitude, near.radius_km)
        params |= {"south": south, "north": north, "west": west, "east": east, "radius": near.radius_km}
        return (
            f"JOIN pg_search_point p ON p.service_id = d.service_id{public} "
            "AND p.lat BETWEEN :south AND :north AND p.lon BETWEEN :west AND :east",
            f"GROUP BY d.service_id HAVING min({_HAVERSINE}) <= :radius",
        )
