"""Polling many tasks with one request: pages of ``GET /videos``, newest first.

Where the dialect lists videos (the openai dialect: OpenAI itself and LiteLLM's proxy;
new-api has no list), one page of up to 100 jobs answers for every task on it. A round
walks pages (``after`` = the previous page's last id) until every task it claimed was
seen, the pages reach jobs created well before the oldest of them, the list ends, or
the request budget is spent; in that last case the next round goes on from there (and
goes round to the top once when it reaches the end), so with thousands in flight the
walks sweep the whole list instead of re-reading its first pages. What is left is
retrieved one by one by the caller.

* The key may be shared: a page also holds other users' jobs. Only jobs a task of ours
  holds count; the rest are ignored.
* A job on a page that belongs to an active task of ours that was not due yet is
  recorded too (a finished one is posted now): the page already paid for the news.
* A job on a page goes through the same recording as a retrieve (``store.complete``,
  ``fail``, ``update_progress`` with the next poll from the policy).
* A list that fails (not a 429) turns list polling off for ``LIST_BACKOFF`` and the
  round falls back to retrieves; a 429 stops the round (the budget pauses). Nothing
  claimed is lost: what was not seen is handed back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from bot.core import errors
from bot.core.clock import Clock
from bot.core.models import VideoTask
from bot.polling.request_budget import RequestGate
from bot.storage.async_store import AsyncTaskStore
from bot.upstream import UpstreamJob, VideoProvider
from bot.upstream.values import JobPage

log = logging.getLogger(__name__)

#: Jobs per page (the spec's maximum ``limit``).
PAGE_SIZE = 100
#: A round lists only when at least this many tasks are due (one retrieve is as cheap).
LIST_MIN_DUE = 2
#: How long list polling stays off after a list request failed.
LIST_BACKOFF = timedelta(minutes=5)
#: Pages stop once they reach jobs this much older than the oldest task looked for
#: (room for the relay's clock and ours to differ).
CLOCK_SLACK = timedelta(minutes=10)

#: Records one job's state for one task (the poller's retrieve path, minus the request).
Record = Callable[[VideoTask, UpstreamJob], Awaitable[None]]


class ListPoller:
    """Answers due tasks from list pages; says which ones the pages did not show."""

    def __init__(
        self, *, store: AsyncTaskStore, upstream: VideoProvider, gate: RequestGate, clock: Clock
    ) -> None:
        self.store = store
        self.upstream = upstream
        self.gate = gate
        self.clock = clock
        self.off_until: datetime | None = None
        #: Where the next walk starts when the last one ran out of budget (None: the top).
        self.resume_after: str | None = None
        #: List pages requested (for benchmarks and logs).
        self.pages = 0

    def usable(self, now: datetime) -> bool:
        """Whether this round may list (the dialect lists and the last list worked)."""
        if not self.upstream.capabilities().can_list:
            return False
        return self.off_until is None or now >= self.off_until

    async def poll(
        self, tasks: Sequence[VideoTask], record: Record, deadline: float
    ) -> list[VideoTask]:
        """Record every task of ``tasks`` a page shows; return the others."""
        pending = {task.upstream_id: task for task in tasks if task.upstream_id}
        claimed = set(pending)
        oldest = min(task.created_at for task in tasks) - CLOCK_SLACK
        after, wrapped = self.resume_after, self.resume_after is None
        self.resume_after = None
        while pending:
            if not await self.gate.take(deadline):
                self.resume_after = after  # the next round goes on from here
                break
            page = await self._page(after)
            if page is None:
                break
            for job in page.jobs:
                task = pending.pop(job.id, None)
                if task is not None:
                    await record(task, job)
            await self._record_others(page, claimed, record)
            if page.has_more and page.last_id is not None and not _older_than(page, oldest):
                after = page.last_id
            elif wrapped:
                break
            else:  # the sweep began mid-list: go round once, from the top
                after, wrapped = None, True
        return [task for task in tasks if task.upstream_id in pending or not task.upstream_id]

    async def _page(self, after: str | None) -> JobPage | None:
        """One page, or None when the list failed (then list polling pauses)."""
        self.pages += 1
        try:
            return await self.upstream.list_page(limit=PAGE_SIZE, after=after)
        except errors.RateLimited:
            log.info("the video list was rate limited; the round stops")
        except errors.UpstreamError as exc:
            self.off_until = self.clock() + LIST_BACKOFF
            log.warning(
                "listing videos failed (%s); polling one by one for %d minutes",
                exc.failure_code,
                LIST_BACKOFF.total_seconds() // 60,
            )
        return None

    async def _record_others(self, page: JobPage, claimed: set[str], record: Record) -> None:
        """Jobs on the page of active tasks of ours this round did not claim (not due).

        The page already paid for their news: each is recorded as a poll would, so a
        finished one is posted now and the rest are looked at again when the policy says.
        """
        jobs = {job.id: job for job in page.jobs if job.id not in claimed}
        if not jobs:
            return
        for task in await self.store.active_by_upstream_ids(list(jobs)):
            if task.upstream_id in jobs:
                await record(task, jobs[task.upstream_id])


def _older_than(page: JobPage, oldest: datetime) -> bool:
    """Whether the page already reached jobs created before ``oldest``."""
    last = page.jobs[-1].created_at if page.jobs else None
    if last is None or last.tzinfo is None:  # an ISO time without a zone: do not guess
        return False
    return last < oldest
