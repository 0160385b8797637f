"""Admin and metrics queries: counts by status, per-group totals and names, top chains, audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.models import EventKind, TaskEvent, TaskStatus
from bot.storage.access import reader, writer
from bot.storage.codec import ACTIVE, check_page, marks
from bot.storage.core import Operations
from bot.storage.history import history_where

#: Groupings ``TaskStore.totals`` offers, each a fixed SQL expression (never caller text).
TOTAL_GROUPS = {
    "status": "status",
    "model": "model",
    "user": "user_id",
    "day": "substr(created_at, 1, 10)",
}


@dataclass(frozen=True, slots=True)
class GroupTotal:
    """One row of ``TaskStore.totals``: a group key and what its tasks add up to."""

    key: str
    count: int
    seconds: int
    cost: float


@dataclass(frozen=True, slots=True)
class ChainSize:
    """One remix family in ``TaskStore.top_chains``."""

    root_id: str
    tasks: int
    depth: int


class Reports(Operations):
    """Aggregates for /admin stats and the metrics endpoint; the audit trail."""

    __slots__ = ()

    @reader
    def active_count(self) -> int:
        """Number of tasks the poller is responsible for (queued or in progress)."""
        sql = f"SELECT COUNT(*) FROM tasks WHERE status IN ({marks(ACTIVE)})"
        return int(self._core.scalar(sql, ACTIVE))

    @reader
    def count_by_status(self) -> dict[str, int]:
        """How many tasks are in each lifecycle status (all guilds), for metrics."""
        rows = self._core.rows("SELECT status, COUNT(*) FROM tasks GROUP BY status")
        return {status: int(count) for status, count in rows}

    @reader
    def count_by_delivery_state(self) -> dict[str, int]:
        """How many tasks are in each delivery state (all guilds), for metrics."""
        sql = "SELECT delivery_state, COUNT(*) FROM tasks GROUP BY delivery_state"
        return {state: int(count) for state, count in self._core.rows(sql)}

    @reader
    def totals(
        self,
        guild_id: int,
        *,
        by: str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[GroupTotal]:
        """Per-group task counts, generated seconds and estimated cost, largest count first.

        ``by`` is one of ``TOTAL_GROUPS`` (``day`` is the UTC date of ``created_at``).
        ``seconds`` sums completed tasks only (video actually made); ``cost`` sums every
        task except cancelled ones, the same rule the daily budget uses.
        """
        if by not in TOTAL_GROUPS:
            raise ValueError(f"by must be one of {sorted(TOTAL_GROUPS)}")
        where, params = history_where(guild_id, since=since, until=until)
        sql = (
            f"SELECT {TOTAL_GROUPS[by]} AS k, COUNT(*),"
            " COALESCE(SUM(CASE WHEN status = ? THEN seconds ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN status != ? THEN estimated_cost ELSE 0 END), 0.0)"
            f" FROM tasks WHERE {where} GROUP BY k ORDER BY COUNT(*) DESC, k"
        )
        done, cancelled = TaskStatus.COMPLETED.value, TaskStatus.CANCELLED.value
        rows = self._core.rows(sql, [done, cancelled, *params])
        return [
            GroupTotal(key=str(k), count=int(n), seconds=int(s), cost=round(float(c), 4))
            for k, n, s, c in rows
        ]

    @reader
    def top_chains(
        self,
        guild_id: int,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 5,
    ) -> list[ChainSize]:
        """The remix families with the most tasks (created in the window), biggest first.

        A family counts only when it has at least one remix in the window.
        """
        check_page(limit)
        where, params = history_where(guild_id, since=since, until=until)
        sql = (
            "SELECT root_id, COUNT(*), MAX(depth) FROM tasks"
            f" WHERE {where} GROUP BY root_id HAVING MAX(depth) > 0"
            " ORDER BY COUNT(*) DESC, MAX(depth) DESC, root_id LIMIT ?"
        )
        rows = self._core.rows(sql, [*params, limit])
        return [ChainSize(root_id=r, tasks=int(n), depth=int(d)) for r, n, d in rows]

    @reader
    def author_names(
        self, guild_id: int, *, since: datetime | None = None, until: datetime | None = None
    ) -> dict[int, str]:
        """Each member's display name on their latest task (created in the window) that has one.

        For per-user totals; members whose tasks all predate stored names are absent.
        """
        where, params = history_where(guild_id, since=since, until=until)
        # SQLite takes a bare column next to MAX() from the row holding the maximum.
        sql = (
            "SELECT user_id, author_name, MAX(created_at) FROM tasks"
            f" WHERE {where} AND author_name IS NOT NULL GROUP BY user_id"
        )
        return {int(user): str(name) for user, name, _ in self._core.rows(sql, params)}

    @writer
    def add_event(
        self, task_id: str, kind: EventKind | str, detail: dict[str, Any] | None = None
    ) -> None:
        """Append an event to a task's audit trail (a ``ValueError`` for an unknown kind)."""
        core = self._core
        now = core.clock()
        with core.write():
            core.require(task_id)
            core.insert_event(task_id, EventKind(kind), detail or {}, now)

    @reader
    def events(self, task_id: str) -> list[TaskEvent]:
        """A task's audit trail, oldest first."""
        return self._core.events(task_id)
