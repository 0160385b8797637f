"""Builders shared by the store, lineage and async-store tests.

Plain functions (no pytest fixtures), so any test module can import them without
conftest wiring: ``from tests.store_fixtures import make_task``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.core.clock import DEFAULT_START, ManualClock
from bot.core.limits import QueueLoad
from bot.core.models import TaskStatus, VideoTask
from bot.storage.store import TaskStore, open_database

T0 = DEFAULT_START
GUILD = 1_100_000_000_000_000_001
OTHER_GUILD = 1_100_000_000_000_000_002
CHANNEL = 1_200_000_000_000_000_001
USER = 1_300_000_000_000_000_001


def open_store(
    path: str | Path | None = None, clock: ManualClock | None = None
) -> tuple[Database, TaskStore]:
    """A store over a fresh (or existing, for ``path``) migrated database, and that database."""
    db = open_database(path)
    return db, TaskStore(db, clock=clock or ManualClock(T0))


def make_task(store: TaskStore, **overrides: Any) -> VideoTask:
    """Create a SUBMITTING task with sensible defaults."""
    values: dict[str, Any] = {
        "guild_id": GUILD,
        "channel_id": CHANNEL,
        "user_id": USER,
        "prompt": "a red fox in the snow",
        "model": "sora-2",
        "seconds": 4,
        "size": "720x1280",
    }
    values.update(overrides)
    return store.create_task(**values)


class _AlwaysWait:
    """A ``WaitRule`` that sends every new task to the queue."""

    def must_wait(self, load: QueueLoad) -> bool:
        return True


ALWAYS_WAIT = _AlwaysWait()


def drive_to(
    store: TaskStore, task: VideoTask, status: TaskStatus, *, now: datetime = T0
) -> VideoTask:
    """Move a SUBMITTING task to ``status`` along legal transitions.

    WAITING cannot be reached from SUBMITTING: a waiting task is made instead (a new row).
    """
    upstream = f"video_{task.id}"
    poll = now + timedelta(seconds=10)
    if status is TaskStatus.SUBMITTING:
        return task
    if status is TaskStatus.WAITING:
        return make_task(store, wait_rule=ALWAYS_WAIT)
    if status is TaskStatus.FAILED:
        return store.fail(task.id, code="boom", message="it broke")
    first = TaskStatus.IN_PROGRESS if status is TaskStatus.IN_PROGRESS else TaskStatus.QUEUED
    task = store.mark_submitted(
        task.id, upstream_id=upstream, status=first, progress=0, next_poll_at=poll
    )
    if status is TaskStatus.COMPLETED:
        return store.complete(task.id, result_url=f"https://example.invalid/{task.id}.mp4")
    if status is TaskStatus.CANCELLED:
        return store.cancel(task.id, by_user_id=USER)
    return task


def completed_task(store: TaskStore, **overrides: Any) -> VideoTask:
    """Create a task and complete it (it gets upstream id ``video_<id>``)."""
    return drive_to(store, make_task(store, **overrides), TaskStatus.COMPLETED)


def video_task(task_id: str, parent_id: str | None = None, **fields: Any) -> VideoTask:
    """A VideoTask built in memory (no database), for lineage tests."""
    values: dict[str, Any] = {
        "id": task_id,
        "guild_id": GUILD,
        "channel_id": CHANNEL,
        "user_id": USER,
        "prompt": f"prompt of {task_id}",
        "model": "sora-2",
        "seconds": 4,
        "size": "720x1280",
        "status": TaskStatus.COMPLETED,
        "created_at": T0,
        "updated_at": T0,
        "upstream_id": f"video_{task_id}",
        "parent_id": parent_id,
        "root_id": task_id if parent_id is None else "",
    }
    values.update(fields)
    return VideoTask(**values)
