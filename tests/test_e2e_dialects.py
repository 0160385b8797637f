"""The whole loop through each relay dialect: detect → /sora → result → /remix or refusal.

The bot runs for real against the upstream emulator speaking one dialect at a time
(``FakeUpstream(dialects=(d,))``) with only the base URL and key configured (the
default ``dialect = "auto"``), and against Discord's emulator. Per dialect: detection,
the result posted as an MP4 reply, remix (or a clear refusal that calls nothing, and no
Remix button), a restart mid-job, and a moderation failure reaching its author; the
loop and ``check`` also through the LiteLLM and new-api flavours of ``/v1/videos``.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.cli.check import run_check
from bot.core.dialects import DIALECT_LABELS, Dialect
from bot.core.models import TaskStatus
from bot.emulators.fake_discord.models import iter_components
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import (
    delivered,
    ephemeral_answer,
    posts_for,
    result_post,
    submit,
    video_id_of,
)

pytestmark = pytest.mark.asyncio

#: Every dialect the emulator speaks, as ``[upstream] dialect`` names it.
DIALECTS = [Dialect.OPENAI, Dialect.CHAT, Dialect.GENERATIONS, Dialect.VIDEO_CREATE]


#: The whole loop also runs through each relay flavour of the openai dialect.
SETUPS = [
    *((d, "openai") for d in DIALECTS),
    (Dialect.OPENAI, "litellm"),
    (Dialect.OPENAI, "newapi"),
]


def harness_for(
    tmp_path: Path, dialect: Dialect, relay: str = "openai", **options: object
) -> BotHarness:
    return BotHarness(
        tmp_path,
        job_seconds=1.0,
        upstream_options={"dialects": (dialect.value,), "relay": relay, **options},
    )


def button_labels(message: object) -> list[str]:
    components = getattr(message, "components", [])
    return [c.get("label", "") for c in iter_components(components) if c.get("type") == 2]


@pytest.mark.parametrize(("dialect", "relay"), SETUPS, ids=str)
async def test_the_whole_loop_speaks_the_detected_dialect(
    tmp_path: Path, dialect: Dialect, relay: str
):
    async with harness_for(tmp_path, dialect, relay) as h:
        assert h.detection is not None and h.detection.dialect is dialect
        _, card = await submit(h, h.alice, "sora", {"prompt": "a paper boat on a pond"})
        video_id = video_id_of(card)
        result = await result_post(h, video_id)
        task = await delivered(h, video_id)
        assert result.message_reference["message_id"] == str(card.id)
        [attachment] = result.attachments
        assert attachment.filename == f"{video_id}.mp4" and attachment.size > 0
        assert h.upstream.count("create") == 1 and len(h.upstream.jobs) == 1

        caps = h.bot.service.upstream.capabilities()
        remix = await h.discord.slash(
            h.bob, h.channel, "remix", {"video_id": video_id, "prompt": "at night"}
        )
        if caps.can_remix:
            assert "Remix" in button_labels(result)
            await remix.initial_response()
            child_card = await remix.original_message(timeout=10)
            child_id = video_id_of(child_card)
            child_result = await result_post(h, child_id)
            assert child_result.message_reference["message_id"] == str(result.id)
            child = await delivered(h, child_id)
            assert (child.model, child.seconds, child.size) == (task.model, task.seconds, task.size)
        else:
            assert "Remix" not in button_labels(result)
            answer = await ephemeral_answer(h, remix)
            assert DIALECT_LABELS[dialect] in answer and "cannot remix" in answer, answer
            assert h.upstream.count("remix") == 0 and len(h.upstream.jobs) == 1
        assert h.discord.contract_violations == []


@pytest.mark.parametrize(("dialect", "relay"), SETUPS, ids=str)
async def test_check_names_the_dialect_and_passes(tmp_path: Path, dialect: Dialect, relay: str):
    async with harness_for(tmp_path, dialect, relay) as h:
        assert h.config is not None
        out = io.StringIO()
        code = await run_check(h.config, out=out)
        lines = out.getvalue().splitlines()
        assert code == 0, lines
        [line] = [x for x in lines if x.startswith("OK   dialect:")]
        assert line.startswith(f"OK   dialect: {dialect.value} ("), line


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_restart_mid_job_never_creates_twice_and_never_hangs(
    tmp_path: Path, dialect: Dialect
):
    async with harness_for(tmp_path, dialect) as h:
        h.upstream.job_seconds = 3.0
        _, card = await submit(h, h.alice, "sora", {"prompt": "survives a restart"})
        video_id = video_id_of(card)
        await h.restart()
        outcome = await result_post(h, video_id)
        task = await delivered(h, video_id)
        assert h.upstream.count("create") == 1
        if dialect is Dialect.CHAT:  # the stream was the job: cut, it cannot be followed
            assert task.status is TaskStatus.FAILED and task.error_code == "stream_lost"
            assert f"<@{h.alice.id}>" in outcome.content and not outcome.attachments
            assert "restart" in outcome.content and "not re-sent" in outcome.content
        else:
            assert task.status is TaskStatus.COMPLETED and outcome.attachments
        await h.restart()
        await h.bot.poller.tick()
        assert len(posts_for(h, video_id)) == 1 and h.upstream.count("create") == 1


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_moderation_failure_reaches_its_author(tmp_path: Path, dialect: Dialect):
    async with harness_for(tmp_path, dialect) as h:
        _, card = await submit(h, h.alice, "sora", {"prompt": "forbidden [fault:moderation]"})
        video_id = video_id_of(card)
        notice = await result_post(h, video_id)
        task = await delivered(h, video_id)
        assert task.status is TaskStatus.FAILED
        assert f"<@{h.alice.id}> your video `{video_id}` failed" in notice.content
        assert "content policy" in notice.content, notice.content
        assert notice.mention_user_ids == [h.alice.id]


async def test_a_relay_serving_several_dialects_gets_the_richest(tmp_path: Path):
    served = tuple(d.value for d in DIALECTS)
    async with BotHarness(tmp_path, upstream_options={"dialects": served[::-1]}) as h:
        assert h.detection is not None and h.detection.dialect is Dialect.OPENAI


async def test_extend_continues_a_finished_video_and_the_lineage_shows_it(tmp_path: Path):
    async with harness_for(tmp_path, Dialect.OPENAI) as h:
        _, card = await submit(h, h.alice, "sora", {"prompt": "a kite over a beach"})
        parent_id = video_id_of(card)
        parent_result = await result_post(h, parent_id)
        parent = await delivered(h, parent_id)
        _, extend_card = await submit(
            h,
            h.bob,
            "extend",
            {"video_id": parent_id, "prompt": "the kite flies away", "seconds": 8},
        )
        child_id = video_id_of(extend_card)
        child_result = await result_post(h, child_id)
        child = await delivered(h, child_id)
        assert child_result.message_reference["message_id"] == str(parent_result.id)
        assert child.metadata == {
            "type": "extend",
            "extend_from": parent_id,
            "extend_from_external": parent.upstream_id,
        }
        assert (child.parent_id, child.root_id, child.depth) == (parent_id, parent_id, 1)
        assert (child.model, child.size, child.seconds) == (parent.model, parent.size, 8)
        [extension] = [r for r in h.upstream.requests if r.op == "extend"]
        assert extension.path == "/v1/videos/extensions"
        lineage = await h.discord.slash(h.alice, h.channel, "lineage", {"video_id": child_id})
        await lineage.initial_response()
        tree = await lineage.original_message(timeout=10)
        text = "\n".join(str(e.get("description", "")) for e in tree.embeds)
        assert "⏩ +8s" in text, text


@pytest.mark.parametrize(
    ("dialects", "relay"),
    [
        (("openai",), "openai"),
        (("openai",), "newapi"),
        *((((d.value,), "openai")) for d in DIALECTS[1:]),
    ],
    ids=str,
)
async def test_extend_is_offered_only_where_the_relay_can_extend(
    tmp_path: Path, dialects: tuple[str, ...], relay: str
):
    async with BotHarness(tmp_path, upstream_options={"dialects": dialects, "relay": relay}) as h:
        names = {c["name"] for c in h.discord.registered_commands}
        can_extend = h.bot.service.can_extend
        assert ("extend" in names) is can_extend
        assert can_extend is (dialects == ("openai",) and relay == "openai")
