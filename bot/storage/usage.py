"""Usage counts for quotas, and the ``Admission`` hook that checks them atomically.

The counting rules: a member's *running* tasks are the unfinished ones (submitting,
queued, in progress); *seconds* and *cost* count every task created in the window
except cancelled ones. Failed tasks count too, because a failure may still have been
charged upstream and retry loops on rejected prompts should hit the quota.

What the limits *are* and what a refusal says is policy and lives in
``bot.core.limits``; the store only promises that ``Admission.check`` sees counts that
no other writer can change before the task row is inserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.core.limits import GuildLimits, QueueLoad, Usage
from bot.core.member_defaults import MemberDefaults
from bot.core.models import TaskStatus
from bot.storage.access import quick_reader, reader
from bot.storage.codec import NOT_TERMINAL, WAITING, marks, to_db_time
from bot.storage.core import Operations, StoreCore
from bot.storage.member_defaults import member_defaults_of
from bot.storage.settings import guild_limits_of


class Admission(Protocol):
    """A quota check run inside ``create_task``'s transaction, before the insert."""

    @property
    def since(self) -> datetime:
        """Start of the window ``seconds`` and ``cost`` are counted over."""
        ...

    def check(self, usage: Usage) -> None:
        """Raise (a ``BotError``) to refuse the new task; return to admit it."""
        ...


def running_of(core: StoreCore, guild_id: int, user_id: int) -> int:
    """A member's unfinished tasks (submitting, queued or in progress)."""
    sql = (
        "SELECT COUNT(*) FROM tasks WHERE guild_id = ? AND user_id = ?"
        f" AND status IN ({marks(NOT_TERMINAL)})"
    )
    return int(core.scalar(sql, [guild_id, user_id, *NOT_TERMINAL]))


class WaitRule(Protocol):
    """Decides, inside ``create_task``'s transaction, whether a new task waits in the queue."""

    def must_wait(self, load: QueueLoad) -> bool:
        """True: the task is inserted ``waiting`` (not sent); False: ``submitting``."""
        ...


def guild_running_of(core: StoreCore, guild_id: int) -> int:
    """A guild's unfinished, sent (or being sent) tasks: what its concurrency limit counts."""
    sql = f"SELECT COUNT(*) FROM tasks WHERE guild_id = ? AND status IN ({marks(NOT_TERMINAL)})"
    return int(core.scalar(sql, [guild_id, *NOT_TERMINAL]))


def load_of(core: StoreCore, guild_id: int, user_id: int) -> QueueLoad:
    """The counts ``WaitRule.must_wait`` decides on (one snapshot inside a transaction)."""
    waiting = core.scalar(
        "SELECT COUNT(*) FROM tasks WHERE guild_id = ? AND user_id = ? AND status = ?",
        [guild_id, user_id, WAITING],
    )
    return QueueLoad(
        member_running=running_of(core, guild_id, user_id),
        guild_running=guild_running_of(core, guild_id),
        member_waiting=int(waiting),
    )


def seconds_of(core: StoreCore, guild_id: int, user_id: int, since: datetime) -> int:
    """Video seconds a member requested since ``since`` (cancelled tasks excepted)."""
    sql = (
        "SELECT COALESCE(SUM(seconds), 0) FROM tasks"
        " WHERE guild_id = ? AND user_id = ? AND created_at >= ? AND status != ?"
    )
    params = [guild_id, user_id, to_db_time(since), TaskStatus.CANCELLED.value]
    return int(core.scalar(sql, params))


def cost_of(core: StoreCore, guild_id: int, since: datetime) -> float:
    """Sum of ``estimated_cost`` in a guild since ``since`` (cancelled tasks excepted)."""
    sql = (
        "SELECT COALESCE(SUM(estimated_cost), 0.0) FROM tasks"
        " WHERE guild_id = ? AND created_at >= ? AND status != ?"
    )
    params = [guild_id, to_db_time(since), TaskStatus.CANCELLED.value]
    return float(core.scalar(sql, params))


def usage_of(core: StoreCore, guild_id: int, user_id: int, since: datetime) -> Usage:
    """All three counts, read on one connection (inside a transaction, one snapshot)."""
    return Usage(
        running=running_of(core, guild_id, user_id),
        seconds=seconds_of(core, guild_id, user_id, since),
        cost=cost_of(core, guild_id, since),
    )


@dataclass(frozen=True, kw_only=True)
class AdmissionFacts:
    """Everything a new submission is checked against, read in one trip to the reader.

    One trip instead of three matters before a command's first response: under a burst
    of commands every trip queues on the reader thread behind everyone else's.
    """

    defaults: MemberDefaults
    limits: GuildLimits | None
    usage: Usage


class Quotas(Operations):
    """Read-only usage counts (quick refusals before anything is posted; metrics)."""

    __slots__ = ()

    @reader
    def active_count_for_user(self, guild_id: int, user_id: int) -> int:
        """A member's unfinished tasks (submitting, queued or in progress)."""
        return running_of(self._core, guild_id, user_id)

    @reader
    def seconds_since(self, guild_id: int, user_id: int, since: datetime) -> int:
        """Video seconds a member requested since ``since``, for daily quotas."""
        return seconds_of(self._core, guild_id, user_id, since)

    @reader
    def cost_since(self, guild_id: int, since: datetime) -> float:
        """Sum of ``estimated_cost`` in a guild since ``since`` (same rule as seconds)."""
        return cost_of(self._core, guild_id, since)

    @reader
    def usage(self, guild_id: int, user_id: int, since: datetime) -> Usage:
        """A member's running tasks and seconds, and the guild's cost, since ``since``."""
        return usage_of(self._core, guild_id, user_id, since)

    @quick_reader
    def admission_facts(self, guild_id: int, user_id: int, since: datetime) -> AdmissionFacts:
        """The member's saved defaults, the guild's limit overrides and the usage counts."""
        core = self._core
        return AdmissionFacts(
            defaults=member_defaults_of(core, guild_id, user_id),
            limits=guild_limits_of(core, guild_id),
            usage=usage_of(core, guild_id, user_id, since),
        )
