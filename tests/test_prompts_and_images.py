"""Prompt cleaning and reference-image header checks."""

from __future__ import annotations

import struct
import zlib

import pytest

from bot.core.errors import InvalidInput
from bot.core.images import check_declared_image, check_reference_image, image_info
from bot.core.prompts import clean_prompt, find_banned_word
from bot.core.video_spec import PROMPT_MAX_CHARS


def png(width: int, height: int) -> bytes:
    """A real (tiny, 1-bit) PNG header + IHDR of the given size."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    chunk = (
        struct.pack(">I", len(ihdr))
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )
    return b"\x89PNG\r\n\x1a\n" + chunk


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def webp_vp8x(width: int, height: int) -> bytes:
    body = (
        b"VP8X"
        + struct.pack("<I", 10)
        + b"\x00\x00\x00\x00"
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  a cat  ", "a cat"),
        ("a\u200bcat", "acat"),
        ("line one\nline two", "line one\nline two"),
        ("@everyone look", "@everyone look"),
        ("x" * PROMPT_MAX_CHARS, "x" * PROMPT_MAX_CHARS),
    ],
)
def test_clean_prompt_accepts(raw, expected):
    assert clean_prompt(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("\u200b\u200d\ufeff", "empty"),
        ("x" * (PROMPT_MAX_CHARS + 1), f"limit is {PROMPT_MAX_CHARS}"),
        ("abc\u202edcba", "text-direction"),
        ("bell\x07", "control characters"),
    ],
)
def test_clean_prompt_refuses(raw, message):
    with pytest.raises(InvalidInput) as info:
        clean_prompt(raw)
    assert message in info.value.user_message
    assert info.value.field == "prompt"


@pytest.mark.parametrize(
    ("prompt", "banned", "found"),
    [
        ("A Gun in hand", ["gun"], "gun"),
        ("a gunslinger", ["gun"], None),
        ("nothing here", ["gun", "blood"], None),
        ("so much blood!", ["gun", "blood"], "blood"),
        ("anything", ["", "  "], None),
    ],
)
def test_find_banned_word(prompt, banned, found):
    assert find_banned_word(prompt, banned) == found


@pytest.mark.parametrize(
    ("data", "kind", "size"),
    [
        (png(1280, 720), "png", (1280, 720)),
        (jpeg(720, 1280), "jpeg", (720, 1280)),
        (webp_vp8x(1792, 1024), "webp", (1792, 1024)),
    ],
)
def test_image_info_reads_headers(data, kind, size):
    info = image_info(data)
    assert info is not None
    assert (info.kind, info.width, info.height) == (kind, *size)


@pytest.mark.parametrize(
    "data", [b"", b"GIF89a....", b"\x89PNG\r\n\x1a\n\x00", b"\xff\xd8\xff\x00garbage"]
)
def test_image_info_rejects_non_images(data):
    assert image_info(data) is None


@pytest.mark.parametrize(
    ("data", "content_type", "size", "max_bytes", "message"),
    [
        (png(1280, 720), "image/gif", "1280x720", 10_000, "PNG, JPEG or WebP"),
        (png(1280, 720), "image/png", "720x1280", 10_000, "must be exactly 720x1280"),
        (b"not an image at all", "image/png", "1280x720", 10_000, "could not be read"),
        (png(1280, 720) + b"\x00" * 100, "image/png", "1280x720", 50, "limit is"),
    ],
)
def test_reference_image_refusals(data, content_type, size, max_bytes, message):
    with pytest.raises(InvalidInput) as info:
        check_reference_image(data, content_type=content_type, size=size, max_bytes=max_bytes)
    assert message in info.value.user_message


def test_reference_image_accepted_when_it_matches():
    info = check_reference_image(
        png(720, 1280), content_type="image/png", size="720x1280", max_bytes=10_000
    )
    assert (info.width, info.height) == (720, 1280)


def test_declared_image_checks_metadata_before_download():
    check_declared_image(
        content_type="image/png",
        byte_size=10,
        width=1280,
        height=720,
        size="1280x720",
        max_bytes=100,
    )
    with pytest.raises(InvalidInput, match="exactly"):
        check_declared_image(
            content_type="image/png",
            byte_size=10,
            width=10,
            height=10,
            size="1280x720",
            max_bytes=100,
        )
    with pytest.raises(InvalidInput, match="PNG, JPEG or WebP"):
        check_declared_image(
            content_type="text/plain",
            byte_size=10,
            width=None,
            height=None,
            size="1280x720",
            max_bytes=100,
        )
