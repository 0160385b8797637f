"""End to end: authors are shown by the display name they had when they submitted.

A ``<@id>`` mention inside an embed never pings and shows as a raw id to a member whose
client has not cached that user; the bot has no members intent, so it cannot look names
up later either. The interaction's member carries the name (server nickname, else global
name), the task keeps it, and every embed shows it as escaped text. Message content that
pings the author (the result and failure notices) keeps its mention.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest

from bot.core.models import TaskStatus
from bot.emulators.fake_discord import FakeInteraction, FakeMessage, FakeUser
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import delivered, result_post, submit, video_id_of
from tests.e2e_helpers import harness as harness

pytestmark = pytest.mark.asyncio

VIDEO_ID = re.compile(r"`([a-z0-9]{6,8})`")
#: A nickname full of markdown and a mass mention, and how an embed must show it.
TRICKY_NICK = "**Cap** _x_ @everyone"
TRICKY_SHOWN = r"\*\*Cap\*\* \_x\_ \@everyone"


def fields(message: FakeMessage, embed: int = 0) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[embed]["fields"]}


def description_lines(message: FakeMessage) -> list[str]:
    return message.embeds[0]["description"].splitlines()


async def private(ix: FakeInteraction) -> FakeMessage:
    message = await ix.original_message(timeout=10)
    assert ix.is_ephemeral and message.ephemeral and message.visible_to == ix.user.id
    return message


async def ask(
    h: BotHarness, user: FakeUser, command: str, options: dict[str, Any] | None = None
) -> FakeMessage:
    return await private(await h.discord.slash(user, h.channel, command, options or {}))


async def finished(
    h: BotHarness, user: FakeUser, command: str, options: dict[str, Any]
) -> tuple[str, FakeMessage, FakeMessage]:
    """Submit a video and wait for its delivery; its id, its card and its result post."""
    _, card = await submit(h, user, command, options)
    video_id = video_id_of(card)
    post = await result_post(h, video_id)
    await delivered(h, video_id)
    return video_id, card, post


def line_of(lines: list[str], video_id: str) -> str:
    """The line about ``video_id`` (the first id on a line is its own; later ones are parents)."""
    [line] = [line for line in lines if VIDEO_ID.findall(line)[:1] == [video_id]]
    return line


async def test_the_name_at_submission_is_shown_in_cards_results_details_lists_and_stats(harness):
    h = harness
    dora = h.discord.add_member(h.guild, "dora", nick="Captain Dora")
    root, card, post = await finished(h, dora, "sora", {"prompt": "a lighthouse"})
    assert fields(card)["Author"] == "Captain Dora"  # the card, as last edited
    assert fields(post)["Author"] == "Captain Dora"
    assert post.content.startswith(f"<@{dora.id}> your video `{root}` is ready")
    assert post.mention_user_ids == [dora.id]  # the content still pings her
    assert (await h.store.get(root)).author_name == "Captain Dora"

    h.discord.set_nick(h.guild, dora, "Admiral Dora")  # the bot gets no member events
    bobs, _, _ = await finished(
        h, h.bob, "remix", {"video_id": root, "prompt": "a lighthouse, dusk"}
    )
    doras, _, _ = await finished(
        h, dora, "remix", {"video_id": root, "prompt": "a lighthouse, fog"}
    )

    lineage = await ask(h, h.bob, "lineage", {"video_id": root})
    lines = description_lines(lineage)
    assert ") Captain Dora ✅ completed · " in line_of(lines, root)
    assert ") bob ✅ completed · " in line_of(lines, bobs)
    assert ") Admiral Dora ✅ completed · " in line_of(lines, doras)
    assert not any("<@" in line for line in lines)

    video = await h.discord.slash(h.bob, h.channel, "video", {"video_id": root})
    assert fields(await video.original_message(timeout=10))["Author"] == "Captain Dora"
    details = await private(await h.discord.click(h.bob, post, f"sora:details:{root}"))
    assert fields(details)["Author"] == "Captain Dora"

    history = description_lines(await ask(h, h.admin, "admin history"))
    assert f" · Captain Dora in <#{h.channel.id}> · " in line_of(history, root)
    assert f" · Admiral Dora in <#{h.channel.id}> · " in line_of(history, doras)
    assert fields(await ask(h, h.admin, "admin task", {"video_id": doras}))["Author"] == (
        "Admiral Dora"
    )
    by_user = fields(await ask(h, h.admin, "admin stats"))["By user"].splitlines()
    assert by_user == ["Admiral Dora: 2 · 8s · $0.80", "bob: 1 · 4s · $0.40"]  # latest name


async def test_markdown_and_mentions_in_a_name_render_literally(harness):
    h = harness
    tricky = h.discord.add_member(h.guild, "tricky", nick=TRICKY_NICK)
    video_id, card, post = await finished(h, tricky, "sora", {"prompt": "a kite"})
    assert (await h.store.get(video_id)).author_name == TRICKY_NICK  # stored as given
    assert fields(card)["Author"] == TRICKY_SHOWN
    assert fields(post)["Author"] == TRICKY_SHOWN
    assert not post.mention_everyone and post.mention_user_ids == [tricky.id]
    lineage = await ask(h, h.alice, "lineage", {"video_id": video_id})
    assert f") {TRICKY_SHOWN} ✅ completed · " in description_lines(lineage)[0]
    stats = fields(await ask(h, h.admin, "admin stats"))["By user"]
    assert stats.startswith(f"{TRICKY_SHOWN}: 1 · ")


async def test_a_retry_keeps_the_original_authors_name(harness):
    h = harness
    h.upstream.inject("create", "moderation")  # the first job fails
    dora = h.discord.add_member(h.guild, "dora", nick="Captain Dora")
    _, card = await submit(h, dora, "sora", {"prompt": "a kite over the dunes"})
    kite = video_id_of(card)
    await result_post(h, kite)
    await delivered(h, kite)

    answer = await ask(h, h.admin, "admin retry", {"video_id": kite})
    new_id = VIDEO_ID.findall(answer.content)[1]
    new = await h.store.get(new_id)
    assert (new.user_id, new.author_name) == (dora.id, "Captain Dora")  # not the admin's
    retried = h.discord.get_message(new.card_message_id)
    assert fields(retried)["Author"] == "Captain Dora"


async def test_rows_from_before_names_were_stored_still_show_the_mention(harness):
    h = harness
    old, _, _ = await finished(h, h.alice, "sora", {"prompt": "an old video"})
    remix, _, _ = await finished(
        h, h.bob, "remix", {"video_id": old, "prompt": "an old video, redone"}
    )
    await h.stop_bot()
    with sqlite3.connect(h.config.storage.database) as db:  # what m005 leaves on old rows
        db.execute("UPDATE tasks SET author_name = NULL WHERE id = ?", [old])
    db.close()
    await h.start_bot()
    assert (await h.store.get(old)).author_name is None

    video = await h.discord.slash(h.bob, h.channel, "video", {"video_id": old})
    reposted = await video.original_message(timeout=10)
    assert fields(reposted)["Author"] == f"<@{h.alice.id}>"
    assert fields(reposted)["Status"] == "Done"
    lines = description_lines(await ask(h, h.bob, "lineage", {"video_id": remix}))
    assert f") <@{h.alice.id}> ✅ completed · " in line_of(lines, old)
    assert ") bob ✅ completed · " in line_of(lines, remix)
    history = description_lines(await ask(h, h.admin, "admin history"))
    assert f" · <@{h.alice.id}> in <#{h.channel.id}> · " in line_of(history, old)
    by_user = fields(await ask(h, h.admin, "admin stats"))["By user"].splitlines()
    assert sorted(by_user) == [f"<@{h.alice.id}>: 1 · 4s · $0.40", "bob: 1 · 4s · $0.40"]
    assert (await h.store.get(remix)).status is TaskStatus.COMPLETED
