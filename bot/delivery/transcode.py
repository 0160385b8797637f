"""Re-encoding a result video so it fits the upload limit of the post that carries it.

The encoder is the ffmpeg binary shipped inside the ``imageio-ffmpeg`` wheel (no system
ffmpeg, nothing downloaded at run time). It runs as a subprocess awaited with asyncio,
so the event loop, commands and other deliveries never wait on it; a semaphore bounds
how many encodes run at once.

Decisions (numbers are module constants, the knobs are in ``[media]``):

* **Output**: H.264 (libx264, ``veryfast``) + AAC in MP4 with ``+faststart`` (the index
  first, so Discord's player starts before the whole file arrived), ``yuv420p`` for
  every player. The first video and first audio stream are kept; audio is never dropped.
* **Bitrate**: the whole file gets ``(1 - HEADROOM)`` of the limit spread over the
  duration; ``HEADROOM`` = 8 % covers the container and one-pass rate control
  overshooting (measured: +2.5 % on noisy 720p). Audio takes ``AUDIO_KBPS`` (128 kbps),
  or ``LOW_AUDIO_KBPS`` (64 kbps) when the whole budget is under ``LOW_BUDGET_KBPS``;
  video gets the rest, as ABR capped by ``-maxrate`` with a two-second buffer.
* **Scaling**: the short side is kept unless the video bitrate falls below what that
  size needs (``LADDER``: 1080p needs 2500 kbps, 720p 1200, 480p 600, 360p 300); then
  the largest size that still gets its minimum is used (never upscaled). Under
  ``MIN_VIDEO_KBPS`` (150 kbps at 360p) the video is not worth sending: refused.
* **Second pass**: an output still over the limit is encoded once more at a bitrate
  scaled by how much it overshot (less 5 %); still too big, it is refused.
* **Checks**: the output is read back (``ffmpeg -i``): an H.264 video stream, its
  duration within ``DURATION_TOLERANCE`` (0.5 s) of the source's, the ``moov`` box
  before ``mdat``, and at most the limit in size. Anything else is a refusal.
* **Failures**: every refusal is a ``TranscodeFailed`` with a reason a member can read;
  the deliverer then posts the link (or an apology) saying it was too large and why it
  could not be compressed. A timeout kills the encoder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Share of the limit kept free for the container and rate-control overshoot.
HEADROOM = 0.08
AUDIO_KBPS = 128
LOW_AUDIO_KBPS = 64
#: Below this whole-file bitrate, audio gets ``LOW_AUDIO_KBPS``.
LOW_BUDGET_KBPS = 600
#: (short side, least video kbps that size needs), largest first.
LADDER: tuple[tuple[int, int], ...] = ((1080, 2500), (720, 1200), (480, 600), (360, 300))
#: Below this video bitrate (at the smallest size) the result is not worth sending.
MIN_VIDEO_KBPS = 150
#: How far the output's duration may differ from the source's, in seconds.
DURATION_TOLERANCE = 0.5
#: A second pass aims this much lower than the overshoot alone would say.
SECOND_PASS_MARGIN = 0.95
PRESET = "veryfast"

_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})")
_AUDIO = re.compile(r"Stream #\S+.*?: Audio: ")


class TranscodeFailed(Exception):
    """The video could not be made to fit; ``reason`` is shown to the author."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceInfo:
    """What ``ffmpeg -i`` says about a file."""

    duration: float
    width: int
    height: int
    video_codec: str
    has_audio: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class EncodePlan:
    """Bitrates and size for one encode; ``short_side`` None keeps the source's size."""

    video_kbps: int
    audio_kbps: int | None
    short_side: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class FitResult:
    """An encode that fits: the sizes before and after, the passes and the wall time."""

    source_bytes: int
    output_bytes: int
    passes: int
    seconds: float
    plan: EncodePlan


def plan_encode(source: SourceInfo, limit_bytes: int, *, squeeze: float = 1.0) -> EncodePlan:
    """The bitrates and size that fit ``source`` into ``limit_bytes`` (see the module doc).

    ``squeeze`` (< 1) lowers the budget for a second pass. Raises ``TranscodeFailed``
    when even the smallest size would get less than ``MIN_VIDEO_KBPS``.
    """
    if source.duration <= 0:
        raise TranscodeFailed("the video's length could not be read")
    total_kbps = limit_bytes * (1 - HEADROOM) * squeeze * 8 / source.duration / 1000
    audio = None
    if source.has_audio:
        audio = AUDIO_KBPS if total_kbps >= LOW_BUDGET_KBPS else LOW_AUDIO_KBPS
    video_kbps = math.floor(total_kbps - (audio or 0))
    if video_kbps < MIN_VIDEO_KBPS:
        raise TranscodeFailed(
            f"at {source.duration:.0f} s it would need less than {MIN_VIDEO_KBPS} kbps of video"
        )
    short = min(source.width, source.height)
    if video_kbps >= _needs(short):
        return EncodePlan(video_kbps=video_kbps, audio_kbps=audio, short_side=None)
    smaller = [side for side, needs in LADDER if side < short and video_kbps >= needs]
    side = smaller[0] if smaller else min(short, LADDER[-1][0])
    return EncodePlan(
        video_kbps=video_kbps, audio_kbps=audio, short_side=None if side == short else side
    )


def _needs(short_side: int) -> int:
    """The least video kbps a picture with this short side needs (``LADDER``)."""
    for side, needs in LADDER:
        if short_side >= side:
            return needs
    return LADDER[-1][1]


def encode_args(
    ffmpeg: str, src: Path, dest: Path, plan: EncodePlan, source: SourceInfo
) -> list[str]:
    """The ffmpeg command line for one encode."""
    kbps = plan.video_kbps
    args = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(src)]
    args += ["-map", "0:v:0", "-map", "0:a:0?", "-c:v", "libx264", "-preset", PRESET]
    args += ["-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k"]
    args += ["-pix_fmt", "yuv420p"]
    if plan.short_side is not None:
        landscape = source.width >= source.height
        scale = f"scale=-2:{plan.short_side}" if landscape else f"scale={plan.short_side}:-2"
        args += ["-vf", scale]
    if plan.audio_kbps is not None:
        args += ["-c:a", "aac", "-b:a", f"{plan.audio_kbps}k"]
    else:
        args += ["-an"]
    return [*args, "-movflags", "+faststart", "-f", "mp4", str(dest)]


def parse_probe(text: str) -> SourceInfo | None:
    """``SourceInfo`` from ``ffmpeg -i``'s report, or None when it shows no video stream."""
    duration = _DURATION.search(text)
    video = _VIDEO.search(text)
    if duration is None or video is None:
        return None
    hours, minutes, seconds = duration.groups()
    return SourceInfo(
        duration=int(hours) * 3600 + int(minutes) * 60 + float(seconds),
        width=int(video.group(2)),
        height=int(video.group(3)),
        video_codec=video.group(1),
        has_audio=_AUDIO.search(text) is not None,
    )


async def file_size(path: Path) -> int | None:
    """The file's size in bytes, None when it does not exist (stat off the event loop)."""

    def size() -> int | None:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return None

    return await asyncio.to_thread(size)


def moov_before_mdat(path: Path) -> bool:
    """True when the file's top-level ``moov`` box comes before ``mdat`` (``+faststart``)."""
    with path.open("rb") as handle:
        while header := handle.read(8):
            if len(header) < 8:
                return False
            size, kind = int.from_bytes(header[:4], "big"), header[4:]
            if kind in (b"moov", b"mdat"):
                return kind == b"moov"
            if size == 1:
                size = int.from_bytes(handle.read(8), "big") - 8
            if size < 8:
                return False
            handle.seek(size - 8, 1)
    return False


class Transcoder:
    """Runs bounded, timed ffmpeg encodes that make a video fit a byte limit."""

    def __init__(self, *, ffmpeg: str, concurrency: int = 1, timeout: float = 300.0) -> None:
        self.ffmpeg = ffmpeg
        self.timeout = timeout
        self._slots = asyncio.Semaphore(concurrency)

    async def probe(self, path: Path) -> SourceInfo:
        """Read the file's duration, size and streams; ``TranscodeFailed`` if it is no video."""
        _, report = await self._run([self.ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)])
        info = parse_probe(report)
        if info is None:
            raise TranscodeFailed("the file is not a video the encoder can read")
        return info

    async def fit(self, src: Path, dest: Path, limit_bytes: int) -> FitResult:
        """Encode ``src`` into ``dest`` at most ``limit_bytes``; checked (see the module doc)."""
        async with self._slots:
            started = time.monotonic()
            source = await self.probe(src)
            plan = plan_encode(source, limit_bytes)
            size = await self._encode(src, dest, plan, source)
            passes = 1
            if size > limit_bytes:
                log.info("%s: %d bytes after one pass (limit %d); again", src, size, limit_bytes)
                squeeze = limit_bytes / size * SECOND_PASS_MARGIN
                plan = plan_encode(source, limit_bytes, squeeze=squeeze)
                size = await self._encode(src, dest, plan, source)
                passes = 2
            if size > limit_bytes:
                raise TranscodeFailed("it was still too large after compressing it twice")
            await self._check(dest, source)
            return FitResult(
                source_bytes=await file_size(src) or 0,
                output_bytes=size,
                passes=passes,
                seconds=time.monotonic() - started,
                plan=plan,
            )

    async def _encode(self, src: Path, dest: Path, plan: EncodePlan, source: SourceInfo) -> int:
        code, report = await self._run(encode_args(self.ffmpeg, src, dest, plan, source))
        size = await file_size(dest)
        if code != 0 or size is None:
            log.warning("ffmpeg failed (%s) on %s: %s", code, src, report.strip()[-500:])
            raise TranscodeFailed("the encoder could not compress it")
        return size

    async def _check(self, dest: Path, source: SourceInfo) -> None:
        out = await self.probe(dest)
        if out.video_codec != "h264":
            raise TranscodeFailed("the compressed file came out in the wrong format")
        if abs(out.duration - source.duration) > DURATION_TOLERANCE:
            raise TranscodeFailed(
                f"the compressed file lasts {out.duration:.1f} s instead of {source.duration:.1f} s"
            )
        if not await asyncio.to_thread(moov_before_mdat, dest):
            raise TranscodeFailed("the compressed file is not streamable")

    async def _run(self, args: Sequence[str]) -> tuple[int | None, str]:
        """Run one ffmpeg command; its exit code and stderr. Killed after ``timeout``."""
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(), self.timeout)
        except TimeoutError:
            raise TranscodeFailed(f"compressing took longer than {self.timeout:.0f} s") from None
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        return proc.returncode, err.decode("utf-8", "replace")
