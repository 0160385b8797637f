"""Picks and rerolls in the store: one pick per member per video, counts per guild, m010."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.core.errors import NotFound
from bot.storage import migrations
from tests.store_fixtures import GUILD, OTHER_GUILD, USER, completed_task, make_task, open_store

BOB = USER + 1


def test_a_pick_toggles_and_counts_one_per_member() -> None:
    db, store = open_store()
    video = completed_task(store)
    first = store.toggle_pick(video.id, guild_id=GUILD, user_id=USER)
    assert (first.picked, first.count) == (True, 1)
    assert store.toggle_pick(video.id, guild_id=GUILD, user_id=BOB).count == 2
    assert store.has_picked(video.id, guild_id=GUILD, user_id=USER)
    again = store.toggle_pick(video.id, guild_id=GUILD, user_id=USER)
    assert (again.picked, again.count) == (False, 1)
    assert not store.has_picked(video.id, guild_id=GUILD, user_id=USER)
    assert store.pick_count(video.id, guild_id=GUILD) == 1
    with pytest.raises(sqlite3.IntegrityError):  # the key itself refuses a second pick
        db.execute(
            "INSERT INTO picks (task_id, user_id, guild_id, picked_at) VALUES (?, ?, ?, 'x')",
            [video.id, BOB, GUILD],
        )
    db.close()


def test_picks_are_read_per_guild() -> None:
    db, store = open_store()
    ours = completed_task(store)
    theirs = completed_task(store, guild_id=OTHER_GUILD)
    with pytest.raises(NotFound):
        store.toggle_pick(theirs.id, guild_id=GUILD, user_id=USER)
    store.toggle_pick(ours.id, guild_id=GUILD, user_id=USER)
    store.toggle_pick(theirs.id, guild_id=OTHER_GUILD, user_id=USER)
    store.toggle_pick(theirs.id, guild_id=OTHER_GUILD, user_id=BOB)
    assert store.pick_counts([ours.id, theirs.id], guild_id=GUILD) == {ours.id: 1}
    assert store.pick_count(theirs.id, guild_id=GUILD) == 0
    assert store.picks_total(GUILD) == 1 and store.picks_total(OTHER_GUILD) == 2
    [top] = store.most_picked(GUILD)
    assert (top.task.id, top.picks) == (ours.id, 1)
    assert [p.task.id for p in store.most_picked(OTHER_GUILD)] == [theirs.id]
    db.close()


def test_most_picked_orders_by_count_within_the_window() -> None:
    db, store = open_store()
    videos = [completed_task(store, prompt=f"clip {n}") for n in range(3)]
    for user in range(3):
        store.toggle_pick(videos[1].id, guild_id=GUILD, user_id=USER + user)
    store.toggle_pick(videos[2].id, guild_id=GUILD, user_id=USER)
    assert [(p.task.id, p.picks) for p in store.most_picked(GUILD, limit=2)] == [
        (videos[1].id, 3),
        (videos[2].id, 1),
    ]
    later = videos[2].created_at.replace(year=videos[2].created_at.year + 1)
    assert (
        store.most_picked(GUILD, since=later) == [] and store.picks_total(GUILD, since=later) == 0
    )
    db.close()


def test_a_reroll_is_a_root_linked_by_an_indexed_column(tmp_path: Path) -> None:
    db, store = open_store(tmp_path / "bot.db")
    source = completed_task(store)
    reroll = make_task(store, metadata_extra={"rerolled_from": source.id})
    make_task(store, guild_id=OTHER_GUILD, metadata_extra={"rerolled_from": source.id})
    assert reroll.rerolled_from == source.id and source.rerolled_from is None
    assert (reroll.parent_id, reroll.root_id, reroll.depth) == (None, reroll.id, 0)
    assert store.rerolls_of([source.id], guild_id=GUILD) == [reroll]
    assert store.children_of(source.id, guild_id=GUILD) == []
    stored = dict(db.execute("SELECT id, rerolled_from FROM tasks WHERE guild_id = ?", [GUILD]))
    assert stored == {source.id: None, reroll.id: source.id}
    plan = db.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE guild_id = ? AND rerolled_from IN (?)",
        [GUILD, source.id],
    ).fetchall()
    assert any("idx_tasks_rerolled_from" in str(step) for step in plan), plan
    db.close()


def test_m010_brings_a_database_of_the_previous_release_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    migrations.MIGRATIONS.apply(old, stop_before="m010_rerolls_and_picks")
    assert "rerolled_from" not in old["tasks"].columns_dict and "picks" not in old.table_names()
    old.close()
    db, store = open_store(path)
    assert "rerolled_from" in db["tasks"].columns_dict and "picks" in db.table_names()
    video = completed_task(store)
    assert store.toggle_pick(video.id, guild_id=GUILD, user_id=USER).count == 1
    db.close()
