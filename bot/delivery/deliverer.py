"""The deliverer: posts the outcome of every finished task exactly once.

The poll round (``bot.polling.poller``) calls ``Deliverer.deliver_due`` after it
has polled, in the same APScheduler job. Delivery claims the terminal tasks that
still owe a post, downloads the video when it may be attached, and posts through
the ``Notifier``.

Exactly-once: the store marks a task ``delivering`` before posting and
``delivered`` (with the message id) after; a task found ``delivering`` (after a
crash, or after a failure that may have happened once the post was sent: a 5xx, a
timeout) is first looked up at Discord (``Notifier.find_delivery``) and only
re-posted when no earlier post exists, every time.

Outages: failures worth retrying are rescheduled with backoff until the deadline
(``deadline`` after the task finished; also ``max_attempts`` when set); the rest
mark the task undeliverable. The downloaded (and re-encoded) video stays in
``media_dir`` between attempts and is removed once the task is delivered or given up.

A video over its task's upload limit is compressed to fit (``bot.delivery.media``); a
delivery still running after ``detach_after_seconds`` goes on in the background
(``bot.delivery.background``), so the next rounds are not held up by an encode.

With ``originals`` (``[media] public_url`` set, ``bot.delivery.media_links``) the download
is moved to the kept originals instead of being discarded: the post links it when it was
compressed or could not be attached, and, when it could only be linked, shows the
upstream's thumbnail (downloaded next to the video, attached as the embed's image). Kept
originals past retention are removed at most once per ``SWEEP_INTERVAL``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.core import errors
from bot.core.clock import Clock, utc_now
from bot.core.models import DeliveryState, TaskStatus, VideoTask
from bot.core.poll_policy import PollPolicy
from bot.delivery.background import DetachedDeliveries
from bot.delivery.media import PreparedVideo, VideoFitter
from bot.delivery.media_links import Originals
from bot.delivery.notifier import Notifier
from bot.storage.async_store import AsyncTaskStore
from bot.upstream import VideoProvider

log = logging.getLogger(__name__)

#: Attempts at downloading a finished video before it is posted without its file (with
#: the upstream's link, if any): a video service that cannot serve the file for this long
#: should not keep the post from the channel for the whole delivery deadline.
DOWNLOAD_ATTEMPTS = 8
#: How often kept originals past their retention are looked for (by the deliverer's clock).
SWEEP_INTERVAL = timedelta(minutes=1)
#: The largest thumbnail downloaded for a post that can only link its video.
THUMBNAIL_MAX_BYTES = 2 * 1048576


@dataclass(kw_only=True)
class DeliveryTally:
    """What one delivery pass did; the poll round adds it to its ``TickSummary``."""

    delivered: int = 0
    delivery_retries: int = 0
    undeliverable: int = 0


@dataclass(frozen=True, kw_only=True)
class DeliverySettings:
    """The knobs delivery needs (the poller derives them from its own settings)."""

    batch_size: int = 50
    concurrency: int = 8
    #: 0: no count limit (the deadline alone).
    max_attempts: int = 0
    deadline: timedelta = timedelta(hours=24)
    media_dir: Path = Path("data/media")
    #: How long a claimed delivery is hidden from other claims (see ``bot.polling.poller``).
    lease_seconds: float = 30.0
    #: The largest video downloaded; one over the upload limit is compressed to fit.
    max_download_bytes: int = 200 * 1048576
    #: How long a round waits for a delivery before letting it go on in the background
    #: (``bot.delivery.background``), so a long encode does not hold up the next rounds.
    detach_after_seconds: float = 2.0


class Deliverer:
    """Claims owed deliveries and posts each one through the notifier."""

    def __init__(
        self,
        *,
        store: AsyncTaskStore,
        upstream: VideoProvider,
        notifier: Notifier,
        settings: DeliverySettings,
        policy: PollPolicy | None = None,
        clock: Clock = utc_now,
        fitter: VideoFitter | None = None,
        originals: Originals | None = None,
    ) -> None:
        self.store = store
        self.upstream = upstream
        self.notifier = notifier
        self.settings = settings
        self.policy = policy or PollPolicy()
        self.clock = clock
        self.fitter = fitter or VideoFitter(media_dir=settings.media_dir, transcoder=None)
        self.detached = DetachedDeliveries()
        self.originals = originals
        self._swept_at: datetime | None = None
        #: Videos prepared by an attempt that failed to post, reused by the next one.
        self._prepared: dict[str, PreparedVideo] = {}
        #: One lock per channel: its posts go out one after another.
        self._lanes: dict[int, asyncio.Lock] = {}

    async def deliver_due(self) -> DeliveryTally:
        """Deliver the outcome of every terminal task that still owes a post."""
        tally = DeliveryTally()
        await self._sweep_originals()
        tasks = await self.store.claim_deliveries(
            self.clock(), limit=self.settings.batch_size, lease_seconds=self.settings.lease_seconds
        )
        semaphore = asyncio.Semaphore(self.settings.concurrency)

        async def bounded(task: VideoTask) -> None:
            async with semaphore:
                try:
                    await self._deliver(task, tally)
                except Exception:
                    log.exception("task %s: unexpected error while delivering", task.id)
                    await self._retry_after_crash(task, tally)

        jobs = {
            asyncio.create_task(bounded(task), name=f"deliver-{task.id}"): task.id
            for task in tasks
            if task.id not in self.detached
        }
        if jobs:
            _, running = await asyncio.wait(jobs, timeout=self.settings.detach_after_seconds)
            for job in running:
                self.detached.add(jobs[job], job)
        return tally

    def _lane(self, channel_id: int) -> asyncio.Lock:
        lane = self._lanes.get(channel_id)
        if lane is None:
            lane = self._lanes[channel_id] = asyncio.Lock()
        return lane

    async def drain(self, timeout: float) -> None:
        """Shutdown: let deliveries still running finish (up to ``timeout``), then stop them."""
        await self.detached.drain(timeout)

    async def _deliver(self, task: VideoTask, tally: DeliveryTally) -> None:
        try:
            if task.delivery_state is DeliveryState.DELIVERING and await self._found_earlier(
                task, tally
            ):
                return
            task = await self.store.mark_delivering(task.id)
            prepared = PreparedVideo()
            if task.status is TaskStatus.COMPLETED:
                prepared = await self._prepared_video(task)
            video = prepared.path
            # One post at a time per channel (its lane), several channels at once: posts
            # into one channel share Discord's bucket, and concurrent ones only race it
            # into 429s before discord.py has learnt it. Downloads and encodes run
            # before, outside the lane, so a long encode holds up no other post.
            thumbnail = await self._thumbnail(task, video)
            original = self.originals.link(task.id) if self.originals else None
            async with self._lane(task.channel_id):
                delivery = await self.notifier.deliver(
                    task,
                    video,
                    too_large=prepared.too_large,
                    fit=prepared.fit,
                    original=original,
                    thumbnail=thumbnail,
                )
        except errors.PermanentDeliveryError as exc:
            await self._give_up(task.id, exc.reason, tally)
        except errors.TransientDeliveryError as exc:
            await self._retry(task, exc.reason, tally, may_have_posted=exc.may_have_posted)
        else:
            size = video.stat().st_size if video is not None else None
            await self.store.mark_delivered(
                task.id,
                message_id=delivery.message_id,
                attached=delivery.attached,
                result_bytes=size,
            )
            self._forget_video(task.id)
            tally.delivered += 1
            log.info("task %s: delivered as message %s", task.id, delivery.message_id)

    async def _prepared_video(self, task: VideoTask) -> PreparedVideo:
        """The file an earlier attempt prepared (if it is still there), else a fresh one."""
        earlier = self._prepared.get(task.id)
        if earlier is not None and (earlier.path is None or earlier.path.is_file()):
            return earlier
        prepared = await self._fetch_video(task)
        self._prepared[task.id] = prepared
        return prepared

    def _forget_video(self, task_id: str) -> None:
        """Remove the task's files: it was posted, or never will be."""
        self._prepared.pop(task_id, None)
        self.fitter.discard(task_id)

    async def _found_earlier(self, task: VideoTask, tally: DeliveryTally) -> bool:
        """Record a post an interrupted attempt already made; False when there is none."""
        earlier = await self.notifier.find_delivery(task)
        if earlier is None:
            return False
        await self.store.mark_delivered(
            task.id,
            message_id=earlier,
            attached=task.result_attached,
            result_bytes=task.result_bytes,
        )
        self._forget_video(task.id)
        tally.delivered += 1
        log.info("task %s: found an earlier delivery %s; not posting again", task.id, earlier)
        return True

    async def _fetch_video(self, task: VideoTask) -> PreparedVideo:
        """Download the MP4 and make it fit the task's upload limit (re-encoded if needed).

        Comes back without a file when there is none to attach (a link is posted then).
        """
        limit = self._upload_limit(task)
        if task.upstream_id is None:
            return PreparedVideo()
        dest = self.fitter.download_path(task)
        kept = self.originals.path_of(task.id) if self.originals else None
        if kept is not None and kept.is_file():  # kept by an earlier attempt
            return await self.fitter.fit(task, kept, limit)
        if dest.is_file():  # downloaded by an earlier attempt (a download lands via .part)
            return await self.fitter.fit(task, self._keep(task, dest), limit)
        cap = max(limit, self.settings.max_download_bytes)
        try:
            download = await self.upstream.download(
                task.upstream_id, max_bytes=cap, dest=dest, result_url=task.result_url
            )
        except errors.ContentTooLarge:
            log.info("task %s: video larger than %d bytes; posting a link", task.id, cap)
            return self.fitter.too_large_to_download(limit, cap)
        except (errors.ContentExpired, errors.UpstreamNotFound):
            log.warning("task %s: video content is gone at the upstream", task.id)
            return PreparedVideo()
        except errors.UpstreamError as exc:
            if task.delivery_attempts >= DOWNLOAD_ATTEMPTS or await self._out_of_time(task):
                log.warning("task %s: giving up on downloading (%s)", task.id, exc.user_message)
                return PreparedVideo()
            raise errors.TransientDeliveryError(
                f"download failed: {exc.user_message}", may_have_posted=False
            ) from exc
        assert download.path is not None, "a download into dest has a path"
        return await self.fitter.fit(task, self._keep(task, download.path), limit)

    def _keep(self, task: VideoTask, download: Path) -> Path:
        """The download moved to the kept originals (when they are kept), else as it is."""
        return self.originals.keep(task.id, download) if self.originals else download

    async def _thumbnail(self, task: VideoTask, video: Path | None) -> Path | None:
        """The upstream's thumbnail for a post that can only link its video (best effort).

        Only with kept originals (without them nothing changes) and only for a finished
        video posted without its file.
        """
        if self.originals is None or video is not None or task.upstream_id is None:
            return None
        if task.status is not TaskStatus.COMPLETED:
            return None
        return await self.fitter.thumbnail(task, self.upstream, max_bytes=THUMBNAIL_MAX_BYTES)

    async def _sweep_originals(self) -> None:
        """Remove kept originals past retention, at most once per ``SWEEP_INTERVAL``."""
        now = self.clock()
        if self.originals is None or (
            self._swept_at is not None and now - self._swept_at < SWEEP_INTERVAL
        ):
            return
        self._swept_at = now
        try:
            await asyncio.to_thread(self.originals.sweep)
        except OSError as exc:
            log.warning("could not remove expired originals: %s", exc)

    def _upload_limit(self, task: VideoTask) -> int:
        """The limit recorded on the task, else the live guild's; unknown means wait.

        An unknown limit is never read as "no file": the delivery is retried once the
        guild's data may have arrived (``bot.discord_ui.app`` records it then).
        """
        limit = task.upload_limit or self.notifier.upload_limit(task)
        if limit is None:
            raise errors.TransientDeliveryError(
                "the server's upload limit is not known yet", may_have_posted=False
            )
        return limit

    async def _out_of_time(self, task: VideoTask) -> str | None:
        """Why no further attempt may be made (the count or the deadline), else None.

        ``task.delivery_attempts`` already counts the attempt that just failed.
        """
        limit = self.settings.max_attempts
        if limit and task.delivery_attempts >= limit:
            return f"gave up after {task.delivery_attempts} attempts"
        since = await self.store.delivery_owed_since(task.id) or task.created_at
        if self.clock() - since >= self.settings.deadline:
            hours = self.settings.deadline.total_seconds() / 3600
            return f"gave up after {hours:g} h ({task.delivery_attempts} attempts)"
        return None

    async def _retry_after_crash(self, task: VideoTask, tally: DeliveryTally) -> None:
        """Reschedule a delivery that failed unexpectedly, unless it already ended."""
        current = await self.store.get(task.id)
        if current is None or current.delivery_state not in (
            DeliveryState.PENDING,
            DeliveryState.DELIVERING,
        ):
            return
        await self._retry(current, "internal error", tally, may_have_posted=True)

    async def _give_up(self, task_id: str, reason: str, tally: DeliveryTally) -> None:
        """Stop posting for good; say so on the status card if Discord still lets us edit it."""
        updated = await self.store.mark_undeliverable(task_id, reason=reason)
        self._forget_video(task_id)
        if self.originals is not None:  # never posted, so never linked
            self.originals.remove(task_id)
        tally.undeliverable += 1
        log.warning("task %s: undeliverable: %s", task_id, reason)
        try:
            await self.notifier.update_card(updated)
        except errors.CardGone as exc:
            await self.store.mark_card_dead(task_id, reason=exc.reason)
            log.info("task %s: the card cannot show it either: %s", task_id, exc.reason)
        except errors.DeliveryError as exc:
            log.info("task %s: the card cannot show it either: %s", task_id, exc.reason)

    async def _retry(
        self, task: VideoTask, reason: str, tally: DeliveryTally, *, may_have_posted: bool
    ) -> None:
        current = await self.store.get(task.id) or task
        out_of_time = await self._out_of_time(current)
        if out_of_time:
            await self._give_up(task.id, f"{out_of_time}: {reason}", tally)
            return
        delay = self.policy.after_error(max(current.delivery_attempts, 1))
        await self.store.retry_delivery(
            task.id,
            error=reason,
            next_delivery_at=self.clock() + timedelta(seconds=delay),
            may_have_posted=may_have_posted,
        )
        tally.delivery_retries += 1
        log.warning("task %s: delivery failed (%s); retrying in %.0fs", task.id, reason, delay)
