"""The upload limit of the bot's own posts in a guild, read from discord.py's cache."""

from __future__ import annotations

import discord


def guild_upload_limit(guild: discord.Guild | None) -> int | None:
    """What the bot may attach to its own posts in ``guild``; None when not known.

    ``Guild.filesize_limit`` follows the boost tier: 10 MiB below level 2 (Discord's limit
    for bot uploads since 2025-01-16), 50 MiB at level 2, 100 MiB at level 3. An
    unavailable guild (READY's placeholder, or an outage) reports tier 0 whatever its real
    tier, so it gives None, never a limit. An interaction's ``attachment_size_limit`` is
    not this: it includes the invoker's Nitro and covers interaction responses only.
    """
    if guild is None or guild.unavailable:
        return None
    return guild.filesize_limit
