"""``/remix`` autocomplete: the in-memory recent-video index against the SQLite query.

Runs the real ``AsyncTaskStore`` (writer thread, reader thread, WAL file in a temporary
directory) seeded through ``TaskStore`` with ``--videos`` finished videos in one guild
(history of the past month) and ``--in-flight`` tasks of today (what the quota queries
count). Each round starts ``--burst`` quota reads (``usage``, what every command's
checks run), one new task per quota read (``create_task`` on the writer, as each /sora
of the burst records its task) and ``--per-round`` autocompletes at once, as a burst of
commands and a few members typing would, and times each autocomplete from its start to
its answer:

* ``sqlite``: ``recent_completed`` on the reader thread (the path before issue 14),
  queued behind the burst's quota reads;
* ``index``: ``store.recent.find``, answered on the event loop from ``RecentIndex``.

What is typed cycles through: nothing, 2-character id prefixes of known videos, prompt
words ("fox", "neon") and a word no prompt has. Both paths run in the same process and
run, alternating rounds, and must return the same ids (checked). The first round is
shown on its own rows: there the index loads the guild's window from SQLite (once per
guild after a start, on the reader thread behind the burst like any read).

    python -m bench.autocomplete                       # 1,200 videos, 30 rounds
    python -m bench.autocomplete --videos 100 --rounds 3   # a quick look

Last line: the index path's p99 over the 10 ms target.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path

from bench.common import (
    SteppingClock,
    ms,
    print_header,
    print_ratio,
    print_table,
    quiet_logging,
    seed_in_flight,
    spread,
    spread_over,
    verdict,
)
from bot.core.clock import utc_now
from bot.storage.async_store import AsyncTaskStore
from bot.storage.recent_index import DEFAULT_WINDOW
from bot.storage.store import TaskStore, open_database

TARGET_S = 0.010
GUILD = 4242
CHANNEL = 77
USERS = tuple(range(500, 550))
WORDS = ("fox", "neon", "lighthouse", "paper boat", "cat astronaut", "coffee", "rainy street")
LIMIT = 25


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.autocomplete")
    parser.add_argument("--videos", type=int, default=1200, help="finished videos in the guild")
    parser.add_argument("--in-flight", type=int, default=2000, help="tasks of today")
    parser.add_argument("--burst", type=int, default=50, help="quota reads at once")
    parser.add_argument("--per-round", type=int, default=10, help="autocompletes per round")
    parser.add_argument("--rounds", type=int, default=30, help="rounds per path")
    parser.add_argument(
        "--window", type=int, default=DEFAULT_WINDOW, help="videos per guild the index keeps"
    )
    parser.add_argument("--seed", type=int, default=14)
    return parser.parse_args(argv)


def seed(path: Path, args: argparse.Namespace) -> list[str]:
    """Finished history of the past month and in-flight tasks of today; the history's ids."""
    rng = random.Random(args.seed)
    db = open_database(path)
    now = utc_now()
    clock = SteppingClock(now - timedelta(days=30), 30 * 86400 / (8 * max(args.videos, 1)))
    history_store = TaskStore(db, clock=clock)
    ids = []
    with db.atomic():
        for i in range(args.videos):
            task = history_store.create_task(
                guild_id=GUILD,
                channel_id=CHANNEL,
                user_id=USERS[i % len(USERS)],
                prompt=f"{rng.choice(WORDS)} at dusk, take {i}",
                model="sora-2",
                seconds=4,
                size="1280x720",
                estimated_cost=0.4,
            )
            history_store.complete(task.id)
            ids.append(task.id)
    seed_in_flight(
        db,
        TaskStore(db),
        count=args.in_flight,
        guild_id=GUILD,
        channel_id=CHANNEL,
        user_ids=USERS,
        next_poll_at=spread_over(now, 600, args.in_flight),
        rng=rng,
    )
    db.close()
    return ids


Lookup = Callable[[str], Awaitable[list[str]]]


async def timed_round(
    store: AsyncTaskStore, lookup: Lookup, typed: Sequence[str], burst: int
) -> tuple[list[float], list[list[str]]]:
    """One burst of quota reads with autocompletes among them: each one's seconds, answers."""
    since = utc_now() - timedelta(days=1)

    async def one(text: str) -> tuple[float, list[str]]:
        start = time.perf_counter()
        found = await lookup(text)
        return time.perf_counter() - start, found

    jobs: list[Awaitable[object]] = [
        store.usage(GUILD, USERS[i % len(USERS)], since) for i in range(burst)
    ]
    jobs += [store.create_task(**new_task(i)) for i in range(burst)]
    gap = burst // (len(typed) + 1)
    for k, text in enumerate(typed):  # spread among the burst, as members type while it runs
        jobs.insert((k + 1) * gap + k, one(text))
    answers = [a for a in await asyncio.gather(*jobs) if isinstance(a, tuple)]
    return [a[0] for a in answers], [a[1] for a in answers]


def new_task(i: int) -> dict[str, object]:
    """The arguments of a /sora's task during the burst (it stays in SUBMITTING)."""
    return {
        "guild_id": GUILD,
        "channel_id": CHANNEL,
        "user_id": USERS[i % len(USERS)],
        "prompt": f"a fox in the burst {i}",
        "model": "sora-2",
        "seconds": 4,
        "size": "1280x720",
    }


def typed_texts(ids: Sequence[str], count: int, rng: random.Random) -> list[str]:
    """What members type: nothing, id prefixes, prompt words, a word no prompt has."""
    pool = ["", "fox", "neon", "zebra crossing", *(i[:2] for i in rng.sample(list(ids), 4))]
    return [pool[i % len(pool)] for i in range(count)]


def sqlite_lookup(store: AsyncTaskStore) -> Lookup:
    async def run(text: str) -> list[str]:
        tasks = await store.recent_completed(GUILD, prefix=text, limit=LIMIT)
        return [t.id for t in tasks]

    return run


async def run(args: argparse.Namespace, path: Path, ids: list[str]) -> dict[str, list[float]]:
    """Alternate rounds of each path; every round's answers are compared across paths."""
    rng = random.Random(args.seed + 1)
    times: dict[str, list[float]] = {}
    async with await AsyncTaskStore.open(path, recent_window=args.window) as store:
        lookups = available_paths(store)
        for r in range(args.rounds + 1):
            typed = typed_texts(ids, args.per_round, rng)
            answers = {}
            for name, lookup in lookups.items():
                took, answers[name] = await timed_round(store, lookup, typed, args.burst)
                times.setdefault(f"{name}, first round" if r == 0 else name, []).extend(took)
            first, *others = answers.values()
            if any(other != first for other in others):
                raise RuntimeError("the paths answered differently")
        recent = store.recent
        print(
            f"index: {recent.fallbacks} answers sent to SQLite (the window could not tell), "
            f"{recent.cold} before a window was loaded, "
            f"{recent.index.invalidations} invalidations"
        )
    return times


def index_lookup(store: AsyncTaskStore) -> Lookup:
    async def run(text: str) -> list[str]:
        videos = await store.recent.find(GUILD, prefix=text, limit=LIMIT)
        return [v.id for v in videos]

    return run


def available_paths(store: AsyncTaskStore) -> dict[str, Lookup]:
    """The lookups to compare, by name: the SQLite query first, the index last."""
    return {
        "sqlite (reader thread)": sqlite_lookup(store),
        "index (event loop)": index_lookup(store),
    }


def report(args: argparse.Namespace, times: dict[str, list[float]]) -> None:
    rows = []
    for name, took in times.items():
        s = spread(took)
        rows.append([name, len(took), ms(s["p50"]), ms(s["p95"]), ms(s["p99"]), ms(s["max"])])
    title = (
        f"/remix autocomplete, {args.videos} videos in the guild, "
        f"{args.burst} quota reads and {args.burst} task inserts at once (ms)"
    )
    print_table(title, ["path", "n", "p50", "p95", "p99", "max"], rows)
    names = [name for name in times if not name.endswith("first round")]
    best = spread(times[names[-1]])["p99"]
    base = spread(times[names[0]])["p99"]
    note = (
        f"{names[-1]} p99 {ms(best)} ms vs {names[0]} p99 {ms(base)} ms, {args.videos} videos; "
        f"target {names[-1]} p99 <= {ms(TARGET_S)} ms: {verdict(best <= TARGET_S)}"
    )
    print_ratio("autocomplete_p99_over_target", best / TARGET_S, note)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    quiet_logging()
    print_header("bench.autocomplete", vars(args))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        ids = seed(path, args)
        times = asyncio.run(run(args, path, ids))
    report(args, times)


if __name__ == "__main__":
    main()
