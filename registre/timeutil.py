"""Time: stored in UTC, shown in Europe/Paris as ``26/11/2026 03:15``.

``now()`` is the one clock of the application; tests replace it with ``set_clock``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

_clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return _clock()


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); ``None`` restores the real one."""
    global _clock
    _clock = clock if clock is not None else (lambda: datetime.now(UTC))


def exists_in_paris(value: datetime) -> bool:
    """False for a naive time in the hour skipped when summer time starts (e.g. 02:30 on the
    last Sunday of March). A time of the repeated autumn hour exists twice: its first
    occurrence (summer time) is the one taken."""
    if value.tzinfo is not None:
        return True
    local = value.replace(tzinfo=PARIS)
    return local.astimezone(UTC).astimezone(PARIS).replace(tzinfo=None) == value


def as_utc(value: datetime) -> datetime:
    """A naive datetime is taken as Europe/Paris local time (what a user types)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=PARIS)
    return value.astimezone(UTC)


def to_paris(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(PARIS)


def format_datetime(value: datetime | None) -> str:
    """``26/11/2026 03:15`` in Europe/Paris; empty for None."""
    if value is None:
        return ""
    return to_paris(value).strftime("%d/%m/%Y %H:%M")
