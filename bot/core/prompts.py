"""Prompt validation: what a prompt may contain before it costs money upstream."""

from __future__ import annotations

import re
import unicodedata

from bot.core.errors import InvalidInput
from bot.core.video_spec import PROMPT_MAX_CHARS

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def clean_prompt(prompt: str | None, *, field: str = "prompt") -> str:
    """Return the prompt to send upstream, or raise ``InvalidInput`` saying what is wrong.

    Zero-width characters are dropped (they only hide text); direction overrides
    are refused because they make a prompt display differently from what is sent.
    """
    text = (prompt or "").translate(_ZERO_WIDTH).strip()
    if not text:
        raise InvalidInput(field, "The prompt is empty. Describe the video you want.")
    if len(text) > PROMPT_MAX_CHARS:
        raise InvalidInput(
            field, f"The prompt is {len(text)} characters long; the limit is {PROMPT_MAX_CHARS}."
        )
    if _BIDI_CONTROLS.search(text):
        raise InvalidInput(
            field,
            "The prompt contains invisible text-direction characters. Remove them and try again.",
        )
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise InvalidInput(
            field, "The prompt contains control characters. Remove them and try again."
        )
    return text


def find_banned_word(prompt: str, banned_words: tuple[str, ...] | list[str]) -> str | None:
    """The first banned word that appears in the prompt as a whole word (case-insensitive)."""
    lowered = prompt.casefold()
    for word in banned_words:
        needle = word.strip().casefold()
        if needle and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", lowered):
            return word
    return None
