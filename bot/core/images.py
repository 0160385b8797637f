"""Reference-image checks: type, size and dimensions, read from the file header.

The upstream requires the first-frame image to match the video size exactly
("Inpaint image must match the requested width and height"), so we check before
spending a request. Only the header is parsed: PNG, JPEG and WebP.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bot.core.errors import InvalidInput
from bot.core.video_spec import REFERENCE_IMAGE_TYPES


@dataclass(frozen=True, kw_only=True, slots=True)
class ImageInfo:
    """What the header says."""

    kind: str
    width: int
    height: int


def image_info(data: bytes) -> ImageInfo | None:
    """Dimensions of a PNG, JPEG or WebP image, or None if the bytes are not one."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return ImageInfo(kind="png", width=width, height=height)
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg_info(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_info(data)
    return None


def _jpeg_info(data: bytes) -> ImageInfo | None:
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return ImageInfo(kind="jpeg", width=width, height=height)
        pos += 2 + length
    return None


def _webp_info(data: bytes) -> ImageInfo | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return ImageInfo(kind="webp", width=width & 0x3FFF, height=height & 0x3FFF)
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return ImageInfo(kind="webp", width=(bits & 0x3FFF) + 1, height=((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageInfo(kind="webp", width=width, height=height)
    return None


def check_reference_image(
    data: bytes, *, content_type: str | None, size: str, max_bytes: int
) -> ImageInfo:
    """Raise ``InvalidInput`` unless ``data`` is a usable first frame for a ``size`` video."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared and declared not in REFERENCE_IMAGE_TYPES:
        raise InvalidInput("image", "The image must be a PNG, JPEG or WebP file.")
    if len(data) > max_bytes:
        raise InvalidInput(
            "image",
            f"The image is {len(data) / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.0f} MB.",
        )
    info = image_info(data)
    if info is None:
        raise InvalidInput("image", "The image could not be read. Upload a PNG, JPEG or WebP file.")
    width, height = (int(part) for part in size.split("x"))
    if (info.width, info.height) != (width, height):
        raise InvalidInput(
            "image",
            f"The image is {info.width}x{info.height}; it must be exactly {size} to match the video size.",
        )
    return info


def check_declared_image(
    *,
    content_type: str | None,
    byte_size: int,
    width: int | None,
    height: int | None,
    size: str,
    max_bytes: int,
) -> None:
    """The same checks from what Discord says about an attachment, before downloading it."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in REFERENCE_IMAGE_TYPES:
        raise InvalidInput("image", "The image must be a PNG, JPEG or WebP file.")
    if byte_size > max_bytes:
        raise InvalidInput(
            "image",
            f"The image is {byte_size / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.0f} MB.",
        )
    if width is not None and height is not None and f"{width}x{height}" != size:
        raise InvalidInput(
            "image",
            f"The image is {width}x{height}; it must be exactly {size} to match the video size.",
        )
