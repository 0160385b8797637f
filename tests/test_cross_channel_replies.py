"""Replies Discord accepts: a remix made in another channel replies to its own card.

Discord refuses a reply whose target is in another channel (400 50035 on
``message_reference``); the fake Discord refuses it the same way, so a cross-channel
reply would show up as a 400 in its REST log.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bot.discord_ui.render import jump_url
from bot.emulators.fake_discord import FakeDiscord
from tests.discord_fixtures import fake_discord as fake_discord
from tests.e2e_helpers import delivered, result_post, submit, video_id_of
from tests.e2e_helpers import harness as harness

pytestmark = pytest.mark.asyncio


async def test_a_remix_in_another_channel_replies_to_its_own_card_and_links_the_parent(harness):
    h = harness
    _, parent_card = await submit(h, h.alice, "sora", {"prompt": "a fox in the snow"})
    parent_id = video_id_of(parent_card)
    parent_result = await result_post(h, parent_id)
    await delivered(h, parent_id)
    clips = h.discord.add_channel(h.guild, "clips")

    ix = await h.discord.slash(h.bob, clips, "remix", {"video_id": parent_id, "prompt": "rain"})
    await ix.initial_response()
    card = await ix.original_message(timeout=10)
    child_id = video_id_of(card)
    result = await result_post(h, child_id)
    await delivered(h, child_id)

    assert result.channel_id == clips.id
    assert result.message_reference is not None
    assert result.message_reference["message_id"] == str(card.id)
    link = jump_url(h.guild.id, h.channel.id, parent_result.id)
    fields = {f["name"]: f["value"] for f in result.embeds[0]["fields"]}
    assert link in fields["Parent"]
    refused = [c for c in h.discord.rest_log if c.status == 400]
    assert refused == [], [c.error for c in refused]


async def test_a_remix_in_the_same_channel_still_replies_to_the_parents_result(harness):
    h = harness
    _, parent_card = await submit(h, h.alice, "sora", {"prompt": "a fox in the snow"})
    parent_id = video_id_of(parent_card)
    parent_result = await result_post(h, parent_id)
    await delivered(h, parent_id)
    _, card = await submit(h, h.bob, "remix", {"video_id": parent_id, "prompt": "rain"})
    result = await result_post(h, video_id_of(card))
    assert result.message_reference["message_id"] == str(parent_result.id)


async def _post(emu: FakeDiscord, channel_id: int, body: dict[str, Any]) -> tuple[int, Any]:
    url = f"{emu.rest_base}/api/v10/channels/{channel_id}/messages"
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(url, json=body) as resp:
            return resp.status, await resp.json()


@pytest.mark.parametrize("fail_if_not_exists", [True, False])
async def test_the_fake_discord_refuses_a_reply_naming_another_channel_like_discord(
    fake_discord: FakeDiscord, fail_if_not_exists: bool
) -> None:
    emu = fake_discord
    guild = emu.add_guild("Team")
    videos, clips = emu.add_channel(guild, "videos"), emu.add_channel(guild, "clips")
    _, target = await _post(emu, videos.id, {"content": "the parent"})
    reference = {
        "message_id": target["id"],
        "channel_id": str(videos.id),
        "fail_if_not_exists": fail_if_not_exists,
    }
    status, body = await _post(emu, clips.id, {"content": "hi", "message_reference": reference})
    assert status == 400 and body["code"] == 50035
    assert body["errors"]["message_reference"]["_errors"] == [
        {
            "code": "REPLIES_CANNOT_REFERENCE_OTHER_CHANNEL",
            "message": "Cannot reply to a message in a different channel",
        }
    ]


async def test_a_reference_naming_no_channel_is_looked_up_in_the_posting_channel(
    fake_discord: FakeDiscord,
) -> None:
    emu = fake_discord
    guild = emu.add_guild("Team")
    videos, clips = emu.add_channel(guild, "videos"), emu.add_channel(guild, "clips")
    _, target = await _post(emu, videos.id, {"content": "the parent"})
    status, body = await _post(
        emu, clips.id, {"content": "hi", "message_reference": {"message_id": target["id"]}}
    )
    assert status == 400
    codes = body["errors"]["message_reference"]["_errors"]
    assert codes[0]["code"] == "MESSAGE_REFERENCE_UNKNOWN_MESSAGE"
