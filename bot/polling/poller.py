"""The poller: turns upstream progress into store updates and Discord posts.

Two APScheduler interval jobs, kept apart so that a channel Discord slows down never
delays polling for anyone:

* ``poll_tick`` claims the tasks whose next poll is due (the store pushes their
  ``next_poll_at`` forward as a lease, so nothing is polled twice), asks the upstream
  about each with bounded concurrency and writes what changed. A status card that
  should show the change is only *marked* as owed an edit (``bot.delivery.outbox``).
* ``delivery_tick`` hands over to the deliverer (``bot.delivery.deliverer``), which
  posts every terminal task whose outcome is still owed, exactly once, and then edits
  the owed cards per channel within Discord's budget: results before progress.

``tick`` runs both, one after the other (tests, benchmarks). The scheduler holds
nothing a restart would lose: all state lives in the task table, so a new process
simply resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import MediaConfig, PollerConfig
from bot.core import errors
from bot.core.clock import Clock, utc_now
from bot.core.errors import FailureCode
from bot.core.foreground import Foreground
from bot.core.models import TaskStatus, VideoTask
from bot.core.poll_policy import PollPolicy
from bot.delivery.deliverer import Deliverer, DeliverySettings
from bot.delivery.media import VideoFitter, make_transcoder
from bot.delivery.media_links import originals_for
from bot.delivery.notifier import Notifier
from bot.delivery.outbox import CardEdits
from bot.polling.list_polling import LIST_MIN_DUE, ListPoller
from bot.polling.reconcile import reconcile_interrupted
from bot.polling.request_budget import RequestGate, budget_from_config
from bot.polling.rounds import LEASE_SECONDS, claim_round, round_size
from bot.storage.async_store import AsyncTaskStore
from bot.upstream import UpstreamJob, VideoProvider

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

JOB_ID = "sora-bot-poller"
DELIVERY_JOB_ID = "sora-bot-delivery"
#: Consecutive "unknown task" answers before a task is failed (relays can lag just after a create).
NOT_FOUND_LIMIT = 3


@dataclass(kw_only=True)
class TickSummary:
    """What one tick did; logged and returned for tests and benchmarks."""

    polled: int = 0
    changed: int = 0
    completed: int = 0
    failed: int = 0
    errors: int = 0
    delivered: int = 0
    delivery_retries: int = 0
    undeliverable: int = 0
    card_edits: int = 0
    skipped_rate_limited: bool = False
    messages: list[str] = field(default_factory=list)


class Poller:
    """Polls active tasks, then has the deliverer post finished ones."""

    def __init__(
        self,
        *,
        store: AsyncTaskStore,
        upstream: VideoProvider,
        notifier: Notifier,
        settings: PollerConfig,
        media_dir: Path,
        policy: PollPolicy | None = None,
        clock: Clock = utc_now,
        on_tick: Callable[[TickSummary], None] | None = None,
        media: MediaConfig | None = None,
        dispatch: Callable[[], Awaitable[Sequence[VideoTask]]] | None = None,
        foreground: Foreground | None = None,
    ) -> None:
        self.store = store
        self.upstream = upstream
        self.notifier = notifier
        self.settings = settings
        self.policy = policy or PollPolicy()
        self.clock = clock
        self.paused_until: datetime | None = None
        self.last_tick_at: datetime | None = None
        #: Called with every round's summary (metrics); an error in it is only logged.
        self.on_tick = on_tick
        #: Starts waiting tasks that fit now (the fair queue), after each poll round.
        self.dispatch = dispatch
        #: Each poll waits while an interaction waits for its first response.
        self.foreground = foreground or Foreground()
        self.gate = RequestGate(budget_from_config(settings), clock)
        upstream.watch_answers(self.gate.observe, self.gate.pace)
        self.lister = ListPoller(store=store, upstream=upstream, gate=self.gate, clock=clock)
        self._poll_lock = asyncio.Lock()
        self._delivery_lock = asyncio.Lock()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.cards = CardEdits(
            store=store,
            notifier=notifier,
            per_minute=settings.card_edits_per_channel_per_minute,
            min_interval=settings.card_edit_interval,
            concurrency=settings.concurrency,
            clock=clock,
        )
        self.deliverer = self._make_deliverer(media_dir, media or MediaConfig())

    def _make_deliverer(self, media_dir: Path, media: MediaConfig) -> Deliverer:
        settings = self.settings
        return Deliverer(
            store=self.store,
            upstream=self.upstream,
            notifier=self.notifier,
            settings=DeliverySettings(
                batch_size=settings.batch_size,
                concurrency=settings.concurrency,
                max_attempts=settings.delivery_max_attempts,
                deadline=settings.delivery_deadline,
                media_dir=media_dir,
                lease_seconds=LEASE_SECONDS,
                max_download_bytes=media.max_download_bytes,
            ),
            policy=self.policy,
            clock=self.clock,
            fitter=VideoFitter(media_dir=media_dir, transcoder=make_transcoder(media)),
            originals=originals_for(media, media_dir, self.clock),
        )

    def schedule(self, scheduler: AsyncIOScheduler, *, every_seconds: float) -> None:
        """Add the two interval jobs: polling, and posting (results, then card edits).

        Apart, so a channel that Discord slows down never delays polling for anyone.
        """
        for job_id, round_ in ((JOB_ID, self.poll_tick), (DELIVERY_JOB_ID, self.delivery_tick)):
            scheduler.add_job(
                round_,
                "interval",
                seconds=every_seconds,
                id=job_id,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=30,
                next_run_time=utc_now(),
            )

    async def recover(self) -> int:
        """Start-up: resume everything now, and settle creates a crash left undecided.

        Claims and backoffs left by a previous process are released, so in-flight tasks
        and owed posts are looked at on the first rounds. A task still ``submitting`` may
        or may not have reached the upstream; re-sending could pay twice. When the
        upstream lists its recent jobs, the task's job is looked for there and, if found,
        the task resumes with it (``bot.polling.reconcile``); otherwise it is failed with
        a clear reason and its author is told (like any other failure). Returns how many
        tasks were found ``submitting``.
        """
        released = await self.store.release_claims(self.clock())
        if released:
            log.info(
                "released %d polls and deliveries left scheduled by the previous run", released
            )
        stale = await self.cards.seed()
        if stale:
            log.info("%d status cards left behind by the previous run will be edited", stale)
        interrupted = await self.store.interrupted_submissions()
        resumed = await reconcile_interrupted(self.store, self.upstream, interrupted, self.clock())
        for task in interrupted:
            if task.id in resumed:
                continue
            await self.store.fail(
                task.id,
                code=FailureCode.SUBMISSION_INTERRUPTED,
                message=(
                    "The bot restarted while sending this request. It was not re-sent, "
                    "to avoid paying twice; please try again."
                ),
            )
            log.warning("task %s: submission interrupted by a restart; failed", task.id)
        return len(interrupted)

    async def tick(self) -> TickSummary:
        """One whole round: poll what is due, then post what is owed, then edit cards."""
        summary = TickSummary()
        await self._guarded(self._poll_lock, self._poll_round(summary))
        await self._guarded(self._delivery_lock, self._delivery_round(summary))
        self._report(summary)
        return summary

    async def poll_tick(self) -> TickSummary:
        """The polling job: poll what is due (card edits are only marked as owed)."""
        summary = TickSummary()
        await self._guarded(self._poll_lock, self._poll_round(summary))
        self._report(summary)
        return summary

    async def delivery_tick(self) -> TickSummary:
        """The posting job: results and failure notices, then the card edits owed."""
        summary = TickSummary()
        await self._guarded(self._delivery_lock, self._delivery_round(summary))
        self._report(summary)
        return summary

    async def _guarded(self, lock: asyncio.Lock, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` behind ``lock`` as its own task behind ``asyncio.shield``.

        When the scheduler is shut down and cancels the job, the round still finishes
        its writes, and ``drain`` lets shutdown wait for it.
        """
        async with lock:
            if self._stopping:
                work.close()
                return
            current = asyncio.create_task(work, name="poller-round")
            self._in_flight.add(current)
            current.add_done_callback(self._in_flight.discard)
            try:
                await asyncio.shield(current)
            except asyncio.CancelledError:
                log.info("scheduler stopped during a round; it finishes its writes first")

    async def drain(self, timeout: float = 10.0) -> None:
        """Start no new round, and wait (up to ``timeout``) for those in flight to finish.

        Deliveries that went on after their round (a long encode) share the same budget;
        those still running then are stopped (``Deliverer.drain``).
        """
        self._stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pending = [task for task in self._in_flight if not task.done()]
        if pending:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.gather(*map(asyncio.shield, pending)), timeout)
        await self.deliverer.drain(max(0.0, deadline - loop.time()))

    async def _poll_round(self, summary: TickSummary) -> None:
        await self.poll_due(summary)
        await self._start_waiting()
        self.last_tick_at = self.clock()

    async def _start_waiting(self) -> None:
        """Let the fair queue use the slots this round freed; changed cards owe an edit."""
        if self.dispatch is None:
            return
        try:
            started = await self.dispatch()
        except Exception:
            log.exception("starting waiting tasks failed; the next round tries again")
            return
        for task in started:
            self.cards.mark(task, urgent=task.status.is_terminal)

    async def _delivery_round(self, summary: TickSummary) -> None:
        await self.deliver_due(summary)
        summary.card_edits += await self.cards.flush()

    def _report(self, summary: TickSummary) -> None:
        if self.on_tick is not None:
            try:
                self.on_tick(summary)
            except Exception:
                log.exception("the on_tick hook failed")
        if summary.polled or summary.delivered or summary.errors:
            log.info(
                "tick: polled=%d changed=%d completed=%d failed=%d errors=%d delivered=%d",
                summary.polled,
                summary.changed,
                summary.completed,
                summary.failed,
                summary.errors,
                summary.delivered,
            )

    async def deliver_due(self, summary: TickSummary) -> None:
        """Deliver every owed outcome and add what that did to ``summary``."""
        tally = await self.deliverer.deliver_due()
        summary.delivered += tally.delivered
        summary.delivery_retries += tally.delivery_retries
        summary.undeliverable += tally.undeliverable

    # --- polling --------------------------------------------------------------

    async def poll_due(self, summary: TickSummary) -> None:
        """Poll the tasks whose next poll is due, as many as the request budget allows.

        A round claims what its budget can answer (list pages answer up to 100 tasks
        each where the dialect lists), polls with bounded concurrency, and hands back
        what it claimed but could not poll (a 429, or the budget ran out): those are due
        again when requests may resume, counted as neither polled nor failed.
        """
        now = self.clock()
        if self.paused_until is not None and now < self.paused_until:
            summary.skipped_rate_limited = True
            return
        if self.gate.wait_time() >= self.settings.tick_seconds:
            summary.skipped_rate_limited = True  # paused: a 429, or the limit used up
            return
        allowance = self.gate.allowance()
        listing = self.settings.list_polling and self.lister.usable(now)
        count = round_size(self.settings, self.gate.budget.rate, allowance, listing=listing)
        tasks = await claim_round(self.store, now, count, self.settings.batch_size)
        if not tasks:
            return
        deadline = now.timestamp() + self.settings.tick_seconds
        if listing and len(tasks) >= LIST_MIN_DUE:

            async def record(task: VideoTask, job: UpstreamJob) -> None:
                await self._poll_safely(task, summary, job)

            tasks = await self.lister.poll(tasks, record, deadline)
        unpolled = await self._poll_each(tasks, summary, deadline)
        if unpolled:
            resume = max(self.gate.resume_at(), self.paused_until or now, now)
            await self.store.release_polls([task.id for task in unpolled], resume)
            log.info("%d due polls wait for the request budget", len(unpolled))

    async def _poll_each(
        self, tasks: Sequence[VideoTask], summary: TickSummary, deadline: float
    ) -> list[VideoTask]:
        """Retrieve each task, each request within the budget; return those not polled."""
        semaphore = asyncio.Semaphore(self.settings.concurrency)
        unpolled: list[VideoTask] = []

        async def bounded(task: VideoTask) -> None:
            async with semaphore:
                await self.foreground.idle()
                if not await self.gate.take(deadline):
                    unpolled.append(task)
                    return
                await self._poll_safely(task, summary)

        await asyncio.gather(*(bounded(task) for task in tasks))
        return unpolled

    async def _poll_safely(
        self, task: VideoTask, summary: TickSummary, job: UpstreamJob | None = None
    ) -> None:
        """Poll one task (or record ``job``, a list page's entry for it); any failure is
        recorded on that task alone.

        A task finished by another path while its poll was in flight (an admin's
        cancel) makes the store refuse our update: that is not an error, the poll
        result is simply stale.
        """
        summary.polled += 1
        try:
            await self._poll_and_record(task, summary, job)
        except errors.IllegalTransition:
            log.info("task %s: finished elsewhere during its poll; result dropped", task.id)

    async def _poll_and_record(
        self, task: VideoTask, summary: TickSummary, job: UpstreamJob | None
    ) -> None:
        try:
            await self._poll(task, summary, job)
        except errors.IllegalTransition:
            raise
        except errors.UpstreamError as exc:
            summary.errors += 1
            await self._record_poll_error(task, exc, summary)
        except Exception:
            summary.errors += 1
            log.exception("task %s: unexpected error while polling", task.id)
            await self._reschedule_after_error(task, FailureCode.INTERNAL_ERROR, retry_after=None)

    async def _poll(self, task: VideoTask, summary: TickSummary, job: UpstreamJob | None) -> None:
        now = self.clock()
        if now - task.started_at > self.settings.max_age:
            await self._fail(task, FailureCode.TIMED_OUT, self._timeout_message(), summary)
            return
        assert task.upstream_id is not None, "active tasks always have an upstream id"
        if job is None:
            job = await self.upstream.retrieve(task.upstream_id)
        if job.status is TaskStatus.COMPLETED:
            updated = await self.store.complete(task.id, result_url=job.result_url)
            summary.completed += 1
            summary.changed += 1
            log.info("task %s: completed", task.id)
            self.cards.mark(updated, urgent=True)
        elif job.status is TaskStatus.FAILED:
            code = job.error_code or FailureCode.UPSTREAM_FAILED
            await self._fail(task, code, _failure_message(job), summary)
        else:
            await self._record_progress(task, job, summary)

    async def _record_progress(
        self, task: VideoTask, job: UpstreamJob, summary: TickSummary
    ) -> None:
        now = self.clock()
        elapsed = (now - task.started_at).total_seconds()
        queued_polls = task.poll_count if job.status is TaskStatus.QUEUED else 0
        delay = self.policy.next_delay(
            status=job.status,
            progress=job.progress,
            elapsed=elapsed,
            queued_polls=queued_polls,
            hint=job.poll_after,
        )
        updated = await self.store.update_progress(
            task.id,
            status=job.status,
            progress=job.progress,
            next_poll_at=now + timedelta(seconds=delay),
            result_url=job.result_url,
        )
        if updated.status != task.status or updated.progress != task.progress:
            summary.changed += 1
            if updated.status != task.status:
                log.info("task %s: %s -> %s", task.id, task.status, updated.status)
            self.cards.mark(updated)

    async def _fail(self, task: VideoTask, code: str, message: str, summary: TickSummary) -> None:
        updated = await self.store.fail(task.id, code=code, message=message)
        summary.failed += 1
        summary.changed += 1
        log.info("task %s: failed (%s)", task.id, code)
        self.cards.mark(updated, urgent=True)

    async def _record_poll_error(
        self, task: VideoTask, exc: errors.UpstreamError, summary: TickSummary
    ) -> None:
        if isinstance(exc, errors.UpstreamNotFound) and task.poll_failures + 1 >= NOT_FOUND_LIMIT:
            await self._fail(task, exc.failure_code, exc.user_message, summary)
            return
        if isinstance(exc, errors.ModerationBlocked):
            await self._fail(task, exc.failure_code, exc.user_message, summary)
            return
        retry_after = exc.retry_after if isinstance(exc, errors.RateLimited) else None
        if retry_after is not None:
            self.paused_until = self.clock() + timedelta(seconds=retry_after)
        code = exc.failure_code
        log.warning("task %s: poll failed (%s): %s", task.id, code, exc.user_message)
        await self._reschedule_after_error(task, code, retry_after=retry_after)

    async def _reschedule_after_error(
        self, task: VideoTask, code: str, *, retry_after: float | None
    ) -> None:
        now = self.clock()
        if now - task.started_at > self.settings.max_age:
            await self.store.fail(
                task.id, code=FailureCode.TIMED_OUT, message=self._timeout_message()
            )
            log.info("task %s: failed (timed_out)", task.id)
            return
        delay = self.policy.after_error(task.poll_failures + 1, retry_after=retry_after)
        await self.store.record_poll_failure(
            task.id, error_code=code, next_poll_at=now + timedelta(seconds=delay)
        )

    def _timeout_message(self) -> str:
        minutes = int(self.settings.max_age.total_seconds() // 60)
        return f"The video service did not finish this video within {minutes} minutes."


def _failure_message(job: UpstreamJob) -> str:
    """A short, user-safe reason for a job the upstream reports as failed."""
    if job.error_code == FailureCode.MODERATION_BLOCKED:
        return "The video service blocked this video under its content policy."
    if job.error_code == FailureCode.CONTENT_EXPIRED:
        return "The video expired at the video service before it could be fetched."
    if job.error_code == FailureCode.UPSTREAM_CANCELLED:
        return "The video service cancelled this video."
    if job.error_code in (FailureCode.STREAM_LOST, FailureCode.STREAM_BROKEN) and job.error_message:
        return job.error_message[:300]
    if job.error_message:
        return f"The video service could not make this video: {job.error_message[:200]}"
    return "The video service could not make this video."
