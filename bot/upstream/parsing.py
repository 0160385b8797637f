"""Reading what an upstream answers, leniently (see shared/notes/upstream-api.md 2.5).

Relays in front of the Videos API disagree on spelling: statuses come in any case and
with any separator, progress as an int, a ``"45%"`` string or a 0..1 float, ids as ``id``
or ``task_id`` (LiteLLM's are long base64 strings), bodies wrapped in new-api's
``{"code": "success", "data": {...}}``, errors in four shapes. Everything here is pure: no
I/O, and nothing an upstream sends can crash it; what cannot be used raises
``MalformedAnswer``.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.models import TaskStatus
from bot.upstream.values import UpstreamJob

log = logging.getLogger(__name__)

#: Upstream text shown to users is trimmed to this many characters.
MAX_MESSAGE_CHARS = 200
#: How LiteLLM's proxy passes on the backend's response headers (``llm_provider-retry-after``).
LITELLM_HEADER_PREFIX = "llm_provider-"

_STATUS_MAP: dict[str, TaskStatus] = {
    **dict.fromkeys(("queued", "pending", "submitted", "not_start", "unknown"), TaskStatus.QUEUED),
    **dict.fromkeys(("in_progress", "processing", "running", "generating"), TaskStatus.IN_PROGRESS),
    **dict.fromkeys(("completed", "succeeded", "success", "finished"), TaskStatus.COMPLETED),
    **dict.fromkeys(("failed", "failure", "error"), TaskStatus.FAILED),
}
_TERMINAL_CODES = {"cancelled": "cancelled", "canceled": "cancelled", "expired": "expired"}


class MalformedAnswer(ValueError):
    """An upstream answer that is not the job object we need."""


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """The parts of an upstream error body, whichever shape it came in."""

    message: str | None = None
    code: str | None = None
    param: str | None = None
    type: str | None = None


class EmbeddedError(MalformedAnswer):
    """A 2xx answer whose body is an error object (some relays do that)."""

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(f"error object in a success answer: {info.code}")
        self.info = info


# --- small values ---------------------------------------------------------------------


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


def short_text(text: object, secret: str | None = None) -> str:
    """Collapse whitespace, remove ``secret`` and bearer tokens, trim to ``MAX_MESSAGE_CHARS``."""
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


# --- error bodies ---------------------------------------------------------------------


def error_info(body: object) -> ErrorInfo | None:
    """Read ``{"error": {...}}``, ``{"error": "..."}``, new-api ``{"code", "message"}``
    or ``{"detail": "..."}``; None when ``body`` is none of these."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        return ErrorInfo(
            message=_optional_str(error.get("message")),
            code=_optional_str(error.get("code")),
            param=_optional_str(error.get("param")),
            type=_optional_str(error.get("type")),
        )
    if isinstance(error, str) and error:
        return ErrorInfo(message=error)
    if "code" in body and "message" in body and body.get("code") != "success":
        return ErrorInfo(message=_optional_str(body["message"]), code=_optional_str(body["code"]))
    detail = body.get("detail")
    if isinstance(detail, str):
        return ErrorInfo(message=detail)
    return None


def parse_error_body(content: bytes) -> ErrorInfo:
    """The error in a non-2xx body: JSON in any known shape, plain text, or nothing."""
    try:
        decoded = json.loads(content)
    except ValueError:
        text = content.decode("utf-8", errors="replace").strip()
        if text.startswith("<"):  # an HTML error page says nothing useful
            return ErrorInfo()
        return ErrorInfo(message=text or None)
    return error_info(decoded) or ErrorInfo()


# --- job answers ------------------------------------------------------------------------


def _job_body(data: object) -> tuple[Mapping[str, Any], str]:
    """(the job object itself, unwrapped; its id); ``MalformedAnswer`` when there is none."""
    if not isinstance(data, dict):
        raise MalformedAnswer("the answer is not a JSON object")
    body: Mapping[str, Any] = data
    inner = body.get("data")
    if isinstance(inner, dict) and not (body.get("id") or body.get("task_id")):
        body = inner  # new-api's generic {"code": "success", "data": {...}}
    job_id = body.get("id") or body.get("task_id")
    if not isinstance(job_id, str) or not job_id.strip():
        info = error_info(body)
        if info is not None:
            raise EmbeddedError(info)
        raise MalformedAnswer("the answer has no job id")
    return body, job_id.strip()


def _job_error(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(code, message) of the job's own failure, from ``error`` or ``fail_reason``."""
    error = body.get("error")
    code = message = None
    if isinstance(error, dict):
        code = _optional_str(error.get("code"))
        message = _optional_str(error.get("message"))
    elif isinstance(error, str):
        message = _optional_str(error)
    return code, message or _optional_str(body.get("fail_reason"))


def _poll_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``openai-poll-after-ms``, or LiteLLM's copy of it (the larger wins)."""
    if headers is None:
        return None
    found: list[float] = []
    for prefix in ("", LITELLM_HEADER_PREFIX):
        with contextlib.suppress(TypeError, ValueError):
            millis = float(headers.get(f"{prefix}openai-poll-after-ms", ""))
            if millis >= 0:
                found.append(millis / 1000)
    return max(found) if found else None


def parse_job(
    data: object, *, headers: Mapping[str, str] | None = None, redact: str | None = None
) -> UpstreamJob:
    """Build an ``UpstreamJob`` from a decoded JSON answer (any supported dialect).

    ``redact`` (the API key) is removed from any upstream text kept in the job.

    Raises ``MalformedAnswer`` when there is no job id (``EmbeddedError`` when the body
    is an error object).
    """
    body, job_id = _job_body(data)
    raw_status = str(body.get("status") or "")
    status, terminal_code = normalize_status(raw_status)
    error_code, error_message = _job_error(body)
    progress = 100 if status is TaskStatus.COMPLETED else parse_progress(body.get("progress"))
    return UpstreamJob(
        id=job_id,
        status=status,
        raw_status=raw_status,
        progress=progress,
        model=_optional_str(body.get("model")),
        seconds=_optional_str(body.get("seconds")),
        size=_optional_str(body.get("size")),
        remixed_from=_optional_str(body.get("remixed_from_video_id")),
        error_code=terminal_code or error_code,
        error_message=short_text(error_message, redact) if error_message else None,
        result_url=_public_url(body),
        expires_at=_timestamp(body.get("expires_at")),
        poll_after=_poll_after(headers),
        prompt=body.get("prompt") if isinstance(body.get("prompt"), str) else None,
        created_at=_timestamp(body.get("created_at")),
    )


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait, from the upstream's own headers or LiteLLM's copies of them.

    Each source gives ``retry-after-ms``, else ``Retry-After`` (seconds or HTTP date).
    LiteLLM passes the backend's headers on with an ``llm_provider-`` prefix and may send
    a ``Retry-After`` of its own: when both are there the larger wait wins (a floor).
    """
    found = [
        wait
        for prefix in ("", LITELLM_HEADER_PREFIX)
        if (wait := _retry_after_from(headers, prefix, now)) is not None
    ]
    return max(found) if found else None


def _retry_after_from(
    headers: Mapping[str, str], prefix: str, now: datetime | None
) -> float | None:
    with contextlib.suppress(TypeError, ValueError):
        millis = float(headers.get(f"{prefix}retry-after-ms", ""))
        if millis >= 0:
            return millis / 1000
    value = headers.get(f"{prefix}retry-after")
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
