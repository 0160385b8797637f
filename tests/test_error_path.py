"""One error path for every kind of interaction (issue 11).

A ``BotError`` reaches the member as its own short private message; anything else is a
bug: the member gets an apology with a reference id, and the bot's log has the traceback
under the same id. Each kind of interaction is driven through the Discord emulator; the
unexpected error is real bad state — a row whose metadata is not JSON, written straight
into SQLite as a broken disk or a hand edit would — never a patched function.
"""

from __future__ import annotations

import logging
import re
import sqlite3

import pytest

from bot.emulators.harness import BotHarness
from tests.e2e_helpers import delivered, ephemeral_answer, result_post, submit, video_id_of
from tests.e2e_helpers import harness as harness

pytestmark = pytest.mark.asyncio

APOLOGY = re.compile(r"Something went wrong on our side \(reference `([0-9a-f]{8})`\)")


async def finished_video(h: BotHarness) -> tuple[str, int]:
    """A finished video of alice's and the id of its result post."""
    _, card = await submit(h, h.alice, "sora", {"prompt": "a quiet harbour"})
    video_id = video_id_of(card)
    post = await result_post(h, video_id)
    await delivered(h, video_id)  # at rest: the bot writes nothing more to the row
    return video_id, post.id


def corrupt(h: BotHarness, video_id: str, assignment: str) -> None:
    """Change a row behind the bot's back (a separate connection, as an operator would)."""
    assert h.config is not None
    with sqlite3.connect(h.config.storage.database) as db:
        db.execute(f"UPDATE tasks SET {assignment} WHERE id = ?", [video_id])


def logged_reference(caplog: pytest.LogCaptureFixture, reference: str) -> logging.LogRecord:
    """The log record of an apology: same reference, with the traceback."""
    [record] = [r for r in caplog.records if reference in r.getMessage()]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    return record


async def test_a_slash_command_that_hits_a_bug_apologises_with_the_logged_reference(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    video_id, _ = await finished_video(h)
    corrupt(h, video_id, "metadata = '{broken'")
    with caplog.at_level(logging.ERROR):
        ix = await h.discord.slash(h.alice, h.channel, "video", {"video_id": video_id})
        answer = await ephemeral_answer(h, ix)
    match = APOLOGY.search(answer)
    assert match, answer
    record = logged_reference(caplog, match.group(1))
    assert record.exc_info is not None and record.exc_info[0] is not None
    assert issubclass(record.exc_info[0], ValueError)


async def test_a_button_that_hits_a_bug_apologises_instead_of_failing_silently(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    video_id, post = await finished_video(h)
    corrupt(h, video_id, "metadata = '{broken'")
    with caplog.at_level(logging.ERROR):
        ix = await h.discord.click(h.bob, post, f"sora:details:{video_id}")
        answer = await ephemeral_answer(h, ix)
    match = APOLOGY.search(answer)
    assert match, answer
    logged_reference(caplog, match.group(1))


async def test_a_button_refusal_is_its_own_message(harness: BotHarness) -> None:
    h = harness
    video_id, post = await finished_video(h)
    corrupt(h, video_id, "guild_id = guild_id + 1")  # as if it belonged to another server
    ix = await h.discord.click(h.bob, post, f"sora:remix:{video_id}")
    assert await ephemeral_answer(h, ix) == f"No video `{video_id}` in this server."


async def test_a_form_that_hits_a_bug_apologises_with_the_logged_reference(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    video_id, post = await finished_video(h)
    opened = await h.discord.click(h.alice, post, f"sora:remix:{video_id}")
    await opened.initial_response()
    assert opened.modal is not None
    corrupt(h, video_id, "metadata = '{broken'")
    with caplog.at_level(logging.ERROR):
        ix = await h.discord.submit_modal(
            h.alice, h.channel, opened.modal["custom_id"], {"remix_prompt": "now at night"}
        )
        answer = await ephemeral_answer(h, ix)
    match = APOLOGY.search(answer)
    assert match, answer
    logged_reference(caplog, match.group(1))
    assert h.upstream.count("remix") == 0


async def test_autocomplete_that_hits_a_bug_offers_nothing_and_logs_a_reference(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    video_id, _ = await finished_video(h)
    choices = await h.discord.autocomplete(
        h.alice, h.channel, "remix", {"video_id": "", "prompt": "x"}, "video_id"
    )
    assert [c["value"] for c in choices] == [video_id]
    corrupt(h, video_id, "metadata = '{broken'")
    with caplog.at_level(logging.ERROR):
        choices = await h.discord.autocomplete(
            h.alice, h.channel, "remix", {"video_id": "", "prompt": "x"}, "video_id"
        )
    assert choices == []
    [record] = [r for r in caplog.records if "autocomplete failed (ref" in r.getMessage()]
    assert record.exc_info is not None
