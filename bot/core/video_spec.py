"""What a video request may ask for: the one place these facts are written down.

Two kinds of fact live here, named apart on purpose:

* ``API_*`` and the ``VIDEO_*`` lists are the wire contract of the OpenAI Videos API
  (``tests/contracts/openai-videos.openapi.json``: the ``VideoSize`` and ``VideoSeconds``
  enums, the prompt's ``maxLength``). The upstream adapter enforces them before sending;
  ``tests/test_upstream_contract.py`` pins them to the saved spec.
* ``PROMPT_MAX_CHARS`` is our product limit, stricter than the API's: Discord's Remix
  modal caps a text input at 4000 characters (a slash option allows 6000), and the
  prompt is quoted in our messages and embeds, which must fit. Users see only this one.

Configuration (``bot.config``) may narrow the sizes and seconds offered; it cannot add any.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

#: The longest prompt the Videos API accepts (``prompt.maxLength`` in the spec).
API_MAX_PROMPT_CHARS: Final = 32000

#: The longest prompt the bot accepts from a user (slash option and Remix modal alike).
#: Never more than ``API_MAX_PROMPT_CHARS`` (a test holds it there).
PROMPT_MAX_CHARS: Final = 4000

#: Video sizes (``width`` x ``height``) the API accepts.
VIDEO_SIZES: Final[tuple[str, ...]] = ("720x1280", "1280x720", "1024x1792", "1792x1024")

#: Video durations in seconds the API accepts (sent as strings on the wire).
VIDEO_SECONDS: Final[tuple[int, ...]] = (4, 8, 12)

#: The models the API documents; it also accepts other (dated) model names.
VIDEO_MODELS: Final[tuple[str, ...]] = ("sora-2", "sora-2-pro")

#: Media types accepted as the first-frame reference image, with the format each one is.
REFERENCE_IMAGE_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}
)


def seconds_text(seconds: tuple[int, ...] = VIDEO_SECONDS, *, last: str = ", ") -> str:
    """``"4, 8, 12"`` (or ``"4, 8 or 12"`` with ``last=" or "``) for messages."""
    words = [str(value) for value in seconds]
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + last + words[-1]
