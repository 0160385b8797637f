"""/extend: continue a finished video, where the relay's dialect has video extensions.

Only the OpenAI Videos dialect has them (``POST /v1/videos/extensions``); elsewhere the
command is not registered at all, so members never see an option that cannot work.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.models import VideoTask
from bot.core.video_spec import PROMPT_MAX_CHARS
from bot.discord_ui.choices import recent_video_choices
from bot.discord_ui.context import BotContext, require_context
from bot.discord_ui.flows import origin_of, submit_with_card
from bot.discord_ui.replies import guard_autocomplete


class ExtendCog(commands.Cog):
    """Continue a finished clip, keeping its model and size."""

    def __init__(self, bot: BotContext) -> None:
        self.bot = bot
        seconds = bot.service.options.seconds
        self.extend._params["seconds"].choices = [  # no public setter in discord.py
            app_commands.Choice(name=f"{s}s", value=s) for s in seconds
        ]

    @app_commands.command(name="extend", description="Continue a finished video")
    @app_commands.guild_only()
    @app_commands.describe(
        video_id="The video to continue (its id, e.g. k7q2mx)",
        prompt="What happens next",
        seconds="How many seconds to add (default: the video's own length)",
    )
    async def extend(
        self,
        interaction: discord.Interaction,
        video_id: str,
        prompt: app_commands.Range[str, 1, PROMPT_MAX_CHARS],
        seconds: int | None = None,
    ) -> None:
        service = self.bot.service
        checked: list[tuple[VideoTask, int]] = []

        async def check() -> None:
            checked.append(
                await service.check_extend(origin_of(interaction), video_id, prompt, seconds)
            )

        await submit_with_card(
            interaction,
            check=check,
            submit=lambda origin: service.extend_of(origin, checked[0][0], prompt, checked[0][1]),
        )

    @extend.autocomplete("video_id")
    @guard_autocomplete
    async def extend_video_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Recent completed videos of this guild, answered from SQLite."""
        return await recent_video_choices(self.bot.store, interaction, current)


async def setup(bot: commands.Bot) -> None:
    """Extension entry point: registers ``/extend`` only where the relay can extend."""
    context = require_context(bot)
    if context.service.can_extend:
        await bot.add_cog(ExtendCog(context))
