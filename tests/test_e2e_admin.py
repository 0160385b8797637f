"""End to end: /admin through the real bot and both emulators.

The Discord emulator hides /admin from members without Manage Server (the
``default_member_permissions`` hint), like Discord's client. Server admins can grant a
command to anyone in Server Settings → Integrations; the emulator does not model those
overwrites, so ``grant_to_everyone`` clears the hint on the registered command, which is
what such a grant amounts to. The bot must then still refuse on its own.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio

from bot.core.clock import ManualClock
from bot.core.models import DeliveryState, TaskStatus
from bot.discord_ui.pagination import PageButton
from bot.discord_ui.render import jump_url
from bot.emulators.fake_discord import (
    CommandNotAvailable,
    FakeChannel,
    FakeInteraction,
    FakeMessage,
    FakeUser,
)
from bot.emulators.harness import BotHarness
from bot.services.admin import HistoryFilter
from tests.e2e_helpers import delivered

pytestmark = pytest.mark.asyncio

VIDEO_ID = re.compile(r"`([a-z0-9]{6,8})`")
REFUSAL = (
    "Only members with the **Manage Server** permission or the **Video Admin** role can use /admin."
)


@pytest_asyncio.fixture
async def h(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with BotHarness(tmp_path, job_seconds=1.0) as harness:
        yield harness
        assert harness.discord.contract_violations == []


# --- helpers -----------------------------------------------------------------------------------


def grant_to_everyone(h: BotHarness, name: str) -> None:
    """What a server admin's "allow @everyone" overwrite for /``name`` does to the hint."""
    commands = [c for c in h.discord.registered_commands if c["name"] == name]
    assert commands, name
    for command in commands:
        command["default_member_permissions"] = None


def footer(message: FakeMessage) -> str | None:
    return (message.embeds[0].get("footer") or {}).get("text") if message.embeds else None


async def make(
    h: BotHarness,
    user: FakeUser,
    options: dict[str, Any],
    *,
    command: str = "sora",
    channel: FakeChannel | None = None,
) -> tuple[str, FakeMessage]:
    """Submit a video; return its id and its card."""
    ix = await h.discord.slash(user, channel or h.channel, command, options)
    message = await ix.original_message(timeout=10)
    assert not ix.is_ephemeral, message.content
    return VIDEO_ID.search(message.embeds[0]["title"]).group(1), message


async def outcome_post(h: BotHarness, video_id: str, timeout: float = 20.0) -> FakeMessage:
    """The result or failure notice of a video (it has text; a retry's card has none)."""
    marker = f"sora-bot · {video_id}"
    post = await h.discord.wait_for_message(
        lambda m: m.interaction_id is None and footer(m) == marker and bool(m.content),
        timeout=timeout,
    )
    await delivered(h, video_id)
    return post


async def private(ix: FakeInteraction) -> FakeMessage:
    message = await ix.original_message(timeout=10)
    assert ix.is_ephemeral and message.ephemeral and message.visible_to == ix.user.id
    return message


async def ask(
    h: BotHarness, user: FakeUser, command: str, options: dict[str, Any] | None = None
) -> FakeMessage:
    return await private(await h.discord.slash(user, h.channel, command, options or {}))


async def status_of(h: BotHarness, video_id: str) -> TaskStatus:
    return (await h.store.get(video_id)).status


async def wait_status(h: BotHarness, video_id: str, status: TaskStatus) -> None:
    async def reached() -> bool:
        return await status_of(h, video_id) is status

    await h.wait_for(reached, what=f"{video_id} {status}")


def fields(message: FakeMessage, index: int = 0) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[index].get("fields", [])}


def button(message: FakeMessage, label: str) -> str:
    return next(
        c["custom_id"]
        for row in message.components
        for c in row["components"]
        if c["label"] == label
    )


# --- who may use /admin ------------------------------------------------------------------------


async def test_admin_is_refused_server_side_to_members_without_manage_server_or_the_role(h):
    running, _ = await make(h, h.alice, {"prompt": "[duration:600] a long take"})
    with pytest.raises(CommandNotAvailable):
        await h.discord.slash(h.bob, h.channel, "admin stats")

    grant_to_everyone(h, "admin")
    for command, options in (
        ("admin stats", {}),
        ("admin cancel", {"video_id": running}),
        ("admin limits", {"daily_seconds": 1}),
        ("admin export", {}),
        ("admin task", {"video_id": running}),
    ):
        assert (await ask(h, h.bob, command, options)).content == REFUSAL
    assert await status_of(h, running) in (TaskStatus.QUEUED, TaskStatus.IN_PROGRESS)
    assert await h.store.get_limits(h.guild.id) is None

    role = h.discord.add_role(h.guild, "Video Admin")
    carol = h.discord.add_member(h.guild, "carol", roles=[role])
    stats = await ask(h, carol, "admin stats")
    assert stats.embeds[0]["title"] == "Video stats"
    assert (await ask(h, h.admin, "admin stats")).embeds[0]["title"] == "Video stats"

    view = discord.ui.View(timeout=None)
    view.add_item(PageButton("adm", 0, HistoryFilter().to_token(), label="Next ▶"))
    sent = await h.bot.get_partial_messageable(h.channel.id).send("pages", view=view)
    page_message = h.discord.get_message(sent.id)
    custom_id = page_message.custom_ids()[0]
    refused = await private(await h.discord.click(h.bob, page_message, custom_id))
    assert refused.content == REFUSAL and page_message.embeds == []
    allowed = await h.discord.click(carol, page_message, custom_id)
    assert (await allowed.initial_response())["type"] == 7
    assert (
        footer(page_message) == "Page 1/1 · 1 videos"
        and f"`{running}`" in page_message.embeds[0]["description"]
    )


# --- history, task, export, stats --------------------------------------------------------------


async def test_admin_history_filters_by_member_channel_status_and_days_and_pages(h):
    studio = h.discord.add_channel(h.guild, "studio")
    for n in range(11):
        await make(h, h.alice, {"prompt": f"[duration:600] clip {n}"})
    bobs, _ = await make(h, h.bob, {"prompt": "[fault:moderation] studio take"}, channel=studio)
    await wait_status(h, bobs, TaskStatus.FAILED)

    everything = await ask(h, h.admin, "admin history")
    assert footer(everything) == "Page 1/2 · 12 videos"
    first_page = everything.embeds[0]["description"].splitlines()
    assert len(first_page) == 10 and f"`{bobs}`" in first_page[0]
    assert f" · bob in <#{studio.id}> · " in first_page[0] and "❌ failed" in first_page[0]
    await h.discord.click(h.admin, everything, button(everything, "Next ▶"))
    await h.discord.wait_until(lambda: footer(everything) == "Page 2/2 · 12 videos")
    assert len(everything.embeds[0]["description"].splitlines()) == 2
    assert "clip 0" in everything.embeds[0]["description"]

    by_bob = await ask(h, h.admin, "admin history", {"user": h.bob})
    assert footer(by_bob) == "Page 1/1 · 1 videos" and by_bob.components == []
    in_studio = await ask(h, h.admin, "admin history", {"channel": studio})
    assert footer(in_studio) == "Page 1/1 · 1 videos"
    in_videos = await ask(h, h.admin, "admin history", {"channel": h.channel, "status": "queued"})
    assert footer(in_videos) == "Page 1/2 · 11 videos"
    failed = await ask(h, h.admin, "admin history", {"status": "failed"})
    assert footer(failed) == "Page 1/1 · 1 videos"

    today = datetime.now(UTC).date()
    window = await ask(h, h.admin, "admin history", {"since": str(today), "until": str(today)})
    assert footer(window) == "Page 1/2 · 12 videos"
    before = await ask(h, h.admin, "admin history", {"until": str(today - timedelta(days=1))})
    assert before.embeds[0]["description"] == "No videos match."
    bad = await ask(h, h.admin, "admin history", {"since": "last week"})
    assert bad.content == "`last week` is not a date. Use YYYY-MM-DD, e.g. 2025-01-31."


async def test_admin_task_shows_upstream_id_timings_polls_errors_and_the_audit_trail(h):
    done, _ = await make(h, h.alice, {"prompt": "a glass of water"})
    post = await outcome_post(h, done)
    task = await h.store.get(done)
    answer = await ask(h, h.admin, "admin task", {"video_id": done})
    info, trail = fields(answer), answer.embeds[1]
    assert answer.embeds[0]["title"] == f"Task `{done}`"
    assert info["Upstream id"] == f"`{task.upstream_id}`"
    assert info["Polls"].startswith(f"{task.poll_count} (0 failing")
    assert task.poll_count >= 1
    assert info["Delivery"] == "delivered, 1 attempts"
    assert jump_url(h.guild.id, h.channel.id, post.id) in info["Messages"]
    assert all(
        f"{stage} <t:" in info["Timings"]
        for stage in ("created", "submitted", "finished", "delivered")
    )
    kinds = [line.split()[1] for line in trail["description"].strip("`\n").splitlines()]
    assert kinds[:3] == ["created", "card_posted", "submitted"] and kinds[-1] == "delivered"
    assert "completed" in kinds

    broken, _ = await make(h, h.alice, {"prompt": "[fault:moderation] a bad idea"})
    await wait_status(h, broken, TaskStatus.FAILED)
    failed = fields(await ask(h, h.admin, "admin task", {"video_id": broken}))
    assert failed["Error"].startswith("`moderation_blocked`")


async def test_admin_export_has_prompts_authors_parents_costs_and_links_as_csv_and_jsonl(h):
    root, _ = await make(h, h.alice, {"prompt": "=cmd|' /C calc'!A0 a spreadsheet trap"})
    root_post = await outcome_post(h, root)
    remix, remix_card = await make(
        h, h.bob, {"video_id": root, "prompt": "a calmer picture"}, command="remix"
    )
    remix_post = await outcome_post(h, remix)

    answer = await ask(h, h.admin, "admin export")
    assert answer.content == "2 videos exported."
    [file] = answer.attachments
    assert file.filename.endswith(".csv") and file.filename.startswith(f"sora-videos-{h.guild.id}-")
    rows = list(csv.DictReader(io.StringIO(file.data.decode())))
    assert [r["id"] for r in rows] == [remix, root]
    newest, oldest = rows
    assert newest["prompt"] == "a calmer picture" and newest["user_id"] == str(h.bob.id)
    assert newest["parent_id"] == root and newest["root_id"] == root and newest["depth"] == "1"
    assert newest["status"] == "completed" and newest["seconds"] == "4"
    assert newest["estimated_cost"] == "0.4" and newest["model"] == "sora-2"
    assert newest["result_link"] == jump_url(h.guild.id, h.channel.id, remix_post.id)
    assert newest["card_link"] == jump_url(h.guild.id, h.channel.id, remix_card.id)
    assert oldest["prompt"] == "'=cmd|' /C calc'!A0 a spreadsheet trap"
    assert oldest["user_id"] == str(h.alice.id) and oldest["parent_id"] == ""
    assert oldest["result_link"] == jump_url(h.guild.id, h.channel.id, root_post.id)

    jsonl = await ask(h, h.admin, "admin export", {"format": "jsonl", "user": h.alice})
    [record] = [json.loads(line) for line in jsonl.attachments[0].data.decode().splitlines()]
    assert record["id"] == root and record["prompt"].startswith("=cmd|")
    assert record["estimated_cost"] == 0.4 and record["parent_id"] is None
    nothing = await ask(h, h.admin, "admin export", {"status": "cancelled"})
    assert nothing.attachments == [] and "No videos match" in nothing.content


async def test_admin_stats_add_up_counts_seconds_and_estimated_costs(h):
    a, _ = await make(h, h.alice, {"prompt": "a", "seconds": 4})
    b, _ = await make(h, h.alice, {"prompt": "b", "seconds": 8})
    c, _ = await make(h, h.bob, {"prompt": "c", "seconds": 4, "model": "sora-2-pro"})
    e, _ = await make(h, h.alice, {"prompt": "[fault:moderation] e"})
    f, _ = await make(h, h.alice, {"prompt": "[duration:600] f"})
    await outcome_post(h, a)
    d, _ = await make(h, h.bob, {"video_id": a, "prompt": "d"}, command="remix")
    await ask(h, h.admin, "admin cancel", {"video_id": f})
    for video_id in (b, c, d, e):
        await outcome_post(h, video_id)

    stats = await ask(h, h.admin, "admin stats")
    embed, by = stats.embeds[0], fields(stats)
    assert (
        embed["description"] == "All time\n**6** videos · **20s** generated · **$3.20** estimated"
    )
    assert sorted(by["By status"].splitlines()) == ["cancelled: 1", "completed: 4", "failed: 1"]
    assert by["By model"].splitlines() == ["sora-2: 5 · 16s · $2.00", "sora-2-pro: 1 · 4s · $1.20"]
    assert by["By user"].splitlines() == [
        "alice: 4 · 12s · $1.60",
        "bob: 2 · 8s · $1.60",
    ]
    today = datetime.now(UTC).date()
    assert by["By day"] == f"{today}: 6 · 20s · $3.20"
    assert by["Top chains"].endswith(
        f"`{a}`]({jump_url(h.guild.id, h.channel.id, (await h.store.get(a)).result_message_id)}): 2 videos, depth 1"
    )

    tomorrow = str(today + timedelta(days=1))
    later = await ask(h, h.admin, "admin stats", {"since": tomorrow})
    assert later.embeds[0]["description"].startswith(f"{tomorrow} to now (UTC days, both included)")
    assert "**0** videos" in later.embeds[0]["description"] and fields(later)["Top chains"] == "—"
    day = await ask(h, h.admin, "admin stats", {"since": str(today), "until": str(today)})
    assert day.embeds[0]["description"].startswith(f"{today} to {today} (UTC")
    assert "**6** videos" in day.embeds[0]["description"]


# --- cancel and retry --------------------------------------------------------------------------


async def test_admin_cancel_stops_polling_edits_the_card_and_posts_nothing(h):
    slow, card = await make(h, h.alice, {"prompt": "[duration:600] a slow sunrise"})

    async def polled() -> bool:
        return (await h.store.get(slow)).poll_count >= 1

    await h.wait_for(polled, what="a first poll")
    answer = await ask(h, h.admin, "admin cancel", {"video_id": slow})
    assert answer.content.startswith(f"Cancelled `{slow}`. It is no longer polled")
    task = await h.store.get(slow)
    assert task.status is TaskStatus.CANCELLED and task.delivery_state is DeliveryState.NONE
    events = await h.store.events(slow)
    assert events[-1].kind == "cancelled" and events[-1].detail["by_user_id"] == h.admin.id
    await h.discord.wait_until(lambda: fields(card).get("Status") == "Cancelled")
    retrieves = h.upstream.count("retrieve", task.upstream_id)

    barrier, _ = await make(h, h.bob, {"prompt": "a quick one"})
    await outcome_post(h, barrier)  # several poll rounds ran meanwhile
    assert h.upstream.count("retrieve", task.upstream_id) == retrieves
    assert [
        m
        for m in h.discord.channel_messages(h.channel)
        if footer(m) == f"sora-bot · {slow}" and m.id != card.id
    ] == []

    again = await ask(h, h.admin, "admin cancel", {"video_id": slow})
    assert again.content == f"Video `{slow}` is already cancelled; nothing to cancel."
    done = await ask(h, h.admin, "admin cancel", {"video_id": barrier})
    assert done.content == f"Video `{barrier}` is already completed; nothing to cancel."


async def test_admin_retry_turns_a_failed_video_into_a_linked_new_one_that_completes(h):
    h.upstream.inject("create", "moderation")  # this job ends failed; later ones are fine
    kite, _ = await make(
        h, h.alice, {"prompt": "a kite over the dunes", "seconds": 8, "size": "720x1280"}
    )
    notice = await outcome_post(h, kite)
    assert "failed" in notice.content

    answer = await ask(h, h.admin, "admin retry", {"video_id": kite})
    new_id = VIDEO_ID.findall(answer.content)[1]
    assert answer.content.startswith(f"Retrying `{kite}` as `{new_id}`")
    new = await h.store.get(new_id)
    old = await h.store.get(kite)
    assert new.metadata["retry_of"] == kite and new.metadata["retried_by"] == h.admin.id
    assert (new.prompt, new.model, new.seconds, new.size) == (
        old.prompt,
        old.model,
        old.seconds,
        old.size,
    )
    assert (new.user_id, new.channel_id) == (h.alice.id, h.channel.id)
    card = h.discord.get_message(new.card_message_id)
    assert card.interaction_id is None and card.embeds[0]["title"] == f"Video `{new_id}`"
    assert card.custom_ids() == [
        f"sora:lineage:{new_id}",
        f"sora:details:{new_id}",
        f"sora:cancel:{new_id}",  # the card of a running video offers Cancel (issue 15)
    ]
    assert jump_url(h.guild.id, h.channel.id, card.id) in answer.content
    result = await outcome_post(h, new_id)
    assert result.reply_to == card.id and result.attachments
    assert await status_of(h, new_id) is TaskStatus.COMPLETED

    again = await ask(h, h.admin, "admin retry", {"video_id": kite})
    assert again.content == f"Video `{kite}` was already retried as `{new_id}` (completed)."
    not_failed = await ask(h, h.admin, "admin retry", {"video_id": new_id})
    assert (
        not_failed.content == f"Video `{new_id}` is completed; only a failed video can be retried."
    )
    detail = fields(await ask(h, h.admin, "admin task", {"video_id": kite}))
    assert detail["Retried as"] == f"`{new_id}` (completed)"


# --- limits and quotas -------------------------------------------------------------------------


async def test_admin_limits_view_set_and_banned_words_are_checked_before_submission(h):
    shown = fields(await ask(h, h.admin, "admin limits"))
    assert shown["Videos in progress per member"] == "unlimited (default)"
    assert shown["Banned words (default)"] == "none"

    changed = await ask(h, h.admin, "admin limits", {"max_concurrent": 1, "ban_word": "Kraken"})
    assert changed.embeds[0]["title"] == "Limits updated"
    assert fields(changed)["Videos in progress per member"] == "1 (server setting)"
    assert fields(changed)["Banned words (server setting)"] == "`Kraken`"

    refused = await ask(h, h.alice, "sora", {"prompt": "a kraken rising"})
    assert refused.content == "The prompt contains a word this server does not allow: `Kraken`."
    await make(h, h.alice, {"prompt": "[duration:600] a calm sea"})
    # over the limit a video waits (issue 15: a fair queue instead of refusals)
    _, busy = await make(h, h.alice, {"prompt": "another sea"})
    assert fields(busy)["Status"] == "Waiting — 0 ahead of you"
    assert await h.store.count_history(h.guild.id) == 2
    assert h.upstream.count("create") == 1

    await ask(h, h.admin, "admin limits", {"unban_word": "kraken", "max_concurrent": 0})
    await make(h, h.alice, {"prompt": "a kraken rising"})
    unknown = await ask(h, h.admin, "admin limits", {"unban_word": "squid"})
    assert unknown.content == "`squid` is not on the banned list."


async def test_daily_quota_blocks_survives_a_restart_and_resets_at_utc_midnight(tmp_path):
    clock = ManualClock(datetime(2025, 3, 1, 23, 0, tzinfo=UTC))
    async with BotHarness(tmp_path, job_seconds=1.0, clock=clock) as h:
        await ask(h, h.admin, "admin limits", {"daily_seconds": 8})
        await make(h, h.alice, {"prompt": "first", "seconds": 4})
        clock.advance(1800)
        await make(h, h.alice, {"prompt": "second", "seconds": 4})
        await h.restart()

        clock.set(datetime(2025, 3, 1, 23, 59, 59, tzinfo=UTC))
        midnight = int(datetime(2025, 3, 2, tzinfo=UTC).timestamp())
        refused = await ask(h, h.alice, "sora", {"prompt": "third", "seconds": 4})
        assert refused.content == (
            f"This would take you to 12s of video today; the daily limit is 8s. It resets <t:{midnight}:R>."
        )

        clock.set(datetime(2025, 3, 2, tzinfo=UTC))
        third, _ = await make(h, h.alice, {"prompt": "third", "seconds": 4})
        assert (await h.store.get(third)).created_at == datetime(2025, 3, 2, tzinfo=UTC)
        assert h.discord.contract_violations == []
