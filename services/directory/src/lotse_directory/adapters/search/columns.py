"""The embedded index as columns in memory: a search is computed over numpy arrays, not in SQL.

The SQLite tables of the embedded index (see :mod:`.sqlite_fts`) are written in the change's
transaction and stay its record. A search process keeps a read-only copy of them as arrays: a
:class:`Segment` per batch of documents (text postings per term and field, facet values, places,
Gemeinde keys, opening hours) and a :class:`Columns` snapshot over the segments with the documents
removed since masked out. A search then costs a few vectorised passes over the matching offers, so
a word that a third of 100,000 offers contain is as cheap to score, count and sort as a rare one.

Scoring, filters, facet counts and order are exactly those of the query plan
(:mod:`lotse_directory.domain.search.plan`) and of the Elasticsearch backend; the conformance suite
holds all three to the same answers.
"""

import bisect
import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from lotse_directory.domain.search.analysis import one_edit_variants
from lotse_directory.domain.search.plan import FIELDS, KINDS, WEIGHTS, PlannedTerm
from lotse_directory.domain.search.query import EARTH_RADIUS_KM, FACETS, Hit, SearchQuery, SearchResult, bounding_box

Ints = npt.NDArray[np.int32]
Int64s = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

NO_DATE = -1
"""Day number of a missing date (never on or after any real day)."""

_NF = len(FIELDS)
_MAX_SCORE = 2 * max(WEIGHTS["exact"].values()) * 64 + 1
_FAR = 5e4
"""Stands for "no distance" in a sort key: farther than any two points on earth (km)."""


@dataclass(frozen=True, slots=True)
class DocRow:
    rowid: int
    service_id: str
    organization_id: str
    verified_on: str | None
    closed_on_holidays: bool
    facets: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Rows:
    """One batch of the index's rows, each list ordered by document number (rowid)."""

    docs: list[DocRow]
    texts: list[tuple[int, str, str, str, str, str]]
    """(rowid, analysed text of each of :data:`FIELDS`)."""
    points: list[tuple[int, float, float, bool]]
    regions: list[tuple[int, str]]
    hours: list[tuple[int, int, int, str | None, str | None]]


def _day(value: str | None) -> int:
    try:
        return date.fromisoformat(value).toordinal() if value else NO_DATE
    except ValueError:
        return NO_DATE


class _Values:
    """A multi-valued facet: (document, value) pairs grouped by value."""

    def __init__(self, n: int, per_doc: Sequence[Sequence[str]]) -> None:
        self.names = sorted({v for values in per_doc for v in values})
        self.code = {name: i for i, name in enumerate(self.names)}
        docs, vals = array("i"), array("i")
        for i, values in enumerate(per_doc):
            for v in values:
                docs.append(i)
                vals.append(self.code[v])
        doc, val = np.frombuffer(docs, np.int32), np.frombuffer(vals, np.int32)
        order = np.argsort(val, kind="stable")
        self.doc: Ints = doc[order]
        self.val: Ints = val[order]
        self.start = np.searchsorted(self.val, np.arange(len(self.names) + 1))
        self.n = n

    def having(self, values: Iterable[str]) -> Mask:
        mask = np.zeros(self.n, np.bool_)
        for v in values:
            c = self.code.get(v)
            if c is not None:
                mask[self.doc[self.start[c] : self.start[c + 1]]] = True
        return mask

    def count(self, among: Mask) -> dict[str, int]:
        counts = np.bincount(self.val[among[self.doc]], minlength=len(self.names))
        return {self.names[int(c)]: int(counts[c]) for c in np.flatnonzero(counts)}


class Segment:
    """A batch of documents as arrays; position ``i`` is the i-th document by rowid."""

    def __init__(self, rows: Rows) -> None:
        docs = rows.docs
        self.n = n = len(docs)
        self.rowid: Int64s = np.array([d.rowid for d in docs], np.int64)
        self.service_ids = [d.service_id for d in docs]
        orgs: dict[str, int] = {}
        self.org: Ints = np.array([orgs.setdefault(d.organization_id, len(orgs)) for d in docs], np.int32)
        self.org_code = orgs
        self.verified: Ints = np.array([_day(d.verified_on) for d in docs], np.int32)
        self.closed: Mask = np.array([d.closed_on_holidays for d in docs], np.bool_)
        self.facets = {f: _Values(n, [d.facets.get(f, []) for d in docs]) for f in FACETS}
        self._texts(rows.texts)
        p = rows.points
        self.p_doc: Ints = self._positions([r[0] for r in p])
        self.p_lat: Floats = np.array([r[1] for r in p], np.float64)
        self.p_lon: Floats = np.array([r[2] for r in p], np.float64)
        self.p_cos: Floats = np.cos(np.radians(self.p_lat))
        self.p_public: Mask = np.array([r[3] for r in p], np.bool_)
        regions = sorted((ags, doc) for doc, ags in rows.regions)
        self.r_keys = [ags for ags, _ in regions]
        self.r_doc: Ints = self._positions([doc for _, doc in regions])
        h = rows.hours
        self.h_doc: Ints = self._positions([r[0] for r in h])
        self.h_start: Ints = np.array([r[1] for r in h], np.int32)
        self.h_end: Ints = np.array([r[2] for r in h], np.int32)
        self.h_from = np.array([r[3] or "" for r in h], "U10")
        self.h_to = np.array([r[4] or "\U0010ffff" for r in h], "U10")

    def _positions(self, rowids: list[int]) -> Ints:
        return np.searchsorted(self.rowid, np.array(rowids, np.int64)).astype(np.int32)

    def _texts(self, texts: list[tuple[int, str, str, str, str, str]]) -> None:
        """Postings: for each term and field, the documents whose field holds the term."""
        self.vocab: dict[str, int] = {}
        vocab = self.vocab
        keys, docs = array("q"), array("i")
        for i, row in enumerate(texts):
            for f, field in enumerate(row[1:]):
                for t in set(field.split()):
                    tid = vocab.get(t)
                    if tid is None:
                        tid = vocab[t] = len(vocab)
                    keys.append(tid * _NF + f)
                    docs.append(i)
        key = np.frombuffer(keys, np.int64)
        order = np.argsort(key, kind="stable")
        self.postings: Ints = np.frombuffer(docs, np.int32)[order]
        self.p_start = np.searchsorted(key[order], np.arange(len(vocab) * _NF + 1))

    def docs_with(self, term: str, field: int) -> Ints | None:
        tid = self.vocab.get(term)
        if tid is None:
            return None
        k = tid * _NF + field
        return self.postings[self.p_start[k] : self.p_start[k + 1]]

    def local(self, rowids: Int64s) -> Ints:
        """Positions of those of ``rowids`` that are documents of this segment."""
        at = np.searchsorted(self.rowid, rowids)
        inside = at < self.n
        at = at[inside]
        found: Ints = at[self.rowid[at] == rowids[inside]].astype(np.int32)
        return found


PhraseLookup = Callable[[int, tuple[tuple[str | None, ...], ...]], Int64s]
"""Rowids of the documents whose field (index into :data:`FIELDS`) holds one of the phrases."""


@dataclass(slots=True)
class _Candidates:
    segment: int
    at: Ints
    score: Ints
    dist: Floats


class Columns:
    """A snapshot of the embedded index at one version: segments, and which of their documents live."""

    def __init__(self, segments: list[Segment], alive: list[Mask], version: tuple[int, int]) -> None:
        self.segments = segments
        self.alive = alive
        self.version = version
        """(generation, version) of the index state this snapshot holds."""
        self.size = sum(int(a.sum()) for a in alive)
        everyone = np.array([s for seg in segments for s in seg.service_ids], "U")
        ranks = np.empty(len(everyone), np.int64)
        ranks[np.argsort(everyone, kind="stable")] = np.arange(len(everyone))
        self.rank: list[Int64s] = []
        start = 0
        for seg in segments:
            self.rank.append(ranks[start : start + seg.n])
            start += seg.n
        self.max_rowid = max((int(seg.rowid[-1]) for seg in segments if seg.n), default=0)

    # -- text -------------------------------------------------------------------------
    def _term_weights(self, term: PlannedTerm, phrases: PhraseLookup) -> list[list[tuple[int, Ints]]]:
        """Per segment: (weight, documents) of every way the term matches, lowest weight first."""
        alternatives: dict[str, list[tuple[str | None, ...]]] = {
            "exact": [term.exact.terms],
            "synonym": [p.terms for p in term.synonyms],
            "fuzzy": [],
        }
        if term.fuzzy:
            stem = term.exact.terms[0] or ""
            alternatives["fuzzy"] = [
                (v,) for v in sorted(one_edit_variants(stem)) if any(v in seg.vocab for seg in self.segments)
            ]
        out: list[list[tuple[int, Ints]]] = [[] for _ in self.segments]
        for kind in KINDS:
            words = [a[0] for a in alternatives[kind] if len(a) == 1 and a[0] is not None]
            multi = tuple(a for a in alternatives[kind] if len(a) > 1)
            for f, field in enumerate(FIELDS):
                weight = WEIGHTS[kind][field]
                found = phrases(f, multi) if multi else None
                for s, seg in enumerate(self.segments):
                    for word in words:
                        docs = seg.docs_with(word, f)
                        if docs is not None and len(docs):
                            out[s].append((weight, docs))
                    if found is not None and len(found):
                        out[s].append((weight, seg.local(found)))
        for weights in out:
            weights.sort(key=lambda wd: wd[0])
        return out

    # -- search -----------------------------------------------------------------------
    def search(self, query: SearchQuery, phrases: PhraseLookup) -> SearchResult:
        terms = [self._term_weights(t, phrases) for t in query.terms]
        found: list[_Candidates] = []
        counts: dict[str, dict[str, int]] = {f: {} for f in FACETS}
        for s, seg in enumerate(self.segments):
            ok = self.alive[s].copy()
            score = np.zeros(seg.n, np.int32)
            for weights in terms:
                best = np.zeros(seg.n, np.int32)
                for weight, docs in weights[s]:  # lowest first: the best weight is written last
                    best[docs] = weight
                ok &= best > 0
                score += best
            self._filter(seg, query, ok)
            dist = np.full(seg.n, np.nan)
            if query.near is not None:
                dist = self._distances(seg, query, ok)
                if query.near.radius_km is not None:
                    ok &= dist <= query.near.radius_km  # NaN (no place): never within
            score = 2 * score + (seg.verified >= query.fresh_from.toordinal())
            chosen = {f: seg.facets[f].having(v) for f, v in query.facets.items() if v}
            for facet in FACETS:
                among = ok.copy()
                for f, mask in chosen.items():
                    if f != facet:
                        among &= mask
                for value, count in seg.facets[facet].count(among).items():
                    counts[facet][value] = counts[facet].get(value, 0) + count
            for mask in chosen.values():
                ok &= mask
            at = np.flatnonzero(ok).astype(np.int32)
            found.append(_Candidates(s, at, score[at], dist[at]))
        return self._page(query, found, counts)

    @staticmethod
    def _filter(seg: Segment, query: SearchQuery, ok: Mask) -> None:
        if query.organization_ids:
            codes = [seg.org_code[o] for o in query.organization_ids if o in seg.org_code]
            ok &= np.isin(seg.org, np.array(codes, np.int32))
        if query.region_keys:
            inside = np.zeros(seg.n, np.bool_)
            for key in query.region_keys:
                lo, hi = bisect.bisect_left(seg.r_keys, key), bisect.bisect_left(seg.r_keys, key + ":")
                inside[seg.r_doc[lo:hi]] = True
            ok &= inside
        moment = query.moment
        if moment is not None:
            m = moment.minute_of_week
            now = (seg.h_start <= m) & (seg.h_end > m) & (seg.h_from <= moment.day) & (seg.h_to >= moment.day)
            open_ = np.zeros(seg.n, np.bool_)
            open_[seg.h_doc[now]] = True
            ok &= open_
            if moment.holiday:
                ok &= ~seg.closed
        if query.verified_from is not None:
            ok &= seg.verified >= query.verified_from.toordinal()

    @staticmethod
    def _distances(seg: Segment, query: SearchQuery, ok: Mask) -> Floats:
        """Great-circle distance to each offer's nearest place (NaN: no place, or not one of ``ok``)."""
        assert query.near is not None
        lat, lon, radius = query.near.latitude, query.near.longitude, query.near.radius_km
        use = ok[seg.p_doc]
        if query.public:
            use &= seg.p_public
        if radius is not None:
            south, north, west, east = bounding_box(lat, lon, radius)
            use &= (seg.p_lat >= south) & (seg.p_lat <= north) & (seg.p_lon >= west) & (seg.p_lon <= east)
        p = np.flatnonzero(use)
        plat, plon = seg.p_lat[p], seg.p_lon[p]
        a = np.sin(np.radians(plat - lat) / 2) ** 2 + math.cos(math.radians(lat)) * seg.p_cos[p] * (
            np.sin(np.radians(plon - lon) / 2) ** 2
        )
        nearest = np.full(seg.n, np.inf)
        np.minimum.at(nearest, seg.p_doc[p], a)
        with np.errstate(invalid="ignore"):
            dist: Floats = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(nearest, 1.0)))
        dist[np.isinf(nearest)] = np.nan
        return dist

    def _page(self, query: SearchQuery, found: list[_Candidates], counts: dict[str, dict[str, int]]) -> SearchResult:
        seg_of = np.concatenate([np.full(len(c.at), c.segment, np.int32) for c in found])
        at = np.concatenate([c.at for c in found])
        score = np.concatenate([c.score for c in found]).astype(np.int64)
        dist = np.concatenate([c.dist for c in found])
        rank = np.concatenate([self.rank[c.segment][c.at] for c in found])
        total = len(at)
        stop = min(query.offset + query.per_page, total)
        far = np.where(np.isnan(dist), np.inf, dist)  # "dist IS NULL" sorts last
        if query.near is not None and query.sort == "distance":
            primary = far
            keys: tuple[npt.NDArray[np.generic], ...] = (rank, -score, far)
        elif query.near is not None:
            primary = (_MAX_SCORE - score) * 1e5 + np.minimum(far, _FAR)
            keys = (rank, far, -score)
        else:
            primary = ((_MAX_SCORE - score) << 32) | rank
            keys = (primary,)
        # only the first `stop` in order matter: everything up to the stop-th primary key, exactly sorted
        chosen = np.arange(total)
        if 0 < stop < total:
            bound = np.partition(primary, stop - 1)[stop - 1]
            chosen = np.flatnonzero(primary <= bound)
        order = chosen[np.lexsort(tuple(k[chosen] for k in keys))][query.offset : stop]
        hits = []
        for i in order:
            d = dist[i]
            seg = self.segments[seg_of[i]]
            hits.append(Hit(seg.service_ids[at[i]], int(score[i]), None if math.isnan(d) else float(d)))
        return SearchResult(total=total, hits=hits, facets=counts)
