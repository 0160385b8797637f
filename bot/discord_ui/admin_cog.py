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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import BotError, DeliveryError, PermissionMissing
from bot.core.limits import GuildLimits, LimitChanges, Limits
from bot.core.models import TaskEvent, VideoTask
from bot.discord_ui import render
from bot.discord_ui.chains_cog import STATUS_CHOICES, HistorySource, history_state
from bot.discord_ui.pagination import PageKind, register, send_pages
from bot.discord_ui.views import video_view
from bot.services import admin as core
from bot.services.admin import HistoryFilter, day_range, parse_status
from bot.services.quotas import effective_limits

if TYPE_CHECKING:
    from bot.discord_ui.app import SoraBot

log = logging.getLogger(__name__)

MAX_EVENTS_SHOWN = 40
EVENTS_CHARS = 2200
PROMPT_CHARS = 1200
#: Per-field caps that keep both embeds under Discord's 6000-character total.
SHORT_FIELD = 300
ERROR_FIELD = 600
STATS_DAYS_SHOWN = 14
STATS_USERS_SHOWN = 10
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


def _bot(interaction: discord.Interaction) -> SoraBot:
    return interaction.client  # type: ignore[return-value]


def _guild_id(interaction: discord.Interaction) -> int:
    assert interaction.guild_id is not None, "guild-only command"
    return interaction.guild_id


def is_bot_admin(interaction: discord.Interaction, role_name: str) -> bool:
    """Manage Server (Administrator implies it) or the configured admin role."""
    permissions = interaction.permissions
    if permissions.manage_guild or permissions.administrator:
        return True
    roles = getattr(interaction.user, "roles", [])
    return bool(role_name) and any(role.name == role_name for role in roles)


def require_admin(interaction: discord.Interaction) -> None:
    """Raise ``NotAnAdmin`` unless the member may use /admin."""
    role_name = _bot(interaction).config.discord.admin_role
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


# --- rendering ---------------------------------------------------------------------------


def _window(since: datetime | None, until: datetime | None) -> str:
    if since is None and until is None:
        return "All time"
    start = f"{since:%Y-%m-%d}" if since else "the start"
    end = f"{until - timedelta(days=1):%Y-%m-%d}" if until else "now"
    return f"{start} to {end} (UTC days, both included)"


def _total_line(label: str, count: int, seconds: int, cost: float) -> str:
    return f"{label}: {count} · {seconds}s · ${cost:.2f}"


def stats_embed(stats: core.GuildStats, roots: dict[str, VideoTask]) -> discord.Embed:
    """``/admin stats``: totals, then per status / model / user / day, then top chains."""
    embed = discord.Embed(
        title="Video stats",
        description=(
            f"{_window(stats.since, stats.until)}\n**{stats.count}** videos · "
            f"**{stats.seconds}s** generated · **${stats.cost:.2f}** estimated"
        ),
        colour=discord.Colour.blurple(),
    )
    status_lines = [f"{g.key.replace('_', ' ')}: {g.count}" for g in stats.by_status]
    embed.add_field(name="By status", value="\n".join(status_lines) or "—")
    model_lines = [_total_line(g.key, g.count, g.seconds, g.cost) for g in stats.by_model]
    embed.add_field(name="By model", value=render.truncate("\n".join(model_lines) or "—", 1024))
    users = stats.by_user[:STATS_USERS_SHOWN]
    user_lines = [_total_line(f"<@{g.key}>", g.count, g.seconds, g.cost) for g in users]
    more_users = len(stats.by_user) - len(users)
    embed.add_field(
        name="By user" + (f" (top {len(users)} of {len(stats.by_user)})" if more_users else ""),
        value=render.truncate("\n".join(user_lines) or "—", 1024),
        inline=False,
    )
    days = stats.by_day[-STATS_DAYS_SHOWN:]
    day_lines = [_total_line(g.key, g.count, g.seconds, g.cost) for g in days]
    embed.add_field(
        name="By day"
        + (f" (last {len(days)} of {len(stats.by_day)})" if len(days) < len(stats.by_day) else ""),
        value=render.truncate("\n".join(day_lines) or "—", 1024),
        inline=False,
    )
    chain_lines = [
        f"{render.id_link(roots[c.root_id]) if c.root_id in roots else f'`{c.root_id}`'}: "
        f"{c.tasks} videos, depth {c.depth}"
        for c in stats.chains
    ]
    embed.add_field(name="Top chains", value="\n".join(chain_lines) or "—", inline=False)
    embed.set_footer(
        text="count: videos · seconds: completed videos · $: estimated cost of every video "
        "except cancelled ones (as the daily budget counts)"
    )
    return embed


def _when(moment: datetime | None, since: datetime | None = None) -> str:
    text = render.timestamp(moment, "T") if moment else "—"
    if moment is not None and since is not None:
        text += f" (+{core.format_duration(moment - since)})"
    return text


def task_embeds(
    task: VideoTask,
    events: list[TaskEvent],
    *,
    children: int,
    retried_as: VideoTask | None,
) -> list[discord.Embed]:
    """``/admin task``: everything about one task, then its audit trail."""
    times = core.timings(task, events)
    embed = discord.Embed(
        title=f"Task `{task.id}`",
        description=render.truncate(task.prompt, PROMPT_CHARS),
        colour=render.COLOURS[task.status],
    )
    embed.add_field(
        name="Status", value=render.truncate(render.status_line(task), SHORT_FIELD), inline=False
    )
    embed.add_field(name="Author", value=f"<@{task.user_id}>")
    embed.add_field(name="Channel", value=f"<#{task.channel_id}>")
    embed.add_field(name="Options", value=f"{task.model} · {task.seconds}s · {task.size}")
    embed.add_field(name="Kind", value=task.kind.value)
    embed.add_field(name="Upstream id", value=f"`{task.upstream_id}`" if task.upstream_id else "—")
    embed.add_field(
        name="Lineage",
        value=(f"parent `{task.parent_id}` · " if task.parent_id else "")
        + f"root `{task.root_id}` · depth {task.depth} · {children} remixes",
    )
    embed.add_field(
        name="Timings",
        value="\n".join(
            [
                f"created {_when(times.created)}",
                f"submitted {_when(times.submitted, times.created)}",
                f"started {_when(times.started, times.submitted)}",
                f"finished {_when(times.finished, times.started or times.submitted)}",
                f"delivered {_when(times.delivered, times.finished)}",
            ]
        ),
        inline=False,
    )
    embed.add_field(
        name="Polls", value=f"{task.poll_count} ({task.poll_failures} failing in a row now)"
    )
    if task.error_code or task.error_message:
        error = f"`{task.error_code or '?'}` {task.error_message or ''}"
        embed.add_field(name="Error", value=render.truncate(error, ERROR_FIELD), inline=False)
    delivery = f"{task.delivery_state.value}, {task.delivery_attempts} attempts"
    if task.delivery_error:
        delivery += f" · {task.delivery_error}"
    embed.add_field(name="Delivery", value=render.truncate(delivery, SHORT_FIELD))
    cost = "—" if task.estimated_cost is None else f"${task.estimated_cost:.2f}"
    embed.add_field(name="Estimated cost", value=cost)
    links = []
    if task.card_message_id:
        links.append(f"[card]({render.message_link(task, task.card_message_id)})")
    if task.result_message_id:
        links.append(f"[result]({render.message_link(task, task.result_message_id)})")
    embed.add_field(name="Messages", value=" · ".join(links) or "—")
    if task.metadata.get("retry_of"):
        embed.add_field(name="Retry of", value=f"`{task.metadata['retry_of']}`")
    if retried_as is not None:
        embed.add_field(name="Retried as", value=f"`{retried_as.id}` ({retried_as.status.value})")
    embed.set_footer(text=render.snapshot_footer(task.id, "admin"))
    return [embed, _events_embed(events)]


def _events_embed(events: list[TaskEvent]) -> discord.Embed:
    shown: list[str] = []
    size = 0
    for event in reversed(events[-MAX_EVENTS_SHOWN:]):
        line = core.event_line(event).replace("`", "'")
        if size + len(line) + 1 > EVENTS_CHARS:
            break
        shown.insert(0, line)
        size += len(line) + 1
    title = "Audit trail" + (
        f" (last {len(shown)} of {len(events)})" if len(shown) < len(events) else ""
    )
    body = "```\n" + "\n".join(shown) + "\n```" if shown else "No events."
    return discord.Embed(title=title, description=body, colour=discord.Colour.dark_grey())


def limits_embed(current: Limits, overrides: GuildLimits | None, *, changed: bool) -> discord.Embed:
    """The limits in force, each marked as this server's setting or the default."""
    stored = overrides.overrides() if overrides is not None else {}

    def origin(key: str) -> str:
        return "server setting" if stored.get(key) is not None else "default"

    def number(value: float, unit: str = "") -> str:
        return "unlimited" if not value else f"{value}{unit}"

    embed = discord.Embed(
        title="Limits updated" if changed else "Limits",
        colour=discord.Colour.green() if changed else discord.Colour.blurple(),
        description="Daily limits reset at 00:00 UTC. 0 means unlimited.",
    )
    embed.add_field(
        name="Videos in progress per member",
        value=f"{number(current.max_concurrent_per_user)} ({origin('max_concurrent_per_user')})",
        inline=False,
    )
    embed.add_field(
        name="Seconds per member per day",
        value=f"{number(current.daily_seconds_per_user, 's')} ({origin('daily_seconds_per_user')})",
        inline=False,
    )
    budget = "unlimited" if not current.daily_budget else f"${current.daily_budget:.2f}"
    embed.add_field(
        name="Server budget per day", value=f"{budget} ({origin('daily_budget')})", inline=False
    )
    words = ", ".join(f"`{w.replace('`', '')}`" for w in current.banned_words) or "none"
    embed.add_field(
        name=f"Banned words ({origin('banned_words')})",
        value=render.truncate(words, 1024),
        inline=False,
    )
    return embed


# --- the cog -----------------------------------------------------------------------------


class AdminCog(commands.Cog):
    """Server admin tools; every subcommand re-checks the member server-side."""

    admin = app_commands.Group(
        name="admin",
        description="Admin tools: history, stats, exports, cancel, retry, limits",
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    def __init__(self, bot: SoraBot) -> None:
        self.bot = bot
        register(AdminHistorySource())

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
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
        task = await self.bot.service.find_video(_guild_id(interaction), video_id)
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
            _guild_id(interaction),
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
        guild_id = _guild_id(interaction)
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
        task = await self.bot.service.find_video(_guild_id(interaction), video_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        cancelled = await core.cancel_video(self.bot.store, task, by_user_id=interaction.user.id)
        log.info("task %s cancelled by %s", cancelled.id, interaction.user.id)
        note = ""
        try:
            await self.bot.notifier.update_card(cancelled)
            await self.bot.store.record_card_edit(
                cancelled.id, status=cancelled.status, progress=cancelled.progress
            )
        except DeliveryError as exc:
            note = f" (its card could not be edited: {exc.reason})"
        await interaction.followup.send(
            f"Cancelled `{cancelled.id}`{note}. It is no longer polled and nothing more will be "
            "posted. The video service may still finish the job on its side.",
            ephemeral=True,
            allowed_mentions=render.NO_MENTIONS,
        )

    @admin.command(name="retry", description="Submit a failed video again as a new video")
    @app_commands.describe(video_id="The failed video's id, e.g. k7q2mx")
    async def retry(self, interaction: discord.Interaction, video_id: str) -> None:
        plan = await core.plan_retry(self.bot.service, _guild_id(interaction), video_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        old = plan.old
        channel = self.bot.get_partial_messageable(old.channel_id, guild_id=old.guild_id)
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
        await card.edit(content=None, embed=render.card_embed(task), view=video_view(task))
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
    )
    async def limits(
        self,
        interaction: discord.Interaction,
        max_concurrent: app_commands.Range[int, 0, 100] | None = None,
        daily_seconds: app_commands.Range[int, 0, 86400] | None = None,
        daily_budget: app_commands.Range[float, 0.0, 1000000.0] | None = None,
        ban_word: app_commands.Range[str, 1, core.MAX_BANNED_WORD_CHARS] | None = None,
        unban_word: app_commands.Range[str, 1, core.MAX_BANNED_WORD_CHARS] | None = None,
    ) -> None:
        store, guild_id = self.bot.store, _guild_id(interaction)
        defaults = self.bot.config.limits
        current = await effective_limits(store, guild_id, defaults)
        changes: LimitChanges = {}
        if max_concurrent is not None:
            changes["max_concurrent_per_user"] = max_concurrent
        if daily_seconds is not None:
            changes["daily_seconds_per_user"] = daily_seconds
        if daily_budget is not None:
            changes["daily_budget"] = daily_budget
        if ban_word is not None or unban_word is not None:
            changes["banned_words"] = core.banned_words_after(
                current.banned_words, add=ban_word, remove=unban_word
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
