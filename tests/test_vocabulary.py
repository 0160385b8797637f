"""The stored vocabulary: enums round-trip through the store; m004 rewrites old rows.

Old databases stored failures under exception class names (``UpstreamUnavailable``) and
accepted any event kind; migration m004 turns them into the enum values. The database
here is built with the migrations before m004 and filled with raw SQL, as an old
version of the bot left it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.core import errors
from bot.core.errors import FailureCode, UpstreamError, parse_failure_code
from bot.core.models import EventKind, TaskStatus
from bot.discord_ui.pagination import PAGE_ID, PAGE_TEMPLATE, PageKind, source_for
from bot.services.submission import GenerateOptions
from bot.storage.migrations import MIGRATIONS
from bot.storage.store import TaskStore, open_database
from bot.upstream.parsing import normalize_status
from tests.core_fixtures import ORIGIN, core
from tests.store_fixtures import T0, drive_to, make_task, open_store

M004 = "m004_stable_vocabulary"
OLD_CLASS_NAMES = {
    "UpstreamError": FailureCode.UPSTREAM_ERROR,
    "SubmissionUncertain": FailureCode.SUBMISSION_UNCERTAIN,
    "ModerationBlocked": FailureCode.MODERATION_BLOCKED,
    "UpstreamRejected": FailureCode.UPSTREAM_REJECTED,
    "UpstreamNotFound": FailureCode.NOT_FOUND,
    "RateLimited": FailureCode.RATE_LIMITED,
    "UpstreamUnavailable": FailureCode.UPSTREAM_UNAVAILABLE,
    "UpstreamAuthError": FailureCode.UPSTREAM_AUTH_REFUSED,
    "ContentExpired": FailureCode.CONTENT_EXPIRED,
    "ContentTooLarge": FailureCode.CONTENT_TOO_LARGE,
}
#: Error types added after m004 (never stored under a class name), with their codes.
NEW_TYPES = {
    "UnsupportedByUpstream": FailureCode.UNSUPPORTED_BY_UPSTREAM,
    "RouteMissing": FailureCode.ROUTE_MISSING,
}
EVERY_TYPE = {**OLD_CLASS_NAMES, **NEW_TYPES}


def _upstream_error_types() -> list[type[UpstreamError]]:
    found: list[type[UpstreamError]] = [UpstreamError]
    for cls in found:
        found.extend(cls.__subclasses__())
    return found


# --- the enums ------------------------------------------------------------------------


def test_every_upstream_error_type_has_its_own_stable_code() -> None:
    types = _upstream_error_types()
    assert {cls.__name__ for cls in types} == set(EVERY_TYPE)
    for cls in types:
        assert "failure_code" in vars(cls), f"{cls.__name__} inherits its failure code"
        assert cls.failure_code is EVERY_TYPE[cls.__name__]
    assert len({cls.failure_code for cls in types}) == len(types)


def test_the_upstream_clients_terminal_codes_are_failure_codes() -> None:
    for raw in ("cancelled", "canceled", "expired"):
        status, code = normalize_status(raw)
        assert status is TaskStatus.FAILED and code in set(FailureCode)


def test_parse_failure_code_keeps_an_upstreams_own_code_as_text() -> None:
    assert parse_failure_code("timed_out") is FailureCode.TIMED_OUT
    assert parse_failure_code("generation_failed") == "generation_failed"
    assert not isinstance(parse_failure_code("generation_failed"), FailureCode)
    assert parse_failure_code(None) is None


# --- round trips through the store ----------------------------------------------------


@pytest.mark.parametrize("code", list(FailureCode))
def test_every_failure_code_round_trips(code: FailureCode) -> None:
    _, store = open_store()
    task = store.fail(make_task(store).id, code=code, message="m")
    read = store.get(task.id)
    assert read.error_code is code
    assert store.events(task.id)[-1].detail["code"] == code.value


@pytest.mark.parametrize("kind", list(EventKind))
def test_every_event_kind_round_trips(kind: EventKind) -> None:
    _, store = open_store()
    task = make_task(store)
    store.add_event(task.id, kind, {"n": 1})
    assert store.events(task.id)[-1].kind is kind


def test_an_event_kind_outside_the_vocabulary_is_refused() -> None:
    _, store = open_store()
    task = make_task(store)
    with pytest.raises(ValueError, match="'memo' is not a valid EventKind"):
        store.add_event(task.id, "memo")
    assert [e.kind for e in store.events(task.id)] == [EventKind.CREATED]


@pytest.mark.parametrize("status", list(TaskStatus))
def test_every_card_status_round_trips(status: TaskStatus) -> None:
    _, store = open_store()
    task = make_task(store)
    store.record_card_edit(task.id, status=status, progress=5)
    assert store.get(task.id).card_status is status


def test_a_full_lifecycle_writes_only_vocabulary_event_kinds() -> None:
    _, store = open_store()
    task = drive_to(store, make_task(store), TaskStatus.COMPLETED)
    store.set_card_message(task.id, 77)
    kinds = [event.kind for event in store.events(task.id)]
    assert all(type(kind) is EventKind for kind in kinds)
    assert kinds[0] is EventKind.CREATED and kinds[-1] is EventKind.CARD_POSTED


# --- producers store stable codes -----------------------------------------------------


@pytest.mark.asyncio
async def test_a_failed_poll_records_the_stable_code_not_the_class_name(tmp_path: Path) -> None:
    async with core(tmp_path) as c:
        task = await c.service.generate(ORIGIN, "a slow lighthouse", GenerateOptions())
        c.upstream.inject("retrieve", "http_503", video_id=task.upstream_id, times=50)
        await c.tick_after(60)
        [poll_error] = [e for e in await c.store.events(task.id) if e.kind is EventKind.POLL_ERROR]
        assert poll_error.detail["error_code"] == "upstream_unavailable"


# --- m004 on an old database ------------------------------------------------------------


def _old_database(path: Path) -> Database:
    """A database as the bot left it before m004: every earlier migration, no rows yet."""
    db = Database(path)
    MIGRATIONS.apply(db, stop_before=M004)
    applied = {m.name for m in MIGRATIONS.applied(db)}
    assert M004 not in applied and "m001_initial" in applied
    return db


def _insert_old_task(db: Database, task_id: str, error_code: str | None) -> None:
    at = T0.isoformat(timespec="microseconds")
    db.execute(
        "INSERT INTO tasks (id, guild_id, channel_id, user_id, prompt, model, seconds, size,"
        " status, created_at, updated_at, error_code, root_id)"
        " VALUES (?, 1, 2, 3, 'p', 'sora-2', 4, '720x1280', 'failed', ?, ?, ?, ?)",
        [task_id, at, at, error_code, task_id],
    )


def _insert_old_event(db: Database, task_id: str, kind: str, detail: dict[str, object]) -> None:
    db.execute(
        "INSERT INTO events (task_id, at, kind, detail) VALUES (?, ?, ?, ?)",
        [task_id, T0.isoformat(timespec="microseconds"), kind, json.dumps(detail)],
    )


def test_m004_rewrites_class_name_codes_and_stray_event_kinds(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = _old_database(path)
    for number, class_name in enumerate(OLD_CLASS_NAMES):
        task_id = f"old{number:03d}"
        _insert_old_task(old, task_id, class_name)
        _insert_old_event(old, task_id, "failed", {"code": class_name, "from": "queued"})
        _insert_old_event(old, task_id, "poll_error", {"error_code": class_name, "failures": 1})
    _insert_old_task(old, "keep01", "generation_failed")  # the upstream's own code
    _insert_old_event(old, "keep01", "failed", {"code": "generation_failed"})
    _insert_old_event(old, "keep01", "memo", {"by": "admin"})  # add_event took any text
    _insert_old_task(old, "keep02", None)
    old.close()

    store = TaskStore(open_database(path))
    for number, (class_name, code) in enumerate(OLD_CLASS_NAMES.items()):
        task_id = f"old{number:03d}"
        assert store.get(task_id).error_code is code, class_name
        failed, poll_error = store.events(task_id)
        assert (failed.kind, failed.detail) == (
            EventKind.FAILED,
            {"code": code.value, "from": "queued"},
        )
        assert poll_error.detail == {"error_code": code.value, "failures": 1}
    assert store.get("keep01").error_code == "generation_failed"
    failed, memo = store.events("keep01")
    assert failed.detail == {"code": "generation_failed"}
    assert (memo.kind, memo.detail) == (EventKind.NOTE, {"by": "admin", "old_kind": "memo"})
    assert store.get("keep02").error_code is None


def test_m004_runs_once_and_the_classes_no_longer_produce_class_names() -> None:
    db = open_database(None)
    names = [m.name for m in MIGRATIONS.applied(db)]
    # fourth, after m001..m003 (later migrations follow it)
    assert names.count(M004) == 1 and names.index(M004) == 3
    assert all(cls.failure_code != cls.__name__ for cls in _upstream_error_types())
    assert errors.ContentTooLarge(10).failure_code is FailureCode.CONTENT_TOO_LARGE


# --- page kinds -------------------------------------------------------------------------


def test_page_kinds_fit_the_custom_id_and_an_unknown_kind_has_no_source() -> None:
    for kind in PageKind:
        match = re.fullmatch(PAGE_TEMPLATE, PAGE_ID.format(kind=kind, page=3, state="k7q2mx"))
        assert match is not None and PageKind(match["kind"]) is kind
    assert source_for("gone") is None
