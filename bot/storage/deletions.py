"""Marking a task's result post as deleted (the Delete button): the task itself stays.

The mark is the ``deleted_at`` / ``deleted_by`` columns plus a ``result_deleted`` event
in the audit trail. Nothing else changes: the lifecycle, the delivery record and the
quotas' counts are history, and admins still see the task everywhere.
"""

from __future__ import annotations

from bot.core.models import EventKind, VideoTask
from bot.storage.access import writer
from bot.storage.core import Operations


class Deletions(Operations):
    """The deleted mark of result posts."""

    __slots__ = ()

    @writer
    def mark_result_deleted(self, task_id: str, *, guild_id: int, by_user_id: int) -> VideoTask:
        """Record that ``by_user_id`` deleted the task's result post (once; later calls keep
        the first mark and write nothing). ``NotFound`` for a task of another guild."""
        core = self._core
        now = core.clock()
        with core.write():
            task = core.require_in_guild(task_id, guild_id)
            if task.deleted:
                return task
            core.update(task.id, {"deleted_at": now, "deleted_by": by_user_id})
            detail = {"by_user_id": by_user_id, "message_id": task.result_message_id}
            core.insert_event(task.id, EventKind.RESULT_DELETED, detail, now)
            return core.require(task.id)
