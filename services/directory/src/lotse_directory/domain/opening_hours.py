"""An offer's opening hours as people keep them, and the HSDS schedules that store them.

The editor's form has weekly ranges (several a day, each for a set of weekdays), "nach Vereinbarung", closed
on public holidays, and temporary closures. Each weekly range is one ``WEEKLY`` schedule (``byday``,
``opens_at``, ``closes_at``); "nach Vereinbarung" is a schedule with ``by_appointment``; a closure is a
schedule with ``closed`` from ``valid_from`` to ``valid_to``. Schedules the form cannot show (another
frequency, a weekly range valid only for a time) are kept as they are and listed as ``kept``."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from lotse_kit.errors import FieldViolation

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True, slots=True)
class Split:
    """An offer's own schedules split into what the editor shows and what it keeps untouched."""

    hours: dict[str, Any]
    editable: list[Mapping[str, Any]]
    kept: list[Mapping[str, Any]]


def _days(value: Any) -> list[str]:
    given = {d.strip().upper()[-2:] for d in str(value or "").split(",") if d.strip()}
    return [d for d in WEEKDAYS if d in given]


def _is_weekly_range(row: Mapping[str, Any]) -> bool:
    return (
        (row.get("freq") or "WEEKLY").upper() == "WEEKLY"
        and not row.get("valid_from")
        and not row.get("valid_to")
        and bool(_days(row.get("byday")))
        and bool(_TIME.match(str(row.get("opens_at") or "")[:5]))
        and bool(_TIME.match(str(row.get("closes_at") or "")[:5]))
    )


def split(schedules: Iterable[Mapping[str, Any]]) -> Split:
    """The hours the editor shows, from an offer's own schedules."""
    weekly: list[dict[str, Any]] = []
    closures: list[dict[str, Any]] = []
    by_appointment = holidays = False
    editable: list[Mapping[str, Any]] = []
    kept: list[Mapping[str, Any]] = []
    for row in schedules:
        holidays = holidays or bool(row.get("closed_on_public_holidays"))
        if row.get("closed") and row.get("valid_from") and row.get("valid_to"):
            closures.append(
                {
                    "from": str(row["valid_from"])[:10],
                    "to": str(row["valid_to"])[:10],
                    "note": row.get("description") or "",
                }
            )
        elif row.get("by_appointment") and not row.get("opens_at"):
            by_appointment = True
        elif row.get("closed_on_public_holidays") and not (row.get("opens_at") or row.get("byday") or row.get("freq")):
            pass  # only the holiday rule
        elif _is_weekly_range(row) and not row.get("by_appointment"):
            weekly.append(
                {
                    "days": _days(row["byday"]),
                    "opens_at": str(row["opens_at"])[:5],
                    "closes_at": str(row["closes_at"])[:5],
                }
            )
        else:
            kept.append(row)
            continue
        editable.append(row)
    weekly.sort(key=lambda r: (WEEKDAYS.index(r["days"][0]), r["opens_at"]))
    closures.sort(key=lambda c: c["from"])
    hours = {
        "weekly": weekly,
        "by_appointment": by_appointment,
        "closed_on_public_holidays": holidays,
        "closures": closures,
    }
    return Split(hours, editable, kept)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def violations(hours: Mapping[str, Any]) -> list[FieldViolation]:
    """What is wrong with the hours a maintainer gave, each named by its place in the body."""
    found: list[FieldViolation] = []
    for i, row in enumerate(hours.get("weekly") or []):
        days = row.get("days") or []
        if not days or any(d not in WEEKDAYS for d in days):
            found.append(FieldViolation(f"weekly.{i}.days", f"name at least one day of {', '.join(WEEKDAYS)}"))
        opens, closes = str(row.get("opens_at") or ""), str(row.get("closes_at") or "")
        for name, value in (("opens_at", opens), ("closes_at", closes)):
            if not _TIME.match(value):
                found.append(FieldViolation(f"weekly.{i}.{name}", "is not a time of day as HH:MM"))
        if _TIME.match(opens) and _TIME.match(closes) and closes <= opens:
            found.append(FieldViolation(f"weekly.{i}.closes_at", "must be later than opens_at"))
    for i, closure in enumerate(hours.get("closures") or []):
        first, last = _date(closure.get("from")), _date(closure.get("to"))
        if first is None:
            found.append(FieldViolation(f"closures.{i}.from", "is not a date as YYYY-MM-DD"))
        if last is None:
            found.append(FieldViolation(f"closures.{i}.to", "is not a date as YYYY-MM-DD"))
        if first and last and last < first:
            found.append(FieldViolation(f"closures.{i}.to", "must not be before from"))
    return found


def schedules(hours: Mapping[str, Any], service_id: str) -> list[dict[str, Any]]:
    """The schedules that store the hours (new ids are the store's)."""
    holidays = bool(hours.get("closed_on_public_holidays"))
    rows: list[dict[str, Any]] = [
        {
            "service_id": service_id,
            "freq": "WEEKLY",
            "byday": ",".join(d for d in WEEKDAYS if d in row["days"]),
            "opens_at": row["opens_at"],
            "closes_at": row["closes_at"],
            "closed_on_public_holidays": holidays,
        }
        for row in hours.get("weekly") or []
    ]
    if hours.get("by_appointment"):
        rows.append(
            {
                "service_id": service_id,
                "by_appointment": True,
                "description": "nach Vereinbarung",
                "closed_on_public_holidays": holidays,
            }
        )
    elif holidays and not rows:  # only the holiday rule: a schedule must still say it
        rows.append({"service_id": service_id, "closed_on_public_holidays": True})
    rows += [
        {
            "service_id": service_id,
            "closed": True,
            "valid_from": c["from"],
            "valid_to": c["to"],
            "description": (c.get("note") or "").strip() or None,
        }
        for c in hours.get("closures") or []
    ]
    return rows
