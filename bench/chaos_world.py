"""The bot as a real subprocess against the in-process emulators, and the crash-restart chaos run.

``ProcessWorld`` starts the Videos API and Discord emulators in this event loop, writes a
``config.toml`` for them, and runs ``python -m bot`` as a child process (the production entry
point, unchanged) with the secrets and the database path in its environment. The child can be
SIGKILLed (a crash: nothing is flushed, no handler runs) or SIGTERMed (a graceful stop) and
started again on the same database.

``run_chaos`` drives a world like a busy channel: members submit ``/sora`` and ``/remix``
through the emulator while the bot is killed at random moments — some right after the emulator
receives a result post, i.e. between the post and its bookkeeping — and restarted each time.
At the end it checks the guarantees the README makes:

* every task is terminal and owes no post;
* every completed video was posted exactly once, as a reply to the right message (its card for
  ``/sora``; the parent's result for a remix);
* no task was lost: every command that showed a card has its row;
* no create or remix was sent upstream twice for one task.

It also counts what a crash may legitimately leave behind: submissions interrupted between the
row and the upstream's answer (failed on restart, never re-sent), upstream jobs whose id we
never stored (paid for, not a double create) and commands cut off before any row existed.

``python bench/chaos.py`` runs it from the command line; ``tests/test_chaos.py`` runs a small
variant in the default suite and the full one under ``-m slow``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import re
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Config, PollerConfig, Secret
from bot.core.models import DeliveryState, TaskStatus, VideoTask
from bot.discord_ui.render import footer_marker
from bot.emulators.fake_discord import FakeDiscord, FakeInteraction, FakeMessage, FakeUser
from bot.emulators.fake_upstream import FakeUpstream, parse_multipart
from bot.emulators.harness import API_KEY, BOT_TOKEN, FAST_POLLER, harness_config
from bot.storage.store import TaskStore, open_database

log = logging.getLogger(__name__)

FOOTER_PREFIX = footer_marker("")
CARD_ID = re.compile(r"`([a-z0-9]{6,8})`")
#: Delivery states after which nothing more is owed to the channel.
SETTLED_DELIVERY = frozenset(
    {DeliveryState.DELIVERED, DeliveryState.UNDELIVERABLE, DeliveryState.NONE}
)


# --- config -------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string is a JSON string


def config_toml(config: Config) -> str:
    """``config`` as the TOML file ``load_config`` reads back (secrets are never written)."""
    lines: list[str] = []
    for section in dataclasses.fields(config):
        value = getattr(config, section.name)
        if section.name == "source" or value is None:
            continue
        lines.append(f"[{section.name}]")
        if isinstance(value, dict):
            lines.extend(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        else:
            for item in dataclasses.fields(value):
                entry = getattr(value, item.name)
                if not isinstance(entry, Secret):
                    lines.append(f"{item.name} = {_toml_value(entry)}")
        lines.append("")
    return "\n".join(lines)


# --- the bot process -----------------------------------------------------------------------


class BotProcess:
    """``python -m bot run --config PATH`` as a child process; output goes to ``log_path``."""

    def __init__(
        self,
        config_path: Path,
        env: dict[str, str],
        log_path: Path,
        command: tuple[str, ...] = ("bot", "run"),
        cwd: Path | None = None,
    ) -> None:
        self.config_path = config_path
        #: ``python -m <command...> --config PATH``; ``bench.latency`` runs its baseline bot.
        self.command = command
        #: ``python -m`` imports from the working directory first (another checkout's code).
        self.cwd = cwd
        self.env = env
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def running(self) -> bool:
        """Whether a child is alive."""
        return self.process is not None and self.process.returncode is None

    @property
    def pid(self) -> int | None:
        """The child's process id."""
        return None if self.process is None else self.process.pid

    async def start(self) -> None:
        """Spawn the bot (it appends to ``log_path``)."""
        if self.running:
            raise RuntimeError("the bot process is already running")
        self.starts += 1
        with self.log_path.open("ab") as log_file:
            log_file.write(f"\n=== start {self.starts} ===\n".encode())
            log_file.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                *self.command,
                "--config",
                str(self.config_path),
                env=self.env,
                cwd=self.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
            )

    async def kill(self) -> int:
        """SIGKILL: a crash. Returns the exit status once the child is gone."""
        return await self._signal(signal.SIGKILL, timeout=10.0)

    async def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM: a graceful stop. Returns the exit code (raises if it does not exit)."""
        return await self._signal(signal.SIGTERM, timeout=timeout)

    async def _signal(self, sig: signal.Signals, *, timeout: float) -> int:
        process = self.process
        if process is None:
            raise RuntimeError("the bot process was never started")
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
        return await asyncio.wait_for(process.wait(), timeout)

    def log_text(self) -> str:
        """Everything the child wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# --- the world -----------------------------------------------------------------------------


class ProcessWorld:
    """Emulators in this loop, the bot in a child process, one SQLite file shared over restarts.

    Use ``async with ProcessWorld(workdir) as w: await w.start_bot(); ...``.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        job_seconds: float = 1.5,
        poller: PollerConfig = FAST_POLLER,
        upstream_options: dict[str, Any] | None = None,
        discord_token: str = BOT_TOKEN,
        api_key: str = API_KEY,
        log_level: str = "INFO",
        configure: Callable[[Config], Config] | None = None,
        discord_clock: Callable[[], float] | None = None,
    ) -> None:
        self.workdir = workdir
        self.upstream = FakeUpstream(
            api_key=api_key, job_seconds=job_seconds, **(upstream_options or {})
        )
        self.discord = FakeDiscord(clock=discord_clock, bot_token=discord_token)
        self.discord_token = discord_token
        self.api_key = api_key
        self.poller = poller
        self.log_level = log_level
        self.configure = configure
        self.db_path = workdir / "bot.db"
        self.config: Config | None = None
        self.bot: BotProcess | None = None

    async def __aenter__(self) -> ProcessWorld:
        self.workdir.mkdir(parents=True, exist_ok=True)
        await self.upstream.start()
        await self.discord.start()
        self.guild = self.discord.add_guild("Chaos Team")
        self.channel = self.discord.add_channel(self.guild, "videos")
        self.alice = self.discord.add_member(self.guild, "alice")
        self.bob = self.discord.add_member(self.guild, "bob")
        self.members: list[FakeUser] = [self.alice, self.bob]
        config = harness_config(
            self.workdir, upstream_base=self.upstream.base_url, discord=self.discord
        )
        config = dataclasses.replace(
            config,
            poller=self.poller,
            logging=dataclasses.replace(config.logging, level=self.log_level),
        )
        self.config = self.configure(config) if self.configure else config
        config_path = self.workdir / "config.toml"
        config_path.write_text(config_toml(self.config))
        self.bot = BotProcess(config_path, self.env(), self.workdir / "bot.log")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.bot is not None and self.bot.running:
            await self.bot.kill()
        await self.discord.stop()
        await self.upstream.stop()

    def env(self) -> dict[str, str]:
        """The child's environment: secrets and paths only through variables, as in production."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SORA_", "DISCORD_")) and k != "PYTHONASYNCIODEBUG"
        }
        env.update(
            DISCORD_TOKEN=self.discord_token,
            SORA_API_KEY=self.api_key,
            SORA_API_BASE=self.upstream.base_url,
            SORA_BOT_DB=str(self.db_path),
            PYTHONUNBUFFERED="1",
        )
        return env

    async def start_bot(self, timeout: float = 30.0) -> None:
        """Start the child and wait until it identified on the gateway and has its commands."""
        assert self.bot is not None
        identifies = self.discord.gateway_stats["identify"]
        await self.bot.start()
        deadline = time.monotonic() + timeout
        while not self._ready_since(identifies):
            if not self.bot.running:
                raise RuntimeError(
                    f"the bot exited during start-up:\n{self.bot.log_text()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the bot was not ready in {timeout:g}s:\n{self.bot.log_text()[-3000:]}"
                )
            await asyncio.sleep(0.02)

    def _ready_since(self, identifies: int) -> bool:
        return (
            self.discord.gateway_stats["identify"] > identifies
            and self.discord.bot_connected
            and any(c["name"] == "sora" for c in self.discord.registered_commands)
        )

    async def kill_bot(self) -> None:
        """Crash the bot (SIGKILL) and wait until the emulator saw the connection drop."""
        assert self.bot is not None
        await self.bot.kill()
        with contextlib.suppress(TimeoutError):
            await self.discord.wait_until(lambda: not self.discord.bot_connected, timeout=5)

    async def restart_bot(self) -> None:
        """Kill the bot and start a new process on the same database."""
        await self.kill_bot()
        await self.start_bot()

    async def tasks(self) -> list[VideoTask]:
        """Every task in the database (read through a separate connection)."""
        return await asyncio.to_thread(read_tasks, self.db_path, self.guild.id)

    def bot_posts(self) -> list[FakeMessage]:
        """The bot's own channel posts (results and failure notices), oldest first."""
        return [
            m
            for m in self.discord.channel_messages(self.channel, include_deleted=True)
            if m.author_id == self.discord.bot_user_id
            and m.interaction_id is None
            and task_marker(m) is not None
        ]


def read_tasks(db_path: Path, guild_id: int) -> list[VideoTask]:
    """All of a guild's tasks, oldest first, through a fresh connection."""
    db = open_database(db_path)
    try:
        return list(reversed(TaskStore(db).guild_history(guild_id, limit=1_000_000)))
    finally:
        db.close()


def integrity_check(db_path: Path) -> str:
    """SQLite's own verdict on the file (``"ok"`` when consistent)."""
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def task_marker(message: FakeMessage) -> str | None:
    """The task id in a post's embed footer (``sora-bot · k7q2mx``), if it carries one."""
    for embed in message.embeds:
        text = (embed.get("footer") or {}).get("text") or ""
        if text.startswith(FOOTER_PREFIX):
            return text.removeprefix(FOOTER_PREFIX)
    return None


def card_video_id(message: FakeMessage | None) -> str | None:
    """Our video id on a status card (a finished, public interaction response)."""
    if message is None or message.loading or message.ephemeral or not message.embeds:
        return None
    match = CARD_ID.search(message.embeds[0].get("title") or "")
    return match.group(1) if match else None


# --- the chaos run -------------------------------------------------------------------------


@dataclass
class Submission:
    """One command a member ran, and what they saw."""

    index: int
    kind: str  # "sora" or "remix"
    prompt: str
    parent_id: str | None = None
    interaction: FakeInteraction | None = None
    video_id: str | None = None  # from the card, when one was shown
    outcome: str = "pending"  # card | placeholder | refused | unanswered | not_sent


@dataclass
class ChaosReport:
    """What a chaos run did and found. ``problems`` is empty when every guarantee held."""

    tasks_requested: int = 0
    sora: int = 0
    remixes: int = 0
    kills: int = 0
    kills_after_result_post: int = 0
    restarts: int = 0
    cards: int = 0
    rows: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    delivery_states: dict[str, int] = field(default_factory=dict)
    posts: int = 0
    results_posted: int = 0
    failure_notices: int = 0
    found_after_crash: int = 0
    submissions_interrupted: int = 0
    orphan_upstream_jobs: int = 0
    cut_before_row: int = 0
    commands_unanswered: int = 0
    commands_refused: int = 0
    upstream_creates: int = 0
    upstream_remixes: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The counts, one per line, for printing."""
        return [
            f"commands sent:          {self.tasks_requested} ({self.sora} /sora, {self.remixes} /remix)",
            f"bot SIGKILLed:          {self.kills} ({self.kills_after_result_post} right after a result post); restarts {self.restarts}",
            f"cards shown:            {self.cards}; task rows {self.rows}",
            f"statuses:               {_fmt(self.statuses)}",
            f"delivery states:        {_fmt(self.delivery_states)}",
            f"posts:                  {self.posts} ({self.results_posted} results, {self.failure_notices} failure notices)",
            f"earlier posts found after a crash (not re-posted): {self.found_after_crash}",
            f"submissions interrupted (failed on restart, never re-sent): {self.submissions_interrupted}",
            f"orphan upstream jobs (created, id never stored; no double create): {self.orphan_upstream_jobs}",
            f"commands cut off before a row existed (nothing charged): {self.cut_before_row}",
            f"commands the dead bot never answered: {self.commands_unanswered}; refused: {self.commands_refused}",
            f"upstream creates:       {self.upstream_creates}; remixes {self.upstream_remixes}",
            f"duration:               {self.seconds:.1f}s",
            "problems:               " + ("none" if not self.problems else ""),
            *(f"  - {p}" for p in self.problems),
        ]


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "-"


class ChaosRun:
    """Submits ``tasks`` commands while killing the bot ``kills`` times, then checks."""

    def __init__(
        self,
        world: ProcessWorld,
        *,
        tasks: int,
        kills: int,
        seed: int,
        remix_share: float = 0.35,
        concurrency: int = 4,
        mean_gap: float = 0.15,
        settle_timeout: float = 240.0,
    ) -> None:
        self.world = world
        self.total = tasks
        self.kills = kills
        self.rng = random.Random(seed)
        self.remix_share = remix_share
        self.concurrency = concurrency
        self.mean_gap = mean_gap
        self.settle_timeout = settle_timeout
        self.submissions: list[Submission] = []
        self.report = ChaosReport()
        self._inflight: set[asyncio.Task[None]] = set()
        self._bot_up = asyncio.Event()

    async def run(self) -> ChaosReport:
        """The whole run: start, submit while killing, settle, check."""
        started = time.monotonic()
        await self.world.start_bot()
        self._bot_up.set()
        killer = asyncio.create_task(self._killer(), name="chaos-killer")
        try:
            await self._submit_all()
            await killer
        finally:
            killer.cancel()
        if not self.world.bot.running:
            await self._restart()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        await self._settle()
        await self._check()
        self.report.seconds = time.monotonic() - started
        return self.report

    # --- driving -----------------------------------------------------------------------

    async def _submit_all(self) -> None:
        for index in range(self.total):
            await self._bot_up.wait()
            while len(self._inflight) >= self.concurrency:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
            submission = self._next_submission(index)
            self.submissions.append(submission)
            job = asyncio.create_task(self._submit(submission), name=f"chaos-submit-{index}")
            self._inflight.add(job)
            job.add_done_callback(self._inflight.discard)
            await asyncio.sleep(self.rng.uniform(0.0, 2 * self.mean_gap))

    def _next_submission(self, index: int) -> Submission:
        parents = self._remixable()
        if parents and self.rng.random() < self.remix_share:
            parent = self.rng.choice(parents)
            return Submission(index, "remix", f"chaos {index} remix of {parent}", parent_id=parent)
        return Submission(index, "sora", f"chaos {index} a paper boat, take {index}")

    def _remixable(self) -> list[str]:
        """Videos whose result post a member can see (so they would click Remix under it)."""
        return sorted(
            {
                marker
                for m in self.world.bot_posts()
                if not m.deleted and m.attachments and (marker := task_marker(m))
            }
        )

    async def _submit(self, sub: Submission) -> None:
        world = self.world
        user = self.rng.choice(world.members)
        options: dict[str, Any] = {"prompt": sub.prompt}
        if sub.kind == "remix":
            options["video_id"] = sub.parent_id
        try:
            sub.interaction = await world.discord.slash(user, world.channel, sub.kind, options)
        except RuntimeError:  # the bot died between our check and the dispatch
            sub.outcome = "not_sent"
            return
        with contextlib.suppress(AssertionError, TimeoutError):
            await sub.interaction.original_message(timeout=10)

    async def _killer(self) -> None:
        """Kill the bot ``kills`` times: in turn right after a result post, right after a
        command was dispatched (mid-submission), and at a random moment."""
        modes = (self._kill_after_result_post, self._kill_during_submission, self._kill_randomly)
        for number in range(self.kills):
            await asyncio.sleep(self.rng.uniform(0.2, 1.5))
            await modes[number % len(modes)]()
            await asyncio.sleep(self.rng.uniform(0.0, 0.5))
            await self._restart()

    async def _kill_after_result_post(self) -> None:
        seen = {m.id for m in self.world.bot_posts()}
        try:
            await self.world.discord.wait_for_message(
                lambda m: (
                    m.id not in seen
                    and m.author_id == self.world.discord.bot_user_id
                    and m.interaction_id is None
                    and task_marker(m) is not None
                ),
                timeout=15,
            )
        except TimeoutError:
            await self._kill("a random moment (no result post came)")
            return
        self.report.kills_after_result_post += 1
        await self._kill("right after a result post")

    async def _kill_during_submission(self) -> None:
        count = len(self.world.discord.interactions)
        with contextlib.suppress(TimeoutError):
            await self.world.discord.wait_until(
                lambda: len(self.world.discord.interactions) > count, timeout=10
            )
        await asyncio.sleep(self.rng.uniform(0.0, 0.03))
        await self._kill("during a submission")

    async def _kill_randomly(self) -> None:
        await asyncio.sleep(self.rng.uniform(0.0, 2.0))
        await self._kill("a random moment")

    async def _kill(self, why: str) -> None:
        self._bot_up.clear()
        await self.world.kill_bot()
        self.report.kills += 1
        log.info("chaos: killed the bot (%s), kill %d", why, self.report.kills)

    async def _restart(self) -> None:
        await self.world.start_bot()
        self.report.restarts += 1
        self._bot_up.set()

    async def _settle(self) -> None:
        """Wait until every task is terminal and owes no post (the bot keeps running)."""
        deadline = time.monotonic() + self.settle_timeout
        while True:
            tasks = await self.world.tasks()
            if all(t.status.is_terminal and t.delivery_state in SETTLED_DELIVERY for t in tasks):
                return
            if time.monotonic() > deadline:
                open_tasks = [
                    f"{t.id}:{t.status}/{t.delivery_state}"
                    for t in tasks
                    if not (t.status.is_terminal and t.delivery_state in SETTLED_DELIVERY)
                ]
                self.report.problems.append(
                    f"not settled after {self.settle_timeout:g}s: {', '.join(open_tasks[:20])}"
                )
                return
            await asyncio.sleep(0.25)

    # --- checking ----------------------------------------------------------------------

    async def _check(self) -> None:
        world, report = self.world, self.report
        tasks = await world.tasks()
        by_id = {t.id: t for t in tasks}
        posts = world.bot_posts()
        report.tasks_requested = len(self.submissions)
        report.sora = sum(s.kind == "sora" for s in self.submissions)
        report.remixes = report.tasks_requested - report.sora
        report.rows = len(tasks)
        report.statuses = dict(Counter(t.status.value for t in tasks))
        report.delivery_states = dict(Counter(t.delivery_state.value for t in tasks))
        report.posts = len(posts)
        self._classify_submissions(by_id)
        self._check_terminal(tasks)
        self._check_posts(tasks, by_id, posts)
        self._check_upstream(tasks)
        report.found_after_crash = world.bot.log_text().count("found an earlier delivery")

    def _classify_submissions(self, by_id: dict[str, VideoTask]) -> None:
        report = self.report
        rows_by_card = {t.card_message_id: t for t in by_id.values() if t.card_message_id}
        for sub in self.submissions:
            ix = sub.interaction
            if ix is None:
                sub.outcome = "not_sent"
                continue
            original = ix.original
            sub.video_id = card_video_id(original)
            if sub.video_id is not None:
                sub.outcome = "card"
                report.cards += 1
                row = by_id.get(sub.video_id)
                if row is None:
                    report.problems.append(
                        f"lost task: card {original.id} shows {sub.video_id}, no row"
                    )
                elif row.card_message_id != original.id:
                    report.problems.append(
                        f"{sub.video_id}: row points at card {row.card_message_id}, not {original.id}"
                    )
                elif row.prompt != sub.prompt:
                    report.problems.append(f"{sub.video_id}: row prompt differs from the command's")
            elif original is not None and original.ephemeral:
                sub.outcome = "refused"
                report.commands_refused += 1
                report.problems.append(f"command {sub.index} refused: {original.content!r}")
            elif original is not None and not original.deleted:
                sub.outcome = "placeholder"
                if original.id not in rows_by_card:
                    report.cut_before_row += 1
            elif ix.failed or not ix.responded:
                sub.outcome = "unanswered"
                report.commands_unanswered += 1

    def _check_terminal(self, tasks: list[VideoTask]) -> None:
        report = self.report
        for task in tasks:
            if not task.status.is_terminal:
                report.problems.append(f"{task.id} is not terminal: {task.status}")
            elif task.delivery_state not in SETTLED_DELIVERY:
                report.problems.append(f"{task.id} still owes a post: {task.delivery_state}")
            if task.error_code == "submission_interrupted":
                report.submissions_interrupted += 1
            if task.status is TaskStatus.FAILED and task.error_code != "submission_interrupted":
                report.problems.append(f"{task.id} failed: {task.error_code} {task.error_message}")

    def _check_posts(
        self, tasks: list[VideoTask], by_id: dict[str, VideoTask], posts: list[FakeMessage]
    ) -> None:
        report = self.report
        posts_by_task: dict[str, list[FakeMessage]] = {}
        for post in posts:
            posts_by_task.setdefault(task_marker(post) or "", []).append(post)
        for marker in posts_by_task.keys() - by_id.keys():
            report.problems.append(f"a post for unknown task {marker!r}")
        for task in tasks:
            mine = posts_by_task.get(task.id, [])
            if task.status is TaskStatus.COMPLETED:
                report.results_posted += len(mine)
                self._check_result(task, by_id, mine, posts_by_task)
            elif task.status is TaskStatus.FAILED:
                report.failure_notices += len(mine)
                if task.delivery_state is DeliveryState.DELIVERED and len(mine) != 1:
                    report.problems.append(f"{task.id}: {len(mine)} failure notices")

    def _check_result(
        self,
        task: VideoTask,
        by_id: dict[str, VideoTask],
        mine: list[FakeMessage],
        posts_by_task: dict[str, list[FakeMessage]],
    ) -> None:
        problems = self.report.problems
        if len(mine) != 1:
            problems.append(f"{task.id}: completed video posted {len(mine)} times")
            return
        [post] = mine
        if task.result_message_id != post.id:
            problems.append(
                f"{task.id}: row says result {task.result_message_id}, post is {post.id}"
            )
        if not post.attachments:
            problems.append(f"{task.id}: result posted without the video")
        if task.parent_id is None:
            expected = task.card_message_id
        else:
            parent_posts = posts_by_task.get(task.parent_id, [])
            expected = parent_posts[0].id if len(parent_posts) == 1 else None
        if expected is None or post.reply_to != expected:
            what = "its card" if task.parent_id is None else f"{task.parent_id}'s result"
            problems.append(
                f"{task.id}: result replies to {post.reply_to}, not {what} ({expected})"
            )

    def _check_upstream(self, tasks: list[VideoTask]) -> None:
        report, upstream = self.report, self.world.upstream
        sent = Counter()
        for request in upstream.requests:
            if request.op in ("create", "remix"):
                sent[_request_prompt(request.body, request.content_type)] += 1
        report.upstream_creates = upstream.count("create")
        report.upstream_remixes = upstream.count("remix")
        for prompt, count in sent.items():
            if count > 1:
                report.problems.append(f"{count} upstream creates for one task: {prompt!r}")
        known = {t.upstream_id for t in tasks if t.upstream_id}
        report.orphan_upstream_jobs = len(upstream.jobs.keys() - known)
        by_prompt = {t.prompt: t for t in tasks}
        for prompt in sent:
            if prompt not in by_prompt:
                report.problems.append(f"an upstream create without a task row: {prompt!r}")


def _request_prompt(body: bytes, content_type: str) -> str:
    if content_type.startswith("multipart/form-data"):
        return parse_multipart(body, content_type)["prompt"].text
    return str(json.loads(body or b"{}").get("prompt"))


async def run_chaos(
    workdir: Path,
    *,
    tasks: int = 200,
    kills: int = 10,
    seed: int = 1,
    job_seconds: float = 1.5,
    mean_gap: float = 0.15,
    settle_timeout: float = 240.0,
) -> ChaosReport:
    """One complete chaos run in ``workdir``; see the module docstring."""
    async with ProcessWorld(workdir, job_seconds=job_seconds) as world:
        run = ChaosRun(
            world,
            tasks=tasks,
            kills=kills,
            seed=seed,
            mean_gap=mean_gap,
            settle_timeout=settle_timeout,
        )
        report = await run.run()
        if report.problems:
            log.warning("chaos problems; bot log at %s", world.bot.log_path)
        return report
