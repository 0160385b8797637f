"""Refuse early where a late post cannot work; accept the thread kinds where it can.

A private thread the bot has not joined (without Manage Threads) and a voice channel's
text chat without Connect both pass the ordinary permission bits, yet the late post (or
the history read before it) fails there. The fake Discord enforces both at its REST edge.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bot.core.models import DeliveryState
from bot.emulators.fake_discord import FakeChannel, FakeDiscord, Permission
from bot.emulators.fake_discord.permissions import DEFAULT_BOT_PERMISSIONS
from bot.emulators.harness import BotHarness
from tests.discord_fixtures import fake_discord as fake_discord
from tests.e2e_helpers import delivered, ephemeral_answer, result_post, video_id_of
from tests.e2e_helpers import harness as harness

pytestmark = pytest.mark.asyncio


async def refusal_in(h: BotHarness, channel: FakeChannel) -> str:
    ix = await h.discord.slash(h.alice, channel, "sora", {"prompt": "a lantern at dusk"})
    text = await ephemeral_answer(h, ix)
    assert await h.store.count_history(h.guild.id) == 0
    return text


async def delivered_in(h: BotHarness, channel: FakeChannel) -> None:
    ix = await h.discord.slash(h.alice, channel, "sora", {"prompt": "a lantern at dusk"})
    await ix.initial_response()
    card = await ix.original_message(timeout=10)
    assert not ix.is_ephemeral, card.content
    video_id = video_id_of(card)
    result = await result_post(h, video_id)
    task = await delivered(h, video_id)
    assert result.channel_id == channel.id and task.delivery_state is DeliveryState.DELIVERED
    assert result.message_reference["message_id"] == str(card.id)


async def test_a_private_thread_the_bot_has_not_joined_is_refused_naming_the_fix(harness):
    h = harness
    thread = h.discord.add_thread(h.channel, "secret", private=True)
    text = await refusal_in(h, thread)
    assert "private thread" in text and "Add me to the thread" in text
    assert "Manage Threads" in text


async def test_a_private_thread_works_once_the_bot_is_added(harness):
    h = harness
    thread = h.discord.add_thread(h.channel, "secret", private=True)
    h.discord.add_bot_to_thread(thread)
    await h.discord.wait_until(lambda: h.bot.get_channel(thread.id) is not None, timeout=5)
    await delivered_in(h, thread)


async def test_a_private_thread_works_with_manage_threads(harness):
    h = harness
    h.discord.set_bot_permissions(h.channel, DEFAULT_BOT_PERMISSIONS | Permission.MANAGE_THREADS)
    thread = h.discord.add_thread(h.channel, "secret", private=True)
    await delivered_in(h, thread)


async def test_a_voice_chat_without_connect_is_refused_naming_connect(harness):
    h = harness
    voice = h.discord.add_voice_channel(h.guild, "lounge")
    text = await refusal_in(h, voice)
    assert "**Connect**" in text


async def test_a_voice_chat_with_connect_gets_its_video(harness):
    h = harness
    voice = h.discord.add_voice_channel(
        h.guild, "lounge", DEFAULT_BOT_PERMISSIONS | Permission.CONNECT
    )
    await delivered_in(h, voice)


async def test_a_public_thread_gets_its_video(harness):
    h = harness
    await delivered_in(h, h.discord.add_thread(h.channel, "open"))


async def test_a_forum_post_gets_its_video(harness):
    h = harness
    forum = h.discord.add_forum(h.guild, "showcase")
    await delivered_in(h, h.discord.add_thread(forum, "my clip"))


async def _call(emu: FakeDiscord, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.request(method, f"{emu.rest_base}/api/v10{path}", json=body) as resp:
            return resp.status, await resp.json()


async def test_the_fake_discord_hides_an_unjoined_private_thread_from_the_bot(
    fake_discord: FakeDiscord,
) -> None:
    emu = fake_discord
    guild = emu.add_guild("Team")
    thread = emu.add_thread(emu.add_channel(guild, "videos"), "secret", private=True)
    status, body = await _call(emu, "POST", f"/channels/{thread.id}/messages", {"content": "hi"})
    assert (status, body["code"]) == (403, 50001)
    emu.add_bot_to_thread(thread)
    status, body = await _call(emu, "POST", f"/channels/{thread.id}/messages", {"content": "hi"})
    assert status == 200 and body["channel_id"] == str(thread.id)
    status, channel = await _call(emu, "GET", f"/channels/{thread.id}")
    assert channel["type"] == 12 and channel["member"]["user_id"] == str(emu.bot_user_id)


async def test_the_fake_discord_needs_connect_to_read_a_voice_chat(
    fake_discord: FakeDiscord,
) -> None:
    emu = fake_discord
    guild = emu.add_guild("Team")
    voice = emu.add_voice_channel(guild, "lounge")
    status, posted = await _call(emu, "POST", f"/channels/{voice.id}/messages", {"content": "a"})
    assert status == 200
    status, history = await _call(emu, "GET", f"/channels/{voice.id}/messages")
    assert (status, history) == (200, [])
    reply = {"content": "b", "message_reference": {"message_id": posted["id"]}}
    status, body = await _call(emu, "POST", f"/channels/{voice.id}/messages", reply)
    assert (status, body["code"]) == (403, 50013)
    emu.set_bot_permissions(voice, DEFAULT_BOT_PERMISSIONS | Permission.CONNECT)
    status, history = await _call(emu, "GET", f"/channels/{voice.id}/messages")
    assert [m["id"] for m in history] == [posted["id"]]
