"""Times in the API: ISO 8601, with the offset (every time read from the database is in UTC)."""

from datetime import date, datetime


def iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()
