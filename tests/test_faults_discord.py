"""Discord fault matrix, end to end: how a result post survives (or records) Discord's failures.

The real bot against both emulators, poller rounds driven on a manual clock (see
``tests/subprocess_bot.py``). For each fault: what the task records (delivery state, events),
what the author sees where Discord still lets the bot speak, and that retries stop for
permanent failures.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.core.clock import ManualClock
from bot.core.models import DeliveryState, TaskStatus
from bot.emulators.fake_discord import Permission
from bot.emulators.fake_discord.permissions import DEFAULT_BOT_PERMISSIONS
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import posts_for, submit, video_id_of
from tests.subprocess_bot import (
    POLLER,
    advance,
    assert_bot_alive,
    manual_harness,
    run_until,
    sora_on,
)
from tests.subprocess_bot import until_settled as settled

pytestmark = pytest.mark.asyncio

MESSAGES = r"^/channels/\d+/messages$"


def result_posts_attempted(h: BotHarness) -> int:
    """POSTs of channel messages the bot made (its results and notices; cards are interactions)."""
    return sum(
        1 for call in h.discord.rest_log if call.method == "POST" and re.match(MESSAGES, call.path)
    )


async def kinds(h: BotHarness, video_id: str) -> list[str]:
    return [e.kind for e in await h.store.events(video_id)]


# --- permanent failures: recorded, not retried, the author told where possible ------------------


def _revoke_send(h: BotHarness) -> None:
    h.discord.set_bot_permissions(h.channel, DEFAULT_BOT_PERMISSIONS & ~Permission.SEND_MESSAGES)


def _delete_channel(h: BotHarness) -> None:
    h.discord.delete_channel(h.channel)


def _remove_bot(h: BotHarness) -> None:
    h.discord.remove_bot_from_guild(h.guild)


def _forbid_posts(h: BotHarness) -> None:
    h.discord.inject(
        "POST", MESSAGES, 403, {"message": "Missing Permissions", "code": 50013}, times=100
    )


PERMANENT = [
    pytest.param(
        _revoke_send,
        "the bot lacks a permission in the channel",
        True,
        id="send-permission-revoked",
    ),
    pytest.param(
        _forbid_posts, "the bot lacks a permission in the channel", True, id="403-on-the-post"
    ),
    pytest.param(_delete_channel, "the channel no longer exists", False, id="channel-deleted"),
    pytest.param(_remove_bot, "the bot cannot see the channel", False, id="bot-removed-from-guild"),
]


@pytest.mark.parametrize(("break_discord", "reason", "card_tells"), PERMANENT)
async def test_permanent_post_failure_is_recorded_and_not_retried(
    tmp_path, break_discord, reason, card_tells
):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        video_id, card, _ = await sora_on(h, "a kite over the dunes")
        break_discord(h)

        await run_until(h, clock, settled(h, video_id))

        task = await h.store.get(video_id)
        assert task.status is TaskStatus.COMPLETED
        assert task.delivery_state is DeliveryState.UNDELIVERABLE
        assert task.delivery_error == reason and task.result_message_id is None
        failed = [e for e in await h.store.events(video_id) if e.kind == "delivery_failed"]
        assert [e.detail["reason"] for e in failed] == [reason]
        assert posts_for(h, video_id) == []
        attempts = result_posts_attempted(h)
        assert attempts == 1
        await advance(h, clock, 3600, step=60)
        assert result_posts_attempted(h) == attempts  # no retry of a permanent failure
        note = h.discord.get_message(card.id).content or ""
        if card_tells:
            assert note == f"⚠️ The video is ready but could not be posted here: {reason}."
        assert_bot_alive(h)


# --- transient failures: retried until posted exactly once ------------------------------------------


TRANSIENT = [
    pytest.param(429, 2, 1, id="429-rate-limited"),
    pytest.param(500, 1, 1, id="500-retried-by-discord.py"),
    pytest.param(503, 2, 3, id="503-retried-by-the-poller"),
    pytest.param(504, 1, 1, id="504-retried-by-discord.py"),
    pytest.param(503, 4, 5, id="503-four-times"),
]


@pytest.mark.parametrize(("status", "times", "attempts"), TRANSIENT)
async def test_transient_post_failure_is_retried_and_posted_once(tmp_path, status, times, attempts):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        video_id, card, _ = await sora_on(h, "a train at dusk")
        h.discord.inject("POST", MESSAGES, status, times=times)

        await run_until(h, clock, settled(h, video_id))

        task = await h.store.get(video_id)
        assert task.delivery_state is DeliveryState.DELIVERED
        assert task.delivery_attempts == attempts
        assert (await kinds(h, video_id)).count("delivery_retry") == attempts - 1
        [post] = posts_for(h, video_id)
        assert post.reply_to == card.id and post.attachments
        assert task.result_message_id == post.id
        refused = [
            c for c in h.discord.rest_log if c.status == status and re.match(MESSAGES, c.path)
        ]
        assert len(refused) == times


async def test_discord_down_longer_than_the_deadline_gives_up_and_says_so_on_the_card(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        video_id, card, _ = await sora_on(h, "an endless outage")
        h.discord.inject("POST", MESSAGES, 503, times=10_000)

        finished = clock()
        await run_until(h, clock, settled(h, video_id), step=300)

        task = await h.store.get(video_id)
        assert task.delivery_state is DeliveryState.UNDELIVERABLE
        waited = clock() - finished
        assert POLLER.delivery_deadline <= waited <= POLLER.delivery_deadline + timedelta(hours=1)
        attempts = task.delivery_attempts
        assert attempts > 100  # retried all along (backoff capped at 5 min), not 8 times
        reason = f"gave up after 24 h ({attempts} attempts): Discord error 503"
        assert task.delivery_error == reason
        assert h.discord.get_message(card.id).content == (
            f"⚠️ The video is ready but could not be posted here: {reason}."
        )
        attempts = result_posts_attempted(h)
        await advance(h, clock, 3600, step=60)
        assert result_posts_attempted(h) == attempts


# --- the reply target is gone -------------------------------------------------------------------


async def test_result_for_a_deleted_card_is_posted_without_the_reply(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        video_id, card, _ = await sora_on(h, "a card someone deletes")
        h.discord.delete_message(h.channel, card.id)

        await run_until(h, clock, settled(h, video_id))

        [post] = posts_for(h, video_id)
        assert post.reply_to is None and post.attachments
        assert post.content.startswith(f"<@{h.alice.id}> your video `{video_id}` is ready")
        assert post.mention_user_ids == [h.alice.id]
        task = await h.store.get(video_id)
        assert task.delivery_state is DeliveryState.DELIVERED and task.delivery_attempts == 1
        refused = [c for c in h.discord.rest_log if c.status == 400 and re.match(MESSAGES, c.path)]
        assert refused and refused[0].error["errors"]["message_reference"]


async def test_remix_of_a_deleted_result_links_the_parent_instead_of_replying(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        parent_id, parent_card, _ = await sora_on(h, "the original")
        await run_until(h, clock, settled(h, parent_id))
        [parent_post] = posts_for(h, parent_id)
        _, child_card = await submit(
            h, h.bob, "remix", {"video_id": parent_id, "prompt": "at night"}
        )
        child_id = video_id_of(child_card)
        h.discord.delete_message(h.channel, parent_post.id)

        await run_until(h, clock, settled(h, child_id))

        [post] = posts_for(h, child_id)
        assert post.reply_to is None and post.attachments
        link = f"https://discord.com/channels/{h.guild.id}/{h.channel.id}/{parent_card.id}"
        assert f"Remix of `{parent_id}`: {link}" in post.content
        assert post.mention_user_ids == [h.bob.id]


# --- the file is refused -----------------------------------------------------------------------------


async def test_attachment_refused_as_too_large_is_replaced_by_a_link(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock, video_url=True) as h:
        video_id, card, _ = await sora_on(h, "a very detailed scene")
        h.discord.inject(
            "POST", MESSAGES, 413, {"message": "Request entity too large", "code": 40005}
        )

        await run_until(h, clock, settled(h, video_id))

        task = await h.store.get(video_id)
        assert task.delivery_state is DeliveryState.DELIVERED and task.result_attached is False
        [post] = posts_for(h, video_id)
        assert post.reply_to == card.id and not post.attachments
        assert f"watch it at {task.result_url}" in post.content


# --- the gateway drops while videos render -------------------------------------------------------


@pytest.mark.parametrize("resume", [True, False], ids=["resumed", "new-session"])
async def test_gateway_disconnect_while_tasks_are_in_flight_loses_nothing(tmp_path, resume):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        videos = [await sora_on(h, f"in flight {n}") for n in range(3)]
        await advance(h, clock, 12, step=1)  # polling has started
        await h.discord.drop_gateway(resume=resume)
        stats = h.discord.gateway_stats
        assert stats["resume" if resume else "identify"] >= 1

        for video_id, card, _ in videos:
            await run_until(h, clock, settled(h, video_id))
            [post] = posts_for(h, video_id)
            assert post.reply_to == card.id and post.attachments
        assert h.upstream.count("create") == 3
        late_id, late_card, _ = await sora_on(h, "after the reconnect")  # commands still work
        await run_until(h, clock, settled(h, late_id))
        assert [p.reply_to for p in posts_for(h, late_id)] == [late_card.id]
        assert_bot_alive(h)


# --- lost answers, kept files, dead cards ------------------------------------------------------


async def test_a_post_whose_answer_was_lost_is_found_again_not_posted_twice(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        video_id, card, _ = await sora_on(h, "a lantern over the water")
        # The message is created, then the edge answers 503: the attempt may have posted,
        # so the next one looks in the channel first and finds it.
        h.discord.inject("POST", MESSAGES, 503, times=1, after_processing=True)

        await run_until(h, clock, settled(h, video_id))

        [post] = posts_for(h, video_id)
        task = await h.store.get(video_id)
        assert task.delivery_state is DeliveryState.DELIVERED
        assert task.result_message_id == post.id
        retry = [e for e in await h.store.events(video_id) if e.kind == "delivery_retry"]
        assert [e.detail["may_have_posted"] for e in retry] == [True]


async def test_the_video_is_downloaded_once_across_retries_and_removed_after_the_post(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        video_id, card, upstream_id = await sora_on(h, "a kite in a storm")
        h.discord.inject("POST", MESSAGES, 503, times=6)

        await run_until(h, clock, settled(h, video_id), step=5)

        task = await h.store.get(video_id)
        assert task.delivery_state is DeliveryState.DELIVERED and task.delivery_attempts >= 3
        downloads = [r for r in h.upstream.requests if r.op == "content"]
        assert len(downloads) == 1
        [post] = posts_for(h, video_id)
        assert post.attachments
        assert list(h.config.storage.media_dir.iterdir()) == []


async def test_a_deleted_card_is_marked_dead_and_never_edited_again(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        video_id, card, upstream_id = await sora_on(h, "[duration:200] a slow sunrise")
        h.discord.delete_message(h.channel, card.id)
        edits = r"^/(channels/\d+/messages/\d+|webhooks/\d+/[^/]+/messages/@original)$"

        await run_until(h, clock, settled(h, video_id), step=5)

        task = await h.store.get(video_id)
        assert task.card_dead_reason == "the card was deleted"
        tried = [c for c in h.discord.rest_log if c.method == "PATCH" and re.match(edits, c.path)]
        assert len([c for c in tried if c.status == 404]) == 1  # once, then never again
        assert "card_dead" in await kinds(h, video_id)
        [post] = posts_for(h, video_id)
        assert post.attachments and post.reply_to is None


@pytest.mark.slow  # a 90 s outage soak (14-20 s of discord.py reconnect back-off)
async def test_a_90_s_discord_outage_loses_nothing_and_posts_nothing_twice(tmp_path):
    clock = ManualClock()
    async with manual_harness(tmp_path, clock) as h:
        videos = [await sora_on(h, f"made during the outage, take {n}") for n in range(3)]
        h.discord.start_outage(status=503)  # REST 503 pages, the gateway dropped and refused
        await advance(h, clock, 90, step=5)  # the jobs finish; every post meets the outage
        outage_posts = [c for c in h.discord.rest_log if c.status == 503]
        h.discord.end_outage()

        for video_id, _, _ in videos:
            await run_until(h, clock, settled(h, video_id), step=5)
        for video_id, card, _ in videos:
            task = await h.store.get(video_id)
            assert task.delivery_state is DeliveryState.DELIVERED
            [post] = posts_for(h, video_id)
            assert post.reply_to == card.id and post.attachments
            assert task.result_message_id == post.id
        assert outage_posts  # the outage really was met
        assert h.upstream.count("create") == 3
