"""``/settings``: a member's own ``/sora`` defaults, shown, changed and cleared.

The values a member may save are exactly what ``/sora`` offers (``VideoService.options``,
from the relay's dialect and config); a saved value the relay no longer offers is kept
but ignored, with a note (``bot.core.member_defaults``). Everything is per guild.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.member_defaults import (
    EffectiveDefaults,
    MemberDefaults,
    check_new_defaults,
    effective_defaults,
)
from bot.services.submission import VideoService


@dataclass(frozen=True, kw_only=True)
class DefaultsChange:
    """What ``/settings`` asked for: values to save (None: unchanged) and/or a reset."""

    model: str | None = None
    seconds: int | None = None
    size: str | None = None
    reset: bool = False

    @property
    def sets_anything(self) -> bool:
        """Whether any value is to be saved."""
        return any(value is not None for value in (self.model, self.seconds, self.size))


@dataclass(frozen=True, kw_only=True)
class DefaultsReport:
    """A member's defaults after ``/settings``: saved, in effect, and what changed."""

    saved: MemberDefaults
    effective: EffectiveDefaults
    changed: bool
    cleared: bool


async def apply_settings(
    service: VideoService, guild_id: int, user_id: int, change: DefaultsChange
) -> DefaultsReport:
    """Validate and apply ``change`` (a reset first, then any values), then report.

    A value ``/sora`` does not offer is ``InvalidInput`` and nothing is written.
    """
    check_new_defaults(
        service.options, model=change.model, seconds=change.seconds, size=change.size
    )
    store = service.store
    cleared = False
    if change.reset:
        cleared = await store.clear_member_defaults(guild_id, user_id)
    if change.sets_anything:
        saved = await store.update_member_defaults(
            guild_id, user_id, model=change.model, seconds=change.seconds, size=change.size
        )
    else:
        saved = await store.get_member_defaults(guild_id, user_id)
    return DefaultsReport(
        saved=saved,
        effective=effective_defaults(service.options, saved),
        changed=change.sets_anything,
        cleared=cleared,
    )
