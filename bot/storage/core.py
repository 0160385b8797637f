"""``StoreCore``: the connection, clock and transaction plumbing every store mixin shares.

The operation mixins (``bot.storage.tasks``, ``claims``, ...) hold no state of their own;
they reach the database only through ``self._core``. Keeping the plumbing in one
composed object (rather than more mixin methods) means the async facade, which is built
from the same mixins for their declarations, inherits no way to touch a connection.

Writes: ``write()`` is one ``BEGIN IMMEDIATE`` transaction (a savepoint when already
inside one). IMMEDIATE takes the write lock up front, so a read-then-write (a lifecycle
move, a quota check before an insert) never fails half-way on a lock upgrade, and no
other connection (a second process, an admin CLI) can write between the read and the
write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.core import ids
from bot.core.clock import Clock, utc_now
from bot.core.errors import NotFound
from bot.core.models import EventKind, TaskEvent, VideoTask
from bot.storage.access import SyncSide
from bot.storage.codec import COLUMNS, SELECT, decode, encode, encode_detail, to_db_time


class StoreCore:
    """One connection, the clock, the id factory and the row-level helpers."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = utc_now,
        id_factory: Callable[[], str] = ids.new_video_id,
    ) -> None:
        self.db = db
        self.clock = clock
        self.id_factory = id_factory

    @contextmanager
    def write(self) -> Iterator[None]:
        """One write transaction (a savepoint when already inside one)."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def select(self, tail: str, params: Sequence[Any] = ()) -> list[VideoTask]:
        """``SELECT <task columns> FROM tasks <tail>`` as models."""
        return [decode(row) for row in self.db.query(f"{SELECT} {tail}", list(params))]

    def first(self, tail: str, params: Sequence[Any] = ()) -> VideoTask | None:
        """The first task ``select`` finds, or None."""
        found = self.select(tail, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row."""
        return self.db.execute(sql, list(params)).fetchone()[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a query, as tuples."""
        return list(self.db.execute(sql, list(params)).fetchall())

    def fetch(self, task_id: str) -> VideoTask | None:
        """The task, or None."""
        return self.first("WHERE id = ?", [task_id])

    def require(self, task_id: str) -> VideoTask:
        """The task; ``NotFound`` if there is none."""
        task = self.fetch(task_id)
        if task is None:
            raise NotFound(task_id)
        return task

    def require_in_guild(self, task_id: str, guild_id: int) -> VideoTask:
        """The task if it belongs to ``guild_id``; ``NotFound`` otherwise (also for others')."""
        task = self.first("WHERE id = ? AND guild_id = ?", [task_id, guild_id])
        if task is None:
            raise NotFound(task_id)
        return task

    def update(self, task_id: str, changes: Mapping[str, Any]) -> None:
        """Set some columns of one task (names come from code, never from callers' data)."""
        unknown = set(changes) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown task columns {sorted(unknown)}")
        assignments = ", ".join(f"{column} = ?" for column in changes)
        values = [encode(column, value) for column, value in changes.items()]
        self.db.execute(f"UPDATE tasks SET {assignments} WHERE id = ?", [*values, task_id])

    def insert_event(
        self, task_id: str, kind: EventKind, detail: Mapping[str, Any], at: datetime
    ) -> None:
        """Append one row to a task's audit trail."""
        self.db.execute(
            "INSERT INTO events (task_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            [task_id, to_db_time(at), kind, encode_detail(detail)],
        )

    def save(
        self,
        task: VideoTask,
        changes: Mapping[str, Any],
        now: datetime,
        event: EventKind | None,
        detail: Mapping[str, Any] | None = None,
    ) -> VideoTask:
        """Apply ``changes`` plus ``updated_at`` and the event; call inside ``write``."""
        self.update(task.id, {**changes, "updated_at": now})
        if event is not None:
            self.insert_event(task.id, event, detail or {}, now)
        return self.require(task.id)

    def events(self, task_id: str) -> list[TaskEvent]:
        """A task's audit trail, oldest first."""
        rows = self.db.query(
            "SELECT task_id, at, kind, detail FROM events WHERE task_id = ? ORDER BY at, id",
            [task_id],
        )
        return [
            TaskEvent(
                task_id=row["task_id"],
                at=datetime.fromisoformat(row["at"]),
                kind=EventKind(row["kind"]),
                detail=json.loads(row["detail"]),
            )
            for row in rows
        ]


class Operations(SyncSide):
    """Base of the store mixins: each reaches the database through ``self._core`` only."""

    __slots__ = ()
    _core: StoreCore
