"""The values that cross the upstream boundary, whichever dialect the upstream speaks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.core.dialects import Dialect
from bot.core.models import TaskStatus


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
    prompt: str | None = None  # as the upstream echoes it (matching a listed job to a task)
    created_at: datetime | None = None  # when the upstream says it created the job


@dataclass(frozen=True, kw_only=True, slots=True)
class JobPage:
    """One page of ``GET /videos``: jobs newest first, and the cursor for the next page."""

    jobs: tuple[UpstreamJob, ...]
    has_more: bool
    last_id: str | None


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


@dataclass(frozen=True, kw_only=True, slots=True)
class VideoCapabilities:
    """What one upstream dialect can do, so callers can ask instead of assuming.

    ``models``, ``sizes`` and ``seconds`` are in the bot's vocabulary (``"1280x720"``,
    ``4``, ``"sora-2"``); the adapter translates them the dialect's way. ``models`` are the
    documented names, narrowed to those the relay lists when it lists any.
    """

    dialect: Dialect
    can_remix: bool
    can_list: bool
    can_extend: bool
    image_input: bool
    models: tuple[str, ...]
    sizes: tuple[str, ...]
    seconds: tuple[int, ...]
    #: Whether ``VideoProvider.cancel`` stops (or deletes) a job on this upstream.
    can_cancel: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class ProbeAnswer:
    """One raw answer to a detection request: nothing parsed, nothing retried."""

    status: int
    headers: dict[str, str]
    json: object | None  # the decoded body, when it was JSON
    text: str  # the body as text, at most a few KiB, the key redacted


@dataclass(frozen=True, kw_only=True, slots=True)
class DialectProbe:
    """Whether an upstream speaks one dialect, and what showed it (for ``check``)."""

    dialect: Dialect
    speaks: bool
    evidence: str
    can_list: bool = False
    #: Operations the answers showed this relay lacks (e.g. ``{"list", "extend"}`` for
    #: new-api's ``/v1/videos``), so nothing is offered that would fail.
    lacks: frozenset[str] = frozenset()
