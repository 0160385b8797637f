"""Quotas and cost estimates, counted from SQLite so a restart resets nothing.

Days are UTC days: daily quotas reset at 00:00 UTC, and refusals say when.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from bot.config import LimitsConfig
from bot.core.errors import InvalidInput, QuotaExceeded
from bot.core.prompts import find_banned_word
from bot.storage.async_store import AsyncTaskStore
from bot.storage.store import TaskStore


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
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    def merged(self, overrides: dict[str, Any] | None) -> Limits:
        """These limits with a guild's stored overrides applied (None values ignored)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for key, value in (overrides or {}).items():
            if key in values and value is not None:
                values[key] = tuple(value) if key == "banned_words" else value
        return Limits(**values)


@dataclass(frozen=True, slots=True)
class Usage:
    """What a member and their guild have used in the current window."""

    running: int
    seconds: int
    cost: float


def _usage_since(store: TaskStore, guild_id: int, user_id: int, since: datetime) -> Usage:
    """All three counts in one trip to the database thread."""
    return Usage(
        running=store.active_count_for_user(guild_id, user_id),
        seconds=store.seconds_since(guild_id, user_id, since),
        cost=store.cost_since(guild_id, since),
    )


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


def estimate_cost(prices: dict[str, float] | Any, model: str, seconds: int) -> float | None:
    """Estimated price of one video, or None when the model has no configured price."""
    price = prices.get(model)
    return None if price is None else round(price * seconds, 4)


async def effective_limits(store: AsyncTaskStore, guild_id: int, defaults: LimitsConfig) -> Limits:
    """The defaults overridden by what admins set for this guild."""
    return Limits.from_config(defaults).merged(await store.get_limits(guild_id))


async def check_submission(
    store: AsyncTaskStore,
    limits: Limits,
    *,
    guild_id: int,
    user_id: int,
    prompt: str,
    seconds: int,
    cost: float | None,
    now: datetime,
    new_tasks: int = 1,
) -> None:
    """Raise ``InvalidInput`` or ``QuotaExceeded`` if this submission is not allowed now."""
    banned = find_banned_word(prompt, limits.banned_words)
    if banned is not None:
        raise InvalidInput(
            "prompt", f"The prompt contains a word this server does not allow: `{banned}`."
        )
    day_start, reset = day_window(now)
    resets = f"<t:{int(reset.timestamp())}:R>"
    usage = await store.read(_usage_since, guild_id, user_id, day_start)
    limit = limits.max_concurrent_per_user
    if limit and usage.running + new_tasks > limit:
        raise QuotaExceeded(_concurrency_message(usage.running, new_tasks, limit))
    if limits.daily_seconds_per_user and usage.seconds + seconds > limits.daily_seconds_per_user:
        raise QuotaExceeded(
            f"This would take you to {usage.seconds + seconds}s of video today; the daily limit is "
            f"{limits.daily_seconds_per_user}s. It resets {resets}."
        )
    if limits.daily_budget and cost and usage.cost + cost > limits.daily_budget:
        raise QuotaExceeded(
            f"This server's daily budget of ${limits.daily_budget:.2f} is used up "
            f"(${usage.cost:.2f} spent). It resets {resets}."
        )
