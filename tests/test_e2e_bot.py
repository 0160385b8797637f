"""End-to-end: the real bot (discord.py, SQLite, APScheduler, httpx) through both emulators.

Issue #4's scenarios: /sora -> card -> progress edits -> threaded result with the MP4;
too large -> link; /remix threaded to the parent's result with lineage stored; the Remix
button and modal; a chain of depth 3; a result after the interaction token expired; a
restart mid-task; the user-error paths.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

import pytest

from bot.core.models import DeliveryState, TaskStatus
from bot.core.video_spec import VIDEO_SIZES
from bot.emulators.fake_discord import FakeAttachment, ManualClock, Permission
from bot.emulators.fake_discord.gateway import Intent
from bot.emulators.fake_discord.permissions import DEFAULT_BOT_PERMISSIONS
from bot.emulators.fake_upstream import Fault
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import (
    delivered,
    ephemeral_answer,
    posts_for,
    refused,
    result_post,
    submit,
    video_id_of,
)
from tests.e2e_helpers import harness as harness

pytestmark = pytest.mark.asyncio


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    chunk = (
        struct.pack(">I", len(ihdr))
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )
    return b"\x89PNG\r\n\x1a\n" + chunk


async def finished_video(h: BotHarness, prompt: str) -> tuple[str, object]:
    """Run /sora to completion; return our id and the result post."""
    _, card = await submit(h, h.alice, "sora", {"prompt": prompt})
    video_id = video_id_of(card)
    post = await result_post(h, video_id)
    await delivered(h, video_id)
    return video_id, post


async def test_sora_card_progress_and_threaded_result_with_mp4(harness):
    h = harness
    h.upstream.job_seconds = 2.5
    ix, card = await submit(h, h.alice, "sora", {"prompt": "a paper boat @everyone", "seconds": 8})
    assert ix.responded_after < 3.0
    video_id = video_id_of(card)
    first_buttons = [c["custom_id"] for row in card.components for c in row["components"]]
    assert first_buttons == [
        f"sora:lineage:{video_id}",
        f"sora:details:{video_id}",
        f"sora:cancel:{video_id}",  # a running video's card offers Cancel (issue 15)
    ]
    embed = card.embeds[0]
    assert embed["description"] == r"a paper boat \@everyone"  # shown as typed, as text
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Author"] == "alice" and "8s" in fields["Options"]  # her display name

    result = await result_post(h, video_id)
    await delivered(h, video_id)
    assert result.message_reference["message_id"] == str(card.id)
    [attachment] = result.attachments
    assert attachment.filename == f"{video_id}.mp4" and attachment.size == h.upstream.video_bytes
    assert attachment.data[4:8] == b"ftyp"
    assert result.content.startswith(f"<@{h.alice.id}>")
    assert not result.mention_everyone and result.mention_role_ids == []
    assert result.mention_user_ids == [h.alice.id]
    labels = [c["label"] for row in result.components for c in row["components"]]
    assert "Remix" in labels

    # The result goes out first; the card's last edit follows in the same posting round.
    def card_done() -> bool:
        fields = h.discord.get_message(card.id).embeds[0]["fields"]
        return fields[0]["value"] == "Done"

    await h.wait_for(card_done, what="the card to say Done")
    card_now = h.discord.get_message(card.id)
    seen = [
        e["fields"][0]["value"] for rev in card_now.edits for e in rev.embeds if e.get("fields")
    ]
    seen.append(card_now.embeds[0]["fields"][0]["value"])
    assert any(s.startswith("Generating") for s in seen), seen
    assert seen[-1] == "Done"
    card_buttons = [c["custom_id"] for row in card_now.components for c in row["components"]]
    assert card_buttons == [
        f"sora:remix:{video_id}",
        f"sora:reroll:{video_id}",
        f"sora:pick:{video_id}",
        f"sora:lineage:{video_id}",
        f"sora:details:{video_id}",
    ]

    task = await h.store.get(video_id)
    assert task.status is TaskStatus.COMPLETED and task.delivery_state is DeliveryState.DELIVERED
    assert task.result_message_id == result.id and task.card_message_id == card.id
    assert task.metadata == {"type": "generate"}
    assert h.upstream.count("create") == 1


async def test_result_too_large_to_attach_is_linked(tmp_path):
    async with BotHarness(
        tmp_path, job_seconds=0.8, upstream_options={"video_url": True, "video_bytes": 40_000}
    ) as h:
        h.discord.set_upload_limit(h.guild, 20_000)
        _, card = await submit(h, h.alice, "sora", {"prompt": "a very long take"})
        video_id = video_id_of(card)
        result = await result_post(h, video_id)
        assert result.attachments == []
        assert "too large to attach" in result.content and "http://127.0.0.1" in result.content
        task = await delivered(h, video_id)
        assert task.result_attached is False and task.result_url in result.content


async def test_remix_replies_to_parent_result_and_stores_lineage(harness):
    h = harness
    parent_id, parent_result = await finished_video(h, "a fox in the snow")
    _, card = await submit(
        h, h.bob, "remix", {"video_id": parent_id, "prompt": "a fox in the rain"}
    )
    child_id = video_id_of(card)
    assert "Remix of" in {f["name"] for f in card.embeds[0]["fields"]}
    child_result = await result_post(h, child_id)
    assert child_result.message_reference["message_id"] == str(parent_result.id)
    parent = await h.store.get(parent_id)
    child = await h.store.get(child_id)
    assert child.metadata == {
        "type": "remix",
        "remix_from": parent_id,
        "remix_from_external": parent.upstream_id,
    }
    assert (child.parent_id, child.root_id, child.depth) == (parent_id, parent_id, 1)
    assert (child.model, child.seconds, child.size) == (parent.model, parent.seconds, parent.size)
    assert h.upstream.jobs[child.upstream_id].remixed_from == parent.upstream_id


async def test_remix_button_opens_prefilled_modal_and_remixes(harness):
    h = harness
    parent_id, parent_result = await finished_video(h, "a lighthouse at dusk")
    click = await h.discord.click(h.bob, parent_result, f"sora:remix:{parent_id}")
    await click.initial_response()
    modal = click.modal
    assert modal is not None
    text_inputs = [
        c for row in modal["components"] for c in row.get("components", [row.get("component", row)])
    ]
    assert any(c.get("value") == "a lighthouse at dusk" for c in text_inputs)
    submitted = await h.discord.submit_modal(
        h.bob, h.channel, modal["custom_id"], {"remix_prompt": "a lighthouse in a storm"}
    )
    await submitted.initial_response()
    card = await submitted.original_message(timeout=10)
    child_id = video_id_of(card)
    child_result = await result_post(h, child_id)
    assert child_result.message_reference["message_id"] == str(parent_result.id)
    child = await h.store.get(child_id)
    assert child.prompt == "a lighthouse in a storm" and child.parent_id == parent_id
    assert child.user_id == h.bob.id


async def test_chain_of_depth_three_threads_each_result_to_its_parent(harness):
    h = harness
    a_id, a_result = await finished_video(h, "a seed")
    _, b_card = await submit(h, h.bob, "remix", {"video_id": a_id, "prompt": "a sprout"})
    b_id = video_id_of(b_card)
    b_result = await result_post(h, b_id)
    _, c_card = await submit(h, h.alice, "remix", {"video_id": b_id, "prompt": "a tree"})
    c_id = video_id_of(c_card)
    c_result = await result_post(h, c_id)
    assert b_result.message_reference["message_id"] == str(a_result.id)
    assert c_result.message_reference["message_id"] == str(b_result.id)
    c = await h.store.get(c_id)
    assert (c.root_id, c.depth, c.parent_id) == (a_id, 2, b_id)
    assert [t.id for t in await h.store.ancestors(c_id, guild_id=h.guild.id)] == [b_id, a_id]


async def test_result_after_interaction_token_expired_is_still_posted(tmp_path):
    clock = ManualClock(start=1_800_000_000.0)
    async with BotHarness(tmp_path, job_seconds=2.0, discord_clock=clock) as h:
        _, card = await submit(h, h.alice, "sora", {"prompt": "a very slow render"})
        video_id = video_id_of(card)
        clock.advance(16 * 60)
        result = await result_post(h, video_id)
        assert result.message_reference["message_id"] == str(card.id)
        await delivered(h, video_id)
        assert h.discord.get_message(card.id).embeds[0]["fields"][0]["value"] == "Done"
        refused = [call for call in h.discord.rest_log if call.status == 401]
        # The result never uses the interaction token. Card edits do within its 15 minutes;
        # here Discord's clock jumped ahead of the bot's, so one edit meets the expired token,
        # and the card is edited through the channel from then on.
        assert all(call.path.startswith("/webhooks/") for call in refused)
        assert len(refused) <= 1
        patches = [c for c in h.discord.rest_log if c.method == "PATCH"]
        assert patches[-1].path == f"/channels/{h.channel.id}/messages/{card.id}"


async def test_restart_mid_task_delivers_exactly_once(tmp_path):
    async with BotHarness(tmp_path, job_seconds=2.0) as h:
        _, card = await submit(h, h.alice, "sora", {"prompt": "survives a restart"})
        video_id = video_id_of(card)
        writes = h.discord.command_writes
        await h.restart()
        result = await result_post(h, video_id)
        assert result.message_reference["message_id"] == str(card.id)
        await delivered(h, video_id)
        await h.restart()
        await h.bot.poller.tick()
        assert len(posts_for(h, video_id)) == 1
        assert h.upstream.count("create") == 1
        assert h.discord.command_writes == writes


async def test_failure_edits_card_and_pings_only_the_author(harness):
    h = harness
    _, card = await submit(
        h, h.alice, "sora", {"prompt": "forbidden thing [fault:moderation] @everyone"}
    )
    video_id = video_id_of(card)
    notice = await result_post(h, video_id)
    assert notice.message_reference["message_id"] == str(card.id)
    assert f"<@{h.alice.id}> your video `{video_id}` failed" in notice.content
    assert "content policy" in notice.content
    assert notice.mention_user_ids == [h.alice.id] and not notice.mention_everyone
    await h.wait_for(
        lambda: h.discord.get_message(card.id).embeds[0]["fields"][0]["value"].startswith("Failed")
    )


async def test_autocomplete_offers_recent_completed_videos_of_this_guild(harness):
    h = harness
    video_id, _ = await finished_video(h, "an orange cat on a windowsill")
    choices = await h.discord.autocomplete(
        h.bob, h.channel, "remix", {"video_id": ""}, focused="video_id"
    )
    assert choices and choices[0]["value"] == video_id
    assert "orange cat" in choices[0]["name"]
    by_prefix = await h.discord.autocomplete(
        h.bob, h.channel, "remix", {"video_id": video_id[:3]}, focused="video_id"
    )
    assert [c["value"] for c in by_prefix] == [video_id]
    other_guild = h.discord.add_guild("Other team")
    other_channel = h.discord.add_channel(other_guild, "general")
    stranger = h.discord.add_member(other_guild, "stranger")
    await h.wait_for(lambda: h.bot.get_guild(other_guild.id) is not None, what="guild create")
    elsewhere = await h.discord.autocomplete(
        stranger, other_channel, "remix", {"video_id": ""}, focused="video_id"
    )
    assert elsewhere == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"video_id": "zzzzzz", "prompt": "x"}, "No video `zzzzzz` in this server."),
        ({"video_id": "not an id!", "prompt": "x"}, "is not a video id"),
        ({"video_id": "PARENT", "prompt": "   "}, "The prompt is empty"),
        ({"video_id": "PARENT", "prompt": "y" * 4001}, "the limit is 4000"),
    ],
)
async def test_remix_user_errors_are_ephemeral_and_write_nothing(harness, options, expected):
    h = harness
    parent_id, _ = await finished_video(h, "a parent video")
    options = {k: (parent_id if v == "PARENT" else v) for k, v in options.items()}
    before = await h.store.guild_history(h.guild.id, limit=100)
    text = await refused(h, h.bob, "remix", options)
    assert expected in text
    assert await h.store.guild_history(h.guild.id, limit=100) == before
    assert h.upstream.count("remix") == 0


async def test_remix_of_unfinished_and_foreign_videos_is_refused(harness):
    h = harness
    h.upstream.job_seconds = 30
    _, card = await submit(h, h.alice, "sora", {"prompt": "still rendering"})
    running_id = video_id_of(card)
    text = await refused(h, h.bob, "remix", {"video_id": running_id, "prompt": "too soon"})
    assert (
        text == f"Video `{running_id}` is still queued; only a finished video can be remixed."
        or text
        == (f"Video `{running_id}` is still being generated; only a finished video can be remixed.")
    )

    other_guild = h.discord.add_guild("Other team")
    other_channel = h.discord.add_channel(other_guild, "general")
    stranger = h.discord.add_member(other_guild, "stranger")
    await h.wait_for(lambda: h.bot.get_guild(other_guild.id) is not None, what="guild create")
    ix = await h.discord.slash(
        stranger, other_channel, "remix", {"video_id": running_id, "prompt": "steal"}
    )
    assert await ephemeral_answer(h, ix) == f"No video `{running_id}` in this server."
    assert h.upstream.count("remix") == 0


async def test_upstream_refusal_removes_card_and_explains_privately(harness):
    h = harness
    h.upstream.inject("create", Fault.MODERATION_SUBMIT)
    text = await refused(h, h.alice, "sora", {"prompt": "refused at submit"})
    assert "content policy" in text
    public = [m for m in h.discord.channel_messages(h.channel) if not m.ephemeral]
    assert public == []
    [task] = await h.store.guild_history(h.guild.id, limit=10)
    assert task.status is TaskStatus.FAILED and task.delivery_state is DeliveryState.NONE


async def test_missing_permission_is_named_before_anything_happens(harness):
    h = harness
    h.discord.set_bot_permissions(h.channel, DEFAULT_BOT_PERMISSIONS & ~Permission.ATTACH_FILES)
    text = await refused(h, h.alice, "sora", {"prompt": "no files allowed here"})
    assert "**Attach Files**" in text
    assert h.upstream.count("create") == 0
    assert await h.store.guild_history(h.guild.id, limit=10) == []


@pytest.mark.parametrize(
    ("attachment", "size", "expected"),
    [
        (FakeAttachment("frame.png", "image/png", png(1280, 720), 1280, 720), "1280x720", None),
        (
            FakeAttachment("frame.png", "image/png", png(640, 480), 640, 480),
            "1280x720",
            "must be exactly 1280x720",
        ),
        (FakeAttachment("notes.txt", "text/plain", b"hello"), "1280x720", "PNG, JPEG or WebP"),
        (
            FakeAttachment("broken.png", "image/png", b"\x89PNG broken", 1280, 720),
            "1280x720",
            "could not be read",
        ),
    ],
)
async def test_reference_image_is_validated(harness, attachment, size, expected):
    h = harness
    options = {"prompt": "from this first frame", "size": size}
    if expected is None:
        _, card = await submit(h, h.alice, "sora", options, attachments=[attachment])
        job = h.upstream.jobs[(await h.store.get(video_id_of(card))).upstream_id]
        assert job is not None
        create = next(r for r in h.upstream.requests if r.op == "create")
        assert b"input_reference" in create.body
        return
    text = await refused(h, h.alice, "sora", options, attachments=[attachment])
    assert expected in text
    assert h.upstream.count("create") == 0


async def test_commands_are_synced_once_not_on_every_start(tmp_path):
    async with BotHarness(tmp_path) as h:
        first = h.discord.command_writes
        assert first >= 1
        commands = {c["name"]: c for c in h.discord.registered_commands}
        assert {"sora", "remix"} <= set(commands)
        options = {o["name"]: o for o in commands["sora"]["options"]}
        assert [c["value"] for c in options["seconds"]["choices"]] == [4, 8, 12]
        assert [c["value"] for c in options["size"]["choices"]] == list(VIDEO_SIZES)
        assert options["prompt"]["max_length"] == 4000
        await h.restart()
        await h.restart()
        assert h.discord.command_writes == first


async def test_dev_guild_copies_are_removed_when_dev_guild_id_goes_back_to_0(tmp_path):
    async with BotHarness(tmp_path) as h:

        def scopes() -> dict[str | None, set[str]]:
            found: dict[str | None, set[str]] = {}
            for command in h.discord.registered_commands:
                found.setdefault(command.get("guild_id"), set()).add(command["name"])
            return found

        global_names = scopes()[None]
        h.config = dataclasses.replace(
            h.config, discord=dataclasses.replace(h.config.discord, dev_guild_id=h.guild.id)
        )
        await h.restart()
        assert scopes() == {None: global_names, str(h.guild.id): global_names}
        h.config = dataclasses.replace(
            h.config, discord=dataclasses.replace(h.config.discord, dev_guild_id=0)
        )
        await h.restart()
        assert scopes() == {None: global_names}
        writes = h.discord.command_writes
        await h.restart()
        assert h.discord.command_writes == writes


async def test_the_bot_subscribes_to_the_guilds_intent_only(harness):
    assert harness.discord.bot_intents == Intent.GUILDS


async def test_a_remix_form_opened_before_a_restart_is_answered_after_it(tmp_path):
    async with BotHarness(tmp_path) as h:
        parent_id, parent_result = await finished_video(h, "a lighthouse at dawn")
        click = await h.discord.click(h.bob, parent_result, f"sora:remix:{parent_id}")
        await click.initial_response()
        assert click.modal is not None
        await h.restart()
        submitted = await h.discord.submit_modal(
            h.bob, h.channel, click.modal["custom_id"], {"remix_prompt": "at dusk instead"}
        )
        await submitted.initial_response()
        card = await submitted.original_message(timeout=10)
        child = await h.store.get(video_id_of(card))
        assert (child.parent_id, child.prompt, child.user_id) == (
            parent_id,
            "at dusk instead",
            h.bob.id,
        )
        await result_post(h, child.id)


async def test_open_remix_forms_hold_nothing_in_memory(harness):
    h = harness
    parent_id, parent_result = await finished_video(h, "a quiet harbour")
    for _ in range(3):
        click = await h.discord.click(h.alice, parent_result, f"sora:remix:{parent_id}")
        await click.initial_response()
        assert click.modal is not None
    # discord.py's own registry of open modals (read, not changed): the forms left none.
    assert h.bot._connection._view_store._modals == {}


async def test_card_edits_use_the_interactions_own_webhook_while_its_token_lives(harness):
    h = harness
    h.upstream.job_seconds = 2.5
    _, card = await submit(h, h.alice, "sora", {"prompt": "edited through its webhook"})
    video_id = video_id_of(card)
    await result_post(h, video_id)
    await delivered(h, video_id)
    edits = [c for c in h.discord.rest_log if c.method == "PATCH" and c.status < 300]
    assert edits and all(c.path.startswith("/webhooks/") for c in edits), [c.path for c in edits]
    channel_edits = [c for c in edits if c.path.startswith("/channels/")]
    assert channel_edits == []  # the channel's shared bucket is left to the result posts
