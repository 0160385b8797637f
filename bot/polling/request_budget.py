"""The poller's request gate: the pure ``RequestBudget`` on the poller's clock.

Every poll request (a retrieve or a list page) takes a slot first. A round that finds
no free slot waits for one, but only until its deadline (the next round's start), and
only while the clock moves: under a simulated clock (tests, benchmarks) time passes
between rounds, not during one, so the rest of the work waits for the next round.
What the upstream answers (a 429, its Retry-After, ``x-ratelimit-remaining-requests``)
reaches the budget through ``observe``, which the adapter's transport calls for every
answer, so a 429 stops the round's other requests at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bot.config import PollerConfig
from bot.core.clock import Clock
from bot.core.request_budget import RateSignal, RequestBudget

#: How many times one request waits for a slot before the round gives up on it.
MAX_WAITS = 50


def budget_from_config(settings: PollerConfig) -> RequestBudget:
    """The budget the ``[poller]`` settings describe."""
    return RequestBudget(ceiling=settings.max_requests_per_second)


class RequestGate:
    """Hands out request slots from ``budget``, pacing a round when it runs out."""

    def __init__(
        self,
        budget: RequestBudget,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.budget = budget
        self.clock = clock
        self._sleep = sleep

    def now(self) -> float:
        """The poller's clock as seconds."""
        return self.clock().timestamp()

    def observe(self, signal: RateSignal) -> None:
        """One upstream answer's news about the rate limit."""
        self.budget.observe(self.now(), signal)

    def allowance(self) -> int:
        """Requests that may be sent right now."""
        return self.budget.allowance(self.now())

    def wait_time(self) -> float:
        """Seconds until the next request may be sent."""
        return self.budget.wait_time(self.now())

    def paused(self) -> bool:
        """True while a 429 (or a used-up limit) holds every request back."""
        return self.now() < self.budget.paused_until

    def resume_at(self) -> datetime:
        """When requests may start again (now, unless paused)."""
        return datetime.fromtimestamp(max(self.now(), self.budget.paused_until), UTC)

    async def take(self, deadline: float) -> bool:
        """One request slot; waits for one up to ``deadline`` (clock seconds), else False."""
        for _ in range(MAX_WAITS):
            now = self.now()
            if self.budget.allowance(now) > 0:
                self.budget.spend(now)
                return True
            wait = self.budget.wait_time(now)
            if now + wait > deadline or not await self._clock_moves(now):
                return False
            await self._sleep(wait)
        return False

    async def pace(self) -> None:
        """Before a 429-refused request is re-sent: wait for a slot and take it.

        The re-send happens anyway (the transport owns it); this only makes it wait
        for the budget, as long as it takes (a simulated clock cannot wait: it goes).
        """
        for _ in range(MAX_WAITS):
            now = self.now()
            if self.budget.allowance(now) > 0 or not await self._clock_moves(now):
                break
            await self._sleep(self.budget.wait_time(now))
        self.budget.spend(self.now())

    async def _clock_moves(self, before: float) -> bool:
        """False under a simulated clock, which stands still during a round."""
        await asyncio.sleep(0)
        return self.now() > before
