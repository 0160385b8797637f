"""Fixtures and helpers to run a real discord.py bot against the FakeDiscord emulator.

Use from a test module (re-export the fixtures so pytest finds them)::

    from tests.discord_fixtures import discord_world as discord_world
    from tests.discord_fixtures import running_bot

    async def test_x(discord_world):
        async with running_bot(MyBot(...), discord_world.emu) as bot:
            ix = await discord_world.emu.slash(discord_world.alice, discord_world.channel, "sora", {...})
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import discord
import pytest_asyncio
from discord.ext import commands

from bot.discord_ui.endpoint import reset_discord_endpoint, use_discord_endpoint
from bot.emulators.fake_discord import FakeChannel, FakeDiscord, FakeGuild, FakeUser, ManualClock

log = logging.getLogger(__name__)

FAST_READY: dict[str, Any] = {"guild_ready_timeout": 0.05}
"""Client options that make ``on_ready`` fire right after the GUILD_CREATEs (default waits 2 s)."""


@dataclass
class DiscordWorld:
    """A started emulator with one guild, one channel, a member and a guild manager."""

    emu: FakeDiscord
    clock: ManualClock
    guild: FakeGuild
    channel: FakeChannel
    alice: FakeUser
    admin: FakeUser


@pytest_asyncio.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started FakeDiscord on a ManualClock (``emu.clock``), stopped after the test."""
    async with FakeDiscord(clock=ManualClock()) as emu:
        yield emu


@pytest_asyncio.fixture
async def discord_world(fake_discord: FakeDiscord) -> DiscordWorld:
    """``fake_discord`` plus guild "Team", channel "videos", member alice and manager admin."""
    guild = fake_discord.add_guild("Team")
    channel = fake_discord.add_channel(guild, "videos")
    alice = fake_discord.add_member(guild, "alice")
    admin = fake_discord.add_member(guild, "admin", manage_guild=True)
    assert isinstance(fake_discord.clock, ManualClock)
    return DiscordWorld(fake_discord, fake_discord.clock, guild, channel, alice, admin)


def minimal_bot(**options: Any) -> commands.Bot:
    """A ``commands.Bot`` with default intents and a fast ready, for tests that add commands."""
    return commands.Bot(
        command_prefix=commands.when_mentioned,
        intents=discord.Intents.default(),
        **(FAST_READY | options),
    )


@contextlib.asynccontextmanager
async def running_bot(
    client: discord.Client,
    emu: FakeDiscord,
    *,
    timeout: float = 10.0,
) -> AsyncIterator[Any]:
    """Start ``client`` against ``emu`` and wait until it has its guilds; close it afterwards."""
    use_discord_endpoint(emu.rest_base, emu.gateway_url)
    runner = asyncio.create_task(client.start(emu.bot_token), name="test-bot")
    try:
        await _wait_ready_or_crash(runner, emu, timeout)
        yield client
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(runner, 5.0)
        reset_discord_endpoint()


async def _wait_ready_or_crash(
    runner: asyncio.Task[None],
    emu: FakeDiscord,
    timeout: float,
) -> None:
    """Surface a login/setup_hook exception instead of a bare ready timeout."""
    ready = asyncio.create_task(emu.wait_for_bot_ready(timeout))
    done, _ = await asyncio.wait({runner, ready}, return_when=asyncio.FIRST_COMPLETED)
    if runner in done:
        ready.cancel()
        runner.result()
        raise RuntimeError("the bot stopped before it was ready")
    await ready
