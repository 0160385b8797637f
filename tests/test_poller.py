"""The poller and submission service against the upstream emulator over real HTTP.

Real SQLite file, real httpx, one manual clock for the bot and the emulator; only the
Discord edge is a recording notifier.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.core import errors
from bot.core.models import DeliveryState, TaskStatus
from bot.emulators.fake_upstream import Fault
from bot.services.submission import GenerateOptions
from bot.storage.async_store import AsyncTaskStore
from tests.core_fixtures import ORIGIN, RecordingNotifier, core, core_config, make_poller
from tests.upstream_fixtures import wait_until

pytestmark = pytest.mark.asyncio


async def test_generate_polls_to_completion_and_delivers_once(tmp_path):
    async with core(tmp_path) as c:
        task = await c.service.generate(ORIGIN, "a paper boat", GenerateOptions(seconds=8))
        assert task.status is TaskStatus.QUEUED and task.upstream_id in c.upstream.jobs
        assert task.card_message_id == ORIGIN.card_message_id
        assert c.upstream.jobs[task.upstream_id].seconds == "8"

        async def delivered():
            return (await c.store.get(task.id)).delivery_state is DeliveryState.DELIVERED

        await c.run_until(delivered)
        done = await c.store.get(task.id)
        assert done.status is TaskStatus.COMPLETED and done.progress == 100
        [post] = c.notifier.posts
        assert post.attached and post.size == c.upstream.video_bytes
        assert done.result_message_id == post.message_id and done.result_attached is True
        seen_statuses = [status for _, status, _ in c.notifier.cards]
        assert TaskStatus.IN_PROGRESS in seen_statuses and seen_statuses[-1] is TaskStatus.COMPLETED

        polls = c.upstream.count("retrieve")
        for _ in range(5):
            await c.tick_after(30)
        assert len(c.notifier.posts) == 1
        assert c.upstream.count("retrieve") == polls
        assert not list((tmp_path / "media").iterdir())


async def test_poll_count_is_far_below_fixed_interval_polling(tmp_path):
    async with core(tmp_path, job_seconds=120) as c:
        task = await c.service.generate(ORIGIN, "slow render", GenerateOptions())

        async def done():
            return (await c.store.get(task.id)).status is TaskStatus.COMPLETED

        await c.run_until(done, step=1.0, limit=400)
        fixed_every_5s = 120 / 5
        assert c.upstream.count("retrieve", task.upstream_id) <= fixed_every_5s / 3


async def test_moderation_failure_is_reported_not_retried(tmp_path):
    async with core(tmp_path) as c:
        task = await c.service.generate(ORIGIN, "something [fault:moderation]", GenerateOptions())

        async def settled():
            return (await c.store.get(task.id)).delivery_state is DeliveryState.DELIVERED

        await c.run_until(settled)
        failed = await c.store.get(task.id)
        assert failed.status is TaskStatus.FAILED and failed.error_code == "moderation_blocked"
        assert "content policy" in failed.error_message
        [post] = c.notifier.posts
        assert post.status is TaskStatus.FAILED and not post.attached
        assert c.upstream.count("create") == 1


async def test_submit_time_refusal_fails_task_without_a_failure_post(tmp_path):
    async with core(tmp_path) as c:
        c.upstream.inject("create", Fault.MODERATION_SUBMIT)
        with pytest.raises(errors.ModerationBlocked):
            await c.service.generate(ORIGIN, "refused", GenerateOptions())
        [task] = await c.store.guild_history(ORIGIN.guild_id, limit=10)
        assert task.status is TaskStatus.FAILED and task.delivery_state is DeliveryState.NONE
        await c.tick_after(60)
        assert c.notifier.posts == []


async def test_task_older_than_max_age_fails_with_reason(tmp_path):
    async with core(tmp_path) as c:
        task = await c.service.generate(ORIGIN, "never ends [fault:stuck]", GenerateOptions())
        for _ in range(11):
            await c.tick_after(300)
            assert (await c.store.get(task.id)).status is TaskStatus.QUEUED
        for _ in range(2):
            await c.tick_after(300)
        failed = await c.store.get(task.id)
        assert failed.status is TaskStatus.FAILED and failed.error_code == "timed_out"
        assert "within 60 minutes" in failed.error_message
        assert c.notifier.posts[-1].status is TaskStatus.FAILED


async def test_rate_limit_backs_off_and_pauses_polling(tmp_path):
    async with core(tmp_path) as c:
        task = await c.service.generate(ORIGIN, "busy relay", GenerateOptions())
        c.upstream.inject("retrieve", Fault.RATE_LIMIT, retry_after=90, times=10)
        await c.tick_after(15)
        after_429 = await c.store.get(task.id)
        assert after_429.poll_failures == 1
        assert after_429.next_poll_at >= c.clock() + timedelta(seconds=90)
        requests = c.upstream.count("retrieve")
        for _ in range(8):
            await c.tick_after(10)
        assert c.upstream.count("retrieve") == requests
        c.upstream.clear_faults()

        async def done():
            return (await c.store.get(task.id)).status is TaskStatus.COMPLETED

        await c.run_until(done)


async def test_outage_backs_off_and_recovers_before_max_age(tmp_path):
    async with core(tmp_path) as c:
        task = await c.service.generate(ORIGIN, "outage", GenerateOptions())
        c.upstream.inject("retrieve", Fault.HTTP_503, times=1000)
        delays = []
        for _ in range(8):
            await c.tick_after(60)
            current = await c.store.get(task.id)
            delays.append((current.next_poll_at - c.clock()).total_seconds())
        assert current.status is TaskStatus.QUEUED and current.poll_failures >= 4
        assert max(delays) > min(delays)
        c.upstream.clear_faults()

        async def delivered():
            return (await c.store.get(task.id)).delivery_state is DeliveryState.DELIVERED

        await c.run_until(delivered, step=30)
        assert (await c.store.get(task.id)).status is TaskStatus.COMPLETED


async def test_one_bad_task_does_not_sink_the_tick(tmp_path):
    # Per-task retrieves: with list polling one page answers for both tasks, and the
    # fault below (on the bad task's retrieve) is never reached (tests/test_poller_list.py).
    async with core(tmp_path, poller_settings={"list_polling": False}) as c:
        good = await c.service.generate(ORIGIN, "good one", GenerateOptions())
        bad = await c.service.generate(ORIGIN, "bad one", GenerateOptions())
        c.upstream.inject("retrieve", Fault.MALFORMED, video_id=bad.upstream_id, times=100)

        async def good_done():
            return (await c.store.get(good.id)).delivery_state is DeliveryState.DELIVERED

        await c.run_until(good_done)
        assert (await c.store.get(bad.id)).status is TaskStatus.QUEUED
        assert (await c.store.get(bad.id)).poll_failures > 0


async def test_unknown_upstream_task_fails_after_repeated_not_found(tmp_path):
    async with core(tmp_path) as c:
        task = await c.service.generate(ORIGIN, "vanishes", GenerateOptions())
        del c.upstream.jobs[task.upstream_id]
        for _ in range(20):
            await c.tick_after(60)
        gone = await c.store.get(task.id)
        assert gone.status is TaskStatus.FAILED and gone.error_code == "not_found"


async def test_video_too_large_to_attach_is_delivered_without_file(tmp_path):
    async with core(tmp_path, video_bytes=50_000) as c:
        c.notifier.limit = 10_000
        task = await c.service.generate(ORIGIN, "huge", GenerateOptions())

        async def delivered():
            return (await c.store.get(task.id)).delivery_state is DeliveryState.DELIVERED

        await c.run_until(delivered)
        [post] = c.notifier.posts
        assert not post.attached
        assert (await c.store.get(task.id)).result_attached is False


async def test_transient_delivery_failure_is_retried_permanent_one_is_not(tmp_path):
    async with core(tmp_path) as c:
        flaky = await c.service.generate(ORIGIN, "flaky discord", GenerateOptions())
        c.notifier.failures = [errors.TransientDeliveryError("Discord error 503")] * 2

        async def delivered():
            return (await c.store.get(flaky.id)).delivery_state is DeliveryState.DELIVERED

        await c.run_until(delivered)
        assert len(c.notifier.posts) == 1 and (await c.store.get(flaky.id)).delivery_attempts == 3

        doomed = await c.service.generate(ORIGIN, "channel gone", GenerateOptions())
        c.notifier.failures = [errors.PermanentDeliveryError("the channel no longer exists")]

        async def undeliverable():
            return (await c.store.get(doomed.id)).delivery_state is DeliveryState.UNDELIVERABLE

        await c.run_until(undeliverable)
        for _ in range(5):
            await c.tick_after(120)
        assert c.notifier.posts_for(doomed.id) == []
        kinds = [e.kind for e in await c.store.events(doomed.id)]
        assert "delivery_failed" in kinds


async def test_crash_after_post_before_record_does_not_post_again(tmp_path):
    """A task left 'delivering' (the post may have gone out) is looked up before re-posting."""
    async with core(tmp_path) as c:
        task = await c.service.generate(ORIGIN, "crash window", GenerateOptions())

        async def completed():
            return (await c.store.get(task.id)).status is TaskStatus.COMPLETED

        c.notifier.failures = [errors.TransientDeliveryError("lost response")]
        await c.run_until(completed)
        await c.tick_after(1)
        stuck = await c.store.get(task.id)
        if stuck.delivery_state is DeliveryState.PENDING:
            await c.store.mark_delivering(task.id)
        c.notifier.earlier_posts[task.id] = 123456

        async def delivered():
            return (await c.store.get(task.id)).delivery_state is DeliveryState.DELIVERED

        await c.run_until(delivered, step=60)
        assert c.notifier.posts == [] and task.id in c.notifier.lookups
        assert (await c.store.get(task.id)).result_message_id == 123456


async def test_restart_resumes_every_task_from_the_database(tmp_path):
    async with core(tmp_path) as c:
        tasks = [
            await c.service.generate(ORIGIN, f"restart {i}", GenerateOptions()) for i in range(5)
        ]
        await c.tick_after(15)
        await c.store.close()

        reopened = await AsyncTaskStore.open(c.db_path, clock=c.clock)
        notifier = RecordingNotifier()
        poller = make_poller(reopened, c.client, notifier, c.clock, tmp_path / "media")
        c.store, c.poller = reopened, poller
        assert await reopened.active_count() == 5

        async def all_delivered():
            rows = [await reopened.get(t.id) for t in tasks]
            return all(r.delivery_state is DeliveryState.DELIVERED for r in rows)

        await c.run_until(all_delivered)
        assert sorted(p.task_id for p in notifier.posts) == sorted(t.id for t in tasks)
        assert c.upstream.count("create") == 5


async def test_interrupted_submission_is_failed_not_resent(tmp_path):
    async with core(tmp_path) as c:
        orphan = await c.store.create_task(
            guild_id=ORIGIN.guild_id,
            channel_id=ORIGIN.channel_id,
            user_id=ORIGIN.user_id,
            prompt="died mid-create",
            model="sora-2",
            seconds=4,
            size="1280x720",
        )
        assert await c.poller.recover() == 1
        failed = await c.store.get(orphan.id)
        assert failed.status is TaskStatus.FAILED and failed.error_code == "submission_interrupted"
        await c.tick_after(1)
        assert c.notifier.posts_for(orphan.id)[0].status is TaskStatus.FAILED
        assert c.upstream.count("create") == 0


async def test_create_timeout_is_not_resent_and_fails_the_task(tmp_path):
    async with core(tmp_path) as c:
        c.upstream.inject("create", Fault.HANG, seconds=5)
        with pytest.raises(errors.SubmissionUncertain):
            await c.service.generate(ORIGIN, "slow create", GenerateOptions())
        assert c.upstream.count("create") == 1
        [task] = await c.store.guild_history(ORIGIN.guild_id, limit=5)
        assert task.status is TaskStatus.FAILED


async def test_remix_inherits_parameters_and_records_lineage(tmp_path):
    async with core(tmp_path) as c:
        parent = await c.service.generate(
            ORIGIN, "a fox", GenerateOptions(seconds=12, size="720x1280", model="sora-2-pro")
        )
        with pytest.raises(errors.ParentNotReady):
            await c.service.remix(ORIGIN, parent.id, "a fox at night")

        async def done():
            return (await c.store.get(parent.id)).status is TaskStatus.COMPLETED

        await c.run_until(done)
        child = await c.service.remix(ORIGIN, parent.id.upper(), "a fox at night")
        assert (child.model, child.seconds, child.size) == ("sora-2-pro", 12, "720x1280")
        assert child.metadata == {
            "type": "remix",
            "remix_from": parent.id,
            "remix_from_external": (await c.store.get(parent.id)).upstream_id,
        }
        assert child.parent_id == parent.id and child.root_id == parent.id and child.depth == 1
        job = c.upstream.jobs[child.upstream_id]
        assert job.remixed_from == (await c.store.get(parent.id)).upstream_id


async def test_remix_of_another_guilds_video_looks_unknown(tmp_path):
    async with core(tmp_path) as c:
        parent = await c.service.generate(ORIGIN, "ours", GenerateOptions())
        other = ORIGIN.__class__(guild_id=999, channel_id=1, user_id=2)
        with pytest.raises(errors.NotFound) as foreign:
            await c.service.remix(other, parent.id, "theirs")
        with pytest.raises(errors.NotFound) as unknown:
            await c.service.remix(other, "zzzzzz", "theirs")
        assert foreign.value.user_message.replace(
            parent.id, "X"
        ) == unknown.value.user_message.replace("zzzzzz", "X")


async def test_quota_blocks_at_submission_and_resets_next_day(tmp_path):
    async with core(tmp_path, config=core_config(daily_seconds_per_user=8)) as c:
        await c.service.generate(ORIGIN, "first", GenerateOptions(seconds=8))
        with pytest.raises(errors.QuotaExceeded) as info:
            await c.service.generate(ORIGIN, "second", GenerateOptions(seconds=4))
        assert "daily limit is 8s" in info.value.user_message and "<t:" in info.value.user_message
        creates = c.upstream.count("create")
        c.clock.advance(24 * 3600)
        await c.service.generate(ORIGIN, "next day", GenerateOptions(seconds=4))
        assert c.upstream.count("create") == creates + 1


async def test_card_edits_are_throttled_and_only_on_change(tmp_path):
    async with core(tmp_path, job_seconds=300) as c:
        task = await c.service.generate(ORIGIN, "long render", GenerateOptions())

        async def done():
            return (await c.store.get(task.id)).status is TaskStatus.COMPLETED

        await c.run_until(done, step=1.0, limit=600)
        times = c.notifier.card_times
        gaps = [(b - a).total_seconds() for a, b in zip(times[:-2], times[1:-1], strict=True)]
        assert len(times) >= 3 and all(gap >= 5 for gap in gaps), gaps
        shown = [(status, progress) for _, status, progress in c.notifier.cards]
        assert len(shown) == len(set(shown)), "a card was edited without a visible change"
        assert shown[-1] == (TaskStatus.COMPLETED, 100)


async def test_cancel_during_an_in_flight_poll_keeps_the_task_cancelled(tmp_path):
    async with core(tmp_path) as c:
        task = await c.service.generate(ORIGIN, "cancel me mid-poll", GenerateOptions())
        c.upstream.inject("retrieve", Fault.HANG, seconds=0.5, video_id=task.upstream_id)
        c.clock.advance(15)
        tick = asyncio.create_task(c.poller.tick())
        await wait_until(lambda: c.upstream.count("retrieve", task.upstream_id) == 1)
        assert not tick.done(), "the poll is held by the hanging upstream"
        await c.store.cancel(task.id, by_user_id=ORIGIN.user_id)
        summary = await tick
        assert summary.polled == 1
        cancelled = await c.store.get(task.id)
        assert (
            cancelled.status is TaskStatus.CANCELLED
            and cancelled.delivery_state is DeliveryState.NONE
        )
        await c.tick_after(60)
        assert c.notifier.posts == []


async def test_concurrent_limit_counts_running_videos_and_batches(tmp_path):
    # With the queue off ([limits] queue = false) the concurrency limit refuses.
    config = core_config(max_concurrent_per_user=2, queue=False)
    async with core(tmp_path, config=config) as c:
        first = await c.service.generate(ORIGIN, "one", GenerateOptions())
        await c.service.generate(ORIGIN, "two", GenerateOptions())
        with pytest.raises(errors.QuotaExceeded) as info:
            await c.service.generate(ORIGIN, "three", GenerateOptions())
        assert info.value.user_message == (
            "You have 2 videos in progress (limit 2). Wait for one to finish."
        )
        assert c.upstream.count("create") == 2

        async def first_done():
            return (await c.store.get(first.id)).status is TaskStatus.COMPLETED

        await c.run_until(first_done)
        with pytest.raises(
            errors.QuotaExceeded,
            match="This would make 3 videos in progress; the limit is 2. Ask for fewer variants.",
        ):
            await c.service.check_remix(ORIGIN, first.id, "many", variants=3)


async def test_daily_budget_is_per_guild_and_names_the_reset(tmp_path):
    async with core(tmp_path, config=core_config(daily_budget=1.0)) as c:
        await c.service.generate(ORIGIN, "costly", GenerateOptions(seconds=8))
        with pytest.raises(errors.QuotaExceeded) as info:
            await c.service.generate(ORIGIN, "over budget", GenerateOptions(seconds=4))
        assert "daily budget of $1.00 is used up ($0.80 spent)" in info.value.user_message
        other = ORIGIN.__class__(guild_id=ORIGIN.guild_id + 1, channel_id=1, user_id=2)
        await c.service.generate(
            other, "other guild has its own budget", GenerateOptions(seconds=4)
        )


async def test_restart_releases_claims_left_by_a_crashed_process(tmp_path):
    async with core(tmp_path) as c:
        task = await c.service.generate(ORIGIN, "claimed when the bot died", GenerateOptions())
        c.clock.advance(15)
        [claimed] = await c.store.claim_due(c.clock(), limit=10, lease_seconds=30)
        assert claimed.id == task.id
        c.clock.advance(1)
        assert (await c.poller.tick()).polled == 0

        assert await c.poller.recover() == 0
        summary = await c.poller.tick()
        assert summary.polled == 1 and c.upstream.count("retrieve") == 1


async def test_restart_releases_a_delivery_lease_so_the_post_is_not_delayed(tmp_path):
    async with core(tmp_path) as c:
        task = await c.service.generate(ORIGIN, "finished just before the crash", GenerateOptions())
        c.upstream.finish(task.upstream_id)
        c.notifier.failures = [errors.TransientDeliveryError("Discord error 503")]
        await c.tick_after(15)
        waiting = await c.store.get(task.id)
        assert waiting.delivery_state is DeliveryState.DELIVERING  # the 503 may have posted
        assert waiting.next_delivery_at > c.clock()

        await c.poller.recover()
        await c.poller.tick()
        assert (await c.store.get(task.id)).delivery_state is DeliveryState.DELIVERED
        assert len(c.notifier.posts) == 1
