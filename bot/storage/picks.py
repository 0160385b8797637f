"""Picks (a member's ⭐ on a video) and rerolls (videos made again from another's prompt).

Both are read per guild: a pick row carries its video's guild, and every query names the
guild it answers for, so one guild's counts never include another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.models import VideoTask
from bot.storage.access import reader, writer
from bot.storage.codec import check_page, marks, to_db_time
from bot.storage.core import Operations
from bot.storage.history import history_where

#: Ids per ``IN (...)`` query (far below SQLite's limit on bound parameters).
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class PickToggle:
    """The outcome of a press on ⭐: whether the member now picks the video, and its count."""

    picked: bool
    count: int


@dataclass(frozen=True, slots=True)
class PickedVideo:
    """One row of ``TaskStore.most_picked``."""

    task: VideoTask
    picks: int


class Picks(Operations):
    """Toggling and counting picks; finding a video's rerolls."""

    __slots__ = ()

    @writer
    def toggle_pick(self, task_id: str, *, guild_id: int, user_id: int) -> PickToggle:
        """Add the member's pick of a video of ``guild_id``, or take it back if they had one.

        One transaction, so two presses at once cannot both add (the primary key would
        refuse the second anyway). ``NotFound`` for a video of another guild.
        """
        core = self._core
        with core.write():
            core.require_in_guild(task_id, guild_id)
            removed = core.db.execute(
                "DELETE FROM picks WHERE task_id = ? AND user_id = ?", [task_id, user_id]
            ).rowcount
            if not removed:
                core.db.execute(
                    "INSERT INTO picks (task_id, user_id, guild_id, picked_at) VALUES (?, ?, ?, ?)",
                    [task_id, user_id, guild_id, to_db_time(core.clock())],
                )
            return PickToggle(picked=not removed, count=self._count(task_id, guild_id))

    def _count(self, task_id: str, guild_id: int) -> int:
        sql = "SELECT COUNT(*) FROM picks WHERE task_id = ? AND guild_id = ?"
        return int(self._core.scalar(sql, [task_id, guild_id]))

    @reader
    def pick_count(self, task_id: str, *, guild_id: int) -> int:
        """How many members of ``guild_id`` pick the video."""
        return self._count(task_id, guild_id)

    @reader
    def has_picked(self, task_id: str, *, guild_id: int, user_id: int) -> bool:
        """Whether the member picks the video."""
        sql = "SELECT COUNT(*) FROM picks WHERE task_id = ? AND guild_id = ? AND user_id = ?"
        return bool(self._core.scalar(sql, [task_id, guild_id, user_id]))

    @reader
    def pick_counts(self, task_ids: list[str], *, guild_id: int) -> dict[str, int]:
        """Picks per video for ``task_ids`` (videos nobody picked are absent)."""
        counts: dict[str, int] = {}
        for start in range(0, len(task_ids), _CHUNK):
            chunk = task_ids[start : start + _CHUNK]
            sql = (
                "SELECT task_id, COUNT(*) FROM picks"
                f" WHERE guild_id = ? AND task_id IN ({marks(chunk)}) GROUP BY task_id"
            )
            counts.update((str(t), int(n)) for t, n in self._core.rows(sql, [guild_id, *chunk]))
        return counts

    @reader
    def rerolls_of(self, task_ids: list[str], *, guild_id: int) -> list[VideoTask]:
        """The videos of ``guild_id`` rerolled from any of ``task_ids``, oldest first."""
        found: list[VideoTask] = []
        for start in range(0, len(task_ids), _CHUNK):
            chunk = task_ids[start : start + _CHUNK]
            found += self._core.select(
                f"WHERE guild_id = ? AND rerolled_from IN ({marks(chunk)})", [guild_id, *chunk]
            )
        return sorted(found, key=lambda t: (t.created_at, t.id))

    @reader
    def most_picked(
        self,
        guild_id: int,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 5,
    ) -> list[PickedVideo]:
        """The guild's most-picked videos (created in the window), most picks first."""
        check_page(limit)
        where, params = history_where(guild_id, since=since, until=until)
        sql = (
            "SELECT task_id, COUNT(*) AS n FROM picks"
            f" WHERE guild_id = ? AND task_id IN (SELECT id FROM tasks WHERE {where})"
            " GROUP BY task_id ORDER BY n DESC, task_id LIMIT ?"
        )
        rows = self._core.rows(sql, [guild_id, *params, limit])
        found = []
        for task_id, count in rows:
            task = self._core.fetch(str(task_id))
            if task is not None:
                found.append(PickedVideo(task=task, picks=int(count)))
        return found

    @reader
    def picks_total(
        self, guild_id: int, *, since: datetime | None = None, until: datetime | None = None
    ) -> int:
        """All picks of the guild's videos created in the window."""
        where, params = history_where(guild_id, since=since, until=until)
        sql = (
            "SELECT COUNT(*) FROM picks"
            f" WHERE guild_id = ? AND task_id IN (SELECT id FROM tasks WHERE {where})"
        )
        return int(self._core.scalar(sql, [guild_id, *params]))
