"""Time for the emulator: an injectable epoch clock, snowflakes and Discord timestamps.

Deadlines (3 s initial response, 15 min token) are measured on *both* the injected clock and the
event loop's monotonic clock, and whichever says more time has passed wins: a handler that really
sleeps 3.5 s is late even under a frozen ``ManualClock``, and ``clock.advance(901)`` expires tokens
without waiting 15 minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

Clock = Callable[[], float]

DISCORD_EPOCH_MS = 1_420_070_400_000


class ManualClock:
    """A clock that only moves when told to; pass it as ``FakeDiscord(clock=...)``."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = float(start)

    def __call__(self) -> float:
        return self._now

    @property
    def now(self) -> float:
        """Current epoch seconds."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward and return the new epoch seconds."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
        return self._now


def iso_timestamp(epoch_seconds: float) -> str:
    """Discord's ISO-8601 timestamp format (UTC, microseconds, +00:00)."""
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat()


class SnowflakeFactory:
    """Strictly increasing snowflakes whose timestamp part follows the injected clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last = 0

    def __call__(self) -> int:
        millis = int(self._clock() * 1000) - DISCORD_EPOCH_MS
        candidate = (max(millis, 0) << 22) | (1 << 17)  # worker 0, process 1
        self._last = max(candidate, self._last + 1)
        return self._last


@dataclass
class Stopwatch:
    """Elapsed time since a start point, as the larger of injected-clock and monotonic time."""

    clock: Clock
    started_clock: float = field(init=False)
    started_mono: float = field(init=False)

    def __post_init__(self) -> None:
        self.started_clock = self.clock()
        self.started_mono = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since start; the larger of the two clocks."""
        return max(self.clock() - self.started_clock, time.monotonic() - self.started_mono)
