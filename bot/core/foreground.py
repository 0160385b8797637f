"""First answers first: background work steps aside while a person waits for a first response.

Why: one event loop runs everything — the first responses Discord needs within 3 s, the
rest of each command (the upstream create, the card), the poller, the card edits and the
posts. asyncio runs ready work in arrival order, so a burst of 50 commands, or a member
typing into an autocomplete while that burst is answered, waits behind everyone's later
steps and every poll that happens to be ready. ``Foreground`` is the one priority rule:
the Discord layer registers every interaction the moment the gateway hands it over
(``arrived``, with a way to tell it was answered); work that nobody is waiting on at this
millisecond awaits ``idle()`` at its next step, which returns once no interaction is
still unanswered (or after ``max_wait``, so nothing can starve it).

Nothing here is state a restart would lose: it only orders work inside one process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

#: Discord gives 3 s for a first response; an interaction still unanswered then is lost
#: anyway (or answered by an error path) and no longer holds anything back.
ANSWER_DEADLINE_S = 3.0
#: The longest a background step waits for first responses, so a stream of them can slow
#: background work but never stop it.
MAX_WAIT_S = 0.25
#: How often a waiting step looks again (interactions are answered by discord.py, which
#: has no "answered" event to wake us).
CHECK_EVERY_S = 0.001


class Foreground:
    """Interactions waiting for their first response, and the wait background work does."""

    def __init__(
        self,
        *,
        deadline: float = ANSWER_DEADLINE_S,
        max_wait: float = MAX_WAIT_S,
        check_every: float = CHECK_EVERY_S,
    ) -> None:
        self.deadline = deadline
        self.max_wait = max_wait
        self.check_every = check_every
        self._waiting: list[tuple[float, Callable[[], bool]]] = []

    def arrived(self, answered: Callable[[], bool]) -> None:
        """An interaction arrived; ``answered()`` turns true once its first response is sent."""
        self._waiting.append((_now(), answered))

    def unanswered(self) -> int:
        """How many interactions still wait for a first response (forgets the answered)."""
        if self._waiting:
            oldest_kept = _now() - self.deadline
            self._waiting = [
                (at, answered)
                for at, answered in self._waiting
                if at > oldest_kept and not answered()
            ]
        return len(self._waiting)

    async def idle(self) -> None:
        """Return once no interaction waits for a first response, or after ``max_wait``."""
        if not self.unanswered():
            return
        give_up = _now() + self.max_wait
        # discord.py has no "answered" event to wait on: look again every millisecond.
        while self.unanswered() and _now() < give_up:  # noqa: ASYNC110
            await asyncio.sleep(self.check_every)


def _now() -> float:
    return asyncio.get_running_loop().time()
