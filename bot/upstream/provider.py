"""The interface every upstream dialect adapter offers, and the rest of the bot uses.

One adapter per dialect (``bot.core.dialects.Dialect``), all over the same
``Transport``; ``bot.upstream.factory`` builds the one a config or a detection names.
Callers hold a ``VideoProvider`` and ask ``capabilities()`` before offering an operation:
one a dialect lacks raises ``UnsupportedByUpstream`` and sends nothing.

Every adapter keeps the money rule of ``bot.upstream.failures``: ``create``, ``remix``
and ``extend`` are never re-sent once a byte of them may have reached the upstream;
such a failure raises ``SubmissionUncertain``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal, Protocol

from bot.core.request_budget import RateSignal
from bot.upstream.values import Download, JobPage, ReferenceImage, UpstreamJob, VideoCapabilities

#: Which asset of a finished job ``download`` fetches.
Variant = Literal["video", "thumbnail"]


class VideoProvider(Protocol):
    """Starts, follows and fetches video jobs on one upstream.

    Errors are the ``bot.core.errors`` vocabulary; arguments are validated (against
    ``capabilities()``) before any request is sent.
    """

    def capabilities(self) -> VideoCapabilities:
        """What this upstream accepts and can do."""
        ...

    async def create(
        self,
        *,
        prompt: str,
        model: str | None = None,
        seconds: int,
        size: str,
        reference: ReferenceImage | None = None,
    ) -> UpstreamJob:
        """Start a generation job (costs money). ``model=None``: the adapter's default."""
        ...

    async def remix(self, upstream_id: str, *, prompt: str) -> UpstreamJob:
        """Start a remix of a completed job (costs money)."""
        ...

    async def extend(self, upstream_id: str, *, prompt: str, seconds: int) -> UpstreamJob:
        """Continue a completed job by ``seconds`` more (costs money)."""
        ...

    async def retrieve(self, upstream_id: str) -> UpstreamJob:
        """The job's current state."""
        ...

    async def list_recent(self, *, limit: int) -> list[UpstreamJob]:
        """The upstream's most recent jobs, newest first (``capabilities().can_list``)."""
        ...

    async def list_page(self, *, limit: int, after: str | None = None) -> JobPage:
        """One page of jobs, newest first, after the job ``after`` (``can_list``)."""
        ...

    def watch_answers(
        self,
        watcher: Callable[[RateSignal], None],
        pacer: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Have ``watcher`` told what every answer says about the rate limit, and
        ``pacer`` awaited before a request refused with 429 is sent again."""
        ...

    async def download(
        self,
        upstream_id: str,
        *,
        variant: Variant = "video",
        max_bytes: int,
        dest: Path | None = None,
        result_url: str | None = None,
    ) -> Download:
        """The finished job's asset, in memory or streamed to ``dest``, at most ``max_bytes``.

        ``result_url`` is the link the completed job carried (stored with the task), for
        dialects whose result is only reachable that way.
        """
        ...

    async def check_credentials(self) -> None:
        """One cheap authenticated request that creates nothing; ``UpstreamAuthError`` if
        the key is refused."""
        ...

    async def aclose(self) -> None:
        """Stop background work (e.g. open streams); the HTTP client is the caller's."""
        ...

    async def cancel(self, upstream_id: str) -> None:
        """Stop or delete the job (``capabilities().can_cancel``); costs nothing."""
        ...
