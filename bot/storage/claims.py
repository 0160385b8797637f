"""Claims (leases): which tasks the poller and the notifier take next.

A claim moves ``next_poll_at`` / ``next_delivery_at`` to ``now + lease`` in the same
transaction that selects the due rows, so an overlapping tick (or a restart mid-tick)
does not take them again until the lease runs out. Claims take ``now`` from the caller
so the scheduler tick and the lease agree.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from bot.core.models import DeliveryState, TaskStatus, VideoTask
from bot.storage.access import writer
from bot.storage.codec import ACTIVE, SELECT, check_page, decode, marks, to_db_time
from bot.storage.core import Operations, StoreCore

_OWED = (DeliveryState.PENDING.value, DeliveryState.DELIVERING.value)
#: Ids per ``IN (...)`` query (well under SQLite's limit on bound variables).
_ID_BATCH = 500


def _due_sql(state_column: str, states: int, column: str) -> str:
    """The due rows of ``states`` states, ``column`` order, at most ``limit``.

    One ordered, limited index range per state (``(state, due)`` indexes), merged: the
    plain ``state IN (...) ORDER BY due`` reads and sorts every due row, so with 10,000
    tasks overdue it cost 4 ms a claim against 0.4 ms, and it grows with the backlog.
    The top ``limit`` of each state holds the top ``limit`` of all of them, ties included
    (each part orders by ``id`` too).
    """
    part = (
        f"SELECT * FROM (SELECT id FROM tasks WHERE {state_column} = ? AND {column} <= ?"
        f" ORDER BY {column}, id LIMIT ?)"
    )
    parts = " UNION ALL ".join(part for _ in range(states))
    return f"{SELECT} WHERE id IN ({parts}) ORDER BY {column}, id LIMIT ?"


def _claim(
    core: StoreCore,
    state_column: str,
    states: Sequence[str],
    column: str,
    now: datetime,
    *,
    limit: int,
    lease: float,
) -> list[VideoTask]:
    if lease <= 0:
        raise ValueError("lease_seconds must be positive")
    check_page(limit)
    until = to_db_time(now + timedelta(seconds=lease))
    stamp = to_db_time(now)
    params = [value for state in states for value in (state, stamp, limit)]
    with core.write():
        rows = list(core.db.query(_due_sql(state_column, len(states), column), [*params, limit]))
        ids = [row["id"] for row in rows]
        for start in range(0, len(ids), _ID_BATCH):
            batch = ids[start : start + _ID_BATCH]
            core.db.execute(
                f"UPDATE tasks SET {column} = ? WHERE id IN ({marks(batch)})", [until, *batch]
            )
    for row in rows:
        row[column] = until  # the returned tasks show the lease
    return [decode(row) for row in rows]


class Claims(Operations):
    """Leasing due polls and deliveries; releasing every lease at start-up."""

    __slots__ = ()

    @writer
    def interrupted_submissions(self) -> list[VideoTask]:
        """Tasks left in SUBMITTING (after a crash), oldest first."""
        return self._core.select(
            "WHERE status = ? ORDER BY created_at, id", [TaskStatus.SUBMITTING.value]
        )

    @writer
    def upstream_ids_in_use(self, upstream_ids: Collection[str]) -> set[str]:
        """Which of ``upstream_ids`` some task already holds (start-up reconciliation).

        A job listed by the upstream that a task already owns must never be given to a
        second task.
        """
        wanted = list(dict.fromkeys(upstream_ids))
        found: set[str] = set()
        for start in range(0, len(wanted), _ID_BATCH):
            batch = wanted[start : start + _ID_BATCH]
            rows = self._core.db.execute(
                f"SELECT upstream_id FROM tasks WHERE upstream_id IN ({marks(batch)})", batch
            ).fetchall()
            found.update(row[0] for row in rows)
        return found

    @writer
    def active_by_upstream_ids(self, upstream_ids: Collection[str]) -> list[VideoTask]:
        """The active tasks holding any of ``upstream_ids`` (a list page's jobs).

        A page of ``GET /videos`` answers for every job on it, the key's other users'
        jobs too: only those a task of ours holds and still follows are returned.
        """
        wanted = list(dict.fromkeys(upstream_ids))
        found: list[VideoTask] = []
        for start in range(0, len(wanted), _ID_BATCH):
            batch = wanted[start : start + _ID_BATCH]
            found += self._core.select(
                f"WHERE upstream_id IN ({marks(batch)}) AND status IN ({marks(ACTIVE)})",
                [*batch, *ACTIVE],
            )
        return found

    @writer
    def release_claims(self, now: datetime) -> int:
        """Make every active task's poll and every owed delivery due at ``now``.

        For start-up: a process that died left its claims (leases) and backoffs in the
        table, and nothing is in flight any more, so everything is checked again at once
        (``claim_due`` still takes one batch per round). Returns the rows changed.
        """
        core, stamp = self._core, to_db_time(now)
        with core.write():
            polls = core.db.execute(
                "UPDATE tasks SET next_poll_at = ?"
                f" WHERE status IN ({marks(ACTIVE)}) AND next_poll_at > ?",
                [stamp, *ACTIVE, stamp],
            ).rowcount
            deliveries = core.db.execute(
                "UPDATE tasks SET next_delivery_at = ?"
                " WHERE delivery_state IN (?, ?) AND next_delivery_at > ?",
                [stamp, *_OWED, stamp],
            ).rowcount
        return int(polls + deliveries)

    @writer
    def claim_due(self, now: datetime, *, limit: int, lease_seconds: float) -> list[VideoTask]:
        """Take up to ``limit`` active tasks whose poll is due, oldest due first.

        The returned tasks show the leased ``next_poll_at``.
        """
        return _claim(
            self._core, "status", ACTIVE, "next_poll_at", now, limit=limit, lease=lease_seconds
        )

    @writer
    def release_polls(self, task_ids: Collection[str], at: datetime) -> int:
        """Make the polls of ``task_ids`` due at ``at`` again (active tasks only).

        For claims a round took but did not poll (its request budget ran out, or the
        upstream answered 429): they are due again at ``at`` instead of when the lease
        ends, and nothing about them is counted as polled. Returns the rows changed.
        """
        ids = list(dict.fromkeys(task_ids))
        stamp, changed = to_db_time(at), 0
        with self._core.write():
            for start in range(0, len(ids), _ID_BATCH):
                batch = ids[start : start + _ID_BATCH]
                changed += self._core.db.execute(
                    f"UPDATE tasks SET next_poll_at = ? WHERE id IN ({marks(batch)})"
                    f" AND status IN ({marks(ACTIVE)})",
                    [stamp, *batch, *ACTIVE],
                ).rowcount
        return changed

    @writer
    def claim_deliveries(
        self, now: datetime, *, limit: int, lease_seconds: float
    ) -> list[VideoTask]:
        """Take up to ``limit`` tasks whose outcome post is due (pending or delivering)."""
        return _claim(
            self._core,
            "delivery_state",
            _OWED,
            "next_delivery_at",
            now,
            limit=limit,
            lease=lease_seconds,
        )
