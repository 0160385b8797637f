"""Progress-card bookkeeping: which message shows a task, and what it shows now.

Card changes do not touch ``updated_at`` (that is the time of the last lifecycle or
delivery change).
"""

from __future__ import annotations

from bot.core.models import DeliveryState, EventKind, TaskStatus, VideoTask
from bot.storage.access import reader, writer
from bot.storage.core import Operations


class Cards(Operations):
    """The Discord message that shows a task's progress, and its last edit."""

    __slots__ = ()

    @writer
    def set_card_message(self, task_id: str, message_id: int) -> None:
        """Remember the Discord message that shows the task's progress card."""
        core = self._core
        now = core.clock()
        with core.write():
            core.require(task_id)
            core.update(task_id, {"card_message_id": message_id})
            core.insert_event(task_id, EventKind.CARD_POSTED, {"message_id": message_id}, now)

    @writer
    def record_card_edit(self, task_id: str, *, status: TaskStatus | str, progress: int) -> None:
        """Remember what the card shows now, so unchanged cards are not re-edited."""
        core = self._core
        now = core.clock()
        with core.write():
            core.require(task_id)
            changes = {"card_edited_at": now, "card_status": str(status), "card_progress": progress}
            core.update(task_id, changes)

    @writer
    def mark_card_dead(self, task_id: str, *, reason: str) -> None:
        """Stop editing the task's card for good (see ``errors.CardGone``)."""
        core = self._core
        now = core.clock()
        with core.write():
            core.require(task_id)
            core.update(task_id, {"card_dead_reason": reason})
            core.insert_event(task_id, EventKind.CARD_DEAD, {"reason": reason}, now)

    @reader
    def stale_cards(self, *, limit: int) -> list[VideoTask]:
        """Live cards that do not show their task's status or progress (after a restart).

        Cards of tasks that finished long ago are skipped: their result post says it all.
        """
        return self._core.select(
            "WHERE card_message_id IS NOT NULL AND card_dead_reason IS NULL"
            " AND (card_status IS NULL OR card_status != status"
            " OR coalesce(card_progress, -1) != progress)"
            " AND delivery_state NOT IN (?, ?)"
            " ORDER BY updated_at LIMIT ?",
            [DeliveryState.DELIVERED, DeliveryState.UNDELIVERABLE, limit],
        )
