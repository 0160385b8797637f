"""Quotas and cost estimates, counted from SQLite so a restart resets nothing.

Days are UTC days: daily quotas reset at 00:00 UTC, and refusals say when.

Pure policy: what the limits are, how a guild's overrides apply, what a refusal says.
Counting usage is the store's job; checking a submission against it is
``bot.services.quotas``. A submission is checked twice with the same ``SubmissionQuota``: first on the reader
(``refuse_unless_allowed``), so a member over quota is refused before anything is posted,
then as the ``admission`` of ``create_task``, inside the insert's ``BEGIN IMMEDIATE``
transaction, so two simultaneous submissions cannot both pass a limit that has room
for one (the second sees the first's row and gets the same refusal text).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TypedDict

from bot.core.errors import QuotaExceeded

__all__ = [
    "LIMIT_FIELDS",
    "GuildLimits",
    "LimitChanges",
    "Limits",
    "QueueLoad",
    "SubmissionQuota",
    "Usage",
    "day_window",
    "estimate_cost",
]


#: The overridable limits, in column order.
LIMIT_FIELDS = (
    "max_concurrent_per_user",
    "daily_seconds_per_user",
    "daily_budget",
    "banned_words",
    "max_concurrent_per_guild",
)


class LimitChanges(TypedDict, total=False):
    """Some of a guild's overrides, for ``update_limits``; None resets one to the default."""

    max_concurrent_per_user: int | None
    daily_seconds_per_user: int | None
    daily_budget: float | None
    banned_words: tuple[str, ...] | None
    max_concurrent_per_guild: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class GuildLimits:
    """A guild's limit overrides; None means "use the configured default".

    ``updated_at`` / ``updated_by`` say who stored them last (None before they are
    stored); ``set_limits`` ignores them and stamps its own.
    """

    max_concurrent_per_user: int | None = None
    daily_seconds_per_user: int | None = None
    daily_budget: float | None = None
    banned_words: tuple[str, ...] | None = None
    max_concurrent_per_guild: int | None = None
    updated_at: datetime | None = None
    updated_by: int | None = None

    def __post_init__(self) -> None:
        words = self.banned_words
        if words is not None and not all(isinstance(w, str) for w in words):
            raise ValueError("banned_words must be a list of strings")
        if words is not None and not isinstance(words, tuple):
            object.__setattr__(self, "banned_words", tuple(words))

    def overrides(self) -> dict[str, object]:
        """The limits this guild sets, by field name (defaults left out)."""
        values = {f: getattr(self, f) for f in LIMIT_FIELDS}
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class Usage:
    """What a member and their guild have used in the current window."""

    running: int
    seconds: int
    cost: float


@dataclass(frozen=True, slots=True)
class QueueLoad:
    """What decides whether a new task waits: tasks running (submitting, queued, in
    progress) for the member and in the guild, and the member's tasks already waiting."""

    member_running: int
    guild_running: int
    member_waiting: int


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The limits in force in one guild (0 means unlimited)."""

    max_concurrent_per_user: int
    daily_seconds_per_user: int
    daily_budget: float
    banned_words: tuple[str, ...]
    #: Videos running at once in the whole guild; more wait in the fair queue.
    max_concurrent_per_guild: int = 0

    def has_room(self, *, member_running: int, guild_running: int) -> bool:
        """Whether one more task of this member may run now (both concurrency limits)."""
        per_user, per_guild = self.max_concurrent_per_user, self.max_concurrent_per_guild
        if per_user and member_running >= per_user:
            return False
        return not (per_guild and guild_running >= per_guild)

    def merged(self, overrides: GuildLimits | None) -> Limits:
        """These limits with a guild's stored overrides applied (None values ignored)."""
        if overrides is None:
            return self
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(overrides.overrides())
        return Limits(**values)


def _concurrency_message(running: int, new_tasks: int, limit: int) -> str:
    if new_tasks == 1:
        return f"You have {running} videos in progress (limit {limit}). Wait for one to finish."
    advice = "Wait for one to finish." if running else "Ask for fewer variants."
    return (
        f"This would make {running + new_tasks} videos in progress; the limit is {limit}. {advice}"
    )


def day_window(now: datetime) -> tuple[datetime, datetime]:
    """Start of the current UTC day and start of the next one."""
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def estimate_cost(prices: Mapping[str, float], model: str, seconds: int) -> float | None:
    """Estimated price of one video, or None when the model has no configured price."""
    price = prices.get(model)
    return None if price is None else round(price * seconds, 4)


@dataclass(frozen=True, kw_only=True)
class SubmissionQuota:
    """The quota side of one submission of ``new_tasks`` tasks (a ``store.Admission``).

    ``queue``: over a concurrency limit the task waits in the fair queue
    (``must_wait``) instead of being refused; the daily limits still refuse.
    """

    limits: Limits
    seconds: int
    cost: float | None
    new_tasks: int
    now: datetime
    queue: bool = False

    def must_wait(self, load: QueueLoad) -> bool:
        """Whether the new task waits: no room now, or the member already has tasks waiting
        (their own order is kept: a new task never overtakes an older one)."""
        if load.member_waiting:
            return True
        return not self.limits.has_room(
            member_running=load.member_running, guild_running=load.guild_running
        )

    @property
    def since(self) -> datetime:
        """Daily quotas count from the start of the current UTC day."""
        return day_window(self.now)[0]

    def check(self, usage: Usage) -> None:
        """Raise ``QuotaExceeded`` if the new tasks do not fit next to ``usage``."""
        limits, seconds, cost = self.limits, self.seconds, self.cost
        resets = f"<t:{int(day_window(self.now)[1].timestamp())}:R>"
        limit = limits.max_concurrent_per_user
        if not self.queue and limit and usage.running + self.new_tasks > limit:
            raise QuotaExceeded(_concurrency_message(usage.running, self.new_tasks, limit))
        if (
            limits.daily_seconds_per_user
            and usage.seconds + seconds > limits.daily_seconds_per_user
        ):
            raise QuotaExceeded(
                f"This would take you to {usage.seconds + seconds}s of video today; the daily "
                f"limit is {limits.daily_seconds_per_user}s. It resets {resets}."
            )
        if limits.daily_budget and cost and usage.cost + cost > limits.daily_budget:
            raise QuotaExceeded(
                f"This server's daily budget of ${limits.daily_budget:.2f} is used up "
                f"(${usage.cost:.2f} spent). It resets {resets}."
            )
