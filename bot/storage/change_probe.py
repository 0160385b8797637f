"""``ChangeProbe``: has anyone but this store committed to the database file?

The recent-video index (``bot.storage.recent_index``) is a cache of the database, kept
in step by this process's writes. An operator's ``sqlite3`` session, an admin CLI or a
second bot process can change rows behind it; the probe lets the event loop notice that
before it answers from memory, with no thread hop.

How: a connection of its own (read-only, shared between threads under a lock, used for
nothing else) reads ``PRAGMA data_version``, which changes when another connection
commits (about 3 µs). Every commit of this store's writer moves it too, so the writer
thread calls ``settle`` right after each job: the value it reads then is the expected
one, and the loop's ``changed`` means a commit the writer has not accounted for. A
foreign commit that lands between the writer's commit and its ``settle`` is absorbed
here, but the writer's own ``data_version`` (foreign commits only), read right after
``settle``, reports it (``RecentIndex.after_write``).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ChangeProbe:
    """``PRAGMA data_version`` of a private connection, read from any thread."""

    def __init__(self, path: str | Path) -> None:
        self._conn = sqlite3.connect(Path(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA query_only=ON")
        self._lock = threading.Lock()
        self._expected = self._version()

    def _version(self) -> int | None:
        """The current value (None if SQLite could not say: treated as a change)."""
        with self._lock:
            try:
                return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error:
                return None

    def settle(self) -> None:
        """Everything committed so far is accounted for (the writer, after each job)."""
        self._expected = self._version()

    def changed(self) -> bool:
        """A commit happened since the last ``settle`` (then it settles: report once)."""
        now = self._version()
        if now is not None and now == self._expected:
            return False
        self._expected = now
        return True

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
