"""Small helpers for end-to-end tests that drive the real bot through the emulators."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from bot.core.models import DeliveryState, VideoTask
from bot.emulators.fake_discord import FakeInteraction, FakeMessage, FakeUser
from bot.emulators.harness import BotHarness

CARD_TITLE = re.compile(r"`([a-z0-9]{6,8})`")


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """The real bot against both emulators, with jobs that take about a second."""
    async with BotHarness(tmp_path, job_seconds=1.0) as h:
        yield h
        assert h.discord.contract_violations == []


def video_id_of(message: FakeMessage) -> str:
    """Our video id, read from a card's or result's embed title."""
    match = CARD_TITLE.search(message.embeds[0]["title"])
    assert match, message.embeds
    return match.group(1)


def footer(message: FakeMessage) -> str | None:
    """The embed footer text, which names the task a post belongs to."""
    return (message.embeds[0].get("footer") or {}).get("text") if message.embeds else None


async def submit(
    h: BotHarness, user: FakeUser, command: str, options: dict[str, Any], **kwargs: Any
) -> tuple[FakeInteraction, FakeMessage]:
    """Run a command that should create a public card; return the interaction and the card."""
    ix = await h.discord.slash(user, h.channel, command, options, **kwargs)
    await ix.initial_response()
    card = await ix.original_message(timeout=10)
    assert not ix.is_ephemeral, card.content
    return ix, card


async def refused(
    h: BotHarness, user: FakeUser, command: str, options: dict[str, Any], **kwargs: Any
) -> str:
    """Run a command that should be refused; return the ephemeral text the user saw."""
    ix = await h.discord.slash(user, h.channel, command, options, **kwargs)
    return await ephemeral_answer(h, ix)


async def ephemeral_answer(h: BotHarness, ix: FakeInteraction, *, timeout: float = 10.0) -> str:
    """The last ephemeral message of an interaction (its refusal), once it exists."""
    await ix.initial_response()

    def answer() -> FakeMessage | None:
        messages = [m for m in [ix.original, *ix.followups] if m is not None and not m.deleted]
        found = [m for m in messages if m.ephemeral and m.content and not m.loading]
        return found[-1] if found else None

    message = await h.discord.wait_until(answer, timeout=timeout)
    return message.content


async def result_post(h: BotHarness, video_id: str, *, timeout: float = 20.0) -> FakeMessage:
    """Wait for the bot's post of a task's outcome (result or failure notice)."""
    marker = f"sora-bot · {video_id}"
    return await h.discord.wait_for_message(
        lambda m: (
            m.interaction_id is None
            and footer(m) == marker
            and m.author_id == h.discord.bot_user_id
        ),
        timeout=timeout,
    )


async def delivered(h: BotHarness, video_id: str) -> VideoTask:
    """The task at rest: its delivery recorded (the post comes a moment before) and its card
    edited to show the outcome (results go first, the card's last edit right after)."""

    async def recorded() -> VideoTask | None:
        task = await h.store.get(video_id)
        if task is None or task.delivery_state is not DeliveryState.DELIVERED:
            return None
        return task if task.card_settled else None

    return await h.wait_for(recorded, what=f"delivery of {video_id} to be recorded")


def posts_for(h: BotHarness, video_id: str) -> list[FakeMessage]:
    """Every non-interaction bot post carrying this task's marker."""
    marker = f"sora-bot · {video_id}"
    return [
        m
        for m in h.discord.channel_messages(h.channel)
        if m.interaction_id is None and footer(m) == marker
    ]
