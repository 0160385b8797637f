"""Card edits outside the poll round: per channel, latest state only, within a budget.

Discord limits edits per channel (a bucket of a few per few seconds, shared by every
card in that channel; see ``bot/emulators/fake_discord`` for the observed numbers). A
poll round used to await each card edit itself, so one busy channel stalled polling
for every server, and results waited behind progress edits. Now the round only marks
a card as owed an edit (``mark``); the delivery round posts results first and then
calls ``flush``, which edits, channel by channel:

* only the latest state: the task is read from the store at send time, so ten progress
  changes while a card waits cost one edit;
* urgent cards first (a task that finished or failed), then the least recently edited;
* at most ``per_minute`` edits per channel (a token bucket), and each card at most once
  per ``min_interval`` unless urgent; when many cards share a channel, each one is edited
  less often (coarsened) instead of the channel queueing behind Discord's 429s. Edits that
  do not use the channel's bucket (through the interaction's own webhook, within its
  token's 15 minutes: ``Notifier.edits_card_via_channel``) do not spend its budget.

Nothing here needs to survive a restart: which cards are stale is a fact of the task
table (``stale_cards``), re-read at start (``seed``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core import errors
from bot.core.clock import Clock, utc_now
from bot.core.models import VideoTask
from bot.delivery.notifier import Notifier
from bot.storage.async_store import AsyncTaskStore

log = logging.getLogger(__name__)

#: Stale cards looked up at start (the rest are found as their tasks change).
SEED_LIMIT = 1000


@dataclass
class _Bucket:
    """Edits a channel may still make: refills at ``rate`` per second up to ``capacity``."""

    capacity: float
    rate: float
    tokens: float
    updated: datetime

    def take(self, now: datetime) -> bool:
        elapsed = max((now - self.updated).total_seconds(), 0.0)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class _Owed:
    """A card owed an edit: since when, and whether it shows a finished task."""

    since: datetime
    urgent: bool


@dataclass
class _Channel:
    bucket: _Bucket
    owed: dict[str, _Owed] = field(default_factory=dict)


class CardEdits:
    """Which cards owe an edit, per channel, and the edits' per-channel budget."""

    def __init__(
        self,
        *,
        store: AsyncTaskStore,
        notifier: Notifier,
        per_minute: float,
        min_interval: timedelta,
        concurrency: int = 8,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.per_minute = per_minute
        self.min_interval = min_interval
        self.concurrency = concurrency
        self.clock = clock
        self._channels: dict[int, _Channel] = {}

    def mark(self, task: VideoTask, *, urgent: bool = False) -> None:
        """Note that ``task``'s card should show its new state (no I/O; never blocks)."""
        if task.card_message_id is None or task.card_dead_reason is not None:
            return
        channel = self._channel(task.channel_id)
        owed = channel.owed.get(task.id)
        if owed is None:
            channel.owed[task.id] = _Owed(self.clock(), urgent)
        else:
            owed.urgent = owed.urgent or urgent

    async def seed(self) -> int:
        """Mark the cards a previous process left stale; how many."""
        stale = await self.store.stale_cards(limit=SEED_LIMIT)
        for task in stale:
            self.mark(task, urgent=task.status.is_terminal)
        return len(stale)

    @property
    def depth(self) -> int:
        """Cards owed an edit, in all channels."""
        return sum(len(c.owed) for c in self._channels.values())

    def oldest_age(self) -> float:
        """Seconds the longest-waiting card has waited (0 when none waits)."""
        marks = [o.since for c in self._channels.values() for o in c.owed.values()]
        return (self.clock() - min(marks)).total_seconds() if marks else 0.0

    async def flush(self) -> int:
        """Edit what each channel's budget allows now; how many edits were sent."""
        semaphore = asyncio.Semaphore(self.concurrency)
        channels = [c for c in self._channels.values() if c.owed]

        async def lane(channel: _Channel) -> int:
            async with semaphore:
                return await self._flush_channel(channel)

        return sum(await asyncio.gather(*(lane(c) for c in channels)))

    def _channel(self, channel_id: int) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            capacity = max(1.0, self.per_minute / 12)  # a burst of five seconds' worth
            bucket = _Bucket(capacity, self.per_minute / 60, capacity, self.clock())
            channel = self._channels[channel_id] = _Channel(bucket)
        return channel

    async def _flush_channel(self, channel: _Channel) -> int:
        sent = 0
        order = sorted(channel.owed.items(), key=lambda item: (not item[1].urgent, item[1].since))
        for task_id, owed in order:
            try:
                edited = await self._edit_if_due(channel, task_id, owed)
            except Exception:  # one broken task must not stop the channel's other cards
                log.exception("task %s: unexpected error while editing its card", task_id)
                channel.owed.pop(task_id, None)
                continue
            if edited is None:
                break  # the budget is spent: the rest wait (coarsened, not queued at Discord)
            sent += edited
        return sent

    async def _edit_if_due(self, channel: _Channel, task_id: str, owed: _Owed) -> int | None:
        """1 if the card was edited, 0 if not (not due, or it failed), None: no budget left."""
        task = await self.store.get(task_id)
        if task is None or task.card_settled:
            channel.owed.pop(task_id, None)
            return 0
        if not owed.urgent and self._edited_recently(task):
            return 0
        shares_channel = self.notifier.edits_card_via_channel(task)
        if shares_channel and not channel.bucket.take(self.clock()):
            return None
        channel.owed.pop(task_id, None)
        return await self._edit(task)

    def _edited_recently(self, task: VideoTask) -> bool:
        edited = task.card_edited_at
        return edited is not None and self.clock() - edited < self.min_interval

    async def _edit(self, task: VideoTask) -> int:
        try:
            await self.notifier.update_card(task)
        except errors.CardGone as exc:
            await self.store.mark_card_dead(task.id, reason=exc.reason)
            log.warning("task %s: card is dead (%s); not editing it again", task.id, exc.reason)
            return 0
        except errors.DeliveryError as exc:
            log.warning("task %s: card edit failed: %s", task.id, exc.reason)
            self.mark(task, urgent=task.status.is_terminal)  # try again later
            return 0
        await self.store.record_card_edit(task.id, status=task.status, progress=task.progress)
        return 1
