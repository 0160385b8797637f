"""Meta values (the bot's own key/value notes) and per-guild limit overrides."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from bot.core.limits import LIMIT_FIELDS, GuildLimits, LimitChanges
from bot.storage.access import quick_reader, reader, writer
from bot.storage.codec import to_db_time
from bot.storage.core import Operations, StoreCore

_UPSERT_LIMITS = (
    "INSERT INTO guild_limits (guild_id, max_concurrent_per_user,"
    " daily_seconds_per_user, daily_budget, banned_words, max_concurrent_per_guild,"
    " updated_at, updated_by)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT(guild_id) DO UPDATE SET"
    " max_concurrent_per_user = excluded.max_concurrent_per_user,"
    " daily_seconds_per_user = excluded.daily_seconds_per_user,"
    " daily_budget = excluded.daily_budget, banned_words = excluded.banned_words,"
    " max_concurrent_per_guild = excluded.max_concurrent_per_guild,"
    " updated_at = excluded.updated_at, updated_by = excluded.updated_by"
)


def guild_limits_of(core: StoreCore, guild_id: int) -> GuildLimits | None:
    """A guild's limit overrides, or None if its admins never set any."""
    rows = list(core.db.query("SELECT * FROM guild_limits WHERE guild_id = ?", [guild_id]))
    if not rows:
        return None
    row = rows[0]
    words = row["banned_words"]
    return GuildLimits(
        max_concurrent_per_user=row["max_concurrent_per_user"],
        daily_seconds_per_user=row["daily_seconds_per_user"],
        daily_budget=row["daily_budget"],
        banned_words=None if words is None else tuple(json.loads(words)),
        max_concurrent_per_guild=row["max_concurrent_per_guild"],
        updated_at=datetime.fromisoformat(row["updated_at"]),
        updated_by=row["updated_by"],
    )


class Settings(Operations):
    """Meta values and guild limits."""

    __slots__ = ()

    @reader
    def get_meta(self, key: str) -> str | None:
        """Return a stored meta value, or None."""
        row = self._core.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    @writer
    def set_meta(self, key: str, value: str) -> None:
        """Store a meta value, replacing any previous one."""
        core = self._core
        with core.write():
            core.db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )

    @reader
    def meta_keys(self, prefix: str) -> list[str]:
        """Every meta key that starts with ``prefix``, sorted."""
        rows = self._core.db.execute(
            "SELECT key FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key", [len(prefix), prefix]
        ).fetchall()
        return [str(row[0]) for row in rows]

    @writer
    def delete_meta(self, key: str) -> None:
        """Forget a meta value (nothing happens if there is none)."""
        core = self._core
        with core.write():
            core.db.execute("DELETE FROM meta WHERE key = ?", [key])

    @quick_reader
    def get_limits(self, guild_id: int) -> GuildLimits | None:
        """Return a guild's limit overrides, or None if its admins never set any."""
        return guild_limits_of(self._core, guild_id)

    @writer
    def set_limits(self, guild_id: int, limits: GuildLimits, *, updated_by: int) -> GuildLimits:
        """Store all of a guild's overrides (None fields: back to the default); returns them.

        For a partial change, ``dataclasses.replace`` what ``get_limits`` returned.
        """
        core = self._core
        now = core.clock()
        words = limits.banned_words
        values = [
            limits.max_concurrent_per_user,
            limits.daily_seconds_per_user,
            limits.daily_budget,
            None if words is None else json.dumps(list(words)),
            limits.max_concurrent_per_guild,
        ]
        with core.write():
            core.db.execute(_UPSERT_LIMITS, [guild_id, *values, to_db_time(now), updated_by])
        stored = self.get_limits(guild_id)
        assert stored is not None
        return stored

    @writer
    def update_limits(
        self, guild_id: int, changes: LimitChanges, *, updated_by: int
    ) -> GuildLimits:
        """Apply some overrides on top of the stored ones, in one transaction; returns all.

        Read and write share the transaction, so two admins changing different limits at
        the same moment both keep their change.
        """
        unknown = set(changes) - set(LIMIT_FIELDS)
        if unknown:
            raise ValueError(f"not a limit: {sorted(unknown)}")
        with self._core.write():
            merged = replace(self.get_limits(guild_id) or GuildLimits(), **changes)
            return self.set_limits(guild_id, merged, updated_by=updated_by)
