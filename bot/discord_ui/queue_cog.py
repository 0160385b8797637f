"""/queue: the caller's videos waiting and running, and what is left of today's limits.

Private (ephemeral), read from SQLite only: each waiting video's place in the server's
fair queue, how long each has been going, an estimate of the rest from the progress so
far, the caller's daily seconds and the server's daily budget left, and when both reset
(00:00 UTC). The numbers come from ``bot.services.queue.member_queue``.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.models import TaskStatus
from bot.discord_ui import render
from bot.discord_ui.context import BotContext, guild_id_of, require_context
from bot.services.admin import format_duration
from bot.services.queue import MemberQueue, QueueEntry, member_queue

#: Jobs listed at most (a member has a few; the limits keep it small).
MAX_LISTED = 20
NOTHING = "You have no videos waiting or in progress in this server."


def entry_line(entry: QueueEntry) -> str:
    """One job: status, id, where it stands, how long, how much longer; its prompt."""
    task = entry.task
    emoji = render.STATUS_EMOJI[task.status]
    if task.status is TaskStatus.WAITING and entry.ahead is not None:
        state = render.waiting_line(entry.ahead)
    else:
        state = render.status_line(task)
    parts = [f"{emoji} `{task.id}` {state}", f"{format_duration(entry.elapsed)} since asked"]
    if entry.eta is not None:
        parts.append(f"about {format_duration(entry.eta)} left")
    if task.card_message_id is not None:
        parts.append(f"[card]({render.message_link(task, task.card_message_id)})")
    prompt = render.escape_user_text(render.snippet(task.prompt, 80))
    return " · ".join(parts) + f"\n> {prompt}"


def queue_embed(report: MemberQueue) -> discord.Embed:
    """The /queue answer."""
    lines = [entry_line(entry) for entry in report.entries[:MAX_LISTED]]
    hidden = len(report.entries) - len(lines)
    if hidden > 0:
        lines.append(f"…and {hidden} more.")
    embed = discord.Embed(
        title="Your videos",
        description="\n".join(lines) or NOTHING,
        colour=discord.Colour.blurple(),
    )
    resets = f"resets <t:{int(report.resets_at.timestamp())}:R>"
    limits = report.limits
    if report.seconds_left is None:
        seconds = f"unlimited ({report.seconds_used}s used)"
    else:
        seconds = (
            f"{report.seconds_left}s left of {limits.daily_seconds_per_user}s "
            f"({report.seconds_used}s used), {resets}"
        )
    embed.add_field(name="Your seconds today", value=seconds, inline=False)
    if report.budget_left is None:
        budget = f"unlimited (${report.guild_cost:.2f} estimated so far)"
    else:
        budget = (
            f"${report.budget_left:.2f} left of ${limits.daily_budget:.2f} "
            f"(${report.guild_cost:.2f} estimated so far), {resets}"
        )
    embed.add_field(name="Server budget today", value=budget, inline=False)
    return embed


class QueueCog(commands.Cog):
    """Where the caller's videos stand."""

    def __init__(self, bot: BotContext) -> None:
        self.bot = bot

    @app_commands.command(
        name="queue", description="Your videos waiting and running, and your limits left today"
    )
    @app_commands.guild_only()
    async def queue(self, interaction: discord.Interaction) -> None:
        report = await member_queue(self.bot.service, guild_id_of(interaction), interaction.user.id)
        await interaction.response.send_message(
            embed=queue_embed(report), ephemeral=True, allowed_mentions=render.NO_MENTIONS
        )


async def setup(bot: commands.Bot) -> None:
    """Extension entry point (``bot.load_extension``)."""
    await bot.add_cog(QueueCog(require_context(bot)))
