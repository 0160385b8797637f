"""Short public video ids.

Users type these ids into ``/remix``, so they are short (6 characters) and drawn from a
lowercase alphabet without look-alikes (no ``0 o 1 l i``). 31**6 is about 887 million
ids; the store retries on the rare collision. ``normalize_video_id`` accepts what users
actually paste (``#K7Q2MX``, a backticked id, stray spaces) and rejects anything else
without touching the database.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Protocol

ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
ID_LENGTH = 6
#: Accepted on input: 6 characters today, up to 8 if ids ever grow.
_ID_RE = re.compile(rf"^[{ALPHABET}]{{6,8}}$")


class Chooser(Protocol):
    """Anything with ``choice`` (the ``secrets`` module, a seeded ``random.Random``)."""

    def choice(self, seq: Sequence[str], /) -> str: ...


def new_video_id(rng: Chooser = secrets) -> str:
    """Return a fresh random id of ``ID_LENGTH`` characters from ``ALPHABET``."""
    return "".join(rng.choice(ALPHABET) for _ in range(ID_LENGTH))


def normalize_video_id(text: str) -> str | None:
    """Return the canonical id in ``text``, or None if it cannot be an id."""
    cleaned = text.strip().strip("`").strip().lower()
    cleaned = cleaned.removeprefix("#").strip("`").strip()
    return cleaned if _ID_RE.fullmatch(cleaned) else None
