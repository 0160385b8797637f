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
    """Sync to the dev guild (instant) or globally, only if the command set changed.

    Guild copies left by an earlier ``dev_guild_id`` are removed first: members of that
    server would otherwise see every command twice (the guild copy and the global one).
    """
    await remove_stale_guild_copies(tree, store, application_id=application_id, keep=dev_guild_id)
    guild = discord.Object(id=dev_guild_id) if dev_guild_id else None
    if guild is not None:
        tree.copy_global_to(guild=guild)
    digest = command_digest(tree, guild=guild)
    key = _digest_key(application_id, dev_guild_id)
    if await store.get_meta(key) == digest:
        log.info("commands unchanged; not syncing")
        return False
    await tree.sync(guild=guild)
    await store.set_meta(key, digest)
    log.info("commands synced (%s)", f"guild {dev_guild_id}" if guild else "global")
    return True


async def remove_stale_guild_copies(
    tree: app_commands.CommandTree, store: AsyncTaskStore, *, application_id: int, keep: int
) -> list[int]:
    """Empty the command list of every dev guild synced before, except ``keep``.

    The digests in ``meta`` remember which guilds got copies (one key per guild).
    """
    prefix = _digest_key(application_id, 0).removesuffix("global")
    removed = []
    for key in await store.meta_keys(prefix):
        scope = key.removeprefix(prefix)
        if not scope.isdigit() or int(scope) == keep:
            continue
        stale = discord.Object(id=int(scope))
        tree.clear_commands(guild=stale)
        try:
            await tree.sync(guild=stale)
        except discord.Forbidden:  # the bot left that server: its copies went with it
            log.info("dev guild %s is no longer reachable; nothing to remove", stale.id)
        except discord.HTTPException as exc:  # try again at the next start
            log.warning("could not remove the commands of dev guild %s: %s", stale.id, exc)
            continue
        await store.delete_meta(key)
        removed.append(stale.id)
        log.info("removed the command copies left in dev guild %s", stale.id)
    return removed


def _digest_key(application_id: int, dev_guild_id: int) -> str:
    return f"commands:{application_id}:{dev_guild_id or 'global'}"
