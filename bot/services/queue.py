"""Starting waiting tasks when slots free, fairly; and where a waiting task stands.

Tasks over a concurrency limit are stored ``waiting`` (``VideoService`` with
``[limits] queue``). Every poll round calls ``QueueDispatcher.dispatch``: per guild,
in the fair order of ``store.fair_queue`` (round robin per member), each task is taken
out of the queue by ``store.start_waiting`` (status and limits checked and the move to
``submitting`` written in one transaction, before anything is sent), then sent once by
``VideoService.send_waiting``. A crash between the two leaves it ``submitting``, which
start-up fails rather than re-sends (the money rule), like any interrupted submission.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core import errors
from bot.core.limits import Limits, day_window
from bot.core.models import TaskStatus, VideoTask
from bot.services.quotas import effective_limits
from bot.services.submission import VideoService
from bot.storage.async_store import AsyncTaskStore
from bot.storage.store import QueueBlocked

log = logging.getLogger(__name__)


class QueueDispatcher:
    """Sends waiting tasks while their guild and their member have room."""

    def __init__(self, service: VideoService) -> None:
        self.service = service

    @property
    def store(self) -> AsyncTaskStore:
        return self.service.store

    async def dispatch(self) -> list[VideoTask]:
        """Start what fits now, in every guild.

        Returns the tasks whose cards owe an edit: those that left the queue, and those
        still waiting in a guild where some left (their place changed).
        """
        changed: list[VideoTask] = []
        for guild_id in await self.store.waiting_guilds():
            changed.extend(await self._dispatch_guild(guild_id))
        return changed

    async def _dispatch_guild(self, guild_id: int) -> list[VideoTask]:
        limits = await effective_limits(self.store, guild_id, self.service.config.limits)
        started: list[VideoTask] = []
        for task in await self.store.fair_queue(guild_id):
            outcome = await self.store.start_waiting(task.id, limits=limits)
            if outcome is QueueBlocked.GUILD_FULL:
                break
            if isinstance(outcome, QueueBlocked):
                continue
            sent = await self._send(outcome)
            started.append(sent)
            if sent.status is TaskStatus.FAILED:
                break  # the upstream refused: the rest wait for a later round
        if not started:
            return []
        return [*started, *await self.store.outdate_waiting_cards(guild_id)]

    async def _send(self, task: VideoTask) -> VideoTask:
        """Send one task; when the upstream refuses, the task as failed (its notice is owed)."""
        log.info("task %s: leaves the queue", task.id)
        try:
            return await self.service.send_waiting(task)
        except errors.UpstreamError:
            failed = await self.store.get(task.id)
            assert failed is not None
            return failed


@dataclass(frozen=True, kw_only=True)
class QueueSpot:
    """Where one task stands: ``ahead`` tasks of its guild will start before it."""

    task: VideoTask
    ahead: int


async def queue_spots(store: AsyncTaskStore, guild_id: int) -> dict[str, QueueSpot]:
    """Every waiting task of a guild, by id, with how many are ahead of it."""
    order = await store.fair_queue(guild_id)
    return {task.id: QueueSpot(task=task, ahead=index) for index, task in enumerate(order)}


async def ahead_of(store: AsyncTaskStore, task: VideoTask) -> int | None:
    """How many tasks of its guild start before ``task`` (None: it is not waiting)."""
    if task.status is not TaskStatus.WAITING:
        return None
    spot = (await queue_spots(store, task.guild_id)).get(task.id)
    return None if spot is None else spot.ahead


@dataclass(frozen=True, kw_only=True)
class QueueEntry:
    """One of a member's unfinished videos, as ``/queue`` shows it."""

    task: VideoTask
    ahead: int | None  # waiting: how many of the guild's tasks start before it
    elapsed: timedelta  # since it was asked for
    eta: timedelta | None  # running with progress: the rest at the pace so far


@dataclass(frozen=True, kw_only=True)
class MemberQueue:
    """What ``/queue`` tells a member: their jobs and what is left of the daily limits."""

    entries: list[QueueEntry]
    limits: Limits
    seconds_used: int
    guild_cost: float
    resets_at: datetime  # the next 00:00 UTC, when both daily counts start again

    @property
    def seconds_left(self) -> int | None:
        """Seconds of video the member may still ask for today (None: unlimited)."""
        limit = self.limits.daily_seconds_per_user
        return max(0, limit - self.seconds_used) if limit else None

    @property
    def budget_left(self) -> float | None:
        """The guild's estimated budget left today (None: unlimited)."""
        budget = self.limits.daily_budget
        return max(0.0, round(budget - self.guild_cost, 4)) if budget else None


def estimate_rest(task: VideoTask, now: datetime) -> timedelta | None:
    """The time still to go at the pace so far (None before any progress is reported)."""
    if task.status is not TaskStatus.IN_PROGRESS or not 0 < task.progress < 100:
        return None
    spent = (now - task.started_at).total_seconds()
    return timedelta(seconds=max(0.0, spent * (100 - task.progress) / task.progress))


async def member_queue(service: VideoService, guild_id: int, user_id: int) -> MemberQueue:
    """The member's waiting and running videos in this guild, with the daily limits' state."""
    store, now = service.store, service.clock()
    tasks = await store.member_unfinished(guild_id, user_id)
    spots = (
        await queue_spots(store, guild_id)
        if any(t.status is TaskStatus.WAITING for t in tasks)
        else {}
    )
    entries = [
        QueueEntry(
            task=task,
            ahead=spots[task.id].ahead if task.id in spots else None,
            elapsed=now - task.created_at,
            eta=estimate_rest(task, now),
        )
        for task in tasks
    ]
    since, resets_at = day_window(now)
    usage = await store.usage(guild_id, user_id, since)
    limits = await effective_limits(store, guild_id, service.config.limits)
    return MemberQueue(
        entries=entries,
        limits=limits,
        seconds_used=usage.seconds,
        guild_cost=usage.cost,
        resets_at=resets_at,
    )
