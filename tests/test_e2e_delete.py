"""End to end: the Details button's every parameter and the Delete button on results.

Details: members see model, size, seconds, author, kind, when, each stage's time and the
estimated cost; admins (Manage Server or the admin role) also see the upstream id.
Delete: the author or an admin deletes the result post (through Discord); anyone else
is refused privately. The task stays in history marked deleted; admins still see it in
/admin history, /admin task and exports, and nothing is ever posted again.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.core.models import DeliveryState, EventKind, TaskStatus
from bot.discord_ui.render import jump_url
from bot.emulators.fake_discord import FakeMessage, FakeUser
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import (
    delivered,
    ephemeral_answer,
    posts_for,
    result_post,
    submit,
    video_id_of,
)
from tests.e2e_helpers import harness as harness
from tests.test_secrets import forged_click

pytestmark = pytest.mark.asyncio

DELETED = "🗑️ result deleted"


async def finished(
    h: BotHarness, user: FakeUser, prompt: str, **options: Any
) -> tuple[str, FakeMessage]:
    """A video made and posted: its id and its result post."""
    _, card = await submit(h, user, "sora", {"prompt": prompt, **options})
    video_id = video_id_of(card)
    post = await result_post(h, video_id)
    await delivered(h, video_id)
    return video_id, post


async def press(h: BotHarness, user: FakeUser, message: FakeMessage, custom_id: str) -> str:
    """Press a button; the private answer's text."""
    return await ephemeral_answer(h, await h.discord.click(user, message, custom_id))


async def pressed_embed(
    h: BotHarness, user: FakeUser, message: FakeMessage, custom_id: str
) -> dict[str, Any]:
    ix = await h.discord.click(user, message, custom_id)
    answer = await ix.original_message(timeout=10)
    assert ix.is_ephemeral and answer.visible_to == user.id
    return answer.embeds[0]


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def private_embed(h: BotHarness, user: FakeUser, command: str, **options: Any) -> Any:
    ix = await h.discord.slash(user, h.channel, command, options)
    message = await ix.original_message(timeout=10)
    assert ix.is_ephemeral
    return message


async def test_details_show_every_parameter_and_the_upstream_id_to_admins_only(harness):
    h = harness
    video_id, post = await finished(h, h.alice, "a paper boat", seconds=8)
    task = await h.store.get(video_id)
    details = fields(await pressed_embed(h, h.bob, post, f"sora:details:{video_id}"))
    assert details["Author"] == "alice" and details["Kind"] == "generate"
    assert (details["Model"], details["Seconds"], details["Size"]) == (
        task.model,
        "8s",
        task.size,
    )
    assert details["Created"] == f"<t:{int(task.created_at.timestamp())}:f>"
    timings = details["Timings"].splitlines()
    assert [line.split()[0] for line in timings] == [
        "created",
        "submitted",
        "started",
        "finished",
        "delivered",
    ]
    for line in timings:
        if not line.startswith("started"):  # a job may skip "in progress" between polls
            assert "<t:" in line, line
    assert details["Estimated cost"] == "$0.80"  # sora-2 at $0.10 a second, 8 s
    assert jump_url(h.guild.id, h.channel.id, post.id) in details["Result"]
    assert "Upstream id" not in details
    assert task.upstream_id not in json.dumps(details)

    as_admin = fields(await pressed_embed(h, h.admin, post, f"sora:details:{video_id}"))
    assert as_admin["Upstream id"] == f"`{task.upstream_id}`"
    role = h.discord.add_role(h.guild, "Video Admin")
    carol = h.discord.add_member(h.guild, "carol", roles=[role])
    by_role = fields(await pressed_embed(h, carol, post, f"sora:details:{video_id}"))
    assert by_role["Upstream id"] == f"`{task.upstream_id}`"


async def test_only_the_author_or_an_admin_may_delete_a_result_and_the_task_stays(harness):
    h = harness
    video_id, post = await finished(h, h.alice, "a lantern on the water")
    delete = f"sora:delete:{video_id}"
    assert delete in post.custom_ids()
    card_id = (await h.store.get(video_id)).card_message_id
    assert delete not in h.discord.get_message(card_id).custom_ids()  # results only

    refusal = await press(h, h.bob, post, delete)
    assert refusal == f"Only the author of `{video_id}` or a server admin can delete its result."
    assert not h.discord.get_message(post.id).deleted
    assert not (await h.store.get(video_id)).deleted

    done = await press(h, h.alice, post, delete)
    assert done == (
        f"Deleted the result post of `{video_id}`. The video stays in this server's history,"
        " marked deleted."
    )
    assert h.discord.get_message(post.id).deleted
    task = await h.store.get(video_id)
    assert task.deleted and task.deleted_by == h.alice.id
    assert task.status is TaskStatus.COMPLETED and task.delivery_state is DeliveryState.DELIVERED
    assert task.result_message_id == post.id
    kinds = [e.kind for e in await h.store.events(video_id)]
    assert kinds.count(EventKind.RESULT_DELETED) == 1

    mine = (await private_embed(h, h.alice, "history")).embeds[0]["description"]
    line = next(line for line in mine.splitlines() if f"`{video_id}`" in line)
    assert DELETED in line
    assert jump_url(h.guild.id, h.channel.id, post.id) not in line  # links the card instead
    card = h.discord.get_message(card_id)
    assert fields(card.embeds[0])["Result"].startswith(DELETED)  # the card says so too
    details = fields(await pressed_embed(h, h.bob, card, f"sora:details:{video_id}"))
    assert details["Result"].startswith(DELETED)


async def test_admins_may_delete_any_result_and_still_see_it_everywhere(harness):
    h = harness
    video_id, post = await finished(h, h.bob, "a windmill at dusk")
    assert await press(h, h.admin, post, f"sora:delete:{video_id}") == (
        f"Deleted the result post of `{video_id}`. The video stays in this server's history,"
        " marked deleted."
    )
    assert h.discord.get_message(post.id).deleted
    assert (await h.store.get(video_id)).deleted_by == h.admin.id

    history = (await private_embed(h, h.admin, "admin history")).embeds[0]["description"]
    assert DELETED in next(line for line in history.splitlines() if f"`{video_id}`" in line)
    answer = await private_embed(h, h.admin, "admin task", video_id=video_id)
    info = fields(answer.embeds[0])
    assert info["Deleted"].startswith(DELETED) and f"<@{h.admin.id}>" in info["Deleted"]
    assert "result_deleted" in answer.embeds[1]["description"]

    ix = await h.discord.slash(h.admin, h.channel, "admin export", {"format": "jsonl"})
    exported = await h.discord.wait_until(
        lambda: next((m for m in [ix.original, *ix.followups] if m and m.attachments), None)
    )
    rows = [json.loads(line) for line in exported.attachments[0].data.decode().splitlines()]
    row = next(r for r in rows if r["id"] == video_id)
    assert row["deleted_by"] == str(h.admin.id) and row["deleted_at"]
    assert row["status"] == "completed"


async def test_a_deleted_result_is_never_posted_again_after_a_restart(harness):
    h = harness
    video_id, post = await finished(h, h.alice, "a tin soldier")
    await press(h, h.alice, post, f"sora:delete:{video_id}")
    await h.restart()
    _, other = await finished(h, h.alice, "a later video")  # poll and post rounds ran
    assert [m.id for m in posts_for(h, video_id) if not m.deleted] == []
    assert h.upstream.count("create") == 2
    assert (await h.store.get(video_id)).delivery_state is DeliveryState.DELIVERED


async def test_a_remix_of_a_video_whose_result_was_deleted_replies_to_its_card(harness):
    h = harness
    root, post = await finished(h, h.alice, "a red kite")
    await press(h, h.alice, post, f"sora:delete:{root}")
    _, card = await submit(h, h.bob, "remix", {"video_id": root, "prompt": "a red kite at dawn"})
    remix = video_id_of(card)
    remix_post = await result_post(h, remix)
    root_card = (await h.store.get(root)).card_message_id
    assert remix_post.message_reference is not None
    assert int(remix_post.message_reference["message_id"]) == root_card


async def test_delete_refuses_a_video_without_a_result_post_and_a_second_delete(harness):
    h = harness
    _, running_card = await submit(h, h.alice, "sora", {"prompt": "[duration:600] a slow tide"})
    running = video_id_of(running_card)
    # A forged press (no result carries this button yet) deletes nothing, not even the card.
    answer = await ephemeral_answer(
        h, await forged_click(h.discord, h.alice, running_card, f"sora:delete:{running}")
    )
    assert answer == f"Video `{running}` has no result post to delete."
    assert not h.discord.get_message(running_card.id).deleted

    video_id, post = await finished(h, h.alice, "a sandcastle")
    await press(h, h.alice, post, f"sora:delete:{video_id}")
    again = await ephemeral_answer(
        h, await forged_click(h.discord, h.admin, running_card, f"sora:delete:{video_id}")
    )
    assert again == f"The result post of `{video_id}` was already deleted."
    assert h.discord.get_message(post.id).deleted
    assert (await h.store.get(video_id)).deleted_by == h.alice.id  # the first mark stays
