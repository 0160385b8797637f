"""Guild isolation lives in the store: a query for guild A never returns guild B's rows.

Both guilds get the same shape of data (a remix family, a retry, history of the same
member). Then guild B's rows are pointed into guild A's family by hand (``root_id``,
``parent_id``, ``retry_of``), as a corrupted or hand-edited database could, so that only
the store's own guild clause keeps them out of guild A's answers. Guild A's rows are
left as they were.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.core.errors import NotFound
from bot.core.models import TaskStatus, VideoTask
from bot.storage.store import TaskStore
from tests.store_fixtures import (
    GUILD,
    OTHER_GUILD,
    T0,
    USER,
    completed_task,
    drive_to,
    make_task,
    open_store,
)


class Family:
    """One guild's rows: a root, two remixes, a grandchild, a failed task and its retry."""

    def __init__(self, store: TaskStore, guild_id: int) -> None:
        self.root = completed_task(store, guild_id=guild_id, prompt=f"fox of {guild_id}")
        self.child = completed_task(store, guild_id=guild_id, parent=self.root)
        self.sibling = make_task(store, guild_id=guild_id, parent=self.root)
        self.grandchild = make_task(store, guild_id=guild_id, parent=self.child)
        self.failed = drive_to(store, make_task(store, guild_id=guild_id), TaskStatus.FAILED)
        self.retry = make_task(
            store, guild_id=guild_id, metadata_extra={"retry_of": self.failed.id}
        )


@pytest.fixture
def world() -> Iterator[tuple[TaskStore, Family, Family]]:
    db, store = open_store()
    a, b = Family(store, GUILD), Family(store, OTHER_GUILD)
    db.execute("UPDATE tasks SET root_id = ? WHERE guild_id = ?", [a.root.id, OTHER_GUILD])
    db.execute("UPDATE tasks SET parent_id = ? WHERE id = ?", [a.root.id, b.child.id])
    db.execute("UPDATE tasks SET retry_of = ? WHERE id = ?", [a.failed.id, b.retry.id])
    yield store, a, b
    db.close()


def ids(tasks: list[VideoTask]) -> list[str]:
    return [t.id for t in tasks]


def guilds(tasks: list[VideoTask]) -> set[int]:
    return {t.guild_id for t in tasks}


World = tuple[TaskStore, Family, Family]


def test_tree_and_children_of_answer_only_for_the_asking_guild(world: World) -> None:
    store, a, b = world
    family = [a.root, a.child, a.sibling, a.grandchild]
    assert set(ids(store.tree(a.root.id, guild_id=GUILD))) == set(ids(family))
    assert guilds(store.tree(a.root.id, guild_id=OTHER_GUILD)) == {OTHER_GUILD}
    assert set(ids(store.children_of(a.root.id, guild_id=GUILD))) == {a.child.id, a.sibling.id}
    assert ids(store.children_of(a.root.id, guild_id=OTHER_GUILD)) == [b.child.id]


def test_ancestors_never_cross_into_another_guild(world: World) -> None:
    store, a, b = world
    assert ids(store.ancestors(a.grandchild.id, guild_id=GUILD)) == [a.child.id, a.root.id]
    # b.child now claims a.root as its parent: the walk stops at the guild border
    assert ids(store.ancestors(b.grandchild.id, guild_id=OTHER_GUILD)) == [b.child.id]
    with pytest.raises(NotFound):
        store.ancestors(b.grandchild.id, guild_id=GUILD)


def test_lookups_by_id_and_retry_links_stay_in_the_guild(world: World) -> None:
    store, a, b = world
    assert store.get_in_guild(a.root.id, GUILD) == a.root
    with pytest.raises(NotFound):
        store.get_in_guild(b.root.id, GUILD)
    assert store.find_retry(a.failed.id, guild_id=GUILD) == a.retry
    assert store.find_retry(b.failed.id, guild_id=GUILD) is None
    assert store.find_retry(a.failed.id, guild_id=OTHER_GUILD) == store.get(b.retry.id)


def test_history_autocomplete_and_counts_stay_in_the_guild(world: World) -> None:
    store, a, _ = world
    history = store.guild_history(GUILD, limit=50)
    assert len(history) == 6 and guilds(history) == {GUILD}
    assert guilds(store.user_history(GUILD, USER, limit=50)) == {GUILD}
    assert store.count_history(GUILD) == 6
    completed = store.recent_completed(GUILD, prefix="fox")  # B's root says "fox" too
    assert set(ids(completed)) == {a.root.id, a.child.id}
    assert guilds(store.recent_completed(GUILD)) == {GUILD}


def test_reports_and_usage_count_only_the_guild(world: World) -> None:
    store, a, _ = world
    assert sum(g.count for g in store.totals(GUILD, by="status")) == 6
    [chain] = store.top_chains(GUILD)
    assert (chain.root_id, chain.tasks, chain.depth) == (a.root.id, 4, 2)
    # unfinished in guild A: the sibling, the grandchild and the retry
    assert store.usage(GUILD, USER, T0).running == 3
    assert store.active_count_for_user(GUILD, USER) == 3
