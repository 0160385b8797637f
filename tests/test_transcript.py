"""The channel transcript printer: labels, replies, files, embeds, buttons, who did what."""

from __future__ import annotations

from typing import Any

from bot.emulators.fake_discord.models import FakeMessage, MessageFlag, StoredAttachment
from bot.emulators.transcript import (
    describe_click,
    describe_command,
    describe_modal,
    human_size,
    message_labels,
    render_transcript,
)

BOT, ALICE, BOB = 100, 201, 202
NAMES = {BOT: "sora-bot", ALICE: "alice", BOB: "bob"}


def message(mid: int, author: int = BOT, **fields: Any) -> FakeMessage:
    return FakeMessage(id=mid, channel_id=1, guild_id=2, author_id=author, created_at=0.0, **fields)


def reply_to(mid: int) -> dict[str, Any]:
    return {"type": 0, "message_id": str(mid), "channel_id": "1", "guild_id": "2"}


def command_meta(interaction_id: int, user: int, name: str) -> dict[str, Any]:
    return {
        "id": str(interaction_id),
        "type": 2,
        "user": {"id": str(user), "username": "x"},
        "name": name,
    }


def mp4(size: int) -> StoredAttachment:
    return StoredAttachment(
        id=9, filename="k7q2mx.mp4", content_type="video/mp4", data=b"\0" * size, url="http://x"
    )


REMIX_ROW = [
    {
        "type": 1,
        "components": [
            {
                "type": 2,
                "style": 1,
                "label": "Remix",
                "emoji": {"name": "🔁"},
                "custom_id": "sora:remix:k7q2mx",
            },
            {
                "type": 2,
                "style": 2,
                "label": "Details",
                "custom_id": "sora:details:k7q2mx",
                "disabled": True,
            },
        ],
    }
]


def test_replies_are_labelled_by_the_message_they_answer():
    card = message(10, content="card", interaction_metadata=command_meta(7, ALICE, "sora"))
    result = message(11, content="result", message_reference=reply_to(10))
    remix = message(12, content="remix result", message_reference=reply_to(11))
    text = render_transcript(
        [card, result, remix],
        names=NAMES,
        invocations={7: describe_command("sora", {"prompt": "a boat"})},
    )
    assert text.splitlines() == [
        "#1 alice › /sora prompt: a boat",
        "   sora-bot:",
        "     card",
        "#2 sora-bot, replying to #1:",
        "     result",
        "#3 sora-bot, replying to #2:",
        "     remix result",
    ]


def test_result_post_shows_mention_file_size_embed_fields_and_buttons():
    embed = {
        "title": "`k7q2mx` · remix of `a1b2c3`",
        "description": "a boat\non fire",
        "fields": [
            {"name": "Status", "value": "Done", "inline": False},
            {"name": "Author", "value": f"<@{ALICE}>", "inline": True},
            {
                "name": "Parent",
                "value": "[`a1b2c3`](https://discord.com/channels/1/2/3)",
                "inline": True,
            },
        ],
    }
    post = message(
        11,
        content=f"<@{ALICE}> your video `k7q2mx` is ready.",
        attachments=[mp4(4096)],
        embeds=[embed],
        components=REMIX_ROW,
    )
    lines = render_transcript([post], names=NAMES).splitlines()
    assert lines == [
        "#1 sora-bot:",
        "     @alice your video `k7q2mx` is ready.",
        "     📎 k7q2mx.mp4 · video/mp4 · 4.0 KiB (4,096 bytes)",
        "     ▌ `k7q2mx` · remix of `a1b2c3`",
        "     ▌ a boat",
        "     ▌ on fire",
        "     ▌ Status: Done",
        "     ▌ Author: @alice · Parent: `a1b2c3` (https://discord.com/channels/1/2/3)",
        "     [🔁 Remix] [Details (disabled)]",
    ]


def test_ephemeral_and_edited_messages_say_so():
    hidden = message(
        20,
        content="Only you can see this",
        flags=MessageFlag.EPHEMERAL,
        visible_to=BOB,
        interaction_metadata=command_meta(8, BOB, "remix"),
    )
    hidden.edits.append(hidden.snapshot(0.0))
    lines = render_transcript([hidden], names=NAMES).splitlines()
    assert lines[0] == "#1 bob › /remix"
    assert lines[1] == "   sora-bot (edited 1×, only bob can see this):"


def test_modal_submit_without_a_description_falls_back_to_the_metadata():
    result = message(30, content="result", components=REMIX_ROW)
    meta = {
        "id": "99",
        "type": 5,
        "user": {"id": str(ALICE), "username": "alice"},
        "triggering_interaction_metadata": {
            "id": "98",
            "type": 3,
            "user": {"id": str(ALICE)},
            "interacted_message_id": "30",
        },
    }
    card = message(31, content="card", interaction_metadata=meta)
    lines = render_transcript([result, card], names=NAMES).splitlines()
    assert '#2 alice › clicked a button on #1, submitted "a form"' in lines


def test_a_reply_to_a_message_not_shown_names_its_id():
    text = render_transcript([message(40, content="x", message_reference=reply_to(5))], names={})
    assert text.splitlines()[0] == "#1 user 100, replying to message 5 (not shown):"


def test_descriptions_read_like_what_the_user_did():
    assert describe_command("remix", {"video_id": "k7q2mx", "prompt": "at night"}) == (
        "/remix video_id: k7q2mx prompt: at night"
    )
    click = describe_click("🔁 Remix", "#4")
    assert click == "clicked [🔁 Remix] on #4"
    assert describe_modal("Remix k7q2mx", {"Prompt": "at dawn"}, click) == (
        'clicked [🔁 Remix] on #4, submitted "Remix k7q2mx" with Prompt: at dawn'
    )


def test_sizes_are_readable_and_exact():
    assert human_size(512) == "512 bytes"
    assert human_size(4096) == "4.0 KiB (4,096 bytes)"
    assert human_size(3 * 1024 * 1024 + 1) == "3.0 MiB (3,145,729 bytes)"


def test_labels_follow_channel_order():
    assert message_labels([message(7), message(3), message(9)]) == {7: "#1", 3: "#2", 9: "#3"}


def test_markup_reads_as_members_see_it_and_links_name_the_message_they_jump_to():
    card = message(10, content="card")
    embed = {
        "title": "Lineage of `k7q2mx`",
        "description": "**[`k7q2mx`](https://discord.com/channels/2/1/10) ✅ completed**  ◀",
        "fields": [{"name": "__Started__", "value": "<t:1700000000:f>", "inline": False}],
    }
    answer = message(
        11,
        content=f"<@{BOB}> limits reset <t:1700000120:R> in <#1>, see *help* \\*",
        embeds=[embed],
    )
    lines = render_transcript(
        [card, answer], names=NAMES, channels={1: "videos"}, now=1_700_000_000
    ).splitlines()
    assert lines[3:] == [
        "     @bob limits reset in 2 minutes in #videos, see help *",
        "     ▌ Lineage of `k7q2mx`",
        "     ▌ `k7q2mx` (#1) ✅ completed  ◀",
        "     ▌ Started: November 14, 2023 10:13 PM UTC",
    ]
