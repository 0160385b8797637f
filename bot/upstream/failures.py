"""What one failed attempt means: the error to raise, and whether it may be tried again.

The only place that sets ``retry=True``; the money rule lives here:

* ``retrieve`` and ``content`` (and the credential probe, a retrieve) are idempotent: they
  retry 429 (honouring Retry-After up to ``RETRY_AFTER_LIMIT``), 408, 5xx, timeouts,
  connection errors and malformed answers.
* ``create``, ``remix`` and ``extend`` cost money. They are re-sent only when the
  previous attempt provably never reached the upstream (no connection was made, so no
  byte of the request left this process) or was answered 429 (refused, not processed).
  Any other failure after the request may have been sent becomes ``SubmissionUncertain``,
  never re-sent.
* A 404/405 in a relay router's own words ("Invalid URL (POST /v1/...)", FastAPI's
  ``{"detail": "Not Found"}``) is ``RouteMissing``: the path does not exist there, so no
  handler ran and nothing was started. An adapter may then try the operation's other
  path (remix -> ``/videos/edits``) without breaking the rule above.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import httpx

from bot.core.errors import (
    BotError,
    ContentExpired,
    FailureCode,
    ModerationBlocked,
    RateLimited,
    SubmissionUncertain,
    UpstreamAuthError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from bot.core.network import network_cause
from bot.upstream.parsing import ErrorInfo, parse_error_body, parse_retry_after, short_text

#: A 429 asking to wait longer than this is raised at once (the caller reschedules).
RETRY_AFTER_LIMIT = 60.0
#: At most this much of an error body is read.
MAX_ERROR_BODY = 64 * 1024

_MODERATION_CODES = frozenset(
    {"moderation_blocked", "content_policy_violation", "content_filter", "safety_violation"}
)
_MODERATION_TEXT = re.compile(r"moderation|content[ _]policy|safety|content[ _]filter", re.I)
#: How a create/remix that may have reached the upstream ends its message to the user.
_MAYBE_STARTED = (
    "may still have started the video. It was not re-sent, to avoid paying twice; please try again."
)
#: FastAPI's (Starlette's) bodies for an unknown path or a path without that method.
_ROUTER_DETAILS = frozenset({"Not Found", "Method Not Allowed"})
#: httpx errors raised before any byte of the request was sent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Operation(StrEnum):
    """What a request does, as far as retrying it is concerned."""

    CREATE = "create"
    REMIX = "remix"
    EXTEND = "extend"
    RETRIEVE = "retrieve"
    CONTENT = "content"

    @property
    def costs_money(self) -> bool:
        """Create, remix and extend start a paid job: see the module docstring."""
        return self in (Operation.CREATE, Operation.REMIX, Operation.EXTEND)


class RouteMissing(UpstreamNotFound):
    """The relay has no such route (its router said so, before any handler ran).

    A kind of ``UpstreamNotFound``, so callers that only know "not found" still work;
    adapters catch it to fall back to another path or to say the relay cannot do it.
    """

    failure_code = FailureCode.ROUTE_MISSING
    default_message = "The video relay has no such operation."


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt: the error to raise, and whether (and when) to try again."""

    error: BotError
    retry: bool
    delay: float | None = None  # None: use the backoff schedule
    reason: str = ""


class FailureMapper:
    """Maps exceptions and answers to ``Failure``; redacts ``api_key`` from every text."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def transport(self, op: Operation, exc: httpx.HTTPError) -> Failure:
        """An exception from httpx: decides whether a costly request may be re-sent."""
        cause = network_cause(exc) or short_text(exc, self._api_key) or "no answer"
        reason = f"{type(exc).__name__}: {cause}"
        if isinstance(exc, _NOT_SENT):
            # No connection was made, so not one byte of the request left this process:
            # re-sending cannot create a second job, even for create/remix.
            return Failure(UpstreamUnavailable(), retry=True, reason=reason)
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return Failure(UpstreamUnavailable(), retry=False, reason=reason)
        if op.costs_money:
            # The request may have reached the upstream: never send it twice.
            return Failure(SubmissionUncertain(), retry=False, reason=reason)
        return Failure(UpstreamUnavailable(), retry=True, reason=reason)

    def malformed(self, op: Operation, exc: Exception) -> Failure:
        """A 2xx answer we cannot read (not JSON, or no job in it)."""
        reason = f"malformed answer: {short_text(exc, self._api_key)}"
        if op.costs_money:  # the job may exist but we lost its id
            message = f"The video service sent an unreadable answer and {_MAYBE_STARTED}"
            return Failure(SubmissionUncertain(message), retry=False, reason=reason)
        return Failure(
            UpstreamUnavailable("The video service sent an unreadable answer."),
            retry=True,
            reason=reason,
        )

    def embedded(self, op: Operation, info: ErrorInfo, reason: str) -> Failure:
        """A 2xx answer that carries an error object: the upstream refused, as a 400 would."""
        return Failure(self._client_error(op, 400, info), retry=False, reason=reason)

    def status(
        self, op: Operation, status: int, headers: Mapping[str, str], content: bytes
    ) -> Failure:
        """A non-2xx answer. The single place the retry rules for statuses live."""
        info = parse_error_body(content[:MAX_ERROR_BODY])
        reason = _status_reason(status, info, self._api_key)
        if status in (401, 403):
            return Failure(UpstreamAuthError(status_code=status), retry=False, reason=reason)
        if status == 429:
            return self._rate_limited(headers, info, reason)
        if status == 408 or status >= 500:
            if op.costs_money:  # a 5xx may still have created the job
                return Failure(_uncertain(status), retry=False, reason=reason)
            return Failure(UpstreamUnavailable(status_code=status), retry=True, reason=reason)
        return Failure(self._client_error(op, status, info), retry=False, reason=reason)

    @staticmethod
    def _rate_limited(headers: Mapping[str, str], info: ErrorInfo, reason: str) -> Failure:
        """A 429 was refused, not processed: safe to re-send even a create."""
        retry_after = parse_retry_after(headers)
        error = RateLimited(retry_after=retry_after, code=info.code)
        if retry_after is not None and retry_after > RETRY_AFTER_LIMIT:
            return Failure(error, retry=False, reason=f"{reason}, retry after {retry_after}s")
        return Failure(error, retry=True, delay=retry_after, reason=reason)

    def _client_error(self, op: Operation, status: int, info: ErrorInfo) -> UpstreamError:
        """Map a 4xx (other than 401/403/408/429) to the error vocabulary."""
        code = info.code
        message = short_text(info.message, self._api_key) if info.message else None
        haystack = f"{code or ''} {info.type or ''} {info.message or ''}".lower()
        if op is not Operation.CONTENT and status in (404, 405) and is_route_missing(info):
            return RouteMissing(code=code, status_code=status)
        if op is Operation.CONTENT and (status in (404, 410) or "expired" in haystack):
            return ContentExpired(code=code, status_code=status)
        if status in (404, 410) or code in ("task_not_exist", "not_found"):
            return UpstreamNotFound(code=code, status_code=status)
        if (code or "").lower() in _MODERATION_CODES or _MODERATION_TEXT.search(haystack):
            return ModerationBlocked(code=code, status_code=status)
        user_message = f"The video service rejected the request: {message}" if message else None
        return UpstreamRejected(
            short_text(user_message) if user_message else None,
            param=info.param,
            code=code,
            status_code=status,
        )


def is_route_missing(info: ErrorInfo) -> bool:
    """Whether an error body is a router's "no such path", not a handler's "no such id".

    OpenAI and new-api answer an unknown path ``Invalid URL (METHOD /path)``; OpenAI's
    newer wording is code ``unknown_url`` / "Unknown request URL"; FastAPI (LiteLLM's
    proxy) answers ``{"detail": "Not Found"}`` or ``"Method Not Allowed"``. Sources in
    docs/dialects/openai.md.
    """
    message = (info.message or "").strip()
    if message.startswith(("Invalid URL (", "Unknown request URL")):
        return True
    if (info.code or "").lower() == "unknown_url":
        return True
    return info.code is None and info.type is None and message in _ROUTER_DETAILS


def _uncertain(status: int) -> SubmissionUncertain:
    """The error for a create/remix answered 408 or 5xx: it may have started a job."""
    if status == 408:
        return SubmissionUncertain(status_code=status)
    return SubmissionUncertain(
        f"The video service failed (HTTP {status}) and {_MAYBE_STARTED}", status_code=status
    )


def _status_reason(status: int, info: ErrorInfo, api_key: str) -> str:
    """``HTTP 503 overloaded: try later``: the status, then the upstream's own code and words."""
    code = f" {info.code}" if info.code else ""
    message = f": {info.message}" if info.message else ""
    return short_text(f"HTTP {status}{code}{message}", api_key)
