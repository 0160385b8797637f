"""How many requests the poller may send the upstream now: a pure, clock-driven budget.

Why: relays limit requests per key (OpenAI per minute and model, new-api's
``ModelRequestRateLimit`` per user over minutes, LiteLLM's ``rpm_limit`` over a sliding
60 s; sources in ``bot.emulators.upstream_rate_limit``). A poller that sends a fixed
batch whatever the upstream says either wastes its capacity or runs into 429s. The
budget is a sliding window sized by AIMD, as TCP sizes its window:

* at most ``capacity`` requests in any ``span`` seconds, where ``capacity`` is
  ``rate * window`` (at least one) and ``span = capacity / rate`` plus a 5 % margin
  (requests are counted when sent, the upstream counts them when they arrive); ``rate``
  starts at the configured ``ceiling`` (requests per second);
* a 429 multiplies ``rate`` by ``decrease`` (0.7, CUBIC's factor: halving, as classic
  AIMD does, spends long stretches far below a limit it only just crossed; never below
  ``floor``) and pauses every request for the
  upstream's Retry-After, or, without one, for ``default_pause`` doubled on each 429 in
  a row (up to ``max_pause``); 429s answered during the pause were sent before it and
  count once;
* each ``span`` that passes with successful answers and no 429 gives ``increase``
  requests per second back, up to the ceiling;
* an answer saying ``x-ratelimit-remaining-requests: 0`` pauses until its reset.

Times are seconds on any monotonic scale the caller chooses (the poller uses its clock's
timestamps, so simulated time drives it in tests and benchmarks).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RateSignal:
    """What one upstream answer said about the rate limit (None: not said)."""

    status: int
    retry_after: float | None = None
    remaining: int | None = None
    reset: float | None = None  # seconds until the limit is back to its initial state

    @property
    def refused(self) -> bool:
        """The request was refused for the rate limit (HTTP 429)."""
        return self.status == 429


@dataclass(kw_only=True)
class RequestBudget:
    """A sliding window of sent requests whose size follows the upstream's answers."""

    ceiling: float
    window: float = 1.0
    floor: float = 0.2
    decrease: float = 0.7
    increase: float = 1.0
    default_pause: float = 1.0
    max_pause: float = 60.0
    margin: float = 0.05
    rate: float = field(init=False)
    paused_until: float = field(default=-math.inf, init=False)
    rate_limited_count: int = field(default=0, init=False)
    _sent: deque[float] = field(default_factory=deque, init=False, repr=False)
    _strikes: int = field(default=0, init=False, repr=False)
    _changed_at: float = field(default=-math.inf, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.ceiling <= 0 or self.window <= 0:
            raise ValueError("ceiling and window must be positive")
        self.floor = min(self.floor, self.ceiling)
        self.rate = self.ceiling

    @property
    def capacity(self) -> int:
        """Requests the window holds at the current rate (at least one)."""
        return max(1, math.floor(self.rate * self.window))

    @property
    def span(self) -> float:
        """Seconds the window covers: ``capacity`` requests at ``rate``, plus ``margin``
        (a request is counted when sent, the upstream counts it when it arrives)."""
        return self.capacity / self.rate * (1.0 + self.margin)

    def allowance(self, now: float) -> int:
        """How many requests may be sent at ``now`` (0 while paused)."""
        if now < self.paused_until:
            return 0
        self._forget(now)
        return max(0, self.capacity - len(self._sent))

    def wait_time(self, now: float) -> float:
        """Seconds until one more request may be sent."""
        if now < self.paused_until:
            return self.paused_until - now
        self._forget(now)
        if len(self._sent) < self.capacity:
            return 0.0
        return max(0.0, self._sent[0] + self.span - now)

    def spend(self, now: float) -> None:
        """Count one request sent at ``now``."""
        self._sent.append(now)

    def observe(self, now: float, signal: RateSignal) -> None:
        """Learn from one answer: a 429 shrinks and pauses, a success may grow."""
        if signal.refused:
            self._refused(now, signal.retry_after)
            return
        if signal.remaining is not None and signal.remaining <= 0:
            wait = signal.reset if signal.reset is not None else self.default_pause
            self.paused_until = max(self.paused_until, now + min(wait, self.max_pause))
        if now - self._changed_at >= self.span:
            self._strikes = 0
            if self.rate < self.ceiling:
                self.rate = min(self.ceiling, self.rate + self.increase)
                self._changed_at = now

    def _refused(self, now: float, retry_after: float | None) -> None:
        """A 429. Those answered while already paused were sent before the pause: they
        only make it longer when they say so (one 429 episode shrinks the rate once)."""
        self.rate_limited_count += 1
        if now < self.paused_until:
            if retry_after is not None:
                self.paused_until = max(self.paused_until, now + retry_after)
            return
        self.rate = max(self.floor, self.rate * self.decrease)
        self._changed_at = now
        if retry_after is None:
            pause = min(self.max_pause, self.default_pause * 2.0**self._strikes)
        else:
            pause = retry_after
        self._strikes += 1
        self.paused_until = max(self.paused_until, now + pause)

    def _forget(self, now: float) -> None:
        """Drop sends older than the window; never keep more than the window can hold."""
        horizon = now - self.span
        while self._sent and (self._sent[0] <= horizon or len(self._sent) > self.capacity):
            self._sent.popleft()
