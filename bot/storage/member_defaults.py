"""Each member's own ``/sora`` defaults, per guild (the ``member_defaults`` table).

Only what the member chose is stored; a NULL column is "the server's default". Whether a
stored value is still offered is decided when it is used (``bot.core.member_defaults``),
so a relay change never rewrites rows.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.member_defaults import MemberDefaults
from bot.storage.access import quick_reader, writer
from bot.storage.codec import to_db_time
from bot.storage.core import Operations, StoreCore

_UPSERT = (
    "INSERT INTO member_defaults (guild_id, user_id, model, seconds, size, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT(guild_id, user_id) DO UPDATE SET"
    " model = excluded.model, seconds = excluded.seconds, size = excluded.size,"
    " updated_at = excluded.updated_at"
)


def member_defaults_of(core: StoreCore, guild_id: int, user_id: int) -> MemberDefaults:
    """The member's saved defaults in this guild (all None when they saved none)."""
    row = core.db.execute(
        "SELECT model, seconds, size, updated_at FROM member_defaults"
        " WHERE guild_id = ? AND user_id = ?",
        [guild_id, user_id],
    ).fetchone()
    if row is None:
        return MemberDefaults()
    model, seconds, size, updated_at = row
    return MemberDefaults(
        model=model, seconds=seconds, size=size, updated_at=datetime.fromisoformat(updated_at)
    )


class MemberDefaultsStore(Operations):
    """Read, change and clear a member's defaults in one guild."""

    __slots__ = ()

    @quick_reader
    def get_member_defaults(self, guild_id: int, user_id: int) -> MemberDefaults:
        """The member's saved defaults in this guild (all None when they saved none)."""
        return member_defaults_of(self._core, guild_id, user_id)

    @writer
    def update_member_defaults(
        self,
        guild_id: int,
        user_id: int,
        *,
        model: str | None = None,
        seconds: int | None = None,
        size: str | None = None,
    ) -> MemberDefaults:
        """Save the given defaults on top of the stored ones (None: leave as is); returns all."""
        core = self._core
        with core.write():
            old = self.get_member_defaults(guild_id, user_id)
            values = [
                old.model if model is None else model,
                old.seconds if seconds is None else seconds,
                old.size if size is None else size,
            ]
            core.db.execute(_UPSERT, [guild_id, user_id, *values, to_db_time(core.clock())])
            return self.get_member_defaults(guild_id, user_id)

    @writer
    def clear_member_defaults(self, guild_id: int, user_id: int) -> bool:
        """Forget the member's defaults in this guild; True when there were any."""
        core = self._core
        with core.write():
            cursor = core.db.execute(
                "DELETE FROM member_defaults WHERE guild_id = ? AND user_id = ?",
                [guild_id, user_id],
            )
            return bool(cursor.rowcount)
