"""Answering interactions with errors: short, specific, ephemeral.

A ``BotError`` is shown as is. Anything else is a bug: the user gets an apology
with a reference id and the log gets the traceback under the same id.
"""

from __future__ import annotations

import logging
import secrets

import discord

from bot.core.errors import BotError

log = logging.getLogger(__name__)


async def send_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Send ``message`` only to the invoker, whether or not the interaction was answered."""
    if interaction.response.is_done():
        await interaction.followup.send(
            message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )
    else:
        await interaction.response.send_message(
            message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Tell the invoker what went wrong without leaking internals."""
    if isinstance(error, BotError):
        message = error.user_message
    else:
        reference = secrets.token_hex(4)
        log.error("unexpected error (ref %s)", reference, exc_info=error)
        message = f"Something went wrong on our side (reference `{reference}`). Please try again."
    try:
        await send_ephemeral(interaction, message)
    except discord.HTTPException:
        log.warning("could not send an error reply to interaction %s", interaction.id)


async def retract_card(interaction: discord.Interaction, error: BaseException) -> None:
    """Remove a public 'thinking' card that turned out to be an error, then explain privately."""
    try:
        await interaction.delete_original_response()
    except discord.HTTPException:
        log.info("could not delete the card of interaction %s", interaction.id)
    await report_error(interaction, error)
