"""The lean lineage read (``store.lineage``) and the one-query ``store.ancestors``.

Each is checked against the full reads on a random family: ``lineage`` must give, row
for row, what ``tree`` gives as seen through ``lineage_task``, and the /lineage text and
picture labels made from it must be the ones made from full tasks; ``ancestors`` must
give what a walk with one ``get`` per level gives, for every video of the family.
"""

from __future__ import annotations

import random

import pytest
from sqlite_utils import Database

from bench.store import ancestors_per_level  # the reference: one lookup per level
from bot.core.clock import ManualClock
from bot.core.errors import NotFound
from bot.core.lineage import (
    LineageError,
    LineageNode,
    LineageTask,
    ShownTask,
    build_tree,
    lineage_task,
    most_picked_path,
)
from bot.core.models import TaskKind, TaskStatus, VideoTask
from bot.discord_ui.pages import TeamMarks, changes_of, lineage_pages, picture_labels
from bot.storage.store import TaskStore
from tests.store_fixtures import GUILD, OTHER_GUILD, USER, completed_task, make_task, open_store

PROMPTS = ("a fox in the snow", "a fox in the snow at dusk", "paint it as a watercolor")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db_store(clock: ManualClock) -> tuple[Database, TaskStore]:
    return open_store(clock=clock)


def random_family(store: TaskStore, clock: ManualClock, size: int, seed: int) -> list[VideoTask]:
    """A family with remixes, extends, a reroll, deleted results, posts, names and statuses."""
    rng = random.Random(seed)
    family = [completed_task(store, prompt=PROMPTS[0], author_name="ana")]
    for i in range(size - 1):
        clock.advance(rng.choice((0, 1, 30)))  # equal created_at too: ties order by id
        parent = rng.choice([t for t in family if t.status is TaskStatus.COMPLETED])
        kind = TaskKind.EXTEND if rng.random() < 0.2 else TaskKind.REMIX
        task = make_task(
            store,
            parent=parent,
            kind=kind,
            prompt=f"{rng.choice(PROMPTS)} {i}",
            author_name=rng.choice((None, "ben", "*cy*")),
            user_id=USER + rng.randrange(3),
        )
        if rng.random() < 0.8:
            task = completed_task_from(store, task, rng)
        family.append(task)
    return family


def completed_task_from(store: TaskStore, task: VideoTask, rng: random.Random) -> VideoTask:
    store.set_card_message(task.id, 900 + len(task.id))
    store.mark_submitted(
        task.id, upstream_id=f"video_{task.id}", status=TaskStatus.QUEUED, progress=0,
        next_poll_at=None,
    )  # fmt: skip
    done = store.complete(task.id)
    if rng.random() < 0.5:
        store.mark_delivering(task.id)
        done = store.mark_delivered(task.id, message_id=700, attached=True, result_bytes=9)
    if rng.random() < 0.3:
        done = store.mark_result_deleted(task.id, guild_id=GUILD, by_user_id=USER)
    return done


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lineage_reads_what_tree_reads_row_for_row(
    db_store: tuple[Database, TaskStore], clock: ManualClock, seed: int
) -> None:
    _, store = db_store
    family = random_family(store, clock, 40, seed)
    reroll = completed_task(
        store, prompt=family[3].prompt, metadata_extra={"rerolled_from": family[3].id}
    )
    for root in (family[0], reroll):
        full = store.tree(root.id, guild_id=GUILD)
        lean = store.lineage(root.id, guild_id=GUILD)
        assert lean == [lineage_task(t) for t in full]
        assert all(type(t) is LineageTask for t in lean)
    lean_by_id = {t.id: t for t in store.lineage(family[0].id, guild_id=GUILD)}
    assert any(t.deleted for t in lean_by_id.values())
    assert any(t.kind is TaskKind.EXTEND for t in lean_by_id.values())
    assert store.lineage(reroll.id, guild_id=GUILD)[0].rerolled_from == family[3].id
    assert store.lineage(family[0].id, guild_id=OTHER_GUILD) == []


def _page_text(tasks: list[ShownTask], highlight: str, picks: dict[str, int]) -> object:
    root: LineageNode[ShownTask] = build_tree(tasks, root_id=tasks[0].id)
    marks = TeamMarks(picks=picks, path=most_picked_path(root, picks), rerolls={"x": ["y"]})
    task = next(t for t in tasks if t.id == highlight)
    change = changes_of(tasks)
    return lineage_pages(task, root, marks, change), picture_labels(None, tasks, marks, change)


def test_the_lineage_pages_and_labels_from_lean_rows_are_those_from_full_ones(
    db_store: tuple[Database, TaskStore], clock: ManualClock
) -> None:
    _, store = db_store
    family = random_family(store, clock, 60, seed=9)
    picks = {family[5].id: 2, family[17].id: 1, family[40].id: 3}
    full: list[ShownTask] = [*store.tree(family[0].id, guild_id=GUILD)]
    lean: list[ShownTask] = [*store.lineage(family[0].id, guild_id=GUILD)]
    for highlight in (family[0].id, family[33].id):
        pages, labels = _page_text(lean, highlight, picks)
        assert (pages, labels) == _page_text(full, highlight, picks)
    joined = "\n".join(line for page in pages for line in page)  # type: ignore[attr-defined]
    assert "⏩" in joined and "⭐ 3" in joined and "◀" in joined


def test_ancestors_are_what_a_walk_with_one_get_per_level_finds(
    db_store: tuple[Database, TaskStore], clock: ManualClock
) -> None:
    _, store = db_store
    family = random_family(store, clock, 50, seed=4)
    for task in family:
        assert store.ancestors(task.id, guild_id=GUILD) == ancestors_per_level(
            store, task.id, GUILD
        )
    with pytest.raises(NotFound):
        store.ancestors(family[7].id, guild_id=OTHER_GUILD)


def _chain(store: TaskStore, clock: ManualClock, length: int) -> list[VideoTask]:
    chain = [completed_task(store)]
    for _ in range(length - 1):
        clock.advance(1)
        chain.append(completed_task(store, parent=chain[-1]))
    return chain


def test_ancestors_depth_guard_counts_as_the_walk_did(
    db_store: tuple[Database, TaskStore], clock: ManualClock
) -> None:
    db, store = db_store
    chain = _chain(store, clock, 6)
    leaf = chain[-1]
    assert len(store.ancestors(leaf.id, guild_id=GUILD, max_depth=5)) == 5
    with pytest.raises(LineageError, match="deeper than 4"):
        store.ancestors(leaf.id, guild_id=GUILD, max_depth=4)
    with pytest.raises(LineageError, match="deeper than 0"):
        store.ancestors(leaf.id, guild_id=GUILD, max_depth=0)
    # The root now names a parent that does not exist: the walk stops there, unless the
    # guard is reached first (it is checked before each lookup).
    db.execute("PRAGMA foreign_keys = OFF")  # a hand-edited row
    db.execute("UPDATE tasks SET parent_id = 'gone00' WHERE id = ?", [chain[0].id])
    found = store.ancestors(leaf.id, guild_id=GUILD, max_depth=6)
    assert [t.id for t in found] == [t.id for t in reversed(chain[:-1])]
    with pytest.raises(LineageError, match="deeper than 5"):
        store.ancestors(leaf.id, guild_id=GUILD, max_depth=5)


def test_ancestors_stop_at_another_guild_and_catch_a_self_cycle(
    db_store: tuple[Database, TaskStore], clock: ManualClock
) -> None:
    db, store = db_store
    chain = _chain(store, clock, 4)
    db.execute("UPDATE tasks SET guild_id = ? WHERE id = ?", [OTHER_GUILD, chain[1].id])
    assert store.ancestors(chain[3].id, guild_id=GUILD) == [chain[2]]
    db.execute("UPDATE tasks SET parent_id = id WHERE id = ?", [chain[3].id])
    with pytest.raises(LineageError, match=f"parent cycle through {chain[3].id}"):
        store.ancestors(chain[3].id, guild_id=GUILD)


def brute_most_picked(tasks: list[VideoTask], picks: dict[str, int]) -> list[str]:
    """The definition: the root path of the picked video with the best (total, length, age)."""
    by_id = {t.id: t for t in tasks}

    def path(task: VideoTask) -> list[VideoTask]:
        up = [task]
        while up[-1].parent_id in by_id:
            up.append(by_id[str(up[-1].parent_id)])
        return up[::-1]

    scored = [
        ((sum(picks.get(t.id, 0) for t in path(task)), len(path(task)), task.created_at, task.id),
         [t.id for t in path(task)])
        for task in tasks if picks.get(task.id)
    ]  # fmt: skip
    return max(scored)[1] if scored else []


@pytest.mark.parametrize("seed", range(5))
def test_most_picked_path_is_the_best_scored_root_path(
    db_store: tuple[Database, TaskStore], clock: ManualClock, seed: int
) -> None:
    _, store = db_store
    family = random_family(store, clock, 30, seed)
    rng = random.Random(seed)
    picks = {t.id: rng.choice((1, 1, 2, 5)) for t in rng.sample(family, 6)}
    tasks = store.tree(family[0].id, guild_id=GUILD)
    assert most_picked_path(build_tree(tasks), picks) == brute_most_picked(tasks, picks)
    assert most_picked_path(build_tree(tasks), {}) == []
