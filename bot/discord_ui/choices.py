"""Autocomplete answers shared by the commands that take a video id."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.discord_ui import render
from bot.storage.async_store import AsyncTaskStore

#: Discord shows at most 25 choices, each named in at most 100 characters.
AUTOCOMPLETE_LIMIT = 25
CHOICE_NAME_LIMIT = 100


async def recent_video_choices(
    store: AsyncTaskStore, interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Recent finished videos of this guild matching what was typed (id prefix or prompt words)."""
    if interaction.guild_id is None:
        return []
    tasks = await store.recent_completed(
        interaction.guild_id, prefix=current.strip(), limit=AUTOCOMPLETE_LIMIT
    )
    return [
        app_commands.Choice(
            name=render.truncate(f"{t.id} · {render.snippet(t.prompt)}", CHOICE_NAME_LIMIT),
            value=t.id,
        )
        for t in tasks
    ]
