"""Compressing a video to fit an upload limit: the bitrate and size choice, and real encodes.

The encodes run the ffmpeg binary of ``imageio-ffmpeg`` (the one the bot uses) on a real
H.264/AAC clip made by the same binary (``bot.emulators.mp4.real_clip``).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.delivery.media import bundled_ffmpeg
from bot.delivery.transcode import (
    AUDIO_KBPS,
    HEADROOM,
    LOW_AUDIO_KBPS,
    MIN_VIDEO_KBPS,
    SourceInfo,
    TranscodeFailed,
    Transcoder,
    encode_args,
    moov_before_mdat,
    parse_probe,
    plan_encode,
)
from bot.emulators.mp4 import DEFAULT_CLIP, mp4_bytes, real_clip

MiB = 1048576


def source(seconds: float = 12, width: int = 1280, height: int = 720, audio: bool = True):
    return SourceInfo(
        duration=seconds, width=width, height=height, video_codec="h264", has_audio=audio
    )


# --- the plan ---------------------------------------------------------------------------------


def test_a_12_s_720p_clip_keeps_its_size_and_gets_the_limit_less_headroom():
    plan = plan_encode(source(), 10 * MiB)
    total = 10 * MiB * (1 - HEADROOM) * 8 / 12 / 1000
    assert plan.short_side is None and plan.audio_kbps == AUDIO_KBPS
    assert plan.video_kbps == int(total - AUDIO_KBPS)
    assert 6000 < plan.video_kbps < 6500


def test_a_long_1080p_video_is_scaled_down_only_as_far_as_the_bitrate_needs():
    assert plan_encode(source(12, 1920, 1080), 10 * MiB).short_side is None  # 6.3 Mbps: 1080p
    assert plan_encode(source(30, 1920, 1080), 10 * MiB).short_side == 720  # 2.4 Mbps
    assert plan_encode(source(60, 1920, 1080), 10 * MiB).short_side == 480  # 1.1 Mbps
    assert plan_encode(source(120, 1920, 1080), 10 * MiB).short_side == 360  # 0.5 Mbps


def test_portrait_videos_scale_by_their_short_side():
    plan = plan_encode(source(30, 1080, 1920), 10 * MiB)
    assert plan.short_side == 720
    args = encode_args("ffmpeg", Path("a.mp4"), Path("b.mp4"), plan, source(30, 1080, 1920))
    assert args[args.index("-vf") + 1] == "scale=720:-2"
    landscape = encode_args("ffmpeg", Path("a"), Path("b"), plan, source(30, 1920, 1080))
    assert landscape[landscape.index("-vf") + 1] == "scale=-2:720"


def test_small_budgets_lower_the_audio_and_hopeless_ones_are_refused():
    assert plan_encode(source(150), 10 * MiB).audio_kbps == LOW_AUDIO_KBPS
    assert plan_encode(source(12, audio=False), 10 * MiB).audio_kbps is None
    with pytest.raises(TranscodeFailed, match=f"less than {MIN_VIDEO_KBPS} kbps"):
        plan_encode(source(600), 10 * MiB)
    with pytest.raises(TranscodeFailed, match="length"):
        plan_encode(source(0), 10 * MiB)


def test_a_second_pass_aims_lower():
    first = plan_encode(source(), 10 * MiB)
    second = plan_encode(source(), 10 * MiB, squeeze=0.9)
    assert second.video_kbps < first.video_kbps * 0.92


def test_the_command_is_h264_aac_faststart_keeping_audio():
    plan = plan_encode(source(), 10 * MiB)
    args = encode_args("ffmpeg", Path("in.mp4"), Path("out.mp4"), plan, source())
    joined = " ".join(args)
    assert "-c:v libx264" in joined and "-c:a aac" in joined and "-b:a 128k" in joined
    assert "-movflags +faststart" in joined and "-pix_fmt yuv420p" in joined
    assert "-map 0:a:0?" in joined and "-vf" not in args
    assert args[-1] == "out.mp4"


def test_probe_reports_are_parsed():
    report = (
        "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x.mp4':\n"
        "  Duration: 00:01:02.50, start: 0.000000, bitrate: 11924 kb/s\n"
        "  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive),"
        " 720x1280 [SAR 1:1 DAR 9:16], 11789 kb/s, 30 fps\n"
        "  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, mono\n"
    )
    info = parse_probe(report)
    assert info == SourceInfo(
        duration=62.5, width=720, height=1280, video_codec="h264", has_audio=True
    )
    assert parse_probe("Duration: 00:00:04.00, start\n") is None  # no video stream


def test_moov_before_mdat(tmp_path):
    fast = tmp_path / "fast.mp4"
    fast.write_bytes(mp4_bytes(4096))  # ftyp, moov, mdat
    assert moov_before_mdat(fast)
    slow = tmp_path / "slow.mp4"
    data = mp4_bytes(4096)
    ftyp_end = int.from_bytes(data[:4], "big")
    moov_end = ftyp_end + int.from_bytes(data[ftyp_end : ftyp_end + 4], "big")
    slow.write_bytes(data[:ftyp_end] + data[moov_end:] + data[ftyp_end:moov_end])
    assert not moov_before_mdat(slow)


# --- real encodes ------------------------------------------------------------------------------


async def probe(path: Path) -> SourceInfo:
    info = await Transcoder(ffmpeg=bundled_ffmpeg()).probe(path)
    return info


async def decodes_cleanly(path: Path) -> bool:
    """Decode every frame; ffmpeg reports nothing at ``-v error`` for a sound file."""
    proc = await asyncio.create_subprocess_exec(
        bundled_ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-f", "null", "-",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    return proc.returncode == 0 and not err.strip()


@pytest.mark.asyncio
async def test_an_18_mb_12_s_720p_clip_fits_10_mib_and_plays(tmp_path):
    clip = await asyncio.to_thread(real_clip)
    size = clip.stat().st_size
    assert 18 * MiB < size < 19 * MiB
    out = tmp_path / "fit.mp4"
    started = time.monotonic()
    result = await Transcoder(ffmpeg=bundled_ffmpeg()).fit(clip, out, 10 * MiB)
    elapsed = time.monotonic() - started
    print(f"re-encode of {size} bytes, 12 s 1280x720 -> {result.output_bytes}: {elapsed:.1f} s")
    assert result.output_bytes == out.stat().st_size <= 10 * MiB
    assert result.source_bytes == size and result.passes in (1, 2)
    info = await probe(out)
    assert info.video_codec == "h264" and info.has_audio
    assert (info.width, info.height) == (DEFAULT_CLIP.width, DEFAULT_CLIP.height)
    assert abs(info.duration - DEFAULT_CLIP.seconds) <= 0.5
    assert moov_before_mdat(out)
    assert await decodes_cleanly(out)


@pytest.mark.asyncio
async def test_a_file_that_is_no_video_is_refused_with_a_reason(tmp_path):
    bogus = tmp_path / "empty.mp4"
    bogus.write_bytes(mp4_bytes(50_000))  # valid boxes, no tracks
    with pytest.raises(TranscodeFailed, match="not a video"):
        await Transcoder(ffmpeg=bundled_ffmpeg()).fit(bogus, tmp_path / "out.mp4", 10_000)


@pytest.mark.asyncio
async def test_an_encode_over_its_time_is_stopped(tmp_path):
    clip = await asyncio.to_thread(real_clip)
    transcoder = Transcoder(ffmpeg=bundled_ffmpeg(), timeout=0.5)
    with pytest.raises(TranscodeFailed, match="longer than"):
        await transcoder.fit(clip, tmp_path / "out.mp4", 10 * MiB)
