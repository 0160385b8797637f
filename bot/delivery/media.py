"""The file a result post carries: the download as it is, or a re-encode that fits.

Files live in ``media_dir`` under the task's id: ``<id>.mp4`` (the download, written via
``<id>.mp4.part``), ``<id>.fit.mp4`` (the re-encode) and ``<id>.thumb.<ext>`` (the
upstream's thumbnail, for a post that can only link its video). They stay between delivery
attempts (a retry after a Discord outage downloads nothing again) and ``discard`` removes
all of them once the task was posted or given up. With ``[media] public_url`` set, the
download is moved to ``media_dir/originals`` first (``bot.delivery.media_links``), which
``discard`` leaves alone: retention removes it.

Which limit a post has (researched for the bot's sending paths):

* result posts and failure notices are channel messages sent with the bot token: the
  guild's limit, ``Guild.filesize_limit`` (10 MiB below boost level 2 since 2025-01-16,
  50 MiB at level 2, 100 MiB at level 3). That is the limit recorded on each task.
* interaction responses and follow-ups (status cards, the lineage picture, private
  answers) are limited by the interaction's ``attachment_size_limit``, which includes the
  invoking member's Nitro; it says nothing about the bot's own channel posts, so it is
  never recorded on a task.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from bot.config import MediaConfig
from bot.core import errors
from bot.core.models import VideoTask
from bot.delivery.notifier import FitNote
from bot.delivery.transcode import TranscodeFailed, Transcoder, file_size
from bot.upstream import VideoProvider

log = logging.getLogger(__name__)

MiB = 1048576
#: Thumbnail content types Discord shows as an embed image, and their file extensions.
IMAGE_TYPES = {"image/webp": "webp", "image/png": "png", "image/jpeg": "jpg"}


@dataclass(frozen=True, kw_only=True, slots=True)
class PreparedVideo:
    """What a result post will carry: ``path`` (None: no file) and how it relates to the limit."""

    path: Path | None = None
    too_large: bool = False
    fit: FitNote | None = None


def bundled_ffmpeg() -> str:
    """The ffmpeg binary inside the ``imageio-ffmpeg`` wheel (``IMAGEIO_FFMPEG_EXE`` overrides)."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def make_transcoder(config: MediaConfig) -> Transcoder | None:
    """The configured transcoder; None when compressing is switched off."""
    if config.transcode_concurrency == 0:
        return None
    return Transcoder(
        ffmpeg=bundled_ffmpeg(),
        concurrency=config.transcode_concurrency,
        timeout=config.transcode_timeout_seconds,
    )


class VideoFitter:
    """Makes a downloaded video fit its post's upload limit, and cleans up after it."""

    def __init__(self, *, media_dir: Path, transcoder: Transcoder | None) -> None:
        self.media_dir = media_dir
        self.transcoder = transcoder

    def download_path(self, task: VideoTask) -> Path:
        """Where the task's video is downloaded to (the folder is created)."""
        self.media_dir.mkdir(parents=True, exist_ok=True)
        return self.media_dir / f"{task.id}.mp4"

    async def fit(self, task: VideoTask, video: Path, limit: int) -> PreparedVideo:
        """The downloaded ``video`` if it fits ``limit``, else a checked re-encode that does.

        A video that cannot be made to fit comes back without a file, with the reason.
        """
        size = await file_size(video) or 0
        if size <= limit:
            return PreparedVideo(path=video)
        if self.transcoder is None:
            reason = "compressing is switched off"
            return self._unfit(task, size, limit, reason)
        dest = self.media_dir / f"{task.id}.fit.mp4"
        try:
            result = await self.transcoder.fit(video, dest, limit)
        except TranscodeFailed as exc:
            return self._unfit(task, size, limit, exc.reason)
        log.info(
            "task %s: compressed %d -> %d bytes (limit %d) in %.1f s, %d pass(es), %d kbps",
            task.id,
            size,
            result.output_bytes,
            limit,
            result.seconds,
            result.passes,
            result.plan.video_kbps,
        )
        note = FitNote(source_bytes=size, limit=limit, compressed=True)
        return PreparedVideo(path=dest, fit=note)

    def too_large_to_download(self, limit: int, max_bytes: int) -> PreparedVideo:
        """The answer for a video over the download cap: no file, and why."""
        reason = f"it is over the {max_bytes / MiB:.0f} MB the bot downloads"
        return PreparedVideo(
            too_large=True,
            fit=FitNote(source_bytes=None, limit=limit, compressed=False, reason=reason),
        )

    async def thumbnail(
        self, task: VideoTask, upstream: VideoProvider, *, max_bytes: int
    ) -> Path | None:
        """The upstream's thumbnail of the task's video in ``media_dir``; None if there is none.

        Best effort: a post is never held back for its picture, so any upstream error or
        a body that is no image Discord shows means no thumbnail.
        """
        earlier = sorted(self.media_dir.glob(f"{task.id}.thumb.*"))
        if earlier:
            return earlier[0]
        if task.upstream_id is None:
            return None
        try:
            download = await upstream.download(
                task.upstream_id,
                variant="thumbnail",
                max_bytes=max_bytes,
                result_url=task.result_url,
            )
        except errors.UpstreamError as exc:
            log.info("task %s: no thumbnail (%s)", task.id, exc.user_message)
            return None
        kind = (download.content_type or "").split(";")[0].strip().lower()
        if kind not in IMAGE_TYPES or not download.data:
            log.info("task %s: the thumbnail is not an image (%s)", task.id, kind or "no type")
            return None
        path = self.download_path(task).parent / f"{task.id}.thumb.{IMAGE_TYPES[kind]}"
        path.write_bytes(download.data)
        return path

    def discard(self, task_id: str) -> None:
        """Remove every file of this task from ``media_dir`` (ids are ``[a-z0-9]``)."""
        for path in self.media_dir.glob(f"{task_id}.*"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @staticmethod
    def _unfit(task: VideoTask, size: int, limit: int, reason: str) -> PreparedVideo:
        log.warning(
            "task %s: %d bytes, over the limit %d, not compressed: %s", task.id, size, limit, reason
        )
        note = FitNote(source_bytes=size, limit=limit, compressed=False, reason=reason)
        return PreparedVideo(too_large=True, fit=note)
