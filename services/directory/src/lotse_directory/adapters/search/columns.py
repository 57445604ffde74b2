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
from lotse_directory.domain.search.plan import FIELDS, KINDS, MAX_TERMS, WEIGHTS, PlannedTerm
from lotse_directory.domain.search.query import EARTH_RADIUS_KM, FACETS, Hit, SearchQuery, SearchResult, bounding_box

Ints = npt.NDArray[np.int32]
Int64s = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

NO_DATE = -1
"""Day number of a missing date (never on or after any real day)."""

_NF = len(FIELDS)
_MAX_SCORE = 2 * max(WEIGHTS["exact"].values()) * MAX_TERMS + 1
"""No offer scores higher (see :class:`~lotse_directory.domain.search.query.Hit`)."""
_TERMS_KEPT = 1_024
"""Matches of this many query terms are kept with a snapshot (they hold views, not copies)."""
_FAR = 5e4
"""Stands for "no distance" in a sort key: farther than any two points on earth (km)."""


DocRow = tuple[int, str, str, str | None, bool, Sequence[Sequence[str]]]
"""(rowid, service id, organisation id, verified on, closed on holidays, values of each of :data:`FACETS`)."""
TextRow = tuple[int, str, str, str, str, str]
"""(rowid, analysed text of each of :data:`FIELDS`)."""


@dataclass(frozen=True, slots=True)
class Rows:
    """One batch of the index's rows, each ordered by document number (rowid); read once, as they come."""

    docs: Iterable[DocRow]
    texts: Iterable[TextRow]
    points: Iterable[tuple[int, float, float, bool]]
    """(rowid, latitude, longitude, public)"""
    regions: Iterable[tuple[int, str]]
    """(rowid, Gemeinde key)"""
    hours: Iterable[tuple[int, int, int, str | None, str | None]]
    """(rowid, start, end, valid from, valid to)"""


def _day(value: str | None, missing: int) -> int:
    try:
        return date.fromisoformat(value).toordinal() if value else missing
    except ValueError:
        return missing


_NEVER, _ALWAYS = np.iinfo(np.int32).min, np.iinfo(np.int32).max


class _Values:
    """A multi-valued facet: (document, value) pairs, in document order and grouped by value."""

    def __init__(self) -> None:
        self.code: dict[str, int] = {}
        self._docs, self._vals = array("i"), array("i")

    def add(self, doc: int, values: Iterable[str]) -> None:
        for v in values:
            self._docs.append(doc)
            self._vals.append(self.code.setdefault(v, len(self.code)))

    def freeze(self, n: int) -> None:
        self.n = n
        self.names = list(self.code)
        doc, val = np.frombuffer(self._docs, np.int32), np.frombuffer(self._vals, np.int32)
        self.by_doc: Ints = val
        self.doc_start = np.searchsorted(doc, np.arange(n + 1))
        order = np.argsort(val, kind="stable")
        self.doc: Ints = doc[order]
        self.val: Ints = val[order]
        self.start = np.searchsorted(self.val, np.arange(len(self.names) + 1))

    def having(self, values: Iterable[str]) -> Mask:
        mask = np.zeros(self.n, np.bool_)
        for v in values:
            c = self.code.get(v)
            if c is not None:
                mask[self.doc[self.start[c] : self.start[c + 1]]] = True
        return mask

    def count(self, among: Mask) -> dict[str, int]:
        chosen = np.flatnonzero(among)
        if len(chosen) * 8 < self.n:  # few offers: gather their own values
            first = self.doc_start[chosen]
            sizes = self.doc_start[chosen + 1] - first
            at = np.repeat(first - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
            values = self.by_doc[at]
        else:
            values = self.val[among[self.doc]]
        counts = np.bincount(values, minlength=len(self.names))
        return {self.names[int(c)]: int(counts[c]) for c in np.flatnonzero(counts)}


class Segment:
    """A batch of documents as arrays; position ``i`` is the i-th document by rowid."""

    def __init__(self, rows: Rows) -> None:
        rowid, orgs, verified, closed = array("q"), array("i"), array("i"), array("b")
        self.service_ids: list[str] = []
        self.org_code: dict[str, int] = {}
        self.facets = {f: _Values() for f in FACETS}
        facets = [self.facets[f] for f in FACETS]
        for i, (doc, sid, org, verified_on, closed_on_holidays, values) in enumerate(rows.docs):
            rowid.append(doc)
            self.service_ids.append(sid)
            orgs.append(self.org_code.setdefault(org, len(self.org_code)))
            verified.append(_day(verified_on, NO_DATE))
            closed.append(closed_on_holidays)
            for facet, vs in zip(facets, values, strict=True):
                facet.add(i, vs)
        self.n = n = len(rowid)
        self.rowid: Int64s = np.frombuffer(rowid, np.int64)
        self.org: Ints = np.frombuffer(orgs, np.int32)
        self.verified: Ints = np.frombuffer(verified, np.int32)
        self.closed: Mask = np.frombuffer(closed, np.int8).astype(np.bool_)
        for facet in facets:
            facet.freeze(n)
        self._texts(rows.texts)
        p_doc, lat, lon, public = array("q"), array("d"), array("d"), array("b")
        for doc, la, lo, pub in rows.points:
            p_doc.append(doc)
            lat.append(la)
            lon.append(lo)
            public.append(pub)
        # places ordered by latitude: a radius search reads only the band of latitudes it can reach
        by_lat = np.argsort(np.frombuffer(lat, np.float64), kind="stable")
        self.p_doc = self._positions(p_doc)[by_lat]
        self.p_lat: Floats = np.frombuffer(lat, np.float64)[by_lat]
        self.p_lon: Floats = np.frombuffer(lon, np.float64)[by_lat]
        self.p_public: Mask = np.frombuffer(public, np.int8).astype(np.bool_)[by_lat]
        # sines and cosines of half the angles, so that a distance needs no trigonometry per place:
        # sin((a - b) / 2) = sin(a/2) cos(b/2) - cos(a/2) sin(b/2)
        lat_rad, lon_rad = np.radians(self.p_lat), np.radians(self.p_lon)
        self.p_cos: Floats = np.cos(lat_rad)
        self.p_half: tuple[Floats, Floats, Floats, Floats] = (
            np.sin(lat_rad / 2),
            np.cos(lat_rad / 2),
            np.sin(lon_rad / 2),
            np.cos(lon_rad / 2),
        )
        regions = sorted((ags, doc) for doc, ags in rows.regions)
        self.r_keys = [ags for ags, _ in regions]
        self.r_doc = self._positions(array("q", (doc for _, doc in regions)))
        h_doc, h_start, h_end, h_from, h_to = array("q"), array("i"), array("i"), array("i"), array("i")
        for doc, start, end, valid_from, valid_to in rows.hours:
            h_doc.append(doc)
            h_start.append(start)
            h_end.append(end)
            h_from.append(_day(valid_from, _NEVER))
            h_to.append(_day(valid_to, _ALWAYS))
        self.h_doc = self._positions(h_doc)
        self.h_start: Ints = np.frombuffer(h_start, np.int32)
        self.h_end: Ints = np.frombuffer(h_end, np.int32)
        self.h_from: Ints = np.frombuffer(h_from, np.int32)
        self.h_to: Ints = np.frombuffer(h_to, np.int32)

    def _positions(self, rowids: "array[int]") -> Ints:
        found: Ints = np.searchsorted(self.rowid, np.frombuffer(rowids, np.int64)).astype(np.int32)
        return found

    def _texts(self, texts: Iterable[TextRow]) -> None:
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
        everyone = np.array([s for seg in segments for s in seg.service_ids], "U")
        ranks = np.empty(len(everyone), np.int64)
        ranks[np.argsort(everyone, kind="stable")] = np.arange(len(everyone))
        self.rank: list[Int64s] = []
        start = 0
        for seg in segments:
            self.rank.append(ranks[start : start + seg.n])
            start += seg.n
        self._terms: dict[PlannedTerm, list[list[tuple[int, Ints]]]] = {}

    # -- text -------------------------------------------------------------------------
    def _term_weights(self, term: PlannedTerm, phrases: PhraseLookup) -> list[list[tuple[int, Ints]]]:
        """Per segment: (weight, documents) of every way the term matches, lowest weight first."""
        found = self._terms.get(term)
        if found is None:
            found = self._match(term, phrases)
            if len(self._terms) >= _TERMS_KEPT:
                self._terms.clear()
            self._terms[term] = found
        return found

    def _match(self, term: PlannedTerm, phrases: PhraseLookup) -> list[list[tuple[int, Ints]]]:
        alternatives: dict[str, list[tuple[str | None, ...]]] = {
            "exact": [term.exact.terms],
            "synonym": [p.terms for p in term.synonyms],
            "fuzzy": [],
        }
        if term.fuzzy:
            stem = term.exact.terms[0] or ""
            variants = one_edit_variants(stem)
            known = set().union(*(variants & seg.vocab.keys() for seg in self.segments))
            alternatives["fuzzy"] = [(v,) for v in sorted(known)]
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
        counts: dict[str, dict[str, int]] = {f: {} for f in query.counted}
        fresh_day = query.fresh_from.toordinal()
        counts |= {f"{f}__fresh": {} for f in query.counted_fresh}
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
            for facet in query.counted:
                among = ok.copy()
                for f, mask in chosen.items():
                    if f != facet:
                        among &= mask
                for value, count in seg.facets[facet].count(among).items():
                    counts[facet][value] = counts[facet].get(value, 0) + count
                if facet in query.counted_fresh:
                    fresh = counts[f"{facet}__fresh"]
                    for value, count in seg.facets[facet].count(among & (seg.verified >= fresh_day)).items():
                        fresh[value] = fresh.get(value, 0) + count
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
            day = date.fromisoformat(moment.day).toordinal()
            now = (seg.h_start <= m) & (seg.h_end > m) & (seg.h_from <= day) & (seg.h_to >= day)
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
        band = slice(0, len(seg.p_lat))
        if radius is not None:
            south, north, west, east = bounding_box(lat, lon, radius)
            band = slice(*np.searchsorted(seg.p_lat, [south, north], side="left"))
        use = ok[seg.p_doc[band]]
        if query.public:
            use &= seg.p_public[band]
        if radius is not None:
            lons = seg.p_lon[band]
            use &= (lons >= west) & (lons <= east) & (seg.p_lat[band] <= north)
        p = np.flatnonzero(use) + (band.start or 0)
        sin_lat, cos_lat, sin_lon, cos_lon = (v[p] for v in seg.p_half)
        lat0, lon0 = math.radians(lat) / 2, math.radians(lon) / 2
        half_dlat = sin_lat * math.cos(lat0) - cos_lat * math.sin(lat0)
        half_dlon = sin_lon * math.cos(lon0) - cos_lon * math.sin(lon0)
        a = half_dlat**2 + math.cos(math.radians(lat)) * seg.p_cos[p] * half_dlon**2
        docs = seg.p_doc[p]
        nearest = np.full(seg.n, np.inf)
        np.minimum.at(nearest, docs, a)
        dist: Floats = np.full(seg.n, np.nan)
        near = np.flatnonzero(nearest < np.inf)
        dist[near] = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(nearest[near], 1.0)))
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
