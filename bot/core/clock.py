"""Time sources.

Every module that needs "now" takes a ``Clock`` (a zero-argument callable returning an
aware UTC ``datetime``) instead of calling ``datetime.now`` itself, so tests can drive
time with a ``ManualClock`` and never sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]

#: A fixed, arbitrary start for manual clocks: tests read better with round numbers.
DEFAULT_START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def utc_now() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


def _require_aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: pass a timezone-aware value")
    return dt.astimezone(UTC)


class ManualClock:
    """A clock that only moves when told to; call it like ``utc_now``."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._now = _require_aware(start)

    def __call__(self) -> datetime:
        """Return the current manual time."""
        return self._now

    def advance(self, seconds: float = 0.0) -> datetime:
        """Move forward by ``seconds`` (must not be negative) and return the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, dt: datetime) -> None:
        """Jump to ``dt`` (aware; any direction, for tests that need it)."""
        self._now = _require_aware(dt)

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"
