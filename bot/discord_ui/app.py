"""The discord.py ``Bot``: wires the core to Discord in ``setup_hook``, tears down in ``close``.

Everything the bot uses (store, upstream client, clock, poll policy) is built
outside and passed in, so tests and the demo run the same code as production
with different parts at the network edge.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from discord import app_commands
from discord.ext import commands

from bot.config import ENV_DISCORD_TOKEN, Config
from bot.core.clock import Clock, utc_now
from bot.core.foreground import Foreground
from bot.core.poll_policy import PollPolicy
from bot.discord_ui.card_hooks import CardHooks
from bot.discord_ui.context import BotContext
from bot.discord_ui.notifier import DiscordNotifier
from bot.discord_ui.replies import report_error
from bot.discord_ui.sync import sync_if_changed
from bot.discord_ui.upload_limit import guild_upload_limit
from bot.discord_ui.views import DYNAMIC_ITEMS, answer_remix_form
from bot.polling.poller import Poller
from bot.services.queue import QueueDispatcher
from bot.services.submission import VideoService
from bot.storage.async_store import AsyncTaskStore
from bot.upstream import VideoProvider

log = logging.getLogger(__name__)

#: Longest rate-limit wait discord.py may sleep through inside one request.
MAX_RATELIMIT_WAIT = 30.0

# The bot has no voice features: discord.py's warnings that voice libraries are missing
# (PyNaCl, davey) would only alarm an operator at every start.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

#: The cogs, loaded as extensions: no cog imports another, and none imports this module.
EXTENSIONS = (
    "bot.discord_ui.video_cog",
    "bot.discord_ui.extend_cog",
    "bot.discord_ui.chains_cog",
    "bot.discord_ui.admin_cog",
    "bot.discord_ui.settings_cog",
    "bot.discord_ui.queue_cog",
)


class SoraCommandTree(app_commands.CommandTree):
    """One error handler for every command: short ephemeral answers, bugs get a reference id."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original: BaseException = getattr(error, "original", error)
        if isinstance(error, app_commands.CheckFailure | app_commands.TransformerError):
            original = error
        await report_error(interaction, original)


class SoraBot(commands.Bot):
    """The bot process: Discord client plus the poller that reports through it."""

    def __init__(
        self,
        *,
        config: Config,
        store: AsyncTaskStore,
        upstream: VideoProvider,
        clock: Clock = utc_now,
        policy: PollPolicy | None = None,
        sync_commands: bool = True,
        settle_memory: bool = False,
        **client_options: Any,
    ) -> None:
        super().__init__(
            **client_options,
            # Slash commands only: no message events are subscribed, so this prefix never
            # sees a message (commands.Bot needs one, for the cogs and extensions it brings).
            command_prefix=commands.when_mentioned,
            intents=gateway_intents(),
            # A 429 asking for a longer wait raises ``discord.RateLimited`` instead of
            # sleeping inside the call (30 s is discord.py's floor): a delivery then
            # becomes "retry later" rather than a worker blocked for minutes.
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
            tree_cls=SoraCommandTree,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.config = config
        self.store = store
        self.upstream = upstream
        self.clock = clock
        self.policy = policy or policy_from_config(config)
        self.sync_commands = sync_commands
        #: ``gc.freeze`` what start-up built once ready (the process's one bot: the runner).
        self.settle_memory = settle_memory
        #: Interactions waiting for a first response; later steps of any work wait for them.
        self.foreground = Foreground()
        self.service = VideoService(
            store=store, upstream=upstream, config=config, policy=self.policy, clock=clock
        )
        self.notifier = DiscordNotifier(
            self,
            store,
            mention_author=config.discord.mention_author,
            can_remix=upstream.capabilities().can_remix,
            foreground=self.foreground,
        )
        self.poller = Poller(
            store=store,
            upstream=upstream,
            notifier=self.notifier,
            settings=config.poller,
            media_dir=config.storage.media_dir,
            policy=self.policy,
            clock=clock,
            media=config.media,
            dispatch=QueueDispatcher(self.service).dispatch,
            foreground=self.foreground,
        )
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._rounds_start: asyncio.Task[None] | None = None

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        """discord.py calls this while it parses each gateway event, before any handler runs:
        the moment to put an interaction first in line (``bot.core.foreground``)."""
        if event_name == "interaction":
            interaction: discord.Interaction = args[0]
            self.foreground.arrived(interaction.response.is_done)
        super().dispatch(event_name, *args, **kwargs)

    @property
    def card_hooks(self) -> CardHooks:
        """The interactions whose tokens may still edit their status cards."""
        return self.notifier.card_hooks

    async def setup_hook(self) -> None:
        """Load the cogs and buttons, resume every task from the DB, sync commands.

        Poll rounds (and so deliveries) start once the gateway is ready (``_start_rounds``).
        """
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.add_dynamic_items(*DYNAMIC_ITEMS)
        self.add_listener(answer_remix_form, "on_interaction")
        recovered = await self.poller.recover()
        active = await self.store.active_count()
        log.info("resuming %d active tasks (%d interrupted submissions failed)", active, recovered)
        self._rounds_start = asyncio.create_task(self._start_rounds(), name="poller-start")
        if self.sync_commands and self.application_id is not None:
            await sync_if_changed(
                self.tree,
                self.store,
                application_id=self.application_id,
                dev_guild_id=self.config.discord.dev_guild_id,
            )

    async def _start_rounds(self) -> None:
        """Start the poll rounds once the gateway is ready.

        Before READY discord.py's cache holds no guild, and until each ``GUILD_CREATE`` only
        unavailable placeholders; deliveries read each task's recorded upload limit, but
        tasks without one need the guild itself.
        """
        await self.wait_until_ready()
        if self.settle_memory:
            settle_long_lived_objects()
        self.poller.schedule(self.scheduler, every_seconds=self.config.poller.tick_seconds)
        self.scheduler.start()
        log.info("gateway ready; polling and delivering")

    async def on_guild_available(self, guild: discord.Guild) -> None:
        """A guild's data arrived (start-up, reconnect): refresh its tasks' upload limits."""
        await self._record_upload_limit(guild)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """The bot was added to a guild."""
        await self._record_upload_limit(guild)

    async def on_guild_update(self, before: discord.Guild, after: discord.Guild) -> None:
        """A boost tier change moves the upload limit of the guild's owed posts."""
        if before.filesize_limit != after.filesize_limit:
            await self._record_upload_limit(after)

    async def _record_upload_limit(self, guild: discord.Guild) -> None:
        limit = guild_upload_limit(guild)
        if limit is None or self.store.closed:
            return
        changed = await self.store.refresh_upload_limits(guild.id, limit)
        if changed:
            log.info("guild %s: upload limit %d recorded on %d tasks", guild.id, limit, changed)

    async def close(self) -> None:
        """Stop polling, let a round in flight finish its writes, then disconnect.

        The DB and the HTTP client are closed by their owner (``bot.cli.runner``).
        """
        if self._rounds_start is not None and not self._rounds_start.done():
            self._rounds_start.cancel()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.poller.drain()
        await super().close()


def policy_from_config(config: Config) -> PollPolicy:
    """The poll policy the config describes."""
    poll = config.poller
    return PollPolicy(
        first_poll=poll.first_poll_seconds,
        min_interval=poll.min_interval_seconds,
        max_interval=poll.max_interval_seconds,
        error_cap=poll.error_backoff_cap_seconds,
    )


def gateway_intents() -> discord.Intents:
    """Only ``GUILDS``: the servers, their channels, roles and boost tier (upload limits,
    permission checks). Interactions need no intent, and the bot reads no messages,
    members, reactions or voice states, so it subscribes to none of them."""
    return discord.Intents(guilds=True)


class DiscordRefused(Exception):
    """Discord refused to let the bot connect; ``str()`` says what to change."""


async def start_gateway(bot: SoraBot, token: str) -> None:
    """``bot.start(token)``, with Discord's refusals turned into ``DiscordRefused``.

    Network failures after the login are retried by discord.py itself (reconnect).
    """
    try:
        await bot.start(token)
    except discord.LoginFailure as exc:
        raise DiscordRefused(f"Discord refused the token ({ENV_DISCORD_TOKEN}): {exc}") from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise DiscordRefused(
            "Discord refused a privileged gateway intent; enable it for the bot in the "
            "Developer Portal (Bot → Privileged Gateway Intents)"
        ) from exc


#: The type checker proves here that ``SoraBot`` offers what cogs and components use.
_CONTEXT: type[BotContext] = SoraBot


def settle_long_lived_objects() -> None:
    """Collect once, then exempt what start-up built from later full collections.

    Why: a full (generation 2) collection walks every tracked object, and after start-up
    that is the libraries, the caches discord.py filled from READY and the guilds. In the
    latency benchmark's bot (600 tasks in flight) a full collection right after READY
    took 39 ms, a later one after the freeze 2.8 ms (``gc.callbacks`` timings); every
    interaction arriving during such a pause waits for it.
    ``gc.freeze`` moves those objects to a permanent generation; reference counting still
    frees them, only cycles among them are no longer looked for (there are none worth
    finding in what start-up keeps). Called once, when the gateway is first ready, by the
    process's one bot (not by tests, which start many bots in one process).
    """
    gc.collect()
    gc.freeze()
