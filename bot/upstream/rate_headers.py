"""Reading an answer's rate-limit headers into a ``RateSignal`` (``bot.core.request_budget``).

OpenAI sends ``x-ratelimit-remaining-requests`` and ``x-ratelimit-reset-requests`` (a
duration such as ``1s``, ``6m0s``, ``12ms``) on every answer; LiteLLM's proxy sends the
remaining count for keys with limits, and passes a backend's headers on with its
``llm_provider-`` prefix; new-api sends none. A 429's wait is read as everywhere else
(``parse_retry_after``). Sources: ``bot.emulators.upstream_rate_limit``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.core.request_budget import RateSignal
from bot.upstream.parsing import LITELLM_HEADER_PREFIX, parse_retry_after

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float | None:
    """Seconds in a Go-style duration (``1m30s``, ``0.5s``, ``20ms``) or a plain number."""
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return headers.get(name) or headers.get(LITELLM_HEADER_PREFIX + name)


def rate_signal(status: int, headers: Mapping[str, str]) -> RateSignal:
    """What one answer's status and headers say about the rate limit."""
    remaining: int | None = None
    text = _header(headers, "x-ratelimit-remaining-requests")
    if text is not None and text.strip().lstrip("-").isdigit():
        remaining = int(text)
    reset_text = _header(headers, "x-ratelimit-reset-requests")
    reset = parse_duration(reset_text) if reset_text else None
    retry_after = parse_retry_after(headers) if status == 429 else None
    return RateSignal(status=status, retry_after=retry_after, remaining=remaining, reset=reset)
