"""Argument checks every dialect adapter makes before sending anything.

They keep a bad argument from costing a request: ``InvalidInput`` names the field.
"""

from __future__ import annotations

from urllib.parse import quote

from bot.core.errors import InvalidInput
from bot.core.video_spec import API_MAX_PROMPT_CHARS, REFERENCE_IMAGE_TYPES
from bot.upstream.values import ReferenceImage


def quote_id(upstream_id: str) -> str:
    """An upstream id made safe as one URL path segment."""
    return quote(upstream_id, safe="")


def check_id(upstream_id: str) -> None:
    """An upstream id must be a non-empty string."""
    if not isinstance(upstream_id, str) or not upstream_id.strip():
        raise InvalidInput("video_id", "The video id must not be empty.")


def check_prompt(prompt: str) -> None:
    """A prompt must be non-empty and within the API's length."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput("prompt", "The prompt must not be empty.")
    if len(prompt) > API_MAX_PROMPT_CHARS:
        raise InvalidInput(
            "prompt",
            f"The prompt is too long ({len(prompt)} characters, max {API_MAX_PROMPT_CHARS}).",
        )


def check_reference(reference: ReferenceImage) -> None:
    """A reference image must be a non-empty JPEG, PNG or WebP."""
    if reference.content_type not in REFERENCE_IMAGE_TYPES:
        raise InvalidInput("reference", "The reference image must be a JPEG, PNG or WebP.")
    if not reference.data:
        raise InvalidInput("reference", "The reference image is empty.")
