"""Upstream fault matrix, end to end: what the author sees in Discord when the Videos API misbehaves.

The real bot runs against both emulators with production poller timings on a manual clock
(shared with the Videos API emulator), so minutes of backoff take no real time: the test
advances the clock and runs poller rounds itself. Each row shows one outcome: retried and
recovered (the video is posted), or failed with the right message to the author. Polling backs
off, the bot stays up, and nothing is failed before its maximum age unless the error is
permanent. ``tests/test_poller.py`` covers the same faults at the core level.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.clock import ManualClock
from bot.core.models import DeliveryState, TaskStatus
from bot.delivery.deliverer import DOWNLOAD_ATTEMPTS
from bot.emulators.fake_upstream import Fault
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import ephemeral_answer, posts_for
from tests.subprocess_bot import (
    POLLER_MAX_AGE,
    advance,
    assert_bot_alive,
    card_status,
    manual_harness,
    poll_times,
    run_until,
    sora_on,
)
from tests.subprocess_bot import until_settled as settled

pytestmark = pytest.mark.asyncio

# --- polling faults that pass: retried, backed off, recovered --------------------------------

TRANSIENT_POLL_FAULTS = [
    pytest.param({"fault": Fault.RATE_LIMIT, "retry_after": 90}, 2, id="429-retry-after-90s"),
    pytest.param({"fault": Fault.HTTP_500}, 4, id="500"),
    pytest.param({"fault": Fault.HTTP_502}, 4, id="502-html-page"),
    pytest.param({"fault": Fault.HTTP_503, "empty": True}, 4, id="503-no-body"),
    pytest.param({"fault": Fault.HANG, "seconds": 2}, 4, id="timeout"),
    pytest.param({"fault": Fault.DROP}, 4, id="connection-dropped"),
    pytest.param({"fault": Fault.MALFORMED}, 4, id="malformed-json"),
    pytest.param(
        {
            "fault": Fault.HTTP_ERROR,
            "status": 500,
            "shape": "newapi",
            "code": "get_channel_failed",
            "message": "当前分组上游负载已饱和，请稍后再试",
        },
        4,
        id="new-api-error-shape",
    ),
]


@pytest.mark.parametrize(("fault", "times"), TRANSIENT_POLL_FAULTS)
async def test_transient_poll_fault_is_retried_with_backoff_and_the_video_is_posted(
    tmp_path, fault, times
):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        video_id, card, upstream_id = await sora_on(h, "a lighthouse in a storm")
        h.upstream.inject("retrieve", video_id=upstream_id, times=times, **fault)

        await run_until(h, clock, settled(h, video_id))

        task = await h.store.get(video_id)
        assert task.status is TaskStatus.COMPLETED and task.error_code is None
        [post] = posts_for(h, video_id)
        assert post.reply_to == card.id and post.attachments
        assert post.content.startswith(f"<@{h.alice.id}> your video `{video_id}` is ready")
        assert card_status(h, card.id) == "Done"
        failed_polls = [e for e in await h.store.events(video_id) if e.kind == "poll_error"]
        assert failed_polls, "the fault never reached the poller"
        times = poll_times(h, upstream_id)
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        failed_gaps = gaps[: len(failed_polls)]
        if fault["fault"] is Fault.RATE_LIMIT:
            assert min(failed_gaps) >= 90, gaps  # Retry-After is honoured
        elif len(failed_gaps) > 1:
            assert failed_gaps[1] > failed_gaps[0], gaps  # the wait grows with each failure
        assert_bot_alive(h)


# --- polling outcomes that end the task: the author is told why ------------------------------


async def _moderated(h: BotHarness) -> tuple[str, Any, str]:
    return await sora_on(h, "something forbidden [fault:moderation]")


async def _expired(h: BotHarness) -> tuple[str, Any, str]:
    video_id, card, upstream_id = await sora_on(h, "a slow sunset")
    h.upstream.inject("retrieve", Fault.EXPIRED, video_id=upstream_id)
    return video_id, card, upstream_id


async def _forgotten(h: BotHarness) -> tuple[str, Any, str]:
    video_id, card, upstream_id = await sora_on(h, "a vanishing act")
    del h.upstream.jobs[upstream_id]
    return video_id, card, upstream_id


async def _generation_failed(h: BotHarness) -> tuple[str, Any, str]:
    video_id, card, upstream_id = await sora_on(h, "an impossible shot")
    h.upstream.fail(upstream_id, message="The model could not render this scene.")
    return video_id, card, upstream_id


PERMANENT_POLL_OUTCOMES = [
    pytest.param(
        _moderated,
        {},
        "moderation_blocked",
        "The video service blocked this video under its content policy.",
        id="moderation",
    ),
    pytest.param(
        _expired,
        {},
        "expired",
        "The video expired at the video service before it could be fetched.",
        id="expired-status",
    ),
    pytest.param(
        _forgotten,
        {},
        "not_found",
        "The video service no longer knows this video.",
        id="unknown-task-id",
    ),
    pytest.param(
        _forgotten,
        {"relay": "newapi"},
        "not_found",
        "The video service no longer knows this video.",
        id="new-api-task-not-exist",
    ),
    pytest.param(
        _generation_failed,
        {},
        "generation_failed",
        "The video service could not make this video: The model could not render this scene.",
        id="job-failed-upstream",
    ),
]


@pytest.mark.parametrize(("scenario", "upstream", "code", "reason"), PERMANENT_POLL_OUTCOMES)
async def test_permanent_poll_outcome_fails_the_task_and_tells_the_author(
    tmp_path, scenario, upstream, code, reason
):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock, **upstream) as h:
        video_id, card, upstream_id = await scenario(h)

        await run_until(h, clock, settled(h, video_id))

        task = await h.store.get(video_id)
        assert task.status is TaskStatus.FAILED and task.error_code == code
        assert task.delivery_state is DeliveryState.DELIVERED
        [notice] = posts_for(h, video_id)
        assert notice.reply_to == card.id and not notice.attachments
        assert notice.content == f"<@{h.alice.id}> your video `{video_id}` failed. {reason}"
        assert notice.mention_user_ids == [h.alice.id]
        assert card_status(h, card.id) == f"Failed: {reason}"
        assert clock() - task.created_at < POLLER_MAX_AGE
        polls = h.upstream.count("retrieve", upstream_id)
        await advance(h, clock, 600, step=60)
        assert h.upstream.count("retrieve", upstream_id) == polls  # polling stopped
        assert len(posts_for(h, video_id)) == 1
        assert_bot_alive(h)


# --- faults while submitting: the one create is never sent twice --------------------------------

NOT_RESENT = "It was not re-sent, to avoid paying twice; please try again."
SUBMIT_FAULTS = [
    pytest.param(
        {"fault": Fault.HTTP_500},
        f"The video service failed (HTTP 500) and may still have started the video. {NOT_RESENT}",
        1,
        id="500",
    ),
    pytest.param(
        {"fault": Fault.HTTP_502},
        f"The video service failed (HTTP 502) and may still have started the video. {NOT_RESENT}",
        1,
        id="502",
    ),
    pytest.param(
        {"fault": Fault.HTTP_503, "empty": True},
        f"The video service failed (HTTP 503) and may still have started the video. {NOT_RESENT}",
        1,
        id="503",
    ),
    pytest.param(
        {"fault": Fault.HANG, "seconds": 2},
        f"The video service did not answer the request in time. {NOT_RESENT}",
        1,
        id="timeout",
    ),
    pytest.param(
        {"fault": Fault.DROP},
        f"The video service did not answer the request in time. {NOT_RESENT}",
        1,
        id="connection-dropped",
    ),
    pytest.param(
        {"fault": Fault.MALFORMED},
        "The video service sent an unreadable answer and may still have started the video. "
        + NOT_RESENT,
        1,
        id="malformed-json",
    ),
    pytest.param(
        {"fault": Fault.MODERATION_SUBMIT},
        "The video service blocked this request under its content policy.",
        1,
        id="moderation",
    ),
    pytest.param(
        {
            "fault": Fault.HTTP_ERROR,
            "status": 400,
            "shape": "newapi",
            "code": "model_not_found",
            "message": "model sora-2 is not available in this group",
        },
        "The video service rejected the request: model sora-2 is not available in this group",
        1,
        id="new-api-error-shape",
    ),
    pytest.param(
        {"fault": Fault.HTTP_ERROR, "status": 401, "message": "Incorrect API key provided."},
        "The bot's video service credentials were refused. An admin needs to check the configuration.",
        1,
        id="401-key-refused",
    ),
]


@pytest.mark.parametrize(("fault", "answer", "creates"), SUBMIT_FAULTS)
async def test_submit_fault_is_explained_privately_and_never_resent(
    tmp_path, fault, answer, creates
):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        h.upstream.inject("create", **fault)
        ix = await h.discord.slash(h.alice, h.channel, "sora", {"prompt": "a paper boat"})

        assert await ephemeral_answer(h, ix) == answer
        assert ix.original is not None and ix.original.deleted  # the public card was removed
        assert h.upstream.count("create") == creates
        [task] = await h.store.guild_history(h.guild.id, limit=10)
        assert task.status is TaskStatus.FAILED and task.delivery_state is DeliveryState.NONE
        await advance(h, clock, 120, step=10)
        assert h.upstream.count("create") == creates and posts_for(h, task.id) == []
        assert_bot_alive(h)


async def test_rate_limited_create_is_resent_after_retry_after_and_accepted(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        h.upstream.inject("create", Fault.RATE_LIMIT, retry_after=0.2)
        video_id, card, upstream_id = await sora_on(h, "a patient queue")

        assert h.upstream.count("create") == 2  # a 429 was refused, not processed: safe to resend
        assert len(h.upstream.jobs) == 1 and upstream_id in h.upstream.jobs
        await run_until(h, clock, settled(h, video_id))
        [post] = posts_for(h, video_id)
        assert post.reply_to == card.id and post.attachments


async def test_connection_refused_at_submit_is_retried_then_explained(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        at_start = len(h.upstream.requests)  # the dialect detection at start
        await h.upstream.stop()
        ix = await h.discord.slash(h.alice, h.channel, "sora", {"prompt": "nobody home"})

        answer = await ephemeral_answer(h, ix)
        assert answer == "The video service is unavailable right now. Please try again later."
        assert len(h.upstream.requests) == at_start
        [task] = await h.store.guild_history(h.guild.id, limit=10)
        assert task.status is TaskStatus.FAILED and task.delivery_state is DeliveryState.NONE
        assert_bot_alive(h)


# --- downloads ----------------------------------------------------------------------------------


async def test_download_cut_midway_is_retried_and_the_file_attached(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        video_id, card, upstream_id = await sora_on(h, "a waterfall")
        h.upstream.inject("content", Fault.DROP, video_id=upstream_id)

        await run_until(h, clock, settled(h, video_id))

        downloads = [r for r in h.upstream.requests if r.op == "content"]
        assert downloads[0].aborted and 0 < downloads[0].bytes_sent < h.upstream.video_bytes
        [post] = posts_for(h, video_id)
        [attachment] = post.attachments
        assert attachment.size == h.upstream.video_bytes and attachment.data[4:8] == b"ftyp"
        assert (await h.store.get(video_id)).result_attached is True


async def test_download_failing_every_time_posts_the_result_without_the_file(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock, video_url=True) as h:
        video_id, card, upstream_id = await sora_on(h, "a river [fault:drop]")

        await run_until(h, clock, settled(h, video_id), step=5)

        task = await h.store.get(video_id)
        assert (
            task.status is TaskStatus.COMPLETED and task.delivery_state is DeliveryState.DELIVERED
        )
        assert task.delivery_attempts == DOWNLOAD_ATTEMPTS
        [post] = posts_for(h, video_id)
        assert post.reply_to == card.id and not post.attachments
        assert task.result_url is not None and task.result_url in post.content
        assert post.content.startswith(f"<@{h.alice.id}> your video `{video_id}` is ready.")
        downloads = [r for r in h.upstream.requests if r.op == "content"]
        assert downloads and all(r.aborted for r in downloads)


# --- long outages and the maximum age ------------------------------------------------------------


async def test_ten_minute_outage_backs_off_fails_nothing_and_recovers(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        videos = [await sora_on(h, f"outage {n}") for n in range(3)]
        await h.upstream.stop()  # connection refused from now on
        await advance(h, clock, 600, step=5)

        for video_id, _, _ in videos:
            task = await h.store.get(video_id)
            assert task.status in (TaskStatus.QUEUED, TaskStatus.IN_PROGRESS), task
            assert task.poll_failures >= 3
        failed_polls = [
            [e.at for e in await h.store.events(v) if e.kind == "poll_error"] for v, _, _ in videos
        ]
        for times in failed_polls:
            gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
            assert gaps[-1] > 4 * gaps[0], gaps  # the wait grows towards the cap
            assert len(times) <= 8  # ten minutes cost a handful of polls, not hundreds
        assert_bot_alive(h)

        await h.upstream.start()  # same port, the jobs finished meanwhile
        for video_id, card, _ in videos:
            await run_until(h, clock, settled(h, video_id), step=5)
            [post] = posts_for(h, video_id)
            assert post.reply_to == card.id and post.attachments
            assert (await h.store.get(video_id)).status is TaskStatus.COMPLETED


async def test_a_video_never_finishing_fails_at_max_age_not_before(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        video_id, card, upstream_id = await sora_on(h, "forever rendering [fault:stuck]")
        await advance(h, clock, POLLER_MAX_AGE.total_seconds() - 60, step=30)
        assert (await h.store.get(video_id)).status is TaskStatus.QUEUED

        await run_until(h, clock, settled(h, video_id), step=30)

        task = await h.store.get(video_id)
        assert task.status is TaskStatus.FAILED and task.error_code == "timed_out"
        assert clock() - task.created_at >= POLLER_MAX_AGE
        [notice] = posts_for(h, video_id)
        assert notice.content == (
            f"<@{h.alice.id}> your video `{video_id}` failed. "
            "The video service did not finish this video within 60 minutes."
        )
        assert notice.reply_to == card.id
