"""Shared pieces of the benchmarks: statistics, tables, seeding, loop-lag sampling.

Every benchmark prints one or more tables and ends with exactly one line::

    ratio <name> = <value>  (<what it is compared with>; target ...: met|MISSED)

so a script (or the smoke test) can read the key figure from the last line.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import platform
import random
import resource
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from bot.core.clock import Clock
from bot.core.models import TaskStatus, VideoTask
from bot.delivery.notifier import Delivery, FitNote, OriginalLink
from bot.emulators.fake_upstream import FakeJob, FakeUpstream
from bot.storage.store import TaskStore

# --- statistics ---------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0-100) with linear interpolation between ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 / max of ``values``."""
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
    }


def ms(seconds: float) -> str:
    """Seconds as a millisecond figure for a table cell."""
    return f"{seconds * 1000:.1f}"


def verdict(ok: bool) -> str:
    """The word the tables use for a target."""
    return "met" if ok else "MISSED"


# --- output -------------------------------------------------------------------------


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a Markdown table (readable in a terminal, pasteable into the README)."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    print(f"\n{title}\n")
    print(line(cells[0]))
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for row in cells[1:]:
        print(line(row))
    sys.stdout.flush()


def print_header(name: str, settings: dict[str, object]) -> None:
    """What ran, where and with which settings."""
    print(f"# {name}")
    print(f"machine: {machine_line()}")
    print("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))


def print_ratio(name: str, value: float, note: str) -> None:
    """The last line of every benchmark."""
    print(f"\nratio {name} = {value:.4f}  ({note})")
    sys.stdout.flush()


def machine_line() -> str:
    """CPU count, Python and OS, for the record."""
    return (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()} {platform.machine()}"
    )


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024


def quiet_logging() -> None:
    """Warnings only: per-request INFO lines would dominate the measurements."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("discord", "httpx", "apscheduler", "aiohttp"):
        logging.getLogger(name).setLevel(logging.WARNING)


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed: ...; elapsed()`` gives seconds (frozen at exit)."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


# --- event-loop lag -----------------------------------------------------------------


class LoopLagSampler:
    """Measures how late ``asyncio.sleep(interval)`` wakes up while other work runs.

    The lag of one sample is the wake-up time minus the requested interval: the time
    the loop was busy with something else (a blocking call shows up here in full).
    """

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.samples.append(max(0.0, time.perf_counter() - start - self.interval))

    def start(self) -> None:
        """Start sampling in the running loop (clears earlier samples)."""
        self.samples = []
        self._task = asyncio.create_task(self._run(), name="loop-lag-sampler")

    async def stop(self) -> list[float]:
        """Stop sampling and return the lags in seconds."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        return self.samples


# --- the Discord edge for core benchmarks --------------------------------------------


@dataclass
class BenchNotifier:
    """A ``Notifier`` that records when each outcome was posted (on the injected clock)."""

    clock: Clock
    limit: int | None = 25 * 1024 * 1024
    delivered_at: dict[str, datetime] = field(default_factory=dict)
    card_edits: int = 0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1_000_000))

    async def update_card(self, task: VideoTask) -> None:
        self.card_edits += 1

    def edits_card_via_channel(self, task: VideoTask) -> bool:
        return True

    def upload_limit(self, task: VideoTask) -> int | None:
        return self.limit

    async def find_delivery(self, task: VideoTask) -> int | None:
        return None

    async def deliver(
        self,
        task: VideoTask,
        video: Path | None,
        *,
        too_large: bool = False,
        fit: FitNote | None = None,
        original: OriginalLink | None = None,
        thumbnail: Path | None = None,
    ) -> Delivery:
        self.delivered_at.setdefault(task.id, self.clock())
        return Delivery(message_id=next(self._ids), attached=video is not None)


# --- seeding ------------------------------------------------------------------------


def upstream_job_id(rng: random.Random | None = None) -> str:
    """An id in the OpenAI dialect's shape (``video_`` + 48 hex)."""
    if rng is None:
        return "video_" + secrets.token_hex(24)
    return "video_" + "".join(rng.choice("0123456789abcdef") for _ in range(48))


@dataclass(frozen=True)
class Seeded:
    """One seeded task and the upstream job that answers for it."""

    task_id: str
    upstream_id: str


def seed_in_flight(
    db: Database,
    store: TaskStore,
    *,
    count: int,
    guild_id: int,
    channel_id: int,
    user_ids: Sequence[int],
    next_poll_at: Callable[[int], datetime],
    rng: random.Random,
    upstream_ids: Sequence[str] | None = None,
    status: TaskStatus = TaskStatus.QUEUED,
    card_ids: bool = True,
    batch: int = 1000,
) -> list[Seeded]:
    """Insert ``count`` submitted tasks through the real ``TaskStore`` methods.

    Each task goes through ``create_task`` (+ ``set_card_message``) + ``mark_submitted``
    as a /sora does; ``batch`` of them share one outer transaction only to make seeding
    fast (the store's own transactions become savepoints).
    """
    seeded: list[Seeded] = []
    card_id = itertools.count(9_000_000_000)
    for start in range(0, count, batch):
        with db.atomic():
            for i in range(start, min(start + batch, count)):
                task = store.create_task(
                    guild_id=guild_id,
                    channel_id=channel_id,
                    user_id=user_ids[i % len(user_ids)],
                    prompt=f"seeded video {i}: a lighthouse in a storm, drone shot",
                    model="sora-2",
                    seconds=rng.choice((4, 8, 12)),
                    size="1280x720",
                    estimated_cost=0.4,
                )
                upstream_id = upstream_ids[i] if upstream_ids else upstream_job_id(rng)
                if card_ids:
                    store.set_card_message(task.id, next(card_id))
                store.mark_submitted(
                    task.id,
                    upstream_id=upstream_id,
                    status=status,
                    progress=0,
                    next_poll_at=next_poll_at(i),
                )
                seeded.append(Seeded(task.id, upstream_id))
    return seeded


def add_upstream_job(
    upstream: FakeUpstream,
    upstream_id: str,
    *,
    duration: float,
    completed: bool = False,
    started_ago: float = 0.0,
    prompt: str = "seeded",
) -> FakeJob:
    """Register a job in the emulator directly (what 10,000 creates over HTTP would leave).

    ``started_ago`` seconds of the job have already run (a job is queued for the first
    10 % of its duration, then in progress).
    """
    job = FakeJob(
        id=upstream_id,
        model="sora-2",
        prompt=prompt,
        size="1280x720",
        seconds="4",
        created_at=int(time.time()),
        started=upstream.clock() - started_ago,
        duration=duration,
        video_bytes=upstream.video_bytes,
    )
    if completed:
        job.complete()
    upstream.jobs[upstream_id] = job
    return job


class SteppingClock:
    """A clock that moves ``step`` seconds forward each time it is read (history seeding)."""

    def __init__(self, start: datetime, step: float) -> None:
        self._now = start
        self._step = timedelta(seconds=step)

    def __call__(self) -> datetime:
        self._now += self._step
        return self._now


def spread_over(now: datetime, seconds: float, count: int) -> Callable[[int], datetime]:
    """``next_poll_at`` for task ``i``: evenly spread over the next ``seconds``."""
    step = seconds / max(count, 1)
    return lambda i: now + timedelta(seconds=i * step)
