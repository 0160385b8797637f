"""Persistence for video tasks: a synchronous ``TaskStore`` over sqlite-utils.

The store is a small class of named operations that take and return ``bot.core.models``
objects; no caller sees a row or writes SQL. It is deliberately synchronous (its tests
need no event loop); ``bot.storage.async_store.AsyncTaskStore`` runs it on one worker thread.

Writes: every method that changes a task runs in one ``BEGIN IMMEDIATE`` transaction
(``_write``) that reads the row, checks the move, updates it and appends an ``events``
row, so a task's state and its audit trail can never disagree. IMMEDIATE takes the
write lock up front, so a read-then-write never fails half-way on a lock upgrade when
another process (an admin CLI) holds the file. Illegal lifecycle moves raise
``IllegalTransition`` before anything is written.

Event kinds: created, submitted, status, completed, failed, cancelled, poll_error,
delivery_attempt, delivered, delivery_retry, delivery_failed, card_posted, and any
kind passed to ``add_event``.

Times: every "now" comes from the injected clock, except where a method takes ``now``
(the claim methods, so the scheduler tick and the lease agree). ``updated_at`` is the
time of the last lifecycle or delivery change; card bookkeeping and claim leases do
not touch it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.core import ids
from bot.core.clock import Clock, utc_now
from bot.core.errors import IllegalTransition, NotFound, parse_failure_code
from bot.core.lineage import DEFAULT_MAX_DEPTH, LineageError
from bot.core.models import (
    ACTIVE_STATUSES,
    DeliveryState,
    EventKind,
    TaskEvent,
    TaskKind,
    TaskStatus,
    VideoTask,
    check_transition,
)
from bot.storage.migrations import apply_migrations

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
_MAX_ID_ATTEMPTS = 20

_COLUMNS = tuple(f.name for f in dataclasses.fields(VideoTask))
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM tasks"
_INSERT = f"INSERT INTO tasks ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
_DATETIME_COLUMNS = frozenset(
    {
        "created_at",
        "updated_at",
        "completed_at",
        "next_poll_at",
        "card_edited_at",
        "next_delivery_at",
    }
)
_ACTIVE = tuple(s.value for s in sorted(ACTIVE_STATUSES))
_NOT_TERMINAL = (*_ACTIVE, TaskStatus.SUBMITTING.value)
_DELIVERY_OPEN = frozenset({DeliveryState.PENDING, DeliveryState.DELIVERING})
_RESERVED_METADATA = frozenset({"type", "remix_from", "remix_from_external"})
LIMIT_FIELDS = ("max_concurrent_per_user", "daily_seconds_per_user", "daily_budget", "banned_words")


class IllegalDeliveryTransition(IllegalTransition):
    """A delivery-state move that is not allowed (above all: delivering twice)."""

    def __init__(self, task_id: str, old: str, new: str) -> None:
        super().__init__(task_id, old, new)
        self.args = (f"task {task_id}: illegal delivery transition {old} -> {new}",)


# --- opening ------------------------------------------------------------------


def open_database(path: str | Path | None) -> Database:
    """Open (creating if needed) the database, set pragmas and apply migrations.

    ``None`` or ``":memory:"`` gives a private in-memory database. The connection keeps
    sqlite3's same-thread check: use it only from the thread that opened it.
    """
    if path is None or str(path) == ":memory:":
        db = Database(memory=True)
    else:
        db = Database(Path(path))
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode != "wal" and not db.memory:
        log.warning("SQLite refused WAL mode (journal_mode=%s) for %s", mode, path)
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_MS)}")
    apply_migrations(db)
    return db


def open_reader(path: str | Path) -> Database:
    """A second, read-only connection to an already migrated database file.

    In WAL mode a reader never waits for the writer, so queries that answer Discord
    interactions are not queued behind the poller's writes.
    """
    db = Database(Path(path))
    db.execute("PRAGMA query_only=ON")
    db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_MS)}")
    return db


# --- row <-> model ----------------------------------------------------------------


def to_db_time(dt: datetime) -> str:
    """Encode an aware datetime as fixed-width ISO-8601 UTC text (sortable as text)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: the store only accepts aware values")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _from_db_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _encode(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in _DATETIME_COLUMNS:
        return to_db_time(value)
    if column == "metadata":
        return json.dumps(value, sort_keys=True)
    if column == "result_attached":
        return int(bool(value))
    if column in ("status", "delivery_state", "card_status"):
        return str(value)
    return value


def _decode(row: Mapping[str, Any]) -> VideoTask:
    values = dict(row)
    for column in _DATETIME_COLUMNS:
        values[column] = _from_db_time(values[column])
    values["status"] = TaskStatus(values["status"])
    values["delivery_state"] = DeliveryState(values["delivery_state"])
    values["error_code"] = parse_failure_code(values["error_code"])
    values["card_status"] = values["card_status"] and TaskStatus(values["card_status"])
    values["metadata"] = json.loads(values["metadata"] or "{}")
    attached = values["result_attached"]
    values["result_attached"] = None if attached is None else bool(attached)
    return VideoTask(**values)


def _like_escape(text: str) -> str:
    """Escape LIKE wildcards so user text matches literally (with ``ESCAPE '\\'``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _clamp_progress(progress: int) -> int:
    return max(0, min(100, int(progress)))


def _check_page(limit: int, offset: int = 0) -> None:
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")


#: Groupings ``TaskStore.totals`` offers, each a fixed SQL expression (never caller text).
TOTAL_GROUPS = {
    "status": "status",
    "model": "model",
    "user": "user_id",
    "day": "substr(created_at, 1, 10)",
}


@dataclasses.dataclass(frozen=True, slots=True)
class GroupTotal:
    """One row of ``TaskStore.totals``: a group key and what its tasks add up to."""

    key: str
    count: int
    seconds: int
    cost: float


@dataclasses.dataclass(frozen=True, slots=True)
class ChainSize:
    """One remix family in ``TaskStore.top_chains``."""

    root_id: str
    tasks: int
    depth: int


def _history_where(
    guild_id: int,
    user_id: int | None,
    channel_id: int | None,
    status: TaskStatus | None,
    since: datetime | None,
    until: datetime | None,
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


class TaskStore:
    """Named operations on video tasks, their events, meta values and guild limits."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = utc_now,
        id_factory: Callable[[], str] = ids.new_video_id,
    ) -> None:
        self._db = db
        self._clock = clock
        self._id_factory = id_factory

    # --- plumbing ---------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction (a savepoint when already inside one)."""
        conn = self._db.conn
        if conn.in_transaction:
            with self._db.atomic():
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

    def _select(self, tail: str, params: Sequence[Any] = ()) -> list[VideoTask]:
        return [_decode(row) for row in self._db.query(f"{_SELECT} {tail}", list(params))]

    def _scalar(self, sql: str, params: Sequence[Any]) -> Any:
        return self._db.execute(sql, list(params)).fetchone()[0]

    def _require(self, task_id: str) -> VideoTask:
        task = self.get(task_id)
        if task is None:
            raise NotFound(task_id)
        return task

    def _update(self, task_id: str, changes: Mapping[str, Any]) -> None:
        unknown = set(changes) - set(_COLUMNS)
        if unknown:  # column names come from code, never from callers' data
            raise ValueError(f"unknown task columns {sorted(unknown)}")
        assignments = ", ".join(f"{column} = ?" for column in changes)
        values = [_encode(column, value) for column, value in changes.items()]
        self._db.execute(f"UPDATE tasks SET {assignments} WHERE id = ?", [*values, task_id])

    def _insert_event(
        self, task_id: str, kind: str, detail: Mapping[str, Any], at: datetime
    ) -> None:
        self._db.execute(
            "INSERT INTO events (task_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            [task_id, to_db_time(at), kind, json.dumps(dict(detail), sort_keys=True, default=str)],
        )

    def _save(
        self,
        task: VideoTask,
        changes: dict[str, Any],
        now: datetime,
        event: str | None,
        detail: Mapping[str, Any] | None = None,
    ) -> VideoTask:
        """Apply ``changes`` plus ``updated_at`` and the event; call inside ``_write``."""
        self._update(task.id, {**changes, "updated_at": now})
        if event is not None:
            self._insert_event(task.id, event, detail or {}, now)
        return self._require(task.id)

    @staticmethod
    def _status_changes(task: VideoTask, new: TaskStatus, now: datetime) -> dict[str, Any]:
        """Check ``task.status -> new`` and return the columns that move with it."""
        check_transition(task.id, task.status, new)
        changes: dict[str, Any] = {"status": new}
        if new.is_terminal:
            changes["next_poll_at"] = None
        if new is TaskStatus.COMPLETED:
            changes["completed_at"] = now
        if new in (TaskStatus.COMPLETED, TaskStatus.FAILED):  # a result or notice is owed
            changes.update(delivery_state=DeliveryState.PENDING, next_delivery_at=now)
        elif new is TaskStatus.CANCELLED:
            changes.update(delivery_state=DeliveryState.NONE, next_delivery_at=None)
        return changes

    @staticmethod
    def _check_delivery(task: VideoTask, new: DeliveryState) -> None:
        if task.delivery_state not in _DELIVERY_OPEN:
            raise IllegalDeliveryTransition(task.id, task.delivery_state.value, new.value)

    # --- creation and lookup ----------------------------------------------------------

    def new_video_id(self) -> str:
        """Return an id no existing task has (retrying on collision)."""
        for _ in range(_MAX_ID_ATTEMPTS):
            candidate = self._id_factory()
            if self._scalar("SELECT COUNT(*) FROM tasks WHERE id = ?", [candidate]) == 0:
                return candidate
        raise RuntimeError(f"no free video id after {_MAX_ID_ATTEMPTS} attempts")

    def create_task(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        prompt: str,
        model: str,
        seconds: int,
        size: str,
        parent: VideoTask | None = None,
        kind: TaskKind = TaskKind.GENERATE,
        metadata_extra: dict[str, Any] | None = None,
        estimated_cost: float | None = None,
    ) -> VideoTask:
        """Insert a new task in SUBMITTING, with its lineage and metadata.

        A task with a ``parent`` is a remix: ``kind`` GENERATE is recorded as REMIX and
        the metadata carries ``remix_from`` / ``remix_from_external``. A parent from
        another guild raises ``NotFound``. ``metadata_extra`` may not override those
        reserved keys.
        """
        extra = dict(metadata_extra or {})
        if clash := _RESERVED_METADATA & set(extra):
            raise ValueError(f"metadata_extra may not set {sorted(clash)}")
        if parent is not None and parent.guild_id != guild_id:
            raise NotFound(parent.id)
        if parent is not None and kind is TaskKind.GENERATE:
            kind = TaskKind.REMIX
        metadata: dict[str, Any] = {"type": kind.value}
        if parent is not None:
            metadata.update(remix_from=parent.id, remix_from_external=parent.upstream_id)
        metadata.update(extra)
        now = self._clock()
        with self._write():
            task_id = self.new_video_id()
            task = VideoTask(
                id=task_id,
                guild_id=guild_id,
                channel_id=channel_id,
                user_id=user_id,
                prompt=prompt,
                model=model,
                seconds=seconds,
                size=size,
                status=TaskStatus.SUBMITTING,
                created_at=now,
                updated_at=now,
                parent_id=parent.id if parent else None,
                root_id=(parent.root_id or parent.id) if parent else task_id,
                depth=parent.depth + 1 if parent else 0,
                estimated_cost=estimated_cost,
                metadata=metadata,
            )
            row = [_encode(c, getattr(task, c)) for c in _COLUMNS]
            self._db.execute(_INSERT, row)
            self._insert_event(
                task_id, "created", {"kind": kind.value, "parent_id": task.parent_id}, now
            )
            return self._require(task_id)

    def get(self, task_id: str) -> VideoTask | None:
        """Return the task, or None."""
        found = self._select("WHERE id = ?", [task_id])
        return found[0] if found else None

    def get_in_guild(self, task_id: str, guild_id: int) -> VideoTask:
        """Return the task if it belongs to ``guild_id``; otherwise raise ``NotFound``."""
        task = self.get(task_id)
        if task is None or task.guild_id != guild_id:
            raise NotFound(task_id)
        return task

    def get_by_upstream_id(self, upstream_id: str) -> VideoTask | None:
        """Return the task that owns this upstream job, or None."""
        found = self._select("WHERE upstream_id = ?", [upstream_id])
        return found[0] if found else None

    # --- lifecycle --------------------------------------------------------------

    def mark_submitted(
        self,
        task_id: str,
        *,
        upstream_id: str,
        status: TaskStatus,
        progress: int,
        next_poll_at: datetime | None,
    ) -> VideoTask:
        """Record the upstream's answer to the create call (only from SUBMITTING)."""
        now = self._clock()
        with self._write():
            task = self._require(task_id)
            if task.status is not TaskStatus.SUBMITTING or status is TaskStatus.SUBMITTING:
                raise IllegalTransition(task_id, task.status.value, status.value)
            changes: dict[str, Any] = {
                "upstream_id": upstream_id,
                "progress": _clamp_progress(progress),
                "next_poll_at": next_poll_at,
            }
            changes.update(self._status_changes(task, status, now))
            detail = {"upstream_id": upstream_id, "status": status.value}
            return self._save(task, changes, now, "submitted", detail)

    def update_progress(
        self,
        task_id: str,
        *,
        status: TaskStatus,
        progress: int,
        next_poll_at: datetime | None,
        result_url: str | None = None,
    ) -> VideoTask:
        """Record a successful poll: progress, maybe a new status (transition-checked).

        Resets ``poll_failures``, counts the poll, and writes a "status" event only when
        the status changed. A terminal status gets the same bookkeeping as
        ``complete``/``fail``/``cancel``.
        """
        now = self._clock()
        with self._write():
            task = self._require(task_id)
            changes: dict[str, Any] = {
                "progress": _clamp_progress(progress),
                "next_poll_at": next_poll_at,
                "poll_failures": 0,
                "poll_count": task.poll_count + 1,
            }
            if result_url is not None:
                changes["result_url"] = result_url
            changes.update(self._status_changes(task, status, now))
            if status is task.status:
                return self._save(task, changes, now, None)
            detail = {
                "from": task.status.value,
                "to": status.value,
                "progress": changes["progress"],
            }
            return self._save(task, changes, now, "status", detail)

    def complete(
        self, task_id: str, *, progress: int = 100, result_url: str | None = None
    ) -> VideoTask:
        """Mark completed; a result post becomes due now."""
        now = self._clock()
        with self._write():
            task = self._require(task_id)
            changes = self._status_changes(task, TaskStatus.COMPLETED, now)
            changes["progress"] = _clamp_progress(progress)
            if result_url is not None:
                changes["result_url"] = result_url
            return self._save(task, changes, now, "completed", {"from": task.status.value})

    def fail(
        self, task_id: str, *, code: str | None, message: str | None, notify: bool = True
    ) -> VideoTask:
        """Mark failed with the upstream's (or our) error; a failure notice becomes due.

        ``notify=False`` when the user was already told in place (the create call was
        refused while they waited): then no notice is owed (delivery state NONE).
        """
        now = self._clock()
        with self._write():
            task = self._require(task_id)
            changes = self._status_changes(task, TaskStatus.FAILED, now)
            changes.update(error_code=code, error_message=message)
            if not notify:
                changes.update(delivery_state=DeliveryState.NONE, next_delivery_at=None)
            detail = {"from": task.status.value, "code": code, "message": message, "notify": notify}
            return self._save(task, changes, now, "failed", detail)

    def cancel(self, task_id: str, *, by_user_id: int) -> VideoTask:
        """Mark cancelled; nothing is owed to the channel afterwards."""
        now = self._clock()
        with self._write():
            task = self._require(task_id)
            changes = self._status_changes(task, TaskStatus.CANCELLED, now)
            detail = {"from": task.status.value, "by_user_id": by_user_id}
            return self._save(task, changes, now, "cancelled", detail)

    def record_poll_failure(
        self, task_id: str, *, error_code: str, next_poll_at: datetime | None
    ) -> VideoTask:
        """Count a failed poll and schedule the next one (not for terminal tasks)."""
        now = self._clock()
        with self._write():
            task = self._require(task_id)
            if task.status.is_terminal:
                raise IllegalTransition(task_id, task.status.value, task.status.value)
            changes = {
                "poll_failures": task.poll_failures + 1,
                "poll_count": task.poll_count + 1,
                "next_poll_at": next_poll_at,
            }
            detail = {"error_code": error_code, "failures": changes["poll_failures"]}
            return self._save(task, changes, now, "poll_error", detail)

    def _claim(
        self, where: str, params: list[Any], column: str, now: datetime, limit: int, lease: float
    ) -> list[VideoTask]:
        if lease <= 0:
            raise ValueError("lease_seconds must be positive")
        _check_page(limit)
        until = now + timedelta(seconds=lease)
        with self._write():
            due = self._select(
                f"WHERE {where} AND {column} <= ? ORDER BY {column}, id LIMIT ?",
                [*params, to_db_time(now), limit],
            )
            for task in due:
                self._update(task.id, {column: until})
        return [task.replace(**{column: _from_db_time(to_db_time(until))}) for task in due]

    def release_claims(self, now: datetime) -> int:
        """Make every active task's poll and every owed delivery due at ``now``.

        For start-up: a process that died left its claims (leases) and backoffs in the
        table, and nothing is in flight any more, so everything is checked again at once
        (``claim_due`` still takes one batch per round). Returns the rows changed.
        """
        marks = ", ".join("?" for _ in _ACTIVE)
        owed = (DeliveryState.PENDING.value, DeliveryState.DELIVERING.value)
        stamp = to_db_time(now)
        with self._write():
            polls = self._db.execute(
                f"UPDATE tasks SET next_poll_at = ? WHERE status IN ({marks}) AND next_poll_at > ?",
                [stamp, *_ACTIVE, stamp],
            ).rowcount
            deliveries = self._db.execute(
                "UPDATE tasks SET next_delivery_at = ?"
                " WHERE delivery_state IN (?, ?) AND next_delivery_at > ?",
                [stamp, *owed, stamp],
            ).rowcount
        return polls + deliveries

    def claim_due(self, now: datetime, *, limit: int, lease_seconds: float) -> list[VideoTask]:
        """Take up to ``limit`` active tasks whose poll is due, oldest due first.

        Their ``next_poll_at`` moves to ``now + lease_seconds`` in the same transaction,
        so an overlapping tick (or a restart mid-tick) does not claim them again until
        the lease runs out; the returned tasks show the leased time.
        """
        where = f"status IN ({', '.join('?' for _ in _ACTIVE)})"
        return self._claim(where, [*_ACTIVE], "next_poll_at", now, limit, lease_seconds)

    def claim_deliveries(
        self, now: datetime, *, limit: int, lease_seconds: float
    ) -> list[VideoTask]:
        """Take up to ``limit`` tasks whose outcome post is due (pending or delivering)."""
        states = [DeliveryState.PENDING.value, DeliveryState.DELIVERING.value]
        return self._claim(
            "delivery_state IN (?, ?)", states, "next_delivery_at", now, limit, lease_seconds
        )

    # --- delivery ---------------------------------------------------------------

    def mark_delivering(self, task_id: str) -> VideoTask:
        """Record that a post is being attempted (it may reach Discord)."""
        now = self._clock()
        with self._write():
            task = self._require(task_id)
            self._check_delivery(task, DeliveryState.DELIVERING)
            attempt = task.delivery_attempts + 1
            changes = {"delivery_state": DeliveryState.DELIVERING, "delivery_attempts": attempt}
            return self._save(task, changes, now, "delivery_attempt", {"attempt": attempt})

    def mark_delivered(
        self, task_id: str, *, message_id: int, attached: bool | None, result_bytes: int | None
    ) -> VideoTask:
        """Record the posted message. Raises ``IllegalDeliveryTransition`` if already done."""
        now = self._clock()
        with self._write():
            task = self._require(task_id)
            self._check_delivery(task, DeliveryState.DELIVERED)
            changes: dict[str, Any] = {
                "delivery_state": DeliveryState.DELIVERED,
                "result_message_id": message_id,
                "result_attached": attached,
                "next_delivery_at": None,
                "delivery_error": None,
            }
            if result_bytes is not None:
                changes["result_bytes"] = result_bytes
            detail = {"message_id": message_id, "attached": attached, "result_bytes": result_bytes}
            return self._save(task, changes, now, "delivered", detail)

    def retry_delivery(self, task_id: str, *, error: str, next_delivery_at: datetime) -> VideoTask:
        """Put a failed post back to PENDING for a later attempt (attempts are kept)."""
        now = self._clock()
        with self._write():
            task = self._require(task_id)
            self._check_delivery(task, DeliveryState.PENDING)
            changes = {
                "delivery_state": DeliveryState.PENDING,
                "delivery_error": error,
                "next_delivery_at": next_delivery_at,
            }
            detail = {"error": error, "next_delivery_at": to_db_time(next_delivery_at)}
            return self._save(task, changes, now, "delivery_retry", detail)

    def mark_undeliverable(self, task_id: str, *, reason: str) -> VideoTask:
        """Give up posting (channel gone, no permission): never retried."""
        now = self._clock()
        with self._write():
            task = self._require(task_id)
            self._check_delivery(task, DeliveryState.UNDELIVERABLE)
            changes = {
                "delivery_state": DeliveryState.UNDELIVERABLE,
                "delivery_error": reason,
                "next_delivery_at": None,
            }
            return self._save(task, changes, now, "delivery_failed", {"reason": reason})

    # --- progress card ----------------------------------------------------------

    def set_card_message(self, task_id: str, message_id: int) -> None:
        """Remember the Discord message that shows the task's progress card."""
        now = self._clock()
        with self._write():
            self._require(task_id)
            self._update(task_id, {"card_message_id": message_id})
            self._insert_event(task_id, "card_posted", {"message_id": message_id}, now)

    def record_card_edit(self, task_id: str, *, status: TaskStatus | str, progress: int) -> None:
        """Remember what the card shows now, so unchanged cards are not re-edited."""
        now = self._clock()
        with self._write():
            self._require(task_id)
            changes = {"card_edited_at": now, "card_status": str(status), "card_progress": progress}
            self._update(task_id, changes)

    # --- queries ----------------------------------------------------------------

    def interrupted_submissions(self) -> list[VideoTask]:
        """Tasks left in SUBMITTING (after a crash), oldest first."""
        return self._select(
            "WHERE status = ? ORDER BY created_at, id", [TaskStatus.SUBMITTING.value]
        )

    def active_count(self) -> int:
        """Number of tasks the poller is responsible for (queued or in progress)."""
        marks = ", ".join("?" for _ in _ACTIVE)
        return int(self._scalar(f"SELECT COUNT(*) FROM tasks WHERE status IN ({marks})", _ACTIVE))

    def count_by_status(self) -> dict[str, int]:
        """How many tasks are in each lifecycle status (all guilds), for metrics."""
        rows = self._db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status").fetchall()
        return {status: int(count) for status, count in rows}

    def count_by_delivery_state(self) -> dict[str, int]:
        """How many tasks are in each delivery state (all guilds), for metrics."""
        rows = self._db.execute(
            "SELECT delivery_state, COUNT(*) FROM tasks GROUP BY delivery_state"
        ).fetchall()
        return {state: int(count) for state, count in rows}

    def children_of(self, task_id: str) -> list[VideoTask]:
        """Direct remixes of a task, oldest first."""
        return self._select("WHERE parent_id = ? ORDER BY created_at, id", [task_id])

    def ancestors(self, task_id: str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> list[VideoTask]:
        """``[parent, grandparent, ..., root]``; raises ``LineageError`` on a cycle."""
        current = self._require(task_id)
        seen = {current.id}
        found: list[VideoTask] = []
        while current.parent_id is not None:
            if len(found) >= max_depth:
                raise LineageError(f"lineage of {task_id} is deeper than {max_depth}")
            parent = self.get(current.parent_id)
            if parent is None:
                break
            if parent.id in seen:
                raise LineageError(f"parent cycle through {parent.id}")
            seen.add(parent.id)
            found.append(parent)
            current = parent
        return found

    def tree(self, root_id: str) -> list[VideoTask]:
        """Every task of one remix family, by depth then age (feed to ``build_tree``)."""
        return self._select("WHERE root_id = ? ORDER BY depth, created_at, id", [root_id])

    def recent_completed(
        self, guild_id: int, *, prefix: str = "", limit: int = 25
    ) -> list[VideoTask]:
        """Completed tasks of a guild, newest first, for autocomplete.

        A non-empty ``prefix`` matches the start of the id (a leading ``#`` is ignored)
        or any part of the prompt, case-insensitively; ``%`` and ``_`` match literally.
        """
        _check_page(limit)
        clauses = "WHERE guild_id = ? AND status = ?"
        params: list[Any] = [guild_id, TaskStatus.COMPLETED.value]
        needle = prefix.strip()
        if needle:
            id_part = needle.lower().removeprefix("#").strip("`")
            clauses += " AND (id LIKE ? ESCAPE '\\' OR prompt LIKE ? ESCAPE '\\')"
            params += [_like_escape(id_part) + "%", "%" + _like_escape(needle) + "%"]
        return self._select(
            f"{clauses} ORDER BY created_at DESC, id DESC LIMIT ?", [*params, limit]
        )

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
        _check_page(limit, offset)
        where, params = _history_where(guild_id, user_id, channel_id, status, since, until)
        tail = f"WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        return self._select(tail, [*params, limit, offset])

    def active_count_for_user(self, guild_id: int, user_id: int) -> int:
        """A member's unfinished tasks (submitting, queued or in progress)."""
        marks = ", ".join("?" for _ in _NOT_TERMINAL)
        sql = (
            f"SELECT COUNT(*) FROM tasks WHERE guild_id = ? AND user_id = ? AND status IN ({marks})"
        )
        return int(self._scalar(sql, [guild_id, user_id, *_NOT_TERMINAL]))

    def seconds_since(self, guild_id: int, user_id: int, since: datetime) -> int:
        """Video seconds a member requested since ``since``, for daily quotas.

        Counts every task created at or after ``since`` except cancelled ones: failed
        tasks count too, because a failure may still have been charged upstream and
        retry loops on rejected prompts should hit the quota.
        """
        sql = (
            "SELECT COALESCE(SUM(seconds), 0) FROM tasks"
            " WHERE guild_id = ? AND user_id = ? AND created_at >= ? AND status != ?"
        )
        params = [guild_id, user_id, to_db_time(since), TaskStatus.CANCELLED.value]
        return int(self._scalar(sql, params))

    def cost_since(self, guild_id: int, since: datetime) -> float:
        """Sum of ``estimated_cost`` in a guild since ``since`` (same rule as ``seconds_since``)."""
        sql = (
            "SELECT COALESCE(SUM(estimated_cost), 0.0) FROM tasks"
            " WHERE guild_id = ? AND created_at >= ? AND status != ?"
        )
        params = [guild_id, to_db_time(since), TaskStatus.CANCELLED.value]
        return float(self._scalar(sql, params))

    # --- admin queries: counts, totals, chains, retries ---------------------------------

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
        where, params = _history_where(guild_id, user_id, channel_id, status, since, until)
        return int(self._scalar(f"SELECT COUNT(*) FROM tasks WHERE {where}", params))

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
        where, params = _history_where(guild_id, None, None, None, since, until)
        key = TOTAL_GROUPS[by]
        sql = (
            f"SELECT {key} AS k, COUNT(*),"
            " COALESCE(SUM(CASE WHEN status = ? THEN seconds ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN status != ? THEN estimated_cost ELSE 0 END), 0.0)"
            f" FROM tasks WHERE {where} GROUP BY k ORDER BY COUNT(*) DESC, k"
        )
        done, cancelled = TaskStatus.COMPLETED.value, TaskStatus.CANCELLED.value
        rows = self._db.execute(sql, [done, cancelled, *params]).fetchall()
        return [
            GroupTotal(key=str(k), count=int(n), seconds=int(s), cost=round(float(c), 4))
            for k, n, s, c in rows
        ]

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
        _check_page(limit)
        where, params = _history_where(guild_id, None, None, None, since, until)
        sql = (
            "SELECT root_id, COUNT(*), MAX(depth) FROM tasks"
            f" WHERE {where} GROUP BY root_id HAVING MAX(depth) > 0"
            " ORDER BY COUNT(*) DESC, MAX(depth) DESC, root_id LIMIT ?"
        )
        rows = self._db.execute(sql, [*params, limit]).fetchall()
        return [ChainSize(root_id=r, tasks=int(n), depth=int(d)) for r, n, d in rows]

    def find_retry(self, task_id: str) -> VideoTask | None:
        """The task created as a retry of ``task_id`` (``metadata.retry_of``), if any."""
        found = self._select(
            "WHERE json_extract(metadata, '$.retry_of') = ? ORDER BY created_at, id LIMIT 1",
            [task_id],
        )
        return found[0] if found else None

    # --- events, meta, limits -------------------------------------------------------

    def add_event(self, task_id: str, kind: str, detail: dict[str, Any] | None = None) -> None:
        """Append a free-form event to a task's audit trail."""
        now = self._clock()
        with self._write():
            self._require(task_id)
            self._insert_event(task_id, EventKind(kind), detail or {}, now)

    def events(self, task_id: str) -> list[TaskEvent]:
        """A task's audit trail, oldest first."""
        rows = self._db.query(
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

    def get_meta(self, key: str) -> str | None:
        """Return a stored meta value, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        """Store a meta value, replacing any previous one."""
        with self._write():
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )

    def get_limits(self, guild_id: int) -> dict[str, Any] | None:
        """Return a guild's limit overrides (None values mean "use the default")."""
        rows = list(self._db.query("SELECT * FROM guild_limits WHERE guild_id = ?", [guild_id]))
        if not rows:
            return None
        row = rows[0]
        row["banned_words"] = (
            None if row["banned_words"] is None else json.loads(row["banned_words"])
        )
        row["updated_at"] = datetime.fromisoformat(row["updated_at"])
        return row

    def set_limits(self, guild_id: int, *, updated_by: int, **values: Any) -> None:
        """Change some of a guild's limits (keys from ``LIMIT_FIELDS``); others are kept."""
        if unknown := set(values) - set(LIMIT_FIELDS):
            raise ValueError(f"unknown limit fields {sorted(unknown)}")
        words = values.get("banned_words")
        if words is not None and not all(isinstance(w, str) for w in words):
            raise ValueError("banned_words must be a list of strings")
        now = self._clock()
        with self._write():
            current = self.get_limits(guild_id) or {}
            merged = {f: current.get(f) for f in LIMIT_FIELDS}
            merged.update(values)
            if merged["banned_words"] is not None:
                merged["banned_words"] = json.dumps(list(merged["banned_words"]))
            self._db.execute(
                "INSERT INTO guild_limits (guild_id, max_concurrent_per_user,"
                " daily_seconds_per_user, daily_budget, banned_words, updated_at, updated_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(guild_id) DO UPDATE SET"
                " max_concurrent_per_user = excluded.max_concurrent_per_user,"
                " daily_seconds_per_user = excluded.daily_seconds_per_user,"
                " daily_budget = excluded.daily_budget, banned_words = excluded.banned_words,"
                " updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                [guild_id, *(merged[f] for f in LIMIT_FIELDS), to_db_time(now), updated_by],
            )
