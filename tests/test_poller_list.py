"""List polling and the request budget, against the upstream emulator over real HTTP.

One ``GET /videos`` page answers for every due task on it; strangers' jobs on the page
are ignored; a failed list falls back to retrieves; a 429 in the middle of a round hands
the unpolled claims back (nothing lost, nothing polled twice); rounds are sized by the
budget, not by a fixed batch. One manual clock drives the bot and the emulator.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bot.core.models import TaskStatus
from bot.emulators.fake_upstream import Fault
from bot.emulators.upstream_rate_limit import RateLimit, RequestWindow
from bot.services.submission import GenerateOptions
from tests.core_fixtures import ORIGIN, Core, core

pytestmark = pytest.mark.asyncio


async def _submit(c: Core, count: int, prompt: str = "a lighthouse") -> list[str]:
    return [
        (await c.service.generate(ORIGIN, f"{prompt} {i}", GenerateOptions())).id
        for i in range(count)
    ]


async def _statuses(c: Core, task_ids: list[str]) -> list[TaskStatus]:
    return [(await c.store.get(task_id)).status for task_id in task_ids]


def _answered_retrieves(c: Core) -> Counter[str | None]:
    """Retrieves the emulator answered (not refused), per job id."""
    return Counter(
        r.video_id for r in c.upstream.requests if r.op == "retrieve" and r.status == 200
    )


async def test_one_list_page_answers_every_due_task_on_it(tmp_path):
    async with core(tmp_path) as c:
        ids = await _submit(c, 5)
        summary = await c.tick_after(10)
        assert summary.polled == 5
        assert c.upstream.count("list") == 1 and c.upstream.count("retrieve") == 0
        assert await _statuses(c, ids) == [TaskStatus.IN_PROGRESS] * 5


async def test_strangers_videos_on_a_page_are_ignored(tmp_path):
    async with core(tmp_path) as c:
        ids = await _submit(c, 3)
        # Another user of the same key makes videos; one of them finishes.
        strangers = [
            (await c.client.create(prompt=f"not ours {i}", seconds=4, size="1280x720")).id
            for i in range(4)
        ]
        c.upstream.finish(strangers[0])
        summary = await c.tick_after(10)
        assert c.upstream.count("list") == 1 and c.upstream.count("retrieve") == 0
        assert summary.polled == 3 and summary.errors == 0 and summary.completed == 0
        assert await _statuses(c, ids) == [TaskStatus.IN_PROGRESS] * 3
        assert await c.store.active_count() == 3
        assert [await c.store.get_by_upstream_id(s) for s in strangers] == [None] * 4


async def test_a_finished_job_on_a_page_completes_a_task_that_was_not_due(tmp_path):
    async with core(tmp_path) as c:
        due = await _submit(c, 2)
        c.clock.advance(3)
        [later] = await _submit(c, 1, "submitted later")
        task = await c.store.get(later)
        c.upstream.finish(task.upstream_id)
        summary = await c.tick_after(7)  # the first two are due, ``later`` only in 3 s
        assert summary.polled == 3 and summary.completed == 1
        assert (await c.store.get(later)).status is TaskStatus.COMPLETED
        assert c.upstream.count("retrieve") == 0 and c.upstream.count("list") == 1
        assert await _statuses(c, due) == [TaskStatus.IN_PROGRESS] * 2


async def test_a_failed_list_falls_back_to_retrieves_and_loses_no_task(tmp_path):
    async with core(tmp_path) as c:
        ids = await _submit(c, 4)
        c.upstream.inject("list", Fault.HTTP_500, times=100)
        summary = await c.tick_after(10)
        assert c.upstream.count("list") >= 1
        jobs = [(await c.store.get(i)).upstream_id for i in ids]
        assert _answered_retrieves(c) == Counter(jobs)
        assert summary.polled == 4 and await _statuses(c, ids) == [TaskStatus.IN_PROGRESS] * 4
        lists = c.upstream.count("list")
        await c.tick_after(30)  # list polling stays off for a while after a failure
        assert c.upstream.count("list") == lists and c.upstream.count("retrieve") == 8


async def test_a_429_mid_round_hands_back_unpolled_claims_and_polls_nothing_twice(tmp_path):
    settings = {"list_polling": False, "concurrency": 1, "max_requests_per_second": 100.0}
    async with core(tmp_path, poller_settings=settings) as c:
        ids = await _submit(c, 6)
        # From now on the relay admits 3 requests per 10 s.
        c.upstream.rate_window = RequestWindow(RateLimit(3, per_seconds=10), c.upstream.clock)
        c.clock.advance(10)
        summary = await c.poller.poll_tick()
        answered = _answered_retrieves(c)
        assert sum(answered.values()) == 3 and set(answered.values()) == {1}
        rows = [await c.store.get(i) for i in ids]
        untouched = [r for r in rows if r.upstream_id not in answered and r.poll_failures == 0]
        assert untouched and summary.polled == 6 - len(untouched)
        for row in untouched:  # handed back: due when requests may resume, not counted
            assert row.poll_count == 0 and row.status is TaskStatus.QUEUED
            assert c.clock() < row.next_poll_at <= c.clock() + timedelta(seconds=11)
        for _ in range(4):
            await c.tick_after(5)
        assert await _statuses(c, ids) == [TaskStatus.IN_PROGRESS] * 6
        assert max(_answered_retrieves(c).values()) == 1


async def test_a_no_list_dialect_polls_each_task_within_the_budget(tmp_path):
    settings = {"max_requests_per_second": 2.0}
    async with core(tmp_path, poller_settings=settings, relay="newapi") as c:
        c.client.assume_missing(frozenset({"list"}))  # what detection finds for new-api
        ids = await _submit(c, 5)
        first = await c.tick_after(10)
        assert first.polled == 2 and c.upstream.count("list") == 0
        for _ in range(3):
            await c.tick_after(2)
        assert await _statuses(c, ids) == [TaskStatus.IN_PROGRESS] * 5
        assert c.upstream.count("retrieve") == 5


async def test_a_round_takes_more_than_the_old_batch_when_the_budget_allows(tmp_path):
    settings = {"list_polling": False, "max_requests_per_second": 200.0}
    async with core(tmp_path, poller_settings=settings) as c:
        ids = await _submit(c, 120)
        summary = await c.tick_after(10)
        assert summary.polled == 120 > c.poller.settings.batch_size
        assert c.upstream.count("retrieve") == 120
        assert set(await _statuses(c, ids)) == {TaskStatus.IN_PROGRESS}
