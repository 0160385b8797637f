"""Fit to the limit, always with the file: upload limits per task, and compressing to fit.

End to end through both emulators (the real bot, discord.py, the poller and the bundled
ffmpeg): a task records its guild's upload limit at submission and keeps it current when
the guild's data arrives again; a video owed at a restart is posted with its MP4 even
though discord.py's cache is empty when the process starts; a real 18 MB, 12-s, 1280x720
clip in a server with the 10 MiB bot limit is posted compressed, playable and saying so,
while commands and other videos go on.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import discord
import pytest

from bot.core.models import DeliveryState, TaskStatus
from bot.delivery.media import bundled_ffmpeg
from bot.delivery.transcode import Transcoder, moov_before_mdat
from bot.discord_ui.upload_limit import guild_upload_limit
from bot.emulators.fake_discord import DEFAULT_UPLOAD_LIMIT
from bot.emulators.harness import BotHarness
from bot.services.submission import GenerateOptions
from tests.core_fixtures import ORIGIN, core
from tests.e2e_helpers import delivered, result_post, submit, video_id_of

pytestmark = pytest.mark.asyncio

MiB = 1048576
MESSAGES = r"^/channels/\d+/messages$"
#: A real encode takes about 5 s alone on two cores; the whole suite shares them.
ENCODE_TIMEOUT = 180.0


async def boost(h: BotHarness, upload_limit: int) -> None:
    """Change the guild's boost tier (its limit) and wait until discord.py has seen it."""
    h.discord.set_upload_limit(h.guild, upload_limit)

    def seen() -> bool:
        guild = h.bot.get_guild(h.guild.id) if h.bot else None
        return guild is not None and guild.filesize_limit == upload_limit

    await h.wait_for(seen, what=f"the bot to see the {upload_limit} byte limit")


async def recorded_limit(h: BotHarness, video_id: str, limit: int) -> None:
    async def recorded() -> bool:
        task = await h.store.get(video_id)
        return task is not None and task.upload_limit == limit

    await h.wait_for(recorded, what=f"{video_id} to record the limit {limit}")


def decoded_duration(path: Path) -> float:
    """Decode the file fully with ffmpeg; its duration (fails on any decode error)."""
    return asyncio.run(_decode(path))


async def _decode(path: Path) -> float:
    proc = await asyncio.create_subprocess_exec(
        bundled_ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-f", "null", "-",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 0 and not err.strip(), err
    return (await Transcoder(ffmpeg=bundled_ffmpeg()).probe(path)).duration


# --- the limit of each task --------------------------------------------------------------------


async def test_a_video_owed_at_a_restart_is_posted_with_its_mp4(tmp_path):
    """The new process starts with an empty guild cache: the owed post still carries the file.

    The restart is of a release with changed commands, and Discord rate-limits their sync
    for 2 s: the gateway connects only after that, so discord.py knows no guild meanwhile.
    """
    async with BotHarness(tmp_path, job_seconds=0.5) as h:
        outage = h.discord.inject("POST", MESSAGES, 503, times=10_000)
        _, card = await submit(h, h.alice, "sora", {"prompt": "owed across a restart"})
        video_id = video_id_of(card)

        async def owed() -> bool:
            task = await h.store.get(video_id)
            return task.status is TaskStatus.COMPLETED and task.delivery_attempts >= 1

        await h.wait_for(owed, what="a failed first post")
        await h.store.set_meta(f"commands:{h.bot.application_id}:global", "an older release")
        await h.stop_bot()
        outage.times = outage.hits  # Discord takes posts again
        slow_sync = {"message": "You are being rate limited.", "retry_after": 2.0, "global": False}
        h.discord.inject("PUT", r"^/applications/\d+/commands$", 429, slow_sync)
        await h.start_bot()

        post = await result_post(h, video_id)
        task = await delivered(h, video_id)
        assert [a.filename for a in post.attachments] == [f"{video_id}.mp4"]
        assert task.result_attached is True and task.upload_limit == DEFAULT_UPLOAD_LIMIT
        assert "could not be attached" not in post.content
        assert [c.status for c in h.discord.rest_log if c.method == "PUT"][-2:] == [429, 200]
        assert h.discord.contract_violations == []


async def test_a_tasks_limit_is_recorded_at_submission_and_refreshed_when_the_guild_returns(
    tmp_path,
):
    async with BotHarness(tmp_path, job_seconds=600) as h:
        await boost(h, 50 * MiB)  # boost level 2
        _, card = await submit(h, h.alice, "sora", {"prompt": "a long render"})
        video_id = video_id_of(card)
        assert (await h.store.get(video_id)).upload_limit == 50 * MiB

        await boost(h, DEFAULT_UPLOAD_LIMIT)  # GUILD_UPDATE: the boosts lapsed
        await recorded_limit(h, video_id, DEFAULT_UPLOAD_LIMIT)

        await h.stop_bot()
        h.discord.set_upload_limit(h.guild, 100 * MiB)  # boosted to level 3 while the bot was away
        await h.start_bot()  # READY, then GUILD_CREATE: on_guild_available
        await recorded_limit(h, video_id, 100 * MiB)

        placeholder = discord.Guild(
            data={"id": str(h.guild.id), "unavailable": True},
            state=h.bot._connection,
        )
        assert placeholder.filesize_limit == DEFAULT_UPLOAD_LIMIT  # tier 0, whatever the guild
        assert guild_upload_limit(placeholder) is None
        assert h.discord.contract_violations == []


async def test_a_limit_that_is_not_known_yet_means_wait_not_no_file(tmp_path):
    async with core(tmp_path, job_seconds=5) as c:
        c.notifier.limit = None  # the guild's data has not arrived
        task = await c.service.generate(ORIGIN, "an early riser", GenerateOptions())
        for _ in range(6):
            await c.tick_after(5)
        waiting = await c.store.get(task.id)
        assert waiting.status is TaskStatus.COMPLETED and c.notifier.posts == []
        assert task.upload_limit is None
        assert waiting.delivery_state is DeliveryState.PENDING
        assert waiting.delivery_error == "the server's upload limit is not known yet"

        c.notifier.limit = 10 * MiB  # GUILD_CREATE

        async def posted() -> bool:
            return (await c.store.get(task.id)).delivery_state is DeliveryState.DELIVERED

        await c.run_until(posted, step=60)
        [post] = c.notifier.posts
        assert post.attached


# --- compressing to fit ------------------------------------------------------------------------


async def test_a_video_under_a_boosted_limit_is_posted_as_it_is(tmp_path):
    async with BotHarness(tmp_path, job_seconds=0.5) as h:
        await boost(h, 50 * MiB)
        _, card = await submit(h, h.alice, "sora", {"prompt": "[real] a boosted server"})
        video_id = video_id_of(card)
        post = await result_post(h, video_id, timeout=60)
        [attachment] = post.attachments
        assert 18 * MiB < attachment.size < 19 * MiB
        assert "Compressed" not in post.content
        assert (await delivered(h, video_id)).upload_limit == 50 * MiB


async def test_an_18_mb_clip_in_a_10_mib_server_is_posted_compressed_playable_and_says_so(
    tmp_path,
):
    """While it is compressed, a command is answered and another video is posted."""
    async with BotHarness(tmp_path, job_seconds=0.5) as h:
        media = h.config.storage.media_dir
        _, card = await submit(h, h.alice, "sora", {"prompt": "[real] a test pattern"})
        big_id = video_id_of(card)
        encoding = media / f"{big_id}.fit.mp4"
        await h.wait_for(encoding.exists, timeout=60, what="the encode to start")

        _, small_card = await submit(h, h.bob, "sora", {"prompt": "a small one"})
        small = await result_post(h, video_id_of(small_card))
        ix = await h.discord.slash(h.alice, h.channel, "history")
        answer = await ix.original_message(timeout=10)
        assert ix.is_ephemeral and big_id in answer.embeds[0]["description"]
        assert encoding.exists(), "the encode ended before the others were answered"
        assert small.attachments

        post = await result_post(h, big_id, timeout=ENCODE_TIMEOUT)
        task = await delivered(h, big_id)
        [attachment] = post.attachments
        assert attachment.size <= DEFAULT_UPLOAD_LIMIT
        assert re.search(r"Compressed from 18\.\d MB to fit this server's 10 MB", post.content)
        assert task.result_attached is True and task.result_bytes == attachment.size
        copy = tmp_path / "posted.mp4"
        copy.write_bytes(attachment.data)
        assert moov_before_mdat(copy)
        assert abs(await asyncio.to_thread(decoded_duration, copy) - 12) <= 0.5
        assert list(media.iterdir()) == []  # downloads and encodes are removed after posting
        assert h.discord.contract_violations == []
