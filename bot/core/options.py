"""What ``/sora`` offers: the relay's capabilities, narrowed by config, with defaults.

Known only at start, once the relay's dialect is known (``bot.upstream.detect``): the
dialect says which models, lengths and sizes exist (in the bot's vocabulary), the relay's
``GET /v1/models`` which models it serves, and ``[upstream] models / seconds / sizes``
which of those the admin wants offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from bot.core.errors import InvalidInput

#: Discord shows at most 25 choices for an option.
MAX_CHOICES = 25
#: The size an unset ``default_size`` prefers, when offered (landscape suits a channel).
PREFERRED_SIZE = "1280x720"


T = TypeVar("T", str, int)


class OptionsUnavailable(ValueError):
    """Config names nothing the relay offers (or the relay offers nothing): one line."""


@dataclass(frozen=True, kw_only=True, slots=True)
class VideoOptions:
    """The choices members get, and what an unset option means."""

    models: tuple[str, ...]
    seconds: tuple[int, ...]
    sizes: tuple[str, ...]
    default_model: str
    default_seconds: int
    default_size: str

    def resolve(
        self, model: str | None, seconds: int | None, size: str | None
    ) -> tuple[str, int, str]:
        """Model, seconds and size after defaults; ``InvalidInput`` names what is not offered."""
        model = self.default_model if model is None else model
        seconds = self.default_seconds if seconds is None else seconds
        size = self.default_size if size is None else size
        if model not in self.models:
            raise InvalidInput("model", f"Model must be one of: {', '.join(self.models)}.")
        if seconds not in self.seconds:
            allowed = ", ".join(str(s) for s in self.seconds)
            raise InvalidInput("seconds", f"Seconds must be one of: {allowed}.")
        if size not in self.sizes:
            raise InvalidInput("size", f"Size must be one of: {', '.join(self.sizes)}.")
        return model, seconds, size


@dataclass(frozen=True, kw_only=True, slots=True)
class Wanted:
    """What config asks for (empty: everything offered; falsy default: the first)."""

    models: tuple[str, ...] = ()
    seconds: tuple[int, ...] = ()
    sizes: tuple[str, ...] = ()
    default_model: str = ""
    default_seconds: int = 0
    default_size: str = ""


def _narrow(key: str, offered: tuple[T, ...], wanted: tuple[T, ...], relay: str) -> list[T]:
    if not offered:
        raise OptionsUnavailable(f"the relay ({relay}) offers no {key}")
    if not wanted:
        return list(offered)[:MAX_CHOICES]
    kept = [value for value in wanted if value in offered]
    if not kept:
        listed = ", ".join(map(str, offered))
        raise OptionsUnavailable(
            f"[upstream] {key}: none of {', '.join(map(str, wanted))} is offered by the relay "
            f"({relay} offers {listed})"
        )
    return kept[:MAX_CHOICES]


def _default(key: str, chosen: T, kept: list[T], fallback: T | None) -> T:
    if chosen:
        if chosen not in kept:
            listed = ", ".join(map(str, kept))
            raise OptionsUnavailable(f"[upstream] {key}: {chosen} is not offered ({listed})")
        return chosen
    return fallback if fallback in kept else kept[0]


def offer(
    *,
    models: tuple[str, ...],
    seconds: tuple[int, ...],
    sizes: tuple[str, ...],
    wanted: Wanted,
    relay: str,
) -> VideoOptions:
    """The options members get: what the relay offers ∩ what config names.

    ``relay`` names the relay in messages (e.g. ``"the chat dialect"``).
    """
    kept_models = _narrow("models", models, wanted.models, relay)
    kept_seconds = sorted(_narrow("seconds", seconds, wanted.seconds, relay))
    kept_sizes = _narrow("sizes", sizes, wanted.sizes, relay)
    return VideoOptions(
        models=tuple(kept_models),
        seconds=tuple(kept_seconds),
        sizes=tuple(kept_sizes),
        default_model=_default("default_model", wanted.default_model, kept_models, None),
        default_seconds=_default("default_seconds", wanted.default_seconds, kept_seconds, None),
        default_size=_default("default_size", wanted.default_size, kept_sizes, PREFERRED_SIZE),
    )
