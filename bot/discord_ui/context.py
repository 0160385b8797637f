"""What commands, buttons and forms use of the running bot, without importing the bot class.

Cogs, views and flows depend on this small protocol instead of ``app.SoraBot``, so the
bot module imports them (as extensions) and nothing imports the bot module back.
``SoraBot`` satisfies it; ``context_of`` checks that at run time.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import discord

from bot.config import Config
from bot.core.clock import Clock
from bot.core.foreground import Foreground
from bot.delivery.notifier import Notifier
from bot.discord_ui.card_hooks import CardHooks
from bot.services.submission import VideoService
from bot.storage.async_store import AsyncTaskStore


@runtime_checkable
class BotContext(Protocol):
    """The bot's services, as cogs and components see them (read-only)."""

    @property
    def config(self) -> Config: ...

    @property
    def store(self) -> AsyncTaskStore: ...

    @property
    def service(self) -> VideoService: ...

    @property
    def notifier(self) -> Notifier: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def card_hooks(self) -> CardHooks: ...

    @property
    def foreground(self) -> Foreground: ...


def require_context(client: object) -> BotContext:
    """``client`` as a ``BotContext``; a ``TypeError`` if it is some other client."""
    if not isinstance(client, BotContext):
        raise TypeError(f"{type(client).__name__} does not carry the bot's services")
    return client


def context_of(interaction: discord.Interaction) -> BotContext:
    """The services of the bot that received ``interaction``."""
    return require_context(interaction.client)


def guild_id_of(interaction: discord.Interaction) -> int:
    """The guild of a guild-only command or component."""
    assert interaction.guild_id is not None, "guild-only interaction"
    return interaction.guild_id
