"""Bad input, one row per input: the exact private answer, and proof nothing was spent.

Every row runs through the real bot and the emulators. A refused row must answer the author
with exactly ``answer`` in a message only they can see, while the database and the Videos API
see nothing. An accepted row (``answer=None``: odd but valid input, such as ``@everyone`` in a
prompt) must create exactly one task and one upstream job — and no message the bot sends may
ping anyone but the author. ``crafted`` rows send what Discord's client would not let a user
pick (values outside an option's choices), as a modified client or a stale command
registration could; the bot checks them itself.

The README's "What happens when…" section shows this table.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bench.chaos_world import task_marker
from bot.emulators.fake_discord import FakeAttachment
from bot.emulators.fake_upstream import RecordedRequest
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import ephemeral_answer, result_post, submit, video_id_of
from tests.subprocess_bot import crafted_slash

pytestmark = pytest.mark.asyncio(loop_scope="module")


def png(width: int, height: int, *, padding: int = 0) -> bytes:
    """A PNG header (all the bot reads) of the given size, padded to a file size."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\0" * padding


MB = 1024 * 1024
NOT_REMIXABLE = "only a finished video can be remixed."
NOT_AN_ID = "is not a video id. Ids look like `k7q2mx`."


@dataclass(frozen=True)
class Row:
    """One input and what the author must see. ``{name}`` placeholders are filled per world."""

    case: str
    command: str
    options: dict[str, Any]
    answer: str | None  # None: accepted, exactly one task
    image: FakeAttachment | None = None
    crafted: bool = False
    stored_prompt: str | None = None  # accepted rows: the prompt as stored and sent upstream
    notes: list[str] = field(default_factory=list)


ROWS: list[Row] = [
    # --- prompts ---------------------------------------------------------------------------
    Row(
        "empty prompt", "sora", {"prompt": ""}, "The prompt is empty. Describe the video you want."
    ),
    Row(
        "whitespace-only prompt",
        "sora",
        {"prompt": "  \t  "},
        "The prompt is empty. Describe the video you want.",
    ),
    Row(
        "newlines-only prompt",
        "sora",
        {"prompt": "\n\n\n"},
        "The prompt is empty. Describe the video you want.",
    ),
    Row(
        "zero-width characters only",
        "sora",
        {"prompt": "\u200b\u200c\u200d\ufeff"},
        "The prompt is empty. Describe the video you want.",
    ),
    Row(
        "prompt of 4001 characters",
        "sora",
        {"prompt": "a " * 2000 + "b"},
        "The prompt is 4001 characters long; the limit is 4000.",
    ),
    Row(
        "single word of 4001 characters",
        "sora",
        {"prompt": "w" * 4001},
        "The prompt is 4001 characters long; the limit is 4000.",
    ),
    Row(
        "right-to-left override",
        "sora",
        {"prompt": "a cat \u202eexe.gnp"},
        "The prompt contains invisible text-direction characters. Remove them and try again.",
    ),
    Row(
        "left-to-right isolate",
        "sora",
        {"prompt": "a \u2066dog\u2069 runs"},
        "The prompt contains invisible text-direction characters. Remove them and try again.",
    ),
    Row(
        "control character (bell)",
        "sora",
        {"prompt": "a bell \x07 rings"},
        "The prompt contains control characters. Remove them and try again.",
    ),
    Row(
        "escape sequence",
        "sora",
        {"prompt": "\x1b[31mred\x1b[0m"},
        "The prompt contains control characters. Remove them and try again.",
    ),
    Row(
        "banned word",
        "sora",
        {"prompt": "so much GORE here"},
        "The prompt contains a word this server does not allow: `gore`.",
    ),
    Row(
        "remix prompt empty",
        "remix",
        {"video_id": "{parent}", "prompt": " "},
        "The prompt is empty. Describe the video you want.",
    ),
    Row(
        "remix prompt of 4001 characters",
        "remix",
        {"video_id": "{parent}", "prompt": "r" * 4001},
        "The prompt is 4001 characters long; the limit is 4000.",
    ),
    Row(
        "remix prompt with RTL override",
        "remix",
        {"video_id": "{parent}", "prompt": "\u202enight"},
        "The prompt contains invisible text-direction characters. Remove them and try again.",
    ),
    # accepted prompts: valid, but must not ping anyone or change what is shown
    Row(
        "@everyone in the prompt",
        "sora",
        {"prompt": "@everyone look at this"},
        None,
        stored_prompt="@everyone look at this",
    ),
    Row(
        "@here in the prompt",
        "sora",
        {"prompt": "hey @here a boat"},
        None,
        stored_prompt="hey @here a boat",
    ),
    Row(
        "role mention in the prompt",
        "sora",
        {"prompt": "ping <@&{role}> now"},
        None,
        stored_prompt="ping <@&{role}> now",
    ),
    Row(
        "member mention in the prompt",
        "sora",
        {"prompt": "a portrait of <@{bob}>"},
        None,
        stored_prompt="a portrait of <@{bob}>",
    ),
    Row(
        "markdown and a masked link",
        "sora",
        {"prompt": "**bold** [click](https://evil.example) ||x|| `y`"},
        None,
        stored_prompt="**bold** [click](https://evil.example) ||x|| `y`",
    ),
    Row("zero-width inside a word", "sora", {"prompt": "a c\u200bat"}, None, stored_prompt="a cat"),
    Row(
        "single word of 4000 characters",
        "sora",
        {"prompt": "w" * 4000},
        None,
        stored_prompt="w" * 4000,
    ),
    Row(
        "@everyone in a remix prompt",
        "remix",
        {"video_id": "{parent}", "prompt": "@everyone again"},
        None,
        stored_prompt="@everyone again",
    ),
    # --- video ids ---------------------------------------------------------------------------
    Row(
        "unknown id",
        "remix",
        {"video_id": "zzzzzz", "prompt": "x"},
        "No video `zzzzzz` in this server.",
    ),
    Row(
        "another server's id",
        "remix",
        {"video_id": "{other}", "prompt": "x"},
        "No video `{other}` in this server.",
    ),
    Row(
        "another server's id, upper case with #",
        "remix",
        {"video_id": "#{OTHER}", "prompt": "x"},
        "No video `{other}` in this server.",
    ),
    Row("wrong format", "remix", {"video_id": "hello!", "prompt": "x"}, f"`hello!` {NOT_AN_ID}"),
    Row("id too short", "remix", {"video_id": "abc", "prompt": "x"}, f"`abc` {NOT_AN_ID}"),
    Row(
        "id of 100 characters",
        "remix",
        {"video_id": "x" * 100, "prompt": "x"},
        f"`{'x' * 20}` {NOT_AN_ID}",
    ),
    Row(
        "upstream job id pasted",
        "remix",
        {"video_id": "video_68e4a1b2c3d4", "prompt": "x"},
        f"`video_68e4a1b2c3d4` {NOT_AN_ID}",
    ),
    Row("empty id", "remix", {"video_id": "", "prompt": "x"}, f"`(empty)` {NOT_AN_ID}"),
    Row(
        "backticks in the id",
        "remix",
        {"video_id": "``` `rm` ```", "prompt": "x"},
        f"`''' 'rm' '''` {NOT_AN_ID}",
    ),
    Row(
        "role mention as the id",
        "remix",
        {"video_id": "<@&123456789012345678>", "prompt": "x"},
        f"`<@&12345678901234567` {NOT_AN_ID}",
    ),
    Row(
        "parent still queued",
        "remix",
        {"video_id": "{running}", "prompt": "x"},
        f"Video `{{running}}` is still queued; {NOT_REMIXABLE}",
    ),
    Row(
        "parent failed",
        "remix",
        {"video_id": "{failed}", "prompt": "x"},
        f"Video `{{failed}}` failed; {NOT_REMIXABLE}",
    ),
    Row(
        "parent cancelled",
        "remix",
        {"video_id": "{cancelled}", "prompt": "x"},
        f"Video `{{cancelled}}` was cancelled; {NOT_REMIXABLE}",
    ),
    # --- options -----------------------------------------------------------------------------
    Row(
        "seconds 5",
        "sora",
        {"prompt": "a boat", "seconds": 5},
        "Seconds must be one of: 4, 8, 12.",
        crafted=True,
    ),
    Row(
        "seconds 0",
        "sora",
        {"prompt": "a boat", "seconds": 0},
        "Seconds must be one of: 4, 8, 12.",
        crafted=True,
    ),
    Row(
        "seconds -4",
        "sora",
        {"prompt": "a boat", "seconds": -4},
        "Seconds must be one of: 4, 8, 12.",
        crafted=True,
    ),
    Row(
        "size 1x1",
        "sora",
        {"prompt": "a boat", "size": "1x1"},
        "Size must be one of: 720x1280, 1280x720, 1024x1792, 1792x1024.",
        crafted=True,
    ),
    Row(
        "model unknown",
        "sora",
        {"prompt": "a boat", "model": "sora-9"},
        "Model must be one of: sora-2, sora-2-pro.",
        crafted=True,
    ),
    Row(
        "variants 0",
        "remix",
        {"video_id": "{parent}", "prompt": "x", "variants": 0},
        "Variants must be between 1 and 4.",
    ),
    Row(
        "variants 9",
        "remix",
        {"video_id": "{parent}", "prompt": "x", "variants": 9},
        "Variants must be between 1 and 4.",
    ),
    # --- attachments -------------------------------------------------------------------------
    Row(
        "image that is a text file",
        "sora",
        {"prompt": "from this frame"},
        "The image must be a PNG, JPEG or WebP file.",
        image=FakeAttachment("notes.txt", "text/plain", b"hello"),
    ),
    Row(
        "image that is a PDF",
        "sora",
        {"prompt": "from this frame"},
        "The image must be a PNG, JPEG or WebP file.",
        image=FakeAttachment("frame.pdf", "application/pdf", b"%PDF-1.7"),
    ),
    Row(
        "image too large (11 MB)",
        "sora",
        {"prompt": "from this frame"},
        "The image is 11.0 MB; the limit is 10 MB.",
        image=FakeAttachment(
            "big.png", "image/png", png(1280, 720, padding=11 * MB - 33), 1280, 720
        ),
    ),
    Row(
        "image of wrong dimensions",
        "sora",
        {"prompt": "from this frame"},
        "The image is 640x480; it must be exactly 1280x720 to match the video size.",
        image=FakeAttachment("small.png", "image/png", png(640, 480), 640, 480),
    ),
    Row(
        "wrong dimensions, not declared",
        "sora",
        {"prompt": "from this frame"},
        "The image is 640x480; it must be exactly 1280x720 to match the video size.",
        image=FakeAttachment("small.png", "image/png", png(640, 480)),
    ),
    Row(
        "corrupt image",
        "sora",
        {"prompt": "from this frame"},
        "The image could not be read. Upload a PNG, JPEG or WebP file.",
        image=FakeAttachment("broken.png", "image/png", b"\x89PNG broken bytes", 1280, 720),
    ),
    Row(
        "empty image file",
        "sora",
        {"prompt": "from this frame"},
        "The image could not be read. Upload a PNG, JPEG or WebP file.",
        image=FakeAttachment("empty.png", "image/png", b""),
    ),
]


@dataclass
class World:
    h: BotHarness
    ids: dict[str, str]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory) -> AsyncIterator[World]:
    """One bot for the whole table, with videos in every state and a second server."""

    def configure(config):
        limits = dataclasses.replace(config.limits, banned_words=("gore",))
        return dataclasses.replace(config, limits=limits)

    async with BotHarness(
        tmp_path_factory.mktemp("bad-input"), job_seconds=1.0, configure=configure
    ) as h:
        role = h.discord.add_role(h.guild, "Moderators")
        other_guild = h.discord.add_guild("Another team")
        other_channel = h.discord.add_channel(other_guild, "general")
        carol = h.discord.add_member(other_guild, "carol")
        await h.wait_for(lambda: h.bot.get_guild(other_guild.id) is not None, what="guild")
        ids = {"role": str(role.id), "bob": str(h.bob.id)}
        ids["parent"] = await _video(h, "a finished parent", wait=True)
        ids["running"] = await _video(h, "rendering forever [fault:stuck]")
        ids["failed"] = await _video(h, "refused later [fault:moderation]", wait=True)
        ids["cancelled"] = await _video(h, "cancelled by an admin [fault:stuck]")
        await h.store.cancel(ids["cancelled"], by_user_id=h.admin.id)
        ix = await h.discord.slash(carol, other_channel, "sora", {"prompt": "their video"})
        ids["other"] = video_id_of(await ix.original_message(timeout=10))
        ids["OTHER"] = ids["other"].upper()
        yield World(h, ids)
        assert h.discord.contract_violations == []


async def _video(h: BotHarness, prompt: str, *, wait: bool = False) -> str:
    _, card = await submit(h, h.alice, "sora", {"prompt": prompt})
    video_id = video_id_of(card)
    if wait:
        await result_post(h, video_id)
    return video_id


def _fill(value: Any, ids: dict[str, str]) -> Any:
    return value.format(**ids) if isinstance(value, str) and "{" in value else value


async def _counts(w: World) -> tuple[int, int]:
    rows = 0
    for guild in w.h.discord._state.guilds.values():  # every server, ours and theirs
        rows += len(await w.h.store.guild_history(guild.id, limit=100_000))
    return rows, _upstream_jobs(w.h)


def _paid_requests(h: BotHarness) -> list[RecordedRequest]:
    """The create and remix requests the upstream received, in order."""
    return [r for r in h.upstream.requests if r.op in ("create", "remix")]


def _upstream_jobs(h: BotHarness) -> int:
    return len(_paid_requests(h))


@pytest.mark.parametrize("row", ROWS, ids=[r.case for r in ROWS])
async def test_bad_input_gets_its_answer_and_spends_nothing(world, row):
    h, ids = world.h, world.ids
    options = {k: _fill(v, ids) for k, v in row.options.items()}
    rows_before, upstream_before = await _counts(world)
    if row.crafted:
        ix = await crafted_slash(h.discord, h.alice, h.channel, row.command, options)
    else:
        images = [row.image] if row.image else []
        ix = await h.discord.slash(h.alice, h.channel, row.command, options, attachments=images)

    if row.answer is None:
        card = await ix.original_message(timeout=10)
        assert not card.ephemeral and card.embeds, card.content
        video_id = video_id_of(card)
        task = await h.store.get(video_id)
        assert task.prompt == _fill(row.stored_prompt, ids)
        # The card can appear before the create reaches the upstream, and status polls of
        # other videos interleave: wait for this task's own create, then read that request.
        await h.wait_for(
            lambda: _upstream_jobs(h) == upstream_before + 1, what="the upstream create"
        )
        [sent] = _paid_requests(h)[upstream_before:]
        assert _fill(row.stored_prompt, ids).encode() in sent.body
        await result_post(h, video_id)
        assert await _counts(world) == (rows_before + 1, upstream_before + 1)
        return

    answer = await ephemeral_answer(h, ix)
    assert answer == _fill(row.answer, ids)
    [private] = [m for m in [ix.original, *ix.followups] if m and m.content == answer]
    assert private.ephemeral and private.visible_to == h.alice.id
    assert not [m for m in h.discord.channel_messages(h.channel) if m.interaction_id == ix.id]
    assert await _counts(world) == (rows_before, upstream_before)


async def test_no_message_of_the_bot_can_ping_anyone_but_the_author(world):
    """Runs after the table: every card, result and answer, including the @everyone rows."""
    h = world.h
    bot_messages = [
        m
        for m in h.discord._state.messages.values()  # every channel and guild
        if m.author_id == h.discord.bot_user_id
    ]
    assert len(bot_messages) > len(ROWS)
    everyone_prompts = [m for m in bot_messages if "@everyone" in str(m.embeds) + m.content]
    assert everyone_prompts, "the @everyone rows produced no message to check"
    for message in bot_messages:
        assert not message.mention_everyone, message
        assert message.mention_role_ids == [], message
        allowed = message.allowed_mentions or {}
        assert "everyone" not in allowed.get("parse", []) and "roles" not in allowed.get(
            "parse", []
        )
        authors = {t.user_id for t in await _tasks_mentioned(world, message)}
        assert set(message.mention_user_ids) <= authors, message


async def _tasks_mentioned(w: World, message) -> list:
    """The tasks whose author this message may ping (the task its footer names)."""
    marker = task_marker(message)
    task = await w.h.store.get(marker) if marker else None
    return [task] if task else []


async def test_every_row_is_in_the_readme():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## What happens when", 1)[1].split("\n## ", 1)[0]
    missing = [row.case for row in ROWS if f"| {row.case} |" not in section]
    assert not missing, f"README 'What happens when…' lacks rows: {missing}"
    assert len(ROWS) >= 40
