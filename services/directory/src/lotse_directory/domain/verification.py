"""Verification: an entry a maintainer has not confirmed within the set period is stale."""

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

VERIFIED_ENTITIES = ("organization", "service", "location", "jurisdiction")
"""Entities that carry a verification date (jurisdictions a date, the others a timestamp)."""


def verified_on(entity: str, row: Mapping[str, Any]) -> date | None:
    """The day an entry was last confirmed, or None if never (or unreadable)."""
    raw = row.get("verified_on" if entity == "jurisdiction" else "verified_at")
    if not isinstance(raw, str) or not raw:
        return None
    try:
        if entity == "jurisdiction":
            return date.fromisoformat(raw[:10])
        stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC).date()


def fresh_from(today: date, after_days: int) -> date:
    """Entries verified on this day or later are current; earlier (or never) verified ones are stale."""
    return today - timedelta(days=after_days - 1)


def due_since(entity: str, row: Mapping[str, Any], today: date, after_days: int) -> date | None:
    """The day the entry became stale, None while it is current. Never verified: stale since always."""
    last = verified_on(entity, row)
    if last is None:
        return date.min
    if last >= fresh_from(today, after_days):
        return None
    return last + timedelta(days=after_days)


def is_stale(entity: str, row: Mapping[str, Any], today: date, after_days: int) -> bool:
    return due_since(entity, row, today, after_days) is not None


def utc_stamp(when: datetime) -> str:
    """A moment as the directory writes it: UTC to the second, ``2026-12-03T10:44:00Z``."""
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def confirmation(entity: str, user: str, now: datetime) -> dict[str, str]:
    """The fields that record a confirmation by ``user`` at ``now``."""
    if entity == "jurisdiction":
        return {"verified_on": now.astimezone(UTC).date().isoformat(), "verified_by": user}
    return {
        "verified_at": utc_stamp(now),
        "verified_by": user,
    }
