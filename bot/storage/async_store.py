"""``AsyncTaskStore``: the ``TaskStore`` for asyncio code, without blocking the loop.

Design (one owner thread, Datasette's single-writer idea scaled down):

* ``AsyncTaskStore.open`` creates a ``ThreadPoolExecutor(max_workers=1,
  thread_name_prefix="sqlite")`` and runs ``open_database`` *inside* that thread, so the
  sqlite3 connection is created, used and closed by one thread only. sqlite3's
  same-thread check stays on and guards the rule.
* Every store method is available here as a coroutine with the same name and
  signature. Each ``@writer`` call is one job on that executor, awaited with
  ``loop.run_in_executor``: the loop keeps running while SQLite works, and writes run
  one at a time, in submission order. Each ``TaskStore`` method is its own
  transaction, so there is no lock to hold across an ``await``; a check that must hold
  when a row is written (the quotas of a new task) is passed into that one method
  (``create_task(admission=...)``), never done in a separate awaited read.
* The coroutine methods are not listed here: ``AsyncTaskStore`` is built from the same
  ``StoreOperations`` mixins as ``TaskStore``, and each operation's ``@reader`` /
  ``@writer`` declaration (``bot.storage.access``) makes it, on this class, a coroutine
  function with the sync method's parameters (typed with ``ParamSpec``: a type checker
  sees ``await astore.get(task_id) -> VideoTask | None`` and checks the arguments).
  ``call(fn, *args)`` runs any ``fn(store, *args)`` on the worker, for a
  read-modify-write that must not interleave.
* Reads that answer people (lookups, quotas, autocomplete, history) run on a second
  thread with its own read-only connection (file databases only; an in-memory database
  has one connection). WAL lets that reader see every committed write without waiting
  for the writer, so a command's checks are not queued behind a poll round's writes.
  ``@reader`` marks those methods; a read issued after an awaited write sees that write.
* A few short, indexed reads that come before a command's first response (its quota
  facts, a task by id) are ``@quick_reader``: they run on a third read-only connection
  owned by the event loop's thread, synchronously (a fraction of a millisecond), because
  a thread hop costs more than they do and, under a burst, queues behind the others'.
* The synchronous ``TaskStore`` and the ``Database`` are private: code on the loop
  must never call them directly (that would block the loop and trip the thread check).
* Cancelling an awaiting coroutine does not stop a job that has started; the write
  completes (atomically) and its result is dropped.
* ``recent.find`` (autocomplete) is answered on the loop from ``RecentIndex``
  (``bot.storage.recent_index``), a per-guild cache of the newest finished videos: no
  thread hop, so it never queues behind a burst's reads. Every writer job reports to
  the index (which operation, its result, the connection's ``PRAGMA data_version``)
  through ``call_soon_threadsafe`` from the writer thread, after its transaction
  committed and before the awaiting coroutine resumes, even if that one was cancelled.
* ``close()`` rejects new calls, lets queued ones finish, closes the connection on the
  worker and releases the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlite_utils import Database

from bot.core.clock import Clock, utc_now
from bot.core.models import VideoTask
from bot.storage.access import AsyncSide, StoreOp
from bot.storage.change_probe import ChangeProbe
from bot.storage.recent_index import DEFAULT_WINDOW, RecentIndex, RecentLookup, RecentVideo
from bot.storage.store import StoreOperations, TaskStore, open_database, open_reader

P = ParamSpec("P")
R = TypeVar("R")

WORKER_THREAD_PREFIX = "sqlite"
READER_THREAD_PREFIX = "sqlite-reader"


def _open_in_worker(path: str | Path | None, clock: Clock) -> tuple[Database, TaskStore]:
    db = open_database(path)
    return db, TaskStore(db, clock=clock)


def data_version(db: Database) -> int:
    """SQLite's count of commits by *other* connections (this one's own do not move it)."""
    return int(db.execute("PRAGMA data_version").fetchone()[0])


def _open_reader_in_worker(path: str | Path, clock: Clock) -> tuple[Database, TaskStore]:
    db = open_reader(path)
    return db, TaskStore(db, clock=clock)


def _is_memory(path: str | Path | None) -> bool:
    return path is None or str(path) == ":memory:"


class AsyncTaskStore(AsyncSide, StoreOperations):
    """Awaitable ``TaskStore`` whose connection lives on one dedicated thread.

    Every ``TaskStore`` operation is available here, awaited, by inheritance from
    ``StoreOperations`` (see ``bot.storage.access``); this class adds only the threads.
    """

    def __init__(
        self,
        executor: ThreadPoolExecutor,
        db: Database,
        store: TaskStore,
        reader: tuple[ThreadPoolExecutor, Database, TaskStore] | None = None,
        quick: tuple[Database, TaskStore] | None = None,
        *,
        index: RecentIndex | None = None,
        probe: ChangeProbe | None = None,
    ) -> None:
        """Internal: use ``await AsyncTaskStore.open(...)``."""
        self._executor = executor
        self._db = db
        self._store = store
        self._reader = reader
        self._quick = quick
        self._closed = False
        #: Autocomplete's ``recent_completed``, answered on the loop from the index:
        #: ``await store.recent.find(guild_id, prefix=..., limit=...)``.
        self._probe = probe
        self.recent = RecentLookup(
            index or RecentIndex(),
            self._window_rows,
            self._ask_sqlite,
            changed=probe.changed if probe is not None else lambda: False,
        )

    @classmethod
    async def open(
        cls, path: str | Path | None, *, clock: Clock = utc_now, recent_window: int = DEFAULT_WINDOW
    ) -> AsyncTaskStore:
        """Start the worker thread, open and migrate the database on it.

        ``recent_window``: finished videos per guild the autocomplete index keeps.
        """
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=WORKER_THREAD_PREFIX)
        loop = asyncio.get_running_loop()
        try:
            db, store = await loop.run_in_executor(executor, _open_in_worker, path, clock)
            version = await loop.run_in_executor(executor, data_version, db)
            index = RecentIndex(window=recent_window, data_version=version)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        if _is_memory(path):
            return cls(executor, db, store, index=index)
        assert path is not None
        reader_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=READER_THREAD_PREFIX)
        reader_db, reader_store = await loop.run_in_executor(
            reader_pool, _open_reader_in_worker, path, clock
        )
        probe = await loop.run_in_executor(reader_pool, ChangeProbe, path)
        reader = (reader_pool, reader_db, reader_store)
        quick_db = open_reader(path)  # opened, used and closed by the loop's thread only
        quick = (quick_db, TaskStore(quick_db, clock=clock))
        return cls(executor, db, store, reader, quick, index=index, probe=probe)

    @property
    def closed(self) -> bool:
        """True once ``close`` was called."""
        return self._closed

    async def call(
        self, fn: Callable[Concatenate[TaskStore, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Run ``fn(store, *args, **kwargs)`` on the worker thread and return its result.

        ``fn`` may write anything, so the recent-video index is emptied after it (rebuilt
        on its next use); prefer a declared ``@writer`` operation on hot paths.
        """
        return await self._write(None, functools.partial(fn, self._store, *args, **kwargs))

    async def _write(self, op_name: str | None, job: Callable[[], R]) -> R:
        """Run a writer job, then tell the index (on the loop, before the caller resumes)."""
        if self._closed:
            raise RuntimeError("AsyncTaskStore is closed")
        loop = asyncio.get_running_loop()
        after = self.recent.index.after_write
        probe = self._probe

        def run() -> R:
            result = job()
            if probe is not None:
                probe.settle()  # before data_version: see bot.storage.change_probe
            version = data_version(self._db)
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to tell
                loop.call_soon_threadsafe(after, op_name, result, version)
            return result

        return await loop.run_in_executor(self._executor, run)

    async def read(
        self, fn: Callable[Concatenate[TaskStore, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Run a read-only ``fn(store, ...)`` on the reader thread (the writer if none)."""
        if self._closed:
            raise RuntimeError("AsyncTaskStore is closed")
        if self._reader is None:
            job = functools.partial(fn, self._store, *args, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(self._executor, job)
        pool, _, store = self._reader
        job = functools.partial(fn, store, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(pool, job)

    def _run_op(
        self, op: StoreOp[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, R]:
        """Quick reads run here and now, readers on the reader thread, writers on the writer
        (``bot.storage.access``)."""
        if op.role == "quick" and self._quick is not None:
            return self._read_now(op.fn, *args, **kwargs)
        if op.role != "writer":
            return self.read(op.fn, *args, **kwargs)
        return self._write(op.name, functools.partial(op.fn, self._store, *args, **kwargs))

    async def _window_rows(self, guild_id: int, limit: int) -> list[RecentVideo]:
        return await self.completed_window(guild_id, limit=limit)

    async def _ask_sqlite(self, guild_id: int, prefix: str, limit: int) -> list[VideoTask]:
        return await self.recent_completed(guild_id, prefix=prefix, limit=limit)

    async def _read_now(
        self, fn: Callable[Concatenate[TaskStore, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        if self._closed or self._quick is None:
            raise RuntimeError("AsyncTaskStore is closed")
        return fn(self._quick[1], *args, **kwargs)

    async def close(self) -> None:
        """Finish queued calls, close the connection on its thread, stop the thread."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        if self._quick is not None:
            self._quick[0].close()
        await self.recent.aclose()
        try:
            if self._reader is not None:
                pool, reader_db, _ = self._reader
                try:
                    await loop.run_in_executor(pool, reader_db.close)
                finally:
                    pool.shutdown(wait=False)
            await loop.run_in_executor(self._executor, self._db.close)
        finally:
            self._executor.shutdown(wait=False)
            if self._probe is not None:
                self._probe.close()  # after the writer's last job (it settles the probe)

    async def __aenter__(self) -> AsyncTaskStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
