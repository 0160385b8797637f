"""End to end: Reroll and ⭐ (picks) on results, and what /lineage and /admin make of them.

Through the real bot and both emulators: who may press (any member of the server, the
presser's own quotas), where the reroll's card and result go, that every result is
posted exactly once, that picks are one per member and survive a restart, and that
/lineage and /admin stats and export show them. Isolation between servers for both
buttons is in ``test_secrets`` (``BUTTONS``).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.core.limits import GuildLimits
from bot.core.models import TaskKind, TaskStatus
from bot.discord_ui.views import result_view
from bot.emulators.fake_discord import FakeInteraction, FakeMessage, FakeUser
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import (
    delivered,
    ephemeral_answer,
    footer,
    posts_for,
    result_post,
    submit,
    video_id_of,
)
from tests.e2e_helpers import harness as harness

pytestmark = pytest.mark.asyncio

VIDEO_ID = re.compile(r"`([a-z0-9]{6,8})`")


async def finished(
    h: BotHarness, user: FakeUser, command: str, options: dict[str, Any]
) -> tuple[str, FakeMessage]:
    """Run /sora or /remix and wait until its result is posted and recorded."""
    _, card = await submit(h, user, command, options)
    video_id = video_id_of(card)
    post = await result_post(h, video_id)
    await delivered(h, video_id)
    return video_id, post


async def press(h: BotHarness, user: FakeUser, message: FakeMessage, custom_id: str) -> str:
    """Press a button and return the private answer the presser saw."""
    ix: FakeInteraction = await h.discord.click(user, message, custom_id)
    return await ephemeral_answer(h, ix)


def label(message: FakeMessage, custom_id: str) -> str:
    component = message.find_component(custom_id)
    assert component is not None, message.components
    return str(component["label"])


def lineage_lines(message: FakeMessage) -> list[str]:
    return str(message.embeds[0]["description"]).splitlines()


async def lineage(h: BotHarness, user: FakeUser, video_id: str) -> FakeMessage:
    ix = await h.discord.slash(user, h.channel, "lineage", {"video_id": video_id})
    answer = await ix.original_message(timeout=10)
    assert ix.is_ephemeral
    return answer


def line_of(lines: list[str], video_id: str) -> str:
    return next(line for line in lines if VIDEO_ID.search(line).group(1) == video_id)


# --- reroll ------------------------------------------------------------------------------------


async def test_reroll_is_a_new_root_video_whose_card_replies_to_the_result(harness):
    h = harness
    options = {"prompt": "a kite over the dunes", "seconds": 8, "size": "720x1280"}
    source, result = await finished(h, h.alice, "sora", options)
    assert f"sora:reroll:{source}" in result.custom_ids()

    answer = await press(h, h.bob, result, f"sora:reroll:{source}")
    new_id = VIDEO_ID.findall(answer)[1]
    assert answer.startswith(f"🎲 Rerolling `{source}` as [`{new_id}`](")
    new, old = await h.store.get(new_id), await h.store.get(source)
    assert (new.parent_id, new.root_id, new.depth, new.kind) == (None, new_id, 0, TaskKind.GENERATE)
    assert new.rerolled_from == source and new.user_id == h.bob.id
    assert (new.prompt, new.model, new.seconds, new.size) == (
        old.prompt,
        old.model,
        old.seconds,
        old.size,
    )
    assert h.upstream.count("create") == 2 and h.upstream.count("remix") == 0
    job = h.upstream.jobs[new.upstream_id]
    assert (job.prompt, job.model, job.size, str(job.seconds)) == (
        "a kite over the dunes",
        old.model,
        "720x1280",
        "8",
    )

    card = h.discord.get_message(new.card_message_id)
    assert card.reply_to == result.id and card.interaction_id is None
    assert card.author_id == h.discord.bot_user_id and not card.ephemeral
    card_fields = {f["name"]: f["value"] for f in card.embeds[0]["fields"]}
    assert card_fields["Reroll of"] == f"`{source}`" and "Remix of" not in card_fields

    # The card is a channel message carrying the task's marker: the result is the other one.
    new_result = await h.discord.wait_for_message(
        lambda m: m.id != card.id and m.attachments and footer(m) == f"sora-bot · {new_id}",
        timeout=20,
    )
    assert new_result.reply_to == card.id
    assert new_result.embeds[0]["title"] == f"`{new_id}` · reroll of `{source}`"
    await delivered(h, new_id)
    assert [m.id for m in posts_for(h, new_id)] == [card.id, new_result.id]
    assert (await h.store.get(new_id)).result_message_id == new_result.id
    assert len(posts_for(h, source)) == 1
    assert await h.store.children_of(source, guild_id=h.guild.id) == []

    admin = await ephemeral_embed(h, "admin task", {"video_id": new_id})
    assert {f["name"]: f["value"] for f in admin["fields"]}["Reroll of"] == f"`{source}`"

    lines = lineage_lines(await lineage(h, h.alice, source))
    assert len(lines) == 1 and f"🎲 rerolled as `{new_id}`" in lines[0]
    rerolled = await lineage(h, h.bob, new_id)
    [line] = lineage_lines(rerolled)
    assert f"🎲 reroll of `{source}`" in line and line.endswith("◀")
    assert rerolled.embeds[0]["footer"]["text"] == f"Page 1/1 · 1 videos · depth 0 · root {new_id}"


async def test_a_reroll_counts_against_the_pressers_quotas(harness):
    h = harness
    source, result = await finished(h, h.alice, "sora", {"prompt": "a lighthouse", "seconds": 4})
    reroll = f"sora:reroll:{source}"
    assert (await press(h, h.alice, result, reroll)).startswith("🎲 Rerolling")  # the author
    await h.store.set_limits(
        h.guild.id, GuildLimits(daily_seconds_per_user=4), updated_by=h.admin.id
    )
    refused = await press(h, h.alice, result, reroll)  # alice made 8 s today
    assert "the daily limit is 4s" in refused and "Rerolling" not in refused
    assert h.upstream.count("create") == 2

    assert (await press(h, h.bob, result, reroll)).startswith(f"🎲 Rerolling `{source}`")
    assert "the daily limit is 4s" in await press(h, h.bob, result, reroll)
    assert (await press(h, h.admin, result, reroll)).startswith("🎲 Rerolling")  # same rules
    assert h.upstream.count("create") == 4
    replies = [m for m in h.discord.channel_messages(h.channel) if m.reply_to == result.id]
    assert len(replies) == 3  # one card per accepted press; the refused ones posted nothing
    tasks = await h.store.guild_history(h.guild.id, limit=10)
    assert [t.user_id for t in tasks] == [h.admin.id, h.bob.id, h.alice.id, h.alice.id]
    assert all(t.rerolled_from == source for t in tasks[:3])


async def test_a_refused_create_takes_the_reroll_card_back(harness):
    h = harness
    source, result = await finished(h, h.alice, "sora", {"prompt": "a tide pool"})
    h.upstream.inject("create", "moderation_submit")
    answer = await press(h, h.bob, result, f"sora:reroll:{source}")
    assert "Rerolling" not in answer
    replies = [m for m in h.discord.channel_messages(h.channel) if m.reply_to == result.id]
    assert replies == []  # the card was deleted
    [failed] = [t for t in await h.store.guild_history(h.guild.id, limit=10) if t.id != source]
    assert failed.status is TaskStatus.FAILED and failed.rerolled_from == source


# --- picks -------------------------------------------------------------------------------------


async def test_picks_toggle_one_per_member_show_the_count_and_survive_a_restart(harness):
    h = harness
    video, result = await finished(h, h.alice, "sora", {"prompt": "a red kite"})
    pick = f"sora:pick:{video}"
    assert label(result, pick) == "0"

    assert await press(h, h.alice, result, pick) == (
        f"⭐ You picked `{video}` (1 pick). Press ⭐ again to take it back."
    )
    assert label(h.discord.get_message(result.id), pick) == "1"
    await press(h, h.bob, result, pick)
    await press(h, h.admin, result, pick)
    assert label(h.discord.get_message(result.id), pick) == "3"
    assert await press(h, h.bob, result, pick) == f"You took back your pick of `{video}` (2 picks)."
    assert label(h.discord.get_message(result.id), pick) == "2"

    await h.restart()
    await press(h, h.bob, result, pick)
    now = h.discord.get_message(result.id)
    assert label(now, pick) == "3" and await h.store.pick_count(video, guild_id=h.guild.id) == 3
    assert now.custom_ids() == [
        f"sora:remix:{video}",
        f"sora:reroll:{video}",
        pick,
        f"sora:lineage:{video}",
        f"sora:details:{video}",
        f"sora:delete:{video}",
    ]
    assert now.attachments == result.attachments  # the post keeps its video
    assert len(posts_for(h, video)) == 1
    assert h.upstream.count("create") == 1


async def test_only_a_finished_video_can_be_picked(harness):
    h = harness
    _, card = await submit(h, h.alice, "sora", {"prompt": "[duration:600] a slow tide"})
    running = video_id_of(card)
    sent = await h.bot.get_partial_messageable(h.channel.id, guild_id=h.guild.id).send(
        "buttons", view=result_view(running)
    )
    forged = h.discord.get_message(sent.id)
    answer = await press(h, h.bob, forged, f"sora:pick:{running}")
    assert answer == f"Video `{running}` is not finished; only a finished video can be picked."
    assert await h.store.pick_count(running, guild_id=h.guild.id) == 0


# --- lineage and admin -------------------------------------------------------------------------


async def test_lineage_shows_picks_and_underlines_the_most_picked_path(harness):
    h = harness
    fox = "a red fox trotting through fresh snow"
    root, root_post = await finished(h, h.alice, "sora", {"prompt": fox})
    dusk, dusk_post = await finished(
        h, h.bob, "remix", {"video_id": root, "prompt": fox + " at dusk"}
    )
    lantern, lantern_post = await finished(
        h, h.alice, "remix", {"video_id": root, "prompt": "add a glowing paper lantern"}
    )
    owl, owl_post = await finished(
        h, h.alice, "remix", {"video_id": dusk, "prompt": fox + " at dusk, an owl watching"}
    )
    for user in (h.alice, h.bob):
        await press(h, user, owl_post, f"sora:pick:{owl}")
    await press(h, h.admin, lantern_post, f"sora:pick:{lantern}")

    answer = await lineage(h, h.bob, lantern)
    lines = lineage_lines(answer)
    assert [VIDEO_ID.search(line).group(1) for line in lines] == [root, dusk, owl, lantern]
    assert "“add a glowing paper lantern”" in line_of(lines, lantern)
    assert "+at dusk" in line_of(lines, dusk) and "+an owl watching" in line_of(lines, owl)
    assert line_of(lines, owl).endswith("· ⭐ 2__") and "· ⭐ 1" in line_of(lines, lantern)
    for on_path in (root, dusk, owl):
        assert "__" in line_of(lines, on_path)
    assert line_of(lines, lantern).startswith("└─ **") and "__" not in line_of(lines, lantern)
    assert answer.embeds[0]["footer"]["text"] == (
        f"Page 1/1 · 4 videos · depth 2 · root {root} · ⭐ 3"
        f" · underlined: most-picked path ({root} → {dusk} → {owl})"
    )

    stats = await ephemeral_embed(h, "admin stats", {})
    fields = {f["name"]: f["value"] for f in stats["fields"]}
    picked = fields["Picks: 3 · most picked"].splitlines()
    assert picked[0].startswith(f"[`{owl}`](") and picked[0].endswith(": ⭐ 2")
    assert picked[1].startswith(f"[`{lantern}`](") and picked[1].endswith(": ⭐ 1")

    ix = await h.discord.slash(h.admin, h.channel, "admin export", {"format": "jsonl"})
    export = await ix.original_message(timeout=10)
    await h.discord.wait_until(lambda: bool(export.attachments) or bool(ix.followups))
    message = export if export.attachments else ix.followups[-1]
    rows = {r["id"]: r for r in map(json.loads, message.attachments[0].data.decode().splitlines())}
    assert {video: row["picks"] for video, row in rows.items()} == {
        root: 0,
        dusk: 0,
        owl: 2,
        lantern: 1,
    }
    assert all(row["rerolled_from"] is None for row in rows.values())


async def ephemeral_embed(h: BotHarness, command: str, options: dict[str, Any]) -> dict[str, Any]:
    ix = await h.discord.slash(h.admin, h.channel, command, options)
    message = await ix.original_message(timeout=10)
    assert ix.is_ephemeral
    return message.embeds[0]


async def test_a_reroll_in_flight_across_a_restart_is_delivered_once_to_its_card(harness):
    h = harness
    source, result = await finished(h, h.alice, "sora", {"prompt": "a paper boat"})
    h.upstream.job_seconds = 3.0
    answer = await press(h, h.bob, result, f"sora:reroll:{source}")
    new_id = VIDEO_ID.findall(answer)[1]
    await h.restart()
    task = await delivered(h, new_id)
    card = h.discord.get_message(task.card_message_id)
    assert card.reply_to == result.id and card.embeds[0]["fields"][0]["value"] == "Done"
    [post] = [m for m in posts_for(h, new_id) if m.id != card.id]
    assert post.reply_to == card.id and post.id == task.result_message_id and post.attachments
    assert h.upstream.count("create") == 2
