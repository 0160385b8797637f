"""Store and lineage: inserts, the lineage tree of a long chain, and the admins' history queries.

Runs the real ``TaskStore`` (sqlite-utils, WAL, the project's migrations) on a file in a
temporary directory, synchronously: this is the work the bot's one SQLite worker thread
does for each call (``AsyncTaskStore`` adds one thread hop per call, measured in
``bench.scale``).

    python -m bench.store                  # 10,000 tasks, a 1,000-node chain
    python -m bench.store --tasks 300 --chain 50 --repeat 3   # a quick look
    python -m bench.store --profile        # also a pyinstrument profile of the lineage steps

The lineage steps and their baselines (the full-decode read of before issue 14, the raw
SQL) are in ``bench.lineage_steps``.

Last line: the worse of the two 1,000-node families' p95 time (query + build + render)
over the 20 ms target.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bench import lineage_steps
from bench.common import (
    percentile,
    print_header,
    print_ratio,
    print_table,
    quiet_logging,
    verdict,
)
from bot.core.clock import DEFAULT_START, ManualClock
from bot.core.errors import NotFound
from bot.core.models import TaskKind, TaskStatus, VideoTask
from bot.storage.store import TaskStore, open_database

TREE_TARGET_S = 0.020
#: Added by migration m002 after this benchmark and bench.latency found the queries it serves slow.
COVERING_INDEX = "idx_tasks_guild_created"
GUILDS = (1001, 1002, 1003)
PROMPTS = (
    "a paper boat drifting down a rainy street",
    "a fox running through snow at dawn, telephoto",
    "neon city timelapse with flying cars",
    "a cat astronaut floating in a space station",
    "macro shot of coffee being poured, slow motion",
)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall times of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def row(name: str, times: list[float], note: str = "") -> list[object]:
    return [
        name,
        len(times),
        f"{percentile(times, 50) * 1000:.2f}",
        f"{percentile(times, 95) * 1000:.2f}",
        f"{max(times) * 1000:.2f}",
        note,
    ]


def insert_tasks(
    store: TaskStore, clock: ManualClock, count: int, rng: random.Random
) -> list[float]:
    """``count`` tasks the way commands make them: one ``create_task`` transaction each.

    Times are spread over 30 days; most tasks are then moved through their lifecycle
    (not timed) so the history has realistic statuses.
    """
    step = 30 * 86400 / max(count, 1)
    times = []
    for i in range(count):
        clock.advance(step * rng.uniform(0.5, 1.5))
        guild = GUILDS[0] if rng.random() < 0.7 else rng.choice(GUILDS[1:])
        start = time.perf_counter()
        task = store.create_task(
            guild_id=guild,
            channel_id=guild * 100 + rng.randrange(20),
            user_id=guild * 1000 + rng.randrange(200),
            prompt=f"{rng.choice(PROMPTS)} #{i}",
            model="sora-2",
            seconds=rng.choice((4, 8, 12)),
            size="1280x720",
            estimated_cost=0.4,
        )
        times.append(time.perf_counter() - start)
        finish(store, task, rng)
    return times


def finish(store: TaskStore, task: VideoTask, rng: random.Random) -> None:
    """Submit the task and (mostly) end it: 85 % completed, 10 % failed, 5 % still running."""
    store.mark_submitted(
        task.id,
        upstream_id=f"video_{task.id}",
        status=TaskStatus.QUEUED,
        progress=0,
        next_poll_at=None,
    )
    roll = rng.random()
    if roll < 0.85:
        store.complete(task.id)
    elif roll < 0.95:
        store.fail(task.id, code="moderation_blocked", message="blocked")


def make_chain(store: TaskStore, clock: ManualClock, length: int) -> tuple[str, str]:
    """A remix chain root -> ... of ``length`` nodes; returns (root id, leaf id)."""
    parent: VideoTask | None = None
    root = leaf = ""
    for i in range(length):
        clock.advance(60)
        task = store.create_task(
            guild_id=GUILDS[0],
            channel_id=GUILDS[0] * 100,
            user_id=GUILDS[0] * 1000 + i % 7,
            prompt=f"{PROMPTS[0]}, take {i}",
            model="sora-2",
            seconds=4,
            size="1280x720",
            parent=parent,
            kind=TaskKind.REMIX if parent else TaskKind.GENERATE,
        )
        store.mark_submitted(
            task.id,
            upstream_id=f"video_{task.id}",
            status=TaskStatus.QUEUED,
            progress=0,
            next_poll_at=None,
        )
        parent = store.complete(task.id)
        root = root or task.id
        leaf = task.id
    return root, leaf


def make_bushy(store: TaskStore, clock: ManualClock, size: int, rng: random.Random) -> str:
    """A family of ``size`` remixes with random parents (wide and shallow)."""
    nodes: list[VideoTask] = []
    for i in range(size):
        clock.advance(30)
        parent = rng.choice(nodes) if nodes else None
        task = store.create_task(
            guild_id=GUILDS[0],
            channel_id=GUILDS[0] * 100 + 1,
            user_id=GUILDS[0] * 1000 + i % 11,
            prompt=f"{PROMPTS[1]}, variant {i}",
            model="sora-2",
            seconds=4,
            size="1280x720",
            parent=parent,
        )
        store.mark_submitted(
            task.id,
            upstream_id=f"video_{task.id}",
            status=TaskStatus.QUEUED,
            progress=0,
            next_poll_at=None,
        )
        nodes.append(store.complete(task.id))
    return nodes[0].id


def ancestors_per_level(store: TaskStore, task_id: str, guild_id: int) -> list[VideoTask]:
    """The baseline for ``store.ancestors``: one lookup per level, as it was before issue 14."""
    current = store.get(task_id)
    if current is None or current.guild_id != guild_id:
        raise NotFound(task_id)
    found: list[VideoTask] = []
    while current.parent_id is not None:
        parent = store.get(current.parent_id)
        if parent is None or parent.guild_id != guild_id:
            break
        found.append(parent)
        current = parent
    return found


def lineage_table(
    store: TaskStore, args: argparse.Namespace, families: dict[str, tuple[str, str]]
) -> dict[str, dict[str, list[float]]]:
    """Time the lineage steps of each family and print them; returns the timings."""
    measured = {
        name: lineage_steps.timings(store, root, highlight, GUILDS[0], args.repeat)
        for name, (root, highlight) in families.items()
    }
    rows = [
        row(f"{name}: {step}", times[step], _note(step))
        for step in lineage_steps.STEPS
        for name, times in measured.items()
    ]
    root, leaf = families["chain"]
    repeat = max(3, args.repeat // 4)
    ancestors = timed(lambda: store.ancestors(leaf, guild_id=GUILDS[0]), repeat)
    before = timed(lambda: ancestors_per_level(store, leaf, GUILDS[0]), repeat)
    assert store.ancestors(leaf, guild_id=GUILDS[0]) == ancestors_per_level(store, leaf, GUILDS[0])
    rows += [
        row("chain: before: ancestors, one get() per level", before, f"{args.chain - 1} queries"),
        row("chain: store.ancestors(leaf)", ancestors, "one recursive CTE"),
    ]
    picture = [lineage_steps.picture_time(store, root, leaf, GUILDS[0]) for _ in range(3)]
    rows.append(row("chain: picture (PNG, <= 300 rows, on a thread)", picture, "first page only"))
    print_table(
        f"Lineage of one family of {args.chain:,} nodes ({args.repeat} runs each, "
        "variants alternating within each run)",
        ["step", "n", "p50 ms", "p95 ms", "max ms", "note"],
        rows,
    )
    return measured


def _note(step: str) -> str:
    if step.startswith("after: total"):
        return f"target <= {TREE_TARGET_S * 1000:.0f} ms"
    if step.startswith("raw SQL"):
        return "lower bound"
    return ""


def profile_lineage(store: TaskStore, families: dict[str, tuple[str, str]], repeat: int) -> None:
    """A pyinstrument profile of every lineage step (both variants and the page)."""
    from pyinstrument import Profiler  # only with --profile

    profiler = Profiler(interval=0.0005)
    with profiler:
        for root, highlight in families.values():
            lineage_steps.timings(store, root, highlight, GUILDS[0], repeat)
    print("\nProfile of the lineage steps (pyinstrument):\n")
    print(profiler.output_text(unicode=False, show_all=False))


def history_queries(store: TaskStore, clock: ManualClock) -> dict[str, Callable[[], object]]:
    """The queries admins (and every command's quota check) run."""
    guild = GUILDS[0]
    user = guild * 1000 + 3
    channel = guild * 100 + 5
    now = clock()
    day = now - timedelta(days=1)
    week = now - timedelta(days=7)
    return {
        "guild_history page 1 (25)": lambda: store.guild_history(guild, limit=25),
        "guild_history page 200 (offset 5000)": lambda: store.guild_history(
            guild, limit=25, offset=5000
        ),
        "guild_history user": lambda: store.guild_history(guild, user_id=user, limit=25),
        "guild_history channel": lambda: store.guild_history(guild, channel_id=channel, limit=25),
        "guild_history status=failed": lambda: store.guild_history(
            guild, status=TaskStatus.FAILED, limit=25
        ),
        "guild_history last 7 days": lambda: store.guild_history(
            guild, since=week, until=now, limit=25
        ),
        "guild_history user+failed+7d": lambda: store.guild_history(
            guild, user_id=user, status=TaskStatus.FAILED, since=week, limit=25
        ),
        "user_history (25)": lambda: store.user_history(guild, user, limit=25),
        "user_history completed (25)": lambda: store.user_history(
            guild, user, status=TaskStatus.COMPLETED, limit=25
        ),
        "recent_completed '' (autocomplete)": lambda: store.recent_completed(guild, limit=25),
        "recent_completed 'fox' (autocomplete)": lambda: store.recent_completed(
            guild, prefix="fox", limit=25
        ),
        "quota: active_count_for_user": lambda: store.active_count_for_user(guild, user),
        "quota: seconds_since (today)": lambda: store.seconds_since(guild, user, day),
        "quota: cost_since (today)": lambda: store.cost_since(guild, day),
        "metrics: count_by_status": store.count_by_status,
    }


def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        db = open_database(Path(tmp) / "bench.db")
        clock = ManualClock(DEFAULT_START - timedelta(days=31))
        store = TaskStore(db, clock=clock)

        inserts = insert_tasks(store, clock, args.tasks, rng)
        root, leaf = make_chain(store, clock, args.chain)
        bushy_root = make_bushy(store, clock, args.chain, rng)
        total_rows = db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0]

        print_table(
            f"Inserts ({args.tasks:,} tasks, one create_task transaction each; then "
            f"{total_rows:,} rows in the table)",
            ["operation", "n", "p50 ms", "p95 ms", "max ms", "total s"],
            [[*row("create_task", inserts)[:5], f"{sum(inserts):.2f}"]],
        )

        families = {"chain": (root, leaf), "bushy": (bushy_root, bushy_root)}
        measured = lineage_table(store, args, families)
        if args.profile:
            profile_lineage(store, families, args.repeat)

        queries = history_queries(store, clock)
        after = {name: timed(fn, args.repeat) for name, fn in queries.items()}
        db.execute(f"DROP INDEX {COVERING_INDEX}")  # as before migration m002
        before = {name: timed(fn, args.repeat) for name, fn in queries.items()}
        print_table(
            f"History and quota queries over {total_rows:,} tasks ({args.repeat} runs each); "
            f"'before' = without {COVERING_INDEX} (migration m002)",
            ["query", "rows", "p50 ms", "p95 ms", "p50 ms before", "p95 ms before"],
            [
                [
                    name,
                    _rows(fn()),
                    f"{percentile(after[name], 50) * 1000:.2f}",
                    f"{percentile(after[name], 95) * 1000:.2f}",
                    f"{percentile(before[name], 50) * 1000:.2f}",
                    f"{percentile(before[name], 95) * 1000:.2f}",
                ]
                for name, fn in queries.items()
            ],
        )
        db.close()

    after = lineage_steps.STEPS[8]
    p95 = {name: percentile(times[after], 95) for name, times in measured.items()}
    worst = max(p95, key=lambda name: p95[name])
    before = percentile(measured[worst][lineage_steps.STEPS[7]], 95)
    print_ratio(
        "tree_p95_over_target",
        p95[worst] / TREE_TARGET_S,
        f"{args.chain:,}-node families, worst is the {worst}: query+build+render p95 "
        f"{p95[worst] * 1000:.1f} ms (before, same run: {before * 1000:.1f} ms) vs target "
        f"{TREE_TARGET_S * 1000:.0f} ms: {verdict(p95[worst] <= TREE_TARGET_S)}",
    )


def _rows(result: object) -> str:
    if isinstance(result, dict):
        return str(sum(result.values()))
    if isinstance(result, float):
        return f"{result:.2f}"
    return str(len(result)) if isinstance(result, list) else str(result)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.store", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks to insert")
    parser.add_argument("--chain", type=int, default=1_000, help="nodes in the remix chain")
    parser.add_argument("--repeat", type=int, default=20, help="runs per timed query")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--profile", action="store_true", help="also print a pyinstrument profile of the lineage"
    )
    args = parser.parse_args(argv)
    quiet_logging()
    print_header("bench.store", vars(args))
    run(args)


if __name__ == "__main__":
    main()
