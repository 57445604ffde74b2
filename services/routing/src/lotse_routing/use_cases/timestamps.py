"""Times read back from the database: SQLite hands back naive datetimes, which are UTC."""

from datetime import UTC, date, datetime


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return aware(value).isoformat() if isinstance(value, datetime) else value.isoformat()
