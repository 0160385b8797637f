"""The paged lists members browse: lineage trees and video histories.

Each is a page source (``pagination.PageSource``): its state lives in the buttons'
``custom_id``, nothing in memory, and every lookup is scoped to the pressing guild.
A lineage too long for one page also gets a rendered picture of the whole tree.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from itertools import islice

import discord
from discord import app_commands

from bot.core.lineage import (
    HIGHLIGHT_MARK,
    LineageNode,
    ShownTask,
    build_tree,
    most_picked_path,
    prompt_change,
    render_text_tree,
)
from bot.core.models import TaskKind, TaskStatus
from bot.discord_ui import render
from bot.discord_ui.buttons import LINEAGE_KIND
from bot.discord_ui.context import BotContext, context_of, guild_id_of
from bot.discord_ui.lineage_image import DEFAULT_MAX_NODES, render_tree_png
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
#: Room for a remix's change: a diff, or a whole instruction prompt.
CHANGE_CHARS = 100
REROLLS_SHOWN = 3
#: Videos of a long most-picked path named in the footer after its root.
PATH_TAIL = 3
#: Marks the most-picked path in the picture (which has no underline).
PICTURE_PATH_MARK = "★ "
STATUS_CHOICES = [
    app_commands.Choice(name=s.value.replace("_", " "), value=s.value) for s in TaskStatus
]


# --- lineage ---------------------------------------------------------------------------


def _change(task: ShownTask, by_id: Mapping[str, ShownTask]) -> str:
    """What a node changed against its parent; the root shows its prompt instead."""
    parent = by_id.get(task.parent_id) if task.parent_id else None
    if parent is None:
        return f"“{render.snippet(task.prompt, ROOT_PROMPT_CHARS)}”"
    if task.kind is TaskKind.EXTEND:
        return f"⏩ +{task.seconds}s “{render.snippet(task.prompt, ROOT_PROMPT_CHARS)}”"
    return prompt_change(parent.prompt, task.prompt, max_len=CHANGE_CHARS)


Changes = Callable[[ShownTask], str]


def changes_of(tasks: Sequence[ShownTask]) -> Changes:
    """``_change`` for the tasks of one tree, each worked out once (the text pages and the
    picture both show it; a word diff per video is most of a big tree's rendering)."""
    by_id = {t.id: t for t in tasks}
    known: dict[str, str] = {}

    def change(task: ShownTask) -> str:
        found = known.get(task.id)
        if found is None:
            found = known[task.id] = _change(task, by_id)
        return found

    return change


@dataclass(frozen=True, kw_only=True)
class TeamMarks:
    """What a team added to a tree: picks per video, the most-picked path, rerolls."""

    picks: dict[str, int] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    #: Rerolls made from each video of the tree, by source id.
    rerolls: dict[str, list[str]] = field(default_factory=dict)

    def note(self, task: ShownTask) -> str:
        """The node's ⭐ count and reroll relations, to follow its change (may be empty)."""
        parts = []
        if self.picks.get(task.id):
            parts.append(f"⭐ {self.picks[task.id]}")
        if task.rerolled_from:
            parts.append(f"🎲 reroll of `{task.rerolled_from}`")
        made = self.rerolls.get(task.id, [])
        if made:
            shown = ", ".join(f"`{r}`" for r in made[:REROLLS_SHOWN])
            more = f" +{len(made) - REROLLS_SHOWN}" if len(made) > REROLLS_SHOWN else ""
            parts.append(f"🎲 rerolled as {shown}{more}")
        return " · ".join(parts)


async def team_marks(bot: BotContext, guild_id: int, root: LineageNode[ShownTask]) -> TeamMarks:
    """Load the tree's picks and rerolls (this guild's only) and find the most-picked path."""
    ids = [node.task.id for node, _ in root.walk()]
    picks = await bot.store.pick_counts(ids, guild_id=guild_id)
    rerolls: dict[str, list[str]] = {}
    for made in await bot.store.rerolls_of(ids, guild_id=guild_id):
        assert made.rerolled_from is not None
        rerolls.setdefault(made.rerolled_from, []).append(made.id)
    return TeamMarks(picks=picks, path=most_picked_path(root, picks), rerolls=rerolls)


def lineage_pages(
    task: ShownTask, root: LineageNode[ShownTask], marks: TeamMarks, change: Changes
) -> list[list[str]]:
    """The tree as text lines, split into pages."""
    on_path = set(marks.path)
    lines = render_text_tree(
        root,
        highlight_id=task.id,
        describe=lambda t: render.lineage_line(
            t,
            change(t),
            highlight=t.id == task.id,
            on_path=t.id in on_path,
            note=marks.note(t),
        ),
    )
    return paginate_lines(lines, max_lines=LINES_PER_PAGE)


def _page_of(pages: list[list[str]], task_id: str) -> int:
    """The page that shows the highlighted video (its line ends with the ◀ mark)."""
    marker = f"`{task_id}`"
    for index, page in enumerate(pages):
        if any(line.endswith(HIGHLIGHT_MARK) and marker in line for line in page):
            return index
    return 0


def _picture_author(guild: discord.Guild | None, task: ShownTask) -> str:
    """The author as plain text for the picture (no markdown there, so not escaped).

    The name stored at submission; for older rows, the member if discord.py happens to
    have them cached (the bot has no members intent), else the numeric id.
    """
    if task.author_name:
        return task.author_name
    member = guild.get_member(task.user_id) if guild is not None else None
    return member.display_name if member is not None else str(task.user_id)


def picture_labels(
    guild: discord.Guild | None,
    tasks: Sequence[ShownTask],
    marks: TeamMarks | None = None,
    change: Changes | None = None,
) -> dict[str, str]:
    """Node labels for the picture (path mark, id, status, author's name, change, picks).

    Built on the event loop, so the drawing thread never touches discord.py's cache.
    ``change`` (default: ``changes_of(tasks)``) says what each video changed.
    """
    marks = marks or TeamMarks()
    change = change or changes_of(tasks)
    on_path = set(marks.path)
    labels = {}
    for task in tasks:
        author = _picture_author(guild, task)
        star = PICTURE_PATH_MARK if task.id in on_path else ""
        picks = f"  ⭐{marks.picks[task.id]}" if marks.picks.get(task.id) else ""
        labels[task.id] = f"{star}{task.id}  {task.status.value}  {author}  {change(task)}{picks}"
    return labels


def drawn_tasks(root: LineageNode[ShownTask]) -> list[ShownTask]:
    """The videos the picture draws: the first ``DEFAULT_MAX_NODES`` in pre-order."""
    return [node.task for node, _ in islice(root.walk(), DEFAULT_MAX_NODES)]


def path_text(path: list[str]) -> str:
    """``a → b → c``; a long path keeps its root and its last ``PATH_TAIL`` videos."""
    if len(path) <= PATH_TAIL + 2:
        return " → ".join(path)
    return " → ".join([path[0], f"…{len(path) - PATH_TAIL - 1} more…", *path[-PATH_TAIL:]])


def _footer_note(
    tasks: Sequence[ShownTask], root: LineageNode[ShownTask], pages: int, marks: TeamMarks
) -> str:
    depth = max((t.depth for t in tasks), default=0) - root.task.depth
    note = f"{len(tasks)} videos · depth {depth} · root {root.task.id}"
    if marks.path:
        total = sum(marks.picks.values())
        note += f" · ⭐ {total} · underlined: most-picked path ({path_text(marks.path)})"
    if pages > 1:
        note += " · whole tree in the picture"
    return note


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
        tasks: list[ShownTask] = [*await bot.store.lineage(task.root_id, guild_id=guild_id)]
        root = build_tree(tasks, root_id=task.root_id)
        marks = await team_marks(bot, guild_id, root)
        change = changes_of(tasks)
        pages = lineage_pages(task, root, marks, change)
        number = clamp(index, len(pages), default=_page_of(pages, task.id))
        embed = discord.Embed(
            title=f"Lineage of `{task.id}`",
            description="\n".join(pages[number]),
            colour=render.COLOURS[task.status],
        )
        note = _footer_note(tasks, root, len(pages), marks)
        embed.set_footer(text=footer_text(index=number, count=len(pages), note=note))
        files = []
        if first and len(pages) > 1:
            labels = picture_labels(interaction.guild, drawn_tasks(root), marks, change)
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
