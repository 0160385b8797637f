"""AsyncTaskStore: same operations, run on one dedicated SQLite thread."""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio

from bot.core.clock import ManualClock
from bot.core.errors import NotFound
from bot.core.models import TaskStatus
from bot.storage.access import store_ops
from bot.storage.async_store import WORKER_THREAD_PREFIX, AsyncTaskStore
from bot.storage.store import TaskStore, Usage, open_database
from tests.store_fixtures import CHANNEL, GUILD, OTHER_GUILD, T0, USER

TASK_ARGS = {
    "guild_id": GUILD,
    "channel_id": CHANNEL,
    "user_id": USER,
    "prompt": "a lighthouse in fog",
    "model": "sora-2",
    "seconds": 4,
    "size": "720x1280",
}


class ThreadRecordingClock(ManualClock):
    """A manual clock that notes which thread asked for the time."""

    def __init__(self) -> None:
        super().__init__(T0)
        self.threads: set[str] = set()

    def __call__(self) -> datetime:
        self.threads.add(threading.current_thread().name)
        return super().__call__()


@pytest.fixture
def clock() -> ThreadRecordingClock:
    return ThreadRecordingClock()


@pytest_asyncio.fixture
async def astore(clock: ThreadRecordingClock) -> AsyncIterator[AsyncTaskStore]:
    store = await AsyncTaskStore.open(None, clock=clock)
    yield store
    await store.close()


def current_thread_name(_: TaskStore) -> str:
    return threading.current_thread().name


def public_methods(obj: object) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n))}


def test_every_public_store_method_is_declared_reader_or_writer() -> None:
    ops = store_ops(TaskStore)
    assert public_methods(TaskStore(open_database(None))) == set(ops)
    assert {op.role for op in ops.values()} == {"reader", "writer", "quick"}
    assert len(ops) >= 44


@pytest.mark.asyncio
async def test_every_public_store_method_is_a_coroutine_with_the_same_signature(
    astore: AsyncTaskStore,
) -> None:
    store = TaskStore(open_database(None))
    own = {"call", "read", "close", "open"}
    assert public_methods(astore) == set(store_ops(TaskStore)) | own
    for name in store_ops(TaskStore):
        twin = getattr(astore, name)
        assert inspect.iscoroutinefunction(twin), name
        assert inspect.signature(twin) == inspect.signature(getattr(store, name)), name
        assert twin.__doc__ == getattr(store, name).__doc__, name


@pytest.mark.asyncio
async def test_reader_ops_run_on_the_reader_and_writer_ops_on_the_writer(tmp_path: Path) -> None:
    clock = ThreadRecordingClock()
    async with await AsyncTaskStore.open(tmp_path / "roles.db", clock=clock) as store:
        task = await store.create_task(**TASK_ARGS)
        assert {name.split("_")[0] for name in clock.threads} == {WORKER_THREAD_PREFIX}
        gate = threading.Event()
        blocked = asyncio.ensure_future(store.call(lambda _: gate.wait(5)))
        await asyncio.sleep(0.05)
        # every reader answers while the writer is held; a writer op waits its turn
        assert await store.get(task.id) == task
        assert await store.tree(task.id, guild_id=GUILD) == [task]
        assert await store.usage(GUILD, USER, T0) == Usage(running=1, seconds=4, cost=0.0)
        queued = asyncio.ensure_future(store.add_event(task.id, "note"))
        await asyncio.sleep(0.05)
        assert not queued.done() and not blocked.done()
        gate.set()
        await blocked
        await queued
        assert [e.kind for e in await store.events(task.id)] == ["created", "note"]


@pytest.mark.asyncio
async def test_quick_reads_answer_on_the_loop_while_both_threads_are_busy(tmp_path: Path) -> None:
    """A command's checks before its first response never queue behind other reads."""
    async with await AsyncTaskStore.open(tmp_path / "quick.db", clock=ManualClock(T0)) as store:
        task = await store.create_task(**TASK_ARGS)
        gate = threading.Event()
        held = [
            asyncio.ensure_future(store.call(lambda _: gate.wait(5))),
            asyncio.ensure_future(store.read(lambda _: gate.wait(5))),
        ]
        await asyncio.sleep(0.05)
        try:
            facts = await asyncio.wait_for(store.admission_facts(GUILD, USER, T0), 1)
            assert facts.usage == Usage(running=1, seconds=4, cost=0.0)
            assert facts.limits is None and facts.defaults.model is None
            assert await asyncio.wait_for(store.get(task.id), 1) == task
        finally:
            gate.set()
            await asyncio.gather(*held)


@pytest.mark.asyncio
async def test_round_trip_from_the_event_loop(astore: AsyncTaskStore) -> None:
    task = await astore.create_task(**TASK_ARGS)
    assert await astore.get(task.id) == task
    sent = await astore.mark_submitted(
        task.id, upstream_id="video_1", status=TaskStatus.QUEUED, progress=0, next_poll_at=T0
    )
    assert [t.id for t in await astore.claim_due(T0, limit=5, lease_seconds=30)] == [sent.id]
    assert [e.kind for e in await astore.events(task.id)] == ["created", "submitted"]


@pytest.mark.asyncio
async def test_calls_run_on_the_one_worker_thread(
    astore: AsyncTaskStore, clock: ThreadRecordingClock
) -> None:
    await astore.create_task(**TASK_ARGS)
    assert len(clock.threads) == 1
    (worker,) = clock.threads
    assert worker.startswith(WORKER_THREAD_PREFIX)
    assert worker != threading.current_thread().name
    names = {await astore.call(current_thread_name) for _ in range(5)}
    assert names == {worker}


@pytest.mark.asyncio
async def test_errors_reach_the_awaiting_coroutine(astore: AsyncTaskStore) -> None:
    task = await astore.create_task(**TASK_ARGS)
    with pytest.raises(NotFound):
        await astore.get_in_guild(task.id, OTHER_GUILD)


@pytest.mark.asyncio
async def test_concurrent_awaits_are_serialised(astore: AsyncTaskStore) -> None:
    running = 0
    peak = 0
    guard = threading.Lock()

    def tracked_create(store: TaskStore) -> str:
        nonlocal running, peak
        with guard:
            running += 1
            peak = max(peak, running)
        try:
            return store.create_task(**TASK_ARGS).id
        finally:
            with guard:
                running -= 1

    ids = await asyncio.gather(*(astore.call(tracked_create) for _ in range(40)))
    ids += [
        t.id for t in await asyncio.gather(*(astore.create_task(**TASK_ARGS) for _ in range(40)))
    ]
    assert peak == 1
    assert len(set(ids)) == 80
    assert await astore.active_count_for_user(GUILD, USER) == 80


@pytest.mark.asyncio
async def test_a_slow_call_does_not_block_the_event_loop(astore: AsyncTaskStore) -> None:
    gate = threading.Event()

    def wait_for_gate(_: TaskStore) -> bool:
        return gate.wait(timeout=5)

    slow = asyncio.ensure_future(astore.call(wait_for_gate))
    ticks = 0
    for _ in range(20):  # the loop keeps turning while the worker is busy
        await asyncio.sleep(0)
        ticks += 1
    assert ticks == 20 and not slow.done()
    queued = asyncio.ensure_future(astore.get_meta("k"))  # waits its turn behind the slow call
    await asyncio.sleep(0)
    assert not queued.done()
    gate.set()
    assert await slow is True
    assert await queued is None


@pytest.mark.asyncio
async def test_close_refuses_new_calls_and_is_idempotent(clock: ThreadRecordingClock) -> None:
    store = await AsyncTaskStore.open(None, clock=clock)
    await store.close()
    await store.close()
    assert store.closed
    with pytest.raises(RuntimeError, match="closed"):
        await store.get("abcdef")


@pytest.mark.asyncio
async def test_file_store_survives_reopen_with_wal(
    tmp_path: Path, clock: ThreadRecordingClock
) -> None:
    path = tmp_path / "bot.db"
    async with await AsyncTaskStore.open(path, clock=clock) as store:
        task = await store.create_task(**TASK_ARGS)
        await store.set_meta("commands_hash", "h1")
        assert await store.call(lambda s: s.get_meta("commands_hash")) == "h1"
    assert store.closed
    async with await AsyncTaskStore.open(path, clock=clock) as reopened:
        assert await reopened.get(task.id) == task
        assert await reopened.get_meta("commands_hash") == "h1"
    with closing(sqlite3.connect(path)) as conn:  # WAL is a persistent property of the file
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.asyncio
async def test_open_failure_reaches_the_caller(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        await AsyncTaskStore.open(tmp_path / "missing-dir" / "bot.db")


@pytest.mark.asyncio
async def test_reads_use_their_own_connection_and_are_not_queued_behind_writes(tmp_path):
    store = await AsyncTaskStore.open(tmp_path / "reader.db")
    try:
        task = await store.create_task(
            guild_id=1,
            channel_id=2,
            user_id=3,
            prompt="p",
            model="sora-2",
            seconds=4,
            size="720x1280",
        )
        assert (await store.get(task.id)).id == task.id
        thread = await store.read(lambda _store: threading.current_thread().name)
        assert thread.startswith("sqlite-reader")

        gate, writing = threading.Event(), threading.Event()

        def hold_the_writer(_store: TaskStore) -> bool:
            writing.set()
            return gate.wait(5)

        slow_write = asyncio.ensure_future(store.call(hold_the_writer))
        assert await asyncio.to_thread(writing.wait, 5), "the write never started"
        assert (await store.get(task.id)) is not None
        assert not slow_write.done(), "the read waited for the writer"
        gate.set()
        await slow_write
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_memory_store_reads_on_the_single_worker():
    store = await AsyncTaskStore.open(None)
    try:
        name = await store.read(lambda _store: threading.current_thread().name)
        assert name.startswith("sqlite") and not name.startswith("sqlite-reader")
    finally:
        await store.close()
