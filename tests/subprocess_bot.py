"""Helpers for the reliability tests: the bot as a subprocess, and in-process on a manual clock.

Subprocess: ``python -m bot`` against emulators in the test's loop. The machinery lives in
``bench.chaos_world`` (the chaos bench uses it too); this module gives tests a fixture and a
few helpers::

    from tests.subprocess_bot import process_world as process_world

    async def test_x(process_world):
        w = process_world
        await w.start_bot()
        video_id, card = await sora(w, "a paper boat")
        post = await outcome_post(w, video_id)
        await w.kill_bot()

In process: ``manual_harness`` is ``BotHarness`` with production poller timings on a manual
clock shared with the Videos API emulator; ``run_until``/``advance`` move the clock and run
poller rounds, so minutes of backoff take no real time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest_asyncio

from bench.chaos_world import ProcessWorld, card_video_id, read_tasks, task_marker
from bot.config import PollerConfig
from bot.core.clock import ManualClock
from bot.core.models import DeliveryState, VideoTask
from bot.emulators.fake_discord import (
    FakeChannel,
    FakeDiscord,
    FakeInteraction,
    FakeMessage,
    FakeUser,
    InteractionType,
)
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import submit, video_id_of

__all__ = [
    "POLLER",
    "POLLER_MAX_AGE",
    "ProcessWorld",
    "advance",
    "assert_bot_alive",
    "card_status",
    "crafted_slash",
    "manual_harness",
    "poll_times",
    "run_until",
    "sora_on",
    "until_settled",
    "outcome_post",
    "outcome_posts",
    "process_world",
    "settled",
    "sora",
    "task_row",
    "wait_for_row",
]


@pytest_asyncio.fixture
async def process_world(tmp_path: Path) -> AsyncIterator[ProcessWorld]:
    """Emulators started, config written; call ``start_bot()`` to spawn the bot."""
    async with ProcessWorld(tmp_path / "world") as world:
        yield world
        assert world.discord.contract_violations == []


async def command(
    w: ProcessWorld, name: str, options: dict[str, Any], *, user: FakeUser | None = None
) -> tuple[str, FakeMessage]:
    """Run a command that should show a card; return our video id and the card."""
    ix = await w.discord.slash(user or w.alice, w.channel, name, options)
    card = await ix.original_message(timeout=15)
    video_id = card_video_id(card)
    assert video_id is not None, f"no card: {card.content!r}"
    return video_id, card


async def sora(w: ProcessWorld, prompt: str, **options: Any) -> tuple[str, FakeMessage]:
    """``/sora prompt`` as alice; our video id and the card."""
    return await command(w, "sora", {"prompt": prompt, **options})


def outcome_posts(w: ProcessWorld, video_id: str) -> list[FakeMessage]:
    """The bot's posts (result or failure notice) for one task, deleted ones included."""
    return [m for m in w.bot_posts() if task_marker(m) == video_id]


async def outcome_post(w: ProcessWorld, video_id: str, *, timeout: float = 20.0) -> FakeMessage:
    """Wait for the bot's first post about a task."""
    return await w.discord.wait_for_message(
        lambda m: (
            m.author_id == w.discord.bot_user_id
            and m.interaction_id is None
            and task_marker(m) == video_id
        ),
        timeout=timeout,
    )


async def task_row(w: ProcessWorld, video_id: str) -> VideoTask:
    """The task's current row, read from the database file."""
    rows = await asyncio.to_thread(read_tasks, w.db_path, w.guild.id)
    [row] = [t for t in rows if t.id == video_id]
    return row


async def wait_for_row(
    w: ProcessWorld,
    video_id: str,
    predicate: Any,
    *,
    timeout: float = 20.0,
) -> VideoTask:
    """Wait until the task's row satisfies ``predicate``."""
    deadline = time.monotonic() + timeout
    while True:
        row = await task_row(w, video_id)
        if predicate(row):
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"{video_id} never reached the expected state; last: {row}")
        await asyncio.sleep(0.1)


def settled(row: VideoTask) -> bool:
    """Terminal and owing no post."""
    return row.status.is_terminal and row.delivery_state in (
        DeliveryState.DELIVERED,
        DeliveryState.UNDELIVERABLE,
        DeliveryState.NONE,
    )


# --- in process, on a manual clock ----------------------------------------------------------

#: Production poller timings; rounds are driven by the test (the scheduler's interval is an hour).
POLLER = dataclasses.replace(PollerConfig(), tick_seconds=3600.0)
JOB_SECONDS = 20.0
POLLER_MAX_AGE = timedelta(minutes=POLLER.max_age_minutes)


def manual_harness(
    tmp_path: Path, clock: ManualClock, *, max_retries: int = 1, **upstream: Any
) -> BotHarness:
    """The real bot, production poller timings, one retry per upstream call, short timeouts."""

    def configure(config):
        up = dataclasses.replace(config.upstream, max_retries=max_retries, request_timeout=0.5)
        return dataclasses.replace(config, upstream=up, poller=POLLER)

    return BotHarness(
        tmp_path,
        clock=clock,
        job_seconds=JOB_SECONDS,
        upstream_options={"clock": lambda: clock().timestamp(), **upstream},
        configure=configure,
    )


async def run_until(
    h: BotHarness,
    clock: ManualClock,
    done: Callable[[], Awaitable[bool]],
    *,
    step: float = 1.0,
    limit: int = 4000,
) -> None:
    """Advance the clock ``step`` seconds and run a poller round until ``done()``."""
    for _ in range(limit):
        if await done():
            return
        clock.advance(step)
        await h.bot.poller.tick()
    raise AssertionError("the condition was not reached")


async def advance(h: BotHarness, clock: ManualClock, seconds: float, *, step: float) -> None:
    """Let ``seconds`` pass in ``step``-second rounds."""
    for _ in range(round(seconds / step)):
        clock.advance(step)
        await h.bot.poller.tick()


def until_settled(h: BotHarness, video_id: str) -> Callable[[], Awaitable[bool]]:
    """A ``run_until`` condition: the task is terminal and owes no post."""

    async def check() -> bool:
        return settled(await h.store.get(video_id))

    return check


async def sora_on(h: BotHarness, prompt: str) -> tuple[str, Any, str]:
    """/sora as alice; our id, the card, the upstream id."""
    _, card = await submit(h, h.alice, "sora", {"prompt": prompt})
    video_id = video_id_of(card)
    return video_id, card, (await h.store.get(video_id)).upstream_id


def poll_times(h: BotHarness, upstream_id: str) -> list[float]:
    """When each poll of one job started (retries inside one poll share the manual time)."""
    return sorted(
        {r.at for r in h.upstream.requests if r.op == "retrieve" and r.video_id == upstream_id}
    )


def assert_bot_alive(h: BotHarness) -> None:
    """The in-process bot is still running and connected."""
    assert h.discord.bot_connected and h._bot_task is not None and not h._bot_task.done()


def card_status(h: BotHarness, card_id: int) -> str:
    """The Status field of a card as it looks now."""
    return h.discord.get_message(card_id).embeds[0]["fields"][0]["value"]


async def crafted_slash(
    emu: FakeDiscord,
    user: FakeUser,
    channel: FakeChannel,
    command: str,
    options: dict[str, Any],
) -> FakeInteraction:
    """A slash command as a modified client (or a stale command registration) sends it.

    ``FakeDiscord.slash`` refuses what Discord's client refuses: values outside an option's
    choices, commands the member's permissions hide. The bot must not rely on either, so this
    builds the interaction ``data`` from the registered command without those checks. Plain
    string/number options only.
    """
    name, *path = command.split()
    definition = next(c for c in emu.registered_commands if c["name"] == name)
    definitions = definition.get("options") or []
    wrappers = []
    for part in path:
        sub = next(d for d in definitions if d["name"] == part)
        wrappers.append(sub)
        definitions = sub.get("options") or []
    types = {d["name"]: d["type"] for d in definitions}
    built = [{"name": k, "type": types[k], "value": v} for k, v in options.items()]
    for sub in reversed(wrappers):
        built = [{"name": sub["name"], "type": sub["type"], "options": built}]
    data = {"id": definition["id"], "name": name, "type": 1, "options": built}
    return await emu._interact(InteractionType.APPLICATION_COMMAND, user, channel, data)
