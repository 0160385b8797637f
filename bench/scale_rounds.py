"""One poll round's database work, as ``bench.scale`` times it, with its baselines.

A round claims a batch of due tasks and records one poll result per task (here every
poll finds progress, the usual case). Each function runs on the store's worker thread
(through ``AsyncTaskStore.call``) and returns its wall times, so the figures are the
time the worker is busy, without the event loop's hops; the ``*_calls`` coroutines do
the same work as separate awaited calls, hops included.

* "before": the claim as it was before issue 14 (``status IN (...) ORDER BY
  next_poll_at`` over every due row, one ``UPDATE`` and one ``replace`` per task,
  rebuilt here from the same SQL) + one ``update_progress`` per task, each its own
  transaction;
* "today": ``claim_due`` + one ``update_progress`` per task (what the poller does now);
* "after": ``claim_due`` + one ``update_progress_many`` for the round (one transaction;
  the poller can switch to it).

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
from bot.storage.codec import ACTIVE, from_db_time, marks, to_db_time
from bot.storage.store import TaskStore
from bot.storage.tasks import ProgressUpdate

#: Updates put tasks back this far in the past, so the backlog stays as deep.
BACK_INTO_BACKLOG = timedelta(seconds=-601)
PLAIN_CLAIM_TAIL = (
    f"WHERE status IN ({marks(ACTIVE)}) AND next_poll_at <= ? ORDER BY next_poll_at, id LIMIT ?"
)


def _updates(claimed: list[VideoTask]) -> list[ProgressUpdate]:
    back = utc_now() + BACK_INTO_BACKLOG
    return [
        ProgressUpdate(t.id, TaskStatus.IN_PROGRESS, min(99, t.progress + 3), back) for t in claimed
    ]


def claim_before(store: TaskStore, batch: int) -> list[VideoTask]:
    """``claim_due`` as it was before issue 14 (the bench reaches the store's core)."""
    core, now = store._core, utc_now()
    until = now + timedelta(seconds=LEASE_SECONDS)
    with core.write():
        due = core.select(PLAIN_CLAIM_TAIL, [*ACTIVE, to_db_time(now), batch])
        for task in due:
            core.update(task.id, {"next_poll_at": until})
    return [task.replace(next_poll_at=from_db_time(to_db_time(until))) for task in due]


def _claim_today(store: TaskStore, batch: int) -> list[VideoTask]:
    return store.claim_due(utc_now(), limit=batch, lease_seconds=LEASE_SECONDS)


def one_by_one(store: TaskStore, batch: int, *, before: bool = False) -> tuple[float, float]:
    """Claim (as before, or today's), then ``update_progress`` per task; (claim s, round s)."""
    start = time.perf_counter()
    claimed = (claim_before if before else _claim_today)(store, batch)
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
    "before: claim as before issue 14",
    "claim_due",
    "before: old claim + n update_progress (n transactions)",
    "today: claim_due + n update_progress (n transactions)",
    "after: claim_due + update_progress_many (1 transaction)",
    "today: as 1 + n awaited calls",
    "after: as 2 awaited calls",
)


async def measure(store: AsyncTaskStore, batch: int, rounds: int) -> dict[str, list[float]]:
    """``rounds`` of each variant, alternating, for one batch size."""
    out: dict[str, list[float]] = {name: [] for name in MEASURES}
    for _ in range(rounds):
        claim, total = await store.call(one_by_one, batch, before=True)
        out[MEASURES[0]].append(claim)
        out[MEASURES[2]].append(total)
        claim, total = await store.call(one_by_one, batch)
        out[MEASURES[1]].append(claim)
        out[MEASURES[3]].append(total)
        claim, total = await store.call(batched, batch)
        out[MEASURES[1]].append(claim)
        out[MEASURES[4]].append(total)
        out[MEASURES[5]].append(await one_by_one_calls(store, batch))
        out[MEASURES[6]].append(await batched_calls(store, batch))
    return out


def profile(store: TaskStore, batch: int, rounds: int) -> str:
    """A pyinstrument profile (text) of ``rounds`` of both variants, on this thread."""
    from pyinstrument import Profiler  # only with --profile

    profiler = Profiler(interval=0.0001, async_mode="disabled")
    with profiler:
        for _ in range(rounds):
            one_by_one(store, batch, before=True)
            one_by_one(store, batch)
            batched(store, batch)
    return str(profiler.output_text(unicode=False, show_all=False))
