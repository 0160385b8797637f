"""The boundary between the poller and whatever shows tasks to people.

The domain core reports through this protocol; the Discord layer implements it
(``bot.discord_ui.notifier``). Implementations raise ``TransientDeliveryError``
for failures worth retrying and ``PermanentDeliveryError`` for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.core.models import VideoTask


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a post of a task's outcome turned out to be."""

    message_id: int
    attached: bool


class Notifier(Protocol):
    """Shows task progress and outcomes to the people who asked for them."""

    async def update_card(self, task: VideoTask) -> None:
        """Edit the task's status card to show its current status and progress."""
        ...

    def upload_limit(self, task: VideoTask) -> int | None:
        """Bytes that may be attached in the task's channel; None when it cannot be known."""
        ...

    async def find_delivery(self, task: VideoTask) -> int | None:
        """The id of an earlier post of this task's outcome, if one reached Discord.

        Called before re-posting a task whose previous delivery attempt may have
        succeeded without being recorded (a crash or a lost response).
        """
        ...

    async def deliver(
        self, task: VideoTask, video: Path | None, *, too_large: bool = False
    ) -> Delivery:
        """Post the task's outcome (the video, a link, or a failure notice).

        ``too_large`` says why a finished video comes without its file: it is larger
        than the upload limit (otherwise the file could not be fetched).

        ``attached`` in the answer says whether the file went out: Discord may refuse a
        file the guild's limit did not predict, and the post then carries a link.
        """
        ...
