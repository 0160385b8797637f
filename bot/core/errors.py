"""The bot's error vocabulary.

Every error a user may see is a ``BotError`` whose ``user_message`` is short,
specific and safe to show (no secrets, no stack traces, no upstream internals
beyond a trimmed message). Programming errors (an illegal state transition) are
plain exceptions and reach users only as a generic apology with a reference id.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from bot.core.dialects import DIALECT_LABELS, INSTEAD


class FailureCode(StrEnum):
    """Why a task failed or a poll went wrong, as stored in ``tasks.error_code``.

    Each ``UpstreamError`` type names its code in ``failure_code``; the rest are
    outcomes the bot decides itself. The values are stored data: never rename one
    (add a migration in ``bot.storage.migrations`` if a value must change).
    ``tasks.error_code`` may also hold the upstream's own machine code for a job it
    reports as failed (``generation_failed``, ...); ``parse_failure_code`` keeps such
    text as it is.
    """

    # Decided by the bot.
    TIMED_OUT = "timed_out"
    SUBMISSION_INTERRUPTED = "submission_interrupted"
    INTERNAL_ERROR = "internal_error"
    # A chat-completions relay's stream (which is the job) was cut: by a restart, or
    # broken without a result. The message is the bot's own, shown as it is.
    STREAM_LOST = "stream_lost"
    STREAM_BROKEN = "stream_broken"
    # The upstream reported the job failed (or cancelled/expired it) without a code.
    UPSTREAM_FAILED = "failed"
    UPSTREAM_CANCELLED = "cancelled"
    # One per ``UpstreamError`` type.
    UPSTREAM_ERROR = "upstream_error"
    SUBMISSION_UNCERTAIN = "submission_uncertain"
    MODERATION_BLOCKED = "moderation_blocked"
    UPSTREAM_REJECTED = "upstream_rejected"
    NOT_FOUND = "not_found"
    ROUTE_MISSING = "route_missing"
    RATE_LIMITED = "rate_limited"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    UPSTREAM_AUTH_REFUSED = "upstream_auth_refused"
    CONTENT_EXPIRED = "expired"
    CONTENT_TOO_LARGE = "content_too_large"
    UNSUPPORTED_BY_UPSTREAM = "unsupported_by_upstream"


def parse_failure_code(text: str | None) -> FailureCode | str | None:
    """A stored ``error_code`` read back: ours as ``FailureCode``, an upstream's own as text."""
    if text is None:
        return None
    try:
        return FailureCode(text)
    except ValueError:
        return text


class BotError(Exception):
    """Base for errors whose message may be shown to a Discord user."""

    default_message = "Something went wrong."
    #: For operators (logs, ``check``), never for users: what exactly happened, e.g.
    #: ``HTTP 503: upstream overloaded`` or ``connection refused``. Set by the client.
    detail: str | None = None

    def __init__(self, user_message: str | None = None) -> None:
        self.user_message = user_message or self.default_message
        super().__init__(self.user_message)


class InvalidInput(BotError):
    """A command argument is wrong; ``field`` names the argument."""

    def __init__(self, field: str, user_message: str) -> None:
        self.field = field
        super().__init__(user_message)


class NotFound(BotError):
    """An id that does not exist, or belongs to another guild (indistinguishable on purpose)."""

    def __init__(self, video_id: str) -> None:
        self.video_id = video_id
        super().__init__(f"No video `{video_id}` in this server.")


class ParentNotReady(BotError):
    """A remix asked for a parent that is not completed."""


class QuotaExceeded(BotError):
    """A limit from ``bot.core.limits`` blocks the request."""


class PermissionMissing(BotError):
    """The bot (or the member) lacks a Discord permission the action needs."""


# --- upstream -----------------------------------------------------------------


class UpstreamError(BotError):
    """Base for failures talking to the Videos API.

    ``transient`` says whether trying again later may succeed; ``code`` is the
    upstream's machine-readable code when it gave one; ``failure_code`` is ours, the
    same for every instance of the type (stored instead of the class name, so renaming
    a class never changes stored data).
    """

    transient = False
    failure_code: ClassVar[FailureCode] = FailureCode.UPSTREAM_ERROR
    default_message = "The video service failed."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.code = code
        self.status_code = status_code
        super().__init__(user_message)


class UnsupportedByUpstream(UpstreamError):
    """The relay's dialect has no such operation (e.g. remix on a chat-completions relay).

    Raised before anything is sent. ``operation`` is what was asked ("remix", "extend",
    "list"), ``dialect`` the relay's dialect value.
    """

    failure_code = FailureCode.UNSUPPORTED_BY_UPSTREAM

    def __init__(self, operation: str, dialect: str) -> None:
        self.operation = operation
        self.dialect = dialect
        label = DIALECT_LABELS.get(dialect, dialect)
        instead = INSTEAD.get(operation)
        super().__init__(
            f"The video relay this bot uses speaks the {label} dialect, which cannot "
            f"{operation} videos" + (f"; {instead}." if instead else ".")
        )


class SubmissionUncertain(UpstreamError):
    """A create/remix may have reached the upstream but gave no answer.

    It is never re-sent: the task is failed instead of risking a second charge.
    """

    failure_code = FailureCode.SUBMISSION_UNCERTAIN
    default_message = (
        "The video service did not answer the request in time. It was not re-sent, "
        "to avoid paying twice; please try again."
    )


class ModerationBlocked(UpstreamError):
    """The upstream refused the prompt or image on content grounds. Never retried."""

    failure_code = FailureCode.MODERATION_BLOCKED
    default_message = "The video service blocked this request under its content policy."


class UpstreamRejected(UpstreamError):
    """The upstream says the request is invalid (400/422); ``param`` names the field."""

    failure_code = FailureCode.UPSTREAM_REJECTED
    default_message = "The video service rejected the request."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.param = param
        super().__init__(user_message, code=code, status_code=status_code)


class UpstreamNotFound(UpstreamError):
    """The upstream does not know this job (404, or new-api's 400 ``task_not_exist``)."""

    failure_code = FailureCode.NOT_FOUND
    default_message = "The video service no longer knows this video."


class RateLimited(UpstreamError):
    """429 from the upstream; ``retry_after`` in seconds when it said."""

    failure_code = FailureCode.RATE_LIMITED
    transient = True
    default_message = "The video service is busy (rate limited). Please try again shortly."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        retry_after: float | None = None,
        code: str | None = None,
        status_code: int | None = 429,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(user_message, code=code, status_code=status_code)


class UpstreamUnavailable(UpstreamError):
    """5xx, timeout, connection failure or a malformed reply: worth retrying later."""

    failure_code = FailureCode.UPSTREAM_UNAVAILABLE
    transient = True
    default_message = "The video service is unavailable right now. Please try again later."


class UpstreamAuthError(UpstreamError):
    """401/403: the bot's API key or base URL is wrong. An operator must fix config."""

    failure_code = FailureCode.UPSTREAM_AUTH_REFUSED
    default_message = "The bot's video service credentials were refused. An admin needs to check the configuration."


class ContentExpired(UpstreamError):
    """The video's downloadable assets are gone (expired status, or 404/410 on content)."""

    failure_code = FailureCode.CONTENT_EXPIRED
    default_message = "The video file has expired at the video service."


class ContentTooLarge(UpstreamError):
    """A download exceeded the byte cap the caller set."""

    failure_code = FailureCode.CONTENT_TOO_LARGE
    default_message = "The video file is larger than allowed."

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"The video file is larger than {limit} bytes.")


# --- delivery -----------------------------------------------------------------


class DeliveryError(Exception):
    """Posting a task's outcome to Discord failed. ``permanent`` stops retries."""

    permanent = False

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TransientDeliveryError(DeliveryError):
    """Worth retrying with backoff (429, 5xx, timeouts, gateway not ready).

    ``may_have_posted`` says whether the message may have reached Discord anyway (a 5xx
    or a timeout after the request left, unlike a 429 or a refused connection): then the
    next attempt looks for that post first (``Notifier.find_delivery``).
    """

    def __init__(self, reason: str, *, may_have_posted: bool = True) -> None:
        super().__init__(reason)
        self.may_have_posted = may_have_posted


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help (channel deleted, missing permission, bot removed)."""

    permanent = True


class AttachmentRejected(PermanentDeliveryError):
    """Discord refused the file as too large for the server; the post can go without it."""


class CardGone(PermanentDeliveryError):
    """The status card can never be edited again (deleted, or its channel out of reach).

    The card is marked dead and not tried again; posting the result may still work.
    """


# --- programming errors -------------------------------------------------------


class IllegalTransition(Exception):
    """A lifecycle change that ``bot.core.models.TRANSITIONS`` does not allow."""

    def __init__(self, task_id: str, old: str, new: str) -> None:
        self.task_id = task_id
        self.old = old
        self.new = new
        super().__init__(f"task {task_id}: illegal transition {old} -> {new}")
