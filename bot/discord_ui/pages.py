"""The paged lists members browse: lineage trees and video histories.

Each is a page source (``pagination.PageSource``): its state lives in the buttons'
``custom_id``, nothing in memory, and every lookup is scoped to the pressing guild.
A lineage too long for one page also gets a rendered picture of the whole tree.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from datetime import timedelta

import discord
from discord import app_commands

from bot.core.lineage import (
    HIGHLIGHT_MARK,
    LineageNode,
    build_tree,
    prompt_change,
    render_text_tree,
)
from bot.core.models import TaskKind, TaskStatus, VideoTask
from bot.discord_ui import render
from bot.discord_ui.buttons import LINEAGE_KIND
from bot.discord_ui.context import BotContext, context_of, guild_id_of
from bot.discord_ui.lineage_image import render_tree_png
from bot.discord_ui.pagination import (
    Page,
    PageKind,
    clamp,
    footer_text,
    page_count,
    paginate_lines,
)
from bot.services.admin import HistoryFilter

LINES_PER_PAGE = 15
HISTORY_PER_PAGE = 10
ROOT_PROMPT_CHARS = 50
STATUS_CHOICES = [
    app_commands.Choice(name=s.value.replace("_", " "), value=s.value) for s in TaskStatus
]


# --- lineage ---------------------------------------------------------------------------


def _change(task: VideoTask, by_id: dict[str, VideoTask]) -> str:
    """What a node changed against its parent; the root shows its prompt instead."""
    parent = by_id.get(task.parent_id) if task.parent_id else None
    if parent is None:
        return f"“{render.snippet(task.prompt, ROOT_PROMPT_CHARS)}”"
    if task.kind is TaskKind.EXTEND:
        return f"⏩ +{task.seconds}s “{render.snippet(task.prompt, ROOT_PROMPT_CHARS)}”"
    return prompt_change(parent.prompt, task.prompt)


def _lineage_pages(task: VideoTask, tasks: list[VideoTask], root: LineageNode) -> list[list[str]]:
    """The tree as text lines, split into pages."""
    by_id = {t.id: t for t in tasks}
    lines = render_text_tree(
        root,
        highlight_id=task.id,
        describe=lambda t: render.lineage_line(t, _change(t, by_id), highlight=t.id == task.id),
    )
    return paginate_lines(lines, max_lines=LINES_PER_PAGE)


def _page_of(pages: list[list[str]], task_id: str) -> int:
    """The page that shows the highlighted video (its line ends with the ◀ mark)."""
    marker = f"`{task_id}`"
    for index, page in enumerate(pages):
        if any(line.endswith(HIGHLIGHT_MARK) and marker in line for line in page):
            return index
    return 0


def _picture_author(guild: discord.Guild | None, task: VideoTask) -> str:
    """The author as plain text for the picture (no markdown there, so not escaped).

    The name stored at submission; for older rows, the member if discord.py happens to
    have them cached (the bot has no members intent), else the numeric id.
    """
    if task.author_name:
        return task.author_name
    member = guild.get_member(task.user_id) if guild is not None else None
    return member.display_name if member is not None else str(task.user_id)


def picture_labels(guild: discord.Guild | None, tasks: list[VideoTask]) -> dict[str, str]:
    """Node labels for the picture (id, status, author's name, change).

    Built on the event loop, so the drawing thread never touches discord.py's cache.
    """
    by_id = {t.id: t for t in tasks}
    labels = {}
    for task in tasks:
        author = _picture_author(guild, task)
        labels[task.id] = f"{task.id}  {task.status.value}  {author}  {_change(task, by_id)}"
    return labels


class LineageSource:
    """The tree around a video, ``LINES_PER_PAGE`` nodes a page; state = the video id."""

    kind = LINEAGE_KIND

    async def check(self, interaction: discord.Interaction) -> None:
        """Anyone in the guild may look (the lookup itself is guild-scoped)."""

    async def render(
        self, interaction: discord.Interaction, state: str, index: int | None, *, first: bool
    ) -> Page:
        bot = context_of(interaction)
        guild_id = guild_id_of(interaction)
        task = await bot.service.find_video(guild_id, state)
        tasks = await bot.store.tree(task.root_id, guild_id=guild_id)
        root = build_tree(tasks, root_id=task.root_id)
        pages = _lineage_pages(task, tasks, root)
        number = clamp(index, len(pages), default=_page_of(pages, task.id))
        depth = max((t.depth for t in tasks), default=0) - root.task.depth
        note = f"{len(tasks)} videos · depth {depth} · root {root.task.id}"
        if len(pages) > 1:
            note += " · whole tree in the picture"
        embed = discord.Embed(
            title=f"Lineage of `{task.id}`",
            description="\n".join(pages[number]),
            colour=render.COLOURS[task.status],
        )
        embed.set_footer(text=footer_text(index=number, count=len(pages), note=note))
        files = []
        if first and len(pages) > 1:
            labels = picture_labels(interaction.guild, tasks)
            png = await asyncio.to_thread(
                render_tree_png, root, highlight_id=task.id, label=lambda t: labels[t.id]
            )
            files.append(discord.File(io.BytesIO(png), filename=f"lineage-{root.task.id}.png"))
        return Page(embed=embed, index=number, count=len(pages), files=files)


# --- history -----------------------------------------------------------------------------


class HistorySource:
    """The caller's own videos in this guild, newest first; state = a filter token."""

    kind = PageKind.HISTORY
    show_author = False
    title = "Your videos"

    async def check(self, interaction: discord.Interaction) -> None:
        """Anyone may see their own list."""

    def scope(self, interaction: discord.Interaction, filt: HistoryFilter) -> HistoryFilter:
        """Whose videos: always the presser's own, whatever the token says."""
        return replace(filt, user_id=interaction.user.id)

    async def render(
        self, interaction: discord.Interaction, state: str, index: int | None, *, first: bool
    ) -> Page:
        bot = context_of(interaction)
        guild_id = guild_id_of(interaction)
        filt = self.scope(interaction, HistoryFilter.from_token(state))
        total = await bot.store.count_history(guild_id, **filt.query())
        count = page_count(total, HISTORY_PER_PAGE)
        number = clamp(index, count)
        tasks = await bot.store.guild_history(
            guild_id, **filt.query(), limit=HISTORY_PER_PAGE, offset=number * HISTORY_PER_PAGE
        )
        lines = [render.history_line(t, show_author=self.show_author) for t in tasks]
        title = self.title + (f" · {filt.status.value.replace('_', ' ')}" if filt.status else "")
        embed = discord.Embed(
            title=title,
            description="\n".join(lines) or "No videos match.",
            colour=discord.Colour.blurple(),
        )
        embed.set_footer(text=footer_text(index=number, count=count, note=f"{total} videos"))
        return Page(embed=embed, index=number, count=count)


def history_state(bot: BotContext, filt: HistoryFilter) -> str:
    """The page state for a history list counted as of now."""
    return filt.as_of(bot.clock() + timedelta(seconds=1)).to_token()
