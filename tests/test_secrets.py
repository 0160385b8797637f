"""Secrets never leak; one server never sees another's videos; /admin is enforced by the bot.

* A full scenario (reference image, remix, failures whose upstream texts echo the key, admin
  tools, an export file) runs with distinctive token and key values; then every log record
  (DEBUG, discord.py and httpx included), the SQLite files (with ``-wal``/``-shm``), every
  request body, message and file the bot sent to Discord, and every request body sent upstream
  are searched for them.
* Every command and button that takes a video id, used from another server, answers exactly as
  for an id that does not exist, and changes nothing.
* Every /admin subcommand refuses a member without Manage Server even when the request
  bypasses Discord's permission hint (as a modified client could).
"""

from __future__ import annotations

import json
import logging
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.core.models import DeliveryState, TaskStatus
from bot.emulators import harness as harness_module
from bot.emulators.fake_discord import (
    CommandNotAvailable,
    FakeAttachment,
    FakeDiscord,
    FakeInteraction,
    FakeMessage,
    FakeUser,
)
from bot.emulators.fake_upstream import Fault
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import ephemeral_answer, result_post, submit, video_id_of
from tests.subprocess_bot import crafted_slash

pytestmark = pytest.mark.asyncio

DISCORD_TOKEN = "MTE5OTg4Nzc2NjU1NDQz.GdX7qZ.Distinctive-Discord-Token-4d2f8a9e"
API_KEY = "sk-proj-Distinctive-Upstream-Key-9b1e77c3a0"
SECRETS = (DISCORD_TOKEN, API_KEY)


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


@pytest_asyncio.fixture
async def secret_harness(tmp_path, monkeypatch) -> AsyncIterator[BotHarness]:
    """The real bot whose Discord token and API key are the distinctive values above."""
    monkeypatch.setattr(harness_module, "BOT_TOKEN", DISCORD_TOKEN)
    monkeypatch.setattr(harness_module, "API_KEY", API_KEY)
    async with BotHarness(tmp_path, job_seconds=1.0) as h:
        assert h.config.discord.token.reveal() == DISCORD_TOKEN
        assert h.config.upstream.api_key.reveal() == API_KEY
        yield h


def _leaks(text: str | bytes, where: str) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    found = []
    for secret in SECRETS:
        for variant in {secret, secret[:16], secret[-16:]}:
            if variant.encode() in data:
                found.append(f"{where} contains {variant[:6]}…")
    return found


async def test_a_full_scenario_leaks_neither_the_token_nor_the_key(secret_harness, caplog):
    h = secret_harness
    caplog.set_level(logging.DEBUG)

    frame = FakeAttachment("frame.png", "image/png", png(1280, 720), 1280, 720)
    _, card = await submit(h, h.alice, "sora", {"prompt": "from a frame"}, attachments=[frame])
    parent = video_id_of(card)
    await result_post(h, parent)
    _, card = await submit(h, h.bob, "remix", {"video_id": parent, "prompt": "at night"})
    remix = video_id_of(card)
    h.upstream.inject(
        "retrieve",
        Fault.HTTP_ERROR,
        video_id=(await h.store.get(remix)).upstream_id,
        status=400,
        message=f"bad request for key {API_KEY}",
    )
    await result_post(h, remix)

    _, card = await submit(h, h.alice, "sora", {"prompt": "will fail upstream"})
    failing = video_id_of(card)
    h.upstream.fail(
        (await h.store.get(failing)).upstream_id, message=f"relay debug: key={API_KEY} rejected"
    )
    notice = await result_post(h, failing)
    assert "[redacted]" in notice.content

    h.upstream.inject(
        "create", Fault.HTTP_ERROR, status=401, message=f"Incorrect API key provided: {API_KEY}."
    )
    ix = await h.discord.slash(h.alice, h.channel, "sora", {"prompt": "key refused"})
    assert "credentials were refused" in await ephemeral_answer(h, ix)
    h.upstream.inject("create", Fault.MODERATION_SUBMIT)
    ix = await h.discord.slash(h.alice, h.channel, "sora", {"prompt": "refused at submit"})
    assert "content policy" in await ephemeral_answer(h, ix)

    for command, options in (
        ("admin task", {"video_id": failing}),
        ("admin export", {"format": "jsonl"}),
        ("admin stats", {}),
        ("admin history", {}),
    ):
        ix = await h.discord.slash(h.admin, h.channel, command, options)
        await ix.initial_response()
        await h.discord.wait_until(
            lambda ix=ix: ix.original and not ix.original.loading, timeout=10
        )
    db_path = h.config.storage.database
    while_running = {p.name: p.read_bytes() for p in _db_files(db_path)}
    await h.stop_bot()
    after_stop = {p.name: p.read_bytes() for p in _db_files(db_path)}

    problems: list[str] = []
    for record in caplog.records:
        rendered = record.getMessage() + (record.exc_text or "") + str(record.args or "")
        problems += _leaks(rendered, f"log record {record.name}")
    problems += _leaks(caplog.text, "the formatted log")
    for name, data in {
        **while_running,
        **{f"{k} (stopped)": v for k, v in after_stop.items()},
    }.items():
        problems += _leaks(data, name)
    problems += _discord_leaks(h.discord)
    for request in h.upstream.requests:
        problems += _leaks(request.body, f"upstream {request.op} body")
        problems += _leaks(request.path, f"upstream {request.op} path")
        problems += _leaks(request.headers.get("authorization", "").replace(API_KEY, ""), "auth")
        assert request.headers.get("authorization") == f"Bearer {API_KEY}"  # the key's one place
        assert DISCORD_TOKEN not in json.dumps(request.headers)
    assert not problems, "\n".join(problems)
    assert any(r.name.startswith("discord") and r.levelno == logging.DEBUG for r in caplog.records)
    assert any(r.name.startswith("httpx") for r in caplog.records)
    assert {"bot.db", "bot.db-wal"} <= set(while_running)


def _db_files(db_path: Path) -> list[Path]:
    return [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]


def _discord_leaks(emu: FakeDiscord) -> list[str]:
    problems = []
    for call in emu.rest_log:
        where = f"Discord {call.method} {call.path}"
        problems += _leaks(json.dumps(call.body, default=str) + json.dumps(call.query), where)
        problems += _leaks(call.path, where)
    for message in emu._state.messages.values():  # every message in every channel
        text = message.content + json.dumps(message.embeds) + json.dumps(message.components)
        problems += _leaks(text, f"message {message.id}")
    for attachment in emu._state.attachments.values():  # every uploaded file
        problems += _leaks(attachment.data, f"file {attachment.filename}")
    return problems


# --- isolation between servers -----------------------------------------------------------------


async def forged_click(
    emu: FakeDiscord, user: FakeUser, message: FakeMessage, custom_id: str
) -> FakeInteraction:
    """Press a button carrying ``custom_id`` on ``message``, as a forged message could carry it.

    Discord only sends presses of components that are on the message (and discord.py drops
    others), so the button is put on the message first: whatever a button says, the bot must
    check the server itself.
    """
    message.components = [
        {"type": 1, "components": [{"type": 2, "style": 1, "label": "x", "custom_id": custom_id}]}
    ]
    return await emu.click(user, message, custom_id)


ID_COMMANDS = [
    ("remix", {"prompt": "steal it"}),
    ("lineage", {}),
    ("video", {}),
    ("admin task", {}),
    ("admin cancel", {}),
    ("admin retry", {}),
]
BUTTONS = [
    "sora:remix:{id}",
    "sora:reroll:{id}",
    "sora:pick:{id}",
    "sora:lineage:{id}",
    "sora:details:{id}",
    "sora:delete:{id}",
]


async def test_another_servers_video_ids_behave_as_unknown_everywhere(tmp_path):
    async with BotHarness(tmp_path, job_seconds=1.0) as h:
        _, card = await submit(h, h.alice, "sora", {"prompt": "ours, finished"})
        finished = video_id_of(card)
        await result_post(h, finished)
        h.upstream.job_seconds = 3600
        _, card = await submit(h, h.alice, "sora", {"prompt": "ours, failed"})
        failed = video_id_of(card)
        h.upstream.fail((await h.store.get(failed)).upstream_id)
        _, card = await submit(h, h.alice, "sora", {"prompt": "ours, in progress"})
        in_progress = video_id_of(card)

        theirs = h.discord.add_guild("Another team")
        their_channel = h.discord.add_channel(theirs, "general")
        boss = h.discord.add_member(theirs, "their-admin", manage_guild=True)
        await h.wait_for(lambda: h.bot.get_guild(theirs.id) is not None, what="the new guild")
        h.upstream.job_seconds = 1.0
        ix = await h.discord.slash(boss, their_channel, "sora", {"prompt": "their own video"})
        their_video = video_id_of(await ix.original_message(timeout=10))
        their_post = await result_post(h, their_video)
        creates = h.upstream.count("create") + h.upstream.count("remix")
        ours_before = {t.id for t in await h.store.guild_history(h.guild.id, limit=100)}

        for command, options in ID_COMMANDS:
            for ours in (finished, failed, in_progress):
                foreign = await _answer(
                    h,
                    await h.discord.slash(
                        boss, their_channel, command, {"video_id": ours, **options}
                    ),
                )
                unknown = await _answer(
                    h,
                    await h.discord.slash(
                        boss, their_channel, command, {"video_id": "zzzzzz", **options}
                    ),
                )
                assert foreign.replace(ours, "ID") == unknown.replace("zzzzzz", "ID"), (
                    command,
                    foreign,
                )
                assert foreign == f"No video `{ours}` in this server."
        for template in BUTTONS:
            for ours in (finished, in_progress):
                foreign = await _answer(
                    h, await forged_click(h.discord, boss, their_post, template.format(id=ours))
                )
                unknown = await _answer(
                    h,
                    await forged_click(h.discord, boss, their_post, template.format(id="zzzzzz")),
                )
                assert foreign.replace(ours, "ID") == unknown.replace("zzzzzz", "ID"), template
        for command in ("remix", "lineage", "video"):
            choices = await h.discord.autocomplete(
                boss, their_channel, command, {"video_id": ""}, "video_id"
            )
            assert {c["value"] for c in choices} <= {their_video}, (command, choices)
            typed = await h.discord.autocomplete(
                boss, their_channel, command, {"video_id": finished}, "video_id"
            )
            assert typed == [], (command, typed)

        assert {t.id for t in await h.store.guild_history(h.guild.id, limit=100)} == ours_before
        assert not any(t.deleted for t in await h.store.guild_history(h.guild.id, limit=100))
        assert [t.id for t in await h.store.guild_history(theirs.id, limit=100)] == [their_video]
        assert (await h.store.get(in_progress)).status in (
            TaskStatus.QUEUED,
            TaskStatus.IN_PROGRESS,
        )
        assert h.upstream.count("create") + h.upstream.count("remix") == creates
        public_there = [
            m
            for m in h.discord.channel_messages(their_channel)
            if ours_named(m, finished, failed, in_progress)
        ]
        assert public_there == []


def ours_named(message: FakeMessage, *ids: str) -> bool:
    text = message.content + json.dumps(message.embeds)
    return any(i in text for i in ids)


async def _answer(h: BotHarness, ix: FakeInteraction) -> str:
    return await ephemeral_answer(h, ix)


# --- /admin is enforced by the bot, not only by Discord's hint ----------------------------------

ADMIN_COMMANDS = [
    ("admin history", {}),
    ("admin task", {"video_id": "VIDEO"}),
    ("admin export", {"format": "csv"}),
    ("admin stats", {}),
    ("admin cancel", {"video_id": "VIDEO"}),
    ("admin retry", {"video_id": "FAILED"}),
    ("admin limits", {"max_concurrent": 0, "ban_word": "boats"}),
]


async def test_admin_commands_are_refused_server_side_to_members_without_permission(tmp_path):
    async with BotHarness(tmp_path, job_seconds=3600) as h:
        registered = {c["name"] for c in h.discord.registered_commands}
        if "admin" not in registered:
            pytest.skip("/admin is not registered by this build")
        _, card = await submit(h, h.alice, "sora", {"prompt": "a running video"})
        video = video_id_of(card)
        h.upstream.inject("create", Fault.MODERATION_SUBMIT)
        ix = await h.discord.slash(h.alice, h.channel, "sora", {"prompt": "a failed one"})
        await ephemeral_answer(h, ix)
        [failed] = [
            t
            for t in await h.store.guild_history(h.guild.id, limit=10)
            if t.status is TaskStatus.FAILED
        ]
        limits = await h.store.get_limits(h.guild.id)
        creates = h.upstream.count("create")

        with pytest.raises(CommandNotAvailable):
            await h.discord.slash(h.bob, h.channel, "admin stats", {})  # Discord's hint hides it
        expected = (
            "Only members with the **Manage Server** permission or the **Video Admin** role "
            "can use /admin."
        )
        for command, options in ADMIN_COMMANDS:
            filled = {
                k: {"VIDEO": video, "FAILED": failed.id}.get(v, v) if isinstance(v, str) else v
                for k, v in options.items()
            }
            ix = await crafted_slash(h.discord, h.bob, h.channel, command, filled)
            assert await ephemeral_answer(h, ix) == expected, command
            assert not [
                m for m in h.discord.channel_messages(h.channel) if m.interaction_id == ix.id
            ]

        running = await h.store.get(video)
        assert running.status in (TaskStatus.QUEUED, TaskStatus.IN_PROGRESS)
        assert running.delivery_state is DeliveryState.NONE
        assert await h.store.get_limits(h.guild.id) == limits
        assert h.upstream.count("create") == creates
        attachments = [
            a
            for a in h.discord._state.attachments.values()
            if a.filename.endswith((".csv", ".jsonl"))
        ]
        assert attachments == []
