"""Scale: 10,000 in-flight tasks — poll capacity, peak memory, a round's DB time, resume.

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
production ``PollPolicy`` and ``PollerConfig()`` defaults (only ``--batch`` /
``--concurrency`` overridden, and only where the config still has those keys). Only the
Discord edge is a recording notifier. It also imports the Discord layer so that the peak
RSS includes the libraries the real bot loads.

    python -m bench.scale                       # 10,000 tasks
    python -m bench.scale --tasks 500 --ticks 3 # a quick look
    python -m bench.scale --profile             # also profile one round's DB work

Measured:

* resume: open the DB (migrations check) + ``Poller.recover()`` + ``active_count`` +
  the first ``claim_due`` batch, as ``SoraBot.setup_hook`` and the first tick do;
* a round's DB work on the worker thread (``bench.scale_rounds``): the claim as before
  issue 14 and today's, then one write per poll in its own transaction, or all of them
  in one ``update_progress_many``; for the default batch and a big one, and as awaited
  calls;
* poll capacity: ``Poller.tick()`` back to back (what the process sustains, with a
  coroutine sampling ``asyncio.sleep(0.001)`` drift as the event-loop lag), and ticks
  paced at the configured ``tick_seconds`` (what the default config achieves);
* memory: RSS after the imports (the baseline) and the peak (``ru_maxrss``).

Last line: the worst of the four target figures over its target (<= 1: all met).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

import bot.discord_ui.app  # noqa: F401 - the real bot's imports count towards its RSS
from bench import scale_rounds
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
from bot.discord_ui.app import policy_from_config
from bot.emulators.fake_upstream import FakeUpstream
from bot.polling.list_polling import PAGE_SIZE
from bot.polling.poller import LEASE_SECONDS, Poller
from bot.storage.async_store import AsyncTaskStore
from bot.storage.store import TaskStore, open_database
from bot.upstream import OpenAIVideosClient, VideoProvider

API_KEY = "sk-bench-scale-0123456789"
TARGETS = {"tick_db": 0.200, "loop_lag_p99": 0.050, "rss_mb": 150.0, "resume": 2.0}
JOB_SECONDS = 3600.0
GUILD, CHANNEL = 4242, 4343
#: Used only if ``PollerConfig`` no longer has these keys (rounds sized otherwise).
FALLBACK = {"batch_size": 50, "concurrency": 8, "tick_seconds": 2.0, "max_interval_seconds": 30.0}
#: Tasks one list request answers for (``bot.polling.list_polling``).
LIST_PAGE = PAGE_SIZE


def rss_now_mb() -> float:
    """This process's resident set size now, in MB (``VmRSS``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


#: Taken at import time: the bot's imports (discord.py, httpx, the whole bot), no data.
IMPORTS_RSS_MB = rss_now_mb()


def poller_setting(config: PollerConfig, name: str) -> Any:
    """A ``PollerConfig`` value, or its fallback if the config has no such key any more."""
    return getattr(config, name, FALLBACK[name])


@dataclasses.dataclass(frozen=True)
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
            ops = ("retrieve", "list", "content", "create")
            conn.send({op: upstream.count(op) for op in ops})

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


def bot_config(db_path: Path, base_url: str, overrides: dict[str, Any]) -> Config:
    """The default config, pointed at the emulator; ``overrides`` only for existing keys."""
    names = {f.name for f in dataclasses.fields(PollerConfig)}
    known = {k: v for k, v in overrides.items() if k in names}
    return Config(
        upstream=UpstreamConfig(base_url=base_url),
        poller=PollerConfig(**known),
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
    batch = poller_setting(config.poller, "batch_size")
    first = await store.claim_due(utc_now(), limit=batch, lease_seconds=LEASE_SECONDS)
    t3 = time.perf_counter()
    steps["open + migrations check"] = t1 - t0
    steps[f"recover + active_count ({active:,} active)"] = t2 - t1
    steps[f"first claim_due ({len(first)} tasks)"] = t3 - t2
    steps["resume total"] = t3 - t0
    return steps, store, poller


@dataclasses.dataclass
class Measured:
    """Everything one run measured (seconds unless named otherwise)."""

    steps: dict[str, float]
    rounds: dict[int, dict[str, list[float]]]
    tick_times: list[float]
    polled: int
    lags: list[float]
    idle_lags: list[float]
    paced_polled: int
    paced_seconds: float
    still_active: int
    profile: str = ""
    counts: dict[str, int] = dataclasses.field(default_factory=dict)


async def back_to_back(poller: Poller, ticks: int) -> tuple[list[float], int, list[float]]:
    """``ticks`` ticks with no pause: (tick wall times, polls, loop lags)."""
    sampler = LoopLagSampler()
    sampler.start()
    tick_times, polled = [], 0
    for _ in range(ticks):
        start = time.perf_counter()
        summary = await poller.tick()
        tick_times.append(time.perf_counter() - start)
        polled += summary.polled
    return tick_times, polled, await sampler.stop()


async def paced(poller: Poller, seconds: float, tick_seconds: float) -> tuple[int, float]:
    """Ticks every ``tick_seconds`` for ``seconds``, as the scheduler runs them: (polls, s)."""
    polled, start = 0, time.perf_counter()
    next_at = start
    while time.perf_counter() - start < seconds:
        polled += (await poller.tick()).polled
        next_at += tick_seconds
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    return polled, time.perf_counter() - start


async def idle_lag() -> list[float]:
    sampler = LoopLagSampler()
    sampler.start()
    await asyncio.sleep(0.5)
    return await sampler.stop()


async def measure(args: argparse.Namespace, config: Config, client: VideoProvider) -> Measured:
    """Resume, then every measurement, on one store and poller."""
    steps, store, poller = await resume(config, client)
    try:
        rounds = {}
        for batch in dict.fromkeys((args.batch, args.big_batch)):
            rounds[batch] = await scale_rounds.measure(store, batch, args.ticks)
        profile = ""
        if args.profile:
            profile = await store.call(scale_rounds.profile, args.batch, 5)
        idle = await idle_lag()
        tick_times, polled, lags = await back_to_back(poller, args.ticks)
        tick_s = poller_setting(config.poller, "tick_seconds")
        paced_polled, paced_s = await paced(poller, args.paced_seconds, tick_s)
        still_active = await store.active_count()
    finally:
        await store.close()
    return Measured(
        steps, rounds, tick_times, polled, lags, idle, paced_polled, paced_s, still_active, profile
    )


async def run(args: argparse.Namespace, tmp: Path) -> Measured:
    rng = random.Random(args.seed)
    upstream_ids = tuple(upstream_job_id(rng) for _ in range(args.tasks))
    db_path = tmp / "scale.db"
    spec = WorldSpec(str(db_path), upstream_ids, overdue_seconds=600.0, seed=args.seed)
    overrides = {"batch_size": args.batch, "concurrency": args.concurrency}
    with World(spec) as world:
        config = bot_config(db_path, world.base_url, overrides)
        async with httpx.AsyncClient() as http:
            client = OpenAIVideosClient(
                http, base_url=world.base_url, api_key=API_KEY, json_timeout=10.0
            )
            measured = await measure(args, config, client)
        measured.counts = world.stop()
    print(
        f"seeded {args.tasks:,} in-flight tasks in {world.seeded_in:.1f} s (helper process); "
        f"all overdue, as after 10 minutes of downtime; poller config: {config.poller}"
    )
    report(args, config, measured)
    return measured


def report(args: argparse.Namespace, config: Config, m: Measured) -> None:
    print_table("Resume after a restart", ["step", "ms"], [[n, ms(v)] for n, v in m.steps.items()])
    for batch, times in m.rounds.items():
        print_table(
            f"One round's database work, claim_due(limit={batch}) with {args.tasks:,} due "
            f"({args.ticks} rounds of each, alternating; on the worker unless 'awaited')",
            ["measure", "p50 ms", "p95 ms", "max ms"],
            [[name, *_ms3(times[name])] for name in scale_rounds.MEASURES],
        )
    if m.profile:
        print(f"\nProfile of 5 rounds of each variant, batch {args.batch} (pyinstrument):\n")
        print(m.profile)
    print_table(
        f"Poller.tick() back to back ({args.ticks} ticks, real HTTP to the emulator)",
        ["measure", "p50", "p95", "p99", "max"],
        [
            ["tick wall time (ms)", *_ms4(m.tick_times)],
            [f"loop lag during ticks (ms, {len(m.lags):,} samples)", *_ms4(m.lags)],
            [f"loop lag idle (ms, {len(m.idle_lags):,} samples)", *_ms4(m.idle_lags)],
        ],
    )
    capacity_table(args, config, m)
    print_table(
        "Memory (this process: the bot's imports, the store, the poller, httpx)",
        ["measure", "MB"],
        [
            ["RSS after the imports, before any task (baseline)", f"{IMPORTS_RSS_MB:.0f}"],
            [f"peak RSS with {args.tasks:,} in flight", f"{peak_rss_mb():.0f}"],
            ["peak minus baseline", f"{peak_rss_mb() - IMPORTS_RSS_MB:.0f}"],
        ],
    )
    targets_table(args, m)


def capacity_table(args: argparse.Namespace, config: Config, m: Measured) -> None:
    settings = config.poller
    tick_s = poller_setting(settings, "tick_seconds")
    per_round = settings.max_tasks_per_round
    rate = settings.max_requests_per_second
    max_interval = poller_setting(settings, "max_interval_seconds")
    sustained = m.polled / sum(m.tick_times) if m.tick_times else 0.0
    achieved = m.paced_polled / m.paced_seconds if m.paced_seconds else 0.0
    rows = [
        ["polls/s, ticks back to back (what the process sustains)", f"{sustained:.0f}"],
        [
            f"polls/s, ticks every {tick_s:g} s for {m.paced_seconds:.0f} s "
            "(what this config achieves)",
            f"{achieved:.0f}",
        ],
        [
            f"tasks/s the config allows: {per_round} per {tick_s:g} s round, "
            f"{rate:g} requests/s x {LIST_PAGE} per list page (configured bound)",
            f"{min(per_round / tick_s, rate * LIST_PAGE):.0f}",
        ],
        [
            f"demand: {args.tasks:,} tasks at most {max_interval:g} s apart (polls/s)",
            f"{args.tasks / max_interval:.0f}",
        ],
        [
            f"time to poll all {args.tasks:,} once at the achieved rate (s)",
            f"{args.tasks / achieved:.0f}" if achieved else "-",
        ],
        [
            "upstream requests (retrieve / list pages / content)",
            f"{m.counts.get('retrieve', 0):,} / {m.counts.get('list', 0):,} / "
            f"{m.counts.get('content', 0):,}",
        ],
        ["tasks still active at the end", f"{m.still_active:,}"],
    ]
    print_table("Poll capacity", ["measure", "value"], rows)


def targets_table(args: argparse.Namespace, m: Measured) -> None:
    today = scale_rounds.MEASURES[3]
    figures = {
        "tick_db": percentile(m.rounds[args.batch][today], 95),
        "loop_lag_p99": percentile(m.lags, 99),
        "rss_mb": peak_rss_mb(),
        "resume": m.steps["resume total"],
    }
    names = {
        "tick_db": f"round DB work p95, {args.batch} polls as the poller writes them today (ms)",
        "loop_lag_p99": "loop lag p99 during ticks (ms)",
        "rss_mb": "peak RSS (MB)",
        "resume": "resume (ms)",
    }
    rows = []
    for key, value in figures.items():
        shown = (f"{value:.0f}", f"{TARGETS[key]:.0f}") if key == "rss_mb" else (
            ms(value), ms(TARGETS[key])
        )  # fmt: skip
        ratio = value / TARGETS[key]
        rows.append([names[key], *shown, f"{ratio:.3f}", verdict(ratio <= 1)])
    print_table("Targets", ["figure", "measured", "target", "ratio", "verdict"], rows)
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
    defaults = PollerConfig()
    parser.add_argument("--tasks", type=int, default=10_000, help="in-flight tasks")
    parser.add_argument(
        "--batch", type=int, default=poller_setting(defaults, "batch_size"), help="poller batch"
    )
    parser.add_argument(
        "--big-batch", type=int, default=500, help="a bigger round, for its DB work only"
    )
    parser.add_argument("--concurrency", type=int, default=poller_setting(defaults, "concurrency"))
    parser.add_argument("--ticks", type=int, default=20, help="ticks/rounds per measurement")
    parser.add_argument(
        "--paced-seconds", type=float, default=10.0, help="how long ticks run at the tick rate"
    )
    parser.add_argument("--profile", action="store_true", help="profile a round's DB work")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    quiet_logging()
    print_header("bench.scale", vars(args))
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
