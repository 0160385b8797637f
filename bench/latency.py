"""Interaction latency: from the emulator dispatching an interaction to the bot's first response.

The real bot (``SoraBot``: discord.py, APScheduler poller, httpx, SQLite worker thread)
runs in ``BotHarness`` against the bundled Discord emulator (gateway websocket + REST)
and Videos API emulator, over loopback. The figure is ``FakeInteraction.responded_after``:
the emulator starts the clock when it builds the INTERACTION_CREATE it sends over the
gateway and stops it when the bot's callback (defer, modal, autocomplete result) arrives.

Load while measuring:

* 10,000 in-flight tasks in the database, seeded through ``TaskStore`` (create_task,
  set_card_message, mark_submitted) while the bot is stopped, all overdue for a poll (as
  after ten minutes of downtime); the emulator knows every job (registered directly
  in ``FakeUpstream.jobs``, an hour long, started ten minutes ago), so every poll is a
  real HTTP round trip that finds a job in progress, and the bot edits its status card;
* the poller with the production settings (``PollerConfig()``: tick 2 s, batch 50,
  concurrency 8) polling that backlog at full capacity during the whole run;
* quotas enabled (generous values) so every command runs its real quota queries over
  the guild's 10,000+ rows of today;
* 1,050 completed videos as history: 50 of them are posted by the poller after the
  restart (real result posts with Remix buttons, used for the button clicks).

Each round sends 50 interactions of one kind at once (50 members), waits until all are
answered and their cards shown, then pauses 0.2-1.9 s (``--pause``) so rounds land at different
phases of the poller tick. Kinds: ``/sora``; the ``/remix`` autocomplete of
``video_id``; ``/remix``; the Remix button (answered with a modal); the modal's submit.

Caveat: the emulators share the bot's process and event loop, so their CPU time is
inside the figures (an over-estimate of the bot's own latency), while a real
deployment adds the network round trip to Discord, which loopback does not have.

    python -m bench.latency                 # 5 rounds of 50 per kind
    python -m bench.latency --tasks 200 --rounds 1 --burst 5   # a quick look

Last line: the worst kind's p99 over Discord's 3,000 ms deadline (target p99 <= 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import os
import random
import resource
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.chaos_world import ProcessWorld
from bench.common import (
    LoopLagSampler,
    SteppingClock,
    add_upstream_job,
    ms,
    percentile,
    print_header,
    print_ratio,
    print_table,
    quiet_logging,
    seed_in_flight,
    spread_over,
    verdict,
)
from bot.config import Config, LimitsConfig, PollerConfig
from bot.core.clock import utc_now
from bot.emulators.fake_discord import FakeDiscord, FakeInteraction, FakeMessage, FakeUser
from bot.emulators.fake_discord.contract import load_contract
from bot.emulators.harness import BOT_TOKEN, BotHarness
from bot.storage.store import TaskStore, open_database

DEADLINE_S = 3.0
#: The index migration m002 added after this benchmark found the budget sum slow.
COVERING_INDEX = "idx_tasks_guild_created"
TARGET_P99_S = 0.100
#: Quotas on (every command runs its quota queries) with room for the benchmark's own
#: submissions: 50 members send 15 videos each, a guild sends 750 on top of its backlog.
GENEROUS_LIMITS = LimitsConfig(
    max_concurrent_per_user=1_000, daily_seconds_per_user=100_000, daily_budget=100_000.0
)
PROMPT_WORDS = ("lighthouse", "harbour", "fox", "neon", "paper boat", "desert", "glacier")
KINDS = ("/sora", "/remix autocomplete", "/remix", "Remix button (modal)", "modal submit")
#: The initial response each kind must get (callback type), to be sure the real path ran.
EXPECTED_TYPE = {
    "/sora": 5,
    "/remix autocomplete": 8,
    "/remix": 5,
    "Remix button (modal)": 9,
    "modal submit": 5,
}


def production_config(config: Config) -> Config:
    """The harness config with the production poller settings and quotas switched on."""
    return dataclasses.replace(config, poller=PollerConfig(), limits=GENEROUS_LIMITS)


def emulator_without_contract_checks(tmp: Path) -> FakeDiscord:
    """The Discord emulator without its OpenAPI checks of every request and response.

    The checks (jsonschema, in this process and loop) cost the emulator up to ~15 ms per
    request, and they run before it records the response time: with 50 answers arriving
    together they would add the emulator's own validation queue to the bot's figure.
    The test suite keeps them on; ``--contract`` keeps them on here too.
    """
    logger = logging.getLogger(load_contract.__module__)
    level = logger.level
    logger.setLevel(logging.ERROR)  # "spec not found" is the point here
    try:
        return FakeDiscord(bot_token=BOT_TOKEN, contract_path=str(tmp / "no-contract.json"))
    finally:
        logger.setLevel(level)


def seed(
    h: BotHarness | ProcessWorld, users: list[FakeUser], args: argparse.Namespace
) -> list[str]:
    """While the bot is stopped: in-flight tasks and history; returns the ids to be posted."""
    assert h.config is not None
    rng = random.Random(args.seed)
    db = open_database(h.config.storage.database)
    store = TaskStore(db)
    user_ids = [u.id for u in users] + [h.alice.id, h.bob.id]
    now = utc_now()
    in_flight = []
    shares = _shares(args.tasks, args.guilds)
    for g, share in enumerate(shares):  # guild 0 is the one the commands come from
        in_flight += seed_in_flight(
            db,
            store,
            count=share,
            guild_id=h.guild.id if g == 0 else h.guild.id + g,
            channel_id=h.channel.id if g == 0 else h.channel.id + g,
            user_ids=user_ids,
            next_poll_at=spread_over(now - timedelta(seconds=600), 599, share),
            rng=rng,
        )
    for item in in_flight:
        add_upstream_job(h.upstream, item.upstream_id, duration=3600, started_ago=600)
    # History was made over the past weeks, not today: the clock moves on at every read
    # (a task reads it about six times), so it stays in the past.
    count = args.history + args.burst
    clock = SteppingClock(now - timedelta(days=30), 30 * 86400 / (8 * count))
    history_store = TaskStore(db, clock=clock)
    history = seed_in_flight(
        db,
        history_store,
        count=count,
        guild_id=h.guild.id,
        channel_id=h.channel.id,
        user_ids=user_ids,
        next_poll_at=lambda i: now,
        rng=rng,
        card_ids=False,
    )
    to_post = []
    with db.atomic():
        for i, item in enumerate(history):
            prompt = f"{rng.choice(PROMPT_WORDS)} at dusk, take {i}"
            add_upstream_job(
                h.upstream, item.upstream_id, duration=60, completed=True, prompt=prompt
            )
            history_store.complete(item.task_id)
            if i < args.burst:
                to_post.append(item.task_id)  # the poller posts these after the restart
            else:
                history_store.mark_delivering(item.task_id)
                history_store.mark_delivered(
                    item.task_id, message_id=10**15 + i, attached=True, result_bytes=4096
                )
    if args.without_index:
        db.execute(f"DROP INDEX {COVERING_INDEX}")  # m002 stays recorded: not re-created
    db.close()
    return to_post


def _shares(total: int, guilds: int) -> list[int]:
    """``total`` tasks split over ``guilds`` guilds as evenly as possible."""
    base, extra = divmod(total, guilds)
    return [base + (1 if g < extra else 0) for g in range(guilds)]


async def fire(
    make: Callable[[int], Awaitable[FakeInteraction]], count: int
) -> list[FakeInteraction]:
    """Dispatch ``count`` interactions at once and wait until each is answered (or failed)."""
    interactions = await asyncio.gather(*(make(i) for i in range(count)))
    await asyncio.gather(*(ix.settled(timeout=10) for ix in interactions))
    return list(interactions)


async def autocomplete_burst(
    h: BotHarness | ProcessWorld, users: list[FakeUser], count: int, prefixes: list[str]
) -> list[FakeInteraction]:
    """``count`` autocompletes at once; their interactions, read back from the emulator."""
    before = len(h.discord.interactions)
    await asyncio.gather(
        *(
            h.discord.autocomplete(
                users[i],
                h.channel,
                "remix",
                {"video_id": prefixes[i % len(prefixes)]},
                focused="video_id",
                timeout=10,
            )
            for i in range(count)
        )
    )
    return h.discord.interactions[before:]


async def shown(interactions: list[FakeInteraction]) -> None:
    """Wait until every command's card (or error) is on screen, so rounds do not overlap."""
    await asyncio.gather(*(ix.original_message(timeout=30) for ix in interactions))


class CpuMeter:
    """CPU seconds used so far by this process and (when it is separate) the bot's."""

    def __init__(self, bot_pid: int | None) -> None:
        self.bot_pid = bot_pid
        self.ticks = os.sysconf("SC_CLK_TCK")

    def read(self) -> tuple[float, float]:
        """(bot process, this process); the first is NaN when the bot runs in this one."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        here = usage.ru_utime + usage.ru_stime
        if self.bot_pid is None:
            return float("nan"), here
        fields = Path(f"/proc/{self.bot_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.ticks, here


async def measure(
    h: BotHarness | ProcessWorld,
    users: list[FakeUser],
    results: list[FakeMessage],
    args: argparse.Namespace,
    cpu: CpuMeter,
) -> tuple[dict[str, list[FakeInteraction]], dict[str, tuple[float, float]]]:
    """Run every kind for ``args.rounds`` rounds of ``args.burst`` at once.

    Returns the interactions per kind and the CPU seconds (bot, this process) each kind
    used from its bursts' dispatch until their cards were shown.
    """
    rng = random.Random(args.seed + 1)
    parents = [_video_id(m) for m in results]
    prefixes = ["", *(p[:2] for p in parents[:5]), "fox", "neon"]
    out: dict[str, list[FakeInteraction]] = {kind: [] for kind in KINDS}
    used = dict.fromkeys(KINDS, (0.0, 0.0))
    n = args.burst
    clicks: list[FakeInteraction] = []

    def sora(i: int, r: int) -> Awaitable[FakeInteraction]:
        prompt = f"a {rng.choice(PROMPT_WORDS)} {r}.{i}"
        return h.discord.slash(users[i], h.channel, "sora", {"prompt": prompt})

    def remix(i: int, r: int) -> Awaitable[FakeInteraction]:
        options = {"video_id": parents[i % len(parents)], "prompt": f"now at night {r}.{i}"}
        return h.discord.slash(users[i], h.channel, "remix", options)

    def click(i: int, r: int) -> Awaitable[FakeInteraction]:
        custom_id = f"sora:remix:{parents[i % len(parents)]}"
        return h.discord.click(users[i], results[i % len(results)], custom_id)

    def submit(i: int, r: int) -> Awaitable[FakeInteraction]:
        values = {"remix_prompt": f"in the rain {r}.{i}"}
        return h.discord.submit_modal(users[i], h.channel, _modal_id(clicks[i]), values)

    makers = {"/sora": sora, "/remix": remix, "Remix button (modal)": click, "modal submit": submit}
    for r in range(args.rounds):
        for kind in KINDS:
            before = cpu.read()
            if kind == "/remix autocomplete":
                batch = await autocomplete_burst(h, users, n, prefixes)
            else:
                batch = await fire(lambda i, make=makers[kind], r=r: make(i, r), n)
            if EXPECTED_TYPE[kind] == 5:
                await shown(batch)
            after = cpu.read()
            used[kind] = tuple(u + a - b for u, a, b in zip(used[kind], after, before, strict=True))
            if kind == "Remix button (modal)":
                clicks = batch
            out[kind] += batch
            await asyncio.sleep(rng.uniform(0.2, args.pause))
    return out, used


def _modal_id(ix: FakeInteraction) -> str:
    modal: dict[str, Any] | None = ix.modal
    if modal is None:
        raise RuntimeError(f"the Remix button was not answered with a modal: {ix.response}")
    return str(modal["custom_id"])


def _video_id(message: FakeMessage) -> str:
    for row in message.components:
        for component in row.get("components", []):
            custom_id = component.get("custom_id", "")
            if custom_id.startswith("sora:remix:"):
                return custom_id.removeprefix("sora:remix:")
    raise RuntimeError(f"message {message.id} has no Remix button")


class Scene:
    """The bot and both emulators, in one of two arrangements (``--bot``).

    ``process``: ``ProcessWorld`` — the emulators and this driver in this process, the bot
    as ``python -m bot run`` in its own process, as in production (INFO logging to a
    file). ``inprocess``: ``BotHarness`` — the bot in this process and event loop too.
    Either way the database is seeded while the bot is not running.
    """

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.world: BotHarness | ProcessWorld
        if args.bot == "inprocess":
            self.world = BotHarness(tmp, job_seconds=120.0, configure=production_config)
        else:
            self.world = ProcessWorld(
                tmp, job_seconds=120.0, poller=PollerConfig(), configure=production_config
            )
        if not args.contract:
            self.world.discord = emulator_without_contract_checks(tmp)

    async def __aenter__(self) -> BotHarness | ProcessWorld:
        await self.world.__aenter__()
        if isinstance(self.world, BotHarness):
            await self.world.stop_bot()  # seeded while stopped, then started again
        return self.world

    async def __aexit__(self, *exc_info: object) -> None:
        await self.world.__aexit__(*exc_info)

    async def start_bot(self) -> None:
        await self.world.start_bot()

    async def active_count(self) -> int:
        assert self.world.config is not None
        return await asyncio.to_thread(_active_count, self.world.config.storage.database)


def _active_count(path: Path) -> int:
    db = open_database(path)
    try:
        return TaskStore(db).active_count()
    finally:
        db.close()


async def run(args: argparse.Namespace, tmp: Path) -> None:
    scene = Scene(args, tmp)
    async with scene as h:
        users = [h.discord.add_member(h.guild, f"member{i:02d}") for i in range(args.burst)]
        started = time.perf_counter()
        to_post = seed(h, users, args)
        seeded_in = time.perf_counter() - started
        if args.bot == "process":
            gc.collect()
            gc.freeze()  # the emulators' 11,000 seeded jobs need no more GC passes here
        await scene.start_bot()
        bot_user = h.discord.bot_user_id

        def posted() -> list[FakeMessage]:
            return [
                m
                for m in h.discord.channel_messages(h.channel)
                if m.author_id == bot_user and m.interaction_id is None and m.components
            ]

        await h.discord.wait_until(lambda: len(posted()) >= len(to_post), timeout=60)
        results = posted()[: args.burst]
        active = await scene.active_count()

        polls_before = h.upstream.count("retrieve")
        sampler = LoopLagSampler()
        sampler.start()
        window = time.perf_counter()
        bot_pid = h.bot.pid if isinstance(h, ProcessWorld) and h.bot is not None else None
        interactions, cpu_used = await measure(h, users, results, args, CpuMeter(bot_pid))
        window = time.perf_counter() - window
        lags = await sampler.stop()
        polls = h.upstream.count("retrieve") - polls_before
        violations = list(h.discord.contract_violations)

    print(
        f"seeded {args.tasks:,} in-flight + {args.history + args.burst:,} completed tasks in "
        f"{seeded_in:.1f} s; {active:,} active when measuring; the poller made {polls:,} "
        f"status polls ({polls / window:.0f}/s) during the {window:.0f} s of measurement"
    )
    rows, worst_p99, everything = [], 0.0, []
    for kind in KINDS:
        ixs = interactions[kind]
        times = [ix.responded_after for ix in ixs if ix.responded_after is not None]
        failed = sum(1 for ix in ixs if ix.failed or not ix.responded)
        wrong = sum(1 for ix in ixs if ix.response_type != EXPECTED_TYPE[kind] or ix.is_ephemeral)
        everything += times
        p99 = percentile(times, 99)
        worst_p99 = max(worst_p99, p99)
        rows.append(
            [
                kind,
                len(ixs),
                *(ms(percentile(times, p)) for p in (50, 95, 99)),
                ms(max(times)),
                failed,
                wrong,
                verdict(p99 <= TARGET_P99_S and not failed),
            ]
        )
    rows.append(
        [
            "all",
            len(everything),
            *(ms(percentile(everything, p)) for p in (50, 95, 99)),
            ms(max(everything)),
            "",
            "",
            "",
        ]
    )
    print_table(
        f"First-response latency, {args.burst} interactions at once, {args.rounds} rounds per kind",
        [
            "interaction",
            "n",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "unanswered",
            "unexpected",
            "p99 <= 100 ms",
        ],
        rows,
    )
    print_table(
        "CPU per interaction, from dispatch until its card is shown (all processes share 2 cores)",
        [
            "interaction",
            "bot process ms",
            "this process ms (emulators + driver" + (" + bot)" if args.bot == "inprocess" else ")"),
        ],
        [
            [kind, _cpu_ms(bot, len(interactions[kind])), _cpu_ms(here, len(interactions[kind]))]
            for kind, (bot, here) in cpu_used.items()
        ],
    )
    print_table(
        f"Event loop of this process (emulators + driver{' + bot' if args.bot == 'inprocess' else ''})",
        ["measure", "p50 ms", "p99 ms", "max ms"],
        [
            [
                "loop lag (asyncio.sleep(0.001) drift)",
                *(ms(percentile(lags, p)) for p in (50, 99)),
                ms(max(lags)),
            ]
        ],
    )
    if violations:
        print(f"contract violations: {violations[:5]}")
    print_ratio(
        "worst_p99_over_deadline",
        worst_p99 / DEADLINE_S,
        f"worst kind's p99 {worst_p99 * 1000:.1f} ms vs Discord's {DEADLINE_S * 1000:.0f} ms; "
        f"target p99 <= {TARGET_P99_S * 1000:.0f} ms: {verdict(worst_p99 <= TARGET_P99_S)}",
    )


def _cpu_ms(seconds: float, count: int) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000 / max(count, 1):.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.latency", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--tasks", type=int, default=10_000, help="in-flight tasks in the DB")
    parser.add_argument(
        "--history", type=int, default=1_000, help="completed tasks besides the posted ones"
    )
    parser.add_argument("--burst", type=int, default=50, help="interactions sent at once")
    parser.add_argument("--rounds", type=int, default=5, help="bursts per kind")
    parser.add_argument(
        "--guilds",
        type=int,
        default=200,
        help="spread the in-flight tasks over this many guilds (1: all in the measured one)",
    )
    parser.add_argument(
        "--bot",
        choices=("process", "inprocess"),
        default="process",
        help="the bot in its own process (as deployed) or in this event loop (BotHarness)",
    )
    parser.add_argument(
        "--without-index",
        action="store_true",
        help=f"drop {COVERING_INDEX} after seeding: the figures from before migration m002",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=1.9,
        help="longest pause between bursts, s (pauses are 0.2 s to this, random)",
    )
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--contract",
        action="store_true",
        help="keep the Discord emulator's OpenAPI checks on (adds their cost to every figure)",
    )
    args = parser.parse_args(argv)
    quiet_logging()
    print_header("bench.latency", vars(args))
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
