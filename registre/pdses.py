"""PDSES periods: weeknights 20:00–08:00, Saturday from 12:00, all Sunday and French public
holidays, in Europe/Paris. A request outside them is flagged, never refused."""

from __future__ import annotations

from datetime import datetime, time
from functools import lru_cache

import holidays

from registre.timeutil import to_paris

NIGHT_START = time(20, 0)
NIGHT_END = time(8, 0)
SATURDAY_START = time(12, 0)


@lru_cache(maxsize=64)
def _french_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("FR", years=year)


def in_pdses_period(moment: datetime) -> bool:
    """Whether ``moment`` (aware, any zone) falls in a PDSES period in Paris local time."""
    local = to_paris(moment)
    clock = local.time()
    if local.date() in _french_holidays(local.year):
        return True
    weekday = local.weekday()  # Monday 0 … Sunday 6
    if weekday == 6:
        return True
    if clock >= NIGHT_START or clock < NIGHT_END:
        return True
    return weekday == 5 and clock >= SATURDAY_START
