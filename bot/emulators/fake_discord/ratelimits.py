"""Discord's REST rate limits, enforced: per-route buckets, the global limit and invalid requests.

Each rule and where it comes from (API-RL = discord-api-docs ``developers/topics/rate-limits.mdx``):

- **Per-route buckets keyed by top-level resource** (API-RL "Per-route rate limits": channel_id,
  guild_id, webhook_id or webhook_id + webhook_token). Exhausting ``/channels/1`` leaves
  ``/channels/2`` alone.
- **Message create: 5 per 5 s per channel** - observed, not documented (discord-api-docs#2761
  reports the 5/5 bucket on ``POST``/``PATCH /channels/{id}/messages``; discord-api-docs#20 and
  discord-relay-chat/drc#17 "five in five seconds from observation").
- **Message edit: 5 per 5 s per channel, its own counter under the same bucket hash** - observed
  in discord-api-docs#1442 (create and edit return the same ``X-RateLimit-Bucket``, yet edits still
  succeed after creates exhausted theirs).
- **Message delete: a separate, higher limit** (the older rate-limits page: "Deleting messages
  falls under a separate, higher rate limit"); 5 per 1 s here.
- **Interaction webhooks (followups, original-response edits): 5 per 2 s per interaction token**
  - observed in discord-api-docs#2701 ("5/2s per interaction"; the key is the token, since every
  interaction shares the application id as ``webhook_id``).
- **Interaction callbacks have no per-route bucket here**; one callback per interaction is already
  enforced (40060). No limit is documented for them.
- **Global: 50 requests per second per bot token** (API-RL "Global Rate Limit"; by IP address
  without a token), **except interaction endpoints** ("Interaction endpoints are not bound to the
  bot's Global Rate Limit"): ``/interactions/{id}/{token}/callback`` and
  ``/webhooks/{application_id}/{token}...``.
- Routes not listed have only the global limit and send no ``X-RateLimit-*`` headers (API-RL: the
  headers are returned "for most" requests; routes with only the global limit carry none).
- **429 bodies and headers** as API-RL's examples: ``{"message": "You are being rate limited.",
  "retry_after": s, "global": bool}``, ``Retry-After`` (whole seconds, rounded up, as in the
  example), ``X-RateLimit-Scope: user|global``, ``X-RateLimit-Global: true`` on global ones, and the
  route's normal bucket headers. Every API answer carries ``Via: 1.1 google`` as Discord's do
  (discord.py treats a 429 without ``Via`` as a Cloudflare ban and does not retry it).
- **Windows are fixed**, opened by the first request and closed ``per`` seconds later, as
  ``X-RateLimit-Reset-After`` counts down to one reset for the whole bucket (API-RL header format).
  Reset-After is rounded *up* to the millisecond so a client that waits it out is never early.
- **Invalid requests**: 401, 403 and 429 answers count, except 429s with
  ``X-RateLimit-Scope: shared`` (API-RL "Invalid Request Limit"); 10,000 per 10 minutes gets the IP
  a temporary Cloudflare ban, answered here as Cloudflare's 429 HTML page (error 1015) without
  ``Via`` for as long as the count stays at the limit.

Time: buckets follow the emulator's clock. Under a ``ManualClock`` real (monotonic) time passes
too, plus whatever ``clock.advance`` adds, so buckets refill in real time and ``clock.advance(5)``
refills them at once. ``X-RateLimit-Reset`` is wall-clock epoch time
because clients compare it with their own clock.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import TypeVar

from .clock import Clock, ManualClock

_K = TypeVar("_K")
VIA = {"Via": "1.1 google"}
INTERACTION_PATH = re.compile(r"/interactions/\d+/[^/]+/callback")
WEBHOOK_PATH = re.compile(r"/webhooks/(?P<webhook_id>\d+)/(?P<token>[^/]+)(?:/.*)?")
CHANNEL_MESSAGES = re.compile(r"/channels/(?P<channel_id>\d+)/messages")
CHANNEL_MESSAGE = re.compile(r"/channels/(?P<channel_id>\d+)/messages/\d+")
CLOUDFLARE_BAN_PAGE = (
    "<!DOCTYPE html><html><head><title>Access denied | discord.com used Cloudflare to restrict "
    "access</title></head><body><h1>Error 1015</h1><h2>You are being rate limited</h2>"
    "</body></html>"
)


@dataclass(frozen=True)
class RouteLimit:
    """A per-route limit: ``limit`` requests per ``per`` seconds; ``bucket`` names the hash."""

    bucket: str
    limit: int
    per: float

    @property
    def bucket_hash(self) -> str:
        """An opaque hash like Discord's ``X-RateLimit-Bucket`` values."""
        return hashlib.md5(self.bucket.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class RateLimitRules:
    """The limits the emulator enforces; defaults are Discord's observed values (see module)."""

    message_create: RouteLimit = RouteLimit("channel-messages", 5, 5.0)
    message_edit: RouteLimit = RouteLimit("channel-messages", 5, 5.0)
    message_delete: RouteLimit = RouteLimit("channel-message-delete", 5, 1.0)
    interaction_webhook: RouteLimit = RouteLimit("interaction-webhook", 5, 2.0)
    global_per_second: int = 50
    invalid_request_limit: int = 10_000
    invalid_request_window: float = 600.0
    enabled: bool = True


@dataclass
class _Window:
    """One bucket's fixed window."""

    remaining: int
    resets_at: float


@dataclass(frozen=True)
class RateLimited(Exception):
    """A request refused with 429: its scope, how long to wait and the headers to send."""

    scope: str
    retry_after: float
    headers: dict[str, str]

    @property
    def is_global(self) -> bool:
        """Whether this is the global limit."""
        return self.scope == "global"

    def body(self) -> dict[str, object]:
        """API-RL's rate limit response structure."""
        return {
            "message": "You are being rate limited.",
            "retry_after": self.retry_after,
            "global": self.is_global,
        }

    def all_headers(self) -> dict[str, str]:
        """Bucket headers plus ``Retry-After`` and the scope."""
        extra = {"Retry-After": str(math.ceil(self.retry_after)), "X-RateLimit-Scope": self.scope}
        if self.is_global:
            extra["X-RateLimit-Global"] = "true"
        return {**self.headers, **extra}


@dataclass(frozen=True)
class Classified:
    """What a request counts against: its route bucket (if any) and whether the global applies."""

    limit: RouteLimit | None
    resource: str
    global_exempt: bool


def _ceil_ms(seconds: float) -> float:
    return math.ceil(max(seconds, 0.0) * 1000) / 1000


class RateLimiter:
    """Counts requests into buckets and refuses the ones over a limit."""

    def __init__(self, clock: Clock, application_id: int, rules: RateLimitRules) -> None:
        self.rules = rules
        self._clock = clock
        self._started = (clock(), time.monotonic())
        self._application_id = application_id
        self._windows: dict[tuple[str, str, str], _Window] = {}
        self._global: dict[str, _Window] = {}
        self._invalid: deque[float] = deque()
        self.rate_limited: dict[str, int] = {"user": 0, "global": 0, "shared": 0}

    def now(self) -> float:
        """Seconds since the emulator started: its clock's, plus real time under a ManualClock
        (which only moves when told to)."""
        moved = self._clock() - self._started[0]
        if isinstance(self._clock, ManualClock):
            return moved + time.monotonic() - self._started[1]
        return moved

    # --- classification ------------------------------------------------------------------------

    def classify(self, method: str, path: str) -> Classified:
        """The bucket and global rule for a request (paths are after ``/api/v10``)."""
        rules = self.rules
        if INTERACTION_PATH.fullmatch(path):
            return Classified(None, "", global_exempt=True)
        webhook = WEBHOOK_PATH.fullmatch(path)
        if webhook and int(webhook["webhook_id"]) == self._application_id:
            resource = f"webhook:{webhook['webhook_id']}:{webhook['token']}"
            return Classified(rules.interaction_webhook, resource, global_exempt=True)
        message = CHANNEL_MESSAGE.fullmatch(path)
        if message and method in ("PATCH", "DELETE"):
            limit = rules.message_edit if method == "PATCH" else rules.message_delete
            return Classified(limit, f"channel:{message['channel_id']}", global_exempt=False)
        messages = CHANNEL_MESSAGES.fullmatch(path)
        if messages and method == "POST":
            resource = f"channel:{messages['channel_id']}"
            return Classified(rules.message_create, resource, global_exempt=False)
        return Classified(None, "", global_exempt=False)

    # --- admission -----------------------------------------------------------------------------

    def admit(self, method: str, path: str, identity: str) -> dict[str, str]:
        """Count a request; the bucket headers to answer with, or ``RateLimited``."""
        if not self.rules.enabled:
            return {}
        found = self.classify(method, path)
        now = self.now()
        if not found.global_exempt:
            self._admit_global(identity, now)
        if found.limit is None:
            return {}
        key = (method, found.limit.bucket, found.resource)
        window = self._window(self._windows, key, found.limit.limit, found.limit.per, now)
        headers = self._headers(found.limit, window, now)
        if window.remaining <= 0:
            raise RateLimited("user", _ceil_ms(window.resets_at - now), headers)
        window.remaining -= 1
        return self._headers(found.limit, window, now)

    def _admit_global(self, identity: str, now: float) -> None:
        limit = self.rules.global_per_second
        window = self._window(self._global, identity, limit, 1.0, now)
        if window.remaining <= 0:
            raise RateLimited("global", _ceil_ms(window.resets_at - now), {})
        window.remaining -= 1

    @staticmethod
    def _window(windows: dict[_K, _Window], key: _K, limit: int, per: float, now: float) -> _Window:
        window = windows.get(key)
        if window is None or now >= window.resets_at:
            window = windows[key] = _Window(limit, now + per)
        return window

    @staticmethod
    def _headers(limit: RouteLimit, window: _Window, now: float) -> dict[str, str]:
        reset_after = _ceil_ms(window.resets_at - now)
        return {
            "X-RateLimit-Limit": str(limit.limit),
            "X-RateLimit-Remaining": str(max(window.remaining, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": limit.bucket_hash,
        }

    # --- invalid requests ----------------------------------------------------------------------

    def record_answer(self, status: int, scope: str | None) -> None:
        """Note an answer: 429s by scope, and invalid ones (401/403/non-shared 429)."""
        if status == 429:
            key = scope if scope in self.rate_limited else "user"
            self.rate_limited[key] += 1
        if status in (401, 403) or (status == 429 and scope != "shared"):
            self._invalid.append(self.now())

    @property
    def invalid_requests(self) -> int:
        """Invalid requests in the last ``invalid_request_window`` seconds."""
        horizon = self.now() - self.rules.invalid_request_window
        while self._invalid and self._invalid[0] <= horizon:
            self._invalid.popleft()
        return len(self._invalid)

    @property
    def banned(self) -> bool:
        """Whether the invalid-request limit has been reached (a temporary Cloudflare ban)."""
        return self.rules.enabled and self.invalid_requests >= self.rules.invalid_request_limit
