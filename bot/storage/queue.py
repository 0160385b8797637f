"""The fair queue: tasks ``waiting`` for a concurrency slot, in round-robin order per guild.

The queue is nothing but the ``waiting`` rows of the task table, so it survives any
restart. Its order, per guild, is round robin between members: every member's first
waiting task comes before anyone's second one, and among tasks of the same turn, the
member served least recently (by the time their latest task was submitted) goes first;
then the older task. A member who submits ten videos at once therefore gets one slot,
then waits for everyone else's turn.

``start_waiting`` is the one way out of the queue towards the upstream: it checks the
status and the concurrency limits and moves the task to ``submitting`` in one
``BEGIN IMMEDIATE`` transaction, so no two rounds (or processes) can both send it.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from bot.core.limits import Limits
from bot.core.models import EventKind, TaskStatus, VideoTask
from bot.storage.access import reader, writer
from bot.storage.codec import NOT_TERMINAL, WAITING, marks, to_db_time
from bot.storage.core import Operations
from bot.storage.tasks import status_changes
from bot.storage.usage import guild_running_of, running_of

#: How far back "served least recently" looks (older submissions count as never served).
SERVED_WINDOW = timedelta(days=1)

_FAIR_ORDER = """
WITH waiting AS (
    SELECT id, user_id, created_at,
           ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY created_at, id) AS turn
    FROM tasks WHERE guild_id = ? AND status = ?
),
served AS (
    SELECT t.user_id, MAX(e.at) AS last_at
    FROM tasks t JOIN events e ON e.task_id = t.id AND e.kind = ?
    WHERE t.guild_id = ? AND t.created_at >= ?
      AND t.user_id IN (SELECT user_id FROM waiting)
    GROUP BY t.user_id
)
SELECT waiting.id FROM waiting LEFT JOIN served ON served.user_id = waiting.user_id
ORDER BY waiting.turn, COALESCE(served.last_at, ''), waiting.created_at, waiting.id
"""


class QueueBlocked(StrEnum):
    """Why ``start_waiting`` did not start a task."""

    MEMBER_BUSY = "member_busy"  # the member is at their own limit; others may go
    GUILD_FULL = "guild_full"  # the guild is at its limit; nobody else there may go
    GONE = "gone"  # no longer waiting (cancelled, or started by another round)


class Queue(Operations):
    """Reading the fair queue and taking a task out of it."""

    __slots__ = ()

    @reader
    def waiting_guilds(self) -> list[int]:
        """The guilds that have tasks waiting."""
        rows = self._core.rows("SELECT DISTINCT guild_id FROM tasks WHERE status = ?", [WAITING])
        return sorted(int(row[0]) for row in rows)

    @reader
    def fair_queue(self, guild_id: int) -> list[VideoTask]:
        """A guild's waiting tasks in the order they will be started."""
        core = self._core
        since = to_db_time(core.clock() - SERVED_WINDOW)
        params = [guild_id, WAITING, EventKind.SUBMITTED.value, guild_id, since]
        order = [str(row[0]) for row in core.rows(_FAIR_ORDER, params)]
        by_id = {
            task.id: task
            for task in core.select("WHERE guild_id = ? AND status = ?", [guild_id, WAITING])
        }
        return [by_id[task_id] for task_id in order if task_id in by_id]

    @reader
    def member_unfinished(self, guild_id: int, user_id: int) -> list[VideoTask]:
        """A member's tasks in this guild that are waiting, being sent, queued or running."""
        statuses = [*NOT_TERMINAL, WAITING]
        return self._core.select(
            f"WHERE guild_id = ? AND user_id = ? AND status IN ({marks(statuses)})"
            " ORDER BY created_at, id",
            [guild_id, user_id, *statuses],
        )

    @writer
    def outdate_waiting_cards(self, guild_id: int) -> list[VideoTask]:
        """The live cards of a guild's waiting tasks no longer show their place: mark them
        outdated (``card_progress`` unknown), so they are edited, now or after a restart."""
        core = self._core
        where = (
            "WHERE guild_id = ? AND status = ? AND card_message_id IS NOT NULL"
            " AND card_dead_reason IS NULL"
        )
        with core.write():
            core.db.execute(f"UPDATE tasks SET card_progress = NULL {where}", [guild_id, WAITING])
            return core.select(where, [guild_id, WAITING])

    @writer
    def start_waiting(self, task_id: str, *, limits: Limits) -> VideoTask | QueueBlocked:
        """Move a waiting task to SUBMITTING if both concurrency limits have room now."""
        core = self._core
        now = core.clock()
        with core.write():
            task = core.fetch(task_id)
            if task is None or task.status is not TaskStatus.WAITING:
                return QueueBlocked.GONE
            guild_running = guild_running_of(core, task.guild_id)
            if limits.max_concurrent_per_guild and guild_running >= limits.max_concurrent_per_guild:
                return QueueBlocked.GUILD_FULL
            member_running = running_of(core, task.guild_id, task.user_id)
            if not limits.has_room(member_running=member_running, guild_running=guild_running):
                return QueueBlocked.MEMBER_BUSY
            changes = status_changes(task, TaskStatus.SUBMITTING, now)
            changes["metadata"] = {**task.metadata, "started_at": now.isoformat()}
            waited = round((now - task.created_at).total_seconds(), 3)
            detail = {"from": TaskStatus.WAITING.value, "to": "submitting", "waited": waited}
            return core.save(task, changes, now, EventKind.STATUS, detail)
