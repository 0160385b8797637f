"""Why the bot could not start, as one line and an exit code that says what to fix.

Before anything is created on disk, ``preflight`` asks Discord whether the token is
good and the Videos API whether it is reachable and takes the key, so a typo or a
missing network costs one line, not a database and a 70-line traceback.

Exit codes (also in the README):

* ``0``: stopped on request (SIGTERM, SIGINT).
* ``1``: an unexpected error; the traceback is in the log at DEBUG level.
* ``2``: the configuration is invalid (``bot.config.ConfigError``).
* ``3``: a credential was refused: the Discord token or the Videos API key.
* ``4``: Discord or the Videos API cannot be reached (DNS, refused, timeout, 5xx
  from Discord): usually the network; the restart policy tries again later.
"""

from __future__ import annotations

import logging

import httpx

from bot.config import ENV_DISCORD_TOKEN, Config
from bot.discord_ui.setup_check import DiscordAnswer, DiscordRest, discord_api

log = logging.getLogger(__name__)

EXIT_STOPPED = 0
EXIT_CRASHED = 1
EXIT_CONFIG = 2
EXIT_REFUSED = 3
EXIT_UNREACHABLE = 4


class StartupFailure(Exception):
    """The bot cannot start; ``str()`` is the one line for the operator."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code


async def preflight(config: Config, http: httpx.AsyncClient) -> None:
    """Raise ``StartupFailure`` unless the Discord token works (the relay is checked by
    ``bot.cli.upstream_setup.find_dialect``)."""
    await check_discord_token(config, http)


async def check_discord_token(config: Config, http: httpx.AsyncClient) -> None:
    """``GET /users/@me``: the one request that proves the token (no gateway yet)."""
    rest = DiscordRest(http, discord_api(config), config.discord.token.reveal())
    try:
        me = await rest.get("/users/@me")
    except DiscordAnswer as exc:
        if exc.status == 401:
            raise StartupFailure(
                EXIT_REFUSED,
                f"Discord refused the token ({ENV_DISCORD_TOKEN}); "
                "copy it again from the Developer Portal (Bot → Reset Token)",
            ) from None
        raise StartupFailure(EXIT_UNREACHABLE, str(exc)) from None
    log.info("Discord accepted the token: bot user %s", me.get("username"))
