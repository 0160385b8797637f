"""The Details button's answer: every parameter of one video, privately.

Members see what the video is (prompt, model, size, seconds, kind, lineage), who made it
and when, each stage's time, the estimated cost and where its result is (or that the
result post was deleted). Admins (``permissions.is_bot_admin``) also see the upstream's
job id, which names the job at the video service and is an operator's detail.
"""

from __future__ import annotations

import discord

from bot.core.models import VideoTask
from bot.discord_ui import render
from bot.services.admin import Timings

CHILDREN_SHOWN = 10


def _result_value(task: VideoTask) -> str | None:
    if task.deleted:
        return render.deleted_line(task)
    if task.result_message_id:
        return f"[jump to the video]({render.message_link(task, task.result_message_id)})"
    if task.card_message_id:
        return f"[jump to the card]({render.message_link(task, task.card_message_id)})"
    return None


def _add_parameters(embed: discord.Embed, task: VideoTask) -> None:
    """Who, when, and what was asked for."""
    embed.add_field(name="Author", value=render.author_label(task))
    embed.add_field(name="Created", value=render.timestamp(task.created_at, "f"))
    embed.add_field(name="Kind", value=task.kind.value)
    embed.add_field(name="Model", value=task.model)
    embed.add_field(name="Seconds", value=f"{task.seconds}s")
    embed.add_field(name="Size", value=task.size)


def _add_lineage(
    embed: discord.Embed, task: VideoTask, parent: VideoTask | None, children: list[VideoTask]
) -> None:
    """Parent, retry origin and remixes."""
    if task.parent_id:
        value = render.id_link(parent) if parent is not None else f"`{task.parent_id}`"
        embed.add_field(name="Remix of", value=value)
    if task.metadata.get("retry_of"):
        embed.add_field(name="Retry of", value=f"`{task.metadata['retry_of']}`")
    embed.add_field(name="Remixes", value=str(len(children)))
    if children:
        shown = ", ".join(render.id_link(c) for c in children[:CHILDREN_SHOWN])
        more = len(children) - CHILDREN_SHOWN
        shown += f" and {more} more" if more > 0 else ""
        embed.add_field(name="Remixed as", value=render.truncate(shown, 1024), inline=False)


def details_embed(
    task: VideoTask,
    *,
    parent: VideoTask | None,
    children: list[VideoTask],
    times: Timings,
    admin: bool,
) -> discord.Embed:
    """Everything a member may know about a video; the upstream id only for ``admin``."""
    embed = discord.Embed(
        title=f"Details of `{task.id}`",
        description=render.prompt_text(task.prompt, render.DESCRIPTION_LIMIT),
        colour=render.COLOURS[task.status],
    )
    status = render.truncate(render.status_line(task), 1024)
    embed.add_field(name="Status", value=status, inline=False)
    _add_parameters(embed, task)
    _add_lineage(embed, task, parent, children)
    embed.add_field(name="Timings", value=render.timing_lines(times), inline=False)
    cost = "—" if task.estimated_cost is None else f"${task.estimated_cost:.2f}"
    embed.add_field(name="Estimated cost", value=cost)
    if (result := _result_value(task)) is not None:
        embed.add_field(name="Result", value=result)
    if admin:
        upstream = f"`{task.upstream_id}`" if task.upstream_id else "—"
        embed.add_field(name="Upstream id", value=upstream)
    embed.set_footer(text=render.snapshot_footer(task.id, "details"))
    return embed
