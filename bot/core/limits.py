"""Quotas and cost estimates, counted from SQLite so a restart resets nothing.

Days are UTC days: daily quotas reset at 00:00 UTC, and refusals say when.

A submission is checked twice with the same ``SubmissionQuota``: first on the reader
(``check_submission``), so a member over quota is refused before anything is posted,
then as the ``admission`` of ``create_task``, inside the insert's ``BEGIN IMMEDIATE``
transaction, so two simultaneous submissions cannot both pass a limit that has room
for one (the second sees the first's row and gets the same refusal text).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from bot.config import LimitsConfig
from bot.core.errors import InvalidInput, QuotaExceeded
from bot.core.prompts import find_banned_word
from bot.storage.async_store import AsyncTaskStore
from bot.storage.store import GuildLimits, Usage

__all__ = [
    "Limits",
    "SubmissionQuota",
    "Usage",
    "check_submission",
    "day_window",
    "effective_limits",
    "estimate_cost",
]


@dataclass(frozen=True, kw_only=True)
class Limits:
    """The limits in force in one guild (0 means unlimited)."""

    max_concurrent_per_user: int
    daily_seconds_per_user: int
    daily_budget: float
    banned_words: tuple[str, ...]

    @classmethod
    def from_config(cls, config: LimitsConfig) -> Limits:
        """The configured defaults."""
        return cls(
            max_concurrent_per_user=config.max_concurrent_per_user,
            daily_seconds_per_user=config.daily_seconds_per_user,
            daily_budget=config.daily_budget,
            banned_words=tuple(config.banned_words),
        )

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


async def effective_limits(store: AsyncTaskStore, guild_id: int, defaults: LimitsConfig) -> Limits:
    """The defaults overridden by what admins set for this guild."""
    return Limits.from_config(defaults).merged(await store.get_limits(guild_id))


@dataclass(frozen=True, kw_only=True)
class SubmissionQuota:
    """The quota side of one submission of ``new_tasks`` tasks (a ``store.Admission``)."""

    limits: Limits
    seconds: int
    cost: float | None
    new_tasks: int
    now: datetime

    @property
    def since(self) -> datetime:
        """Daily quotas count from the start of the current UTC day."""
        return day_window(self.now)[0]

    def check(self, usage: Usage) -> None:
        """Raise ``QuotaExceeded`` if the new tasks do not fit next to ``usage``."""
        limits, seconds, cost = self.limits, self.seconds, self.cost
        resets = f"<t:{int(day_window(self.now)[1].timestamp())}:R>"
        limit = limits.max_concurrent_per_user
        if limit and usage.running + self.new_tasks > limit:
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


async def check_submission(
    store: AsyncTaskStore,
    quota: SubmissionQuota,
    *,
    guild_id: int,
    user_id: int,
    prompt: str,
) -> None:
    """Raise ``InvalidInput`` or ``QuotaExceeded`` if this submission is not allowed now.

    A quick check on the reader; ``create_task(admission=quota)`` repeats the quota part
    atomically with the insert.
    """
    banned = find_banned_word(prompt, quota.limits.banned_words)
    if banned is not None:
        raise InvalidInput(
            "prompt", f"The prompt contains a word this server does not allow: `{banned}`."
        )
    quota.check(await store.usage(guild_id, user_id, quota.since))
