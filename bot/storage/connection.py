"""Opening SQLite: the read-write connection (pragmas, migrations) and read-only readers."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlite_utils import Database

from bot.storage.migrations import apply_migrations

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


def open_database(path: str | Path | None) -> Database:
    """Open (creating if needed) the database, set pragmas and apply migrations.

    ``None`` or ``":memory:"`` gives a private in-memory database. The connection keeps
    sqlite3's same-thread check: use it only from the thread that opened it.
    """
    if path is None or str(path) == ":memory:":
        db = Database(memory=True)
    else:
        db = Database(Path(path))
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode != "wal" and not db.memory:
        log.warning("SQLite refused WAL mode (journal_mode=%s) for %s", mode, path)
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_MS)}")
    apply_migrations(db)
    return db


def open_reader(path: str | Path) -> Database:
    """A second, read-only connection to an already migrated database file.

    In WAL mode a reader never waits for the writer, so queries that answer Discord
    interactions are not queued behind the poller's writes.
    """
    db = Database(Path(path))
    db.execute("PRAGMA query_only=ON")
    db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_MS)}")
    return db
