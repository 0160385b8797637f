"""How big one poll round is, and claiming it: sized by the request budget, not fixed.

A round takes as many due tasks as its requests can answer: a list page answers up to
``PAGE_SIZE`` tasks, a retrieve one, and the budget says how many requests there are
(what is free now, and what frees up at the current rate before the next round). It is
claimed ``batch_size`` tasks per transaction, at most ``max_tasks_per_round`` in all.
"""

from __future__ import annotations

import math
from datetime import datetime

from bot.config import PollerConfig
from bot.core.models import VideoTask
from bot.polling.list_polling import PAGE_SIZE
from bot.storage.async_store import AsyncTaskStore

#: How long a claimed task is hidden from other claims while it is being polled or delivered.
#: Rounds of one process never overlap (``_tick_lock``), so the lease only matters after a
#: crash: it is how long the next process waits before taking over the dead one's claims
#: (a video posted just before the crash is recorded, or posted, only then). Long enough for
#: a normal poll or delivery, short enough that a restart resumes promptly.
LEASE_SECONDS = 30.0


def round_size(settings: PollerConfig, rate: float, allowance: int, *, listing: bool) -> int:
    """How many due tasks one round takes, given ``allowance`` requests free now."""
    paced = max(allowance, math.ceil(rate * settings.tick_seconds))
    answerable = paced * PAGE_SIZE if listing else paced
    return min(settings.max_tasks_per_round, answerable)


async def claim_round(
    store: AsyncTaskStore, now: datetime, count: int, batch_size: int
) -> list[VideoTask]:
    """Claim up to ``count`` due tasks (oldest due first), ``batch_size`` per transaction."""
    tasks: list[VideoTask] = []
    while len(tasks) < count:
        limit = min(batch_size, count - len(tasks))
        batch = await store.claim_due(now, limit=limit, lease_seconds=LEASE_SECONDS)
        tasks += batch
        if len(batch) < limit:
            break
    return tasks
