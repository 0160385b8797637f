"""/lineage, /video and /history: browsing remix chains and your own videos.

Every lookup goes through ``VideoService.find_video`` with the interaction's guild, so
another guild's id gets exactly the answer an unknown id gets. The lists themselves are
``pages`` sources.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_ui import render
from bot.discord_ui.buttons import LINEAGE_KIND
from bot.discord_ui.choices import recent_video_choices
from bot.discord_ui.context import BotContext, guild_id_of, require_context
from bot.discord_ui.pages import STATUS_CHOICES, HistorySource, LineageSource, history_state
from bot.discord_ui.pagination import (
    register,
    send_pages,
)
from bot.discord_ui.replies import guard_autocomplete
from bot.discord_ui.views import video_view
from bot.services.admin import HistoryFilter, parse_status

# --- the cog -----------------------------------------------------------------------------


class ChainsCog(commands.Cog):
    """Browse remix chains, re-post cards, list your own videos."""

    def __init__(self, bot: BotContext) -> None:
        self.bot = bot
        register(LineageSource())
        register(HistorySource())

    @app_commands.command(name="lineage", description="Show the remix tree around a video")
    @app_commands.guild_only()
    @app_commands.describe(video_id="A video of this server (its id, e.g. k7q2mx)")
    async def lineage(self, interaction: discord.Interaction, video_id: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        task = await self.bot.service.find_video(guild_id_of(interaction), video_id)
        await send_pages(interaction, LINEAGE_KIND, task.id)

    @app_commands.command(name="video", description="Re-post a video's card with its buttons")
    @app_commands.guild_only()
    @app_commands.describe(video_id="A video of this server (its id, e.g. k7q2mx)")
    async def video(self, interaction: discord.Interaction, video_id: str) -> None:
        guild_id = guild_id_of(interaction)
        task = await self.bot.service.find_video(guild_id, video_id)
        parent = await self.bot.store.get(task.parent_id) if task.parent_id else None
        children = await self.bot.store.children_of(task.id, guild_id=guild_id)
        embed = render.video_embed(task, parent=parent, children=len(children))
        picks = await self.bot.store.pick_count(task.id, guild_id=guild_id)
        await interaction.response.send_message(
            embed=embed,
            view=video_view(task, remix=self.bot.service.can_remix, picks=picks),
            allowed_mentions=render.NO_MENTIONS,
        )

    @app_commands.command(name="history", description="Your recent videos in this server")
    @app_commands.guild_only()
    @app_commands.describe(status="Only videos with this status")
    @app_commands.choices(status=STATUS_CHOICES)
    async def history(self, interaction: discord.Interaction, status: str | None = None) -> None:
        filt = HistoryFilter(status=parse_status(status))
        await send_pages(interaction, HistorySource.kind, history_state(self.bot, filt))

    @lineage.autocomplete("video_id")
    @video.autocomplete("video_id")
    @guard_autocomplete
    async def video_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Recent finished videos of this guild, answered from SQLite."""
        return await recent_video_choices(self.bot.store, interaction, current)


async def setup(bot: commands.Bot) -> None:
    """Extension entry point (``bot.load_extension``)."""
    await bot.add_cog(ChainsCog(require_context(bot)))
