"""What Discord answered the bot's REST requests: 429s by scope, invalid requests.

Discord bans an IP for a while after 10,000 *invalid* requests in 10 minutes: answers
401, 403 and 429, except a 429 whose ``X-RateLimit-Scope`` is ``shared`` (a limit
shared with other apps, not the bot's fault) (Discord docs, "Rate Limits", "Invalid
Request Limit"). A 429 without that header comes from Cloudflare, not from Discord's
API (counted as scope ``cloudflare``). discord.py sends every request through aiohttp,
whose trace hooks (``discord.Client(http_trace=...)``) see every answer, retries
included: this module counts them there.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aiohttp

#: Discord's window and threshold for the invalid-request ban.
INVALID_WINDOW_SECONDS = 600.0
INVALID_LIMIT = 10_000
INVALID_STATUSES = (401, 403, 429)


class DiscordRequestStats:
    """Counts of Discord's answers; ``trace_config()`` feeds it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.answered: Counter[int] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self._invalid: deque[float] = deque()

    def trace_config(self) -> aiohttp.TraceConfig:
        """The aiohttp trace config to pass as discord.py's ``http_trace``."""
        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._on_request_end)
        return trace

    async def _on_request_end(
        self, _session: aiohttp.ClientSession, _context: SimpleNamespace, params: Any
    ) -> None:
        response = params.response
        self.record(response.status, response.headers.get("X-RateLimit-Scope"))

    def record(self, status: int, scope: str | None) -> None:
        """One answer from Discord (or from Cloudflare in front of it)."""
        self.answered[status] += 1
        if status == 429:
            self.rate_limited[scope or "cloudflare"] += 1
        if status in INVALID_STATUSES and not (status == 429 and scope == "shared"):
            self._invalid.append(self.clock())

    def invalid_last_10_minutes(self) -> int:
        """Invalid requests inside Discord's sliding window (the ban comes at 10,000)."""
        horizon = self.clock() - INVALID_WINDOW_SECONDS
        while self._invalid and self._invalid[0] < horizon:
            self._invalid.popleft()
        return len(self._invalid)
