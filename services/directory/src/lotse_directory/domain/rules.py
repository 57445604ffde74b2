"""Plausibility rules for directory entries beyond their JSON Schema (pure functions)."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import pycountry

from lotse_directory.domain.hsds import EntitySpec
from lotse_directory.domain.search.documents import LOCAL

# Germany's extent with a small margin (Sylt to Oberstdorf, Selfkant to Görlitz).
GERMANY_LAT = (47.2, 55.1)
GERMANY_LON = (5.8, 15.1)

PLZ = re.compile(r"^\d{5}$")
REGION_KEY = re.compile(r"^\d{2}(\d|\d{3}|\d{6}|\d{7}|\d{10})?$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")
_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")


@dataclass(frozen=True, slots=True)
class Violation:
    field: str
    reason: str


def inside_germany(latitude: float, longitude: float) -> bool:
    return GERMANY_LAT[0] <= latitude <= GERMANY_LAT[1] and GERMANY_LON[0] <= longitude <= GERMANY_LON[1]


def is_language_code(code: str) -> bool:
    """ISO 639-1 (``de``), 639-2/3 (``deu``, ``ger``) codes."""
    if len(code) == 2:
        return pycountry.languages.get(alpha_2=code.lower()) is not None
    if len(code) == 3:
        c = code.lower()
        return pycountry.languages.get(alpha_3=c) is not None or pycountry.languages.get(bibliographic=c) is not None
    return False


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _parse_time(value: str) -> time | None:
    return time.fromisoformat(value) if _TIME.match(value) else None


def check_entry(spec: EntitySpec, values: Mapping[str, Any], *, german: bool = True) -> list[Violation]:
    """Violations of the directory's rules in one flat entry.

    ``german`` says the entry is about a place in Germany; PLZ and coordinate rules
    apply only then (an HSDS file may describe places abroad).
    """
    checker = _CHECKS.get(spec.name)
    return checker(values, german) if checker else []


def _address(v: Mapping[str, Any], german: bool) -> list[Violation]:
    out = []
    country = v.get("country")
    if country and pycountry.countries.get(alpha_2=str(country).upper()) is None:
        out.append(Violation("country", "must be an ISO 3166-1 alpha-2 country code (DE)"))
    if country == "DE" and v.get("postal_code") is not None and not PLZ.match(str(v["postal_code"])):
        out.append(Violation("postal_code", "must be a German PLZ of five digits"))
    return out


def _location(v: Mapping[str, Any], german: bool) -> list[Violation]:
    lat, lon = v.get("latitude"), v.get("longitude")
    if (lat is None) != (lon is None):
        return [Violation("latitude" if lat is None else "longitude", "latitude and longitude go together")]
    if german and lat is not None and lon is not None and not inside_germany(float(lat), float(lon)):
        return [Violation("latitude", f"({lat}, {lon}) is not inside Germany")]
    return []


def _language_field(name: str) -> Any:
    def check(v: Mapping[str, Any], german: bool) -> list[Violation]:
        code = v.get(name)
        if code and not is_language_code(str(code)):
            return [Violation(name, f"{code!r} is not an ISO 639 language code")]
        return []

    return check


def _schedule(v: Mapping[str, Any], german: bool) -> list[Violation]:
    out = []
    opens, closes = v.get("opens_at"), v.get("closes_at")
    t_open = _parse_time(opens) if isinstance(opens, str) else None
    t_close = _parse_time(closes) if isinstance(closes, str) else None
    if isinstance(opens, str) and t_open is None:
        out.append(Violation("opens_at", "must be a time of day HH:MM or HH:MM:SS"))
    if isinstance(closes, str) and t_close is None:
        out.append(Violation("closes_at", "must be a time of day HH:MM or HH:MM:SS"))
    if t_open and t_close and t_open >= t_close:
        out.append(Violation("closes_at", "must be after opens_at"))
    for name in ("valid_from", "valid_to", "dtstart", "until"):
        raw = v.get(name)
        if isinstance(raw, str) and _parse_date(raw[:10]) is None:
            out.append(Violation(name, "must be a date YYYY-MM-DD"))
    start, end = v.get("valid_from"), v.get("valid_to")
    if isinstance(start, str) and isinstance(end, str):
        d_start, d_end = _parse_date(start[:10]), _parse_date(end[:10])
        if d_start and d_end and d_start > d_end:
            out.append(Violation("valid_to", "must not be before valid_from"))
    byday = v.get("byday")
    if isinstance(byday, str) and byday:
        bad = [d for d in byday.split(",") if not _BYDAY.match(d.strip())]
        if bad:
            out.append(Violation("byday", f"{', '.join(bad)}: use MO, TU, WE, TH, FR, SA, SU"))
    for name, low, high in (("bymonthday", -31, 31), ("byyearday", -366, 366), ("byweekno", -53, 53)):
        raw = v.get(name)
        if isinstance(raw, str) and raw:
            try:
                numbers = [int(x) for x in raw.split(",")]
            except ValueError:
                out.append(Violation(name, "must be a comma-separated list of whole numbers"))
                continue
            if any(n == 0 or not low <= n <= high for n in numbers):
                out.append(Violation(name, f"numbers must be between {low} and {high}, not 0"))
    interval = v.get("interval")
    if interval is not None and (interval < 1 or interval != int(interval)):
        out.append(Violation("interval", "must be a whole number of at least 1"))
    if v.get("closed") and not (v.get("valid_from") and v.get("valid_to")):
        out.append(Violation("closed", "a temporary closure needs valid_from and valid_to"))
    if v.get("freq") and not (byday or v.get("bymonthday") or v.get("byyearday") or opens or v.get("dtstart")):
        out.append(Violation("freq", "a recurring schedule needs byday, bymonthday, byyearday, opens_at or dtstart"))
    return out


def _jurisdiction(v: Mapping[str, Any], german: bool) -> list[Violation]:
    out = []
    key = v.get("region_key")
    if isinstance(key, str) and not REGION_KEY.match(key):
        out.append(Violation("region_key", "must be an AGS/ARS prefix of 2, 3, 5, 8, 9 or 12 digits"))
    codes = v.get("postal_codes") or []
    for i, code in enumerate(codes):
        if not PLZ.match(str(code)):
            out.append(Violation(f"postal_codes.{i}", "must be a German PLZ of five digits"))
    verified = v.get("verified_on")
    if isinstance(verified, str) and _parse_date(verified) and _parse_date(verified) > datetime.now(LOCAL).date():  # type: ignore[operator]
        out.append(Violation("verified_on", "must not be in the future"))
    return out


def _contact(v: Mapping[str, Any], german: bool) -> list[Violation]:
    if v.get("deputy_contact_id") and v.get("deputy_contact_id") == v.get("id"):
        return [Violation("deputy_contact_id", "a contact cannot be their own deputy")]
    return []


def _service(v: Mapping[str, Any], german: bool) -> list[Violation]:
    low, high = v.get("minimum_age"), v.get("maximum_age")
    if low is not None and high is not None and low > high:
        return [Violation("maximum_age", "must not be below minimum_age")]
    return []


_CHECKS = {
    "address": _address,
    "location": _location,
    "language": _language_field("code"),
    "taxonomy_term": _language_field("language"),
    "meta_table_description": _language_field("language"),
    "schedule": _schedule,
    "jurisdiction": _jurisdiction,
    "contact": _contact,
    "service": _service,
}
