"""Register slash commands only when the command set changed.

Discord allows 200 command creates per guild per day; syncing on every start
burns through that during a crash loop. We hash the exact payload discord.py
would send and keep the hash in the ``meta`` table.
"""

from __future__ import annotations

import hashlib
import json
import logging

import discord
from discord import app_commands

from bot.storage.async_store import AsyncTaskStore

log = logging.getLogger(__name__)


def command_digest(
    tree: app_commands.CommandTree, *, guild: discord.abc.Snowflake | None = None
) -> str:
    """A stable hash of the commands that a sync would register."""
    payload = [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


async def sync_if_changed(
    tree: app_commands.CommandTree,
    store: AsyncTaskStore,
    *,
    application_id: int,
    dev_guild_id: int = 0,
) -> bool:
    """Sync to the dev guild (instant) or globally, only if the command set changed."""
    guild = discord.Object(id=dev_guild_id) if dev_guild_id else None
    if guild is not None:
        tree.copy_global_to(guild=guild)
    digest = command_digest(tree, guild=guild)
    key = f"commands:{application_id}:{dev_guild_id or 'global'}"
    if await store.get_meta(key) == digest:
        log.info("commands unchanged; not syncing")
        return False
    await tree.sync(guild=guild)
    await store.set_meta(key, digest)
    log.info("commands synced (%s)", f"guild {dev_guild_id}" if guild else "global")
    return True
