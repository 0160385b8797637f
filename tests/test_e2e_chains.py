"""End to end: remix chains as a team browses them, through the real bot and both emulators.

/lineage, /video, /history, batch remixes, the Lineage/Details buttons, paging (also
across a restart and for a stale page), and guild isolation with a second server in the
same Discord emulator.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio
from PIL import Image

from bot.core.models import TaskStatus
from bot.discord_ui.pagination import STALE_MESSAGE, PageButton
from bot.discord_ui.render import jump_url
from bot.discord_ui.views import result_view
from bot.emulators.fake_discord import FakeChannel, FakeInteraction, FakeMessage, FakeUser
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import delivered

pytestmark = pytest.mark.asyncio

VIDEO_ID = re.compile(r"`([a-z0-9]{6,8})`")


@pytest_asyncio.fixture
async def h(tmp_path: Path) -> AsyncIterator[BotHarness]:
    async with BotHarness(tmp_path, job_seconds=1.0) as harness:
        yield harness
        assert harness.discord.contract_violations == []


# --- helpers -----------------------------------------------------------------------------------


def video_id_of(message: FakeMessage) -> str:
    match = VIDEO_ID.search(message.embeds[0]["title"])
    assert match, message.embeds
    return match.group(1)


def footer(message: FakeMessage) -> str | None:
    return (message.embeds[0].get("footer") or {}).get("text") if message.embeds else None


async def result_of(h: BotHarness, video_id: str, timeout: float = 20.0) -> FakeMessage:
    """The bot's post of a finished video (found by the footer marker)."""
    marker = f"sora-bot · {video_id}"
    return await h.discord.wait_for_message(
        lambda m: m.interaction_id is None and footer(m) == marker and bool(m.attachments),
        timeout=timeout,
    )


async def card(
    h: BotHarness,
    user: FakeUser,
    command: str,
    options: dict[str, Any],
    channel: FakeChannel | None = None,
) -> tuple[FakeInteraction, str]:
    """Run /sora or /remix; return the interaction and the new video's id."""
    ix = await h.discord.slash(user, channel or h.channel, command, options)
    message = await ix.original_message(timeout=10)
    assert not ix.is_ephemeral, message.content
    return ix, video_id_of(message)


async def finished(
    h: BotHarness, user: FakeUser, command: str, options: dict[str, Any]
) -> tuple[str, FakeMessage]:
    _, video_id = await card(h, user, command, options)
    post = await result_of(h, video_id)
    await delivered(h, video_id)
    return video_id, post


async def private(ix: FakeInteraction) -> FakeMessage:
    """The interaction's answer, which must be visible to the invoker only."""
    message = await ix.original_message(timeout=10)
    assert ix.is_ephemeral and message.ephemeral and message.visible_to == ix.user.id
    return message


async def forge(h: BotHarness, channel: FakeChannel, view: discord.ui.View) -> FakeMessage:
    """A message the bot itself posts with ``view`` (to press buttons no flow would show)."""
    sent = await h.bot.get_partial_messageable(channel.id, guild_id=channel.guild_id).send(
        "buttons", view=view
    )
    return h.discord.get_message(sent.id)


async def variant_cards(h: BotHarness, ix: FakeInteraction, count: int) -> list[FakeMessage]:
    """The original card plus ``count - 1`` followup cards of a batch remix, once filled in."""
    first = await ix.original_message(timeout=10)
    await h.discord.wait_until(
        lambda: len(ix.followups) >= count - 1 and all(m.embeds for m in ix.followups), timeout=10
    )
    return [first, *ix.followups]


def ids_in(text: str) -> list[str]:
    return [VIDEO_ID.search(line).group(1) for line in text.splitlines()]


def labels(message: FakeMessage) -> dict[str, dict[str, Any]]:
    return {c["label"]: c for row in message.components for c in row["components"]}


# --- lineage, details, /video ------------------------------------------------------------------


async def test_lineage_shows_the_tree_with_changes_links_and_the_video_highlighted(h):
    root, root_post = await finished(h, h.alice, "sora", {"prompt": "a paper boat on a calm river"})
    _, fire = await card(
        h, h.bob, "remix", {"video_id": root, "prompt": "a paper boat on a burning river"}
    )
    _, noon = await card(
        h, h.alice, "remix", {"video_id": root, "prompt": "a paper boat on a calm river at noon"}
    )
    fire_post, noon_post = await result_of(h, fire), await result_of(h, noon)
    sunset, sunset_post = await finished(
        h,
        h.alice,
        "remix",
        {"video_id": fire, "prompt": "a paper boat on a burning river at sunset"},
    )

    pressed = await h.discord.click(h.bob, fire_post, f"sora:lineage:{fire}")
    answer = await private(pressed)
    embed = answer.embeds[0]
    lines = embed["description"].splitlines()
    assert embed["title"] == f"Lineage of `{fire}`"
    assert [VIDEO_ID.search(line).group(1) for line in lines] == [root, fire, sunset, noon]
    assert (
        lines[1].startswith("├─ ") and lines[2].startswith("│  └─ ") and lines[3].startswith("└─ ")
    )
    assert lines[1].endswith("◀") and lines[1].startswith("├─ **")
    assert not any(line.endswith("◀") for line in lines[:1] + lines[2:])
    assert "calm→burning" in lines[1] and "+at sunset" in lines[2] and "+at noon" in lines[3]
    assert ") bob ✅ completed · " in lines[1] and ") alice ✅ completed · " in lines[3]
    assert not any("<@" in line for line in lines)  # names, not mentions (raw ids to some)
    assert all("✅ completed" in line for line in lines)
    guild, channel = h.guild.id, h.channel.id
    for video_id, post in (
        (root, root_post),
        (fire, fire_post),
        (sunset, sunset_post),
        (noon, noon_post),
    ):
        assert f"[`{video_id}`]({jump_url(guild, channel, post.id)})" in embed["description"]
    assert embed["footer"]["text"] == f"Page 1/1 · 4 videos · depth 2 · root {root}"
    assert answer.attachments == [] and answer.components == []

    command = await private(
        await h.discord.slash(h.alice, h.channel, "lineage", {"video_id": f"#{sunset.upper()}"})
    )
    highlighted = [
        line for line in command.embeds[0]["description"].splitlines() if line.endswith("◀")
    ]
    assert len(highlighted) == 1 and f"`{sunset}`" in highlighted[0]

    choices = await h.discord.autocomplete(
        h.alice, h.channel, "lineage", {"video_id": "burning"}, focused="video_id"
    )
    assert sorted(c["value"] for c in choices) == sorted([fire, sunset])

    details = await private(await h.discord.click(h.alice, fire_post, f"sora:details:{fire}"))
    fields = {f["name"]: f["value"] for f in details.embeds[0]["fields"]}
    assert fields["Remix of"] == f"[`{root}`]({jump_url(guild, channel, root_post.id)})"
    assert fields["Remixes"] == "1" and f"`{sunset}`" in fields["Remixed as"]
    assert jump_url(guild, channel, fire_post.id) in fields["Result"]
    assert fields["Estimated cost"] == "$0.40"


async def test_video_reposts_the_card_with_working_buttons(h):
    root, _ = await finished(h, h.alice, "sora", {"prompt": "a lighthouse"})
    remix, remix_post = await finished(
        h, h.bob, "remix", {"video_id": root, "prompt": "a lighthouse in a storm"}
    )

    ix = await h.discord.slash(h.alice, h.channel, "video", {"video_id": remix})
    reposted = await ix.original_message()
    assert not ix.is_ephemeral
    embed = reposted.embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert (
        embed["title"] == f"Remix `{remix}`" and embed["description"] == "a lighthouse in a storm"
    )
    assert fields["Status"] == "Done" and fields["Author"] == "bob"
    assert fields["Options"] == "sora-2 · 4s · 1280x720" and fields["Remixes"] == "0"
    assert f"`{root}`" in fields["Remix of"]
    assert jump_url(h.guild.id, h.channel.id, remix_post.id) in fields["Result"]
    assert footer(reposted) != f"sora-bot · {remix}"  # never mistaken for the result post
    assert reposted.custom_ids() == [
        f"sora:remix:{remix}",
        f"sora:reroll:{remix}",
        f"sora:pick:{remix}",
        f"sora:lineage:{remix}",
        f"sora:details:{remix}",
    ]

    opened = await h.discord.click(h.alice, reposted, f"sora:remix:{remix}")
    await opened.initial_response()
    assert opened.modal is not None and opened.modal["title"] == f"Remix {remix}"
    details = await private(await h.discord.click(h.bob, reposted, f"sora:details:{remix}"))
    assert details.embeds[0]["title"] == f"Details of `{remix}`"

    _, running = await card(h, h.alice, "sora", {"prompt": "[duration:600] a very slow tide"})
    pending = await h.discord.slash(h.alice, h.channel, "video", {"video_id": running})
    pending_card = await pending.original_message()
    assert pending_card.custom_ids() == [
        f"sora:lineage:{running}",
        f"sora:details:{running}",
        f"sora:cancel:{running}",  # a running video's card offers Cancel (issue 15)
    ]


async def test_batch_remix_with_three_variants_gives_three_cards_and_three_threaded_results(h):
    parent, parent_post = await finished(h, h.alice, "sora", {"prompt": "a red kite"})
    ix = await h.discord.slash(
        h.bob,
        h.channel,
        "remix",
        {"video_id": parent, "prompt": "a red kite at dusk", "variants": 3},
    )
    cards = await variant_cards(h, ix, 3)
    ids = [video_id_of(m) for m in cards]
    assert len(set(ids)) == 3 and not any(m.ephemeral for m in cards)

    results = [await result_of(h, video_id) for video_id in ids]
    assert all(r.reply_to == parent_post.id for r in results)
    assert len({r.id for r in results}) == 3
    tasks = [await h.store.get(video_id) for video_id in ids]
    assert all(
        t.parent_id == parent and t.user_id == h.bob.id and t.status is TaskStatus.COMPLETED
        for t in tasks
    )
    assert all(
        t.prompt == "a red kite at dusk" and t.card_message_id == m.id
        for t, m in zip(tasks, cards, strict=True)
    )
    assert h.upstream.count("remix") == 3
    assert len(await h.store.children_of(parent, guild_id=h.guild.id)) == 3


# --- paging ------------------------------------------------------------------------------------


async def test_large_chain_pages_with_a_picture_and_its_buttons_survive_a_restart(h):
    root, _ = await finished(h, h.alice, "sora", {"prompt": "a small seed"})
    remixes: list[str] = []
    for n in range(4):
        ix = await h.discord.slash(
            h.bob,
            h.channel,
            "remix",
            {"video_id": root, "prompt": f"a small seed, take {n}", "variants": 4},
        )
        remixes += [video_id_of(m) for m in await variant_cards(h, ix, 4)]
    assert len(remixes) == 16

    answer = await private(await h.discord.slash(h.alice, h.channel, "lineage", {"video_id": root}))
    page_one = answer.embeds[0]["description"].splitlines()
    assert answer.embeds[0]["footer"]["text"].startswith("Page 1/2 · 17 videos · depth 1")
    assert len(page_one) == 15 and page_one[0].endswith("◀")
    [picture] = answer.attachments
    assert picture.filename == f"lineage-{root}.png"
    image = Image.open(io.BytesIO(picture.data))
    assert image.format == "PNG" and image.height > 17 * 20
    buttons = labels(answer)
    assert buttons["◀ Prev"].get("disabled") is True and not buttons["Next ▶"].get("disabled")

    await h.discord.click(h.alice, answer, buttons["Next ▶"]["custom_id"])
    await h.discord.wait_until(lambda: answer.embeds[0]["footer"]["text"].startswith("Page 2/2"))
    page_two = answer.embeds[0]["description"].splitlines()
    assert [VIDEO_ID.search(line).group(1) for line in page_two] == remixes[14:]
    assert len(answer.attachments) == 1  # paging keeps the picture

    await h.restart()
    prev_id = labels(answer)["◀ Prev"]["custom_id"]
    await h.discord.click(h.alice, answer, prev_id)
    await h.discord.wait_until(lambda: answer.embeds[0]["footer"]["text"].startswith("Page 1/2"))
    assert ids_in(answer.embeds[0]["description"]) == ids_in("\n".join(page_one))

    last = await private(
        await h.discord.slash(h.bob, h.channel, "lineage", {"video_id": remixes[-1]})
    )
    assert last.embeds[0]["footer"]["text"].startswith("Page 2/2")
    assert last.embeds[0]["description"].splitlines()[-1].endswith("◀")


async def test_history_lists_own_videos_and_a_stale_page_falls_back_to_the_last(h):
    upstream_ids = []
    for n in range(11):
        _, video_id = await card(h, h.alice, "sora", {"prompt": f"[duration:600] clip {n}"})
        upstream_ids.append(video_id)
    await card(h, h.bob, "sora", {"prompt": "[duration:600] not alice's"})

    async def alice_count(status: TaskStatus) -> int:
        return await h.store.count_history(h.guild.id, user_id=h.alice.id, status=status)

    assert await alice_count(TaskStatus.QUEUED) == 11  # a 600 s job stays queued for 60 s
    answer = await private(
        await h.discord.slash(h.alice, h.channel, "history", {"status": "queued"})
    )
    embed = answer.embeds[0]
    assert embed["title"] == "Your videos · queued"
    assert embed["footer"]["text"] == "Page 1/2 · 11 videos"
    entries = embed["description"].splitlines()
    assert len(entries) == 10 and "clip 10" in entries[0] and all("⏳ queued" in e for e in entries)
    assert "not alice's" not in embed["description"]

    for video_id in upstream_ids:
        h.upstream.finish((await h.store.get(video_id)).upstream_id)
    await h.wait_for(
        lambda: _equals(alice_count(TaskStatus.COMPLETED), 11), what="11 videos completed"
    )

    await h.discord.click(h.alice, answer, labels(answer)["Next ▶"]["custom_id"])
    await h.discord.wait_until(lambda: answer.embeds[0]["footer"]["text"] == "Page 1/1 · 0 videos")
    assert answer.embeds[0]["description"] == "No videos match." and answer.components == []

    done = await private(
        await h.discord.slash(h.alice, h.channel, "history", {"status": "completed"})
    )
    assert done.embeds[0]["footer"]["text"] == "Page 1/2 · 11 videos"
    await h.discord.click(h.alice, done, labels(done)["Next ▶"]["custom_id"])
    await h.discord.wait_until(lambda: done.embeds[0]["footer"]["text"] == "Page 2/2 · 11 videos")
    [oldest] = done.embeds[0]["description"].splitlines()
    assert "clip 0" in oldest and "✅ completed" in oldest

    bobs = await private(await h.discord.slash(h.bob, h.channel, "history"))
    assert bobs.embeds[0]["footer"]["text"] == "Page 1/1 · 1 videos"


async def _equals(value_coro, expected) -> bool:
    return await value_coro == expected


async def test_a_page_button_of_an_unknown_list_answers_that_it_is_out_of_date(h):
    view = discord.ui.View(timeout=None)
    view.add_item(PageButton("gone", 1, "abc", label="Next ▶"))
    message = await forge(h, h.channel, view)
    answer = await private(await h.discord.click(h.alice, message, "sora:pg:gone:1:abc"))
    assert answer.content == STALE_MESSAGE


# --- guild isolation ---------------------------------------------------------------------------


async def test_another_servers_video_is_answered_exactly_like_an_unknown_id(h):
    other = h.discord.add_guild("Other Team")
    clips = h.discord.add_channel(other, "clips")
    carol = h.discord.add_member(other, "carol")
    await h.wait_for(lambda: h.bot.get_guild(other.id) is not None, what="the second guild")
    _, foreign = await card(h, carol, "sora", {"prompt": "a secret project"}, channel=clips)
    await result_of(h, foreign)
    unknown = "zzzzzz"
    assert await h.store.get(unknown) is None

    async def said(user: FakeUser, command: str, options: dict[str, Any]) -> str:
        return (await private(await h.discord.slash(user, h.channel, command, options))).content

    def same(foreign_answer: str, unknown_answer: str) -> None:
        assert foreign_answer.replace(foreign, "ID") == unknown_answer.replace(unknown, "ID")
        assert foreign_answer == f"No video `{foreign}` in this server."

    for command, extra in (
        ("lineage", {}),
        ("video", {}),
        ("remix", {"prompt": "steal it"}),
        ("admin task", {}),
        ("admin cancel", {}),
        ("admin retry", {}),
    ):
        user = h.admin if command.startswith("admin") else h.alice
        same(
            await said(user, command, {"video_id": foreign, **extra}),
            await said(user, command, {"video_id": unknown, **extra}),
        )

    foreign_buttons = await forge(h, h.channel, result_view(foreign))
    unknown_buttons = await forge(h, h.channel, result_view(unknown))
    for action in ("remix", "lineage", "details"):
        foreign_answer = await private(
            await h.discord.click(h.alice, foreign_buttons, f"sora:{action}:{foreign}")
        )
        unknown_answer = await private(
            await h.discord.click(h.alice, unknown_buttons, f"sora:{action}:{unknown}")
        )
        same(foreign_answer.content, unknown_answer.content)

    history = await private(await h.discord.slash(h.admin, h.channel, "admin history", {}))
    assert foreign not in history.embeds[0]["description"]
    export = await private(
        await h.discord.slash(h.admin, h.channel, "admin export", {"format": "jsonl"})
    )
    assert export.attachments == [] and "No videos match" in export.content
    stats = await private(await h.discord.slash(h.admin, h.channel, "admin stats", {}))
    assert "**0** videos" in stats.embeds[0]["description"]
    assert (await h.store.get(foreign)).status is TaskStatus.COMPLETED
