"""The chat dialect's model names: a relay's model id encodes orientation, HD and length.

Chat-completions Sora relays take no size or duration field; each combination is its own
model id (TheSmallHanCat/sora2api ``src/services/generation_handler.py`` ``MODEL_CONFIG``;
docs.laozhang.ai ``api-capabilities/sora2/api-reference``). Three spellings are known:

* sora2api now: ``sora2-landscape-10s``, ``sora2pro-portrait-25s``, ``sora2pro-hd-landscape-15s``;
* sora2api before: ``sora-video-10s`` (landscape), ``sora-video-portrait-15s``;
* laozhang and its copies: ``sora_video2`` (portrait, 10 s), ``sora_video2-landscape-15s``,
  ``sora_video2-landscape-hd-15s``.

``parse_model_id`` reads one into a ``ChatVariant`` in the bot's vocabulary (family
``sora-2``/``sora-2-pro``, size ``1280x720``/``720x1280``/``1792x1024``/``1024x1792``,
seconds as an int); ``ChatCatalog`` is the set a relay offers and picks the id for a
``/sora`` choice. The mapping is written down in ``docs/dialects/chat.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.errors import InvalidInput

FAMILY_SORA_2 = "sora-2"
FAMILY_SORA_2_PRO = "sora-2-pro"

#: Relay family prefix -> (family in our vocabulary, orientation when the id names none).
_PREFIXES: tuple[tuple[str, str, str], ...] = (
    ("sora2pro", FAMILY_SORA_2_PRO, "landscape"),
    ("sora2", FAMILY_SORA_2, "landscape"),
    ("sora-video", FAMILY_SORA_2, "landscape"),
    ("sora_video2", FAMILY_SORA_2, "portrait"),
)
#: Model words a user or a config may give instead of a family name of ours.
FAMILY_ALIASES: dict[str, str] = {
    FAMILY_SORA_2: FAMILY_SORA_2,
    FAMILY_SORA_2_PRO: FAMILY_SORA_2_PRO,
    "sora2": FAMILY_SORA_2,
    "sora-video": FAMILY_SORA_2,
    "sora_video2": FAMILY_SORA_2,
    "sora2pro": FAMILY_SORA_2_PRO,
}
#: Length of an id that names none (laozhang's ``sora_video2``).
DEFAULT_SECONDS = 10
_SECONDS_TOKEN = re.compile(r"(\d{1,3})s")

#: Our sizes: (orientation, hd) -> size.
_SIZES: dict[tuple[str, bool], str] = {
    ("landscape", False): "1280x720",
    ("portrait", False): "720x1280",
    ("landscape", True): "1792x1024",
    ("portrait", True): "1024x1792",
}
#: The order sizes are offered in.
SIZE_ORDER: tuple[str, ...] = ("1280x720", "720x1280", "1792x1024", "1024x1792")

#: The video ids TheSmallHanCat/sora2api lists today (``MODEL_CONFIG``, commit 5342435):
#: what the adapter offers when the relay lists nothing it recognises.
DOCUMENTED_MODEL_IDS: tuple[str, ...] = (
    "sora2-landscape-10s",
    "sora2-portrait-10s",
    "sora2-landscape-15s",
    "sora2-portrait-15s",
    "sora2-landscape-25s",
    "sora2-portrait-25s",
    "sora2pro-landscape-10s",
    "sora2pro-portrait-10s",
    "sora2pro-landscape-15s",
    "sora2pro-portrait-15s",
    "sora2pro-landscape-25s",
    "sora2pro-portrait-25s",
    "sora2pro-hd-landscape-10s",
    "sora2pro-hd-portrait-10s",
    "sora2pro-hd-landscape-15s",
    "sora2pro-hd-portrait-15s",
)


@dataclass(frozen=True, slots=True)
class ChatVariant:
    """One relay model id and what it makes, in the bot's vocabulary."""

    model_id: str
    family: str
    size: str
    seconds: int

    @property
    def orientation(self) -> str:
        width, _, height = self.size.partition("x")
        return "landscape" if int(width) > int(height) else "portrait"


def parse_model_id(model_id: str) -> ChatVariant | None:
    """What ``model_id`` makes, or None when it is not a chat-dialect video model."""
    name = model_id.strip()
    for prefix, family, default_orientation in _PREFIXES:
        if name == prefix or name.startswith(prefix + "-"):
            tokens = name[len(prefix) :].split("-")[1:]
            return _read_tokens(name, family, default_orientation, tokens)
    return None


def _read_tokens(name: str, family: str, orientation: str, tokens: list[str]) -> ChatVariant | None:
    """The variant of ``name`` from its suffix words, or None for an unknown word."""
    hd = False
    seconds = DEFAULT_SECONDS
    for token in tokens:
        length = _SECONDS_TOKEN.fullmatch(token)
        if token in ("landscape", "portrait"):
            orientation = token
        elif token == "hd":
            hd = True
        elif length is not None and int(length.group(1)) > 0:
            seconds = int(length.group(1))
        else:
            return None
    return ChatVariant(name, family, _SIZES[(orientation, hd)], seconds)


def size_shape(size: str) -> tuple[str, bool] | None:
    """(orientation, hd) of one of our sizes, or None for a size this dialect lacks."""
    for shape, known in _SIZES.items():
        if known == size:
            return shape
    return None


class ChatCatalog:
    """The video models one relay offers, and the id to send for a ``/sora`` choice."""

    def __init__(self, variants: Iterable[ChatVariant]) -> None:
        self.variants: tuple[ChatVariant, ...] = tuple(variants)

    @classmethod
    def from_ids(cls, model_ids: Iterable[str]) -> ChatCatalog:
        """The recognised video ids among ``model_ids`` (others are ignored)."""
        parsed = (parse_model_id(model_id) for model_id in model_ids)
        return cls(variant for variant in parsed if variant is not None)

    @classmethod
    def for_relay(cls, listed_models: tuple[str, ...]) -> ChatCatalog:
        """The listed ids this dialect recognises, else the documented sora2api ids."""
        catalog = cls.from_ids(listed_models)
        return catalog if catalog.variants else cls.from_ids(DOCUMENTED_MODEL_IDS)

    @property
    def families(self) -> tuple[str, ...]:
        """Our model names, ``sora-2`` first."""
        found = {variant.family for variant in self.variants}
        return tuple(f for f in (FAMILY_SORA_2, FAMILY_SORA_2_PRO) if f in found)

    @property
    def sizes(self) -> tuple[str, ...]:
        found = {variant.size for variant in self.variants}
        return tuple(size for size in SIZE_ORDER if size in found)

    @property
    def seconds(self) -> tuple[int, ...]:
        return tuple(sorted({variant.seconds for variant in self.variants}))

    def family_of(self, model: str) -> str:
        """Our family for ``model``: a family name, a relay family word or a full relay id."""
        word = model.strip()
        family = FAMILY_ALIASES.get(word.lower())
        if family is None:
            variant = parse_model_id(word)
            family = variant.family if variant is not None else None
        if family is None or family not in self.families:
            offered = ", ".join(self.families)
            raise InvalidInput("model", f"The model must be one of {offered}.")
        return family

    def choose(self, family: str, seconds: int, size: str) -> ChatVariant:
        """The id for (family, seconds, size); a length that does not exist is rounded up.

        Raises ``InvalidInput`` (naming what exists) when no id has that family and size.
        """
        shape = size_shape(size)
        fitting = [v for v in self.variants if v.family == family and v.size == size]
        if shape is None or not fitting:
            sizes = ", ".join(sorted({v.size for v in self.variants if v.family == family}))
            raise InvalidInput("size", f"{family} is offered in the sizes {sizes}.")
        longer = sorted((v for v in fitting if v.seconds >= seconds), key=lambda v: v.seconds)
        if longer:
            return longer[0]
        return max(fitting, key=lambda v: v.seconds)
