"""The collaborators every part of the emulator shares, bundled so routes can be plain functions.

Also holds the records the test driver inspects: the REST log, contract violations, injected
faults, tracked interactions and modals.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from .changes import ChangeSignal
from .commands import CommandRegistry
from .contract import ContractSpec
from .gateway import GatewayHub
from .interactions import FakeInteraction
from .messages import MessageService
from .outage import Outage
from .ratelimits import RateLimiter
from .state import EmulatorState

DEFAULT_RETRY_AFTER = 0.05
"""Seconds an injected 429 asks discord.py to wait; short so tests stay fast."""


@dataclass
class RestCall:
    """One REST request the emulator received."""

    method: str
    path: str
    status: int
    at: float
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    error: dict[str, Any] | None = None
    """The JSON error body when the emulator answered with a Discord error."""


@dataclass
class Injection:
    """A fault to answer instead of the real handler, ``times`` times."""

    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    hits: int = 0
    #: Carry the request out, then answer with the fault: a response lost after the
    #: work was done (Cloudflare's 502/504 while Discord created the message).
    after_processing: bool = False

    @property
    def remaining(self) -> int:
        """How many more requests this fault will answer."""
        return self.times - self.hits

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request (``*`` matches any method)."""
        return (
            self.remaining > 0 and self.method in ("*", method) and bool(self.pattern.search(path))
        )

    def render(self) -> tuple[int, bytes, dict[str, str]]:
        """Status, JSON body and headers; 429s get what discord.py needs to retry."""
        body = self.body
        headers = {"Content-Type": "application/json"}
        if self.status == 429:
            body = body or {
                "message": "You are being rate limited.",
                "retry_after": DEFAULT_RETRY_AFTER,
                "global": False,
            }
            retry = (
                str(body.get("retry_after", DEFAULT_RETRY_AFTER)) if isinstance(body, dict) else "1"
            )
            headers |= {
                "Via": "1.1 google",
                "Retry-After": retry,
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + float(retry):.3f}",
                "X-RateLimit-Reset-After": retry,
                "X-RateLimit-Bucket": "fake-injected",
                "X-RateLimit-Scope": "global"
                if isinstance(body, dict) and body.get("global")
                else "user",
            }
        elif body is None:
            body = {"message": f"{self.status}: injected fault", "code": 0}
        headers |= self.headers
        return self.status, json.dumps(body).encode(), headers


@dataclass
class EmulatorCore:
    """Shared state and services; the routes and the driver work through this."""

    state: EmulatorState
    changes: ChangeSignal
    messages: MessageService
    commands: CommandRegistry
    gateway: GatewayHub
    contract: ContractSpec | None
    bot_token: str
    response_deadline: float
    limiter: RateLimiter
    strict_contract: bool = True
    outage: Outage | None = None
    interactions: dict[str, FakeInteraction] = field(default_factory=dict)
    modals: dict[str, FakeInteraction] = field(default_factory=dict)
    rest_log: list[RestCall] = field(default_factory=list)
    contract_violations: list[str] = field(default_factory=list)
    response_violations: list[str] = field(default_factory=list)
    unimplemented: list[str] = field(default_factory=list)
    injections: list[Injection] = field(default_factory=list)

    def take_injection(self, method: str, path: str) -> Injection | None:
        """The first armed fault for this request, consuming one use."""
        for injection in self.injections:
            if injection.matches(method, path):
                injection.hits += 1
                return injection
        return None
