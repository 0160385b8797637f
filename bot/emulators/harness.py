"""The real bot against both emulators, in this event loop: for tests, the demo and benchmarks.

``BotHarness`` starts the Videos API emulator and the Discord emulator on 127.0.0.1,
points discord.py at the latter, opens a real SQLite file, and runs the production
``SoraBot`` (discord.py client, APScheduler poller, httpx client) with fast timings.
Nothing of ours is replaced; only the network peers are local.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bot.cli.upstream_setup import (
    DIALECT_META_KEY,
    find_dialect,
    make_upstream,
    remember,
    remembered_dialect,
)
from bot.config import (
    Config,
    DiscordConfig,
    LimitsConfig,
    PollerConfig,
    Secret,
    StorageConfig,
    UpstreamConfig,
)
from bot.core.clock import Clock, utc_now
from bot.delivery.media_server import MediaServer, start_media_server
from bot.discord_ui.app import SoraBot
from bot.discord_ui.endpoint import use_discord_endpoint
from bot.emulators.fake_discord import FakeDiscord
from bot.emulators.fake_upstream import FakeUpstream
from bot.ops.health import Observability
from bot.storage.async_store import AsyncTaskStore
from bot.upstream import VideoProvider
from bot.upstream.detect import Detection

log = logging.getLogger(__name__)

BOT_TOKEN = "harness-discord-token-0123456789"
API_KEY = "sk-harness-upstream-key-0123456789"

#: Poller timings for emulated jobs that take a second or two.
FAST_POLLER = PollerConfig(
    tick_seconds=0.1,
    batch_size=50,
    concurrency=8,
    first_poll_seconds=0.3,
    min_interval_seconds=0.2,
    max_interval_seconds=1.0,
    error_backoff_cap_seconds=2.0,
    max_age_minutes=10.0,
    card_edit_interval_seconds=0.3,
    delivery_max_attempts=5,
)
OPEN_LIMITS = LimitsConfig(max_concurrent_per_user=0, daily_seconds_per_user=0, daily_budget=0.0)


def harness_config(
    workdir: Path,
    *,
    upstream_base: str,
    discord: FakeDiscord | None = None,
    poller: PollerConfig = FAST_POLLER,
    limits: LimitsConfig = OPEN_LIMITS,
    **changes: Any,
) -> Config:
    """A config for the bot under test (also written to TOML for subprocess runs)."""
    config = Config(
        discord=DiscordConfig(
            token=Secret(BOT_TOKEN),
            admin_role="Video Admin",
            api_base=discord.rest_base if discord else "",
            gateway_url=discord.gateway_url if discord else "",
        ),
        upstream=UpstreamConfig(
            base_url=upstream_base, api_key=Secret(API_KEY), request_timeout=3.0
        ),
        poller=poller,
        storage=StorageConfig(database=workdir / "bot.db", media_dir=workdir / "media"),
        limits=limits,
    )
    return dataclasses.replace(config, **changes)


class BotHarness:
    """Emulators + the real bot. Use ``async with BotHarness(tmp_path) as h``."""

    def __init__(
        self,
        workdir: Path,
        *,
        job_seconds: float = 1.5,
        clock: Clock = utc_now,
        discord_clock: Callable[[], float] | None = None,
        upstream_options: dict[str, Any] | None = None,
        configure: Callable[[Config], Config] | None = None,
    ) -> None:
        self.workdir = workdir
        self.clock = clock
        self.upstream = FakeUpstream(
            api_key=API_KEY, job_seconds=job_seconds, **(upstream_options or {})
        )
        self.discord = FakeDiscord(clock=discord_clock, bot_token=BOT_TOKEN)
        self.configure = configure
        self.config: Config | None = None
        self.store: AsyncTaskStore | None = None
        self.bot: SoraBot | None = None
        self._http: httpx.AsyncClient | None = None
        self.detection: Detection | None = None
        self.provider: VideoProvider | None = None
        self.observability: Observability | None = None
        #: The media server, with ``[media] public_url`` set (``media_server.port``).
        self.media_server: MediaServer | None = None
        self._bot_task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BotHarness:
        await self.upstream.start()
        await self.discord.start()
        self.guild = self.discord.add_guild("Video Team")
        self.channel = self.discord.add_channel(self.guild, "videos")
        self.alice = self.discord.add_member(self.guild, "alice")
        self.bob = self.discord.add_member(self.guild, "bob")
        self.admin = self.discord.add_member(self.guild, "boss", manage_guild=True)
        config = harness_config(
            self.workdir, upstream_base=self.upstream.base_url, discord=self.discord
        )
        self.config = self.configure(config) if self.configure else config
        await self.start_bot()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop_bot()
        await self.discord.stop()
        await self.upstream.stop()

    async def start_bot(self) -> SoraBot:
        """Open the DB, build the bot, connect it, and wait until the emulator sees it ready."""
        assert self.config is not None
        use_discord_endpoint(self.discord.rest_base, self.discord.gateway_url)
        self.store = await AsyncTaskStore.open(self.config.storage.database, clock=self.clock)
        self.observability = Observability(self.config)
        self.media_server = await start_media_server(self.config, self.clock)
        self._http = httpx.AsyncClient(event_hooks=self.observability.httpx_event_hooks())
        memory = await self.store.get_meta(DIALECT_META_KEY)
        self.detection = await find_dialect(
            self.config,
            self._http,
            remembered=remembered_dialect(memory, self.config.upstream.base_url),
            max_retries=1,
        )
        await remember(self.store, self.config, self.detection)
        self.provider = make_upstream(self.config, self._http, self.detection)
        self.bot = SoraBot(
            config=self.config,
            store=self.store,
            upstream=self.provider,
            clock=self.clock,
            guild_ready_timeout=0.1,
            http_trace=self.observability.discord_trace(),
        )
        await self.observability.attach(self.bot)
        self._bot_task = asyncio.create_task(self.bot.start(BOT_TOKEN), name="harness-bot")
        await self.discord.wait_for_bot_ready(timeout=15)
        await self.bot.wait_until_ready()
        return self.bot

    async def stop_bot(self) -> None:
        """Close the bot like SIGTERM does; keep the DB file for a restart."""
        if self.bot is not None:
            await self.bot.close()
        if self._bot_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._bot_task, timeout=10)
        if self.provider is not None:
            await self.provider.aclose()
            self.provider = None
        if self._http is not None:
            await self._http.aclose()
        if self.observability is not None:
            await self.observability.close()
        if self.media_server is not None:
            await self.media_server.stop()
            self.media_server = None
        if self.store is not None:
            await self.store.close()
        self.bot, self._bot_task, self._http, self.store = None, None, None, None

    async def restart(self) -> SoraBot:
        """Stop the bot process and start a new one on the same database."""
        await self.stop_bot()
        return await self.start_bot()

    async def wait_for(
        self, predicate: Callable[[], Any], *, timeout: float = 15.0, what: str = "condition"
    ) -> Any:
        """Poll ``predicate`` (sync or async) until it returns something truthy."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = predicate()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)
