"""TaskStore against real SQLite (in memory and on disk), driven by a ManualClock."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import product
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.core.clock import ManualClock
from bot.core.errors import IllegalTransition, NotFound
from bot.core.ids import normalize_video_id
from bot.core.lineage import LineageError
from bot.core.models import TRANSITIONS, DeliveryState, TaskKind, TaskStatus, VideoTask
from bot.storage.async_store import AsyncTaskStore
from bot.storage.store import GuildLimits, IllegalDeliveryTransition, TaskStore, open_database
from tests.store_fixtures import (
    CHANNEL,
    GUILD,
    OTHER_GUILD,
    T0,
    USER,
    completed_task,
    drive_to,
    make_task,
    open_store,
)

S = TaskStatus


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def db() -> Iterator[Database]:
    database = open_database(None)
    yield database
    database.close()


@pytest.fixture
def store(db: Database, clock: ManualClock) -> TaskStore:
    return TaskStore(db, clock=clock)


def event_kinds(store: TaskStore, task_id: str) -> list[str]:
    return [e.kind for e in store.events(task_id)]


def is_legal(old: TaskStatus, new: TaskStatus) -> bool:
    return new in TRANSITIONS[old] or (old == new and not old.is_terminal)


# --- schema and opening -----------------------------------------------------------


def test_tasks_table_has_exactly_one_column_per_videotask_field(db: Database) -> None:
    fields = {f.name for f in dataclasses.fields(VideoTask)}
    # plus the columns the store derives from a field on insert (from metadata)
    assert set(db["tasks"].columns_dict) == fields | {"retry_of", "rerolled_from"}


def test_schema_has_the_documented_tables_and_indexes(db: Database) -> None:
    assert {"tasks", "events", "meta", "guild_limits"} <= set(db.table_names())
    task_indexes = {tuple(index.columns) for index in db["tasks"].indexes}
    assert task_indexes >= {
        ("status", "next_poll_at"),
        ("delivery_state", "next_delivery_at"),
        ("upstream_id",),
        ("parent_id",),
        ("root_id",),
        ("guild_id", "status", "created_at"),
        ("guild_id", "user_id", "created_at"),
        ("guild_id", "channel_id", "created_at"),
    }
    assert ("task_id", "at") in {tuple(i.columns) for i in db["events"].indexes}
    assert db["tasks"].pks == ["id"] and db["meta"].pks == ["key"]
    assert db["guild_limits"].pks == ["guild_id"]


def test_file_database_uses_wal_and_the_other_pragmas(tmp_path: Path) -> None:
    db = open_database(tmp_path / "bot.db")
    pragma = lambda name: db.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
    assert pragma("journal_mode") == "wal"
    assert pragma("synchronous") == 1  # NORMAL
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") == 5000
    assert (tmp_path / "bot.db-wal").exists()


def test_reopening_applies_no_migration_twice(tmp_path: Path) -> None:
    open_database(tmp_path / "bot.db").close()
    db = open_database(tmp_path / "bot.db")
    names = [row["name"] for row in db.query("SELECT name FROM _sqlite_migrations")]
    assert names == [
        "m001_initial",
        "m002_guild_created_covering_index",
        "m003_retry_of_column",
        "m004_stable_vocabulary",
        "m005_author_name_column",
        "m006_card_dead_reason_column",
        "m007_upload_limit_column",
        "m008_fair_queue",
        "m009_member_defaults_and_deleted_results",
        "m010_rerolls_and_picks",
    ]


def test_restart_sees_every_task_event_meta_and_limit(tmp_path: Path) -> None:
    db, store = open_store(tmp_path / "bot.db")
    done = completed_task(store, prompt="persist me")
    remix = make_task(store, parent=done)
    store.set_meta("commands_hash", "abc123")
    store.set_limits(GUILD, GuildLimits(daily_budget=2.5), updated_by=USER)
    before = (store.get(done.id), store.get(remix.id), store.events(done.id))
    db.close()

    _, reopened = open_store(tmp_path / "bot.db")
    assert (reopened.get(done.id), reopened.get(remix.id), reopened.events(done.id)) == before
    assert reopened.get_meta("commands_hash") == "abc123"
    limits = reopened.get_limits(GUILD)
    assert limits is not None and limits.daily_budget == 2.5
    assert reopened.children_of(done.id, guild_id=GUILD) == [before[1]]


# --- creation -------------------------------------------------------------------


def test_create_task_starts_submitting_as_its_own_root(
    store: TaskStore, clock: ManualClock
) -> None:
    task = make_task(store, estimated_cost=0.4)
    assert normalize_video_id(task.id) == task.id and len(task.id) == 6
    assert (task.status, task.root_id, task.depth, task.parent_id) == (
        S.SUBMITTING,
        task.id,
        0,
        None,
    )
    assert task.metadata == {"type": "generate"}
    assert task.created_at == task.updated_at == clock()
    assert task.delivery_state is DeliveryState.NONE and task.estimated_cost == 0.4
    assert store.get(task.id) == task
    assert event_kinds(store, task.id) == ["created"]


def test_remix_metadata_and_lineage_fields_are_exactly_as_specified(store: TaskStore) -> None:
    parent = completed_task(store)
    remix = make_task(store, parent=parent, prompt="a red fox at sunset")
    assert remix.metadata == {
        "type": "remix",
        "remix_from": parent.id,
        "remix_from_external": f"video_{parent.id}",
    }
    assert (remix.parent_id, remix.root_id, remix.depth, remix.kind) == (
        parent.id,
        parent.id,
        1,
        TaskKind.REMIX,
    )
    grandchild = make_task(store, parent=drive_to(store, remix, S.COMPLETED))
    assert (grandchild.root_id, grandchild.depth) == (parent.id, 2)


def test_metadata_extra_is_merged_and_cannot_override_reserved_keys(store: TaskStore) -> None:
    parent = completed_task(store)
    retry = make_task(
        store, parent=parent, kind=TaskKind.RETRY, metadata_extra={"retry_of": "abcdef"}
    )
    assert retry.metadata == {
        "type": "retry",
        "remix_from": parent.id,
        "remix_from_external": parent.upstream_id,
        "retry_of": "abcdef",
    }
    with pytest.raises(ValueError, match="remix_from"):
        make_task(store, parent=parent, metadata_extra={"remix_from": "zzzzzz"})
    with pytest.raises(ValueError, match="type"):
        make_task(store, metadata_extra={"type": "remix"})


def test_remix_of_a_parent_from_another_guild_is_refused_as_unknown(store: TaskStore) -> None:
    parent = completed_task(store, guild_id=OTHER_GUILD)
    with pytest.raises(NotFound) as raised:
        make_task(store, parent=parent)
    assert raised.value.video_id == parent.id
    assert store.children_of(parent.id, guild_id=OTHER_GUILD) == []


def test_new_video_id_retries_on_collision(db: Database, clock: ManualClock) -> None:
    candidates = iter(["aaaaaa", "aaaaaa", "aaaaaa", "bbbbbb"])
    store = TaskStore(db, clock=clock, id_factory=lambda: next(candidates))
    assert make_task(store).id == "aaaaaa"
    assert make_task(store).id == "bbbbbb"


def test_new_video_id_gives_up_when_every_candidate_is_taken(
    db: Database, clock: ManualClock
) -> None:
    store = TaskStore(db, clock=clock, id_factory=lambda: "cccccc")
    make_task(store)
    with pytest.raises(RuntimeError, match="no free video id"):
        make_task(store)
    assert db["tasks"].count == 1


def test_naive_datetimes_are_rejected(store: TaskStore) -> None:
    task = make_task(store)
    with pytest.raises(ValueError, match="naive"):
        store.mark_submitted(
            task.id,
            upstream_id="v",
            status=S.QUEUED,
            progress=0,
            next_poll_at=datetime(2025, 1, 1),  # noqa: DTZ001
        )
    assert store.get(task.id) == task


# --- lookup and guild isolation -----------------------------------------------------


def test_get_in_guild_treats_another_guild_exactly_like_an_unknown_id(store: TaskStore) -> None:
    task = make_task(store)
    assert store.get_in_guild(task.id, GUILD) == task
    with pytest.raises(NotFound) as other:
        store.get_in_guild(task.id, OTHER_GUILD)
    with pytest.raises(NotFound) as unknown:
        store.get_in_guild("zzzzzz", GUILD)
    assert other.value.user_message == f"No video `{task.id}` in this server."
    assert type(other.value) is type(unknown.value)


def test_get_returns_none_for_unknown_ids(store: TaskStore) -> None:
    assert store.get("zzzzzz") is None
    assert store.get_by_upstream_id("video_nope") is None


def test_get_by_upstream_id_and_upstream_ids_are_unique(store: TaskStore) -> None:
    first = drive_to(store, make_task(store), S.QUEUED)
    assert store.get_by_upstream_id(f"video_{first.id}") == first
    second = make_task(store)
    with pytest.raises(sqlite3.IntegrityError):
        store.mark_submitted(
            second.id, upstream_id=first.upstream_id, status=S.QUEUED, progress=0, next_poll_at=T0
        )
    assert store.get(second.id) == second


# --- lifecycle ------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new"), list(product(TaskStatus, TaskStatus)))
def test_update_progress_follows_the_transition_table(
    store: TaskStore, old: TaskStatus, new: TaskStatus
) -> None:
    task = drive_to(store, make_task(store), old)
    events_before = store.events(task.id)
    if is_legal(old, new):
        updated = store.update_progress(task.id, status=new, progress=50, next_poll_at=None)
        assert updated.status is new
        assert len(store.events(task.id)) == len(events_before) + (old != new)
    else:
        with pytest.raises(IllegalTransition) as raised:
            store.update_progress(task.id, status=new, progress=50, next_poll_at=None)
        assert (raised.value.old, raised.value.new) == (old.value, new.value)
        assert store.get(task.id) == task
        assert store.events(task.id) == events_before


NAMED_MOVES: dict[TaskStatus, Callable[[TaskStore, str], VideoTask]] = {
    S.COMPLETED: lambda store, tid: store.complete(tid),
    S.FAILED: lambda store, tid: store.fail(tid, code="x", message="y"),
    S.CANCELLED: lambda store, tid: store.cancel(tid, by_user_id=USER),
}


@pytest.mark.parametrize(("old", "new"), list(product(TaskStatus, NAMED_MOVES)))
def test_complete_fail_and_cancel_follow_the_transition_table(
    store: TaskStore, old: TaskStatus, new: TaskStatus
) -> None:
    task = drive_to(store, make_task(store), old)
    events_before = store.events(task.id)
    if new in TRANSITIONS[old]:
        assert NAMED_MOVES[new](store, task.id).status is new
        assert event_kinds(store, task.id)[-1] == new.value
    else:
        with pytest.raises(IllegalTransition):
            NAMED_MOVES[new](store, task.id)
        assert store.get(task.id) == task
        assert store.events(task.id) == events_before


@pytest.mark.parametrize(("old", "new"), list(product(TaskStatus, TaskStatus)))
def test_mark_submitted_only_leaves_submitting(
    store: TaskStore, old: TaskStatus, new: TaskStatus
) -> None:
    task = drive_to(store, make_task(store), old)
    call = lambda: store.mark_submitted(  # noqa: E731
        task.id, upstream_id="video_new", status=new, progress=0, next_poll_at=T0
    )
    if old is S.SUBMITTING and new in TRANSITIONS[S.SUBMITTING]:
        assert call().status is new
    else:
        with pytest.raises(IllegalTransition):
            call()
        assert store.get(task.id) == task


def test_mark_submitted_records_the_upstream_job(store: TaskStore, clock: ManualClock) -> None:
    task = make_task(store)
    clock.advance(2)
    due = clock() + timedelta(seconds=5)
    sent = store.mark_submitted(
        task.id, upstream_id="video_abc", status=S.QUEUED, progress=3, next_poll_at=due
    )
    assert (sent.status, sent.upstream_id, sent.progress, sent.next_poll_at) == (
        S.QUEUED,
        "video_abc",
        3,
        due,
    )
    assert sent.updated_at == clock() and sent.created_at == T0
    assert store.events(task.id)[-1].detail == {"upstream_id": "video_abc", "status": "queued"}


def test_update_progress_counts_polls_resets_failures_and_logs_only_changes(
    store: TaskStore,
) -> None:
    task = drive_to(store, make_task(store), S.QUEUED)
    store.record_poll_failure(task.id, error_code="timeout", next_poll_at=T0)
    store.record_poll_failure(task.id, error_code="timeout", next_poll_at=T0)
    assert store.get(task.id).poll_failures == 2
    same = store.update_progress(task.id, status=S.QUEUED, progress=0, next_poll_at=T0)
    assert (same.poll_failures, same.poll_count) == (0, 3)
    assert event_kinds(store, task.id) == ["created", "submitted", "poll_error", "poll_error"]
    moved = store.update_progress(
        task.id, status=S.IN_PROGRESS, progress=140, next_poll_at=T0, result_url="u"
    )
    assert (moved.progress, moved.poll_count, moved.result_url) == (100, 4, "u")
    assert store.events(task.id)[-1].kind == "status"
    assert store.events(task.id)[-1].detail == {
        "from": "queued",
        "to": "in_progress",
        "progress": 100,
    }


def test_complete_owes_a_delivery_now(store: TaskStore, clock: ManualClock) -> None:
    task = drive_to(store, make_task(store), S.IN_PROGRESS)
    clock.advance(60)
    done = store.complete(task.id, result_url="https://cdn.invalid/x.mp4")
    assert (done.status, done.progress, done.completed_at, done.next_poll_at) == (
        S.COMPLETED,
        100,
        clock(),
        None,
    )
    assert (done.delivery_state, done.next_delivery_at) == (DeliveryState.PENDING, clock())
    assert done.result_url == "https://cdn.invalid/x.mp4"


def test_completion_through_update_progress_gets_the_same_bookkeeping(
    store: TaskStore, clock: ManualClock
) -> None:
    task = drive_to(store, make_task(store), S.IN_PROGRESS)
    done = store.update_progress(task.id, status=S.COMPLETED, progress=100, next_poll_at=T0)
    assert (done.delivery_state, done.completed_at, done.next_poll_at) == (
        DeliveryState.PENDING,
        clock(),
        None,
    )


def test_fail_records_the_error_and_owes_a_notice(store: TaskStore, clock: ManualClock) -> None:
    task = drive_to(store, make_task(store), S.QUEUED)
    failed = store.fail(task.id, code="moderation_blocked", message="nope")
    assert (failed.status, failed.error_code, failed.error_message) == (
        S.FAILED,
        "moderation_blocked",
        "nope",
    )
    assert (failed.delivery_state, failed.next_delivery_at, failed.next_poll_at) == (
        DeliveryState.PENDING,
        clock(),
        None,
    )
    assert failed.completed_at is None


def test_fail_without_notice_owes_no_delivery(store: TaskStore, clock: ManualClock) -> None:
    task = make_task(store)
    failed = store.fail(task.id, code="invalid_request", message="bad size", notify=False)
    assert (failed.status, failed.delivery_state, failed.next_delivery_at) == (
        S.FAILED,
        DeliveryState.NONE,
        None,
    )
    assert store.events(task.id)[-1].detail["notify"] is False
    assert store.claim_deliveries(clock() + timedelta(hours=1), limit=5, lease_seconds=5) == []


def test_cancel_owes_nothing_and_stops_polling(store: TaskStore) -> None:
    task = drive_to(store, make_task(store), S.IN_PROGRESS)
    cancelled = store.cancel(task.id, by_user_id=42)
    assert (cancelled.status, cancelled.delivery_state, cancelled.next_poll_at) == (
        S.CANCELLED,
        DeliveryState.NONE,
        None,
    )
    assert store.events(task.id)[-1].detail == {"from": "in_progress", "by_user_id": 42}


def test_poll_failures_are_refused_once_a_task_is_terminal(store: TaskStore) -> None:
    task = drive_to(store, make_task(store), S.CANCELLED)
    with pytest.raises(IllegalTransition):
        store.record_poll_failure(task.id, error_code="timeout", next_poll_at=T0)
    assert store.get(task.id) == task


def test_operations_on_unknown_ids_raise_not_found(store: TaskStore) -> None:
    for call in (
        lambda: store.complete("zzzzzz"),
        lambda: store.mark_delivering("zzzzzz"),
        lambda: store.set_card_message("zzzzzz", 1),
        lambda: store.add_event("zzzzzz", "note"),
        lambda: store.ancestors("zzzzzz", guild_id=GUILD),
    ):
        with pytest.raises(NotFound):
            call()


def test_interrupted_submissions_and_active_counts(store: TaskStore) -> None:
    stuck = make_task(store)
    queued = drive_to(store, make_task(store), S.QUEUED)
    drive_to(store, make_task(store), S.IN_PROGRESS)
    drive_to(store, make_task(store), S.COMPLETED)
    drive_to(store, make_task(store, user_id=USER + 1), S.QUEUED)
    assert store.interrupted_submissions() == [stuck]
    assert store.active_count() == 3
    assert store.active_count_for_user(GUILD, USER) == 3  # submitting + queued + in progress
    assert store.active_count_for_user(OTHER_GUILD, USER) == 0
    store.cancel(queued.id, by_user_id=USER)
    assert store.active_count_for_user(GUILD, USER) == 2


# --- atomicity --------------------------------------------------------------------

FAIL_EVENT_INSERTS = (
    "CREATE TRIGGER refuse_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'planted'); END"
)


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda store, tid: store.complete(tid), id="complete"),
        pytest.param(lambda store, tid: store.fail(tid, code="c", message="m"), id="fail"),
        pytest.param(lambda store, tid: store.cancel(tid, by_user_id=1), id="cancel"),
        pytest.param(
            lambda store, tid: store.update_progress(
                tid, status=S.IN_PROGRESS, progress=9, next_poll_at=None
            ),
            id="update_progress",
        ),
        pytest.param(
            lambda store, tid: store.record_poll_failure(tid, error_code="e", next_poll_at=None),
            id="record_poll_failure",
        ),
        pytest.param(lambda store, tid: store.set_card_message(tid, 5), id="set_card_message"),
    ],
)
def test_a_failing_event_insert_rolls_back_the_state_change(
    db: Database, store: TaskStore, operation: Callable[[TaskStore, str], object]
) -> None:
    task = drive_to(store, make_task(store), S.QUEUED)
    db.execute(FAIL_EVENT_INSERTS)
    with pytest.raises(sqlite3.IntegrityError, match="planted"):
        operation(store, task.id)
    assert not db.conn.in_transaction
    assert store.get(task.id) == task
    db.execute("DROP TRIGGER refuse_events")
    assert event_kinds(store, task.id) == ["created", "submitted"]
    operation(store, task.id)  # the store is still usable afterwards
    assert store.get(task.id) != task


def test_a_failing_event_insert_leaves_no_half_created_task(db: Database, store: TaskStore) -> None:
    db.execute(FAIL_EVENT_INSERTS)
    with pytest.raises(sqlite3.IntegrityError):
        make_task(store)
    assert db["tasks"].count == 0


def test_a_failing_delivery_event_keeps_the_task_deliverable(
    db: Database, store: TaskStore
) -> None:
    task = completed_task(store)
    store.mark_delivering(task.id)
    before = store.get(task.id)
    db.execute(FAIL_EVENT_INSERTS)
    with pytest.raises(sqlite3.IntegrityError):
        store.mark_delivered(task.id, message_id=9, attached=True, result_bytes=10)
    assert store.get(task.id) == before


# --- claims -----------------------------------------------------------------------


def test_claim_due_takes_due_active_tasks_oldest_first_and_leases_them(
    store: TaskStore, clock: ManualClock
) -> None:
    due_at = {}
    for offset in (30, 10, 20, 900):
        task = drive_to(store, make_task(store), S.QUEUED)
        task = store.update_progress(
            task.id, status=S.IN_PROGRESS, progress=1, next_poll_at=T0 + timedelta(seconds=offset)
        )
        due_at[offset] = task.id
    drive_to(store, make_task(store), S.SUBMITTING)  # not active: never claimed
    now = T0 + timedelta(seconds=60)

    claimed = store.claim_due(now, limit=2, lease_seconds=45)
    assert [t.id for t in claimed] == [due_at[10], due_at[20]]
    lease_end = now + timedelta(seconds=45)
    assert all(t.next_poll_at == lease_end for t in claimed)
    assert [store.get(t.id) for t in claimed] == claimed

    assert [t.id for t in store.claim_due(now, limit=10, lease_seconds=45)] == [due_at[30]]
    assert store.claim_due(now, limit=10, lease_seconds=45) == []  # leased, not double-claimed
    later = {t.id for t in store.claim_due(lease_end, limit=10, lease_seconds=45)}
    assert later == {due_at[10], due_at[20], due_at[30]}  # leases ran out; 900 s not yet due
    assert store.claim_due(now, limit=0, lease_seconds=45) == []


def test_claim_due_skips_terminal_tasks(store: TaskStore) -> None:
    for status in (S.COMPLETED, S.FAILED, S.CANCELLED):
        drive_to(store, make_task(store), status)
    assert store.claim_due(T0 + timedelta(days=1), limit=10, lease_seconds=30) == []


def test_claim_leases_survive_a_restart(tmp_path: Path) -> None:
    db, store = open_store(tmp_path / "bot.db")
    task = drive_to(store, make_task(store), S.QUEUED)
    now = T0 + timedelta(minutes=1)
    assert [t.id for t in store.claim_due(now, limit=5, lease_seconds=120)] == [task.id]
    db.close()
    _, reopened = open_store(tmp_path / "bot.db")
    assert reopened.claim_due(now, limit=5, lease_seconds=120) == []


def test_claim_deliveries_takes_pending_and_delivering_in_due_order(
    store: TaskStore, clock: ManualClock
) -> None:
    first = completed_task(store)
    clock.advance(5)
    second = drive_to(store, make_task(store), S.FAILED)
    clock.advance(5)
    third = completed_task(store)
    store.mark_delivering(third.id)
    delivered = completed_task(store)
    store.mark_delivered(delivered.id, message_id=1, attached=False, result_bytes=None)
    drive_to(store, make_task(store), S.CANCELLED)

    now = clock()
    claimed = store.claim_deliveries(now, limit=10, lease_seconds=60)
    assert [t.id for t in claimed] == [first.id, second.id, third.id]
    assert {t.next_delivery_at for t in claimed} == {now + timedelta(seconds=60)}
    assert store.claim_deliveries(now, limit=10, lease_seconds=60) == []


def test_claims_reject_a_non_positive_lease(store: TaskStore) -> None:
    with pytest.raises(ValueError, match="lease"):
        store.claim_due(T0, limit=1, lease_seconds=0)


# --- delivery bookkeeping -----------------------------------------------------------


def test_delivery_happens_exactly_once(store: TaskStore, clock: ManualClock) -> None:
    task = completed_task(store)
    attempt = store.mark_delivering(task.id)
    assert (attempt.delivery_state, attempt.delivery_attempts) == (DeliveryState.DELIVERING, 1)
    done = store.mark_delivered(task.id, message_id=777, attached=True, result_bytes=2048)
    assert (
        done.delivery_state,
        done.result_message_id,
        done.result_attached,
        done.result_bytes,
    ) == (
        DeliveryState.DELIVERED,
        777,
        True,
        2048,
    )
    assert done.next_delivery_at is None
    events_after = store.events(task.id)

    with pytest.raises(IllegalDeliveryTransition) as raised:
        store.mark_delivered(task.id, message_id=778, attached=False, result_bytes=1)
    assert isinstance(raised.value, IllegalTransition)
    assert "delivered -> delivered" in str(raised.value)
    for again in (
        lambda: store.mark_delivering(task.id),
        lambda: store.retry_delivery(
            task.id, error="x", next_delivery_at=clock(), may_have_posted=False
        ),
        lambda: store.mark_undeliverable(task.id, reason="x"),
    ):
        with pytest.raises(IllegalDeliveryTransition):
            again()
    assert store.get(task.id) == done
    assert store.events(task.id) == events_after
    assert store.claim_deliveries(clock() + timedelta(days=1), limit=5, lease_seconds=5) == []


def test_retry_delivery_keeps_attempts_and_reschedules(
    store: TaskStore, clock: ManualClock
) -> None:
    task = completed_task(store)
    store.mark_delivering(task.id)
    retry_at = clock() + timedelta(seconds=30)
    retried = store.retry_delivery(
        task.id, error="429", next_delivery_at=retry_at, may_have_posted=False
    )
    assert (retried.delivery_state, retried.delivery_attempts, retried.delivery_error) == (
        DeliveryState.PENDING,
        1,
        "429",
    )
    assert store.claim_deliveries(clock(), limit=5, lease_seconds=5) == []
    assert [t.id for t in store.claim_deliveries(retry_at, limit=5, lease_seconds=5)] == [task.id]
    assert store.mark_delivering(task.id).delivery_attempts == 2
    delivered = store.mark_delivered(task.id, message_id=3, attached=None, result_bytes=None)
    assert delivered.delivery_error is None and delivered.result_attached is None


def test_a_retry_after_a_post_that_may_have_gone_out_stays_delivering(
    store: TaskStore, clock: ManualClock
) -> None:
    task = completed_task(store)
    store.mark_delivering(task.id)
    retry_at = clock() + timedelta(seconds=30)
    retried = store.retry_delivery(
        task.id, error="503", next_delivery_at=retry_at, may_have_posted=True
    )
    assert retried.delivery_state is DeliveryState.DELIVERING  # the next attempt looks first
    assert store.claim_deliveries(clock(), limit=5, lease_seconds=5) == []
    assert [t.id for t in store.claim_deliveries(retry_at, limit=5, lease_seconds=5)] == [task.id]
    assert store.events(task.id)[-1].detail["may_have_posted"] is True


def test_undeliverable_is_final_and_logged(store: TaskStore) -> None:
    task = drive_to(store, make_task(store), S.FAILED)
    gone = store.mark_undeliverable(task.id, reason="channel deleted")
    assert (gone.delivery_state, gone.delivery_error, gone.next_delivery_at) == (
        DeliveryState.UNDELIVERABLE,
        "channel deleted",
        None,
    )
    assert store.events(task.id)[-1].kind == "delivery_failed"
    with pytest.raises(IllegalDeliveryTransition):
        store.mark_delivering(task.id)


def test_nothing_can_be_delivered_for_a_running_or_cancelled_task(store: TaskStore) -> None:
    for status in (S.QUEUED, S.CANCELLED):
        task = drive_to(store, make_task(store), status)
        with pytest.raises(IllegalDeliveryTransition):
            store.mark_delivered(task.id, message_id=1, attached=False, result_bytes=None)


def test_events_trail_one_row_per_change_in_order(store: TaskStore, clock: ManualClock) -> None:
    task = make_task(store)
    clock.advance(1)
    store.mark_submitted(
        task.id, upstream_id="video_z", status=S.QUEUED, progress=0, next_poll_at=None
    )
    clock.advance(1)
    store.update_progress(task.id, status=S.IN_PROGRESS, progress=40, next_poll_at=None)
    clock.advance(1)
    store.complete(task.id)
    store.mark_delivering(task.id)
    store.mark_delivered(task.id, message_id=1, attached=True, result_bytes=5)
    store.add_event(task.id, "note", {"by": "admin"})
    trail = store.events(task.id)
    assert [e.kind for e in trail] == [
        "created",
        "submitted",
        "status",
        "completed",
        "delivery_attempt",
        "delivered",
        "note",
    ]
    assert [e.at for e in trail[:4]] == [T0 + timedelta(seconds=s) for s in range(4)]
    assert trail[-1].detail == {"by": "admin"}


# --- card bookkeeping ---------------------------------------------------------------


def test_card_message_and_last_edit_are_remembered(store: TaskStore, clock: ManualClock) -> None:
    task = drive_to(store, make_task(store), S.IN_PROGRESS)
    store.set_card_message(task.id, 555)
    clock.advance(7)
    store.record_card_edit(task.id, status=S.IN_PROGRESS, progress=35)
    card = store.get(task.id)
    assert (card.card_message_id, card.card_edited_at, card.card_status, card.card_progress) == (
        555,
        clock(),
        "in_progress",
        35,
    )
    assert card.updated_at == T0  # presentation bookkeeping is not a task change


# --- lineage queries ----------------------------------------------------------------


def test_deep_chain_ancestors_and_tree(store: TaskStore, clock: ManualClock) -> None:
    chain = [completed_task(store, prompt="step 0")]
    for step in range(1, 51):
        clock.advance(1)
        chain.append(
            drive_to(store, make_task(store, parent=chain[-1], prompt=f"step {step}"), S.COMPLETED)
        )
    leaf = chain[-1]
    assert (leaf.depth, leaf.root_id) == (50, chain[0].id)
    assert store.ancestors(leaf.id, guild_id=GUILD) == list(reversed(chain[:-1]))
    assert store.ancestors(chain[0].id, guild_id=GUILD) == []
    assert store.tree(chain[0].id, guild_id=GUILD) == chain
    with pytest.raises(LineageError, match="deeper than 10"):
        store.ancestors(leaf.id, guild_id=GUILD, max_depth=10)


def test_wide_tree_children_and_grandchildren(store: TaskStore, clock: ManualClock) -> None:
    root = completed_task(store)
    children = []
    for _ in range(30):
        clock.advance(1)
        children.append(completed_task(store, parent=root))
    grandchildren = []
    for index in (3, 3, 17):
        clock.advance(1)
        grandchildren.append(make_task(store, parent=children[index]))
    assert store.children_of(root.id, guild_id=GUILD) == children
    assert store.children_of(children[3].id, guild_id=GUILD) == grandchildren[:2]
    family = store.tree(root.id, guild_id=GUILD)
    assert family == [root, *children, *grandchildren]
    assert [t.depth for t in family] == [0] + [1] * 30 + [2] * 3
    assert store.ancestors(grandchildren[2].id, guild_id=GUILD) == [children[17], root]


def test_ancestors_detects_a_corrupted_parent_cycle(db: Database, store: TaskStore) -> None:
    root = completed_task(store)
    child = completed_task(store, parent=root)
    db.execute("UPDATE tasks SET parent_id = ? WHERE id = ?", [child.id, root.id])
    with pytest.raises(LineageError, match="cycle"):
        store.ancestors(child.id, guild_id=GUILD)


# --- autocomplete and history -------------------------------------------------------


def test_recent_completed_newest_first_in_this_guild_only(
    store: TaskStore, clock: ManualClock
) -> None:
    older = completed_task(store, prompt="older")
    clock.advance(10)
    newer = completed_task(store, prompt="newer")
    drive_to(store, make_task(store), S.IN_PROGRESS)
    completed_task(store, guild_id=OTHER_GUILD)
    assert store.recent_completed(GUILD) == [newer, older]
    assert store.recent_completed(GUILD, limit=1) == [newer]


RECENT_PROMPTS = ("Sunset over Paris", "100% sunny beach", "snake_case robot", "plain dog")

AUTOCOMPLETE_CASES = [
    # (typed text, expected prompts)
    ("", set(RECENT_PROMPTS)),
    ("   ", set(RECENT_PROMPTS)),
    ("sunset", {"Sunset over Paris"}),
    ("PARIS", {"Sunset over Paris"}),
    ("%", {"100% sunny beach"}),
    ("_", {"snake_case robot"}),
    ("sun%", set()),
    ("e_c", {"snake_case robot"}),
    ("\\", set()),
    ("zebra", set()),
]


@pytest.mark.parametrize(("typed", "expected"), AUTOCOMPLETE_CASES)
def test_recent_completed_prompt_search_escapes_like_wildcards(
    store: TaskStore, typed: str, expected: set[str]
) -> None:
    for prompt in RECENT_PROMPTS:
        completed_task(store, prompt=prompt)
    assert {t.prompt for t in store.recent_completed(GUILD, prefix=typed)} == expected


def test_recent_completed_matches_id_prefixes_as_typed_by_users(
    db: Database, clock: ManualClock
) -> None:
    ids = iter(["k7q2mx", "k7abcd", "zzzzzz"])
    store = TaskStore(db, clock=clock, id_factory=lambda: next(ids))
    for _ in range(3):
        completed_task(store, prompt="no match here")
    for typed in ("k7", "K7", "#k7", "`k7"):
        assert {t.id for t in store.recent_completed(GUILD, prefix=typed)} == {"k7q2mx", "k7abcd"}
    assert [t.id for t in store.recent_completed(GUILD, prefix="#K7Q2MX")] == ["k7q2mx"]
    assert store.recent_completed(GUILD, prefix="q2") == []  # ids match from the start only


def test_user_history_filters_and_pages_newest_first(store: TaskStore, clock: ManualClock) -> None:
    mine = []
    for index in range(7):
        clock.advance(1)
        status = S.COMPLETED if index % 2 == 0 else S.FAILED
        mine.append(drive_to(store, make_task(store, prompt=f"mine {index}"), status))
    make_task(store, user_id=USER + 1)
    make_task(store, guild_id=OTHER_GUILD)
    newest_first = list(reversed(mine))
    pages = [store.user_history(GUILD, USER, limit=3, offset=o) for o in (0, 3, 6, 9)]
    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:7], []]
    completed = store.user_history(GUILD, USER, status=S.COMPLETED, limit=10)
    assert completed == [t for t in newest_first if t.status is S.COMPLETED]


def test_guild_history_filters_by_channel_user_status_and_time(
    store: TaskStore, clock: ManualClock
) -> None:
    a = make_task(store, channel_id=CHANNEL)
    clock.advance(60)
    b = make_task(store, channel_id=CHANNEL + 1, user_id=USER + 1)
    clock.advance(60)
    c = drive_to(store, make_task(store, channel_id=CHANNEL + 1), S.FAILED)
    since, until = T0 + timedelta(seconds=60), T0 + timedelta(seconds=120)
    history = store.guild_history
    assert history(GUILD, limit=10) == [c, b, a]
    assert history(GUILD, channel_id=CHANNEL + 1, limit=10) == [c, b]
    assert history(GUILD, user_id=USER, limit=10) == [c, a]
    assert history(GUILD, status=S.FAILED, limit=10) == [c]
    assert history(GUILD, since=since, limit=10) == [c, b]
    assert history(GUILD, since=since, until=until, limit=10) == [b]
    assert history(OTHER_GUILD, limit=10) == []
    with pytest.raises(ValueError):
        history(GUILD, limit=-1)


def test_quota_sums_count_everything_but_cancelled(store: TaskStore, clock: ManualClock) -> None:
    make_task(store, seconds=8, estimated_cost=1.0)  # before the window
    clock.advance(3600)
    window = clock()
    make_task(store, seconds=4, estimated_cost=0.5)
    drive_to(store, make_task(store, seconds=12, estimated_cost=1.5), S.FAILED)
    drive_to(store, make_task(store, seconds=8, estimated_cost=1.0), S.CANCELLED)
    make_task(store, seconds=4, user_id=USER + 1, estimated_cost=0.25)
    make_task(store, seconds=4, guild_id=OTHER_GUILD, estimated_cost=9.0)
    make_task(store, seconds=4)  # no cost estimate: counts as 0
    assert store.seconds_since(GUILD, USER, window) == 20
    assert store.seconds_since(GUILD, USER, T0) == 28
    assert store.cost_since(GUILD, window) == pytest.approx(2.25)
    assert store.cost_since(OTHER_GUILD, window + timedelta(days=1)) == 0.0


# --- meta and limits ----------------------------------------------------------------


def test_meta_values_are_stored_and_replaced(store: TaskStore) -> None:
    assert store.get_meta("commands_hash") is None
    store.set_meta("commands_hash", "one")
    store.set_meta("commands_hash", "two")
    assert store.get_meta("commands_hash") == "two"


def test_guild_limits_merge_partial_updates(store: TaskStore, clock: ManualClock) -> None:
    assert store.get_limits(GUILD) is None
    first = GuildLimits(max_concurrent_per_user=2, banned_words=("gore",))
    stored = store.set_limits(GUILD, first, updated_by=1)
    clock.advance(5)
    store.set_limits(GUILD, dataclasses.replace(stored, daily_budget=10.0), updated_by=2)
    assert store.get_limits(GUILD) == GuildLimits(
        max_concurrent_per_user=2,
        daily_seconds_per_user=None,
        daily_budget=10.0,
        banned_words=("gore",),
        updated_at=clock(),
        updated_by=2,
    )
    current = store.get_limits(GUILD)
    assert current is not None
    store.set_limits(GUILD, dataclasses.replace(current, banned_words=None), updated_by=2)
    limits = store.get_limits(GUILD)
    assert limits is not None and limits.banned_words is None and limits.daily_budget == 10.0
    assert store.get_limits(OTHER_GUILD) is None
    with pytest.raises(TypeError, match="max_videos"):
        GuildLimits(max_videos=3)
    with pytest.raises(ValueError, match="list of strings"):
        GuildLimits(banned_words=(3,))


def test_update_limits_merges_inside_the_write(store: TaskStore) -> None:
    store.update_limits(GUILD, {"daily_budget": 5.0}, updated_by=1)
    merged = store.update_limits(GUILD, {"max_concurrent_per_user": 1}, updated_by=2)
    assert (merged.daily_budget, merged.max_concurrent_per_user) == (5.0, 1)
    assert merged.updated_by == 2 and store.get_limits(GUILD) == merged
    with pytest.raises(ValueError, match="not a limit"):
        store.update_limits(GUILD, {"max_videos": 3}, updated_by=1)


@pytest.mark.asyncio
async def test_two_admins_changing_different_limits_at_once_both_keep_theirs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "limits.db"
    first = await AsyncTaskStore.open(path)
    second = await AsyncTaskStore.open(path)
    try:
        for round_number in range(20):
            await asyncio.gather(
                first.update_limits(GUILD, {"daily_budget": float(round_number)}, updated_by=1),
                second.update_limits(GUILD, {"daily_seconds_per_user": round_number}, updated_by=2),
            )
            limits = await first.get_limits(GUILD)
            assert limits is not None
            assert (limits.daily_budget, limits.daily_seconds_per_user) == (
                float(round_number),
                round_number,
            )
    finally:
        await first.close()
        await second.close()
