"""Database schema, as an ordered list of ``sqlite_utils`` migrations.

sqlite-utils 4.2 ships ``sqlite_utils.migrations.Migrations``: each function registered
on ``MIGRATIONS`` runs once, in registration order, inside a transaction together with
the row that records it in ``_sqlite_migrations``. ``open_database`` in ``bot.storage.store``
applies pending ones at start-up, so an old database file is brought up to date before
the bot touches it.

Rules for editing this file: never change a migration that has shipped; add a new
function at the end instead. DDL here is written out by hand (not derived from
``bot.core.models``) so that a migration stays a frozen snapshot; ``tests/test_store.py``
checks that the ``tasks`` columns still match ``VideoTask``'s fields.

Storage conventions: datetimes are ISO-8601 UTC text with microseconds
(``2025-01-01T12:00:00.000000+00:00``), so text order is time order; Discord snowflakes
are INTEGER (they fit in SQLite's int64); JSON columns are TEXT; booleans are 0/1/NULL.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("sora-bot")

_TASKS_DDL = """
CREATE TABLE tasks (
    id                 TEXT PRIMARY KEY,
    guild_id           INTEGER NOT NULL,
    channel_id         INTEGER NOT NULL,
    user_id            INTEGER NOT NULL,
    prompt             TEXT NOT NULL,
    model              TEXT NOT NULL,
    seconds            INTEGER NOT NULL,
    size               TEXT NOT NULL,
    status             TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    upstream_id        TEXT,
    progress           INTEGER NOT NULL DEFAULT 0,
    error_code         TEXT,
    error_message      TEXT,
    result_url         TEXT,
    result_bytes       INTEGER,
    result_attached    INTEGER,
    completed_at       TEXT,
    next_poll_at       TEXT,
    poll_count         INTEGER NOT NULL DEFAULT 0,
    poll_failures      INTEGER NOT NULL DEFAULT 0,
    card_message_id    INTEGER,
    card_edited_at     TEXT,
    card_progress      INTEGER,
    card_status        TEXT,
    result_message_id  INTEGER,
    delivery_state     TEXT NOT NULL DEFAULT 'none',
    delivery_attempts  INTEGER NOT NULL DEFAULT 0,
    next_delivery_at   TEXT,
    delivery_error     TEXT,
    parent_id          TEXT REFERENCES tasks(id),
    root_id            TEXT NOT NULL,
    depth              INTEGER NOT NULL DEFAULT 0,
    estimated_cost     REAL,
    metadata           TEXT NOT NULL DEFAULT '{}'
)
"""

_TASK_INDEXES = (
    "CREATE INDEX idx_tasks_status_next_poll ON tasks (status, next_poll_at)",
    "CREATE INDEX idx_tasks_delivery_due ON tasks (delivery_state, next_delivery_at)",
    # One upstream job belongs to exactly one task; NULLs (not yet submitted) repeat freely.
    "CREATE UNIQUE INDEX idx_tasks_upstream ON tasks (upstream_id)",
    "CREATE INDEX idx_tasks_parent ON tasks (parent_id)",
    "CREATE INDEX idx_tasks_root ON tasks (root_id)",
    "CREATE INDEX idx_tasks_guild_status_created ON tasks (guild_id, status, created_at)",
    "CREATE INDEX idx_tasks_guild_user_created ON tasks (guild_id, user_id, created_at)",
    "CREATE INDEX idx_tasks_guild_channel_created ON tasks (guild_id, channel_id, created_at)",
)


@MIGRATIONS()
def m001_initial(db: Database) -> None:
    """Create ``tasks``, ``events``, ``meta`` and ``guild_limits``."""
    db.execute(_TASKS_DDL)
    for statement in _TASK_INDEXES:
        db.execute(statement)
    db.execute(
        """
        CREATE TABLE events (
            id       INTEGER PRIMARY KEY AUTOINCREMENT,
            task_id  TEXT NOT NULL REFERENCES tasks(id),
            at       TEXT NOT NULL,
            kind     TEXT NOT NULL,
            detail   TEXT NOT NULL DEFAULT '{}'
        )
        """
    )
    db.execute("CREATE INDEX idx_events_task_at ON events (task_id, at)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        """
        CREATE TABLE guild_limits (
            guild_id                INTEGER PRIMARY KEY,
            max_concurrent_per_user INTEGER,
            daily_seconds_per_user  INTEGER,
            daily_budget            REAL,
            banned_words            TEXT,
            updated_at              TEXT NOT NULL,
            updated_by              INTEGER
        )
        """
    )


@MIGRATIONS()
def m002_guild_created_covering_index(db: Database) -> None:
    """A guild's tasks by creation time, carrying what the daily-budget sum reads.

    ``cost_since`` runs on every command and sums every task the guild created today;
    with this index it never touches the table (bench/README.md: 10,000 tasks in flight
    made it the slowest step before a command's first response). It also serves
    ``guild_history`` pages in creation order.
    """
    db.execute(
        "CREATE INDEX idx_tasks_guild_created"
        " ON tasks (guild_id, created_at, status, estimated_cost)"
    )


@MIGRATIONS()
def m003_retry_of_column(db: Database) -> None:
    """``tasks.retry_of``: the task a retry was made from, as an indexed column.

    Retries have always recorded their origin in ``metadata.retry_of`` (admin retry
    writes it; the metadata keeps it). ``find_retry`` used to scan the table with
    ``json_extract``; the column is written on insert from then on, and backfilled here
    from the existing rows' metadata.
    """
    db.execute("ALTER TABLE tasks ADD COLUMN retry_of TEXT")
    db.execute(
        "UPDATE tasks SET retry_of = json_extract(metadata, '$.retry_of')"
        " WHERE json_valid(metadata) AND json_extract(metadata, '$.retry_of') IS NOT NULL"
    )
    db.execute("CREATE INDEX idx_tasks_retry_of ON tasks (retry_of)")


def apply_migrations(db: Database) -> None:
    """Apply every pending migration (idempotent)."""
    MIGRATIONS.apply(db)


# Migrations below ``apply_migrations`` still run (it reads ``MIGRATIONS`` when called),
# in file order like the ones above; new ones go at the very end of the file.

#: Failure codes were once the exception class names; each error type now has a stable code.
_M004_CLASS_NAME_CODES = {
    "UpstreamError": "upstream_error",
    "SubmissionUncertain": "submission_uncertain",
    "ModerationBlocked": "moderation_blocked",
    "UpstreamRejected": "upstream_rejected",
    "UpstreamNotFound": "not_found",
    "RateLimited": "rate_limited",
    "UpstreamUnavailable": "upstream_unavailable",
    "UpstreamAuthError": "upstream_auth_refused",
    "ContentExpired": "expired",
    "ContentTooLarge": "content_too_large",
}
#: Event kinds as of m004; any other kind (``add_event`` once took free text) becomes
#: ``note`` and keeps its old kind in ``detail.old_kind``.
_M004_EVENT_KINDS = (
    "created",
    "submitted",
    "status",
    "completed",
    "failed",
    "cancelled",
    "poll_error",
    "delivery_attempt",
    "delivered",
    "delivery_retry",
    "delivery_failed",
    "card_posted",
    "retried",
    "note",
)


@MIGRATIONS()
def m004_stable_vocabulary(db: Database) -> None:
    """Stored failure codes and event kinds become the values of the vocabulary enums.

    Rewrites class-name codes in ``tasks.error_code``, in ``failed`` events'
    ``detail.code`` and in ``poll_error`` events' ``detail.error_code``; an event kind
    outside the vocabulary becomes ``note``.
    """
    for old, new in _M004_CLASS_NAME_CODES.items():
        db.execute("UPDATE tasks SET error_code = ? WHERE error_code = ?", [new, old])
        for kind, path in (("failed", "$.code"), ("poll_error", "$.error_code")):
            db.execute(
                f"UPDATE events SET detail = json_set(detail, '{path}', ?)"
                f" WHERE kind = ? AND json_extract(detail, '{path}') = ?",
                [new, kind, old],
            )
    placeholders = ", ".join("?" for _ in _M004_EVENT_KINDS)
    db.execute(
        "UPDATE events SET detail = json_set(detail, '$.old_kind', kind), kind = 'note'"
        f" WHERE kind NOT IN ({placeholders})",
        list(_M004_EVENT_KINDS),
    )


@MIGRATIONS()
def m005_author_name_column(db: Database) -> None:
    """``tasks.author_name``: the author's display name when they submitted.

    Embeds and the lineage picture show it instead of a ``<@id>`` mention, which a
    client that has not cached the user shows as a raw id, and which a bot without
    the members intent cannot look up. Rows from before stay NULL (shown by mention).
    """
    db.execute("ALTER TABLE tasks ADD COLUMN author_name TEXT")


@MIGRATIONS()
def m006_card_dead_reason_column(db: Database) -> None:
    """``tasks.card_dead_reason``: why the status card can no longer be edited.

    After Discord answers an edit with 10008 (the card was deleted), 50001 or 50013 (the
    bot lost access), editing again can only fail, and every failure counts toward
    Discord's invalid-request limit; the card is marked dead and left alone.
    """
    db.execute("ALTER TABLE tasks ADD COLUMN card_dead_reason TEXT")


@MIGRATIONS()
def m007_upload_limit_column(db: Database) -> None:
    """``tasks.upload_limit``: the bytes the result post may attach in the task's guild.

    Recorded at submission (the guild is cached then) and refreshed when the guild
    becomes available after a restart, so a delivery is never judged by discord.py's
    cache before the guild's data arrived. Rows from before stay NULL: their limit is
    read from the guild once it is available.
    """
    db.execute("ALTER TABLE tasks ADD COLUMN upload_limit INTEGER")


@MIGRATIONS()
def m008_fair_queue(db: Database) -> None:
    """The fair queue: ``guild_limits.max_concurrent_per_guild`` and an index for its order.

    Tasks over a concurrency limit are now stored ``waiting`` (a status value: the column
    is free text, so no table change) and started by the poll rounds, round robin per
    member within a guild. The index serves that order (and each member's waiting count)
    without reading the guild's whole history. The new column is a per-guild override of
    ``[limits] max_concurrent_per_guild``; NULL means the configured default.
    """
    db.execute("ALTER TABLE guild_limits ADD COLUMN max_concurrent_per_guild INTEGER")
    db.execute(
        "CREATE INDEX idx_tasks_status_guild_user ON tasks (status, guild_id, user_id, created_at)"
    )


@MIGRATIONS()
def m009_member_defaults_and_deleted_results(db: Database) -> None:
    """``member_defaults`` (``/settings``) and ``tasks.deleted_at`` / ``deleted_by``.

    ``member_defaults`` holds each member's own model, seconds and size for ``/sora``,
    per guild (a member of two servers has two rows); NULL means the server's default.
    ``deleted_at`` / ``deleted_by``: when and by whom the result post was deleted (the
    Delete button); the task itself stays, so history, stats and exports still count it.
    """
    db.execute(
        """
        CREATE TABLE member_defaults (
            guild_id    INTEGER NOT NULL,
            user_id     INTEGER NOT NULL,
            model       TEXT,
            seconds     INTEGER,
            size        TEXT,
            updated_at  TEXT NOT NULL,
            PRIMARY KEY (guild_id, user_id)
        )
        """
    )
    db.execute("ALTER TABLE tasks ADD COLUMN deleted_at TEXT")
    db.execute("ALTER TABLE tasks ADD COLUMN deleted_by INTEGER")


@MIGRATIONS()
def m010_rerolls_and_picks(db: Database) -> None:
    """``tasks.rerolled_from`` (indexed) and the ``picks`` table.

    A reroll is a new root video made from another one's prompt and options: the
    relation is a column of its own, not a parent (the remix tree stays the remix
    tree), written on insert from ``metadata.rerolled_from`` like ``retry_of``.

    ``picks``: one row per member per video they starred. The primary key makes a
    second pick by the same member impossible; ``guild_id`` is the video's, so every
    count is read per guild; the index serves a guild's most-picked videos.
    """
    db.execute("ALTER TABLE tasks ADD COLUMN rerolled_from TEXT")
    db.execute("CREATE INDEX idx_tasks_rerolled_from ON tasks (rerolled_from)")
    db.execute(
        """
        CREATE TABLE picks (
            task_id    TEXT NOT NULL REFERENCES tasks(id),
            user_id    INTEGER NOT NULL,
            guild_id   INTEGER NOT NULL,
            picked_at  TEXT NOT NULL,
            PRIMARY KEY (task_id, user_id)
        )
        """
    )
    db.execute("CREATE INDEX idx_picks_guild_task ON picks (guild_id, task_id)")
