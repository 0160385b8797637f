"""An enforced request rate limit for the Videos API emulator, as real relays apply one.

``FakeUpstream(rate_limit=RateLimit(requests=N, per_seconds=W))`` admits at most ``N``
requests per API key in any ``W`` seconds (a sliding window log on the emulator's clock:
a request is refused while ``N`` admitted requests are younger than ``W``). Refused
requests are answered 429 and do not count. Every authenticated ``/v1`` route counts
(retrieve, list, create, content, models); the public ``/files/`` route does not.

What each relay says, from the sources (stored public copies, read with the project's
search tool on 2026-12-02):

* **OpenAI** (platform docs, guides/rate-limits.md, "Rate limits in headers"; a copy at
  spybara.com/openai/api/history/docs, and community.openai.com/t/535297): limits are
  requests per minute per organisation and model, and every answer carries
  ``x-ratelimit-limit-requests``, ``x-ratelimit-remaining-requests`` and
  ``x-ratelimit-reset-requests``, the time until the limit is back to its initial state
  as a duration such as ``1s``, ``6m0s`` or ``12ms``. A refusal is 429 with error code
  ``rate_limit_exceeded`` and type ``requests``; the SDKs wait ``retry-after-ms`` /
  ``Retry-After`` (shared/notes/upstream-api.md 1.6). The emulator sends all of them.
* **new-api** (QuantumNous/new-api ``middleware/model-rate-limit.go`` at 0360976):
  ``ModelRequestRateLimit`` counts per user id over ``ModelRequestRateLimitDurationMinutes``;
  its success counter is a sliding log (refused while the oldest of the last N is inside
  the window). A refusal is 429 through ``abortWithOpenAiMessage``: OpenAI's envelope with
  type ``new_api_error`` and the message ``您已达到请求数限制：%d分钟内最多请求%d次``
  ("request limit reached: at most %d requests in %d minutes"), **no Retry-After and no
  rate headers**. (Its ``router/video-router.go`` at 01f6839 puts ``TokenConcurrencyGate``,
  not this middleware, on ``/v1/videos``; a deployment that rate-limits videos answers as
  above.)
* **LiteLLM** (BerriAI/litellm ``litellm/proxy/hooks/parallel_request_limiter_v3.py``): a
  sliding window per key (``rpm_limit``, window 60 s); a refusal is 429 with the detail
  ``Rate limit exceeded for api_key: ... Limit type: requests. Current limit: N,
  Remaining: 0. Limit resets at: ...`` and headers ``retry-after`` (the window size) and
  ``rate_limit_type``; answers carry ``x-ratelimit-remaining-requests`` and
  ``x-ratelimit-limit-requests`` (``docs/my-website/docs/proxy/response_headers.md``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` admitted requests per API key in any ``per_seconds`` seconds."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0:
            raise ValueError("a rate limit needs requests >= 1 and per_seconds > 0")


@dataclass(frozen=True, slots=True)
class Admission:
    """The limiter's answer for one request."""

    admitted: bool
    limit: int
    remaining: int  # after this request
    reset_seconds: float  # until the window is empty again
    retry_after: float  # until one more request would be admitted (0 when admitted)


@dataclass
class RequestWindow:
    """The sliding window log of one ``RateLimit``, per key, on ``clock`` (seconds)."""

    limit: RateLimit
    clock: Callable[[], float]
    admitted: int = 0
    refused: int = 0
    _log: dict[str, deque[float]] = field(default_factory=dict)

    def admit(self, key: str) -> Admission:
        """Admit (and count) one request for ``key`` if the window has room."""
        now = self.clock()
        log = self._log.setdefault(key, deque())
        while log and log[0] <= now - self.limit.per_seconds:
            log.popleft()
        if len(log) >= self.limit.requests:
            self.refused += 1
            wait = log[0] + self.limit.per_seconds - now
            return Admission(False, self.limit.requests, 0, self._reset(log, now), max(wait, 0.0))
        log.append(now)
        self.admitted += 1
        remaining = self.limit.requests - len(log)
        return Admission(True, self.limit.requests, remaining, self._reset(log, now), 0.0)

    def _reset(self, log: deque[float], now: float) -> float:
        return max(0.0, log[-1] + self.limit.per_seconds - now) if log else 0.0


def duration_text(seconds: float) -> str:
    """A Go-style duration as OpenAI's ``x-ratelimit-reset-*`` headers write it."""
    if seconds < 1:
        return f"{max(1, math.ceil(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    if minutes >= 1:
        return f"{int(minutes)}m{rest:.0f}s"
    return f"{seconds:.3g}s"


def openai_headers(admission: Admission) -> dict[str, str]:
    """The rate headers OpenAI sends on every answer."""
    return {
        "x-ratelimit-limit-requests": str(admission.limit),
        "x-ratelimit-remaining-requests": str(admission.remaining),
        "x-ratelimit-reset-requests": duration_text(admission.reset_seconds),
    }


def litellm_headers(admission: Admission) -> dict[str, str]:
    """The rate headers LiteLLM's proxy documents for a key with limits."""
    return {
        "x-ratelimit-limit-requests": str(admission.limit),
        "x-ratelimit-remaining-requests": str(admission.remaining),
    }


def retry_after_text(seconds: float) -> str:
    """Whole seconds, rounded up, at least 1 (``Retry-After`` takes an integer)."""
    return str(max(1, math.ceil(seconds)))


def newapi_message(limit: RateLimit) -> str:
    """new-api's words for a refused request (minutes, then the count)."""
    return f"您已达到请求数限制：{limit.per_seconds / 60:.3g}分钟内最多请求{limit.requests}次"


def litellm_detail(limit: RateLimit, key_hash: str) -> str:
    """LiteLLM v3's detail for a refused request (the reset time left out)."""
    return (
        f"Rate limit exceeded for api_key: {key_hash}. Limit type: requests. "
        f"Current limit: {limit.requests}, Remaining: 0."
    )


def openai_message(limit: RateLimit, retry_after: float) -> str:
    """OpenAI's shape of words for a refused request."""
    return (
        f"Rate limit reached for requests: Limit {limit.requests} per "
        f"{limit.per_seconds:g}s, Used {limit.requests}, Requested 1. "
        f"Please try again in {duration_text(retry_after)}."
    )
