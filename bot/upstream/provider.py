"""The interface every upstream dialect adapter offers, and the rest of the bot uses.

Today one adapter implements it (``OpenAIVideosClient``, the OpenAI Videos API and
relays that copy it). Other relay dialects (chat-completions, new-api generations,
video-create) can be added beside it as further adapters over the same ``Transport``;
callers that hold a ``VideoProvider`` need not change.

Every adapter keeps the money rule of ``bot.upstream.failures``: ``create`` and ``remix``
are never re-sent once a byte of them may have reached the upstream; such a failure
raises ``SubmissionUncertain``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from bot.upstream.values import Download, ReferenceImage, UpstreamJob, VideoCapabilities

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

    async def retrieve(self, upstream_id: str) -> UpstreamJob:
        """The job's current state."""
        ...

    async def download(
        self,
        upstream_id: str,
        *,
        variant: Variant = "video",
        max_bytes: int,
        dest: Path | None = None,
    ) -> Download:
        """The finished job's asset, in memory or streamed to ``dest``, at most ``max_bytes``."""
        ...

    async def check_credentials(self) -> None:
        """One cheap authenticated request that creates nothing; ``UpstreamAuthError`` if
        the key is refused."""
        ...
