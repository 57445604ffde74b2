"""Case managers search offers: by need, place, language, legal domain; hits rendered for the caller."""

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from lotse_contracts import Role, TokenClaims
from lotse_kit.errors import Forbidden, Unavailable

from lotse_directory.adapters.geocoding.gazetteer import Gazetteer
from lotse_directory.adapters.ports import BackendUnavailable, DirectoryStore, Row
from lotse_directory.domain.search.analysis import tokens
from lotse_directory.domain.search.documents import LOCAL, hours_on
from lotse_directory.domain.search.query import SearchQuery, SearchResult, km_between
from lotse_directory.use_cases.search_documents import SCHEDULE_FIELDS

log = logging.getLogger(__name__)


class SearchBackend(Protocol):
    def search(self, query: SearchQuery) -> SearchResult: ...

    def warm(self) -> None:
        """Get ready to answer (a server process calls this before its first request)."""


@dataclass(frozen=True, slots=True)
class Place:
    latitude: float
    longitude: float
    label: str
    region_key: str | None
    """Gemeinde key when the geocoder told it; else looked up from the coordinates, only when needed."""


def _visible(row: Mapping[str, Any], public: bool) -> bool:
    visibility = row.get("visibility") or "public"
    return visibility == "public" or (visibility == "case_managers" and not public)


Miss = tuple[datetime, str, dict[str, Any], str | None]
"""(hour, words, filters, Gemeinde key) of a search that found nothing."""
REVEAL_AT = 3
"""A search's words are kept in the clear only once searched this often: one case manager typing a client's
name (to look for their file) leaves only a keyed hash and a count."""


class MissLog:
    """Writes the searches that found nothing. Once started (a server process), a thread writes them
    every second in one transaction, so a search waits neither for its own write nor for another
    process holding the database's write lock; until then (tests, the CLI), each at once.
    ``stop`` writes what is left; a process killed outright loses at most the last second's."""

    def __init__(self, store: DirectoryStore, key: bytes, interval: float = 1.0) -> None:
        self.store = store
        self.key = key
        self.interval = interval
        self._pending: list[Miss] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, miss: Miss) -> None:
        if self._thread is None:
            self._write([miss])
            return
        with self._lock:
            self._pending.append(miss)

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        try:
            self._write(batch)
        except Exception:
            with self._lock:  # the database was busy or gone: keep them for the next round
                self._pending[:0] = batch
            raise

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="lotse-search-misses", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.flush()
            except Exception:
                log.exception("could not write the searches that found nothing; trying again")

    def terms_hash(self, terms: str) -> str:
        return hmac.new(self.key, terms.encode(), hashlib.sha256).hexdigest()

    def _write(self, batch: list[Miss]) -> None:
        if batch:
            with self.store.transaction() as session:
                for hour, terms, filters, region in batch:
                    session.add_search_miss(hour, terms, self.terms_hash(terms), filters, region, REVEAL_AT)

    def hide_rare(self) -> None:
        """Misses kept before words were withheld: their words dropped where searched fewer than REVEAL_AT times."""
        with self.store.transaction() as session:
            session.hash_search_misses(self.terms_hash, REVEAL_AT)


COVERAGE_SECONDS = 30.0
"""How long the figures of long-unconfirmed offers are kept for the same question while nothing in the
directory changed (a change counts anew at once; the limit bounds what a search index still catching up
with a change, in scale mode, can hold back)."""


class Search:
    def __init__(
        self,
        store: DirectoryStore,
        backend: SearchBackend,
        gazetteer: Gazetteer,
        stale_after_days: int,
        miss_key: bytes,
    ) -> None:
        self.store = store
        self.backend = backend
        self.gazetteer = gazetteer
        self.stale_after_days = stale_after_days
        self.miss_log = MissLog(store, miss_key)
        self._coverage: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}
        self._coverage_lock = threading.Lock()

    def search(self, claims: TokenClaims | None, query: SearchQuery, place: Place | None) -> dict[str, Any]:
        query = replace(query, public=claims is None, stale_after_days=self.stale_after_days)
        try:
            result = self.backend.search(query)
        except BackendUnavailable as error:
            raise Unavailable(f"the search engine did not answer: {error}") from error
        if result.total == 0:
            self._count_miss(query, place)
        with self.store.transaction() as session:
            ids = [h.service_id for h in result.hits]
            services = {str(s["id"]): s for s in session.select("service", {"id": ids})}
            org_ids = {str(s["organization_id"]) for s in services.values() if s.get("organization_id")}
            orgs = {str(o["id"]): o for o in session.select("organization", {"id": org_ids})}
            sals = session.select("service_at_location", {"service_id": ids})
            location_ids = {str(r["location_id"]) for r in sals if r.get("location_id")}
            locations = {str(r["id"]): r for r in session.select("location", {"id": location_ids})}
            addresses: dict[str, Row] = {}
            for a in session.select("address", {"location_id": location_ids}):
                addresses.setdefault(str(a["location_id"]), a)
            places_of: dict[str, list[Row]] = {}
            for sal in sals:
                location = locations.get(str(sal.get("location_id")))
                if location is not None:
                    places_of.setdefault(str(sal.get("service_id")), []).append(location)
            own_schedules: dict[str, list[Row]] = {}
            for row in session.select("schedule", {"service_id": ids}, fields=SCHEDULE_FIELDS):
                own_schedules.setdefault(str(row["service_id"]), []).append(row)
            place_schedules: dict[str, list[Row]] = {}
            for row in session.select("schedule", {"location_id": location_ids}, fields=SCHEDULE_FIELDS):
                place_schedules.setdefault(str(row["location_id"]), []).append(row)
            today = datetime.now(LOCAL).date()
            languages: dict[str, set[str]] = {}
            for lang in session.select("language", {"service_id": ids}):
                languages.setdefault(str(lang.get("service_id")), set()).add(str(lang["code"]))
            contents = []
            for hit in result.hits:
                service = services.get(hit.service_id)
                if service is None:  # deleted since the index answered
                    continue
                places = []
                for location in places_of.get(hit.service_id, []):
                    address = addresses.get(str(location["id"]))
                    if address is not None and not _visible(address, query.public):
                        continue  # a place the caller may not know of (shelters and similar)
                    places.append(self._place(location, address, place))
                places.sort(key=lambda p: (p["distance_km"] is None, p["distance_km"] or 0, p["id"]))
                schedules = own_schedules.get(hit.service_id) or [  # as the open-now filter reads them
                    s
                    for location in places_of.get(hit.service_id, [])
                    for s in place_schedules.get(str(location["id"]), [])
                ]
                org = orgs.get(str(service.get("organization_id")), {})
                contents.append(
                    {
                        "id": hit.service_id,
                        "name": service.get("name"),
                        "description": service.get("description"),
                        "url": service.get("url"),
                        "email": service.get("email"),
                        "legal_domains": service.get("legal_domains") or [],
                        "organization": {"id": org.get("id"), "name": org.get("name")},
                        "languages": sorted(languages.get(hit.service_id, ())),
                        "verified_at": service.get("verified_at"),
                        "stale": hit.stale,
                        "score": hit.score,
                        "distance_km": round(hit.distance_km, 3) if hit.distance_km is not None else None,
                        "locations": places,
                        "today": hours_on(schedules, today),
                    }
                )
        pages = (result.total + query.per_page - 1) // query.per_page
        return {
            "total_items": result.total,
            "page": query.page,
            "per_page": query.per_page,
            "total_pages": pages,
            "near": None
            if place is None
            else {"latitude": place.latitude, "longitude": place.longitude, "label": place.label},
            "contents": contents,
            "facets": {
                facet: [{"value": v, "count": c} for v, c in sorted(counts.items(), key=lambda vc: (-vc[1], vc[0]))]
                for facet, counts in result.facets.items()
            },
        }

    def coverage(self, legal_domains: tuple[str, ...], region_keys: tuple[str, ...]) -> dict[str, Any]:
        """Offers per Gemeinde of their public places, and how many of them were not confirmed within the
        period (the coordinators' figures: where the directory is thin or out of date). One counting search;
        an offer with places in two Gemeinden counts in both, one without a public place in none."""
        with self.store.transaction() as session:  # any change of the directory counts anew
            key = (legal_domains, region_keys, datetime.now(UTC).date(), session.last_change())
        with self._coverage_lock:
            kept = self._coverage.get(key)
        if kept is not None and time.monotonic() - kept[0] < COVERAGE_SECONDS:
            return kept[1]
        facets = {"legal_domain": legal_domains} if legal_domains else {}
        query = SearchQuery(
            facets=facets,
            region_keys=region_keys,
            counted=("gemeinde",),
            counted_fresh=("gemeinde",),
            per_page=1,
            public=False,
            stale_after_days=self.stale_after_days,
        )
        try:
            counted = self.backend.search(query).facets
            offers, fresh = counted["gemeinde"], counted["gemeinde__fresh"]
        except BackendUnavailable as error:
            raise Unavailable(f"the search engine did not answer: {error}") from error
        found = {
            "stale_after_days": self.stale_after_days,
            "regions": [
                {"key": gemeinde, "offers": count, "stale": count - fresh.get(gemeinde, 0)}
                for gemeinde, count in sorted(offers.items())
                if any(gemeinde.startswith(r) for r in region_keys) or not region_keys
            ],
        }
        with self._coverage_lock:
            if len(self._coverage) >= 64:
                self._coverage.clear()
            self._coverage[key] = (time.monotonic(), found)
        return found

    @staticmethod
    def _place(location: Row, address: Row | None, near: Place | None) -> dict[str, Any]:
        lat, lon = location.get("latitude"), location.get("longitude")
        distance = None
        if near is not None and lat is not None and lon is not None:
            distance = round(km_between(near.latitude, near.longitude, float(lat), float(lon)), 3)
        return {
            "id": location["id"],
            "name": location.get("name"),
            "latitude": lat,
            "longitude": lon,
            "distance_km": distance,
            "address": None
            if address is None
            else {k: address.get(k) for k in ("address_1", "address_2", "postal_code", "city")},
        }

    def _count_miss(self, query: SearchQuery, place: Place | None) -> None:
        """Anonymous: the words, the filters, the Gemeinde searched near and the hour; nobody's identity."""
        filters: dict[str, Any] = {k: list(v) for k, v in query.facets.items() if v}
        if query.region_keys:
            filters["region"] = list(query.region_keys)
        if query.open_at is not None:
            filters["open"] = True
        if query.near is not None and query.near.radius_km is not None:
            filters["radius_km"] = query.near.radius_km
        if query.verified_within_days is not None:
            filters["verified_within_days"] = query.verified_within_days
        region = place.region_key if place else None
        if place is not None and region is None:
            nearest = self.gazetteer.nearest_postal_code(place.latitude, place.longitude)
            region = nearest.ags if nearest else None
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self.miss_log.add((hour, " ".join(tokens(query.text)), filters, region))

    def misses(self, claims: TokenClaims, since: datetime | None) -> list[dict[str, Any]]:
        """Searches that found nothing, counted by words and place, for the coordinators' gap analysis."""
        if claims.role not in (Role.COORDINATOR, Role.ADMIN):
            raise Forbidden("only coordinators see the searches that found nothing")
        self.miss_log.flush()
        with self.store.transaction() as session:
            return session.search_misses(since)
