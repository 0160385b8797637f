"""Running the bot process: build the parts, start, and shut down cleanly on SIGTERM.

Shutdown order: stop the scheduler (no new polls), close the Discord connection,
close the HTTP client, stop the media server (if ``[media] public_url`` runs one), then
close the database. A task caught mid-poll or
mid-delivery keeps its lease in the DB and is picked up by the next start.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import sys

import httpx

from bot.cli.startup import (
    EXIT_CRASHED,
    EXIT_REFUSED,
    EXIT_STOPPED,
    EXIT_UNREACHABLE,
    StartupFailure,
    preflight,
)
from bot.cli.upstream_setup import (
    DIALECT_META_KEY,
    find_dialect,
    make_upstream,
    remember,
    remembered_dialect,
)
from bot.config import Config
from bot.core.network import network_cause
from bot.delivery.media_server import start_media_server
from bot.discord_ui.app import DiscordRefused, SoraBot, start_gateway
from bot.discord_ui.endpoint import use_discord_endpoint
from bot.ops.health import Observability
from bot.storage.async_store import AsyncTaskStore
from bot.storage.peek import read_meta_if_present

log = logging.getLogger(__name__)


async def run_bot(config: Config) -> int:
    """Run until the bot is closed or the process gets SIGINT/SIGTERM; the exit code.

    A failure to start is one line on stderr and an exit code from ``bot.cli.startup``;
    the traceback of an unexpected one goes to the log at DEBUG level only.
    """
    if config.discord.api_base:
        use_discord_endpoint(config.discord.api_base, config.discord.gateway_url)
    try:
        await _run(config)
    except StartupFailure as exc:
        return _stop_with(exc.exit_code, str(exc))
    except DiscordRefused as exc:
        return _stop_with(EXIT_REFUSED, str(exc))
    except Exception as exc:  # the last line of defence: one line, not a traceback
        log.debug("unexpected error", exc_info=True)
        cause = network_cause(exc)
        if cause:
            return _stop_with(EXIT_UNREACHABLE, f"lost the connection to Discord: {cause}")
        return _stop_with(
            EXIT_CRASHED,
            f"stopped by an unexpected error: {type(exc).__name__}: {exc} "
            '(set [logging] level = "DEBUG" for the traceback)',
        )
    return EXIT_STOPPED


async def _run(config: Config) -> None:
    """Preflight, then create the database and run; everything closes in reverse order."""
    memory = read_meta_if_present(config.storage.database, DIALECT_META_KEY)
    async with httpx.AsyncClient() as probe_http:
        await preflight(config, probe_http)
        detection = await find_dialect(
            config,
            probe_http,
            remembered=remembered_dialect(memory, config.upstream.base_url),
            max_retries=1,
        )
    config.storage.database.parent.mkdir(parents=True, exist_ok=True)
    store = await AsyncTaskStore.open(config.storage.database)
    await remember(store, config, detection)
    observability = Observability(config)
    media_server = None
    try:
        media_server = await start_media_server(config)  # None without [media] public_url
        async with httpx.AsyncClient(event_hooks=observability.httpx_event_hooks()) as http:
            upstream = make_upstream(config, http, detection)
            bot = SoraBot(
                config=config,
                store=store,
                upstream=upstream,
                http_trace=observability.discord_trace(),
                settle_memory=True,
            )
            _close_on_signals(bot)
            await observability.attach(bot)
            try:
                async with bot:
                    await start_gateway(bot, config.discord.token.reveal())
            finally:
                await upstream.aclose()
    finally:
        if media_server is not None:
            await media_server.stop()
        await observability.close()
        await store.close()
        log.info("stopped; database closed")


def _stop_with(code: int, line: str) -> int:
    sys.stderr.write(f"sora-bot: {line}\n")
    return code


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
