"""The lines ``python -m bot check`` prints: one checked item each, plus URL hygiene.

Shared by the command-line check (``bot.cli.check``) and its Discord half
(``bot.discord_ui.setup_check``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class CheckLine:
    """One checked item: ``OK``, ``WARN``, ``FAIL`` or ``SKIP``, what, and a detail."""

    status: str
    item: str
    detail: str

    def render(self) -> str:
        """``OK   database: ...``."""
        return f"{self.status:<4} {self.item}: {self.detail}"


def ok(item: str, detail: str) -> CheckLine:
    """An item that is fine."""
    return CheckLine("OK", item, detail)


def warn(item: str, detail: str) -> CheckLine:
    """An item that works but deserves a look."""
    return CheckLine("WARN", item, detail)


def fail(item: str, detail: str) -> CheckLine:
    """An item that must be fixed before the bot can work."""
    return CheckLine("FAIL", item, detail)


def skip(item: str, detail: str) -> CheckLine:
    """An item that could not be checked; the detail says why."""
    return CheckLine("SKIP", item, detail)


#: Every status a line can have, in the order the summary counts them.
STATUSES = ("OK", "WARN", "FAIL", "SKIP")


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment (they may carry credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
