"""Scale: 10,000 in-flight tasks — one tick's database work, loop lag, memory, resume time.

The scene is a restart after some downtime: 10,000 tasks are queued at the upstream and
all of them are overdue for a poll. A helper process plays "the world before this
start": it seeds the SQLite file through the real ``TaskStore`` (create_task,
set_card_message, mark_submitted) and then serves the Videos API emulator, which knows
all 10,000 jobs (an hour long, started ten minutes ago: every poll finds them in
progress, and the first poll of each moves it from queued to in progress). Keeping
the emulator in its own process keeps its CPU out of this process's event loop, as a
real upstream would be.

This process runs the bot's core as production wires it: ``AsyncTaskStore`` (one
SQLite worker thread), ``OpenAIVideosClient`` (httpx, real loopback HTTP), ``Poller`` with the
production ``PollPolicy`` and ``PollerConfig`` from the default config. Only the
Discord edge is a recording notifier. It also imports the Discord layer so that the peak
RSS includes the libraries the real bot loads.

    python -m bench.scale                       # 10,000 tasks
    python -m bench.scale --tasks 500 --ticks 3 # a quick look

Measured:

* resume: open the DB (migrations check) + ``Poller.recover()`` + ``active_count`` +
  the first ``claim_due`` batch, as ``SoraBot.setup_hook`` and the first tick do;
* tick DB work: ``claim_due`` of one batch + one ``update_progress`` per claimed task
  (what a tick writes when every poll finds progress), timed on the worker thread, and
  again as the poller issues it (one awaited call each, thread hops included);
* full ticks: ``Poller.tick()`` back to back (HTTP polls + writes + card edits), with a
  coroutine sampling ``asyncio.sleep(0.001)`` drift as the event-loop lag;
* peak RSS of this process (``ru_maxrss``).

Last line: the worst of the four figures over its target (<= 1 means every target met).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

import bot.discord_ui.app  # noqa: F401 - the real bot's imports count towards its RSS
from bench.common import (
    BenchNotifier,
    LoopLagSampler,
    add_upstream_job,
    ms,
    peak_rss_mb,
    percentile,
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
from bot.emulators.fake_upstream import FakeUpstream
from bot.polling.poller import LEASE_SECONDS, Poller
from bot.storage.async_store import AsyncTaskStore
from bot.storage.store import TaskStore, open_database
from bot.upstream import OpenAIVideosClient, VideoProvider

API_KEY = "sk-bench-scale-0123456789"
TARGETS = {"tick_db": 0.200, "loop_lag_p99": 0.050, "rss_mb": 250.0, "resume": 2.0}
JOB_SECONDS = 3600.0
GUILD, CHANNEL = 4242, 4343


@dataclass(frozen=True)
class WorldSpec:
    """What the helper process seeds and serves."""

    db_path: str
    upstream_ids: tuple[str, ...]
    overdue_seconds: float
    seed: int


def _world(spec: WorldSpec, conn) -> None:  # a multiprocessing Connection
    """Helper process: seed the DB, then serve the emulator until told to stop."""
    quiet_logging()
    rng = random.Random(spec.seed)
    start = time.perf_counter()
    db = open_database(spec.db_path)
    store = TaskStore(db)
    count = len(spec.upstream_ids)
    seed_in_flight(
        db,
        store,
        count=count,
        guild_id=GUILD,
        channel_id=CHANNEL,
        user_ids=[GUILD * 1000 + i for i in range(300)],
        next_poll_at=spread_over(
            utc_now() - timedelta(seconds=spec.overdue_seconds), spec.overdue_seconds - 1, count
        ),
        upstream_ids=spec.upstream_ids,
        rng=rng,
    )
    db.close()
    seeded_in = time.perf_counter() - start

    async def serve() -> None:
        upstream = FakeUpstream(api_key=API_KEY, job_seconds=JOB_SECONDS)
        for upstream_id in spec.upstream_ids:
            add_upstream_job(upstream, upstream_id, duration=JOB_SECONDS, started_ago=600)
        async with upstream:
            conn.send((upstream.base_url, seeded_in))
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            conn.send({op: upstream.count(op) for op in ("retrieve", "content", "create")})

    asyncio.run(serve())


class World:
    """Start/stop the helper process; ``base_url`` of its emulator."""

    def __init__(self, spec: WorldSpec) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_world, args=(spec, child), daemon=True)
        self.base_url = ""
        self.seeded_in = 0.0

    def __enter__(self) -> World:
        self._process.start()
        self.base_url, self.seeded_in = self._conn.recv()
        return self

    def stop(self) -> dict[str, int]:
        """Stop the emulator and return its request counts."""
        self._conn.send("stop")
        counts = self._conn.recv()
        self._process.join(timeout=10)
        return counts

    def __exit__(self, *exc_info: object) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def bot_config(db_path: Path, base_url: str, batch: int, concurrency: int) -> Config:
    """The default config, pointed at the emulator; batch/concurrency as asked."""
    return Config(
        upstream=UpstreamConfig(base_url=base_url),
        poller=PollerConfig(batch_size=batch, concurrency=concurrency),
        storage=StorageConfig(database=db_path, media_dir=db_path.parent / "media"),
    )


async def resume(
    config: Config, client: VideoProvider
) -> tuple[dict[str, float], AsyncTaskStore, Poller]:
    """What a start does before the first tick's polls, each step timed."""
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    store = await AsyncTaskStore.open(config.storage.database)
    t1 = time.perf_counter()
    poller = Poller(
        store=store,
        upstream=client,
        notifier=BenchNotifier(utc_now),
        settings=config.poller,
        media_dir=config.storage.media_dir,
        policy=policy_from_config(config),
    )
    await poller.recover()
    active = await store.active_count()
    t2 = time.perf_counter()
    first = await store.claim_due(
        utc_now(), limit=config.poller.batch_size, lease_seconds=LEASE_SECONDS
    )
    t3 = time.perf_counter()
    steps["open + migrations check"] = t1 - t0
    steps[f"recover + active_count ({active:,} active)"] = t2 - t1
    steps[f"first claim_due ({len(first)} tasks)"] = t3 - t2
    steps["resume total"] = t3 - t0
    return steps, store, poller


#: Updates in the DB-work measurement put tasks back this far in the past, so the backlog
#: stays as deep for the following measurements (the write is the same either way).
BACK_INTO_BACKLOG = timedelta(seconds=-601)


def _tick_db_work(store: TaskStore, batch: int) -> tuple[float, float, int]:
    """On the worker: claim one batch and write one progress update per task."""
    now = utc_now()
    start = time.perf_counter()
    claimed = store.claim_due(now, limit=batch, lease_seconds=LEASE_SECONDS)
    claimed_at = time.perf_counter()
    for task in claimed:
        store.update_progress(
            task.id,
            status=TaskStatus.IN_PROGRESS,
            progress=min(99, task.progress + 3),
            next_poll_at=now + BACK_INTO_BACKLOG,
        )
    return claimed_at - start, time.perf_counter() - start, len(claimed)


async def tick_db_via_calls(store: AsyncTaskStore, batch: int) -> float:
    """The same work as separate awaited calls, as the poller issues it."""
    now = utc_now()
    start = time.perf_counter()
    claimed = await store.claim_due(now, limit=batch, lease_seconds=LEASE_SECONDS)
    for task in claimed:
        await store.update_progress(
            task.id,
            status=TaskStatus.IN_PROGRESS,
            progress=min(99, task.progress + 3),
            next_poll_at=now + BACK_INTO_BACKLOG,
        )
    return time.perf_counter() - start


async def run(args: argparse.Namespace, tmp: Path) -> None:
    rng = random.Random(args.seed)
    upstream_ids = tuple(upstream_job_id(rng) for _ in range(args.tasks))
    db_path = tmp / "scale.db"
    spec = WorldSpec(str(db_path), upstream_ids, overdue_seconds=600.0, seed=args.seed)
    with World(spec) as world:
        config = bot_config(db_path, world.base_url, args.batch, args.concurrency)
        async with httpx.AsyncClient() as http:
            client = OpenAIVideosClient(
                http, base_url=world.base_url, api_key=API_KEY, json_timeout=10.0
            )
            steps, store, poller = await resume(config, client)
            try:
                db_runs = [await store.call(_tick_db_work, args.batch) for _ in range(args.ticks)]
                via_calls = [await tick_db_via_calls(store, args.batch) for _ in range(args.ticks)]

                idle = LoopLagSampler()
                idle.start()
                await asyncio.sleep(0.5)
                idle_lags = await idle.stop()

                sampler = LoopLagSampler()
                sampler.start()
                tick_times, polled = [], 0
                for _ in range(args.ticks):
                    start = time.perf_counter()
                    summary = await poller.tick()
                    tick_times.append(time.perf_counter() - start)
                    polled += summary.polled
                lags = await sampler.stop()
                still_active = await store.active_count()
            finally:
                await store.close()
        counts = world.stop()

    claim = [c for c, _, _ in db_runs]
    db_total = [t for _, t, _ in db_runs]
    claimed_n = db_runs[0][2] if db_runs else 0
    rss = peak_rss_mb()
    print(
        f"seeded {args.tasks:,} in-flight tasks in {world.seeded_in:.1f} s (helper process); "
        f"all overdue, as after 10 minutes of downtime"
    )

    print_table(
        "Resume after a restart",
        ["step", "ms"],
        [[name, ms(value)] for name, value in steps.items()],
    )
    print_table(
        f"One tick's database work with {args.tasks:,} tasks due (batch {args.batch}, "
        f"{args.ticks} ticks)",
        ["measure", "p50 ms", "p95 ms", "max ms"],
        [
            [f"claim_due({args.batch}) on the worker", *_ms3(claim)],
            [f"claim_due + {claimed_n} update_progress on the worker", *_ms3(db_total)],
            ["same, as awaited AsyncTaskStore calls", *_ms3(via_calls)],
        ],
    )
    throughput = polled / sum(tick_times) if tick_times else 0.0
    print_table(
        f"Poller.tick() back to back ({args.ticks} ticks, concurrency {args.concurrency}, "
        f"real HTTP to the emulator)",
        ["measure", "p50", "p95", "p99", "max"],
        [
            ["tick wall time (ms)", *_ms4(tick_times)],
            [f"loop lag during ticks (ms, {len(lags):,} samples)", *_ms4(lags)],
            [f"loop lag idle (ms, {len(idle_lags):,} samples)", *_ms4(idle_lags)],
        ],
    )
    tick_s = config.poller.tick_seconds
    capacity = args.batch / tick_s
    demand = args.tasks / config.poller.max_interval_seconds
    print_table(
        "Poll capacity",
        ["measure", "value"],
        [
            ["polls per second, ticks back to back (measured)", f"{throughput:.0f}"],
            [
                f"polls per second at tick {tick_s:g} s x batch {args.batch} (configured)",
                f"{capacity:.0f}",
            ],
            [
                f"demand: {args.tasks:,} tasks at most {config.poller.max_interval_seconds:g} s "
                "apart (polls/s)",
                f"{demand:.0f}",
            ],
            [
                f"time to poll all {args.tasks:,} once at the configured rate (s)",
                f"{args.tasks / capacity:.0f}",
            ],
            [
                "upstream requests (retrieve / content)",
                f"{counts['retrieve']:,} / {counts['content']:,}",
            ],
            ["tasks still active at the end", f"{still_active:,}"],
        ],
    )
    figures = {
        "tick_db": percentile(db_total, 95),
        "loop_lag_p99": percentile(lags, 99),
        "rss_mb": rss,
        "resume": steps["resume total"],
    }
    print_table(
        "Targets",
        ["figure", "measured", "target", "ratio", "verdict"],
        [
            [
                "tick DB work p95 (ms)",
                ms(figures["tick_db"]),
                ms(TARGETS["tick_db"]),
                f"{figures['tick_db'] / TARGETS['tick_db']:.3f}",
                verdict(figures["tick_db"] <= TARGETS["tick_db"]),
            ],
            [
                "loop lag p99 during ticks (ms)",
                ms(figures["loop_lag_p99"]),
                ms(TARGETS["loop_lag_p99"]),
                f"{figures['loop_lag_p99'] / TARGETS['loop_lag_p99']:.3f}",
                verdict(figures["loop_lag_p99"] <= TARGETS["loop_lag_p99"]),
            ],
            [
                "peak RSS (MB)",
                f"{rss:.0f}",
                f"{TARGETS['rss_mb']:.0f}",
                f"{rss / TARGETS['rss_mb']:.3f}",
                verdict(rss <= TARGETS["rss_mb"]),
            ],
            [
                "resume (ms)",
                ms(figures["resume"]),
                ms(TARGETS["resume"]),
                f"{figures['resume'] / TARGETS['resume']:.3f}",
                verdict(figures["resume"] <= TARGETS["resume"]),
            ],
        ],
    )
    worst_name, worst = max(
        ((name, value / TARGETS[name]) for name, value in figures.items()), key=lambda kv: kv[1]
    )
    print_ratio(
        "worst_figure_over_target",
        worst,
        f"worst is {worst_name}; <= 1 means all four targets met: {verdict(worst <= 1)}",
    )


def _ms3(values: list[float]) -> list[str]:
    return [ms(percentile(values, 50)), ms(percentile(values, 95)), ms(max(values))]


def _ms4(values: list[float]) -> list[str]:
    return [ms(percentile(values, p)) for p in (50, 95, 99)] + [ms(max(values))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--tasks", type=int, default=10_000, help="in-flight tasks")
    parser.add_argument(
        "--batch", type=int, default=PollerConfig().batch_size, help="poller batch size"
    )
    parser.add_argument("--concurrency", type=int, default=PollerConfig().concurrency)
    parser.add_argument("--ticks", type=int, default=20, help="ticks per measurement")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    quiet_logging()
    print_header("bench.scale", vars(args))
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
