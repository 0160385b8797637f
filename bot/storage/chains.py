"""Remix-chain queries, scoped to one guild.

Every query here answers a member, so each takes the member's ``guild_id`` and returns
only that guild's rows: isolation lives in the SQL, not in the callers' filters. (A
remix's parent is always of the same guild, ``create_task`` enforces it; the guild
clause also keeps a corrupted or hand-edited row from leaking across.)
"""

from __future__ import annotations

from bot.core.lineage import DEFAULT_MAX_DEPTH, LineageError
from bot.core.models import VideoTask
from bot.storage.access import reader
from bot.storage.core import Operations


class Chains(Operations):
    """Children, ancestors and whole remix families of a task, within one guild."""

    __slots__ = ()

    @reader
    def children_of(self, task_id: str, *, guild_id: int) -> list[VideoTask]:
        """Direct remixes of a task, oldest first."""
        return self._core.select(
            "WHERE parent_id = ? AND guild_id = ? ORDER BY created_at, id", [task_id, guild_id]
        )

    @reader
    def ancestors(
        self, task_id: str, *, guild_id: int, max_depth: int = DEFAULT_MAX_DEPTH
    ) -> list[VideoTask]:
        """``[parent, grandparent, ..., root]``; raises ``LineageError`` on a cycle.

        ``NotFound`` if the task is not of ``guild_id``; the walk stops at a parent that
        is missing or of another guild.
        """
        core = self._core
        current = core.require_in_guild(task_id, guild_id)
        seen = {current.id}
        found: list[VideoTask] = []
        while current.parent_id is not None:
            if len(found) >= max_depth:
                raise LineageError(f"lineage of {task_id} is deeper than {max_depth}")
            parent = core.first("WHERE id = ? AND guild_id = ?", [current.parent_id, guild_id])
            if parent is None:
                break
            if parent.id in seen:
                raise LineageError(f"parent cycle through {parent.id}")
            seen.add(parent.id)
            found.append(parent)
            current = parent
        return found

    @reader
    def tree(self, root_id: str, *, guild_id: int) -> list[VideoTask]:
        """Every task of one remix family, by depth then age (feed to ``build_tree``)."""
        return self._core.select(
            "WHERE root_id = ? AND guild_id = ? ORDER BY depth, created_at, id",
            [root_id, guild_id],
        )
