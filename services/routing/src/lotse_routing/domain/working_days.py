"""Deadlines in working days: Monday to Friday, without the public holidays of the Land (NRW)."""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def is_working_day(day: date, is_holiday: Callable[[date], bool]) -> bool:
    return day.weekday() < 5 and not is_holiday(day)


def add_working_days(start: datetime, days: int, is_holiday: Callable[[date], bool]) -> datetime:
    """The moment ``days`` working days after ``start``, at the same time of day in Germany.

    Received on a Friday at 10:00 with 3 days to acknowledge: due on Wednesday at 10:00 (on Thursday if
    Monday is Easter Monday). A start on a weekend or holiday counts from the next working day's start.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    local = start.astimezone(BERLIN)
    day = local.date()
    if not is_working_day(day, is_holiday):
        while not is_working_day(day, is_holiday):
            day += timedelta(days=1)
        local = datetime.combine(day, datetime.min.time(), BERLIN)
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day, is_holiday):
            counted += 1
    return datetime.combine(day, local.timetz().replace(tzinfo=None), BERLIN)
