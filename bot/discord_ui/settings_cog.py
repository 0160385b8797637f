"""/settings: a member's own defaults for /sora (model, seconds, size), in this server.

``/settings`` alone shows them; with options it saves those (the rest stay as they are);
``reset:true`` forgets them first. The choices are ``/sora``'s own
(``choices.offer_video_options``); the rules live in ``bot.services.member_settings``.
Every answer is private.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.member_defaults import DEFAULT_KEYS
from bot.discord_ui import render
from bot.discord_ui.choices import offer_video_options
from bot.discord_ui.context import BotContext, guild_id_of, require_context
from bot.services.member_settings import DefaultsChange, DefaultsReport, apply_settings


def _shown(key: str, value: object) -> str:
    return f"`{value}s`" if key == "seconds" else f"`{value}`"


def _title(report: DefaultsReport) -> str:
    if report.changed:
        return "Your defaults are saved"
    if report.cleared:
        return "Your defaults are reset"
    return "Your defaults for /sora"


def settings_embed(report: DefaultsReport) -> discord.Embed:
    """What /sora uses for each option left out, and whose value that is."""
    effective = report.effective
    embed = discord.Embed(
        title=_title(report),
        description=(
            "Used when /sora is given no model, seconds or size. They apply in this server"
            " only; an option given to /sora always wins."
        ),
        colour=discord.Colour.green() if report.changed else discord.Colour.blurple(),
    )
    for key in DEFAULT_KEYS:
        value = _shown(key, getattr(effective, key))
        origin = "yours" if key in effective.mine else "server default"
        embed.add_field(name=key.capitalize(), value=f"{value} ({origin})")
    if effective.notes:
        embed.add_field(
            name="Note", value=render.truncate("\n".join(effective.notes), 1024), inline=False
        )
    embed.set_footer(
        text="Change: /settings model:… seconds:… size:… · forget: /settings reset:true"
    )
    return embed


class SettingsCog(commands.Cog):
    """Per-member defaults for /sora."""

    def __init__(self, bot: BotContext) -> None:
        self.bot = bot
        offer_video_options(self.settings, bot.service.options)

    @app_commands.command(
        name="settings", description="Your defaults for /sora: show, change, reset"
    )
    @app_commands.guild_only()
    @app_commands.describe(
        model="Your default video model",
        seconds="Your default length",
        size="Your default width x height",
        reset="Forget your defaults (the server's apply again)",
    )
    async def settings(
        self,
        interaction: discord.Interaction,
        model: str | None = None,
        seconds: int | None = None,
        size: str | None = None,
        reset: bool = False,
    ) -> None:
        change = DefaultsChange(model=model, seconds=seconds, size=size, reset=reset)
        report = await apply_settings(
            self.bot.service, guild_id_of(interaction), interaction.user.id, change
        )
        await interaction.response.send_message(
            embed=settings_embed(report), ephemeral=True, allowed_mentions=render.NO_MENTIONS
        )


async def setup(bot: commands.Bot) -> None:
    """Extension entry point (``bot.load_extension``)."""
    await bot.add_cog(SettingsCog(require_context(bot)))
