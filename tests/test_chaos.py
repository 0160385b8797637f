"""Crash-restart chaos: the real bot as a subprocess, SIGKILLed and restarted on the same DB.

The small run is part of the default suite; the 200-task run is ``-m slow`` (and
``python bench/chaos.py``). ``bench.chaos_world`` lists what is checked. The focused tests
below pin down the crash windows the chaos run found.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.chaos_world import ChaosRun, ProcessWorld
from bot.core.models import DeliveryState, TaskStatus
from bot.emulators.fake_discord import ManualClock
from tests.subprocess_bot import (
    command,
    outcome_post,
    outcome_posts,
    settled,
    sora,
    task_row,
    wait_for_row,
)

pytestmark = pytest.mark.asyncio

#: The crashed process's claim on a task runs out after this long (bot.polling.poller.LEASE_SECONDS).
AFTER_LEASE = 60.0


def _assert_clean(report) -> None:
    assert report.problems == [], "\n".join(report.lines())
    assert report.rows >= report.cards > 0
    assert report.statuses.get("completed", 0) > 0
    assert report.results_posted == report.statuses["completed"]


async def test_small_chaos_run_keeps_every_guarantee(tmp_path):
    async with ProcessWorld(tmp_path, job_seconds=1.0) as world:
        run = ChaosRun(world, tasks=20, kills=4, seed=7, mean_gap=0.35, settle_timeout=AFTER_LEASE)
        report = await run.run()
    print("\n".join(report.lines()))
    _assert_clean(report)
    assert report.kills == 4 and report.restarts >= 4
    assert report.kills_after_result_post >= 1


@pytest.mark.slow
async def test_full_chaos_run_keeps_every_guarantee(tmp_path):
    async with ProcessWorld(tmp_path, job_seconds=1.5) as world:
        run = ChaosRun(world, tasks=200, kills=12, seed=1, mean_gap=0.15)
        report = await run.run()
    print("\n".join(report.lines()))
    _assert_clean(report)
    assert report.tasks_requested == 200 and report.remixes > 0
    assert report.kills == 12 and report.kills_after_result_post >= 2


async def _crash_right_after_result_post(
    w: ProcessWorld, prompt: str, *, downtime: Callable[[], object] = lambda: None
) -> tuple[str, int]:
    """/sora, then SIGKILL the bot the moment its result post reaches Discord; restart.

    Returns the video id and its post. Retries (with a new video) when the kill came too late
    to catch the bot between the post and its bookkeeping.
    """
    for attempt in range(4):
        video_id, card = await sora(w, f"{prompt} (try {attempt})")
        for number in range(120):  # a busy channel between the card and the result
            w.discord.user_message(w.bob, w.channel, f"chatter {number}")
        post = await outcome_post(w, video_id)
        await w.kill_bot()
        downtime()
        row = await task_row(w, video_id)
        if row.delivery_state is DeliveryState.DELIVERING:
            # Read while the bot is down: once restarted it resumes the delivery at once and may
            # record the post it finds before any assertion could look.
            assert row.result_message_id is None
            await w.start_bot()
            return video_id, post.id
        await w.start_bot()
    raise AssertionError("the kill never landed between the post and its bookkeeping")


async def test_crash_between_a_post_and_its_record_neither_reposts_nor_misthreads(tmp_path):
    """SIGKILL right after a result post reached Discord, in a busy channel, ten minutes down.

    Discord's nonce no longer dedupes after that long, so the restarted bot must find its own
    post among the newer messages instead of posting again; and a remix made meanwhile must
    reply to that post (recorded by then or not), not to the parent's card.
    """
    clock = ManualClock()
    async with ProcessWorld(tmp_path, discord_clock=clock) as w:
        await w.start_bot()
        parent_id, parent_post = await _crash_right_after_result_post(
            w, "a parent", downtime=lambda: clock.advance(600)
        )

        child_id, _ = await command(w, "remix", {"video_id": parent_id, "prompt": "the remix"})
        child_post = await outcome_post(w, child_id)
        assert child_post.reply_to == parent_post
        child = await wait_for_row(w, child_id, settled)
        assert child.status is TaskStatus.COMPLETED and child.parent_id == parent_id

        parent = await wait_for_row(w, parent_id, settled, timeout=AFTER_LEASE)
        assert parent.delivery_state is DeliveryState.DELIVERED
        assert parent.result_message_id == parent_post
        assert [m.id for m in outcome_posts(w, parent_id)] == [parent_post]
        assert "found an earlier delivery" in w.bot.log_text()
