"""Graceful shutdown: SIGTERM to the real bot process while it polls and while it delivers.

The bot (``python -m bot``, a child process) must exit with status 0 without being killed,
finish the writes of the round in flight, leave every task resumable and the database
consistent (``PRAGMA integrity_check``); the next start finishes every task, each posted
exactly once.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from bench.chaos_world import ProcessWorld, integrity_check
from bot.core.models import DeliveryState, TaskStatus
from bot.emulators.fake_upstream import Fault
from tests.subprocess_bot import (
    outcome_post,
    outcome_posts,
    settled,
    sora,
    task_row,
    wait_for_row,
)
from tests.subprocess_bot import process_world as process_world

pytestmark = pytest.mark.asyncio

MESSAGES = r"^/channels/\d+/messages$"
POLLS = ("retrieve", "list")


async def _stop_gracefully(w: ProcessWorld) -> None:
    code = await w.bot.terminate(timeout=20)
    assert code == 0, w.bot.log_text()[-2000:]
    assert "stopped; database closed" in w.bot.log_text()
    assert await asyncio.to_thread(integrity_check, w.db_path) == "ok"


async def _finish_after_restart(w: ProcessWorld, videos: list[tuple[str, object]]) -> None:
    await w.start_bot()
    for video_id, card in videos:
        row = await wait_for_row(w, video_id, settled, timeout=30)
        assert row.status is TaskStatus.COMPLETED and row.delivery_state is DeliveryState.DELIVERED
        [post] = outcome_posts(w, video_id)
        assert post.reply_to == card.id and post.attachments and row.result_message_id == post.id
    assert w.upstream.count("create") == len(videos)
    await _stop_gracefully(w)


async def test_sigterm_while_polling_exits_cleanly_and_the_restart_finishes(process_world):
    w = process_world
    await w.start_bot()
    videos = [await sora(w, f"a slow render {n} [duration:4]") for n in range(3)]
    # A poll is a retrieve or, with several due at once, a list page (list polling).
    for poll in POLLS:
        w.upstream.inject(poll, Fault.HANG, seconds=1.5, times=3)
    await w.discord.wait_until(
        lambda: any(r.op in POLLS and not r.finished for r in w.upstream.requests), timeout=15
    )

    await _stop_gracefully(w)

    for video_id, _ in videos:
        row = await task_row(w, video_id)
        assert row.status in (TaskStatus.QUEUED, TaskStatus.IN_PROGRESS), row
        assert row.upstream_id in w.upstream.jobs
    assert all(r.finished for r in w.upstream.requests)  # the poll in flight was answered first
    await _finish_after_restart(w, videos)


async def test_sigterm_while_delivering_finishes_that_post_then_exits(process_world):
    w = process_world
    await w.start_bot()
    video_id, card = await sora(w, "delivered during shutdown")
    other = await sora(w, "still rendering at shutdown [duration:6]")
    rate_limited = {"message": "You are being rate limited.", "retry_after": 1.5, "global": False}
    w.discord.inject("POST", MESSAGES, 429, rate_limited)
    await w.discord.wait_until(
        lambda: any(c.status == 429 for c in w.discord.rest_log), timeout=15
    )  # the bot now waits out Discord's rate limit in the middle of the post

    await _stop_gracefully(w)

    row = await task_row(w, video_id)
    post = await outcome_post(w, video_id, timeout=1)
    assert row.delivery_state is DeliveryState.DELIVERED and row.result_message_id == post.id
    assert post.reply_to == card.id and post.attachments
    assert (await task_row(w, other[0])).status is not TaskStatus.FAILED
    await _finish_after_restart(w, [(video_id, card), other])


async def test_repeated_sigterm_and_restart_never_corrupts_or_duplicates(process_world):
    w = process_world
    videos = []
    for round_number in range(3):
        await w.start_bot()
        video_id, card = await sora(w, f"round {round_number} [duration:2]")
        videos.append((video_id, card))
        upstream_id = (await task_row(w, video_id)).upstream_id
        await w.discord.wait_until(
            lambda u=upstream_id: w.upstream.count("retrieve", u), timeout=10
        )
        await _stop_gracefully(w)
    await _finish_after_restart(w, videos)
    assert not [c for c in w.discord.rest_log if re.match(MESSAGES, c.path) and c.status >= 400]
