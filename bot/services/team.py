"""How a team iterates on its videos: reroll one, pick the best ones.

A reroll is a new *root* video with its source's prompt, model, size and seconds: a
create sent through ``VideoService.generate``, so the quotas, the banned words and the
one-create money rule apply exactly as to ``/sora``. Its relation to the source is kept
as ``metadata.rerolled_from`` (and the indexed column), never as a parent: the remix
tree stays the tree of remixes.

A pick is one member's ⭐ on a finished video; pressing again takes it back. Picks are
counted per guild.
"""

from __future__ import annotations

from bot.core.errors import BotError
from bot.core.models import TaskStatus, VideoTask
from bot.services.submission import GenerateOptions, Origin, VideoService
from bot.storage.store import PickToggle

#: ``metadata`` key (and column) naming the video a reroll was made from.
REROLLED_FROM = "rerolled_from"


class PickRefused(BotError):
    """Only a finished video can be picked."""


def reroll_options(source: VideoTask) -> GenerateOptions:
    """The source's model, seconds and size, for the new video."""
    return GenerateOptions(model=source.model, seconds=source.seconds, size=source.size)


async def check_reroll(service: VideoService, origin: Origin, video_id: str) -> VideoTask:
    """Everything that can refuse a reroll before anything is written; returns the source.

    The source is looked up in the presser's guild only; the presser's quotas apply (the
    new video is theirs).
    """
    source = await service.find_video(origin.guild_id, video_id)
    await service.check_generate(origin, source.prompt, reroll_options(source))
    return source


async def reroll(service: VideoService, origin: Origin, source: VideoTask) -> VideoTask:
    """Record and submit the new root video made from ``source``'s prompt and options."""
    return await service.generate(
        origin, source.prompt, reroll_options(source), metadata_extra={REROLLED_FROM: source.id}
    )


async def toggle_pick(
    service: VideoService, guild_id: int, video_id: str, user_id: int
) -> PickToggle:
    """Add the member's pick of a finished video of this guild, or take it back."""
    task = await service.find_video(guild_id, video_id)
    if task.status is not TaskStatus.COMPLETED:
        raise PickRefused(
            f"Video `{task.id}` is not finished; only a finished video can be picked."
        )
    return await service.store.toggle_pick(task.id, guild_id=guild_id, user_id=user_id)
