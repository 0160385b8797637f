"""Restart: how soon every in-flight task is polled again, within the upstream's rate limit.

The scene: the bot was down and comes back with ``--tasks`` (700) tasks in flight, all
overdue. They are seeded into a SQLite file through ``TaskStore`` (``seed_in_flight``,
as bench.scale does) and their jobs registered in the Videos API emulator
(``FakeUpstream.jobs``: an hour long, started ten minutes ago, so a poll finds each
in progress), among ``--strangers`` (300) jobs of other users of the same key (list
pages show them too). The emulator **enforces a rate limit** per key
(``RateLimit(--limit, --window)``: at most ``--limit`` admitted requests in any
``--window`` seconds; refusals are 429 in the relay's own words and headers, see
``bot.emulators.upstream_rate_limit``).

Each run is a fresh copy of that scene: a real ``Poller`` (``AsyncTaskStore``, the
adapter over real loopback HTTP, the real APScheduler jobs of ``Poller.schedule``, real
time) runs ``recover()`` and its rounds until every task has been answered once (its
status turned ``in_progress``: sampled every 50 ms), or ``--timeout``. Runs:

* ``old rule``: what the poller did before: 50 tasks every 2 s, 8 at once, no list,
  no request budget (``PollerConfig(batch_size=50, max_tasks_per_round=50,
  list_polling=False)``, the budget out of the way);
* ``new, list``: the default ``PollerConfig()`` (list polling, request budget);
* ``new, no list``: a relay that cannot list (``relay="newapi"``), the budget's
  ceiling set to the relay's limit (``max_requests_per_second = limit / window``);
* ``new, no list, ceiling 2x``: the same with the ceiling at twice the limit, so the
  budget has to find the limit from the 429s (new-api sends no Retry-After).

Figures: seconds until the last task was answered, requests the emulator received (and
how many it refused with 429), the most requests it received in any window (``--window``
seconds) against the limit, and, without a list, the time the limit allows at best
(``tasks / limit * window``).

    python -m bench.restart                 # 700 tasks, limit 25 per 1 s
    python -m bench.restart --tasks 50 --strangers 10   # a quick look

Last line: the new list run's time over the 5 s target.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bench.common import (
    BenchNotifier,
    add_upstream_job,
    print_header,
    print_ratio,
    print_table,
    quiet_logging,
    seed_in_flight,
    spread_over,
    upstream_job_id,
    verdict,
)
from bot.config import Config, PollerConfig, StorageConfig, UpstreamConfig
from bot.core.clock import utc_now
from bot.core.models import TaskStatus
from bot.discord_ui.app import policy_from_config
from bot.emulators.fake_upstream import FakeUpstream, Relay
from bot.emulators.upstream_rate_limit import RateLimit
from bot.polling.poller import Poller
from bot.storage.async_store import AsyncTaskStore
from bot.storage.store import TaskStore, open_database
from bot.upstream import OpenAIVideosClient

API_KEY = "sk-bench-restart-0123456789"
TARGET_SECONDS = 5.0
GUILD, CHANNEL = 7171, 7272
#: "No request budget": far above any limit (the old poller had none).
UNLIMITED = 1e9


@dataclass(frozen=True)
class Run:
    """One arrangement of the poller against the same scene."""

    name: str
    relay: Relay
    poller: dict[str, Any]


@dataclass
class Outcome:
    """What one run measured."""

    run: Run
    answered: int
    seconds: float | None  # None: not every task within the timeout
    requests: int
    refused: int
    pages: int
    max_in_window: int


def runs(args: argparse.Namespace) -> list[Run]:
    """The four arrangements (module docstring)."""
    per_second = args.limit / args.window
    old = {
        "batch_size": 50,
        "concurrency": 8,
        "max_tasks_per_round": 50,
        "list_polling": False,
        "max_requests_per_second": UNLIMITED,
    }
    return [
        Run("old rule: 50 per 2 s, 8 at once", "openai", old),
        Run("new, list (defaults)", "openai", {}),
        Run("new, no list (new-api)", "newapi", {"max_requests_per_second": per_second}),
        Run(
            "new, no list, ceiling 2x limit",
            "newapi",
            {"max_requests_per_second": 2 * per_second},
        ),
    ]


def seed(db_path: Path, args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The in-flight tasks (all overdue) and the job ids the emulator knows, in order."""
    rng = random.Random(args.seed)
    ours = [upstream_job_id(rng) for _ in range(args.tasks)]
    db = open_database(db_path)
    now = utc_now()
    started = now - timedelta(seconds=600)  # submitted (and started) ten minutes ago
    seed_in_flight(
        db,
        TaskStore(db, clock=lambda: started),
        count=args.tasks,
        guild_id=GUILD,
        channel_id=CHANNEL,
        user_ids=[GUILD * 1000 + i for i in range(50)],
        next_poll_at=spread_over(started, 599, args.tasks),
        upstream_ids=ours,
        rng=rng,
    )
    db.close()
    everyone = ours + [upstream_job_id(rng) for _ in range(args.strangers)]
    rng.shuffle(everyone)
    return ours, everyone


async def measure(
    run: Run, db_path: Path, ours: list[str], jobs: list[str], args: argparse.Namespace
) -> Outcome:
    """One run: recover, schedule the poller, wait until every task was answered."""
    limit = RateLimit(requests=args.limit, per_seconds=args.window)
    upstream = FakeUpstream(api_key=API_KEY, relay=run.relay, rate_limit=limit)
    for job_id in jobs:
        add_upstream_job(upstream, job_id, duration=3600.0, started_ago=600.0)
    config = Config(
        upstream=UpstreamConfig(base_url="http://unused/v1"),
        poller=PollerConfig(**run.poller),
        storage=StorageConfig(database=db_path, media_dir=db_path.parent / "media"),
    )
    async with upstream, httpx.AsyncClient() as http:
        client = OpenAIVideosClient(http, base_url=upstream.base_url, api_key=API_KEY)
        if run.relay == "newapi":
            client.assume_missing(frozenset({"list"}))  # what detection finds for new-api
        store = await AsyncTaskStore.open(db_path)
        poller = Poller(
            store=store,
            upstream=client,
            notifier=BenchNotifier(utc_now),
            settings=config.poller,
            media_dir=config.storage.media_dir,
            policy=policy_from_config(config),
        )
        scheduler = AsyncIOScheduler()
        try:
            start = time.perf_counter()
            await poller.recover()
            poller.schedule(scheduler, every_seconds=config.poller.tick_seconds)
            scheduler.start()
            answered, seconds = await _wait_answered(store, ours, args)
        finally:
            scheduler.shutdown(wait=False)
            await poller.drain(5.0)
            await store.close()
        elapsed = None if seconds is None else seconds - start
    return _outcome(run, upstream, answered, elapsed, poller.lister.pages, args.window)


async def _wait_answered(
    store: AsyncTaskStore, ours: list[str], args: argparse.Namespace
) -> tuple[int, float | None]:
    """Sample until no seeded task is still ``queued``; (answered, perf_counter at the end)."""
    deadline = time.perf_counter() + args.timeout
    answered = 0
    while time.perf_counter() < deadline:
        queued = await store.read(_count_queued, ours)
        answered = args.tasks - queued
        if queued == 0:
            return answered, time.perf_counter()
        await asyncio.sleep(0.05)
    return answered, None


def _count_queued(store: TaskStore, ours: list[str]) -> int:
    """Seeded tasks not answered yet (still ``queued``), on the store's reader."""
    tasks = store.active_by_upstream_ids(ours)
    return sum(1 for task in tasks if task.status is TaskStatus.QUEUED)


def _outcome(
    run: Run,
    upstream: FakeUpstream,
    answered: int,
    seconds: float | None,
    pages: int,
    window: float,
) -> Outcome:
    times = sorted(r.at for r in upstream.requests)
    busiest, low = 0, 0
    for high, at in enumerate(times):
        while at - times[low] >= window:
            low += 1
        busiest = max(busiest, high - low + 1)
    return Outcome(
        run=run,
        answered=answered,
        seconds=seconds,
        requests=len(upstream.requests),
        refused=sum(1 for r in upstream.requests if r.status == 429),
        pages=pages,
        max_in_window=busiest,
    )


def report(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    """The table and the ratio line."""
    rows = []
    for o in outcomes:
        lists = o.run.poller.get("list_polling", True) and o.run.relay == "openai"
        floor = "" if lists else f"{args.tasks / args.limit * args.window:.1f}"
        rows.append(
            [
                o.run.name,
                o.run.relay,
                f"{o.answered}/{args.tasks}",
                f"{o.seconds:.2f}" if o.seconds is not None else f"> {args.timeout:g}",
                floor,
                o.requests,
                o.pages,
                o.refused,
                f"{o.max_in_window} / {args.limit}",
            ]
        )
    print_table(
        f"Restart with {args.tasks} tasks in flight, all overdue ({args.strangers} strangers' "
        f"jobs on the same key); emulator limit {args.limit} requests per {args.window:g} s",
        [
            "run",
            "relay",
            "answered",
            "last answered after s",
            "limit allows s",
            "requests",
            "list pages",
            "429s",
            "most requests in a window / limit",
        ],
        rows,
    )
    old, new = outcomes[0], outcomes[1]
    value = (new.seconds if new.seconds is not None else args.timeout) / TARGET_SECONDS
    ok = new.seconds is not None and new.seconds <= TARGET_SECONDS and new.refused == 0
    old_s = f"{old.seconds:.2f} s" if old.seconds is not None else f"> {args.timeout:g} s"
    print_ratio(
        "restart_last_poll_over_target",
        value,
        f"new list run {value * TARGET_SECONDS:.2f} s vs the old rule's {old_s} ({old.refused} "
        f"429s); target <= {TARGET_SECONDS:g} s with no 429: {verdict(ok)}",
    )


async def run_all(args: argparse.Namespace, tmp: Path) -> list[Outcome]:
    outcomes = []
    for i, arrangement in enumerate(runs(args)):
        db_path = tmp / f"run{i}" / "restart.db"
        db_path.parent.mkdir()
        ours, jobs = seed(db_path, args)
        outcomes.append(await measure(arrangement, db_path, ours, jobs, args))
    return outcomes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.restart", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--tasks", type=int, default=700, help="in-flight tasks")
    parser.add_argument("--strangers", type=int, default=300, help="other users' jobs")
    parser.add_argument("--limit", type=int, default=25, help="requests per window")
    parser.add_argument("--window", type=float, default=1.0, help="rate-limit window, s")
    parser.add_argument("--timeout", type=float, default=60.0, help="per run, s")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    if args.tasks < 1 or args.limit < 1 or args.window <= 0:
        parser.error("--tasks and --limit must be at least 1, --window positive")
    quiet_logging()
    print_header("bench.restart", vars(args))
    with tempfile.TemporaryDirectory(prefix="bench-restart-") as tmp:
        outcomes = asyncio.run(run_all(args, Path(tmp)))
    report(outcomes, args)


if __name__ == "__main__":
    main()
