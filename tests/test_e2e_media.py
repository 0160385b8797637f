"""Originals stay reachable: end to end through both emulators and the real media server.

With ``[media] public_url`` (and ``SORA_BOT_MEDIA_SECRET``) the bot keeps each original,
links it in the post when the post does not carry it as it is (compressed, or too large to
attach), shows the upstream's thumbnail when the video could only be linked, serves the
link (Range included) and removes the file after retention. The test plays the reverse
proxy: the link's path and query are sent to the media server's own port. Without
``public_url`` nothing changes.
"""

from __future__ import annotations

import dataclasses
import re
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot.cli.startup import EXIT_STOPPED
from bot.config import Config, MediaConfig, Secret
from bot.core.clock import utc_now
from bot.emulators.fake_discord import DEFAULT_UPLOAD_LIMIT
from bot.emulators.harness import BotHarness
from tests.e2e_helpers import delivered, result_post, submit, video_id_of
from tests.subprocess_bot import ProcessWorld, outcome_post, sora

pytestmark = pytest.mark.asyncio

MiB = 1048576
PUBLIC = "https://media.bot.example"
SECRET = "e2e-media-secret-0123456789"
LINK = re.compile(r"Original \((\d+\.\d) MB\): (https://\S+) \(until <t:(\d+):f>\)")
#: A real encode takes about 5 s alone on two cores; the whole suite shares them.
ENCODE_TIMEOUT = 180.0


class ShiftedClock:
    """The real time plus an offset a test moves forward (retention without waiting)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utc_now() + self.offset


def with_links(*, compress: bool = True) -> Callable[[Config], Config]:
    """A ``configure`` that sets ``[media] public_url`` and its secret (port 0: any)."""

    def configure(config: Config) -> Config:
        media = MediaConfig(
            public_url=PUBLIC,
            secret=Secret(SECRET),
            port=0,
            transcode_concurrency=1 if compress else 0,
        )
        return dataclasses.replace(config, media=media)

    return configure


def without_compressing(config: Config) -> Config:
    return dataclasses.replace(config, media=MediaConfig(transcode_concurrency=0))


async def fetch(h: BotHarness, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """GET the link as the reverse proxy would forward it: to the media server's port."""
    assert url.startswith(f"{PUBLIC}/media/"), url
    assert h.media_server is not None and h.media_server.port
    parts = urlsplit(url)
    local = f"http://127.0.0.1:{h.media_server.port}{parts.path}?{parts.query}"
    async with httpx.AsyncClient() as http:
        return await http.get(local, headers=headers)


async def test_a_video_too_large_to_attach_is_linked_with_its_thumbnail_and_expires(tmp_path):
    clock = ShiftedClock()
    size = 12 * MiB
    async with BotHarness(
        tmp_path, job_seconds=0.5, clock=clock, configure=with_links(compress=False)
    ) as h:
        _, card = await submit(h, h.alice, "sora", {"prompt": f"[bytes:{size}] a big one"})
        video_id = video_id_of(card)
        post = await result_post(h, video_id)
        task = await delivered(h, video_id)
        assert task.result_attached is False

        match = LINK.search(post.content)
        assert match, post.content
        assert match.group(1) == "12.0" and "too large to attach here" in post.content
        url = match.group(2)
        assert url.startswith(f"{PUBLIC}/media/{video_id}.mp4?exp=")
        [thumbnail] = post.attachments
        assert thumbnail.filename == f"{video_id}-thumbnail.webp"
        assert post.embeds[0]["image"]["url"] == f"attachment://{video_id}-thumbnail.webp"

        whole = await fetch(h, url)
        assert whole.status_code == 200 and len(whole.content) == size
        assert whole.headers["content-type"] == "video/mp4"
        kept = h.config.storage.media_dir / "originals" / f"{video_id}.mp4"
        assert whole.content == kept.read_bytes()
        part = await fetch(h, url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == whole.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{size}"
        assert (await fetch(h, url.replace("sig=", "sig=0"))).status_code == 403
        leftovers = sorted(p.name for p in h.config.storage.media_dir.iterdir())
        assert leftovers == ["originals"]  # the thumbnail went with the download's other files

        clock.offset = timedelta(hours=72, minutes=2)  # retention (and a sweep interval) later
        await h.wait_for(lambda: not kept.exists(), what="retention to remove the original")
        assert (await fetch(h, url)).status_code == 403  # the link ended with the file
        assert h.discord.contract_violations == []


async def test_a_compressed_video_links_its_original(tmp_path):
    async with BotHarness(tmp_path, job_seconds=0.5, configure=with_links()) as h:
        _, card = await submit(h, h.alice, "sora", {"prompt": "[real] a test pattern"})
        video_id = video_id_of(card)
        post = await result_post(h, video_id, timeout=ENCODE_TIMEOUT)
        await delivered(h, video_id)
        [attachment] = post.attachments
        assert attachment.filename == f"{video_id}.mp4"
        assert attachment.size <= DEFAULT_UPLOAD_LIMIT
        assert re.search(r"Compressed from 18\.\d MB", post.content)
        assert "image" not in post.embeds[0]  # the file is there: no thumbnail

        match = LINK.search(post.content)
        assert match, post.content
        original = await fetch(h, match.group(2))
        assert original.status_code == 200
        assert 18 * MiB < len(original.content) < 19 * MiB
        assert f"{float(match.group(1)):.1f}" == f"{len(original.content) / MiB:.1f}"
        assert original.content[4:8] == b"ftyp"
        assert h.discord.contract_violations == []


async def test_a_video_that_fits_is_attached_as_it_is_without_a_link(tmp_path):
    async with BotHarness(tmp_path, job_seconds=0.5, configure=with_links()) as h:
        _, card = await submit(h, h.alice, "sora", {"prompt": "a small one"})
        video_id = video_id_of(card)
        post = await result_post(h, video_id)
        await delivered(h, video_id)
        assert [a.filename for a in post.attachments] == [f"{video_id}.mp4"]
        assert "Original" not in post.content
        kept = h.config.storage.media_dir / "originals" / f"{video_id}.mp4"
        assert kept.read_bytes() == post.attachments[0].data  # kept for its retention all the same


async def test_without_public_url_nothing_changes(tmp_path: Path):
    async with BotHarness(tmp_path, job_seconds=0.5, configure=without_compressing) as h:
        assert h.media_server is None
        _, card = await submit(h, h.alice, "sora", {"prompt": f"[bytes:{12 * MiB}] a big one"})
        video_id = video_id_of(card)
        post = await result_post(h, video_id)
        await delivered(h, video_id)
        assert post.attachments == [] and "Original" not in post.content
        assert "image" not in post.embeds[0]
        assert list(h.config.storage.media_dir.iterdir()) == []  # discarded, as before


class LinkingWorld(ProcessWorld):
    """``python -m bot run`` with ``[media] public_url`` and the secret in its environment."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "SORA_BOT_MEDIA_SECRET": SECRET}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_bot_process_serves_its_links_and_never_logs_the_secret(tmp_path):
    port = free_port()

    def configure(config: Config) -> Config:
        media = MediaConfig(
            public_url=PUBLIC, secret=Secret(SECRET), port=port, transcode_concurrency=0
        )
        return dataclasses.replace(config, media=media)

    async with LinkingWorld(
        tmp_path / "world", job_seconds=0.5, configure=configure, log_level="DEBUG"
    ) as w:
        await w.start_bot()
        video_id, _ = await sora(w, f"[bytes:{12 * MiB}] from the process")
        post = await outcome_post(w, video_id)
        match = LINK.search(post.content)
        assert match, post.content
        parts = urlsplit(match.group(2))
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{port}{parts.path}?{parts.query}")
            unsigned = await http.get(f"http://127.0.0.1:{port}{parts.path}")
        assert answer.status_code == 200 and len(answer.content) == 12 * MiB
        assert unsigned.status_code == 403
        assert w.bot is not None
        assert await w.bot.terminate() == EXIT_STOPPED  # SIGTERM stops the media server too
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient() as http:
                await http.get(f"http://127.0.0.1:{port}{parts.path}?{parts.query}")
        log = w.bot.log_text()
        assert f"media server on http://127.0.0.1:{port}/media/" in log
        assert SECRET not in log and SECRET[:12] not in log
        assert w.discord.contract_violations == []
