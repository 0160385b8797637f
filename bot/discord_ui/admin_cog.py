"""/admin: history, task, export, stats, cancel, retry and limits for server admins.

Two locks on the door: the group's ``default_permissions`` (Manage Server) makes
Discord hide it from other members, but server admins can grant a command to anyone
in the server settings, and the hint is only a hint. So ``AdminCog.interaction_check``
checks every subcommand again (and ``AdminHistorySource.check`` every page button):
Manage Server, or the role named ``discord.admin_role`` in config. Everyone else gets
a short ephemeral refusal.

All answers are ephemeral; the only public effects are a cancelled card's edit and a
retry's new card in the original channel.
"""

from __future__ import annotations

import io
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import BotError, PermissionMissing
from bot.core.limits import LimitChanges
from bot.discord_ui import render
from bot.discord_ui.admin_render import limits_embed, stats_embed, task_embeds
from bot.discord_ui.cancelling import show_cancelled
from bot.discord_ui.context import BotContext, context_of, guild_id_of, require_context
from bot.discord_ui.pages import STATUS_CHOICES, HistorySource, history_state
from bot.discord_ui.pagination import PageKind, register, send_pages
from bot.discord_ui.permissions import is_bot_admin
from bot.discord_ui.views import video_view
from bot.services import admin as core
from bot.services.admin import HistoryFilter, day_range, parse_status
from bot.services.cancel import cancel_task, cancelled_note
from bot.services.quotas import effective_limits

log = logging.getLogger(__name__)

FORMAT_CHOICES = [
    app_commands.Choice(name="CSV", value="csv"),
    app_commands.Choice(name="JSON Lines", value="jsonl"),
]
FILTER_HELP = {
    "user": "Only videos by this member",
    "channel": "Only videos made in this channel",
    "status": "Only videos with this status",
    "since": "From this UTC day on (YYYY-MM-DD)",
    "until": "Up to and including this UTC day (YYYY-MM-DD)",
}


class NotAnAdmin(app_commands.CheckFailure, PermissionMissing):
    """The member may not use /admin; a ``BotError`` so the tree shows its message."""

    def __init__(self, role_name: str) -> None:
        role = f" or the **{role_name}** role" if role_name else ""
        PermissionMissing.__init__(
            self, f"Only members with the **Manage Server** permission{role} can use /admin."
        )


def require_admin(interaction: discord.Interaction) -> None:
    """Raise ``NotAnAdmin`` unless the member may use /admin."""
    role_name = context_of(interaction).config.discord.admin_role
    if interaction.guild_id is None or not is_bot_admin(interaction, role_name):
        raise NotAnAdmin(role_name)


class AdminHistorySource(HistorySource):
    """Every member's videos, with the admin's filters; admins only, on every press."""

    kind = PageKind.ADMIN_HISTORY
    show_author = True
    title = "Server videos"

    async def check(self, interaction: discord.Interaction) -> None:
        require_admin(interaction)

    def scope(self, interaction: discord.Interaction, filt: HistoryFilter) -> HistoryFilter:
        return filt


def _filter(
    user: discord.User | discord.Member | None,
    channel: discord.TextChannel | discord.Thread | None,
    status: str | None,
    since: str | None,
    until: str | None,
) -> HistoryFilter:
    start, end = day_range(since, until)
    return HistoryFilter(
        user_id=user.id if user else None,
        channel_id=channel.id if channel else None,
        status=parse_status(status),
        since=start,
        until=end,
    )


# --- the cog -----------------------------------------------------------------------------


class AdminCog(commands.Cog):
    """Server admin tools; every subcommand re-checks the member server-side."""

    admin = app_commands.Group(
        name="admin",
        description="Admin tools: history, stats, exports, cancel, retry, limits",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    def __init__(self, bot: BotContext) -> None:
        self.bot = bot
        register(AdminHistorySource())

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """The server-side half of the permission rule (the hint is the other half)."""
        require_admin(interaction)
        return True

    @admin.command(name="history", description="Videos of this server, filtered")
    @app_commands.describe(**FILTER_HELP)
    @app_commands.choices(status=STATUS_CHOICES)
    async def history(
        self,
        interaction: discord.Interaction,
        user: discord.User | None = None,
        channel: discord.TextChannel | discord.Thread | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> None:
        filt = _filter(user, channel, status, since, until)
        await send_pages(interaction, AdminHistorySource.kind, history_state(self.bot, filt))

    @admin.command(name="task", description="Everything about one video, with its audit trail")
    @app_commands.describe(video_id="The video's id, e.g. k7q2mx")
    async def task(self, interaction: discord.Interaction, video_id: str) -> None:
        store = self.bot.store
        task = await self.bot.service.find_video(guild_id_of(interaction), video_id)
        events = await store.events(task.id)
        children = len(await store.children_of(task.id, guild_id=task.guild_id))
        retried_as = await store.find_retry(task.id, guild_id=task.guild_id)
        embeds = task_embeds(task, events, children=children, retried_as=retried_as)
        await interaction.response.send_message(
            embeds=embeds, ephemeral=True, allowed_mentions=render.NO_MENTIONS
        )

    @admin.command(name="export", description="Download the filtered history as CSV or JSONL")
    @app_commands.describe(format="File format", **FILTER_HELP)
    @app_commands.choices(format=FORMAT_CHOICES, status=STATUS_CHOICES)
    async def export(
        self,
        interaction: discord.Interaction,
        format: str = "csv",  # the option's name as users see it
        user: discord.User | None = None,
        channel: discord.TextChannel | discord.Thread | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> None:
        filt = _filter(user, channel, status, since, until)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await core.export_history(
            self.bot.store,
            guild_id_of(interaction),
            filt,
            fmt=format,  # type: ignore[arg-type]
            message_link=render.message_link,
            now=self.bot.clock(),
        )
        if result.rows == 0:
            raise BotError("No videos match these filters; there is nothing to export.")
        if len(result.data) > interaction.filesize_limit:
            raise BotError(
                f"The export is {len(result.data) / 1048576:.1f} MB, more than this server "
                "accepts as a file. Narrow it with the filters (e.g. since/until)."
            )
        note = f"{result.rows} videos exported."
        if result.truncated:
            note += (
                f" Only the newest {result.rows} are in the file: narrow the filters for the rest."
            )
        await interaction.followup.send(
            note,
            file=discord.File(io.BytesIO(result.data), filename=result.filename),
            ephemeral=True,
            allowed_mentions=render.NO_MENTIONS,
        )

    @admin.command(name="stats", description="Counts, seconds and estimated cost; top chains")
    @app_commands.describe(since=FILTER_HELP["since"], until=FILTER_HELP["until"])
    async def stats(
        self, interaction: discord.Interaction, since: str | None = None, until: str | None = None
    ) -> None:
        start, end = day_range(since, until)
        guild_id = guild_id_of(interaction)
        stats = await core.gather_stats(self.bot.store, guild_id, since=start, until=end)
        roots = {}
        for chain in stats.chains:
            root = await self.bot.store.get(chain.root_id)
            if root is not None and root.guild_id == guild_id:
                roots[root.id] = root
        await interaction.response.send_message(
            embed=stats_embed(stats, roots), ephemeral=True, allowed_mentions=render.NO_MENTIONS
        )

    @admin.command(name="cancel", description="Stop a video that is still being made")
    @app_commands.describe(video_id="The video's id, e.g. k7q2mx")
    async def cancel(self, interaction: discord.Interaction, video_id: str) -> None:
        task = await self.bot.service.find_video(guild_id_of(interaction), video_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        outcome = await cancel_task(self.bot.service, task, by_user_id=interaction.user.id)
        cancelled = outcome.task
        log.info("task %s cancelled by %s", cancelled.id, interaction.user.id)
        note = await show_cancelled(self.bot, cancelled)
        await interaction.followup.send(
            f"Cancelled `{cancelled.id}`{note}. It is no longer polled and nothing more will be "
            f"posted. {cancelled_note(outcome)}",
            ephemeral=True,
            allowed_mentions=render.NO_MENTIONS,
        )

    @admin.command(name="retry", description="Submit a failed video again as a new video")
    @app_commands.describe(video_id="The failed video's id, e.g. k7q2mx")
    async def retry(self, interaction: discord.Interaction, video_id: str) -> None:
        plan = await core.plan_retry(self.bot.service, guild_id_of(interaction), video_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        old = plan.old
        channel = interaction.client.get_partial_messageable(old.channel_id, guild_id=old.guild_id)
        try:
            card = await channel.send(
                f"Retrying `{old.id}` for <@{old.user_id}>…", allowed_mentions=render.NO_MENTIONS
            )
        except discord.HTTPException as exc:
            raise core.ActionRefused(
                f"I can't post in <#{old.channel_id}> any more ({exc.status}), so the retry "
                "was not sent."
            ) from exc
        try:
            task = await core.submit_retry(
                self.bot.service, plan, card_message_id=card.id, by_user_id=interaction.user.id
            )
        except BotError:
            await card.delete()
            raise
        await card.edit(
            content=None,
            embed=render.card_embed(task),
            view=video_view(task, remix=self.bot.service.can_remix),
        )
        await self.bot.store.record_card_edit(task.id, status=task.status, progress=task.progress)
        await interaction.followup.send(
            f"Retrying `{old.id}` as `{task.id}`: {render.message_link(task, card.id)}",
            ephemeral=True,
            allowed_mentions=render.NO_MENTIONS,
        )

    @admin.command(name="limits", description="View or change this server's limits")
    @app_commands.describe(
        max_concurrent="Videos in progress per member (0 = unlimited)",
        daily_seconds="Seconds of video per member per UTC day (0 = unlimited)",
        daily_budget="Estimated USD per server per UTC day (0 = unlimited)",
        ban_word="Add a word that prompts may not contain",
        unban_word="Remove a word from the banned list",
        max_concurrent_server="Videos in progress in the whole server; more wait (0 = unlimited)",
    )
    async def limits(
        self,
        interaction: discord.Interaction,
        max_concurrent: app_commands.Range[int, 0, 100] | None = None,
        daily_seconds: app_commands.Range[int, 0, 86400] | None = None,
        daily_budget: app_commands.Range[float, 0.0, 1000000.0] | None = None,
        ban_word: app_commands.Range[str, 1, core.MAX_BANNED_WORD_CHARS] | None = None,
        unban_word: app_commands.Range[str, 1, core.MAX_BANNED_WORD_CHARS] | None = None,
        max_concurrent_server: app_commands.Range[int, 0, 1000] | None = None,
    ) -> None:
        store, guild_id = self.bot.store, guild_id_of(interaction)
        defaults = self.bot.config.limits
        current = await effective_limits(store, guild_id, defaults)
        changes: LimitChanges = {}
        if max_concurrent is not None:
            changes["max_concurrent_per_user"] = max_concurrent
        if max_concurrent_server is not None:
            changes["max_concurrent_per_guild"] = max_concurrent_server
        if daily_seconds is not None:
            changes["daily_seconds_per_user"] = daily_seconds
        if daily_budget is not None:
            changes["daily_budget"] = daily_budget
        if ban_word is not None or unban_word is not None:
            changes["banned_words"] = tuple(
                core.banned_words_after(current.banned_words, add=ban_word, remove=unban_word)
            )
        if changes:
            await store.update_limits(guild_id, changes, updated_by=interaction.user.id)
            log.info(
                "guild %s limits changed by %s: %s", guild_id, interaction.user.id, sorted(changes)
            )
            current = await effective_limits(store, guild_id, defaults)
        embed = limits_embed(current, await store.get_limits(guild_id), changed=bool(changes))
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=render.NO_MENTIONS
        )


async def setup(bot: commands.Bot) -> None:
    """Extension entry point (``bot.load_extension``)."""
    await bot.add_cog(AdminCog(require_context(bot)))
