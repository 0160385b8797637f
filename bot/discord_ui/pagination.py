"""Paged answers whose buttons carry their whole state in the ``custom_id``.

A paged list (a lineage tree, a history) is a ``PageSource`` registered under its
``PageKind``. Its Prev/Next buttons are one ``DynamicItem`` class whose ``custom_id`` is
``sora:pg:<kind>:<page>:<state>``: ``state`` is the source's own compact text (a video
id, a filter token), so a press re-runs the query for that page. Nothing is held in
memory: buttons keep working after a restart and never time out.

A button that no longer makes sense answers gracefully instead of failing: a page
past the end shows the last page, an unknown kind or unreadable state gets a short
ephemeral "run the command again", and a source's own check (e.g. admin-only) refuses
with its usual message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import discord

from bot.core.errors import BotError
from bot.discord_ui.render import NO_MENTIONS
from bot.discord_ui.replies import answer_errors, send_ephemeral

log = logging.getLogger(__name__)

PAGE_ID = "sora:pg:{kind}:{page}:{state}"
PAGE_TEMPLATE = r"sora:pg:(?P<kind>[a-z]{1,8}):(?P<page>[0-9]{1,6}):(?P<state>[0-9a-z.\-]{0,80})"
STALE_MESSAGE = "This list is out of date. Run the command again to see it."
#: Room left in an embed description for the page's header and markers.
DESCRIPTION_BUDGET = 3900


class PageKind(StrEnum):
    """The paged lists; the value is the ``<kind>`` of their buttons' ``custom_id``.

    Buttons on old messages carry these values, so never rename one.
    """

    LINEAGE = "lin"
    HISTORY = "hist"
    ADMIN_HISTORY = "adm"


@dataclass(frozen=True, kw_only=True)
class Page:
    """One rendered page: ``index`` is 0-based and already clamped to ``count``."""

    embed: discord.Embed
    index: int
    count: int
    files: list[discord.File] = field(default_factory=list)


class PageSource(Protocol):
    """A paged list: ``check`` who may see it, ``render`` one page of it."""

    kind: PageKind

    async def check(self, interaction: discord.Interaction) -> None:
        """Raise a ``BotError`` to refuse (runs on every page press)."""
        ...

    async def render(
        self, interaction: discord.Interaction, state: str, index: int | None, *, first: bool
    ) -> Page:
        """Page ``index`` (None: the source's default page; past the end: the last page).

        ``first`` is True for the initial answer (attachments may be added then; page
        presses keep the message's existing attachments). Raise ``ValueError`` for a
        state that cannot be read.
        """
        ...


SOURCES: dict[PageKind, PageSource] = {}


def register(source: PageSource) -> None:
    """Make ``source`` answer the page buttons of its kind."""
    if not re.fullmatch(r"[a-z]{1,8}", source.kind):
        raise ValueError(f"bad page kind {source.kind!r}")
    SOURCES[PageKind(source.kind)] = source


def source_for(kind: str) -> PageSource | None:
    """The registered source of ``kind`` (text from a button), or None for an unknown kind."""
    try:
        return SOURCES.get(PageKind(kind))
    except ValueError:
        return None


def clamp(index: int | None, count: int, default: int = 0) -> int:
    """A valid page index for ``count`` pages (at least one page always exists)."""
    last = max(count, 1) - 1
    return max(0, min(default if index is None else index, last))


def page_count(items: int, per_page: int) -> int:
    """How many pages ``items`` entries fill (an empty list is one page)."""
    return max(1, -(-items // per_page))


def paginate_lines(
    lines: Sequence[str], *, max_lines: int, max_chars: int = DESCRIPTION_BUDGET
) -> list[list[str]]:
    """Split lines into pages of at most ``max_lines`` lines and ``max_chars`` characters."""
    pages: list[list[str]] = [[]]
    size = 0
    for line in lines:
        line = line if len(line) <= max_chars else line[: max_chars - 1] + "…"
        current = pages[-1]
        if current and (len(current) >= max_lines or size + len(line) + 1 > max_chars):
            pages.append([])
            current, size = pages[-1], 0
        current.append(line)
        size += len(line) + 1
    return pages


def footer_text(page: Page | None = None, *, index: int = 0, count: int = 1, note: str = "") -> str:
    """``Page 2/5 · note``."""
    if page is not None:
        index, count = page.index, page.count
    text = f"Page {index + 1}/{count}"
    return f"{text} · {note}" if note else text


class PageButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=PAGE_TEMPLATE):
    """Prev/Next: re-renders the page named in its ``custom_id`` in place."""

    def __init__(
        self, kind: str, page: int, state: str, *, label: str = "Page", disabled: bool = False
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=PAGE_ID.format(kind=kind, page=page, state=state),
                disabled=disabled,
            )
        )
        self.kind, self.page, self.state = kind, page, state

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PageButton:
        return cls(match["kind"], int(match["page"]), match["state"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Re-render the page; every error is answered by the one error path."""
        await answer_errors(interaction, lambda: self.turn(interaction))

    async def turn(self, interaction: discord.Interaction) -> None:
        """Show the page this button names (or say the list is out of date)."""
        source = source_for(self.kind)
        if source is None:
            await send_ephemeral(interaction, STALE_MESSAGE)
            return
        try:
            await source.check(interaction)
            page = await source.render(interaction, self.state, self.page, first=False)
        except ValueError:
            log.info("stale page button %s", self.custom_id)
            await send_ephemeral(interaction, STALE_MESSAGE)
            return
        await interaction.response.edit_message(
            embed=page.embed, view=page_view(self.kind, self.state, page)
        )


def page_view(kind: str, state: str, page: Page) -> discord.ui.View | None:
    """Prev/Next buttons, or None when everything fits on one page."""
    view = discord.ui.View(timeout=None)
    if page.count > 1:
        prev_page = max(page.index - 1, 0)
        next_page = min(page.index + 1, page.count - 1)
        view.add_item(PageButton(kind, prev_page, state, label="◀ Prev", disabled=page.index == 0))
        view.add_item(
            PageButton(
                kind, next_page, state, label="Next ▶", disabled=page.index >= page.count - 1
            )
        )
    return view if view.children else None


async def send_pages(
    interaction: discord.Interaction,
    kind: PageKind,
    state: str,
    *,
    ephemeral: bool = True,
    index: int | None = None,
) -> None:
    """Answer with the first (or ``index``) page of a registered source.

    Works whether or not the interaction was deferred; errors are the caller's to report.
    """
    source = SOURCES.get(kind)
    if source is None:
        raise BotError("This list is not available right now.")
    await source.check(interaction)
    page = await source.render(interaction, state, index, first=True)
    kwargs: dict[str, Any] = {
        "embed": page.embed,
        "ephemeral": ephemeral,
        "allowed_mentions": NO_MENTIONS,
    }
    view = page_view(kind, state, page)
    if view is not None:
        kwargs["view"] = view
    if page.files:
        kwargs["files"] = page.files
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs)
    else:
        await interaction.response.send_message(**kwargs)


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (PageButton,)
