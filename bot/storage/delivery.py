"""Delivery state: posting a finished task's result (or failure notice) exactly once.

``pending`` -> ``delivering`` (an attempt that may reach Discord) -> ``delivered`` (never
posted again) or ``undeliverable`` (permanent failure); a failed attempt gets a later
``next_delivery_at`` and goes back to ``pending``, or stays ``delivering`` when the post
may have gone out (so the next attempt looks for it first). Moves out of a closed state raise
``IllegalDeliveryTransition``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.errors import IllegalTransition
from bot.core.models import DeliveryState, EventKind, VideoTask
from bot.storage.access import reader, writer
from bot.storage.codec import from_db_time, to_db_time
from bot.storage.core import Operations

_DELIVERY_OPEN = frozenset({DeliveryState.PENDING, DeliveryState.DELIVERING})


class IllegalDeliveryTransition(IllegalTransition):
    """A delivery-state move that is not allowed (above all: delivering twice)."""

    def __init__(self, task_id: str, old: str, new: str) -> None:
        super().__init__(task_id, old, new)
        self.args = (f"task {task_id}: illegal delivery transition {old} -> {new}",)


def check_delivery(task: VideoTask, new: DeliveryState) -> None:
    """Refuse any delivery move unless a post is still owed."""
    if task.delivery_state not in _DELIVERY_OPEN:
        raise IllegalDeliveryTransition(task.id, task.delivery_state.value, new.value)


class Delivery(Operations):
    """Recording post attempts, posted messages, retries and give-ups."""

    __slots__ = ()

    @writer
    def mark_delivering(self, task_id: str) -> VideoTask:
        """Record that a post is being attempted (it may reach Discord)."""
        core = self._core
        now = core.clock()
        with core.write():
            task = core.require(task_id)
            check_delivery(task, DeliveryState.DELIVERING)
            attempt = task.delivery_attempts + 1
            changes = {"delivery_state": DeliveryState.DELIVERING, "delivery_attempts": attempt}
            return core.save(task, changes, now, EventKind.DELIVERY_ATTEMPT, {"attempt": attempt})

    @writer
    def mark_delivered(
        self, task_id: str, *, message_id: int, attached: bool | None, result_bytes: int | None
    ) -> VideoTask:
        """Record the posted message. Raises ``IllegalDeliveryTransition`` if already done."""
        core = self._core
        now = core.clock()
        with core.write():
            task = core.require(task_id)
            check_delivery(task, DeliveryState.DELIVERED)
            changes: dict[str, Any] = {
                "delivery_state": DeliveryState.DELIVERED,
                "result_message_id": message_id,
                "result_attached": attached,
                "next_delivery_at": None,
                "delivery_error": None,
            }
            if result_bytes is not None:
                changes["result_bytes"] = result_bytes
            detail = {"message_id": message_id, "attached": attached, "result_bytes": result_bytes}
            return core.save(task, changes, now, EventKind.DELIVERED, detail)

    @writer
    def retry_delivery(
        self, task_id: str, *, error: str, next_delivery_at: datetime, may_have_posted: bool
    ) -> VideoTask:
        """Schedule a later attempt (attempts are kept).

        A failure after which the post may have reached Discord keeps the task
        ``delivering``, so the next attempt looks for that post before sending again;
        otherwise it goes back to ``pending``.
        """
        core = self._core
        now = core.clock()
        state = DeliveryState.DELIVERING if may_have_posted else DeliveryState.PENDING
        with core.write():
            task = core.require(task_id)
            check_delivery(task, state)
            changes = {
                "delivery_state": state,
                "delivery_error": error,
                "next_delivery_at": next_delivery_at,
            }
            detail = {
                "error": error,
                "next_delivery_at": to_db_time(next_delivery_at),
                "may_have_posted": may_have_posted,
            }
            return core.save(task, changes, now, EventKind.DELIVERY_RETRY, detail)

    @reader
    def delivery_owed_since(self, task_id: str) -> datetime | None:
        """When the task finished (completed or failed), i.e. since when a post is owed."""
        row = self._core.db.execute(
            "SELECT min(at) FROM events WHERE task_id = ? AND kind IN (?, ?)",
            [task_id, EventKind.COMPLETED, EventKind.FAILED],
        ).fetchone()
        return from_db_time(row[0]) if row and row[0] else None

    @writer
    def mark_undeliverable(self, task_id: str, *, reason: str) -> VideoTask:
        """Give up posting (channel gone, no permission): never retried."""
        core = self._core
        now = core.clock()
        with core.write():
            task = core.require(task_id)
            check_delivery(task, DeliveryState.UNDELIVERABLE)
            changes = {
                "delivery_state": DeliveryState.UNDELIVERABLE,
                "delivery_error": reason,
                "next_delivery_at": None,
            }
            return core.save(task, changes, now, EventKind.DELIVERY_FAILED, {"reason": reason})
