"""The Cancel button's press, and the card edit every cancel shares (``/admin cancel`` too).

Who may cancel: the video's author, or an admin (``permissions.is_bot_admin``: Manage
Server or the configured admin role). Anyone else gets a private refusal and nothing
changes. The rest (the check, the store, the upstream) is ``bot.services.cancel``.
"""

from __future__ import annotations

import logging

import discord

from bot.core.errors import DeliveryError, PermissionMissing
from bot.core.models import VideoTask
from bot.discord_ui import render
from bot.discord_ui.context import BotContext, context_of, guild_id_of
from bot.discord_ui.permissions import is_bot_admin
from bot.services.cancel import cancel_task, cancelled_note

log = logging.getLogger(__name__)

NOT_YOURS = "Only the member who asked for this video, or an admin, can cancel it."


async def cancel_pressed(interaction: discord.Interaction, video_id: str) -> None:
    """Check who pressed, cancel, show the card as cancelled, answer privately."""
    bot = context_of(interaction)
    task = await bot.service.find_video(guild_id_of(interaction), video_id)
    author = interaction.user.id == task.user_id
    if not author and not is_bot_admin(interaction, bot.config.discord.admin_role):
        raise PermissionMissing(NOT_YOURS)
    await interaction.response.defer(ephemeral=True, thinking=True)
    outcome = await cancel_task(bot.service, task, by_user_id=interaction.user.id)
    log.info("task %s cancelled by %s (button)", task.id, interaction.user.id)
    card_note = await show_cancelled(bot, outcome.task)
    await interaction.followup.send(
        f"Cancelled `{task.id}`{card_note}. Nothing more will be posted for it. "
        + cancelled_note(outcome),
        ephemeral=True,
        allowed_mentions=render.NO_MENTIONS,
    )


async def show_cancelled(bot: BotContext, task: VideoTask) -> str:
    """Edit the card to say cancelled; a note for the answer when it could not be edited."""
    try:
        await bot.notifier.update_card(task)
        await bot.store.record_card_edit(task.id, status=task.status, progress=task.progress)
    except DeliveryError as exc:
        return f" (its card could not be edited: {exc.reason})"
    return ""
