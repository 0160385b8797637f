"""Reading a meta value before the bot opens its database (start-up checks).

Start-up decides what it needs to know (e.g. the relay's remembered dialect) before
anything is created on disk, so this opens an existing file read-only and never creates
or migrates one.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def read_meta_if_present(path: Path, key: str) -> str | None:
    """``meta[key]`` of the database at ``path``; None if there is no file, table or key."""
    if str(path) == ":memory:" or not path.is_file():
        return None
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])
