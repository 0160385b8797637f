"""The fair queue and cancel, through the real service, store, poller and the Videos API emulator.

Over ``max_concurrent_per_user`` or ``max_concurrent_per_guild`` a video waits (stored
``waiting``, nothing sent); the poll rounds start it when a slot frees, round robin per
member within a guild, and never twice. The daily limits still refuse, and they count a
waiting video from the moment it was accepted.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from bot.core import errors
from bot.core.errors import FailureCode
from bot.core.models import DeliveryState, EventKind, TaskStatus, VideoTask
from bot.core.poll_policy import PollPolicy
from bot.emulators.fake_upstream import Fault
from bot.services.admin import ActionRefused
from bot.services.cancel import UpstreamCancel, cancel_task
from bot.services.queue import QueueDispatcher, member_queue, queue_spots
from bot.services.quotas import effective_limits
from bot.services.submission import GenerateOptions, Origin, VideoService
from bot.storage.async_store import AsyncTaskStore
from tests.core_fixtures import CHANNEL, GUILD, ORIGIN, OTHER_GUILD, USER, Core, core, core_config

pytestmark = pytest.mark.asyncio

BOB = replace(ORIGIN, user_id=USER + 1, card_message_id=None)
ELSEWHERE = Origin(guild_id=OTHER_GUILD, channel_id=CHANNEL + 1, user_id=USER)


async def status(c: Core, task: VideoTask) -> TaskStatus:
    return (await c.store.get(task.id)).status


def created_prompts(c: Core) -> list[str]:
    """The prompts of the upstream jobs, in the order they were created."""
    return [job.prompt for job in c.upstream.jobs.values()]


async def generate_in_turn(c: Core, origin: Origin, prompts: list[str]) -> list[VideoTask]:
    """One video per prompt, a second apart (so their order is their creation order)."""
    tasks = []
    for prompt in prompts:
        tasks.append(await c.service.generate(origin, prompt, GenerateOptions()))
        c.clock.advance(1)
    return tasks


async def settle(c: Core, *tasks: VideoTask) -> None:
    """Run rounds until every task is terminal and owes no post."""

    async def done() -> bool:
        rows = [await c.store.get(t.id) for t in tasks]
        return all(
            r.status.is_terminal and r.delivery_state is not DeliveryState.PENDING for r in rows
        )

    await c.run_until(done)


async def test_over_the_member_limit_a_video_waits_then_starts_by_itself(tmp_path):
    async with core(tmp_path, config=core_config(max_concurrent_per_user=1)) as c:
        first = await c.service.generate(ORIGIN, "the first fox", GenerateOptions())
        second = await c.service.generate(ORIGIN, "the second fox", GenerateOptions())
        assert first.status is TaskStatus.QUEUED
        assert second.status is TaskStatus.WAITING and second.upstream_id is None
        assert second.card_message_id == ORIGIN.card_message_id
        assert c.upstream.count("create") == 1
        assert (await queue_spots(c.store, GUILD))[second.id].ahead == 0

        await c.tick_after(5)
        assert await status(c, second) is TaskStatus.WAITING, "the first is still running"
        await settle(c, first, second)
        assert created_prompts(c) == ["the first fox", "the second fox"]
        assert [p.task_id for p in c.notifier.posts] == [first.id, second.id]
        started = await c.store.get(second.id)
        assert started.status is TaskStatus.COMPLETED and started.started_at > started.created_at
        kinds = [e.kind for e in await c.store.events(second.id)]
        assert kinds[:3] == [EventKind.CREATED, EventKind.CARD_POSTED, EventKind.STATUS]
        assert kinds.count(EventKind.SUBMITTED) == 1


async def test_the_guild_limit_is_shared_round_robin_between_members(tmp_path):
    config = core_config(max_concurrent_per_guild=1)
    async with core(tmp_path, config=config, job_seconds=20.0) as c:
        alice = await generate_in_turn(c, ORIGIN, ["alice 1", "alice 2", "alice 3"])
        bob = await c.service.generate(BOB, "bob 1", GenerateOptions())
        assert [t.status for t in alice] == [TaskStatus.QUEUED, *[TaskStatus.WAITING] * 2]
        assert bob.status is TaskStatus.WAITING
        spots = await queue_spots(c.store, GUILD)
        # bob has had no turn yet: his first waits behind nobody, alice's second and third after
        assert [spots[t.id].ahead for t in (bob, alice[1], alice[2])] == [0, 1, 2]
        await settle(c, *alice, bob)
        assert created_prompts(c) == ["alice 1", "bob 1", "alice 2", "alice 3"]
        assert sorted(p.task_id for p in c.notifier.posts) == sorted(t.id for t in [*alice, bob])


async def test_a_member_who_came_back_gets_the_next_turn_before_a_busy_member(tmp_path):
    config = core_config(max_concurrent_per_guild=1)
    async with core(tmp_path, config=config, job_seconds=20.0) as c:
        bob_first = await c.service.generate(BOB, "bob 1", GenerateOptions())
        await settle(c, bob_first)
        a1, a2 = await generate_in_turn(c, ORIGIN, ["alice 1", "alice 2"])
        b2 = await c.service.generate(BOB, "bob 2", GenerateOptions())
        # both have one waiting; bob was served less recently than alice (a1 is running)
        spots = await queue_spots(c.store, GUILD)
        assert (spots[b2.id].ahead, spots[a2.id].ahead) == (0, 1)
        await settle(c, a1, a2, b2)
        assert created_prompts(c)[1:] == ["alice 1", "bob 2", "alice 2"]


async def test_the_queue_of_one_guild_never_holds_up_another(tmp_path):
    config = core_config(max_concurrent_per_guild=1)
    async with core(tmp_path, config=config) as c:
        await c.service.generate(ORIGIN, "busy guild", GenerateOptions())
        waiting = await c.service.generate(BOB, "waits", GenerateOptions())
        other = await c.service.generate(ELSEWHERE, "another guild", GenerateOptions())
        assert waiting.status is TaskStatus.WAITING
        assert other.status is TaskStatus.QUEUED
        assert await queue_spots(c.store, OTHER_GUILD) == {}
        assert list(await queue_spots(c.store, GUILD)) == [waiting.id]
        with pytest.raises(errors.NotFound):
            await c.service.find_video(OTHER_GUILD, waiting.id)


async def test_the_daily_seconds_still_refuse_and_count_waiting_videos(tmp_path):
    config = core_config(max_concurrent_per_user=1, daily_seconds_per_user=8)
    async with core(tmp_path, config=config) as c:
        await c.service.generate(ORIGIN, "runs", GenerateOptions(seconds=4))
        waiting = await c.service.generate(ORIGIN, "waits", GenerateOptions(seconds=4))
        assert waiting.status is TaskStatus.WAITING
        with pytest.raises(errors.QuotaExceeded) as refused:
            await c.service.generate(ORIGIN, "one too many", GenerateOptions(seconds=4))
        assert refused.value.user_message.startswith(
            "This would take you to 12s of video today; the daily limit is 8s. It resets <t:"
        )
        assert await c.store.count_history(GUILD) == 2


async def test_the_budget_is_reserved_by_waiting_videos(tmp_path):
    # sora-2 costs $0.10/s: two 4 s videos are $0.80 and fill a $0.80 budget.
    config = core_config(max_concurrent_per_user=1, daily_budget=0.8)
    async with core(tmp_path, config=config) as c:
        await c.service.generate(ORIGIN, "runs", GenerateOptions())
        await c.service.generate(ORIGIN, "waits", GenerateOptions())
        with pytest.raises(errors.QuotaExceeded, match=r"daily budget of \$0.80 is used up"):
            await c.service.generate(BOB, "over budget", GenerateOptions())
        report = await member_queue(c.service, GUILD, USER)
        assert report.budget_left == 0.0 and report.seconds_left is None


async def test_two_dispatchers_over_two_stores_start_each_waiting_video_once(tmp_path):
    config = core_config(max_concurrent_per_user=1)
    async with core(tmp_path, config=config) as c:
        c.poller.dispatch = None  # the two dispatchers below are the only ones
        first = await c.service.generate(ORIGIN, "runs", GenerateOptions())
        waiting = await generate_in_turn(c, ORIGIN, ["waits 1", "waits 2"])
        await settle(c, first)
        second_store = await AsyncTaskStore.open(c.db_path, clock=c.clock)
        try:
            other = VideoService(
                store=second_store,
                upstream=c.client,
                config=c.service.config,
                policy=PollPolicy(jitter=0),
                clock=c.clock,
            )
            results = await asyncio.gather(
                QueueDispatcher(c.service).dispatch(), QueueDispatcher(other).dispatch()
            )
        finally:
            await second_store.close()
        started = [t.id for batch in results for t in batch if t.status is not TaskStatus.WAITING]
        assert started == [waiting[0].id], "one slot: exactly one start, by one of them"
        assert c.upstream.count("create") == 2
        assert await status(c, waiting[1]) is TaskStatus.WAITING


async def test_a_crash_after_leaving_the_queue_fails_the_video_and_never_sends_it(tmp_path):
    async with core(tmp_path, config=core_config(max_concurrent_per_user=1)) as c:
        first = await c.service.generate(ORIGIN, "runs", GenerateOptions())
        waiting = await c.service.generate(ORIGIN, "waits", GenerateOptions())
        await c.store.cancel(first.id, by_user_id=USER)
        in_force = await effective_limits(c.store, GUILD, c.service.config.limits)
        taken = await c.store.start_waiting(waiting.id, limits=in_force)
        assert isinstance(taken, VideoTask) and taken.status is TaskStatus.SUBMITTING
        # the process dies here, before the create is sent; the next one starts with recover()
        assert await c.poller.recover() == 1
        failed = await c.store.get(waiting.id)
        assert failed.status is TaskStatus.FAILED
        assert failed.error_code == FailureCode.SUBMISSION_INTERRUPTED
        await c.tick_after(5)
        assert c.upstream.count("create") == 1


async def test_cancelling_a_waiting_video_sends_nothing_and_frees_its_quota(tmp_path):
    config = core_config(max_concurrent_per_user=1, daily_seconds_per_user=8)
    async with core(tmp_path, config=config) as c:
        first = await c.service.generate(ORIGIN, "runs", GenerateOptions(seconds=4))
        waiting = await c.service.generate(ORIGIN, "waits", GenerateOptions(seconds=4))
        outcome = await cancel_task(c.service, waiting, by_user_id=USER)
        assert outcome.upstream is UpstreamCancel.NOT_SENT
        assert outcome.task.status is TaskStatus.CANCELLED
        await settle(c, first)
        await c.tick_after(30)
        assert c.upstream.count("create") == 1
        assert [p.task_id for p in c.notifier.posts] == [first.id]
        again = await c.service.generate(ORIGIN, "fits again", GenerateOptions(seconds=4))
        assert again.status is TaskStatus.QUEUED
        with pytest.raises(ActionRefused, match="already cancelled"):
            await cancel_task(c.service, outcome.task, by_user_id=USER)


async def test_cancelling_a_running_video_deletes_the_upstream_job_and_posts_nothing(tmp_path):
    async with core(tmp_path, job_seconds=20.0) as c:
        task = await c.service.generate(ORIGIN, "stop me", GenerateOptions())
        await c.tick_after(5)
        outcome = await cancel_task(c.service, task, by_user_id=USER)
        assert outcome.upstream is UpstreamCancel.CANCELLED
        deletes = [r for r in c.upstream.requests if r.method == "DELETE"]
        assert [r.path for r in deletes] == [f"/v1/videos/{task.upstream_id}"]
        assert task.upstream_id not in c.upstream.jobs
        await c.tick_after(60)
        await c.tick_after(60)
        assert c.notifier.posts == []
        events = await c.store.events(task.id)
        assert events[-1].kind is EventKind.CANCELLED and events[-1].detail["by_user_id"] == USER


async def test_a_failed_upstream_cancel_still_cancels_here(tmp_path):
    async with core(tmp_path, job_seconds=20.0) as c:
        task = await c.service.generate(ORIGIN, "stop me", GenerateOptions())
        del c.upstream.jobs[task.upstream_id]  # the job is gone upstream: DELETE answers 404
        outcome = await cancel_task(c.service, task, by_user_id=USER)
        assert outcome.upstream is UpstreamCancel.FAILED
        assert outcome.task.status is TaskStatus.CANCELLED
        await c.tick_after(60)
        assert c.notifier.posts == []


async def test_a_video_that_waited_is_timed_out_from_its_start_not_its_creation(tmp_path):
    config = core_config(max_concurrent_per_user=1)
    async with core(tmp_path, config=config, job_seconds=20.0) as c:
        first = await c.service.generate(ORIGIN, "[duration:3000] a long one", GenerateOptions())
        waiting = await c.service.generate(ORIGIN, "waits long", GenerateOptions())
        c.clock.advance(c.poller.settings.max_age.total_seconds() + 60)
        await c.store.cancel(first.id, by_user_id=USER)
        await c.tick_after(1)
        started = await c.store.get(waiting.id)
        assert started.status in (TaskStatus.QUEUED, TaskStatus.IN_PROGRESS)
        await settle(c, waiting)
        assert (await c.store.get(waiting.id)).status is TaskStatus.COMPLETED


async def test_member_queue_reports_positions_elapsed_eta_and_the_limits_left(tmp_path):
    config = core_config(max_concurrent_per_user=1, daily_seconds_per_user=20, daily_budget=5.0)
    async with core(tmp_path, config=config, job_seconds=100.0) as c:
        running = await c.service.generate(ORIGIN, "runs", GenerateOptions(seconds=4))
        c.clock.advance(1)
        waiting = await c.service.generate(ORIGIN, "waits", GenerateOptions(seconds=8))
        await c.service.generate(BOB, "bob's", GenerateOptions(seconds=4))

        async def progressed() -> bool:
            row = await c.store.get(running.id)
            return row.status is TaskStatus.IN_PROGRESS and row.progress >= 20

        await c.run_until(progressed)
        report = await member_queue(c.service, GUILD, USER)
        assert [e.task.id for e in report.entries] == [running.id, waiting.id]
        now_running, now_waiting = report.entries
        assert now_waiting.ahead == 0 and now_running.ahead is None
        assert now_running.eta is not None and now_waiting.eta is None
        progress = (await c.store.get(running.id)).progress
        spent = now_running.elapsed.total_seconds()
        assert now_running.eta.total_seconds() == pytest.approx(spent * (100 - progress) / progress)
        assert report.seconds_left == 8 and report.seconds_used == 12
        assert report.budget_left == pytest.approx(5.0 - 1.6)
        assert report.resets_at.hour == 0 and report.resets_at > c.clock()


async def test_when_a_video_leaves_the_queue_the_cards_behind_it_show_their_new_place(tmp_path):
    async with core(tmp_path, config=core_config(max_concurrent_per_user=1)) as c:
        first, second, third = await generate_in_turn(c, ORIGIN, ["one", "two", "three"])
        assert (await queue_spots(c.store, GUILD))[third.id].ahead == 1
        await settle(c, first)
        await c.tick_after(c.poller.settings.card_edit_interval.total_seconds())
        assert (await status(c, second)) is not TaskStatus.WAITING
        assert (third.id, TaskStatus.WAITING, 0) in c.notifier.cards
        assert (await queue_spots(c.store, GUILD))[third.id].ahead == 0
        assert (await c.store.get(third.id)).card_settled


async def test_a_create_the_upstream_refuses_fails_that_video_and_the_rest_wait(tmp_path):
    async with core(tmp_path, config=core_config(max_concurrent_per_guild=2)) as c:
        running = await generate_in_turn(c, ORIGIN, ["one", "two"])
        refused, later = await generate_in_turn(c, BOB, ["three", "four"])
        c.upstream.inject("create", Fault.MODERATION_SUBMIT)
        await c.store.cancel(running[0].id, by_user_id=USER)
        await c.store.cancel(running[1].id, by_user_id=USER)
        await c.tick_after(1)
        failed = await c.store.get(refused.id)
        assert failed.status is TaskStatus.FAILED
        assert await status(c, later) is TaskStatus.WAITING, "no second create in that round"
        await c.tick_after(1)
        assert await status(c, later) is not TaskStatus.WAITING
        await settle(c, failed, later)
        assert [p.task_id for p in c.notifier.posts] == [refused.id, later.id]
        # the refused one's author is told in the channel, like any failure
        assert [p.status for p in c.notifier.posts] == [TaskStatus.FAILED, TaskStatus.COMPLETED]
