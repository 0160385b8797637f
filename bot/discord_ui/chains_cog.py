"""/lineage, /video and /history: browsing remix chains and your own videos.

Every lookup goes through ``VideoService.find_video`` with the interaction's guild, so
another guild's id gets exactly the answer an unknown id gets. Lists are paged with
``pagination`` (state in the buttons, nothing in memory); a lineage too long for one
page also gets a rendered picture of the whole tree.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.lineage import (
    HIGHLIGHT_MARK,
    LineageNode,
    build_tree,
    prompt_change,
    render_text_tree,
)
from bot.core.models import TaskStatus, VideoTask
from bot.discord_ui import render
from bot.discord_ui.choices import recent_video_choices
from bot.discord_ui.lineage_image import render_tree_png
from bot.discord_ui.pagination import (
    Page,
    PageKind,
    clamp,
    footer_text,
    page_count,
    paginate_lines,
    register,
    send_pages,
)
from bot.discord_ui.views import LINEAGE_KIND, video_view
from bot.services.admin import HistoryFilter, parse_status

if TYPE_CHECKING:
    from bot.discord_ui.app import SoraBot

LINES_PER_PAGE = 15
HISTORY_PER_PAGE = 10
ROOT_PROMPT_CHARS = 50
STATUS_CHOICES = [
    app_commands.Choice(name=s.value.replace("_", " "), value=s.value) for s in TaskStatus
]


def _bot(interaction: discord.Interaction) -> SoraBot:
    return interaction.client  # type: ignore[return-value]


def _guild_id(interaction: discord.Interaction) -> int:
    assert interaction.guild_id is not None, "guild-only command"
    return interaction.guild_id


# --- lineage ---------------------------------------------------------------------------


def _change(task: VideoTask, by_id: dict[str, VideoTask]) -> str:
    """What a node changed against its parent; the root shows its prompt instead."""
    parent = by_id.get(task.parent_id) if task.parent_id else None
    if parent is None:
        return f"“{render.snippet(task.prompt, ROOT_PROMPT_CHARS)}”"
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


def _picture_labels(interaction: discord.Interaction, tasks: list[VideoTask]) -> dict[str, str]:
    """Node labels for the picture (id, status, author's name when cached, change).

    Built on the event loop, so the drawing thread never touches discord.py's cache.
    """
    by_id = {t.id: t for t in tasks}
    guild = interaction.guild
    labels = {}
    for task in tasks:
        member = guild.get_member(task.user_id) if guild is not None else None
        author = member.display_name if member is not None else str(task.user_id)
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
        bot = _bot(interaction)
        guild_id = _guild_id(interaction)
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
            labels = _picture_labels(interaction, tasks)
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
        bot = _bot(interaction)
        guild_id = _guild_id(interaction)
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


def history_state(bot: SoraBot, filt: HistoryFilter) -> str:
    """The page state for a history list counted as of now."""
    return filt.as_of(bot.clock() + timedelta(seconds=1)).to_token()


# --- the cog -----------------------------------------------------------------------------


class ChainsCog(commands.Cog):
    """Browse remix chains, re-post cards, list your own videos."""

    def __init__(self, bot: SoraBot) -> None:
        self.bot = bot
        register(LineageSource())
        register(HistorySource())

    @app_commands.command(name="lineage", description="Show the remix tree around a video")
    @app_commands.guild_only()
    @app_commands.describe(video_id="A video of this server (its id, e.g. k7q2mx)")
    async def lineage(self, interaction: discord.Interaction, video_id: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        task = await self.bot.service.find_video(_guild_id(interaction), video_id)
        await send_pages(interaction, LINEAGE_KIND, task.id)

    @app_commands.command(name="video", description="Re-post a video's card with its buttons")
    @app_commands.guild_only()
    @app_commands.describe(video_id="A video of this server (its id, e.g. k7q2mx)")
    async def video(self, interaction: discord.Interaction, video_id: str) -> None:
        guild_id = _guild_id(interaction)
        task = await self.bot.service.find_video(guild_id, video_id)
        parent = await self.bot.store.get(task.parent_id) if task.parent_id else None
        children = await self.bot.store.children_of(task.id, guild_id=guild_id)
        embed = render.video_embed(task, parent=parent, children=len(children))
        await interaction.response.send_message(
            embed=embed, view=video_view(task), allowed_mentions=render.NO_MENTIONS
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
    async def video_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Recent finished videos of this guild, answered from SQLite."""
        return await recent_video_choices(self.bot.store, interaction, current)
