"""One poll round's database work, as ``bench.scale`` times it, with its baselines.

A round claims a batch of due tasks and records one poll result per task (here every
poll finds progress, the usual case). Each function runs on the store's worker thread
(through ``AsyncTaskStore.call``) and returns its wall times, so the figures are the
time the worker is busy, without the event loop's hops; the ``*_calls`` coroutines do
the same work as separate awaited calls, hops included.

* "before": ``claim_due`` + one ``update_progress`` per task, each its own transaction
  (what the poller does today);
* "after": ``claim_due`` + one ``update_progress_many`` for the round (one transaction;
  the poller can switch to it);
* the claim's query as it was before issue 14 (``status IN (...) ORDER BY next_poll_at``
  over every due row), select only, for the claim's own before/after.

Every update puts its task back into the backlog (``next_poll_at`` in the past), so the
backlog stays as deep for every round measured.
"""

from __future__ import annotations

import time
from datetime import timedelta

from bot.core.clock import utc_now
from bot.core.models import TaskStatus, VideoTask
from bot.polling.poller import LEASE_SECONDS
from bot.storage.async_store import AsyncTaskStore
from bot.storage.codec import ACTIVE, SELECT, marks, to_db_time
from bot.storage.store import TaskStore
from bot.storage.tasks import ProgressUpdate

#: Updates put tasks back this far in the past, so the backlog stays as deep.
BACK_INTO_BACKLOG = timedelta(seconds=-601)
PLAIN_CLAIM_SQL = (
    f"{SELECT} WHERE status IN ({marks(ACTIVE)}) AND next_poll_at <= ?"
    " ORDER BY next_poll_at, id LIMIT ?"
)


def _updates(claimed: list[VideoTask]) -> list[ProgressUpdate]:
    back = utc_now() + BACK_INTO_BACKLOG
    return [
        ProgressUpdate(t.id, TaskStatus.IN_PROGRESS, min(99, t.progress + 3), back) for t in claimed
    ]


def one_by_one(store: TaskStore, batch: int) -> tuple[float, float]:
    """Before: claim, then ``update_progress`` per task; (claim s, round s)."""
    start = time.perf_counter()
    claimed = store.claim_due(utc_now(), limit=batch, lease_seconds=LEASE_SECONDS)
    claimed_at = time.perf_counter()
    for update in _updates(claimed):
        store.update_progress(
            update.task_id,
            status=update.status,
            progress=update.progress,
            next_poll_at=update.next_poll_at,
        )
    return claimed_at - start, time.perf_counter() - start


def batched(store: TaskStore, batch: int) -> tuple[float, float]:
    """After: claim, then one ``update_progress_many``; (claim s, round s)."""
    start = time.perf_counter()
    claimed = store.claim_due(utc_now(), limit=batch, lease_seconds=LEASE_SECONDS)
    claimed_at = time.perf_counter()
    store.update_progress_many(_updates(claimed))
    return claimed_at - start, time.perf_counter() - start


def plain_claim_select(store: TaskStore, batch: int) -> float:
    """The claim's select as it was before issue 14 (no lease written)."""
    db = store._core.db  # the bench runs the old SQL on the store's own connection
    start = time.perf_counter()
    db.execute(PLAIN_CLAIM_SQL, [*ACTIVE, to_db_time(utc_now()), batch]).fetchall()
    return time.perf_counter() - start


async def one_by_one_calls(store: AsyncTaskStore, batch: int) -> float:
    """Before, as the poller issues it: 1 + n awaited calls."""
    start = time.perf_counter()
    claimed = await store.claim_due(utc_now(), limit=batch, lease_seconds=LEASE_SECONDS)
    for update in _updates(claimed):
        await store.update_progress(
            update.task_id,
            status=update.status,
            progress=update.progress,
            next_poll_at=update.next_poll_at,
        )
    return time.perf_counter() - start


async def batched_calls(store: AsyncTaskStore, batch: int) -> float:
    """After: 2 awaited calls."""
    start = time.perf_counter()
    claimed = await store.claim_due(utc_now(), limit=batch, lease_seconds=LEASE_SECONDS)
    await store.update_progress_many(_updates(claimed))
    return time.perf_counter() - start


#: Measure names, in the order they are printed.
MEASURES = (
    "before: claim's plain IN query (select only)",
    "claim_due (select + lease)",
    "before: claim_due + n update_progress (n transactions)",
    "after: claim_due + update_progress_many (1 transaction)",
    "before: as 1 + n awaited calls",
    "after: as 2 awaited calls",
)


async def measure(store: AsyncTaskStore, batch: int, rounds: int) -> dict[str, list[float]]:
    """``rounds`` of each variant, alternating, for one batch size."""
    out: dict[str, list[float]] = {name: [] for name in MEASURES}
    for _ in range(rounds):
        out[MEASURES[0]].append(await store.call(plain_claim_select, batch))
        claim, total = await store.call(one_by_one, batch)
        out[MEASURES[1]].append(claim)
        out[MEASURES[2]].append(total)
        claim, total = await store.call(batched, batch)
        out[MEASURES[1]].append(claim)
        out[MEASURES[3]].append(total)
        out[MEASURES[4]].append(await one_by_one_calls(store, batch))
        out[MEASURES[5]].append(await batched_calls(store, batch))
    return out


def profile(store: TaskStore, batch: int, rounds: int) -> str:
    """A pyinstrument profile (text) of ``rounds`` of both variants, on this thread."""
    from pyinstrument import Profiler  # only with --profile

    profiler = Profiler(interval=0.0001, async_mode="disabled")
    with profiler:
        for _ in range(rounds):
            one_by_one(store, batch)
            batched(store, batch)
    return str(profiler.output_text(unicode=False, show_all=False))
