"""The embeds of /admin: a task with its audit trail, server stats, the limits in force."""

from __future__ import annotations

from datetime import datetime, timedelta

import discord

from bot.core.limits import GuildLimits, Limits
from bot.core.models import TaskEvent, VideoTask
from bot.discord_ui import render
from bot.services import admin as core

MAX_EVENTS_SHOWN = 40
EVENTS_CHARS = 2200
PROMPT_CHARS = 1200
#: Per-field caps that keep both embeds under Discord's 6000-character total.
SHORT_FIELD = 300
ERROR_FIELD = 600
STATS_DAYS_SHOWN = 14
STATS_USERS_SHOWN = 10


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
    user_lines = [
        _total_line(
            render.name_label(stats.user_names.get(int(g.key)), int(g.key)),
            g.count,
            g.seconds,
            g.cost,
        )
        for g in users
    ]
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
    picked_lines = [f"{render.id_link(p.task)}: ⭐ {p.picks}" for p in stats.most_picked]
    embed.add_field(
        name=f"Picks: {stats.picks}" + (" · most picked" if picked_lines else ""),
        value="\n".join(picked_lines) or "—",
        inline=False,
    )
    embed.set_footer(
        text="count: videos · seconds: completed videos · $: estimated cost of every video "
        "except cancelled ones (as the daily budget counts)"
    )
    return embed


def task_embeds(
    task: VideoTask,
    events: list[TaskEvent],
    *,
    children: int,
    retried_as: VideoTask | None,
) -> list[discord.Embed]:
    """``/admin task``: everything about one task, then its audit trail."""
    embed = discord.Embed(
        title=f"Task `{task.id}`",
        description=render.prompt_text(task.prompt, PROMPT_CHARS),
        colour=render.COLOURS[task.status],
    )
    embed.add_field(
        name="Status", value=render.truncate(render.status_line(task), SHORT_FIELD), inline=False
    )
    _add_identity_fields(embed, task, children)
    embed.add_field(
        name="Timings", value=render.timing_lines(core.timings(task, events)), inline=False
    )
    if task.deleted:
        embed.add_field(name="Deleted", value=render.deleted_line(task), inline=False)
    _add_outcome_fields(embed, task)
    if task.metadata.get("retry_of"):
        embed.add_field(name="Retry of", value=f"`{task.metadata['retry_of']}`")
    if task.rerolled_from:
        embed.add_field(name="Reroll of", value=f"`{task.rerolled_from}`")
    if retried_as is not None:
        embed.add_field(name="Retried as", value=f"`{retried_as.id}` ({retried_as.status.value})")
    embed.set_footer(text=render.snapshot_footer(task.id, "admin"))
    return [embed, _events_embed(events)]


def _add_identity_fields(embed: discord.Embed, task: VideoTask, children: int) -> None:
    """Who, where, with what options, and where in its chain."""
    embed.add_field(name="Author", value=render.author_label(task))
    embed.add_field(name="Channel", value=f"<#{task.channel_id}>")
    embed.add_field(name="Options", value=f"{task.model} · {task.seconds}s · {task.size}")
    embed.add_field(name="Kind", value=task.kind.value)
    embed.add_field(name="Upstream id", value=f"`{task.upstream_id}`" if task.upstream_id else "—")
    embed.add_field(
        name="Lineage",
        value=(f"parent `{task.parent_id}` · " if task.parent_id else "")
        + f"root `{task.root_id}` · depth {task.depth} · {children} remixes",
    )


def _add_outcome_fields(embed: discord.Embed, task: VideoTask) -> None:
    """Polls, error, delivery, cost and the messages it lives in."""
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
        name="Videos in progress in the server",
        value=f"{number(current.max_concurrent_per_guild)} ({origin('max_concurrent_per_guild')})",
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
