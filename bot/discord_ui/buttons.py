"""The persistent buttons under cards and results, and the view of a new status card.

Buttons are ``DynamicItem``s whose ``custom_id`` carries our short video id
(``sora:remix:k7q2mx``, ``sora:lineage:k7q2mx``, ``sora:details:k7q2mx``), so they
keep working after any restart: discord.py rebuilds the item from the id on every
press. Every press looks the id up in the pressing guild only, so a button can never
reveal another guild's video. The Remix button lives in ``views`` with its form.

A press runs ``press`` through ``replies.answer_errors``: discord.py itself only logs
what a dynamic item raises, so without it a failure would leave "interaction failed".
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Self

import discord

from bot.discord_ui import render
from bot.discord_ui.cancelling import cancel_pressed
from bot.discord_ui.context import BotContext, context_of
from bot.discord_ui.pagination import PageKind, send_pages
from bot.discord_ui.replies import answer_errors

REMIX_ID = "sora:remix:{id}"
LINEAGE_ID = "sora:lineage:{id}"
DETAILS_ID = "sora:details:{id}"
#: The page kind of lineage trees (registered by ``chains_cog``).
LINEAGE_KIND = PageKind.LINEAGE


class VideoButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    """A button that carries one of our video ids in its ``custom_id``.

    Not registered itself (its template matches nothing); each subclass sets the
    template for its action and the button's look, and implements ``press``.
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

    async def callback(self, interaction: discord.Interaction) -> None:
        """Run the press; every error it raises is answered by the one error path."""
        await answer_errors(interaction, lambda: self.press(interaction))

    async def press(self, interaction: discord.Interaction) -> None:
        """What the button does."""
        raise NotImplementedError


class LineageButton(VideoButton, template=r"sora:lineage:(?P<id>[a-z0-9]{6,8})"):
    """Shows the remix tree around the video, privately (same as ``/lineage``)."""

    label = "Lineage"
    emoji = "🌳"
    style = discord.ButtonStyle.secondary
    custom_id_format = LINEAGE_ID

    async def press(self, interaction: discord.Interaction) -> None:
        """Defer privately (a large tree gets a rendered picture), then show page one."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        await send_pages(interaction, LINEAGE_KIND, self.video_id)


class DetailsButton(VideoButton, template=r"sora:details:(?P<id>[a-z0-9]{6,8})"):
    """Shows the video's details privately: parameters, parent, remixes, links."""

    label = "Details"
    emoji = "ℹ️"
    style = discord.ButtonStyle.secondary
    custom_id_format = DETAILS_ID

    async def press(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        embed = await details_of(context_of(interaction), interaction.guild_id, self.video_id)
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=render.NO_MENTIONS
        )


async def details_of(bot: BotContext, guild_id: int, video_id: str) -> discord.Embed:
    """The Details embed of a video of this guild (``NotFound`` for any other)."""
    task = await bot.service.find_video(guild_id, video_id)
    parent = await bot.store.get(task.parent_id) if task.parent_id else None
    children = await bot.store.children_of(task.id, guild_id=guild_id)
    return render.details_embed(task, parent=parent, children=children)


def card_view(video_id: str, *, cancel: bool = True) -> discord.ui.View:
    """The buttons under a status card while the video is not finished yet.

    ``cancel``: with the Cancel button (while the video waits, is queued or runs).
    """
    view = discord.ui.View(timeout=None)
    view.add_item(LineageButton(video_id))
    view.add_item(DetailsButton(video_id))
    if cancel:
        view.add_item(CancelButton(video_id))
    return view


CANCEL_ID = "sora:cancel:{id}"


class CancelButton(VideoButton, template=r"sora:cancel:(?P<id>[a-z0-9]{6,8})"):
    """Cancels the video: its author or an admin; anyone else is refused privately."""

    label = "Cancel"
    emoji = "✖️"
    style = discord.ButtonStyle.danger
    custom_id_format = CANCEL_ID

    async def press(self, interaction: discord.Interaction) -> None:
        await cancel_pressed(interaction, self.video_id)
