"""The lineage steps ``bench.store`` times, each next to its baseline from the same run.

For one family (a long chain or a bushy tree), every run times, in turn:

* the raw SQL alone (the family's rows fetched as tuples, lean columns and all columns):
  the lower bound for any decoding;
* "before": ``store.tree`` (every column decoded into a full ``VideoTask``, what /lineage
  read until issue 14) + ``build_tree`` + ``render_text_tree``;
* "after": ``store.lineage`` (the columns a tree line shows, as ``LineageTask``) +
  ``build_tree`` + ``render_text_tree`` — the figure the target is about;
* the /lineage page as the bot builds it, minus Discord: the family, the tree, the
  team's picks and rerolls and the most-picked path, every node's line with its prompt
  change, the pages, and the picture's labels (the PNG itself is drawn on a thread and
  is timed on its own): "cold" with no prompt change remembered (``forget_prompt_changes``
  first: the first /lineage of a family since the start), and again
  right after (a page button, or /lineage of another video of the family).

Runs alternate between the variants, so machine noise falls on all of them alike. Each
step starts after ``gc.collect()`` (outside its timing, as ``timeit`` keeps the collector
out): a full collection of this process's heap (the bot's imports: ~70,000 objects) takes
~25 ms on this machine and would otherwise land on whichever step allocates when the
other variants' garbage tips it over; a step's own collections still count.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from bot.core.lineage import (
    ShownTask,
    build_tree,
    forget_prompt_changes,
    most_picked_path,
    render_text_tree,
)
from bot.discord_ui.lineage_image import render_tree_png
from bot.discord_ui.pages import (
    TeamMarks,
    changes_of,
    drawn_tasks,
    lineage_pages,
    picture_labels,
)
from bot.storage.codec import LINEAGE_SELECT, SELECT
from bot.storage.store import TaskStore

FAMILY_SQL = "WHERE root_id = ? AND guild_id = ? ORDER BY depth, created_at, id"
STEPS = (
    "raw SQL, lean columns",
    "raw SQL, all columns",
    "before: store.tree (query + full decode)",
    "store.lineage (query + lean decode)",
    "build_tree",
    "render_text_tree (all lines)",
    "render_text_tree max_lines=40",
    "before: total (tree + build + render)",
    "after: total (lineage + build + render)",
    "/lineage page, cold (family, marks, lines, pages, labels)",
    "/lineage page, again (prompt changes remembered)",
)


def describe(task: ShownTask) -> str:
    """One tree line, like the lineage view shows it: id, status, prompt start."""
    return f"`{task.id}` {task.status.value} · {task.prompt[:40]}"


def _clock(out: dict[str, list[float]], name: str, fn: Callable[[], Any]) -> Any:
    gc.collect()
    start = time.perf_counter()
    result = fn()
    out[name].append(time.perf_counter() - start)
    return result


def _raw(store: TaskStore, select: str, root_id: str, guild_id: int) -> list[Any]:
    db = store._core.db  # the bench reads the rows the store reads, without decoding
    return list(db.execute(f"{select} {FAMILY_SQL}", [root_id, guild_id]).fetchall())


def _render_all(tasks: list[Any], root_id: str, highlight: str) -> tuple[int, float, float]:
    """Build and render; returns (lines, build s, render s)."""
    t0 = time.perf_counter()
    tree = build_tree(tasks, root_id=root_id)
    t1 = time.perf_counter()
    lines = render_text_tree(tree, highlight_id=highlight, describe=describe)
    return len(lines), t1 - t0, time.perf_counter() - t1


def page(store: TaskStore, root_id: str, highlight: str, guild_id: int) -> int:
    """``LineageSource.render`` without Discord (its ``team_marks`` on the sync store)."""
    tasks: list[ShownTask] = [*store.lineage(root_id, guild_id=guild_id)]
    root = build_tree(tasks, root_id=root_id)
    ids = [node.task.id for node, _ in root.walk()]
    picks = store.pick_counts(ids, guild_id=guild_id)
    rerolls: dict[str, list[str]] = {}
    for made in store.rerolls_of(ids, guild_id=guild_id):
        rerolls.setdefault(str(made.rerolled_from), []).append(made.id)
    marks = TeamMarks(picks=picks, path=most_picked_path(root, picks), rerolls=rerolls)
    change = changes_of(tasks)
    task = next(t for t in tasks if t.id == highlight)
    pages = lineage_pages(task, root, marks, change)
    picture_labels(None, drawn_tasks(root), marks, change)
    return len(pages)


def one_run(
    store: TaskStore, root_id: str, highlight: str, guild_id: int, out: dict[str, list[float]]
) -> None:
    """Every step once, appending each wall time to ``out``."""
    _clock(out, STEPS[0], lambda: _raw(store, LINEAGE_SELECT, root_id, guild_id))
    _clock(out, STEPS[1], lambda: _raw(store, SELECT, root_id, guild_id))

    gc.collect()
    start = time.perf_counter()
    full = store.tree(root_id, guild_id=guild_id)
    out[STEPS[2]].append(time.perf_counter() - start)
    _render_all(full, root_id, highlight)
    out[STEPS[7]].append(time.perf_counter() - start)

    gc.collect()
    start = time.perf_counter()
    lean = store.lineage(root_id, guild_id=guild_id)
    out[STEPS[3]].append(time.perf_counter() - start)
    drawn, build, render = _render_all(lean, root_id, highlight)
    out[STEPS[8]].append(time.perf_counter() - start)
    out[STEPS[4]].append(build)
    out[STEPS[5]].append(render)
    assert drawn == len(lean) == len(full), "every node is drawn"

    tree = build_tree(lean, root_id=root_id)
    _clock(
        out,
        STEPS[6],
        lambda: render_text_tree(tree, highlight_id=highlight, describe=describe, max_lines=40),
    )
    forget_prompt_changes()
    _clock(out, STEPS[9], lambda: page(store, root_id, highlight, guild_id))
    _clock(out, STEPS[10], lambda: page(store, root_id, highlight, guild_id))


def timings(
    store: TaskStore, root_id: str, highlight: str, guild_id: int, repeat: int
) -> dict[str, list[float]]:
    """``repeat`` runs of every step (the first run, which warms the caches, is not kept)."""
    out: dict[str, list[float]] = {name: [] for name in STEPS}
    one_run(store, root_id, highlight, guild_id, {name: [] for name in STEPS})
    for _ in range(repeat):
        one_run(store, root_id, highlight, guild_id, out)
    return out


def picture_time(store: TaskStore, root_id: str, highlight: str, guild_id: int) -> float:
    """One PNG of the family (at most ``DEFAULT_MAX_NODES`` rows), as the page's thread draws."""
    tasks: list[ShownTask] = [*store.lineage(root_id, guild_id=guild_id)]
    root = build_tree(tasks, root_id=root_id)
    labels = picture_labels(None, drawn_tasks(root), TeamMarks(), changes_of(tasks))
    start = time.perf_counter()
    render_tree_png(root, highlight_id=highlight, label=lambda t: labels[t.id])
    return time.perf_counter() - start
