"""Task lifecycle: create, look up, submitted, progress, complete, fail, cancel, poll errors.

Every method that changes a task runs in one ``BEGIN IMMEDIATE`` transaction that reads
the row, checks the move, updates it and appends an ``events`` row, so a task's state
and its audit trail can never disagree. Illegal lifecycle moves raise
``IllegalTransition`` before anything is written.

``create_task`` takes an optional ``Admission`` (``bot.storage.usage``): the quota check
then runs inside the insert's transaction, after the write lock is taken, so two
simultaneous submissions cannot both pass a limit that has room for one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.errors import IllegalTransition, NotFound
from bot.core.models import (
    DeliveryState,
    EventKind,
    TaskKind,
    TaskStatus,
    VideoTask,
    check_transition,
    clean_author_name,
)
from bot.storage.access import quick_reader, reader, writer
from bot.storage.codec import INSERT, clamp_progress, insert_row, marks
from bot.storage.core import Operations, StoreCore
from bot.storage.usage import Admission, WaitRule, load_of, usage_of

_MAX_ID_ATTEMPTS = 20
#: Ids per ``IN (...)`` query (well under SQLite's limit on bound variables).
_ID_BATCH = 500
_RESERVED_METADATA = frozenset(
    {"type", "remix_from", "remix_from_external", "extend_from", "extend_from_external"}
)


def status_changes(task: VideoTask, new: TaskStatus, now: datetime) -> dict[str, Any]:
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


def _lineage_metadata(
    guild_id: int, parent: VideoTask | None, kind: TaskKind, extra: dict[str, Any] | None
) -> tuple[TaskKind, dict[str, Any]]:
    """The recorded kind and metadata of a new task (a task with a parent is a remix)."""
    extra = dict(extra or {})
    if clash := _RESERVED_METADATA & set(extra):
        raise ValueError(f"metadata_extra may not set {sorted(clash)}")
    if parent is not None and parent.guild_id != guild_id:
        raise NotFound(parent.id)
    if parent is not None and kind is TaskKind.GENERATE:
        kind = TaskKind.REMIX
    metadata: dict[str, Any] = {"type": kind.value}
    if parent is not None and kind is TaskKind.EXTEND:
        metadata.update(extend_from=parent.id, extend_from_external=parent.upstream_id)
    elif parent is not None:
        metadata.update(remix_from=parent.id, remix_from_external=parent.upstream_id)
    metadata.update(extra)
    return kind, metadata


def _waits(core: StoreCore, rule: WaitRule | None, guild_id: int, user_id: int) -> bool:
    """Whether a new task goes to the queue (inside the insert's transaction)."""
    return rule is not None and rule.must_wait(load_of(core, guild_id, user_id))


def _created_detail(task: VideoTask, kind: TaskKind) -> dict[str, Any]:
    """The ``created`` event's detail (``waiting`` when the task went to the queue)."""
    detail: dict[str, Any] = {"kind": kind.value, "parent_id": task.parent_id}
    if task.status is TaskStatus.WAITING:
        detail["waiting"] = True
    return detail


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """One successful poll to record: ``update_progress``'s arguments, for a whole round."""

    task_id: str
    status: TaskStatus
    progress: int
    next_poll_at: datetime | None
    result_url: str | None = None


#: What ``update_progress_many`` gives for each update: the task as it now is, or the
#: error ``update_progress`` would have raised (that update wrote nothing).
ProgressResult = VideoTask | NotFound | IllegalTransition


def _record_progress(
    core: StoreCore, task: VideoTask, update: ProgressUpdate, now: datetime
) -> None:
    """Write one poll's result (inside ``core.write()``); raises before writing if illegal."""
    changes: dict[str, Any] = {
        "progress": clamp_progress(update.progress),
        "next_poll_at": update.next_poll_at,
        "poll_failures": 0,
        "poll_count": task.poll_count + 1,
    }
    if update.result_url is not None:
        changes["result_url"] = update.result_url
    changes.update(status_changes(task, update.status, now))
    core.update(task.id, {**changes, "updated_at": now})
    if update.status is not task.status:
        detail = {
            "from": task.status.value,
            "to": update.status.value,
            "progress": changes["progress"],
        }
        core.insert_event(task.id, EventKind.STATUS, detail, now)


def _tasks_by_id(core: StoreCore, ids: Sequence[str]) -> dict[str, VideoTask]:
    """The tasks with these ids (absent ones are left out), in few queries."""
    found: dict[str, VideoTask] = {}
    for start in range(0, len(ids), _ID_BATCH):
        batch = list(ids[start : start + _ID_BATCH])
        found.update((t.id, t) for t in core.select(f"WHERE id IN ({marks(batch)})", batch))
    return found


class TaskLifecycle(Operations):
    """Creating tasks, finding them by id, and moving them through their statuses."""

    __slots__ = ()

    @writer
    def new_video_id(self) -> str:
        """Return an id no existing task has (retrying on collision)."""
        core = self._core
        for _ in range(_MAX_ID_ATTEMPTS):
            candidate = core.id_factory()
            if core.scalar("SELECT COUNT(*) FROM tasks WHERE id = ?", [candidate]) == 0:
                return candidate
        raise RuntimeError(f"no free video id after {_MAX_ID_ATTEMPTS} attempts")

    @writer
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
        admission: Admission | None = None,
        author_name: str | None = None,
        upload_limit: int | None = None,
        wait_rule: WaitRule | None = None,
    ) -> VideoTask:
        """Insert a new task in SUBMITTING (or WAITING), with its lineage and metadata.

        A task with a ``parent`` is a remix: ``kind`` GENERATE is recorded as REMIX and
        the metadata carries ``remix_from`` / ``remix_from_external`` (which
        ``metadata_extra`` may not override); a parent of another guild is ``NotFound``.
        ``admission.check`` sees the usage inside the insert's transaction and refuses by
        raising (nothing is written); ``wait_rule`` then decides whether the task waits in
        the queue. ``author_name`` is stored as ``clean_author_name`` makes it.
        """
        kind, metadata = _lineage_metadata(guild_id, parent, kind, metadata_extra)
        core = self._core
        now = core.clock()
        with core.write():
            if admission is not None:
                admission.check(usage_of(core, guild_id, user_id, admission.since))
            waits = _waits(core, wait_rule, guild_id, user_id)
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
                status=TaskStatus.WAITING if waits else TaskStatus.SUBMITTING,
                created_at=now,
                updated_at=now,
                parent_id=parent.id if parent else None,
                root_id=(parent.root_id or parent.id) if parent else task_id,
                depth=parent.depth + 1 if parent else 0,
                estimated_cost=estimated_cost,
                metadata=metadata,
                author_name=clean_author_name(author_name),
                upload_limit=upload_limit,
            )
            core.db.execute(INSERT, insert_row(task))
            core.insert_event(task_id, EventKind.CREATED, _created_detail(task, kind), now)
            return core.require(task_id)

    @quick_reader
    def get(self, task_id: str) -> VideoTask | None:
        """Return the task, or None (for the bot's own bookkeeping, not for members)."""
        return self._core.fetch(task_id)

    @reader
    def get_in_guild(self, task_id: str, guild_id: int) -> VideoTask:
        """Return the task if it belongs to ``guild_id``; otherwise raise ``NotFound``."""
        return self._core.require_in_guild(task_id, guild_id)

    @reader
    def get_by_upstream_id(self, upstream_id: str) -> VideoTask | None:
        """Return the task that owns this upstream job, or None."""
        return self._core.first("WHERE upstream_id = ?", [upstream_id])

    @writer
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
        core = self._core
        now = core.clock()
        with core.write():
            task = core.require(task_id)
            if task.status is not TaskStatus.SUBMITTING or status is TaskStatus.SUBMITTING:
                raise IllegalTransition(task_id, task.status.value, status.value)
            changes: dict[str, Any] = {
                "upstream_id": upstream_id,
                "progress": clamp_progress(progress),
                "next_poll_at": next_poll_at,
            }
            changes.update(status_changes(task, status, now))
            detail = {"upstream_id": upstream_id, "status": status.value}
            return core.save(task, changes, now, EventKind.SUBMITTED, detail)

    @writer
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
        core = self._core
        now = core.clock()
        update = ProgressUpdate(task_id, status, progress, next_poll_at, result_url)
        with core.write():
            _record_progress(core, core.require(task_id), update, now)
            return core.require(task_id)

    @writer
    def update_progress_many(self, updates: Sequence[ProgressUpdate]) -> list[ProgressResult]:
        """``update_progress`` for a whole poll round, in one transaction.

        Item ``i`` of the result is what ``update_progress`` would give for
        ``updates[i]``: the updated task, or the ``NotFound`` / ``IllegalTransition`` it
        would raise (that update writes nothing; the others are still written). The
        round's tasks are read in one query before and one after, and committed once:
        a round of 50 separate calls reads each task twice and commits 50 times. Each
        task may appear once (``ValueError`` otherwise).
        """
        ids = [u.task_id for u in updates]
        if len(set(ids)) != len(ids):
            raise ValueError("each task may be updated once per call")
        core = self._core
        now = core.clock()
        errors: dict[str, NotFound | IllegalTransition] = {}
        with core.write():
            before = _tasks_by_id(core, ids)
            for update in updates:
                task = before.get(update.task_id)
                try:
                    if task is None:
                        raise NotFound(update.task_id)
                    _record_progress(core, task, update, now)
                except (NotFound, IllegalTransition) as exc:
                    errors[update.task_id] = exc
            after = _tasks_by_id(core, [i for i in ids if i not in errors])
        return [errors[i] if i in errors else after[i] for i in ids]

    @writer
    def complete(
        self, task_id: str, *, progress: int = 100, result_url: str | None = None
    ) -> VideoTask:
        """Mark completed; a result post becomes due now."""
        core = self._core
        now = core.clock()
        with core.write():
            task = core.require(task_id)
            changes = status_changes(task, TaskStatus.COMPLETED, now)
            changes["progress"] = clamp_progress(progress)
            if result_url is not None:
                changes["result_url"] = result_url
            return core.save(task, changes, now, EventKind.COMPLETED, {"from": task.status.value})

    @writer
    def fail(
        self, task_id: str, *, code: str | None, message: str | None, notify: bool = True
    ) -> VideoTask:
        """Mark failed with the upstream's (or our) error; a failure notice becomes due.

        ``notify=False`` when the user was already told in place (the create call was
        refused while they waited): then no notice is owed (delivery state NONE).
        """
        core = self._core
        now = core.clock()
        with core.write():
            task = core.require(task_id)
            changes = status_changes(task, TaskStatus.FAILED, now)
            changes.update(error_code=code, error_message=message)
            if not notify:
                changes.update(delivery_state=DeliveryState.NONE, next_delivery_at=None)
            detail = {"from": task.status.value, "code": code, "message": message, "notify": notify}
            return core.save(task, changes, now, EventKind.FAILED, detail)

    @writer
    def cancel(self, task_id: str, *, by_user_id: int) -> VideoTask:
        """Mark cancelled; nothing is owed to the channel afterwards."""
        core = self._core
        now = core.clock()
        with core.write():
            task = core.require(task_id)
            changes = status_changes(task, TaskStatus.CANCELLED, now)
            detail = {"from": task.status.value, "by_user_id": by_user_id}
            return core.save(task, changes, now, EventKind.CANCELLED, detail)

    @writer
    def record_poll_failure(
        self, task_id: str, *, error_code: str, next_poll_at: datetime | None
    ) -> VideoTask:
        """Count a failed poll and schedule the next one (not for terminal tasks)."""
        core = self._core
        now = core.clock()
        with core.write():
            task = core.require(task_id)
            if task.status.is_terminal:
                raise IllegalTransition(task_id, task.status.value, task.status.value)
            changes = {
                "poll_failures": task.poll_failures + 1,
                "poll_count": task.poll_count + 1,
                "next_poll_at": next_poll_at,
            }
            detail = {"error_code": error_code, "failures": changes["poll_failures"]}
            return core.save(task, changes, now, EventKind.POLL_ERROR, detail)
