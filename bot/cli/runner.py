"""Running the bot process: build the parts, start, and shut down cleanly on SIGTERM.

Shutdown order: stop the scheduler (no new polls), close the Discord connection,
close the HTTP client, then close the database. A task caught mid-poll or
mid-delivery keeps its lease in the DB and is picked up by the next start.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import sys

import httpx

from bot.config import Config
from bot.discord_ui.app import SoraBot
from bot.discord_ui.endpoint import use_discord_endpoint
from bot.ops.health import Observability
from bot.storage.async_store import AsyncTaskStore
from bot.upstream import OpenAIVideosClient, VideoProvider

log = logging.getLogger(__name__)


def make_upstream(config: Config, http: httpx.AsyncClient) -> VideoProvider:
    """The Videos API client the config describes."""
    up = config.upstream
    return OpenAIVideosClient(
        http,
        base_url=up.base_url,
        api_key=up.api_key.reveal(),
        default_model=up.default_model,
        json_timeout=up.request_timeout,
        download_timeout=up.download_timeout,
        max_retries=up.max_retries,
    )


async def run_bot(config: Config) -> None:
    """Run until the bot is closed or the process gets SIGINT/SIGTERM."""
    if config.discord.api_base:
        use_discord_endpoint(config.discord.api_base, config.discord.gateway_url)
    config.storage.database.parent.mkdir(parents=True, exist_ok=True)
    store = await AsyncTaskStore.open(config.storage.database)
    observability = Observability(config)
    try:
        async with httpx.AsyncClient(event_hooks=observability.httpx_event_hooks()) as http:
            bot = SoraBot(config=config, store=store, upstream=make_upstream(config, http))
            _close_on_signals(bot)
            await observability.attach(bot)
            async with bot:
                await bot.start(config.discord.token.reveal())
    finally:
        await observability.close()
        await store.close()
        log.info("stopped; database closed")


def _close_on_signals(bot: SoraBot) -> None:
    """Close the bot cleanly on SIGTERM (Docker's stop) and SIGINT (Ctrl-C).

    Windows event loops have no Unix signal handlers; there Ctrl-C ends the process.
    """
    if sys.platform == "win32":
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, functools.partial(_request_close, bot, sig))


def _request_close(bot: SoraBot, sig: signal.Signals) -> None:
    log.info("received %s; shutting down", sig.name)
    task = asyncio.get_running_loop().create_task(bot.close())
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


_BACKGROUND: set[asyncio.Task[None]] = set()
