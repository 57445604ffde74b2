"""Time as the users read it: Lotse serves NRW, so a day is Berlin's day, whatever zone the server runs in."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def today() -> date:
    """Today in Germany: between midnight in Berlin and midnight UTC the server's own date is yesterday."""
    return datetime.now(BERLIN).date()
