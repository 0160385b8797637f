"""Quota checks that read the store: the limits in force in a guild, a submission's check.

The policy itself (what the limits are, what a refusal says) is ``bot.core.limits``.
"""

from __future__ import annotations

from bot.config import LimitsConfig
from bot.core.errors import InvalidInput
from bot.core.limits import Limits, SubmissionQuota, Usage
from bot.core.prompts import find_banned_word
from bot.storage.async_store import AsyncTaskStore


def configured_limits(config: LimitsConfig) -> Limits:
    """The configured defaults, before any guild's overrides."""
    return Limits(
        max_concurrent_per_user=config.max_concurrent_per_user,
        daily_seconds_per_user=config.daily_seconds_per_user,
        daily_budget=config.daily_budget,
        banned_words=tuple(config.banned_words),
        max_concurrent_per_guild=config.max_concurrent_per_guild,
    )


async def effective_limits(store: AsyncTaskStore, guild_id: int, defaults: LimitsConfig) -> Limits:
    """The defaults overridden by what admins set for this guild."""
    return configured_limits(defaults).merged(await store.get_limits(guild_id))


def refuse_unless_allowed(quota: SubmissionQuota, usage: Usage, prompt: str) -> None:
    """Raise ``InvalidInput`` (a banned word) or ``QuotaExceeded`` (``quota`` next to ``usage``)."""
    banned = find_banned_word(prompt, quota.limits.banned_words)
    if banned is not None:
        raise InvalidInput(
            "prompt", f"The prompt contains a word this server does not allow: `{banned}`."
        )
    quota.check(usage)
