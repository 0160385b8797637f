"""The domain core wired for tests: real store, real httpx client, the upstream emulator.

Only the Discord edge is replaced, by ``RecordingNotifier`` (it records what it was asked
to show). Time comes from one ``ManualClock`` that drives both the bot and the emulator.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bot.config import Config, LimitsConfig, PollerConfig, UpstreamConfig
from bot.core.clock import DEFAULT_START, ManualClock
from bot.core.errors import DeliveryError
from bot.core.models import TaskStatus, VideoTask
from bot.core.poll_policy import PollPolicy
from bot.delivery.notifier import Delivery, FitNote, OriginalLink
from bot.emulators.fake_upstream import FakeUpstream
from bot.polling.poller import Poller
from bot.services.queue import QueueDispatcher
from bot.services.submission import Origin, VideoService
from bot.storage.async_store import AsyncTaskStore
from bot.upstream import OpenAIVideosClient

API_KEY = "sk-core-test-key"
GUILD, OTHER_GUILD, CHANNEL, USER = 501, 502, 601, 701
ORIGIN = Origin(guild_id=GUILD, channel_id=CHANNEL, user_id=USER, card_message_id=9001)


async def no_sleep(_: float) -> None:
    """Client backoff without waiting (the poller's own schedule is what tests check)."""


@dataclass
class Post:
    """One outcome the notifier was asked to post."""

    task_id: str
    status: TaskStatus
    attached: bool
    size: int | None
    message_id: int


@dataclass
class RecordingNotifier:
    """Stands in for Discord: records card edits and posts; can be told to fail."""

    limit: int | None = 10 * 1024 * 1024
    clock: ManualClock | None = None
    cards: list[tuple[str, TaskStatus, int]] = field(default_factory=list)
    card_times: list[datetime] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    failures: list[DeliveryError] = field(default_factory=list)
    earlier_posts: dict[str, int] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(70_000))

    async def update_card(self, task: VideoTask) -> None:
        self.cards.append((task.id, task.status, task.progress))
        if self.clock is not None:
            self.card_times.append(self.clock())

    def edits_card_via_channel(self, task: VideoTask) -> bool:
        return True

    def upload_limit(self, task: VideoTask) -> int | None:
        return self.limit

    async def find_delivery(self, task: VideoTask) -> int | None:
        self.lookups.append(task.id)
        return self.earlier_posts.get(task.id)

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
        if self.failures:
            raise self.failures.pop(0)
        size = video.stat().st_size if video is not None else None  # noqa: ASYNC240 - tiny local file
        post = Post(task.id, task.status, video is not None, size, next(self._ids))
        self.posts.append(post)
        return Delivery(post.message_id, attached=video is not None)

    def posts_for(self, task_id: str) -> list[Post]:
        return [p for p in self.posts if p.task_id == task_id]


@dataclass
class Core:
    """Everything a core test needs."""

    clock: ManualClock
    upstream: FakeUpstream
    client: OpenAIVideosClient
    store: AsyncTaskStore
    service: VideoService
    poller: Poller
    notifier: RecordingNotifier
    db_path: Path

    async def tick_after(self, seconds: float) -> Any:
        """Advance time, then run one poller tick."""
        self.clock.advance(seconds)
        return await self.poller.tick()

    async def run_until(self, predicate, *, step: float = 5.0, limit: int = 200) -> None:
        """Tick in ``step``-second increments until ``predicate()`` (a coroutine fn) is true."""
        for _ in range(limit):
            if await predicate():
                return
            await self.tick_after(step)
        raise AssertionError("condition not reached")


def core_config(**limits: Any) -> Config:
    """Config with generous limits unless told otherwise."""
    values = {"max_concurrent_per_user": 0, "daily_seconds_per_user": 0, "daily_budget": 0.0}
    values.update(limits)
    return Config(
        upstream=UpstreamConfig(base_url="http://unused/v1"), limits=LimitsConfig(**values)
    )


def make_poller(
    store: AsyncTaskStore,
    client: OpenAIVideosClient,
    notifier: RecordingNotifier,
    clock: ManualClock,
    media_dir: Path,
    **settings: Any,
) -> Poller:
    values: dict[str, Any] = {"card_edit_interval_seconds": 5.0}
    values.update(settings)
    return Poller(
        store=store,
        upstream=client,
        notifier=notifier,
        settings=PollerConfig(**values),
        media_dir=media_dir,
        policy=PollPolicy(jitter=0),
        clock=clock,
    )


@asynccontextmanager
async def core(
    tmp_path: Path,
    *,
    config: Config | None = None,
    job_seconds: float = 60.0,
    poller_settings: dict[str, Any] | None = None,
    **upstream_options: Any,
) -> AsyncIterator[Core]:
    """Start the emulator, open a file-backed store, wire service and poller.

    ``poller_settings`` are ``PollerConfig`` values for the poller (e.g.
    ``{"list_polling": False}`` to poll every task with its own retrieve).
    """
    clock = ManualClock(DEFAULT_START)
    fake = FakeUpstream(
        api_key=API_KEY,
        job_seconds=job_seconds,
        clock=lambda: clock().timestamp(),
        **upstream_options,
    )
    db_path = tmp_path / "core.db"
    async with fake, httpx.AsyncClient() as http:
        client = OpenAIVideosClient(
            http, base_url=fake.base_url, api_key=API_KEY, json_timeout=2.0, sleep=no_sleep
        )
        store = await AsyncTaskStore.open(db_path, clock=clock)
        notifier = RecordingNotifier(clock=clock)
        service = VideoService(
            store=store,
            upstream=client,
            config=config or core_config(),
            policy=PollPolicy(jitter=0),
            clock=clock,
        )
        poller = make_poller(
            store, client, notifier, clock, tmp_path / "media", **(poller_settings or {})
        )
        poller.dispatch = QueueDispatcher(service).dispatch
        try:
            yield Core(clock, fake, client, store, service, poller, notifier, db_path)
        finally:
            await store.close()
