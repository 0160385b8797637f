"""Per-member /sora defaults (``/settings``) and the deleted mark, below Discord.

The pure rules (``bot.core.member_defaults``), the store's per-guild rows
(``bot.storage.member_defaults``), the deleted mark (``bot.storage.deletions``) and the
m009 migration on an old database file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.core.clock import ManualClock
from bot.core.errors import InvalidInput, NotFound
from bot.core.member_defaults import MemberDefaults, check_new_defaults, effective_defaults
from bot.core.models import EventKind, TaskStatus
from bot.core.options import VideoOptions
from bot.storage import migrations
from bot.storage.store import open_database
from tests.store_fixtures import GUILD, OTHER_GUILD, T0, USER, drive_to, make_task, open_store

OPTIONS = VideoOptions(
    models=("sora-2", "sora-2-pro"),
    seconds=(4, 8, 12),
    sizes=("1280x720", "720x1280"),
    default_model="sora-2",
    default_seconds=4,
    default_size="1280x720",
)


def test_nothing_saved_means_the_server_defaults_and_no_notes() -> None:
    mine = effective_defaults(OPTIONS, MemberDefaults())
    assert (mine.model, mine.seconds, mine.size) == ("sora-2", 4, "1280x720")
    assert mine.mine == frozenset() and mine.notes == []


def test_saved_values_win_over_the_server_defaults_one_by_one() -> None:
    mine = effective_defaults(OPTIONS, MemberDefaults(seconds=12, size="720x1280"))
    assert (mine.model, mine.seconds, mine.size) == ("sora-2", 12, "720x1280")
    assert mine.mine == {"seconds", "size"}


def test_a_saved_value_no_longer_offered_is_ignored_with_a_note_not_an_error() -> None:
    saved = MemberDefaults(model="sora-3", seconds=8, size="1792x1024")
    mine = effective_defaults(OPTIONS, saved)
    assert (mine.model, mine.seconds, mine.size) == ("sora-2", 8, "1280x720")
    assert mine.mine == {"seconds"} and set(mine.ignored) == {"model", "size"}
    assert mine.notes == [
        "Your saved model `sora-3` is no longer offered by the video service, so the server"
        " default `sora-2` is used. Choose another with /settings.",
        "Your saved size `1792x1024` is no longer offered by the video service, so the server"
        " default `1280x720` is used. Choose another with /settings.",
    ]


def test_new_defaults_must_be_what_sora_offers() -> None:
    check_new_defaults(OPTIONS, model="sora-2-pro", seconds=None, size=None)
    with pytest.raises(InvalidInput, match="Seconds must be one of: 4, 8, 12"):
        check_new_defaults(OPTIONS, model=None, seconds=5, size=None)
    with pytest.raises(InvalidInput, match="Size must be one of"):
        check_new_defaults(OPTIONS, model=None, seconds=None, size="1x1")


def test_the_store_keeps_defaults_per_member_per_guild_and_merges_changes() -> None:
    clock = ManualClock(T0)
    _, store = open_store(clock=clock)
    assert store.get_member_defaults(GUILD, USER).empty
    store.update_member_defaults(GUILD, USER, model="sora-2-pro")
    saved = store.update_member_defaults(GUILD, USER, seconds=8)
    assert (saved.model, saved.seconds, saved.size) == ("sora-2-pro", 8, None)
    assert saved.updated_at == T0
    assert store.get_member_defaults(OTHER_GUILD, USER).empty
    assert store.get_member_defaults(GUILD, USER + 1).empty
    store.update_member_defaults(OTHER_GUILD, USER, size="720x1280")
    assert store.clear_member_defaults(GUILD, USER) is True
    assert store.get_member_defaults(GUILD, USER).empty
    assert store.clear_member_defaults(GUILD, USER) is False
    assert store.get_member_defaults(OTHER_GUILD, USER).size == "720x1280"


def test_the_deleted_mark_is_written_once_with_an_event_and_only_in_the_tasks_guild() -> None:
    clock = ManualClock(T0)
    _, store = open_store(clock=clock)
    task = drive_to(store, make_task(store), TaskStatus.COMPLETED)
    with pytest.raises(NotFound):
        store.mark_result_deleted(task.id, guild_id=OTHER_GUILD, by_user_id=USER)
    assert store.get(task.id).deleted is False
    updated_before = store.get(task.id).updated_at
    clock.advance(5)
    marked = store.mark_result_deleted(task.id, guild_id=GUILD, by_user_id=42)
    assert marked.deleted and marked.deleted_by == 42 and marked.deleted_at == clock()
    assert marked.status is TaskStatus.COMPLETED and marked.updated_at == updated_before
    clock.advance(5)
    again = store.mark_result_deleted(task.id, guild_id=GUILD, by_user_id=7)
    assert again.deleted_by == 42 and again.deleted_at == marked.deleted_at
    deleted_events = [e for e in store.events(task.id) if e.kind is EventKind.RESULT_DELETED]
    assert len(deleted_events) == 1 and deleted_events[0].detail["by_user_id"] == 42


def test_m009_adds_the_defaults_table_and_nullable_deleted_columns_to_an_old_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    previous = Migrations(migrations.MIGRATIONS.name)  # the migrations of the release before
    for shipped in (
        migrations.m001_initial,
        migrations.m002_guild_created_covering_index,
        migrations.m003_retry_of_column,
        migrations.m004_stable_vocabulary,
        migrations.m005_author_name_column,
        migrations.m006_card_dead_reason_column,
        migrations.m007_upload_limit_column,
    ):
        previous()(shipped)
    previous.apply(old)
    assert "deleted_at" not in old["tasks"].columns_dict
    old["tasks"].insert(
        {
            "id": "abc123",
            "guild_id": GUILD,
            "channel_id": 1,
            "user_id": USER,
            "prompt": "an old row",
            "model": "sora-2",
            "seconds": 4,
            "size": "1280x720",
            "status": "completed",
            "created_at": T0.isoformat(timespec="microseconds"),
            "updated_at": T0.isoformat(timespec="microseconds"),
            "root_id": "abc123",
        }
    )
    old.conn.commit()
    old.close()
    db = open_database(path)
    assert {"deleted_at", "deleted_by"} <= set(db["tasks"].columns_dict)
    assert set(db["member_defaults"].columns_dict) == {
        "guild_id",
        "user_id",
        "model",
        "seconds",
        "size",
        "updated_at",
    }
    row = next(db.query("SELECT deleted_at, deleted_by FROM tasks WHERE id = 'abc123'"))
    assert row == {"deleted_at": None, "deleted_by": None}
