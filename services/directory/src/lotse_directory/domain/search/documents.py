"""The search document of an offer (HSDS service), as both backends index it, and its opening hours."""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

LOCAL = ZoneInfo("Europe/Berlin")
WEEK_MINUTES = 7 * 1440
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True, slots=True)
class Point:
    """A place where the offer is given. ``public`` False: shown to case managers only."""

    latitude: float
    longitude: float
    public: bool
    location_id: str


@dataclass(frozen=True, slots=True)
class Interval:
    """Open from ``start`` to ``end`` (minutes since Monday 00:00, local time) on the days in
    ``valid_from``..``valid_to`` (either may be open)."""

    start: int
    end: int
    valid_from: str | None = None
    valid_to: str | None = None


@dataclass(slots=True)
class SearchDocument:
    service_id: str
    organization_id: str
    texts: dict[str, str]
    """Raw text per field of :data:`~lotse_directory.domain.search.plan.FIELDS`."""
    legal_domains: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    target_groups: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    region_keys: list[str] = field(default_factory=list)
    """Gemeinde keys (AGS) of the offer's public places."""
    points: list[Point] = field(default_factory=list)
    hours: list[Interval] = field(default_factory=list)
    closed_on_holidays: bool = False
    verified_on: date | None = None

    def __reduce__(self) -> tuple[Callable[..., "SearchDocument"], tuple[Any, ...]]:
        """Pickled as plain values: a large import's forked child sends 100,000 documents to its parent,
        and the generated field-by-field pickling of slotted dataclasses took twice as long."""
        points = tuple((p.latitude, p.longitude, p.public, p.location_id) for p in self.points)
        hours = tuple((h.start, h.end, h.valid_from, h.valid_to) for h in self.hours)
        values = (self.service_id, self.organization_id, self.texts, self.legal_domains, self.topics)
        more = (self.target_groups, self.languages, self.region_keys, points, hours, self.closed_on_holidays)
        return (_unpickled, (*values, *more, self.verified_on))

    def facet_values(self) -> dict[str, list[str]]:
        """Values per facet (the keys of :data:`~lotse_directory.domain.search.query.FACETS`)."""
        return {
            "legal_domain": self.legal_domains,
            "topic": self.topics,
            "language": self.languages,
            "target_group": self.target_groups,
            "gemeinde": self.region_keys,
        }


def _unpickled(
    service_id: str,
    organization_id: str,
    texts: dict[str, str],
    legal_domains: list[str],
    topics: list[str],
    target_groups: list[str],
    languages: list[str],
    region_keys: list[str],
    points: tuple[tuple[float, float, bool, str], ...],
    hours: tuple[tuple[int, int, str | None, str | None], ...],
    closed_on_holidays: bool,
    verified_on: date | None,
) -> SearchDocument:
    return SearchDocument(
        service_id,
        organization_id,
        texts,
        legal_domains,
        topics,
        target_groups,
        languages,
        region_keys,
        [Point(*p) for p in points],
        [Interval(*h) for h in hours],
        closed_on_holidays,
        verified_on,
    )


_TIME = re.compile(r"(\d{1,2}):(\d{2})")


@lru_cache(maxsize=4096)  # a few hundred distinct times open every offer of an import
def _minutes(value: str) -> int | None:
    match = _TIME.match(value)
    if not match:
        return None
    hours, minutes = int(match[1]), int(match[2])
    if hours > 24 or minutes > 59:
        return None
    return hours * 60 + minutes


def closures(schedules: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The temporary closures among an offer's schedules (``closed`` with both dates), as ISO day pairs."""
    return sorted(
        (str(s["valid_from"])[:10], str(s["valid_to"])[:10])
        for s in schedules
        if s.get("closed") and s.get("valid_from") and s.get("valid_to")
    )


def _next_day(iso: str, days: int) -> str:
    return (date.fromisoformat(iso) + timedelta(days=days)).isoformat()


def _outside(
    valid_from: str | None, valid_to: str | None, closed: list[tuple[str, str]]
) -> list[tuple[str | None, str | None]]:
    """The days of ``valid_from``..``valid_to`` that no closure covers, as the parts between the closures."""
    parts: list[tuple[str | None, str | None]] = [(valid_from, valid_to)]
    for first, last in closed:
        kept: list[tuple[str | None, str | None]] = []
        for start, end in parts:
            if (end is not None and end < first) or (start is not None and start > last):
                kept.append((start, end))
                continue
            if start is None or start < first:
                kept.append((start, _next_day(first, -1)))
            if end is None or end > last:
                kept.append((_next_day(last, 1), end))
        parts = kept
    return parts


def weekly_intervals(schedules: Iterable[Mapping[str, Any]]) -> list[Interval]:
    """Regular weekly opening hours of HSDS schedules; by-appointment schedules open nothing, and on the days
    of a temporary closure nothing is open."""
    schedules = list(schedules)
    closed = closures(schedules)
    out: list[Interval] = []
    for s in schedules:
        if s.get("by_appointment") or s.get("closed") or (s.get("freq") or "WEEKLY").upper() != "WEEKLY":
            continue
        opens, closes = _minutes(str(s.get("opens_at") or "")), _minutes(str(s.get("closes_at") or ""))
        if opens is None or closes is None or opens == closes:
            continue
        days = [d.strip().upper()[-2:] for d in str(s.get("byday") or "").split(",") if d.strip()]
        valid = _outside(
            str(s["valid_from"])[:10] if s.get("valid_from") else None,
            str(s["valid_to"])[:10] if s.get("valid_to") else None,
            closed,
        )
        for day in days:
            if day not in _DAYS:
                continue
            start = _DAYS.index(day) * 1440 + opens
            end = _DAYS.index(day) * 1440 + closes + (1440 if closes < opens else 0)
            for valid_from, valid_to in valid:
                if end > WEEK_MINUTES:  # Sunday night into Monday
                    out.append(Interval(start, WEEK_MINUTES, valid_from, valid_to))
                    out.append(Interval(0, end - WEEK_MINUTES, valid_from, valid_to))
                else:
                    out.append(Interval(start, end, valid_from, valid_to))
    return sorted(set(out), key=lambda i: (i.start, i.end, i.valid_from or "", i.valid_to or ""))


def hours_on(schedules: Iterable[Mapping[str, Any]], day: date) -> dict[str, Any]:
    """What an offer's HSDS schedules say of one day, as a search result shows it: the day's weekly hours
    (opening and closing time joined by an en dash), whether it is by appointment, the NRW public holiday
    that closes it, and a temporary closure (``closed_until``, with its ``closed_because``)."""
    code = _DAYS[day.weekday()]
    iso = day.isoformat()
    ranges: set[tuple[int, int]] = set()
    by_appointment = False
    closure: Mapping[str, Any] | None = None
    for s in schedules:
        if (s.get("valid_from") and str(s["valid_from"])[:10] > iso) or (
            s.get("valid_to") and str(s["valid_to"])[:10] < iso
        ):
            continue
        if s.get("closed"):
            if s.get("valid_from") and s.get("valid_to"):
                closure = s
            continue
        by_appointment = by_appointment or bool(s.get("by_appointment"))
        if s.get("by_appointment") or (s.get("freq") or "WEEKLY").upper() != "WEEKLY":
            continue
        days = {d.strip().upper()[-2:] for d in str(s.get("byday") or "").split(",")}
        opens, closes = _minutes(str(s.get("opens_at") or "")), _minutes(str(s.get("closes_at") or ""))
        if code in days and opens is not None and closes is not None and opens != closes:
            ranges.add((opens, closes))
    holiday = _nrw_holidays(day.year).get(day) if is_public_holiday(day) else None
    closed = holiday is not None and any(s.get("closed_on_public_holidays") for s in schedules)
    hours = [f"{a // 60:02d}:{a % 60:02d}–{b // 60:02d}:{b % 60:02d}" for a, b in sorted(ranges)]
    return {
        "date": iso,
        "hours": [] if closed or closure else hours,
        "by_appointment": by_appointment and closure is None,
        "closed_for_holiday": holiday if closed else None,
        "closed_until": str(closure["valid_to"])[:10] if closure else None,
        "closed_because": (closure.get("description") or None) if closure else None,
    }


@cache
def _nrw_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("DE", subdiv="NW", years=year, language="de")


def is_public_holiday(day: date) -> bool:
    """A public holiday in Nordrhein-Westfalen."""
    return day in _nrw_holidays(day.year)


@dataclass(frozen=True, slots=True)
class Moment:
    """A point in time as the opening-hours filter needs it."""

    minute_of_week: int
    day: str
    holiday: bool


def moment(at: datetime) -> Moment:
    local = at.astimezone(LOCAL)
    minute = local.weekday() * 1440 + local.hour * 60 + local.minute
    return Moment(minute, local.date().isoformat(), is_public_holiday(local.date()))
