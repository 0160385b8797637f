"""Choices shared by commands: autocomplete for video ids, and ``/sora``'s options.

``offer_video_options`` gives a command's ``model`` / ``seconds`` / ``size`` options the
choices ``/sora`` offers (``VideoService.options``), so ``/sora`` and ``/settings`` can
never offer different things.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.core.options import VideoOptions
from bot.discord_ui import render
from bot.storage.async_store import AsyncTaskStore

#: Discord shows at most 25 choices, each named in at most 100 characters.
AUTOCOMPLETE_LIMIT = 25
CHOICE_NAME_LIMIT = 100


async def recent_video_choices(
    store: AsyncTaskStore, interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Recent finished videos of this guild matching what was typed (id prefix or prompt words).

    Answered from the store's in-memory index (``store.recent``), on the loop: a burst
    of commands queued on the store's reader thread does not delay it.
    """
    if interaction.guild_id is None:
        return []
    tasks = await store.recent.find(
        interaction.guild_id, prefix=current.strip(), limit=AUTOCOMPLETE_LIMIT
    )
    return [
        app_commands.Choice(
            name=render.truncate(f"{t.id} · {render.snippet(t.prompt)}", CHOICE_NAME_LIMIT),
            value=t.id,
        )
        for t in tasks
    ]


def offer_video_options(
    command: app_commands.Command[Any, ..., Any], options: VideoOptions
) -> None:
    """Give the command's model, seconds and size options the choices ``/sora`` offers."""
    set_choices(command, "model", [app_commands.Choice(name=m, value=m) for m in options.models])
    set_choices(
        command, "seconds", [app_commands.Choice(name=f"{s}s", value=s) for s in options.seconds]
    )
    set_choices(command, "size", [app_commands.Choice(name=s, value=s) for s in options.sizes])


def set_choices(
    command: app_commands.Command[Any, ..., Any],
    name: str,
    choices: list[app_commands.Choice[Any]],
) -> None:
    """Give an option choices known only at start (decorators can only take static ones)."""
    command._params[name].choices = choices  # discord.py has no public setter
