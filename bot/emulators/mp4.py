"""A tiny but structurally valid MP4 file, sized on demand.

The file is three top-level ISO-BMFF boxes: ``ftyp`` (brand ``isom``), ``moov`` holding
one ``mvhd`` (movie header with a duration), and an ``mdat`` box padded with zero bytes
to reach exactly the requested size. No tracks, so it plays as an empty clip, but any
MP4 parser (and Discord's attachment sniffing) sees a well-formed file.

``iter_mp4`` yields the same bytes in chunks, so an emulator can serve a file of
hundreds of megabytes without building it in memory.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

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
