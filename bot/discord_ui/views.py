"""Buttons under result posts and re-posted cards, and the Remix modal.

Buttons are ``DynamicItem``s whose ``custom_id`` carries our short video id
(``sora:remix:k7q2mx``, ``sora:lineage:k7q2mx``, ``sora:details:k7q2mx``), so they
keep working after any restart: discord.py rebuilds the item from the id on every
press. Every press looks the id up in the pressing guild only, so a button can never
reveal another guild's video. ``DYNAMIC_ITEMS`` also carries the page buttons.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Self

import discord

from bot.core.errors import BotError
from bot.core.models import TaskStatus, VideoTask
from bot.core.video_spec import PROMPT_MAX_CHARS
from bot.discord_ui import render
from bot.discord_ui.flows import origin_of, submit_with_card
from bot.discord_ui.pagination import DYNAMIC_ITEMS as PAGE_ITEMS
from bot.discord_ui.pagination import PageKind, send_pages
from bot.discord_ui.replies import report_error

if TYPE_CHECKING:
    from bot.discord_ui.app import SoraBot

REMIX_ID = "sora:remix:{id}"
LINEAGE_ID = "sora:lineage:{id}"
DETAILS_ID = "sora:details:{id}"
#: The page kind of lineage trees (registered by ``chains_cog``).
LINEAGE_KIND = PageKind.LINEAGE
MODAL_TITLE_LIMIT = 45


class VideoButton(discord.ui.DynamicItem[discord.ui.Button], template=r"(?!)"):
    """A button that carries one of our video ids in its ``custom_id``.

    Not registered itself (its template matches nothing); each subclass sets the
    template for its action and the button's look.
    """

    label: ClassVar[str]
    emoji: ClassVar[str]
    style: ClassVar[discord.ButtonStyle]
    custom_id_format: ClassVar[str]

    def __init__(self, video_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.label,
                emoji=self.emoji,
                style=self.style,
                custom_id=self.custom_id_format.format(id=video_id),
            )
        )
        self.video_id = video_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match["id"])


class RemixButton(VideoButton, template=r"sora:remix:(?P<id>[a-z0-9]{6,8})"):
    """Opens a modal prefilled with the video's prompt; submitting it remixes the video."""

    label = "Remix"
    emoji = "🔁"
    style = discord.ButtonStyle.primary
    custom_id_format = REMIX_ID

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        """Look up the parent (fast, SQLite) and open the modal as the first response."""
        bot: SoraBot = interaction.client  # type: ignore[assignment]
        try:
            assert interaction.guild_id is not None
            parent = await bot.service.find_remix_parent(interaction.guild_id, self.video_id)
        except BotError as exc:
            await report_error(interaction, exc)
            return
        await interaction.response.send_modal(RemixModal(parent))


class RemixModal(discord.ui.Modal):
    """The remix prompt, prefilled with the parent's."""

    def __init__(self, parent: VideoTask) -> None:
        super().__init__(title=f"Remix {parent.id}"[:MODAL_TITLE_LIMIT], timeout=None)
        self.parent = parent
        self.prompt: discord.ui.TextInput = discord.ui.TextInput(
            label="Prompt for the remix",
            custom_id="remix_prompt",
            style=discord.TextStyle.paragraph,
            default=parent.prompt[:PROMPT_MAX_CHARS],
            max_length=PROMPT_MAX_CHARS,
            required=True,
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        """Behave exactly like ``/remix <parent> <prompt>``."""
        bot: SoraBot = interaction.client  # type: ignore[assignment]
        prompt = self.prompt.value
        await submit_with_card(
            interaction,
            check=lambda: bot.service.check_remix(origin_of(interaction), self.parent.id, prompt),
            submit=lambda origin: bot.service.remix(origin, self.parent.id, prompt),
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]
        await report_error(interaction, error)


class LineageButton(VideoButton, template=r"sora:lineage:(?P<id>[a-z0-9]{6,8})"):
    """Shows the remix tree around the video, privately (same as ``/lineage``)."""

    label = "Lineage"
    emoji = "🌳"
    style = discord.ButtonStyle.secondary
    custom_id_format = LINEAGE_ID

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        """Defer privately (a large tree gets a rendered picture), then show page one."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await send_pages(interaction, LINEAGE_KIND, self.video_id)
        except BotError as exc:
            await report_error(interaction, exc)


class DetailsButton(VideoButton, template=r"sora:details:(?P<id>[a-z0-9]{6,8})"):
    """Shows the video's details privately: parameters, parent, remixes, links."""

    label = "Details"
    emoji = "ℹ️"
    style = discord.ButtonStyle.secondary
    custom_id_format = DETAILS_ID

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        bot: SoraBot = interaction.client  # type: ignore[assignment]
        try:
            assert interaction.guild_id is not None
            embed = await details_of(bot, interaction.guild_id, self.video_id)
        except BotError as exc:
            await report_error(interaction, exc)
            return
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=render.NO_MENTIONS
        )


async def details_of(bot: SoraBot, guild_id: int, video_id: str) -> discord.Embed:
    """The Details embed of a video of this guild (``NotFound`` for any other)."""
    task = await bot.service.find_video(guild_id, video_id)
    parent = await bot.store.get(task.parent_id) if task.parent_id else None
    children = await bot.store.children_of(task.id, guild_id=guild_id)
    return render.details_embed(task, parent=parent, children=children)


def result_view(video_id: str) -> discord.ui.View:
    """The buttons under a result post."""
    view = discord.ui.View(timeout=None)
    view.add_item(RemixButton(video_id))
    view.add_item(LineageButton(video_id))
    view.add_item(DetailsButton(video_id))
    return view


def video_view(task: VideoTask) -> discord.ui.View:
    """The buttons under a re-posted card: Remix only once the video is finished."""
    if task.status is TaskStatus.COMPLETED:
        return result_view(task.id)
    view = discord.ui.View(timeout=None)
    view.add_item(LineageButton(task.id))
    view.add_item(DetailsButton(task.id))
    return view


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    RemixButton,
    LineageButton,
    DetailsButton,
    *PAGE_ITEMS,
)
