"""Kept originals: signing, retention, the ``[media]`` keys, and the media server over HTTP.

The server tests run the real aiohttp server on 127.0.0.1 and talk to it with httpx.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio

from bot.config import Config, ConfigError, MediaConfig, Secret, load_config
from bot.core.clock import ManualClock
from bot.delivery.media_links import (
    BadSignature,
    MediaSigner,
    NotKept,
    Originals,
    originals_for,
)
from bot.delivery.media_server import MediaServer, start_media_server

SECRET = "a-media-secret-0123456789"
ENV = {
    "DISCORD_TOKEN": "discord-token-123",
    "SORA_API_KEY": "sk-abcdef123456",
    "SORA_API_BASE": "https://relay.example/v1",
}
VIDEO = bytes(range(256)) * 40  # 10240 bytes, every offset distinct enough to check ranges


def make_originals(tmp_path: Path, clock: ManualClock, hours: float = 72) -> Originals:
    return Originals(
        folder=tmp_path / "originals",
        public_url="https://bot.example.org/",
        signer=MediaSigner(SECRET),
        retention=timedelta(hours=hours),
        clock=clock,
    )


def kept(originals: Originals, tmp_path: Path, task_id: str = "k7q2mx") -> str:
    """Keep a download for ``task_id``; the link's URL."""
    download = tmp_path / f"{task_id}.mp4"
    download.write_bytes(VIDEO)
    originals.keep(task_id, download)
    link = originals.link(task_id)
    assert link is not None
    return link.url


def query_of(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return parts.path.rsplit("/", 1)[1], query["exp"][0], query["sig"][0]


# --- signing -------------------------------------------------------------------------------


def test_a_signature_is_hmac_sha256_of_name_and_expiry():
    import hashlib
    import hmac

    signer = MediaSigner(SECRET)
    expected = hmac.new(SECRET.encode(), b"k7q2mx.mp4:1900000000", hashlib.sha256).hexdigest()
    assert signer.signature("k7q2mx.mp4", 1_900_000_000) == expected
    assert signer.verify("k7q2mx.mp4", "1900000000", expected, now=1_800_000_000)


def test_expired_tampered_wrong_id_and_wrong_secret_are_refused():
    signer = MediaSigner(SECRET)
    sig = signer.signature("k7q2mx.mp4", 1000)
    assert signer.verify("k7q2mx.mp4", "1000", sig, now=999)
    assert not signer.verify("k7q2mx.mp4", "1000", sig, now=1000)  # expired
    assert not signer.verify("k7q2mx.mp4", "1001", sig, now=999)  # expiry pushed out
    assert not signer.verify("k7q2my.mp4", "1000", sig, now=999)  # another video
    assert not signer.verify("k7q2mx.mp4", "1000", sig[:-1] + "0", now=999)
    assert not signer.verify("k7q2mx.mp4", "1000", "", now=999)
    assert not signer.verify("k7q2mx.mp4", "-5", sig, now=-10)
    assert not signer.verify("k7q2mx.mp4", "1e9", sig, now=0)
    other = MediaSigner("another-secret-0123456789")
    assert not other.verify("k7q2mx.mp4", "1000", sig, now=999)


def test_verification_compares_in_constant_time():
    """The signature is compared with ``hmac.compare_digest``, never ``==``."""
    tree = ast.parse(inspect.getsource(MediaSigner.verify).strip().replace("\n    ", "\n"))
    calls = {
        f"{node.func.value.id}.{node.func.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
    }
    assert "hmac.compare_digest" in calls
    compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert all(not isinstance(op, ast.Eq) for c in compares for op in c.ops)


def test_the_signer_needs_a_secret_and_never_shows_it():
    with pytest.raises(ValueError):
        MediaSigner("")
    assert SECRET not in repr(MediaSigner(SECRET))


# --- kept originals -------------------------------------------------------------------------


def test_a_kept_original_is_linked_until_its_retention_ends(tmp_path):
    clock = ManualClock()
    originals = make_originals(tmp_path, clock)
    url = kept(originals, tmp_path)
    assert not (tmp_path / "k7q2mx.mp4").exists()  # moved, not copied
    assert url.startswith("https://bot.example.org/media/k7q2mx.mp4?exp=")
    name, exp, sig = query_of(url)
    assert int(exp) == int(clock().timestamp() + 72 * 3600)
    assert originals.servable(name, exp, sig).read_bytes() == VIDEO
    link = originals.link("k7q2mx")
    assert link is not None and link.size == len(VIDEO)
    assert link.expires_at.timestamp() == int(exp)

    clock.advance(72 * 3600)
    with pytest.raises(BadSignature):
        originals.servable(name, exp, sig)
    assert originals.link("k7q2mx") is None


def test_the_sweep_removes_only_originals_past_retention_and_survives_restarts(tmp_path):
    clock = ManualClock()
    originals = make_originals(tmp_path, clock, hours=1)
    kept(originals, tmp_path, "old0001")
    clock.advance(1800)
    kept(originals, tmp_path, "new0002")
    assert originals.sweep() == 0

    clock.advance(1800)  # old0001 has been kept an hour
    restarted = make_originals(tmp_path, clock, hours=1)  # a new process: only the files
    assert restarted.sweep() == 1
    assert sorted(p.name for p in (tmp_path / "originals").iterdir()) == ["new0002.mp4"]
    clock.advance(1800)
    assert restarted.sweep() == 1 and list((tmp_path / "originals").iterdir()) == []


def test_no_name_outside_the_id_pattern_reaches_the_folder(tmp_path):
    clock = ManualClock()
    originals = make_originals(tmp_path, clock)
    kept(originals, tmp_path)
    (tmp_path / "secret.txt").write_text("not for you")
    signer = originals.signer
    exp = str(int(clock().timestamp()) + 60)
    for name in ("../secret.txt", "..%2Fsecret.txt", "K7Q2MX.mp4", "k7q2mx.mp4.part", "ab.mp4"):
        with pytest.raises(NotKept):
            originals.servable(name, exp, signer.signature(name, int(exp)))
    assert originals.path_of("../x") is None
    with pytest.raises(ValueError):
        originals.keep("../../etc", tmp_path / "secret.txt")
    unknown = "zzzzzz.mp4"
    with pytest.raises(NotKept):  # signed, but nothing kept by that name
        originals.servable(unknown, exp, signer.signature(unknown, int(exp)))


def test_nothing_is_kept_without_public_url(tmp_path):
    assert originals_for(MediaConfig(), tmp_path) is None
    media = MediaConfig(public_url="https://bot.example.org", secret=Secret(SECRET))
    found = originals_for(media, tmp_path)
    assert found is not None and found.folder == tmp_path / "originals"


# --- the [media] keys -----------------------------------------------------------------------


def write_config(tmp_path: Path, media: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"[media]\n{media}\n")
    return path


def test_public_url_needs_the_secret_in_the_environment(tmp_path):
    path = write_config(tmp_path, 'public_url = "https://bot.example.org"')
    with pytest.raises(ConfigError) as refused:
        load_config(path, env=ENV)
    assert str(refused.value) == (
        "[media] public_url: is set, so SORA_BOT_MEDIA_SECRET must hold a secret of at"
        " least 16 characters (it signs the links)"
    )
    with pytest.raises(ConfigError, match="at least 16"):
        load_config(path, env={**ENV, "SORA_BOT_MEDIA_SECRET": "short"})

    config = load_config(path, env={**ENV, "SORA_BOT_MEDIA_SECRET": SECRET})
    assert config.media.keeps_originals and config.media.secret.reveal() == SECRET
    assert SECRET not in repr(config)
    assert (config.media.host, config.media.port, config.media.retention_hours) == (
        "127.0.0.1",
        8081,
        72.0,
    )


def test_media_keys_are_validated_and_the_secret_never_comes_from_the_file(tmp_path):
    bad = {
        'public_url = "ftp://x"': "[media] public_url: must start with http:// or https://",
        "retention_hours = 0": "[media] retention_hours: must be greater than 0, got 0",
        "port = 70000": "[media] port: must be at most 65535, got 70000",
        f'secret = "{SECRET}"': "[media] secret must not be in the config file",
    }
    for line, message in bad.items():
        with pytest.raises(ConfigError) as refused:
            load_config(write_config(tmp_path, line), env=ENV)
        assert str(refused.value).startswith(message), line
        assert SECRET not in str(refused.value)
    assert load_config(env=ENV).media.keeps_originals is False


# --- the media server over HTTP -------------------------------------------------------------


@pytest_asyncio.fixture
async def served(
    tmp_path: Path,
) -> AsyncIterator[tuple[Originals, httpx.AsyncClient, str, ManualClock]]:
    """A running media server with one kept original: (originals, client, path+query, clock)."""
    clock = ManualClock()
    originals = make_originals(tmp_path, clock)
    url = kept(originals, tmp_path)
    server = MediaServer(originals, host="127.0.0.1", port=0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            parts = urlsplit(url)
            yield originals, http, f"{parts.path}?{parts.query}", clock
    finally:
        await server.stop()


@pytest.mark.asyncio
async def test_a_signed_link_serves_the_whole_file_as_video_mp4(served):
    _, http, target, _ = served
    answer = await http.get(target)
    assert answer.status_code == 200 and answer.content == VIDEO
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["content-length"] == str(len(VIDEO))


@pytest.mark.asyncio
async def test_range_requests_get_206_with_exactly_those_bytes(served):
    _, http, target, _ = served
    answer = await http.get(target, headers={"Range": "bytes=1000-1999"})
    assert answer.status_code == 206 and answer.content == VIDEO[1000:2000]
    assert answer.headers["content-range"] == f"bytes 1000-1999/{len(VIDEO)}"
    assert answer.headers["content-type"] == "video/mp4"
    tail = await http.get(target, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == VIDEO[-100:]
    beyond = await http.get(target, headers={"Range": f"bytes={len(VIDEO) + 5}-"})
    assert beyond.status_code == 416


@pytest.mark.asyncio
async def test_head_answers_the_headers_without_a_body(served):
    _, http, target, _ = served
    answer = await http.head(target)
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["content-length"] == str(len(VIDEO))
    assert answer.headers["content-type"] == "video/mp4"


@pytest.mark.asyncio
async def test_no_file_without_a_valid_signature(served):
    _, http, target, clock = served
    path, query = target.split("?")
    exp, sig = (value.split("=")[1] for value in query.split("&"))
    later = int(exp) + 3600
    for bad in (
        path,  # no signature at all
        f"{path}?exp={exp}",
        f"{path}?exp={exp}&sig={'0' * 64}",
        f"{path}?exp={later}&sig={sig}",  # expiry pushed out
        f"/media/abcdef.mp4?exp={exp}&sig={sig}",  # another id
    ):
        answer = await http.get(bad)
        assert answer.status_code == 403, bad
        assert VIDEO[:64] not in answer.content
    clock.advance(72 * 3600)
    assert (await http.get(target)).status_code == 403  # expired


@pytest.mark.asyncio
async def test_unknown_files_and_listings_are_404(served):
    originals, http, _, _ = served
    exp = int(originals.clock().timestamp()) + 60
    unknown = f"/media/zzzzzz.mp4?exp={exp}&sig={originals.signer.signature('zzzzzz.mp4', exp)}"
    assert (await http.get(unknown)).status_code == 404
    for path in ("/media/", "/media", "/", "/originals/k7q2mx.mp4", "/media/../k7q2mx.mp4"):
        answer = await http.get(path)
        assert answer.status_code == 404, path
        assert b"k7q2mx" not in answer.content
    assert (await http.post(unknown)).status_code == 405


@pytest.mark.asyncio
async def test_no_server_runs_without_public_url(tmp_path):
    config = Config()
    assert not config.media.keeps_originals
    assert await start_media_server(config) is None


# --- the post's text -------------------------------------------------------------------------


def test_the_post_links_the_original_only_when_it_does_not_carry_it_as_it_is():
    from datetime import UTC, datetime

    from bot.delivery.notifier import FitNote, OriginalLink
    from bot.discord_ui import render
    from tests.store_fixtures import video_task

    task = video_task("k7q2mx")
    original = OriginalLink(
        url="https://bot.example.org/media/k7q2mx.mp4?exp=1900000000&sig=ab",
        size=19_500_000,
        expires_at=datetime.fromtimestamp(1_900_000_000, UTC),
    )
    line = (
        "Original (18.6 MB): https://bot.example.org/media/k7q2mx.mp4?exp=1900000000&sig=ab"
        " (until <t:1900000000:f>)"
    )
    compressed = FitNote(source_bytes=19_500_000, limit=10 * 1048576, compressed=True)
    text = render.result_content(
        task, attached=True, link=None, upload_limit=None, fit=compressed, original=original
    )
    assert text.splitlines()[1:] == [
        "Compressed from 18.6 MB to fit this server's 10 MB upload limit.",
        line,
    ]
    as_it_is = render.result_content(
        task, attached=True, link=None, upload_limit=None, original=original
    )
    assert "Original" not in as_it_is
    linked = render.result_content(
        task,
        attached=False,
        link="https://upstream.example/x.mp4",
        upload_limit=10 * 1048576,
        too_large=True,
        original=original,
    )
    assert linked.splitlines()[1:] == ["It is too large to attach here (limit 10 MB).", line]
    assert "upstream.example" not in linked
    embed = render.result_embed(task, image="k7q2mx-thumbnail.webp")
    assert embed.image.url == "attachment://k7q2mx-thumbnail.webp"
    assert render.result_embed(task).image.url is None
