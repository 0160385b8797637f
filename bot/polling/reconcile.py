"""Start-up: find the upstream jobs of creates a crash cut short, instead of failing them.

A task still ``submitting`` after a restart was being sent when the process died: the
upstream may have started its job (and charged for it) with the answer, and so the job's
id, lost. Re-sending could pay twice. When the upstream can list its recent jobs
(``capabilities().can_list``, the ``/v1/videos`` family), the job is looked for there
instead: one ``list_recent`` call, and a listed job is taken for a task when

* its prompt is the task's prompt (required: a listing without prompts, like LiteLLM's,
  never matches; handing someone another video is worse than failing),
* its model, size and seconds agree with the task's where the listing shows them, and a
  remix's source agrees with the task's parent,
* it was created within ``[task.created_at - CLOCK_SKEW, task.created_at + CREATE_WINDOW]``,
* no task holds its id already, and no other task took it in this round.

Among several candidates the one created closest to the task wins; tasks are matched
oldest first. A match is recorded as submitted (and polled at once, normally); the rest
fail as before (``Poller.recover``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from bot.core import errors
from bot.core.models import TaskStatus, VideoTask
from bot.storage.async_store import AsyncTaskStore
from bot.upstream import UpstreamJob, VideoProvider

log = logging.getLogger(__name__)

#: How many recent jobs one reconciliation lists (the Videos API's page maximum).
LIST_LIMIT = 100
#: A job may look created this long before its task's row (the two clocks disagree).
CLOCK_SKEW = timedelta(seconds=60)
#: ... and this long after it (a create can wait out several 429s before it gets through).
CREATE_WINDOW = timedelta(seconds=600)


def _agrees(listed: str | None, ours: object) -> bool:
    return listed is None or listed == str(ours)


def fits(task: VideoTask, job: UpstreamJob) -> bool:
    """Whether ``job`` can be the lost answer to ``task``'s create (see the module doc)."""
    if job.prompt is None or job.prompt != task.prompt or job.created_at is None:
        return False
    if not (_agrees(job.model, task.model) and _agrees(job.size, task.size)):
        return False
    if not _agrees(job.seconds, task.seconds):
        return False
    parent = task.metadata.get("remix_from_external")
    if job.remixed_from is not None and job.remixed_from != parent:
        return False
    earliest = task.created_at - CLOCK_SKEW
    return earliest <= job.created_at <= task.created_at + CREATE_WINDOW


def match_interrupted(
    tasks: Sequence[VideoTask], listed: Iterable[UpstreamJob], taken: set[str]
) -> dict[str, UpstreamJob]:
    """Task id -> its listed job, each job used at most once and never one in ``taken``."""
    jobs = list(listed)
    used = set(taken)
    matches: dict[str, UpstreamJob] = {}
    for task in sorted(tasks, key=lambda t: (t.created_at, t.id)):
        candidates = [job for job in jobs if job.id not in used and fits(task, job)]
        if not candidates:
            continue
        best = min(candidates, key=lambda job: abs(_created(job) - task.created_at))
        matches[task.id] = best
        used.add(best.id)
    return matches


def _created(job: UpstreamJob) -> datetime:
    assert job.created_at is not None, "only jobs with a creation time fit"
    return job.created_at


async def reconcile_interrupted(
    store: AsyncTaskStore, upstream: VideoProvider, tasks: Sequence[VideoTask], now: datetime
) -> set[str]:
    """Record as submitted every task whose job the upstream lists; return their ids.

    Nothing is sent but one list request; an upstream that cannot list (or fails to)
    reconciles nothing.
    """
    if not tasks or not upstream.capabilities().can_list:
        return set()
    try:
        listed = await upstream.list_recent(limit=LIST_LIMIT)
    except errors.UpstreamError as exc:
        log.warning("could not list recent upstream jobs to reconcile: %s", exc.user_message)
        return set()
    taken = await store.upstream_ids_in_use([job.id for job in listed])
    matches = match_interrupted(tasks, listed, taken)
    for task_id, job in matches.items():
        # Polled at once, so a job that already finished is completed the normal way.
        status = TaskStatus.QUEUED if job.status is TaskStatus.QUEUED else TaskStatus.IN_PROGRESS
        await store.mark_submitted(
            task_id,
            upstream_id=job.id,
            status=status,
            progress=min(job.progress, 99),
            next_poll_at=now,
        )
        log.info("task %s: interrupted create found upstream as %s; resumed", task_id, job.id)
    return set(matches)
