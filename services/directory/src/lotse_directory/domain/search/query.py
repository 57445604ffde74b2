"""A search as both backends receive it, and what they answer."""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from lotse_directory.domain.search.documents import LOCAL, Moment, moment
from lotse_directory.domain.search.plan import PlannedTerm, plan
from lotse_directory.domain.verification import fresh_from

FACETS = ("legal_domain", "topic", "language", "target_group", "gemeinde")
"""Facets, each counted under all active filters but its own; ``gemeinde``: the Gemeinde keys of an offer's
public places (for figures per region)."""
COUNTED = FACETS[:4]
"""The facets a search counts unless asked for others (those the search page offers as filters)."""

EARTH_RADIUS_KM = 6371.0087714
"""Mean earth radius, as Elasticsearch's arc distance uses it."""


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance, as both backends compute it."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def bounding_box(latitude: float, longitude: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min lat, max lat, min lon, max lon) around a point that holds every point within ``radius_km``
    (a little more), so that an index on coordinates can narrow a radius search; longitudes span
    everything near the poles or across the antimeridian."""
    degrees = math.degrees(radius_km / EARTH_RADIUS_KM) * 1.001
    south, north = latitude - degrees, latitude + degrees
    widest = max(abs(south), abs(north))
    if widest >= 89.9:
        return max(south, -90.0), min(north, 90.0), -180.0, 180.0
    span = degrees / math.cos(math.radians(widest))
    west, east = longitude - span, longitude + span
    if west < -180 or east > 180:
        return south, north, -180.0, 180.0
    return south, north, west, east


MAX_WINDOW = 10_000
"""page × per_page may not reach beyond this (Elasticsearch's default result window)."""


@dataclass(frozen=True, slots=True)
class Near:
    latitude: float
    longitude: float
    radius_km: float | None = None


@dataclass(frozen=True, slots=True)
class SearchQuery:
    text: str = ""
    facets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Facet filters, each "any of these values"; keys from :data:`FACETS`."""
    counted: tuple[str, ...] = COUNTED
    """The facets whose values are counted (of :data:`FACETS`)."""
    counted_fresh: tuple[str, ...] = ()
    """Of those, the ones also counted among the current offers only (verified on or after
    :attr:`fresh_from`), as ``<facet>__fresh``: the figures of long-unconfirmed offers, in the same pass."""
    organization_ids: tuple[str, ...] = ()
    region_keys: tuple[str, ...] = ()
    """AGS/ARS prefixes; an offer matches if one of its places lies in one of them."""
    open_at: datetime | None = None
    verified_within_days: int | None = None
    near: Near | None = None
    sort: Literal["relevance", "distance"] = "relevance"
    page: int = 1
    per_page: int = 20
    public: bool = True
    """A caller without a token: only public places count (and are shown)."""
    now: datetime = field(default_factory=lambda: datetime.now(LOCAL))
    """In Berlin: :attr:`today` is Germany's day, whatever zone the server runs in."""
    stale_after_days: int = 365

    @property
    def terms(self) -> list[PlannedTerm]:
        return plan(self.text)

    @property
    def moment(self) -> Moment | None:
        return moment(self.open_at) if self.open_at else None

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def fresh_from(self) -> date:
        """Offers verified on this day or later are current (not stale)."""
        return fresh_from(self.today, self.stale_after_days)

    @property
    def verified_from(self) -> date | None:
        if self.verified_within_days is None:
            return None
        return self.today - timedelta(days=self.verified_within_days)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True, slots=True)
class Hit:
    service_id: str
    score: int
    """2 × text score + 1 if the offer is verified within the period (so current offers rank first)."""
    distance_km: float | None

    @property
    def stale(self) -> bool:
        return self.score % 2 == 0


@dataclass(slots=True)
class SearchResult:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]
