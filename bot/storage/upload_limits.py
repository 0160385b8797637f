"""The upload limit each task's result post will have, kept current per guild.

The Discord layer records a guild's attachment limit on a task at submission and, when
the guild becomes available again (after a restart, a reconnect or a boost change),
rewrites it on every task of that guild that may still post. Delivery reads the task's
own value and never discord.py's cache, which is empty (or holds unavailable
placeholders at boost tier 0) until each guild's data arrives.
"""

from __future__ import annotations

from bot.core.models import DeliveryState
from bot.storage.access import writer
from bot.storage.core import Operations

#: Tasks that may still post a result: running ones, and finished ones whose post is owed.
_MAY_STILL_POST = (
    DeliveryState.NONE.value,
    DeliveryState.PENDING.value,
    DeliveryState.DELIVERING.value,
)


class UploadLimits(Operations):
    """Refreshing the recorded upload limit of a guild's tasks."""

    __slots__ = ()

    @writer
    def refresh_upload_limits(self, guild_id: int, upload_limit: int) -> int:
        """Record ``upload_limit`` on the guild's tasks that may still post; returns how many changed.

        Only the limit changes (no event, no ``updated_at``): it is a fact about the guild,
        not a step in the task's life.
        """
        core = self._core
        with core.write():
            cursor = core.db.execute(
                "UPDATE tasks SET upload_limit = ?"
                " WHERE guild_id = ? AND delivery_state IN (?, ?, ?)"
                " AND upload_limit IS NOT ?",
                [upload_limit, guild_id, *_MAY_STILL_POST, upload_limit],
            )
            return int(cursor.rowcount)
