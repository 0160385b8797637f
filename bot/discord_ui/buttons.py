"""The persistent buttons under cards and results, and the view of a new status card.

Buttons are ``DynamicItem``s whose ``custom_id`` carries our short video id
(``sora:remix:k7q2mx``, ``sora:lineage:k7q2mx``, ``sora:details:k7q2mx``,
``sora:delete:k7q2mx``), so they keep working after any restart: discord.py rebuilds the
item from the id on every press. Every press looks the id up in the pressing guild only,
so a button can never reveal (or delete) another guild's video. The Remix button lives in
``views`` with its form.

A press runs ``press`` through ``replies.answer_errors``: discord.py itself only logs
what a dynamic item raises, so without it a failure would leave "interaction failed".
"""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar, Self

import discord

from bot.core.errors import BotError, DeliveryError, PermissionMissing
from bot.core.models import VideoTask
from bot.discord_ui import render
from bot.discord_ui.cancelling import cancel_pressed
from bot.discord_ui.context import BotContext, context_of, guild_id_of
from bot.discord_ui.details_render import details_embed
from bot.discord_ui.pagination import PageKind, send_pages
from bot.discord_ui.permissions import is_bot_admin
from bot.discord_ui.replies import answer_errors
from bot.services.admin import timings

log = logging.getLogger(__name__)

REMIX_ID = "sora:remix:{id}"
LINEAGE_ID = "sora:lineage:{id}"
DETAILS_ID = "sora:details:{id}"
DELETE_ID = "sora:delete:{id}"
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
    """Shows every parameter of the video privately (the upstream id to admins only)."""

    label = "Details"
    emoji = "ℹ️"
    style = discord.ButtonStyle.secondary
    custom_id_format = DETAILS_ID

    async def press(self, interaction: discord.Interaction) -> None:
        bot = context_of(interaction)
        admin = is_bot_admin(interaction, bot.config.discord.admin_role)
        embed = await details_of(bot, guild_id_of(interaction), self.video_id, admin=admin)
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=render.NO_MENTIONS
        )


async def details_of(
    bot: BotContext, guild_id: int, video_id: str, *, admin: bool = False
) -> discord.Embed:
    """The Details embed of a video of this guild (``NotFound`` for any other)."""
    task = await bot.service.find_video(guild_id, video_id)
    parent = await bot.store.get(task.parent_id) if task.parent_id else None
    children = await bot.store.children_of(task.id, guild_id=guild_id)
    times = timings(task, await bot.store.events(task.id))
    return details_embed(task, parent=parent, children=children, times=times, admin=admin)


class DeleteButton(VideoButton, template=r"sora:delete:(?P<id>[a-z0-9]{6,8})"):
    """Deletes the result post; only its author or an admin may. The task stays in
    history, marked deleted (``mark_result_deleted``), and admins still see it."""

    label = "Delete"
    emoji = "🗑️"
    style = discord.ButtonStyle.danger
    custom_id_format = DELETE_ID

    async def press(self, interaction: discord.Interaction) -> None:
        bot = context_of(interaction)
        guild_id = guild_id_of(interaction)
        task = await bot.service.find_video(guild_id, self.video_id)
        if interaction.user.id != task.user_id and not is_bot_admin(
            interaction, bot.config.discord.admin_role
        ):
            raise PermissionMissing(
                f"Only the author of `{task.id}` or a server admin can delete its result."
            )
        if task.deleted:
            raise BotError(f"The result post of `{task.id}` was already deleted.")
        if task.result_message_id is None:
            raise BotError(f"Video `{task.id}` has no result post to delete.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        await delete_result_post(interaction, task)
        marked = await bot.store.mark_result_deleted(
            task.id, guild_id=guild_id, by_user_id=interaction.user.id
        )
        log.info("task %s: result post deleted by %s", task.id, interaction.user.id)
        await _show_deleted_on_card(bot, marked)
        await interaction.followup.send(
            f"Deleted the result post of `{task.id}`. The video stays in this server's history,"
            " marked deleted.",
            ephemeral=True,
            allowed_mentions=render.NO_MENTIONS,
        )


async def _show_deleted_on_card(bot: BotContext, task: VideoTask) -> None:
    """Say on the status card that the result was deleted (best effort: the post is gone
    and the mark is recorded whatever happens to the card)."""
    try:
        await bot.notifier.update_card(task)
    except DeliveryError as exc:
        log.info("task %s: the card could not show the deletion: %s", task.id, exc.reason)


async def delete_result_post(interaction: discord.Interaction, task: VideoTask) -> None:
    """Delete the task's recorded result post (never another message, whatever was pressed).

    A post that is already gone (10008, e.g. a moderator deleted it) counts as deleted;
    any other refusal is a ``BotError`` and nothing is marked.
    """
    assert task.result_message_id is not None
    channel = interaction.client.get_partial_messageable(task.channel_id, guild_id=task.guild_id)
    try:
        await channel.get_partial_message(task.result_message_id).delete()
    except discord.NotFound:
        return
    except discord.HTTPException as exc:
        raise BotError(
            f"Discord refused to delete the result post of `{task.id}` ({exc.status}); "
            "nothing was changed."
        ) from exc


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
