"""The boundary between the poller and whatever shows tasks to people.

The domain core reports through this protocol; the Discord layer implements it
(``bot.discord_ui.notifier``). Implementations raise ``TransientDeliveryError``
for failures worth retrying and ``PermanentDeliveryError`` for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from bot.core.models import VideoTask


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a post of a task's outcome turned out to be."""

    message_id: int
    attached: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class FitNote:
    """How a finished video relates to the upload limit, for the text of its post.

    ``source_bytes`` is the video as the service made it, larger than ``limit`` (None: too
    large to download, so not known).
    ``compressed``: the attached file is a re-encode of it that fits. Otherwise no file
    is attached and ``reason`` says why it could not be made to fit.
    """

    source_bytes: int | None
    limit: int
    compressed: bool
    reason: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class OriginalLink:
    """A kept original (``bot.delivery.media_links``): its signed link, size, and end."""

    url: str
    size: int
    expires_at: datetime


class Notifier(Protocol):
    """Shows task progress and outcomes to the people who asked for them."""

    async def update_card(self, task: VideoTask) -> None:
        """Edit the task's status card to show its current status and progress."""
        ...

    def edits_card_via_channel(self, task: VideoTask) -> bool:
        """Whether editing the task's card now uses its channel's shared rate-limit budget
        (False: a route of its own, e.g. the interaction's webhook while its token lives)."""
        ...

    def upload_limit(self, task: VideoTask) -> int | None:
        """Bytes the task's result post may attach, as the live guild says now.

        None when it cannot be known (the guild's data has not arrived, or the bot is not
        in it): the caller waits, it never reads None as "no file". Delivery prefers the
        limit recorded on the task (``VideoTask.upload_limit``).
        """
        ...

    async def find_delivery(self, task: VideoTask) -> int | None:
        """The id of an earlier post of this task's outcome, if one reached Discord.

        Called before re-posting a task whose previous delivery attempt may have
        succeeded without being recorded (a crash or a lost response).
        """
        ...

    async def deliver(
        self,
        task: VideoTask,
        video: Path | None,
        *,
        too_large: bool = False,
        fit: FitNote | None = None,
        original: OriginalLink | None = None,
        thumbnail: Path | None = None,
    ) -> Delivery:
        """Post the task's outcome (the video, a link, or a failure notice).

        ``too_large`` says why a finished video comes without its file: it is larger
        than the upload limit (otherwise the file could not be fetched). ``fit`` says
        that the file was compressed to fit, or why it could not be. ``original`` is the
        kept original (only with ``[media] public_url``), linked when the post does not
        carry it as it is; ``thumbnail`` is a picture to show when there is no file.

        ``attached`` in the answer says whether the file went out: Discord may refuse a
        file the guild's limit did not predict, and the post then carries a link.
        """
        ...
