"""Client for the OpenAI-compatible Videos (Sora) API and the relays in front of it.

No Discord here. Everything the upstream says is translated at this boundary: answers
become ``UpstreamJob`` values (parsed leniently, see shared/notes/upstream-api.md
section 2.5), failures become the ``bot.core.errors`` vocabulary with short, user-safe
messages. The API key is sent only in the ``Authorization`` header; it never appears in
an exception, a log line or a ``repr``.

Retry policy (decided in ``VideosClient._transport_failure``, ``_malformed_failure`` and
``_failure``, the only places that set ``retry=True``):

* ``retrieve``, ``download`` and ``check_credentials`` are idempotent: they retry 429
  (honouring Retry-After up to ``RETRY_AFTER_LIMIT``), 408, 5xx, timeouts, connection
  errors and malformed answers, with capped, jittered exponential backoff.
* ``create`` and ``remix`` cost money. They are re-sent only when the previous attempt
  provably never reached the upstream (no connection was made, so no byte of the request
  left this process) or was answered 429 (refused, not processed). Any other failure
  after the request may have been sent raises ``SubmissionUncertain`` and is not re-sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import os
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import quote

import httpx

from bot.core.errors import (
    BotError,
    ContentExpired,
    ContentTooLarge,
    InvalidInput,
    ModerationBlocked,
    RateLimited,
    SubmissionUncertain,
    UpstreamAuthError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from bot.core.models import TaskStatus

log = logging.getLogger(__name__)

ALLOWED_SECONDS = (4, 8, 12)
ALLOWED_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
MAX_PROMPT_CHARS = 32000
REFERENCE_TYPES = ("image/jpeg", "image/png", "image/webp")
#: Upstream text shown to users is trimmed to this many characters.
MAX_MESSAGE_CHARS = 200
#: A 429 asking to wait longer than this is raised at once (the caller reschedules).
RETRY_AFTER_LIMIT = 60.0
#: At most this much of an error body is read.
MAX_ERROR_BODY = 64 * 1024
#: The made-up id ``check_credentials`` looks up.
CREDENTIAL_PROBE_ID = "video_credential_check_0000"

_STATUS_MAP: dict[str, TaskStatus] = {
    **dict.fromkeys(("queued", "pending", "submitted", "not_start", "unknown"), TaskStatus.QUEUED),
    **dict.fromkeys(("in_progress", "processing", "running", "generating"), TaskStatus.IN_PROGRESS),
    **dict.fromkeys(("completed", "succeeded", "success", "finished"), TaskStatus.COMPLETED),
    **dict.fromkeys(("failed", "failure", "error"), TaskStatus.FAILED),
}
_TERMINAL_CODES = {"cancelled": "cancelled", "canceled": "cancelled", "expired": "expired"}
_MODERATION_CODES = frozenset(
    {"moderation_blocked", "content_policy_violation", "content_filter", "safety_violation"}
)
_MODERATION_TEXT = re.compile(r"moderation|content[ _]policy|safety|content[ _]filter", re.I)
#: How a create/remix that may have reached the upstream ends its message to the user.
_MAYBE_STARTED = (
    "may still have started the video. It was not re-sent, to avoid paying twice; please try again."
)
#: httpx errors raised before any byte of the request was sent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


# --- values -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class UpstreamJob:
    """One video job as the upstream reported it, normalised."""

    id: str
    status: TaskStatus  # only QUEUED, IN_PROGRESS, COMPLETED or FAILED
    raw_status: str
    progress: int  # 0..100
    model: str | None = None
    seconds: str | None = None
    size: str | None = None
    remixed_from: str | None = None
    error_code: str | None = None  # e.g. "moderation_blocked", "expired", "cancelled"
    error_message: str | None = None
    result_url: str | None = None  # a public link to the result, when the upstream gave one
    expires_at: datetime | None = None
    poll_after: float | None = None  # seconds, from the openai-poll-after-ms header


@dataclass(frozen=True, kw_only=True, slots=True)
class ReferenceImage:
    """An image sent as ``input_reference`` (the first frame of the video)."""

    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:
        return (
            f"ReferenceImage(filename={self.filename!r}, content_type={self.content_type!r}, "
            f"data=<{len(self.data)} bytes>)"
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Download:
    """A downloaded asset: in memory (``data``) or streamed to a file (``path``)."""

    size: int
    content_type: str | None
    data: bytes | None = None
    path: Path | None = None

    def __repr__(self) -> str:
        where = f"path={self.path!r}" if self.path is not None else "data=<in memory>"
        return f"Download(size={self.size}, content_type={self.content_type!r}, {where})"


# --- parsing ------------------------------------------------------------------------------


def normalize_status(raw: str) -> tuple[TaskStatus, str | None]:
    """Map any upstream status spelling to (status, error code for expired/cancelled).

    Case and separators are ignored (``IN-PROGRESS``, ``Succeeded``). An empty status counts
    as queued; an unknown one is logged and treated as in progress, never as a crash.
    """
    key = re.sub(r"[\s\-]+", "_", str(raw).strip().lower())
    if not key:
        return TaskStatus.QUEUED, None
    if key in _TERMINAL_CODES:
        return TaskStatus.FAILED, _TERMINAL_CODES[key]
    if key in _STATUS_MAP:
        return _STATUS_MAP[key], None
    log.warning("unknown upstream status %r; treating it as in progress", raw)
    return TaskStatus.IN_PROGRESS, None


def parse_progress(value: object) -> int:
    """Progress as an int 0..100 from an int, a ``"45%"`` string, or a 0..1 float."""
    if isinstance(value, bool) or value is None:
        return 0
    number: float
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = value * 100 if 0 <= value <= 1 else value
    elif isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                number = float(text[:-1])
            else:
                parsed = float(text)
                number = parsed * 100 if "." in text and 0 <= parsed <= 1 else parsed
        except ValueError:
            return 0
    else:
        return 0
    if number != number:  # NaN
        return 0
    return max(0, min(100, round(number)))


def _short(text: object, secret: str | None = None) -> str:
    """Collapse whitespace, remove ``secret``, trim to ``MAX_MESSAGE_CHARS``."""
    cleaned = " ".join(str(text).split())
    if secret:
        cleaned = cleaned.replace(secret, "[redacted]")
    cleaned = re.sub(r"(?i)bearer\s+\S+", "Bearer [redacted]", cleaned)
    if len(cleaned) > MAX_MESSAGE_CHARS:
        cleaned = cleaned[: MAX_MESSAGE_CHARS - 1].rstrip() + "…"
    return cleaned


def _optional_str(value: object) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _timestamp(value: object) -> datetime | None:
    """A unix-seconds (or ISO-8601) value as an aware UTC datetime."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, tz=UTC)
        text = str(value).strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), tz=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _public_url(data: Mapping[str, Any]) -> str | None:
    for key in ("video_url", "url", "result_url"):
        value = data.get(key)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return value
    return None


class MalformedAnswer(ValueError):
    """An upstream answer that is not the job object we need."""


@dataclass(frozen=True, slots=True)
class _ErrorInfo:
    """The parts of an upstream error body, whichever shape it came in."""

    message: str | None = None
    code: str | None = None
    param: str | None = None
    type: str | None = None


class _EmbeddedError(MalformedAnswer):
    """A 2xx answer whose body is an error object (some relays do that)."""

    def __init__(self, info: _ErrorInfo) -> None:
        super().__init__(f"error object in a success answer: {info.code}")
        self.info = info


def _error_info(body: object) -> _ErrorInfo | None:
    """Read ``{"error": {...}}``, ``{"error": "..."}``, new-api ``{"code", "message"}``
    or ``{"detail": "..."}``; None when ``body`` is none of these."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        return _ErrorInfo(
            message=_optional_str(error.get("message")),
            code=_optional_str(error.get("code")),
            param=_optional_str(error.get("param")),
            type=_optional_str(error.get("type")),
        )
    if isinstance(error, str) and error:
        return _ErrorInfo(message=error)
    if "code" in body and "message" in body and body.get("code") != "success":
        return _ErrorInfo(message=_optional_str(body["message"]), code=_optional_str(body["code"]))
    if isinstance(body.get("detail"), str):
        return _ErrorInfo(message=body["detail"])
    return None


def _parse_error_body(content: bytes) -> _ErrorInfo:
    try:
        decoded = json.loads(content)
    except ValueError:
        text = content.decode("utf-8", errors="replace").strip()
        if text.startswith("<"):  # an HTML error page says nothing useful
            return _ErrorInfo()
        return _ErrorInfo(message=text or None)
    return _error_info(decoded) or _ErrorInfo()


def parse_job(
    data: object, *, headers: Mapping[str, str] | None = None, redact: str | None = None
) -> UpstreamJob:
    """Build an ``UpstreamJob`` from a decoded JSON answer (any supported dialect).

    ``redact`` (the API key) is removed from any upstream text kept in the job.

    Raises ``MalformedAnswer`` when there is no job id (or the body is an error object).
    """
    if not isinstance(data, dict):
        raise MalformedAnswer("the answer is not a JSON object")
    if isinstance(data.get("data"), dict) and not (data.get("id") or data.get("task_id")):
        data = data["data"]  # new-api's generic {"code": "success", "data": {...}}
    job_id = data.get("id") or data.get("task_id")
    if not isinstance(job_id, str) or not job_id.strip():
        info = _error_info(data)
        if info is not None:
            raise _EmbeddedError(info)
        raise MalformedAnswer("the answer has no job id")
    raw_status = str(data.get("status") or "")
    status, terminal_code = normalize_status(raw_status)
    error = data.get("error")
    error_code = error_message = None
    if isinstance(error, dict):
        error_code = _optional_str(error.get("code"))
        error_message = _optional_str(error.get("message"))
    elif isinstance(error, str):
        error_message = _optional_str(error)
    error_message = error_message or _optional_str(data.get("fail_reason"))
    progress = 100 if status is TaskStatus.COMPLETED else parse_progress(data.get("progress"))
    poll_after = None
    if headers is not None:
        with contextlib.suppress(TypeError, ValueError):
            poll_after = float(headers.get("openai-poll-after-ms", "")) / 1000
    return UpstreamJob(
        id=job_id.strip(),
        status=status,
        raw_status=raw_status,
        progress=progress,
        model=_optional_str(data.get("model")),
        seconds=_optional_str(data.get("seconds")),
        size=_optional_str(data.get("size")),
        remixed_from=_optional_str(data.get("remixed_from_video_id")),
        error_code=terminal_code or error_code,
        error_message=_short(error_message, redact) if error_message else None,
        result_url=_public_url(data),
        expires_at=_timestamp(data.get("expires_at")),
        poll_after=poll_after,
    )


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, else ``Retry-After`` (seconds or HTTP date)."""
    with contextlib.suppress(TypeError, ValueError):
        millis = float(headers.get("retry-after-ms", ""))
        if millis >= 0:
            return millis / 1000
    value = headers.get("retry-after")
    if not value:
        return None
    with contextlib.suppress(ValueError):
        seconds = float(value)
        return seconds if seconds >= 0 else None
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return None


# --- validation ---------------------------------------------------------------------------


def _check_prompt(prompt: str) -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput("prompt", "The prompt must not be empty.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidInput(
            "prompt", f"The prompt is too long ({len(prompt)} characters, max {MAX_PROMPT_CHARS})."
        )


def _check_create(
    prompt: str, model: str, seconds: int, size: str, reference: ReferenceImage | None
) -> None:
    _check_prompt(prompt)
    if not isinstance(model, str) or not model.strip():
        raise InvalidInput("model", "The model name must not be empty.")
    if isinstance(seconds, bool) or seconds not in ALLOWED_SECONDS:
        raise InvalidInput("seconds", "The duration must be 4, 8 or 12 seconds.")
    if size not in ALLOWED_SIZES:
        raise InvalidInput("size", f"The size must be one of {', '.join(ALLOWED_SIZES)}.")
    if reference is not None:
        if reference.content_type not in REFERENCE_TYPES:
            raise InvalidInput("reference", "The reference image must be a JPEG, PNG or WebP.")
        if not reference.data:
            raise InvalidInput("reference", "The reference image is empty.")


# --- the client -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Failure:
    """One failed attempt: the error to raise, and whether (and when) to try again."""

    error: BotError
    retry: bool
    delay: float | None = None  # None: use the backoff schedule
    reason: str = ""


class VideosClient:
    """Talks to ``{base_url}/videos...`` with a shared ``httpx.AsyncClient``.

    ``max_retries`` is the number of re-sends after the first attempt. Waits go through
    ``sleep`` so tests need not really wait.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        default_model: str = "sora-2",
        json_timeout: float = 30.0,
        download_timeout: float = 300.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.default_model = default_model
        self._json_timeout = httpx.Timeout(json_timeout)
        self._download_timeout = download_timeout
        self._max_retries = max(0, max_retries)
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._random = random.Random()

    def __repr__(self) -> str:
        return f"VideosClient(base_url={self._base_url!r}, default_model={self.default_model!r})"

    # --- public operations ------------------------------------------------------------

    async def create(
        self,
        *,
        prompt: str,
        model: str | None = None,
        seconds: int,
        size: str,
        reference: ReferenceImage | None = None,
    ) -> UpstreamJob:
        """Start a generation job (multipart/form-data, like current SDKs).

        Costs money: never sent twice unless the first attempt provably did not reach the
        upstream or was answered 429 (see ``_costly``); otherwise a failure after sending
        raises ``SubmissionUncertain``. Arguments are validated before any request.
        """
        model = self.default_model if model is None else model
        _check_create(prompt, model, seconds, size, reference)
        fields: list[tuple[str, tuple[Any, ...]]] = [
            ("prompt", (None, prompt)),
            ("model", (None, model)),
            ("seconds", (None, str(seconds))),
            ("size", (None, size)),
        ]
        if reference is not None:
            fields.append(
                ("input_reference", (reference.filename, reference.data, reference.content_type))
            )
        return await self._job_request("create", "POST", "/videos", files=fields)

    async def remix(self, upstream_id: str, *, prompt: str) -> UpstreamJob:
        """Start a remix of a completed job (JSON body). Costs money: same rule as ``create``."""
        self._check_id(upstream_id)
        _check_prompt(prompt)
        path = f"/videos/{self._quote(upstream_id)}/remix"
        return await self._job_request("remix", "POST", path, json={"prompt": prompt})

    async def retrieve(self, upstream_id: str) -> UpstreamJob:
        """The job's current state. Retried on transient failures."""
        self._check_id(upstream_id)
        return await self._job_request("retrieve", "GET", f"/videos/{self._quote(upstream_id)}")

    async def download(
        self,
        upstream_id: str,
        *,
        variant: Literal["video", "thumbnail"] = "video",
        max_bytes: int,
        dest: Path | None = None,
    ) -> Download:
        """Fetch ``/videos/{id}/content`` into memory, or into ``dest`` (via ``dest.part``).

        Redirects are followed (httpx drops the Authorization header when one leaves the
        API's origin). More than ``max_bytes`` raises ``ContentTooLarge`` without reading
        the rest. A broken transfer is retried from the start. Every network step must
        progress within ``json_timeout``; one whole attempt within ``download_timeout``.
        """
        self._check_id(upstream_id)
        if variant not in ("video", "thumbnail"):
            raise InvalidInput("variant", "The variant must be 'video' or 'thumbnail'.")
        url = f"{self._base_url}/videos/{self._quote(upstream_id)}/content"
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout(self._download_timeout):
                    return await self._download_once(url, variant, max_bytes, dest)
            except _AttemptFailed as failed:
                failure = failed.failure
            except TimeoutError:
                failure = _Failure(
                    UpstreamUnavailable("The video download took too long."),
                    retry=True,
                    reason=f"no complete download within {self._download_timeout:g}s",
                )
            await self._pause_or_raise("content", attempt, failure)

    async def check_credentials(self) -> None:
        """Make one cheap authenticated request that creates nothing.

        Looks up a made-up video id: 401/403 raise ``UpstreamAuthError``; 404 or another
        4xx means the key was accepted. Transient failures are retried, then raised.
        """
        path = f"/videos/{self._quote(CREDENTIAL_PROBE_ID)}"
        try:
            await self._job_request("retrieve", "GET", path)
        except (UpstreamNotFound, UpstreamRejected):
            return

    # --- internals --------------------------------------------------------------------------

    @staticmethod
    def _quote(upstream_id: str) -> str:
        return quote(upstream_id, safe="")

    @staticmethod
    def _check_id(upstream_id: str) -> None:
        if not isinstance(upstream_id, str) or not upstream_id.strip():
            raise InvalidInput("video_id", "The video id must not be empty.")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}

    async def _job_request(self, op: str, method: str, path: str, **body: Any) -> UpstreamJob:
        """Send one logical request that answers a job, retrying per the module's policy."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(
                    method,
                    self._base_url + path,
                    headers=self._headers(),
                    timeout=self._json_timeout,
                    **body,
                )
            except httpx.HTTPError as exc:
                failure = self._transport_failure(op, exc)
            else:
                if response.is_success:
                    try:
                        return parse_job(
                            response.json(), headers=response.headers, redact=self._api_key
                        )
                    except _EmbeddedError as exc:
                        failure = _Failure(
                            self._client_error(op, 400, exc.info), retry=False, reason=str(exc)
                        )
                    except ValueError as exc:  # not JSON, or MalformedAnswer
                        failure = self._malformed_failure(op, exc)
                else:
                    content = response.content
                    failure = self._failure(op, response.status_code, response.headers, content)
            await self._pause_or_raise(op, attempt, failure)

    async def _pause_or_raise(self, op: str, attempt: int, failure: _Failure) -> None:
        """Log the failed attempt; sleep before the next one or raise the mapped error."""
        if not failure.retry or attempt > self._max_retries:
            log.warning(
                "upstream %s failed (attempt %d, giving up): %s",
                op,
                attempt,
                failure.reason or type(failure.error).__name__,
            )
            raise failure.error
        delay = failure.delay if failure.delay is not None else self._backoff(attempt)
        log.warning(
            "upstream %s failed (attempt %d of %d): %s; retrying in %.2fs",
            op,
            attempt,
            self._max_retries + 1,
            failure.reason or type(failure.error).__name__,
            delay,
        )
        await self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: 50..100 % of min(cap, base * 2**(attempt-1))."""
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
        return ceiling * self._random.uniform(0.5, 1.0)

    @staticmethod
    def _costly(op: str) -> bool:
        """Create and remix cost money: they are re-sent only after a connection that was
        never made (``_NOT_SENT``) or a 429. A timeout, a 5xx/408, a dropped connection or
        a malformed answer may follow a job that was created: ``SubmissionUncertain``."""
        return op in ("create", "remix")

    def _transport_failure(self, op: str, exc: httpx.HTTPError) -> _Failure:
        """Map an exception from httpx; decides whether a costly request may be re-sent."""
        reason = f"{type(exc).__name__}: {_short(exc, self._api_key)}"
        if isinstance(exc, _NOT_SENT):
            # No connection was made, so not one byte of the request left this process:
            # re-sending cannot create a second job, even for create/remix.
            return _Failure(UpstreamUnavailable(), retry=True, reason=reason)
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return _Failure(UpstreamUnavailable(), retry=False, reason=reason)
        if self._costly(op):
            # The request may have reached the upstream: never send it twice.
            return _Failure(SubmissionUncertain(), retry=False, reason=reason)
        return _Failure(UpstreamUnavailable(), retry=True, reason=reason)

    def _malformed_failure(self, op: str, exc: Exception) -> _Failure:
        reason = f"malformed answer: {_short(exc, self._api_key)}"
        if self._costly(op):  # the job may exist but we lost its id
            message = f"The video service sent an unreadable answer and {_MAYBE_STARTED}"
            return _Failure(SubmissionUncertain(message), retry=False, reason=reason)
        return _Failure(
            UpstreamUnavailable("The video service sent an unreadable answer."),
            retry=True,
            reason=reason,
        )

    def _failure(
        self, op: str, status: int, headers: Mapping[str, str], content: bytes
    ) -> _Failure:
        """Map a non-2xx answer. The single place the retry rules for statuses live."""
        info = _parse_error_body(content[:MAX_ERROR_BODY])
        reason = f"HTTP {status} {_short(info.code or '', self._api_key)}".strip()
        if status in (401, 403):
            return _Failure(UpstreamAuthError(status_code=status), retry=False, reason=reason)
        if status == 429:
            # A 429 was refused, not processed: safe to re-send even a create.
            retry_after = parse_retry_after(headers)
            error = RateLimited(retry_after=retry_after, code=info.code)
            if retry_after is not None and retry_after > RETRY_AFTER_LIMIT:
                return _Failure(error, retry=False, reason=f"{reason}, retry after {retry_after}s")
            return _Failure(error, retry=True, delay=retry_after, reason=reason)
        if status == 408 or status >= 500:
            if self._costly(op):  # a 5xx may still have created the job
                error = (
                    SubmissionUncertain(status_code=status)
                    if status == 408
                    else SubmissionUncertain(
                        f"The video service failed (HTTP {status}) and {_MAYBE_STARTED}",
                        status_code=status,
                    )
                )
                return _Failure(error, retry=False, reason=reason)
            return _Failure(UpstreamUnavailable(status_code=status), retry=True, reason=reason)
        return _Failure(self._client_error(op, status, info), retry=False, reason=reason)

    def _client_error(self, op: str, status: int, info: _ErrorInfo) -> UpstreamError:
        """Map a 4xx (other than 401/403/408/429) to the error vocabulary."""
        code = info.code
        message = _short(info.message, self._api_key) if info.message else None
        haystack = f"{code or ''} {info.type or ''} {info.message or ''}".lower()
        if op == "content" and (status in (404, 410) or "expired" in haystack):
            return ContentExpired(code=code, status_code=status)
        if status in (404, 410) or code in ("task_not_exist", "not_found"):
            return UpstreamNotFound(code=code, status_code=status)
        if (code or "").lower() in _MODERATION_CODES or _MODERATION_TEXT.search(haystack):
            return ModerationBlocked(code=code, status_code=status)
        user_message = f"The video service rejected the request: {message}" if message else None
        return UpstreamRejected(
            _short(user_message) if user_message else None,
            param=info.param,
            code=code,
            status_code=status,
        )

    async def _download_once(
        self, url: str, variant: str, max_bytes: int, dest: Path | None
    ) -> Download:
        """One download attempt; failures come out as ``_AttemptFailed``."""
        try:
            async with self._http.stream(
                "GET",
                url,
                params={"variant": variant},
                headers={**self._headers(), "Accept": "*/*"},
                timeout=self._json_timeout,
                follow_redirects=True,
            ) as response:
                if not response.is_success:
                    content = await _read_capped(response, MAX_ERROR_BODY)
                    raise _AttemptFailed(
                        self._failure("content", response.status_code, response.headers, content)
                    )
                content_type = _media_type(response.headers.get("content-type"))
                if content_type in ("application/json", "text/html"):
                    raise _AttemptFailed(
                        _Failure(
                            UpstreamUnavailable("The video service sent no video file."),
                            retry=True,
                            reason=f"content answered with {content_type}",
                        )
                    )
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise ContentTooLarge(max_bytes)
                return await self._receive(response, content_type, max_bytes, dest)
        except httpx.HTTPError as exc:
            raise _AttemptFailed(self._transport_failure("content", exc)) from exc

    async def _receive(
        self, response: httpx.Response, content_type: str | None, max_bytes: int, dest: Path | None
    ) -> Download:
        """Read the body under the byte cap, to memory or to ``dest`` via ``dest.part``."""
        if dest is None:
            buffer = bytearray()
            async for chunk in _capped_chunks(response, max_bytes):
                buffer += chunk
            return Download(size=len(buffer), content_type=content_type, data=bytes(buffer))
        part = dest.with_name(dest.name + ".part")
        size = 0
        handle: IO[bytes] = await asyncio.to_thread(part.open, "wb")
        try:
            async for chunk in _capped_chunks(response, max_bytes):
                await asyncio.to_thread(handle.write, chunk)
                size += len(chunk)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, part, dest)
        except BaseException:
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(part.unlink, True)
            raise
        return Download(size=size, content_type=content_type, path=dest)


class _AttemptFailed(Exception):
    """Carries a ``_Failure`` out of a download attempt."""

    def __init__(self, failure: _Failure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


def _media_type(header: str | None) -> str | None:
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None


async def _capped_chunks(response: httpx.Response, max_bytes: int) -> AsyncIterator[bytes]:
    """The decoded body in chunks; ``ContentTooLarge`` as soon as it passes ``max_bytes``."""
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise ContentTooLarge(max_bytes)
        yield chunk


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of a (small, error) body."""
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return bytes(data[:limit])
