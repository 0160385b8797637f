"""End to end: /settings through the real bot and both emulators.

A member's defaults are saved per server, used by /sora for every option left out (an
option given always wins), shown by /settings alone and cleared by ``reset:true``; the
choices are /sora's; a saved default the relay no longer offers is ignored with a note.
The upstream emulator's job records what was actually asked for.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from typing import Any

import pytest

from bot.emulators.fake_discord import FakeAttachment, FakeChannel, FakeMessage, FakeUser
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import ephemeral_answer, video_id_of
from tests.e2e_helpers import harness as harness

pytestmark = pytest.mark.asyncio


def png(width: int, height: int) -> bytes:
    """A PNG header (all the bot reads) of the given size."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


async def settings(
    h: BotHarness,
    user: FakeUser,
    options: dict[str, Any] | None = None,
    channel: FakeChannel | None = None,
) -> FakeMessage:
    """Run /settings; return its private answer."""
    ix = await h.discord.slash(user, channel or h.channel, "settings", options or {})
    message = await ix.original_message(timeout=10)
    assert ix.is_ephemeral and message.visible_to == user.id
    return message


def fields(message: FakeMessage) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0].get("fields", [])}


async def made(
    h: BotHarness, user: FakeUser, options: dict[str, Any], channel: FakeChannel | None = None
) -> tuple[str, int, str]:
    """Submit /sora; the model, seconds and size the upstream was asked for."""
    ix = await h.discord.slash(user, channel or h.channel, "sora", options)
    card = await ix.original_message(timeout=10)
    assert not ix.is_ephemeral, card.content
    task = await h.store.get(video_id_of(card))
    job = h.upstream.jobs[task.upstream_id]
    assert (job.model, int(job.seconds), job.size) == (task.model, task.seconds, task.size)
    return task.model, task.seconds, task.size


async def test_settings_are_saved_used_by_sora_shown_and_reset(harness):
    h = harness
    offer = h.bot.service.options
    server = (offer.default_model, offer.default_seconds, offer.default_size)
    model = next(m for m in offer.models if m != offer.default_model)
    seconds = next(s for s in offer.seconds if s != offer.default_seconds)
    size = next(s for s in offer.sizes if s != offer.default_size)

    shown = fields(await settings(h, h.alice))
    assert shown == {
        "Model": f"`{server[0]}` (server default)",
        "Seconds": f"`{server[1]}s` (server default)",
        "Size": f"`{server[2]}` (server default)",
    }
    saved = await settings(h, h.alice, {"model": model, "seconds": seconds})
    assert saved.embeds[0]["title"] == "Your defaults are saved"
    assert fields(saved)["Model"] == f"`{model}` (yours)"
    assert fields(saved)["Size"] == f"`{server[2]}` (server default)"
    await settings(h, h.alice, {"size": size})  # the others stay as they were
    assert fields(await settings(h, h.alice)) == {
        "Model": f"`{model}` (yours)",
        "Seconds": f"`{seconds}s` (yours)",
        "Size": f"`{size}` (yours)",
    }

    assert await made(h, h.alice, {"prompt": "a heron"}) == (model, seconds, size)
    explicit = {"prompt": "a heron", "seconds": server[1]}
    assert await made(h, h.alice, explicit) == (model, server[1], size)
    assert await made(h, h.bob, {"prompt": "bob's heron"}) == server

    reset = await settings(h, h.alice, {"reset": True})
    assert reset.embeds[0]["title"] == "Your defaults are reset"
    assert all(value.endswith("(server default)") for value in fields(reset).values())
    assert await made(h, h.alice, {"prompt": "a heron again"}) == server
    assert (await h.store.get_member_defaults(h.guild.id, h.alice.id)).empty

    await settings(h, h.alice, {"seconds": seconds, "size": size})
    fresh = fields(await settings(h, h.alice, {"reset": True, "model": model}))  # reset, then save
    assert fresh == {
        "Model": f"`{model}` (yours)",
        "Seconds": f"`{server[1]}s` (server default)",
        "Size": f"`{server[2]}` (server default)",
    }


async def test_settings_offer_exactly_the_choices_of_sora(harness):
    h = harness
    registered = {c["name"]: c for c in h.discord.registered_commands}

    def choices(command: str) -> dict[str, list[Any]]:
        return {
            option["name"]: [c["value"] for c in option.get("choices") or []]
            for option in registered[command]["options"]
            if option["name"] in ("model", "seconds", "size")
        }

    offer = h.bot.service.options
    assert (
        choices("settings")
        == choices("sora")
        == {
            "model": list(offer.models),
            "seconds": list(offer.seconds),
            "size": list(offer.sizes),
        }
    )


async def test_a_saved_default_the_relay_no_longer_offers_is_ignored_with_a_note(harness):
    h = harness
    offer = h.bot.service.options
    size = next(s for s in offer.sizes if s != offer.default_size)
    await settings(h, h.alice, {"size": size, "seconds": 8})
    # The admin narrows what is offered and restarts: alice's size is no longer offered.
    upstream = dataclasses.replace(h.config.upstream, sizes=(offer.default_size,))
    h.config = dataclasses.replace(h.config, upstream=upstream)
    await h.restart()
    assert h.bot.service.options.sizes == (offer.default_size,)

    answer = await settings(h, h.alice)
    assert fields(answer)["Size"] == f"`{offer.default_size}` (server default)"
    assert fields(answer)["Seconds"] == "`8s` (yours)"
    note = (
        f"Your saved size `{size}` is no longer offered by the video service, so the server"
        f" default `{offer.default_size}` is used. Choose another with /settings."
    )
    assert fields(answer)["Note"] == note
    assert (await h.store.get_member_defaults(h.guild.id, h.alice.id)).size == size  # kept

    ix = await h.discord.slash(h.alice, h.channel, "sora", {"prompt": "a quiet harbour"})
    card = await ix.original_message(timeout=10)
    assert not ix.is_ephemeral
    task = await h.store.get(video_id_of(card))
    assert (task.seconds, task.size) == (8, offer.default_size)
    told = await h.discord.wait_until(
        lambda: next((m for m in ix.followups if m.ephemeral and m.content), None)
    )
    assert told.content == note and told.visible_to == h.alice.id

    given = await h.discord.slash(
        h.alice, h.channel, "sora", {"prompt": "a harbour", "size": offer.default_size}
    )
    await given.original_message(timeout=10)
    await h.wait_for(lambda: h.upstream.count("create") == 2, what="the second create")
    assert not [m for m in given.followups if m.ephemeral]  # the size was given: no note


async def test_settings_are_per_server(harness):
    h = harness
    offer = h.bot.service.options
    model = next(m for m in offer.models if m != offer.default_model)
    theirs = h.discord.add_guild("Another team")
    their_channel = h.discord.add_channel(theirs, "general")
    await h.wait_for(lambda: h.bot.get_guild(theirs.id) is not None, what="the new guild")
    owner = h.discord.owner  # a member of both servers

    await settings(h, owner, {"model": model})
    elsewhere = fields(await settings(h, owner, channel=their_channel))
    assert elsewhere["Model"] == f"`{offer.default_model}` (server default)"
    assert (await made(h, owner, {"prompt": "there"}, their_channel))[0] == offer.default_model
    assert (await made(h, owner, {"prompt": "here"}))[0] == model
    await settings(h, owner, {"reset": True}, channel=their_channel)
    assert fields(await settings(h, owner))["Model"] == f"`{model}` (yours)"


async def test_an_image_must_match_the_members_default_size(harness):
    h = harness
    offer = h.bot.service.options
    size = next(s for s in offer.sizes if s != offer.default_size)
    width, height = (int(n) for n in offer.default_size.split("x"))
    await settings(h, h.alice, {"size": size})
    image = FakeAttachment("frame.png", "image/png", png(width, height), width, height)
    ix = await h.discord.slash(
        h.alice, h.channel, "sora", {"prompt": "from this frame"}, attachments=[image]
    )
    expected = (
        f"The image is {offer.default_size}; it must be exactly {size} to match the video size."
    )
    assert await ephemeral_answer(h, ix) == expected
    assert h.upstream.count("create") == 0
