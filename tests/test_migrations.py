"""m003 and m005 on databases built by the migrations before them, holding rows of the old shape.

The old database is made by a ``Migrations`` set with the same name and only the
shipped m001 and m002 functions, exactly what a bot of the previous release ran; its
rows are inserted by hand in the old column layout (no ``retry_of`` column: the origin
of a retry lived only in ``metadata.retry_of``). For m005 the database stops before it
(``stop_before``), so its rows have no ``author_name``.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.core.models import TaskStatus
from bot.discord_ui import render
from bot.storage import migrations
from bot.storage.store import TaskStore, open_database
from tests.store_fixtures import CHANNEL, GUILD, OTHER_GUILD, T0, USER, make_task

OLD_COLUMNS = (
    "id, guild_id, channel_id, user_id, prompt, model, seconds, size, status,"
    " created_at, updated_at, root_id, metadata"
)


def previous_release_database(path: Path) -> None:
    """A file migrated to m002 only, with a failed task, its retry and unrelated rows."""
    db = Database(path)
    previous = Migrations(migrations.MIGRATIONS.name)
    previous()(migrations.m001_initial)
    previous()(migrations.m002_guild_created_covering_index)
    previous.apply(db)
    stamp = T0.isoformat(timespec="microseconds")
    rows = [
        ("old111", GUILD, TaskStatus.FAILED, {"type": "generate"}),
        ("new222", GUILD, TaskStatus.COMPLETED, {"type": "generate", "retry_of": "old111"}),
        ("other3", OTHER_GUILD, TaskStatus.QUEUED, {"type": "remix", "remix_from": "x"}),
        ("plain4", GUILD, TaskStatus.COMPLETED, {}),
    ]
    for task_id, guild, status, metadata in rows:
        db.execute(
            f"INSERT INTO tasks ({OLD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                task_id, guild, CHANNEL, USER, "a prompt", "sora-2", 4, "720x1280",
                status.value, stamp, stamp, task_id, json.dumps(metadata),
            ],
        )  # fmt: skip
    db.conn.commit()
    db.close()


def test_m003_adds_an_indexed_retry_of_column_backfilled_from_metadata(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    previous_release_database(path)
    assert "retry_of" not in Database(path)["tasks"].columns_dict

    db = open_database(path)
    applied = [row["name"] for row in db.query("SELECT name FROM _sqlite_migrations")]
    assert applied[:3] == [
        "m001_initial",
        "m002_guild_created_covering_index",
        "m003_retry_of_column",
    ]
    assert ("retry_of",) in {tuple(index.columns) for index in db["tasks"].indexes}
    backfilled = dict(db.execute("SELECT id, retry_of FROM tasks ORDER BY id").fetchall())
    assert backfilled == {"new222": "old111", "old111": None, "other3": None, "plain4": None}

    store = TaskStore(db)
    retry = store.find_retry("old111", guild_id=GUILD)
    assert retry is not None and retry.id == "new222"
    assert retry.metadata == {"type": "generate", "retry_of": "old111"}  # metadata kept as is
    assert store.find_retry("old111", guild_id=OTHER_GUILD) is None
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE retry_of = ? AND guild_id = ?",
        ["old111", GUILD],
    ).fetchall()
    assert any("idx_tasks_retry_of" in str(step) for step in plan), plan
    db.close()


def test_new_tasks_write_the_retry_of_column_on_insert(tmp_path: Path) -> None:
    db = open_database(tmp_path / "new.db")
    store = TaskStore(db)
    old = make_task(store)
    retry = make_task(store, metadata_extra={"retry_of": old.id, "retried_by": 5})
    plain = make_task(store)
    stored = dict(db.execute("SELECT id, retry_of FROM tasks").fetchall())
    assert stored == {old.id: None, retry.id: old.id, plain.id: None}
    assert store.find_retry(old.id, guild_id=GUILD) == retry
    assert store.get(retry.id) == retry and retry.metadata["retry_of"] == old.id
    db.close()


def test_m005_adds_a_nullable_author_name_and_old_rows_render_by_mention(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    migrations.MIGRATIONS.apply(old, stop_before="m005_author_name_column")
    assert "author_name" not in old["tasks"].columns_dict
    stamp = T0.isoformat(timespec="microseconds")
    old.execute(
        f"INSERT INTO tasks ({OLD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            "old111", GUILD, CHANNEL, USER, "a prompt", "sora-2", 4, "720x1280",
            TaskStatus.COMPLETED.value, stamp, stamp, "old111", "{}",
        ],
    )  # fmt: skip
    old.conn.commit()
    old.close()

    db = open_database(path)
    assert db["tasks"].columns_dict["author_name"] is str
    store = TaskStore(db)
    task = store.get("old111")
    assert task is not None and task.author_name is None
    fields = {f.name: f.value for f in render.card_embed(task).fields}
    assert fields["Author"] == f"<@{USER}>"
    assert make_task(store, author_name="Dora").author_name == "Dora"  # new rows keep names
    db.close()


def test_m006_adds_a_nullable_upload_limit_that_a_guild_refresh_fills(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    migrations.MIGRATIONS.apply(old, stop_before="m007_upload_limit_column")
    assert "upload_limit" not in old["tasks"].columns_dict
    stamp = T0.isoformat(timespec="microseconds")
    for task_id, guild, delivery in (
        ("owed111", GUILD, "pending"),
        ("done222", GUILD, "delivered"),
        ("else333", OTHER_GUILD, "pending"),
    ):
        old.execute(
            f"INSERT INTO tasks ({OLD_COLUMNS}, delivery_state)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                task_id, guild, CHANNEL, USER, "a prompt", "sora-2", 4, "720x1280",
                TaskStatus.COMPLETED.value, stamp, stamp, task_id, "{}", delivery,
            ],
        )  # fmt: skip
    old.conn.commit()
    old.close()

    db = open_database(path)
    assert db["tasks"].columns_dict["upload_limit"] is int
    store = TaskStore(db)
    assert store.get("owed111").upload_limit is None  # not known: delivery asks the guild
    assert store.refresh_upload_limits(GUILD, 50 * 1048576) == 1
    assert store.refresh_upload_limits(GUILD, 50 * 1048576) == 0  # unchanged: nothing written
    limits = {t: store.get(t).upload_limit for t in ("owed111", "done222", "else333")}
    assert limits == {"owed111": 50 * 1048576, "done222": None, "else333": None}
    assert make_task(store, upload_limit=10 * 1048576).upload_limit == 10 * 1048576
    db.close()
