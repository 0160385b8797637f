"""The fair queue across ``kill -9``: the real bot as a subprocess, SIGKILLed and restarted.

The queue is the ``waiting`` rows of the SQLite file, so a crash loses nothing: after the
restart every waiting video is started in its turn, sent to the upstream once, and posted
once.
"""

from __future__ import annotations

import dataclasses

import pytest

from bench.chaos_world import ProcessWorld
from bot.config import Config, LimitsConfig
from bot.core.models import DeliveryState, TaskStatus
from tests.subprocess_bot import outcome_posts, settled, sora, task_row, wait_for_row

pytestmark = pytest.mark.asyncio


def one_at_a_time(config: Config) -> Config:
    limits = LimitsConfig(max_concurrent_per_user=1, daily_seconds_per_user=0, daily_budget=0.0)
    return dataclasses.replace(config, limits=limits)


def status_of(card) -> str:
    return {f["name"]: f["value"] for f in card.embeds[0]["fields"]}["Status"]


async def test_waiting_videos_survive_kill_9_and_are_each_sent_and_posted_once(tmp_path):
    async with ProcessWorld(tmp_path / "world", configure=one_at_a_time) as w:
        await w.start_bot()
        first, _ = await sora(w, "[duration:8] the first lantern")
        second, second_card = await sora(w, "the second lantern")
        third, third_card = await sora(w, "the third lantern")
        assert status_of(second_card) == "Waiting — 0 ahead of you"
        assert status_of(third_card) == "Waiting — 1 ahead of you"

        await w.kill_bot()  # the first is still running: nothing is being sent right now
        assert (await task_row(w, second)).status is TaskStatus.WAITING
        assert (await task_row(w, third)).status is TaskStatus.WAITING
        assert w.upstream.count("create") == 1

        await w.start_bot()
        for video_id in (first, second, third):
            row = await wait_for_row(w, video_id, settled, timeout=60)
            assert row.status is TaskStatus.COMPLETED
            assert row.delivery_state is DeliveryState.DELIVERED
            assert len(outcome_posts(w, video_id)) == 1
        assert w.upstream.count("create") == 3
        prompts = [job.prompt for job in w.upstream.jobs.values()]
        assert prompts == [
            "[duration:8] the first lantern",
            "the second lantern",
            "the third lantern",
        ]
