"""A poll round's store work: ``claim_due`` / ``claim_deliveries`` and ``update_progress_many``.

The claims take, in order, what the plain ``state IN (...) ORDER BY due, id LIMIT n``
query takes (checked against it on random backlogs with ties). ``update_progress_many``
must leave the tasks and their events exactly as the same updates made one call at a
time do, on two stores built alike, and give per update what the single call returns
or raises.
"""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from sqlite_utils import Database

from bot.core.clock import ManualClock
from bot.core.errors import IllegalTransition, NotFound
from bot.core.models import DeliveryState, TaskStatus, VideoTask
from bot.storage.codec import ACTIVE, marks, to_db_time
from bot.storage.store import TaskStore, open_database
from bot.storage.tasks import ProgressUpdate
from tests.store_fixtures import T0, drive_to, make_task

S = TaskStatus
STATES = (S.QUEUED, S.IN_PROGRESS, S.COMPLETED, S.FAILED, S.SUBMITTING)


def build(seed: int, count: int) -> tuple[Database, TaskStore, ManualClock]:
    """A store with ``count`` tasks in random states, due at few distinct times (ties)."""
    clock = ManualClock(T0)
    ids = (f"t{n:05d}" for n in itertools.count())
    db = open_database(None)
    store = TaskStore(db, clock=clock, id_factory=lambda: next(ids))
    rng = random.Random(seed)
    for _ in range(count):
        task = drive_to(store, make_task(store), rng.choice(STATES))
        due = T0 + timedelta(seconds=rng.choice((-30, -10, -10, 0, 5, 40)))
        db.execute(
            "UPDATE tasks SET next_poll_at = ?, next_delivery_at = ? WHERE id = ?",
            [to_db_time(due), to_db_time(due + timedelta(seconds=rng.choice((0, 7)))), task.id],
        )
    return db, store, clock


def plain_due(db: Database, column: str, state: str, states: tuple[str, ...], limit: int) -> list:
    sql = (
        f"SELECT id FROM tasks WHERE {state} IN ({marks(states)}) AND {column} <= ?"
        f" ORDER BY {column}, id LIMIT ?"
    )
    return [r[0] for r in db.execute(sql, [*states, to_db_time(T0), limit]).fetchall()]


@pytest.mark.parametrize("seed", range(4))
def test_claims_take_what_the_plain_query_takes_in_its_order(seed: int) -> None:
    db, store, _ = build(seed, 120)
    owed = (DeliveryState.PENDING.value, DeliveryState.DELIVERING.value)
    for limit in (1, 7, 25, 200):
        expected = plain_due(db, "next_poll_at", "status", ACTIVE, limit)
        claimed = store.claim_due(T0, limit=limit, lease_seconds=60)
        assert [t.id for t in claimed] == expected
        lease = T0 + timedelta(seconds=60)
        assert all(t.next_poll_at == lease for t in claimed)
        assert all(store.get(t.id) == t for t in claimed)  # the row shows the lease too
        expected = plain_due(db, "next_delivery_at", "delivery_state", owed, limit)
        claimed = store.claim_deliveries(T0, limit=limit, lease_seconds=60)
        assert [t.id for t in claimed] == expected
        assert all(store.get(t.id) == t and t.next_delivery_at == lease for t in claimed)
    assert store.claim_due(T0, limit=0, lease_seconds=60) == []


def round_of(tasks: list[VideoTask], rng: random.Random) -> list[ProgressUpdate]:
    """A round's updates: progress, status moves (legal and not), a result URL, a stranger."""
    later = T0 + timedelta(seconds=30)
    updates = [
        ProgressUpdate(
            t.id,
            rng.choice((S.QUEUED, S.IN_PROGRESS, S.IN_PROGRESS, S.COMPLETED)),
            rng.choice((0, 40, 140, -5)),
            rng.choice((later, None)),
            rng.choice((None, f"https://example.invalid/{t.id}.mp4")),
        )
        for t in tasks
    ]
    return [*updates, ProgressUpdate("nosuch", S.IN_PROGRESS, 5, later)]


def one_by_one(store: TaskStore, updates: list[ProgressUpdate]) -> list[object]:
    results: list[object] = []
    for u in updates:
        try:
            results.append(
                store.update_progress(
                    u.task_id,
                    status=u.status,
                    progress=u.progress,
                    next_poll_at=u.next_poll_at,
                    result_url=u.result_url,
                )
            )
        except (NotFound, IllegalTransition) as exc:
            results.append(type(exc))
    return results


def dump(db: Database) -> tuple[list, list]:
    tasks = db.execute("SELECT * FROM tasks ORDER BY id").fetchall()
    events = db.execute("SELECT task_id, at, kind, detail FROM events ORDER BY id").fetchall()
    return tasks, events


@pytest.mark.parametrize("seed", range(3))
def test_update_progress_many_writes_what_one_call_each_writes(seed: int) -> None:
    (db_a, store_a, clock_a), (db_b, store_b, clock_b) = build(seed, 60), build(seed, 60)
    for clock in (clock_a, clock_b):
        clock.advance(3)
    rng = random.Random(seed)
    tasks = store_a.claim_due(T0, limit=40, lease_seconds=60)
    store_b.claim_due(T0, limit=40, lease_seconds=60)
    terminal = [
        t for t in store_a.guild_history(tasks[0].guild_id, limit=200) if t.status.is_terminal
    ]
    updates = round_of([*tasks, *terminal[:3]], rng)
    rng.shuffle(updates)

    expected = one_by_one(store_a, updates)
    results = store_b.update_progress_many(updates)
    got = [r if isinstance(r, VideoTask) else type(r) for r in results]
    assert got == expected
    assert dump(db_b) == dump(db_a)
    assert (
        IllegalTransition in got
        and NotFound in got
        and S.COMPLETED in {r.status for r in results if isinstance(r, VideoTask)}
    )


def test_update_progress_many_takes_each_task_once() -> None:
    _, store, _ = build(0, 20)
    task_id = store.claim_due(T0, limit=1, lease_seconds=60)[0].id
    twice = [ProgressUpdate(task_id, S.IN_PROGRESS, 5, None)] * 2
    with pytest.raises(ValueError, match="once"):
        store.update_progress_many(twice)
    assert store.update_progress_many([]) == []
