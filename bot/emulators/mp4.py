"""A tiny but structurally valid MP4 file, sized on demand.

The file is three top-level ISO-BMFF boxes: ``ftyp`` (brand ``isom``), ``moov`` holding
one ``mvhd`` (movie header with a duration), and an ``mdat`` box padded with zero bytes
to reach exactly the requested size. No tracks, so it plays as an empty clip, but any
MP4 parser (and Discord's attachment sniffing) sees a well-formed file.

``iter_mp4`` yields the same bytes in chunks, so an emulator can serve a file of
hundreds of megabytes without building it in memory.

``real_clip`` is the other kind: a real H.264/AAC clip (moving test pattern, a tone),
made once by the ffmpeg binary the bot itself uses (``imageio-ffmpeg``) and cached in
the temp folder, for tests that re-encode, decode or measure a video.
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_TIMESCALE = 1000
_U32_MAX = 0xFFFFFFFF


def _box(kind: bytes, payload: bytes) -> bytes:
    """One ISO-BMFF box: 32-bit size, 4-byte type, payload."""
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _ftyp() -> bytes:
    return _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")


def _mvhd(seconds: float) -> bytes:
    """Movie header box (version 0): timescale 1000, identity matrix, next track id 1."""
    matrix = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
    payload = (
        struct.pack(">B3x", 0)  # version 0, flags 0
        + struct.pack(">IIII", 0, 0, _TIMESCALE, int(seconds * _TIMESCALE))
        + struct.pack(">IH10x", 0x00010000, 0x0100)  # rate 1.0, volume 1.0, reserved
        + matrix
        + bytes(24)  # pre_defined
        + struct.pack(">I", 1)  # next_track_ID
    )
    return _box(b"mvhd", payload)


def _head(seconds: float) -> bytes:
    return _ftyp() + _box(b"moov", _mvhd(seconds))


#: The smallest file ``mp4_bytes`` can build (header boxes plus an empty ``mdat``).
MIN_MP4_SIZE = len(_head(4)) + 8


def _mdat_header(mdat_total: int) -> bytes:
    """``mdat`` box header for a box of ``mdat_total`` bytes (64-bit size when needed)."""
    if mdat_total <= _U32_MAX:
        return struct.pack(">I4s", mdat_total, b"mdat")
    # size field 1 means "a 64-bit largesize follows the type"; the header grows by 8
    return struct.pack(">I4sQ", 1, b"mdat", mdat_total)


def _layout(size: int, seconds: float) -> tuple[bytes, int]:
    """Return (all bytes before the padding, number of zero padding bytes)."""
    if size < MIN_MP4_SIZE:
        raise ValueError(f"an MP4 needs at least {MIN_MP4_SIZE} bytes, asked for {size}")
    head = _head(seconds)
    mdat_total = size - len(head)
    header = _mdat_header(mdat_total)
    return head + header, mdat_total - len(header)


def mp4_bytes(size: int = 4096, *, seconds: float = 4) -> bytes:
    """A valid MP4 of exactly ``size`` bytes (``size >= MIN_MP4_SIZE``)."""
    prefix, padding = _layout(size, seconds)
    return prefix + bytes(padding)


def iter_mp4(size: int, *, seconds: float = 4, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """Yield the bytes of ``mp4_bytes(size)`` in chunks of at most ``chunk_size``."""
    prefix, padding = _layout(size, seconds)
    yield prefix
    zeros = bytes(chunk_size)
    while padding > 0:
        step = min(padding, chunk_size)
        yield zeros if step == chunk_size else bytes(step)
        padding -= step


def top_level_boxes(data: bytes) -> list[tuple[str, int]]:
    """Parse the top-level boxes of an ISO-BMFF file as ``[(type, size), ...]``.

    Raises ``ValueError`` if the boxes do not tile the data exactly.
    """
    boxes: list[tuple[str, int]] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < 8:
            raise ValueError(f"truncated box header at offset {offset}")
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size == 1:
            if len(data) - offset < 16:
                raise ValueError(f"truncated largesize at offset {offset}")
            (size,) = struct.unpack_from(">Q", data, offset + 8)
        elif size == 0:
            size = len(data) - offset
        if size < 8 or offset + size > len(data):
            raise ValueError(f"box {kind!r} at offset {offset} has bad size {size}")
        boxes.append((kind.decode("latin-1"), size))
        offset += size
    return boxes


def is_mp4(data: bytes) -> bool:
    """True when ``data`` parses as ISO-BMFF starting with ``ftyp`` and holding ``moov``."""
    try:
        kinds = [kind for kind, _ in top_level_boxes(data)]
    except ValueError:
        return False
    return bool(kinds) and kinds[0] == "ftyp" and "moov" in kinds


@dataclass(frozen=True, kw_only=True, slots=True)
class ClipSpec:
    """A real clip: size, length and total bitrate (noise keeps it from compressing well)."""

    width: int = 1280
    height: int = 720
    seconds: int = 12
    video_kbps: int = 12800
    audio_kbps: int = 128

    @property
    def name(self) -> str:
        return (
            f"clip-{self.width}x{self.height}-{self.seconds}s-{self.video_kbps}k"
            f"-{self.audio_kbps}k.mp4"
        )


#: 1280x720, 12 s, about 18.6 MiB (19.5 MB): over a 10 MiB limit, under 50 MiB.
DEFAULT_CLIP = ClipSpec()


def real_clip(spec: ClipSpec = DEFAULT_CLIP, *, folder: Path | None = None) -> Path:
    """A real H.264/AAC MP4 of ``spec``, made once and cached (``folder``: the temp dir).

    Built into a unique temporary name and renamed into place, so concurrent test
    processes never see half a file. Blocking (about 2 s the first time).
    """
    import imageio_ffmpeg

    folder = folder or Path(tempfile.gettempdir()) / "sora-bot-emulator-clips"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / spec.name
    if path.exists():
        return path
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".mp4")
    os.close(fd)
    size = f"{spec.width}x{spec.height}"
    kbps = f"{spec.video_kbps}k"
    args = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error"]
    args += ["-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30"]
    args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    args += ["-t", str(spec.seconds), "-vf", "noise=alls=12:allf=t", "-c:v", "libx264"]
    args += ["-preset", "ultrafast", "-b:v", kbps, "-maxrate", kbps, "-bufsize", "4M"]
    args += ["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", f"{spec.audio_kbps}k"]
    args += ["-movflags", "+faststart", tmp]
    try:
        subprocess.run(args, check=True, capture_output=True, timeout=120)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
