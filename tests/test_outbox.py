"""Card edits outside the poll round: per channel, latest state only, within a budget.

The real store, poller and Videos API emulator; ``RecordingNotifier`` stands in for
Discord and records every card edit and post in order.
"""

from __future__ import annotations

import dataclasses

import pytest

from bot.core.models import TaskStatus
from bot.services.submission import GenerateOptions
from tests.core_fixtures import ORIGIN, core

pytestmark = pytest.mark.asyncio

BUDGET = 30.0  # card edits per channel per minute (the default)
BURST = BUDGET / 12  # what the bucket holds: five seconds' worth
JOB = 100.0  # seconds a video takes: queued at first, in progress from the first poll (10 s)


async def videos(c, count: int, *, channel_offset: int = 0) -> list[str]:
    ids = []
    for n in range(count):
        origin = dataclasses.replace(
            ORIGIN, channel_id=ORIGIN.channel_id + channel_offset, card_message_id=9100 + n
        )
        task = await c.service.generate(origin, f"video {n}", GenerateOptions())
        ids.append(task.id)
    return ids


async def test_many_cards_in_one_channel_share_its_budget_instead_of_flooding_it(tmp_path):
    async with core(tmp_path, job_seconds=JOB) as c:
        await videos(c, 20)
        await c.tick_after(10)  # every one polled: queued -> in progress, every card owed
        assert len(c.notifier.cards) == int(BURST)
        assert c.poller.cards.depth == 20 - int(BURST)

        for _ in range(12):  # one minute in 5-s rounds
            await c.tick_after(5)
        edited = len(c.notifier.cards)
        assert edited <= BURST + BUDGET  # the burst, then the refill rate
        assert edited >= BUDGET / 2  # and it keeps going: nothing waits for long


async def test_a_card_that_waits_is_edited_once_with_its_latest_state(tmp_path):
    async with core(tmp_path, job_seconds=JOB) as c:
        ids = await videos(c, 12)
        for _ in range(30):  # 90 s: many progress changes per card
            await c.tick_after(3)
        for task_id in ids:
            shown = [(s, p) for t, s, p in c.notifier.cards if t == task_id]
            assert len(shown) == len(set(shown))  # never the same state twice
        task = await c.store.get(ids[-1])
        last = [(s, p) for t, s, p in c.notifier.cards if t == ids[-1]]
        assert not last or last[-1] == (task.card_status, task.card_progress)


async def test_channels_have_budgets_of_their_own(tmp_path):
    async with core(tmp_path, job_seconds=JOB) as c:
        busy = await videos(c, 10)
        quiet = await videos(c, 1, channel_offset=1)
        await c.tick_after(10)
        edited = {task_id for task_id, _, _ in c.notifier.cards}
        assert quiet[0] in edited  # not stuck behind the busy channel
        assert len(edited & set(busy)) == int(BURST)


async def test_results_are_posted_before_card_edits_and_finished_cards_go_first(tmp_path):
    async with core(tmp_path, job_seconds=JOB) as c:
        ids = await videos(c, 6)
        await c.tick_after(10)
        for task_id in ids[:3]:
            c.upstream.finish((await c.store.get(task_id)).upstream_id)
        for _ in range(40):
            edits_before = len(c.notifier.cards)
            await c.tick_after(5)
            if c.notifier.posts:
                break
        assert {p.task_id for p in c.notifier.posts} <= set(ids[:3]) and c.notifier.posts
        this_round = c.notifier.cards[edits_before:]
        finished = [e for e in this_round if e[1] is TaskStatus.COMPLETED]
        assert finished and this_round[: len(finished)] == finished  # finished cards first


async def test_cards_left_stale_by_a_restart_are_edited_after_it(tmp_path):
    async with core(tmp_path, job_seconds=JOB) as c:
        ids = await videos(c, 8)
        await c.tick_after(10)
        stale = c.poller.cards.depth
        assert stale > 0
        fresh = type(c.poller)(
            store=c.store,
            upstream=c.client,
            notifier=c.notifier,
            settings=c.poller.settings,
            media_dir=tmp_path / "media",
            policy=c.poller.policy,
            clock=c.clock,
        )
        await fresh.recover()
        assert fresh.cards.depth == stale  # found again in the task table
        for _ in range(12):
            c.clock.advance(5)
            await fresh.tick()
        tasks = [await c.store.get(t) for t in ids]
        assert all(task.card_settled for task in tasks)
