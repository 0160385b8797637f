"""A member's own defaults for ``/sora`` (``/settings``): model, seconds and size.

Saved per member *per guild* (``bot.storage.member_defaults``) and used when ``/sora``
is given none of them. What may be saved is what ``/sora`` offers (``VideoOptions``);
the offer is computed at start from the relay's dialect and config, so a default saved
under another relay may no longer be offered. Such a default is kept (the relay may
come back) but ignored, with a note saying so, never an error: the member's command
still runs, with the server's default for that option.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from bot.core.options import VideoOptions

#: The options a member may set a default for, in the order they are shown.
DEFAULT_KEYS = ("model", "seconds", "size")

T = TypeVar("T", str, int)


@dataclass(frozen=True, kw_only=True, slots=True)
class MemberDefaults:
    """What a member saved; None means "the server's default"."""

    model: str | None = None
    seconds: int | None = None
    size: str | None = None
    updated_at: datetime | None = None

    @property
    def empty(self) -> bool:
        """True when nothing is saved."""
        return self.model is None and self.seconds is None and self.size is None


@dataclass(frozen=True, kw_only=True, slots=True)
class EffectiveDefaults:
    """What an option left out of ``/sora`` becomes for one member, and why.

    ``mine`` names the options whose value is the member's own; ``ignored`` the saved
    ones that are no longer offered, each with the note the member is shown.
    """

    model: str
    seconds: int
    size: str
    mine: frozenset[str]
    ignored: dict[str, str]

    @property
    def notes(self) -> list[str]:
        """One sentence per ignored default, in ``DEFAULT_KEYS`` order."""
        return [self.ignored[key] for key in DEFAULT_KEYS if key in self.ignored]


def _stale_note(key: str, saved: object, fallback: object) -> str:
    shown = f"{saved}s" if key == "seconds" else str(saved)
    used = f"{fallback}s" if key == "seconds" else str(fallback)
    return (
        f"Your saved {key} `{shown}` is no longer offered by the video service, so the "
        f"server default `{used}` is used. Choose another with /settings."
    )


def _pick(key: str, saved: T | None, offered: tuple[T, ...], server: T, result: _Picks) -> T:
    """The saved value if still offered, else the server's (noting an ignored one)."""
    if saved is None:
        return server
    if saved in offered:
        result.mine.add(key)
        return saved
    result.ignored[key] = _stale_note(key, saved, server)
    return server


@dataclass(slots=True)
class _Picks:
    mine: set[str] = field(default_factory=set)
    ignored: dict[str, str] = field(default_factory=dict)


def effective_defaults(options: VideoOptions, saved: MemberDefaults) -> EffectiveDefaults:
    """The member's defaults where still offered, the server's elsewhere."""
    picks = _Picks()
    model = _pick("model", saved.model, options.models, options.default_model, picks)
    seconds = _pick("seconds", saved.seconds, options.seconds, options.default_seconds, picks)
    size = _pick("size", saved.size, options.sizes, options.default_size, picks)
    return EffectiveDefaults(
        model=model,
        seconds=seconds,
        size=size,
        mine=frozenset(picks.mine),
        ignored=picks.ignored,
    )


def check_new_defaults(
    options: VideoOptions, *, model: str | None, seconds: int | None, size: str | None
) -> None:
    """``InvalidInput`` naming the first given value ``/sora`` does not offer."""
    options.resolve(model, seconds, size)
