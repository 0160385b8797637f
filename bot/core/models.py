"""Domain models: the video task, its lifecycle state machine, delivery states and events.

Everything here is plain data with no I/O, so every other layer (store, poller,
Discord adapter) shares one vocabulary. The legal lifecycle transitions live in
``TRANSITIONS`` and nowhere else. The stored vocabulary is ``StrEnum``s: columns hold
their plain text values and the store converts back when it reads (failure codes are
``bot.core.errors.FailureCode``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core.errors import FailureCode, IllegalTransition


class TaskStatus(StrEnum):
    """Where a video task is in its life.

    ``submitting`` is our own state: the row exists but the upstream create call
    has not answered yet. A task found in ``submitting`` after a restart may or
    may not have reached the upstream, so it is failed, never re-sent (a create
    costs money).

    ``waiting`` is our own state too: the member (or the guild) was at its concurrency
    limit, so the task waits in the fair queue (``bot.services.queue``); nothing was sent
    upstream yet. It leaves the queue for ``submitting`` in one write, so it is never sent
    twice; its quota (seconds, cost) is already counted while it waits.
    """

    WAITING = "waiting"
    SUBMITTING = "submitting"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True when no further lifecycle transition is possible."""
        return self in TERMINAL_STATUSES

    @property
    def is_active(self) -> bool:
        """True while the upstream is (or may be) working on the task."""
        return self in ACTIVE_STATUSES


TERMINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})
ACTIVE_STATUSES = frozenset({TaskStatus.QUEUED, TaskStatus.IN_PROGRESS})

#: The one place that says which lifecycle moves are legal.
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.WAITING: frozenset({TaskStatus.SUBMITTING, TaskStatus.FAILED, TaskStatus.CANCELLED}),
    TaskStatus.SUBMITTING: frozenset(
        {TaskStatus.QUEUED, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED, TaskStatus.FAILED}
    ),
    TaskStatus.QUEUED: frozenset(
        {TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}
    ),
    TaskStatus.IN_PROGRESS: frozenset(
        {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED}
    ),
    TaskStatus.COMPLETED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}


def check_transition(task_id: str, old: TaskStatus, new: TaskStatus) -> None:
    """Raise ``IllegalTransition`` unless ``old -> new`` is a legal move.

    Staying in the same non-terminal state (a progress update) is allowed.
    """
    if old == new and not old.is_terminal:
        return
    if new not in TRANSITIONS[old]:
        raise IllegalTransition(task_id, old.value, new.value)


class DeliveryState(StrEnum):
    """Whether the outcome of a terminal task has been posted to Discord.

    ``pending``: a post is owed (result or failure notice).
    ``delivering``: a post was attempted and may have reached Discord; on
    restart the notifier first looks for it before posting again.
    ``delivered``: posted, with ``result_message_id`` recorded. Never posted again.
    ``undeliverable``: a permanent failure (channel gone, no permission); recorded
    as an event, not retried.
    ``none``: nothing owed (still running, or cancelled by an admin).
    """

    NONE = "none"
    PENDING = "pending"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"


class TaskKind(StrEnum):
    """What created a task; stored as ``metadata["type"]``."""

    GENERATE = "generate"
    REMIX = "remix"
    RETRY = "retry"
    EXTEND = "extend"  # continues its parent (``/extend``); a child in the tree like a remix


class EventKind(StrEnum):
    """The ``kind`` of a row in a task's audit trail (the ``events`` table).

    Stored data: never rename a value without a migration.
    """

    CREATED = "created"
    SUBMITTED = "submitted"
    STATUS = "status"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    POLL_ERROR = "poll_error"
    DELIVERY_ATTEMPT = "delivery_attempt"
    DELIVERED = "delivered"
    DELIVERY_RETRY = "delivery_retry"
    DELIVERY_FAILED = "delivery_failed"
    CARD_POSTED = "card_posted"
    CARD_DEAD = "card_dead"
    RETRIED = "retried"
    RESULT_DELETED = "result_deleted"  # the result post was deleted (Delete button)
    NOTE = "note"  # a free-form remark (operators, tests)


#: The events that end a task's lifecycle.
FINISH_EVENTS = frozenset({EventKind.COMPLETED, EventKind.FAILED, EventKind.CANCELLED})


#: Longest author name kept (Discord display names are at most 32 characters).
AUTHOR_NAME_CHARS = 64


def clean_author_name(name: str | None) -> str | None:
    """A display name as stored: one line, at most ``AUTHOR_NAME_CHARS``, None when blank.

    It is shown as text (never as a mention), so only its shape is normalised here;
    markdown is escaped where it is rendered.
    """
    flat = " ".join((name or "").split())
    return flat[:AUTHOR_NAME_CHARS] or None


@dataclass(frozen=True, kw_only=True, slots=True)
class VideoTask:
    """One video job as the bot knows it. Times are timezone-aware UTC.

    ``error_code`` is a ``FailureCode``, or the upstream's own code as text when it
    reported the job failed with one. ``card_status`` is the status the progress card
    shows now. ``author_name`` is the author's display name when they submitted (None
    on rows from before it was recorded); ``user_id`` stays the identity.
    ``upload_limit`` is the largest file, in bytes, the bot may attach to the result post
    in the task's guild: recorded at submission from the guild's boost tier and refreshed
    whenever the guild becomes available again, so delivery never reads it from a cache
    that is still empty after a restart (None: not known yet; delivery then asks the
    live guild, and waits while the guild is unavailable).
    """

    id: str
    guild_id: int
    channel_id: int
    user_id: int
    prompt: str
    model: str
    seconds: int
    size: str
    status: TaskStatus
    created_at: datetime
    updated_at: datetime
    upstream_id: str | None = None
    progress: int = 0
    error_code: FailureCode | str | None = None
    error_message: str | None = None
    result_url: str | None = None
    result_bytes: int | None = None
    result_attached: bool | None = None
    completed_at: datetime | None = None
    next_poll_at: datetime | None = None
    poll_count: int = 0
    poll_failures: int = 0
    card_message_id: int | None = None
    card_edited_at: datetime | None = None
    card_progress: int | None = None
    card_status: TaskStatus | None = None
    #: Why the status card can no longer be edited (None: it can); see ``CardGone``.
    card_dead_reason: str | None = None
    result_message_id: int | None = None
    delivery_state: DeliveryState = DeliveryState.NONE
    delivery_attempts: int = 0
    next_delivery_at: datetime | None = None
    delivery_error: str | None = None
    parent_id: str | None = None
    root_id: str = ""
    depth: int = 0
    estimated_cost: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    author_name: str | None = None
    upload_limit: int | None = None
    #: When and by whom the result post was deleted (None: it was not); the task stays.
    deleted_at: datetime | None = None
    deleted_by: int | None = None

    @property
    def deleted(self) -> bool:
        """Whether the result post was deleted with the Delete button."""
        return self.deleted_at is not None

    @property
    def card_settled(self) -> bool:
        """Whether the status card shows the task as it is (or there is no card to edit)."""
        if self.card_message_id is None or self.card_dead_reason is not None:
            return True
        return self.card_status == self.status and self.card_progress == self.progress

    @property
    def started_at(self) -> datetime:
        """When the upstream was asked for it: its creation, or when it left the queue."""
        started = self.metadata.get("started_at")
        return datetime.fromisoformat(started) if isinstance(started, str) else self.created_at

    @property
    def kind(self) -> TaskKind:
        """The task's kind as recorded in its metadata."""
        return TaskKind(self.metadata.get("type", TaskKind.GENERATE))

    @property
    def rerolled_from(self) -> str | None:
        """The video this one rerolls (same prompt and options, a new root), if any."""
        source = self.metadata.get("rerolled_from")
        return source if isinstance(source, str) else None

    def replace(self, **changes: Any) -> VideoTask:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskEvent:
    """One line of a task's audit trail."""

    task_id: str
    at: datetime
    kind: EventKind
    detail: dict[str, Any] = field(default_factory=dict)
