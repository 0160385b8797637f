"""A tiny "something changed" broadcast so test drivers can await state without polling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ChangeSignal:
    """Wakes every waiter whenever the emulator's state changes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake current waiters; later waiters wait for the next change."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(
        self,
        probe: Callable[[], T | None],
        timeout: float,
        what: str,
        *,
        poll: float | None = None,
    ) -> T:
        """Return the first truthy ``probe()`` result, re-checking after each change.

        ``poll`` also re-checks every that many seconds, for conditions outside the emulator
        (e.g. the bot's own state). Raises ``TimeoutError`` naming ``what`` on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = probe()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
            try:
                await asyncio.wait_for(self._event.wait(), min(remaining, poll or remaining))
            except TimeoutError:
                continue
