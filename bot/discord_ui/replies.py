"""Answering interactions with errors: short, specific, ephemeral — the one error path.

A ``BotError`` is shown as is. Anything else is a bug: the user gets an apology
with a reference id and the log gets the traceback under the same id.

Every kind of interaction ends here: slash commands through ``SoraCommandTree.on_error``,
buttons (discord.py only logs what a ``DynamicItem`` callback raises) through
``answer_errors``, forms through ``Modal.on_error``, and autocomplete (which has no
one to answer) through ``guard_autocomplete``, which logs and offers no choices.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import discord
from discord import app_commands

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
        reference = new_reference()
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


def new_reference() -> str:
    """A short id that ties an apology to its log line."""
    return secrets.token_hex(4)


async def answer_errors(
    interaction: discord.Interaction, action: Callable[[], Awaitable[object]]
) -> None:
    """Run a component's action; whatever it raises ends in ``report_error``."""
    try:
        await action()
    except Exception as exc:
        await report_error(interaction, exc)


Cog = TypeVar("Cog")
AutocompleteMethod = Callable[
    [Cog, discord.Interaction[Any], str], Coroutine[Any, Any, list[app_commands.Choice[str]]]
]


def guard_autocomplete(method: AutocompleteMethod[Cog]) -> AutocompleteMethod[Cog]:
    """Wrap an autocomplete method: on any error, log it under a reference, offer nothing."""

    @functools.wraps(method)
    async def guarded(
        cog: Cog, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        try:
            return await method(cog, interaction, current)
        except Exception:
            log.exception("autocomplete failed (ref %s)", new_reference())
            return []

    return guarded
