"""Cancelling a video: by its author (the Cancel button) or an admin (also ``/admin cancel``).

The task is marked cancelled first, in one store job with the check (``admin.cancel_video``),
so a poll in flight cannot finish it afterwards and nothing is ever posted for it. Then,
when it had reached the upstream and the dialect can (``capabilities().can_cancel``), the
upstream job is cancelled too; a failure there changes nothing on our side (the job may
still finish and be billed upstream, but it is no longer ours to post).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from bot.core import errors
from bot.core.models import VideoTask
from bot.services.admin import cancel_video
from bot.services.submission import VideoService

log = logging.getLogger(__name__)


class UpstreamCancel(StrEnum):
    """What happened to the upstream job of a cancelled task."""

    NOT_SENT = "not_sent"  # it was still waiting in the queue: nothing was sent
    CANCELLED = "cancelled"
    UNSUPPORTED = "unsupported"  # the dialect cannot cancel; the job may still finish
    FAILED = "failed"  # the cancel request failed; the job may still finish


@dataclass(frozen=True, kw_only=True)
class Cancellation:
    """A cancelled task and what became of its upstream job."""

    task: VideoTask
    upstream: UpstreamCancel


async def cancel_task(service: VideoService, task: VideoTask, *, by_user_id: int) -> Cancellation:
    """Cancel ``task`` (``ActionRefused`` when it is not waiting, queued or running)."""
    cancelled = await cancel_video(service.store, task, by_user_id=by_user_id)
    return Cancellation(task=cancelled, upstream=await _cancel_upstream(service, cancelled))


async def _cancel_upstream(service: VideoService, task: VideoTask) -> UpstreamCancel:
    if task.upstream_id is None:
        return UpstreamCancel.NOT_SENT
    if not service.upstream.capabilities().can_cancel:
        return UpstreamCancel.UNSUPPORTED
    try:
        await service.upstream.cancel(task.upstream_id)
    except errors.UpstreamError as exc:
        log.warning("task %s: the upstream cancel failed: %s", task.id, exc.user_message)
        return UpstreamCancel.FAILED
    log.info("task %s: upstream job %s cancelled", task.id, task.upstream_id)
    return UpstreamCancel.CANCELLED


def cancelled_note(outcome: Cancellation) -> str:
    """One sentence on the upstream side, for the member who cancelled."""
    return {
        UpstreamCancel.NOT_SENT: "It was still waiting, so nothing was sent to the video service.",
        UpstreamCancel.CANCELLED: "The video service's job was cancelled too.",
        UpstreamCancel.UNSUPPORTED: (
            "The video service cannot cancel jobs, so it may still finish it on its side."
        ),
        UpstreamCancel.FAILED: (
            "The video service did not confirm the cancel, so it may still finish it on its side."
        ),
    }[outcome.upstream]
