"""When to ask the upstream about a task next: a pure function of what we know.

Why this shape: a Sora job takes minutes and a relay may bill or rate-limit per
request, so polling every task every few seconds wastes most requests. The
policy estimates when the job will finish and polls then:

* right after submission, wait ``first_poll`` (no job finishes faster);
* while queued (no progress yet), back off geometrically up to ``max_interval``;
* while running with progress ``p`` after ``elapsed`` seconds, the remaining
  time is about ``elapsed * (100 - p) / p``; poll then, never sooner than
  ``min_interval`` nor later than ``max_interval`` (the cap bounds how late a
  job that finishes early can be noticed);
* an upstream hint (``openai-poll-after-ms``) is a floor;
* failures back off exponentially to ``error_cap``; a 429's Retry-After is a floor.

Jitter (plus or minus ``jitter``) spreads tasks submitted together so that many
tasks never poll in one burst.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.models import TaskStatus


@dataclass(frozen=True, kw_only=True)
class PollPolicy:
    """Delays, in seconds, between polls of one task."""

    first_poll: float = 10.0
    min_interval: float = 3.0
    max_interval: float = 30.0
    queued_growth: float = 1.5
    error_base: float = 5.0
    error_cap: float = 300.0
    jitter: float = 0.1
    rng: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def after_submit(self) -> float:
        """Delay before the first poll of a freshly submitted task."""
        return self._jittered(self.first_poll)

    def next_delay(
        self,
        *,
        status: TaskStatus,
        progress: int,
        elapsed: float,
        queued_polls: int = 0,
        hint: float | None = None,
    ) -> float:
        """Delay after a successful poll that left the task active."""
        if status is TaskStatus.IN_PROGRESS and 0 < progress < 100 and elapsed > 0:
            remaining = elapsed * (100 - progress) / progress
            delay = min(max(remaining, self.min_interval), self.max_interval)
        else:
            delay = min(
                self.first_poll * self.queued_growth ** max(queued_polls, 0), self.max_interval
            )
            delay = max(delay, self.min_interval)
        if hint is not None:
            delay = max(delay, hint)
        return self._jittered(delay)

    def after_error(self, failures: int, *, retry_after: float | None = None) -> float:
        """Delay after ``failures`` consecutive failed polls (1 = the first failure)."""
        delay = self._jittered(min(self.error_base * 2 ** max(failures - 1, 0), self.error_cap))
        return max(delay, retry_after) if retry_after is not None else delay

    def _jittered(self, delay: float) -> float:
        spread = delay * self.jitter
        return max(0.0, delay - spread + 2 * spread * self.rng())
