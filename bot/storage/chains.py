"""Remix-chain queries, scoped to one guild.

Every query here answers a member, so each takes the member's ``guild_id`` and returns
only that guild's rows: isolation lives in the SQL, not in the callers' filters. (A
remix's parent is always of the same guild, ``create_task`` enforces it; the guild
clause also keeps a corrupted or hand-edited row from leaking across.)

Each is one query: a family is every row with its ``root_id``, and the ancestors of a
task are one recursive walk up ``parent_id`` (bounded by the depth guard, so a corrupted
cycle ends too). ``lineage`` reads a family as ``LineageTask``s, the columns a tree line
shows, for /lineage; ``tree`` reads the same rows as full ``VideoTask``s.
"""

from __future__ import annotations

from typing import Any

from bot.core.errors import NotFound
from bot.core.lineage import DEFAULT_MAX_DEPTH, LineageError, LineageTask
from bot.core.models import VideoTask
from bot.storage.access import reader
from bot.storage.codec import COLUMNS, LINEAGE_SELECT, decode, decode_lineage
from bot.storage.core import Operations

_FAMILY = "WHERE root_id = ? AND guild_id = ? ORDER BY depth, created_at, id"
_TASK_COLUMNS = ", ".join(f"tasks.{column}" for column in COLUMNS)
#: The task (level 0) and each ancestor of the guild above it, up to a level bound.
_ANCESTORS = f"""
WITH RECURSIVE up(id, parent_id, level) AS (
    SELECT id, parent_id, 0 FROM tasks WHERE id = ? AND guild_id = ?
    UNION ALL
    SELECT tasks.id, tasks.parent_id, up.level + 1
    FROM up JOIN tasks ON tasks.id = up.parent_id AND tasks.guild_id = ?
    WHERE up.level < ?
)
SELECT {_TASK_COLUMNS} FROM up JOIN tasks ON tasks.id = up.id ORDER BY up.level
"""


def _walk_up(task_id: str, chain: list[dict[str, Any]], max_depth: int) -> list[dict[str, Any]]:
    """The ancestor rows of ``chain[0]``, checked for cycles and depth as a walk would be.

    ``chain[k]`` is the k-th ancestor found in the guild (the query stops at a missing
    parent); the first repeated id is a cycle, and a task still having a parent after
    ``max_depth`` ancestors is too deep (as with one lookup per level).
    """
    current, seen = chain[0], {chain[0]["id"]}
    found: list[dict[str, Any]] = []
    while current["parent_id"] is not None:
        if len(found) >= max_depth:
            raise LineageError(f"lineage of {task_id} is deeper than {max_depth}")
        if len(found) + 1 >= len(chain):
            break
        parent = chain[len(found) + 1]
        if parent["id"] in seen:
            raise LineageError(f"parent cycle through {parent['id']}")
        seen.add(parent["id"])
        found.append(parent)
        current = parent
    return found


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
        is missing or of another guild. One query, whatever the depth.
        """
        params = [task_id, guild_id, guild_id, max_depth]
        chain = list(self._core.db.query(_ANCESTORS, params))
        if not chain:
            raise NotFound(task_id)
        return [decode(row) for row in _walk_up(task_id, chain, max_depth)]

    @reader
    def tree(self, root_id: str, *, guild_id: int) -> list[VideoTask]:
        """Every task of one remix family, by depth then age (feed to ``build_tree``)."""
        return self._core.select(_FAMILY, [root_id, guild_id])

    @reader
    def lineage(self, root_id: str, *, guild_id: int) -> list[LineageTask]:
        """``tree``'s rows, in its order, as the lean ``LineageTask`` a tree line shows."""
        rows = self._core.db.execute(f"{LINEAGE_SELECT} {_FAMILY}", [root_id, guild_id])
        return [decode_lineage(row) for row in rows.fetchall()]
