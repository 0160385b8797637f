"""End to end: the fair queue, the Cancel button and /queue, through the real bot and both emulators.

A member over ``max_concurrent_per_user`` gets a public card saying how many videos are
ahead, with a Cancel button; the video starts and is posted once by itself when a slot
frees. Cancel: the author or an admin; anyone else is refused privately and nothing
changes. /queue answers privately with the caller's jobs and limits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.config import Config, LimitsConfig
from bot.core.models import DeliveryState, TaskStatus
from bot.discord_ui.cancelling import NOT_YOURS
from bot.emulators.fake_discord import FakeMessage, FakeUser
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import delivered, ephemeral_answer, result_post, submit, video_id_of

pytestmark = pytest.mark.asyncio

ONE_AT_A_TIME = LimitsConfig(
    max_concurrent_per_user=1, daily_seconds_per_user=60, daily_budget=10.0
)


def one_at_a_time(config: Config) -> Config:
    return dataclasses.replace(config, limits=ONE_AT_A_TIME)


@pytest_asyncio.fixture
async def h(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with BotHarness(tmp_path, job_seconds=1.0, configure=one_at_a_time) as harness:
        yield harness
        assert harness.discord.contract_violations == []


def fields(message: FakeMessage) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0].get("fields", [])}


def labels(message: FakeMessage) -> list[str]:
    return [c["label"] for row in message.components for c in row["components"]]


async def sora(
    h: BotHarness, user: FakeUser, prompt: str, **options: Any
) -> tuple[str, FakeMessage]:
    _, card = await submit(h, user, "sora", {"prompt": prompt, **options})
    return video_id_of(card), card


async def press_cancel(h: BotHarness, user: FakeUser, card: FakeMessage, video_id: str) -> str:
    ix = await h.discord.click(user, card, f"sora:cancel:{video_id}")
    return await ephemeral_answer(h, ix)


def posts_for(h: BotHarness, video_id: str) -> list[FakeMessage]:
    marker = f"sora-bot · {video_id}"
    return [
        m
        for m in h.discord.channel_messages(h.channel, include_deleted=True)
        if m.author_id == h.discord.bot_user_id
        and m.interaction_id is None
        and m.embeds
        and (m.embeds[0].get("footer") or {}).get("text") == marker
    ]


async def test_a_busy_member_gets_a_waiting_card_and_the_video_later_exactly_once(h):
    first, _ = await sora(h, h.alice, "a heron at dawn")
    second, card = await sora(h, h.alice, "a heron at dusk")
    assert fields(card)["Status"] == "Waiting — 0 ahead of you"
    assert labels(card) == ["Lineage", "Details", "Cancel"]
    assert (await h.store.get(second)).status is TaskStatus.WAITING
    await result_post(h, first)
    second_post = await result_post(h, second)
    await delivered(h, second)
    assert second_post.content.startswith(f"<@{h.alice.id}> your video `{second}` is ready.")
    await h.discord.wait_until(lambda: fields(card).get("Status") == "Done")
    assert "Cancel" not in labels(card)
    assert [len(posts_for(h, v)) for v in (first, second)] == [1, 1]
    assert h.upstream.count("create") == 2


async def test_a_waiting_card_moves_up_when_the_video_ahead_starts(h):
    first, _ = await sora(h, h.alice, "a kite, first")
    second, _ = await sora(h, h.alice, "a kite, second")
    third, card = await sora(h, h.alice, "a kite, third")
    assert fields(card)["Status"] == "Waiting — 1 ahead of you"
    for video_id in (first, second, third):
        await result_post(h, video_id)
    await h.discord.wait_until(lambda: fields(card).get("Status") == "Done")
    shown = [
        f["value"]
        for revision in [*card.edits, card]
        for embed in revision.embeds
        for f in embed.get("fields", [])
        if f["name"] == "Status"
    ]
    assert shown.index("Waiting — 1 ahead of you") < shown.index("Waiting — 0 ahead of you")
    assert [len(posts_for(h, v)) for v in (first, second, third)] == [1, 1, 1]


async def test_cancel_is_for_the_author_or_an_admin_and_nothing_is_posted_after(h):
    slow, slow_card = await sora(h, h.alice, "[duration:600] a slow glacier")
    waiting, waiting_card = await sora(h, h.alice, "a quick glacier")
    assert fields(waiting_card)["Status"] == "Waiting — 0 ahead of you"

    assert await press_cancel(h, h.bob, slow_card, slow) == NOT_YOURS
    assert await press_cancel(h, h.bob, waiting_card, waiting) == NOT_YOURS
    assert (await h.store.get(slow)).status in (TaskStatus.QUEUED, TaskStatus.IN_PROGRESS)
    assert (await h.store.get(waiting)).status is TaskStatus.WAITING

    own = await press_cancel(h, h.alice, waiting_card, waiting)
    assert own.startswith(f"Cancelled `{waiting}`. Nothing more will be posted for it.")
    assert "nothing was sent to the video service" in own
    await h.discord.wait_until(lambda: fields(waiting_card).get("Status") == "Cancelled")
    assert "Cancel" not in labels(waiting_card)

    upstream_id = (await h.store.get(slow)).upstream_id
    by_admin = await press_cancel(h, h.admin, slow_card, slow)
    assert by_admin.startswith(f"Cancelled `{slow}`.") and "job was cancelled too" in by_admin
    await h.discord.wait_until(lambda: fields(slow_card).get("Status") == "Cancelled")
    deletes = [r.path for r in h.upstream.requests if r.method == "DELETE"]
    assert deletes == [f"/v1/videos/{upstream_id}"]
    events = await h.store.events(slow)
    assert [e.detail.get("by_user_id") for e in events if e.kind == "cancelled"] == [h.admin.id]

    assert "Cancel" not in labels(slow_card)
    ix = await h.discord.slash(h.admin, h.channel, "admin cancel", {"video_id": slow})
    again = await ephemeral_answer(h, ix)
    assert again == f"Video `{slow}` is already cancelled; nothing to cancel."

    barrier, _ = await sora(h, h.bob, "a barrier video")  # several rounds pass meanwhile
    await result_post(h, barrier)
    await delivered(h, barrier)
    assert posts_for(h, slow) == [] and posts_for(h, waiting) == []
    assert h.upstream.count("create") == 2, "the cancelled waiting video was never sent"
    for video_id in (slow, waiting):
        task = await h.store.get(video_id)
        assert task.status is TaskStatus.CANCELLED and task.delivery_state is DeliveryState.NONE


async def test_queue_shows_places_time_and_the_limits_left_privately(h):
    running, _ = await sora(h, h.alice, "[duration:600] a long tide", seconds=8)
    waiting, _ = await sora(h, h.alice, "a short tide", seconds=4)
    await sora(h, h.bob, "[duration:600] bob's tide")

    ix = await h.discord.slash(h.alice, h.channel, "queue", {})
    answer = await ix.original_message(timeout=10)
    assert ix.is_ephemeral and answer.visible_to == h.alice.id
    lines = answer.embeds[0]["description"].split("\n")
    assert lines[0].startswith(f"⏳ `{running}` Queued · ") or lines[0].startswith(
        f"🔄 `{running}` Generating"
    )
    assert lines[1] == r"> \[duration:600\] a long tide"
    assert lines[2].startswith(f"🕒 `{waiting}` Waiting — 0 ahead of you · ")
    assert "since asked" in lines[2] and "[card](" in lines[2]
    midnight = int(
        (datetime.now(UTC) + timedelta(days=1))
        .replace(hour=0, minute=0, second=0, microsecond=0)
        .timestamp()
    )
    shown = fields(answer)
    assert shown["Your seconds today"] == (f"48s left of 60s (12s used), resets <t:{midnight}:R>")
    assert (
        shown["Server budget today"]
        == f"$8.40 left of $10.00 ($1.60 estimated so far), resets <t:{midnight}:R>"
    )

    ix = await h.discord.slash(h.admin, h.channel, "queue", {})
    nothing = await ix.original_message(timeout=10)
    assert nothing.embeds[0]["description"] == (
        "You have no videos waiting or in progress in this server."
    )


async def test_the_server_limit_is_set_by_admins_and_waits_across_members(h):
    options = {"max_concurrent_server": 1, "max_concurrent": 0}
    ix = await h.discord.slash(h.admin, h.channel, "admin limits", options)
    shown = fields(await ix.original_message(timeout=10))
    assert shown["Videos in progress in the server"] == "1 (server setting)"
    limits = await h.store.get_limits(h.guild.id)
    assert limits is not None and limits.max_concurrent_per_guild == 1
    first, _ = await sora(h, h.alice, "one at a time")
    second, card = await sora(h, h.bob, "then me")
    assert fields(card)["Status"] == "Waiting — 0 ahead of you"
    await result_post(h, first)
    await result_post(h, second)
    assert [len(posts_for(h, v)) for v in (first, second)] == [1, 1]
