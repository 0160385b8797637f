"""A guild's task history: filtered pages, their counts, autocomplete, retry links.

Every query takes the guild it answers for; nothing here reads another guild's rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.models import TaskStatus, VideoTask
from bot.storage.access import reader
from bot.storage.codec import check_page, like_escape, to_db_time
from bot.storage.core import Operations
from bot.storage.recent_index import RecentVideo


def history_where(
    guild_id: int,
    user_id: int | None = None,
    channel_id: int | None = None,
    status: TaskStatus | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) of a filtered guild history query."""
    clauses = ["guild_id = ?"]
    params: list[Any] = [guild_id]
    for clause, value in (
        ("user_id = ?", user_id),
        ("channel_id = ?", channel_id),
        ("status = ?", None if status is None else status.value),
        ("created_at >= ?", None if since is None else to_db_time(since)),
        ("created_at < ?", None if until is None else to_db_time(until)),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return " AND ".join(clauses), params


class History(Operations):
    """Lists of a guild's tasks, newest first."""

    __slots__ = ()

    @reader
    def recent_completed(
        self, guild_id: int, *, prefix: str = "", limit: int = 25
    ) -> list[VideoTask]:
        """Completed tasks of a guild, newest first, for autocomplete.

        A non-empty ``prefix`` matches the start of the id (a leading ``#`` is ignored)
        or any part of the prompt, case-insensitively; ``%`` and ``_`` match literally.
        """
        check_page(limit)
        clauses = "WHERE guild_id = ? AND status = ?"
        params: list[Any] = [guild_id, TaskStatus.COMPLETED.value]
        needle = prefix.strip()
        if needle:
            id_part = needle.lower().removeprefix("#").strip("`")
            clauses += " AND (id LIKE ? ESCAPE '\\' OR prompt LIKE ? ESCAPE '\\')"
            params += [like_escape(id_part) + "%", "%" + like_escape(needle) + "%"]
        return self._core.select(
            f"{clauses} ORDER BY created_at DESC, id DESC LIMIT ?", [*params, limit]
        )

    @reader
    def completed_window(self, guild_id: int, *, limit: int) -> list[RecentVideo]:
        """The newest ``limit`` completed tasks of a guild as autocomplete entries, in
        ``recent_completed``'s order (the in-memory ``RecentIndex`` is built from this)."""
        check_page(limit)
        rows = self._core.rows(
            "SELECT id, prompt, created_at FROM tasks WHERE guild_id = ? AND status = ?"
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            [guild_id, TaskStatus.COMPLETED.value, limit],
        )
        return [RecentVideo(row[0], row[1], datetime.fromisoformat(row[2])) for row in rows]

    @reader
    def user_history(
        self,
        guild_id: int,
        user_id: int,
        *,
        status: TaskStatus | None = None,
        limit: int,
        offset: int = 0,
    ) -> list[VideoTask]:
        """A member's tasks in a guild, newest first."""
        return self.guild_history(
            guild_id, user_id=user_id, status=status, limit=limit, offset=offset
        )

    @reader
    def guild_history(
        self,
        guild_id: int,
        *,
        user_id: int | None = None,
        channel_id: int | None = None,
        status: TaskStatus | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
        offset: int = 0,
    ) -> list[VideoTask]:
        """A guild's tasks, newest first, filtered; ``since`` inclusive, ``until`` exclusive."""
        check_page(limit, offset)
        where, params = history_where(guild_id, user_id, channel_id, status, since, until)
        tail = f"WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        return self._core.select(tail, [*params, limit, offset])

    @reader
    def count_history(
        self,
        guild_id: int,
        *,
        user_id: int | None = None,
        channel_id: int | None = None,
        status: TaskStatus | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """How many tasks ``guild_history`` would list with the same filters (for page counts)."""
        where, params = history_where(guild_id, user_id, channel_id, status, since, until)
        return int(self._core.scalar(f"SELECT COUNT(*) FROM tasks WHERE {where}", params))

    @reader
    def find_retry(self, task_id: str, *, guild_id: int) -> VideoTask | None:
        """The task of ``guild_id`` created as a retry of ``task_id`` (column ``retry_of``)."""
        return self._core.first(
            "WHERE retry_of = ? AND guild_id = ? ORDER BY created_at, id LIMIT 1",
            [task_id, guild_id],
        )
