"""Point discord.py at another Discord API (the local emulator); production never calls this.

discord.py has two hardcoded addresses:

* REST: ``discord.http.Route.BASE`` (``https://discord.com/api/v10``). Every route, including the
  interaction webhooks in ``discord.webhook.async_``, is built from it when the ``Route`` is
  created, so replacing the class attribute redirects all REST calls.
* Gateway: a plain ``Client`` never asks ``GET /gateway``; ``DiscordWebSocket.from_client``
  connects to ``gateway or cls.DEFAULT_GATEWAY`` and, on INVALID_SESSION, resets
  ``self.gateway = self.DEFAULT_GATEWAY``. Both read the *class* attribute at call time, so
  replacing ``DiscordWebSocket.DEFAULT_GATEWAY`` covers the first connect and every re-identify.
  Resumes use READY's ``resume_gateway_url``, which the emulator sets to itself.
  (``AutoShardedClient`` does call ``GET /gateway/bot``, which the emulator also answers.)

Both are public class attributes, so no discord.py code is patched. ``_set_api_version`` in
discord.py resets ``Route.BASE``; call this function after it if you ever use it.

Both URLs are plain strings, so a bot subprocess can receive them through its config or
environment.
"""

from __future__ import annotations

import logging

import discord.gateway
import discord.http
import yarl

log = logging.getLogger(__name__)

_DEFAULT_REST_BASE = discord.http.Route.BASE
_DEFAULT_GATEWAY = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY


def use_discord_endpoint(rest_base: str, gateway_url: str) -> None:
    """Send discord.py's REST calls to ``{rest_base}/api/v10`` and its gateway to ``gateway_url``."""
    version = discord.http.INTERNAL_API_VERSION
    discord.http.Route.BASE = f"{rest_base.rstrip('/')}/api/v{version}"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    log.info("discord.py redirected to %s (gateway %s)", rest_base, gateway_url)


def reset_discord_endpoint() -> None:
    """Restore discord.py's real Discord addresses (for tests that redirect temporarily)."""
    discord.http.Route.BASE = _DEFAULT_REST_BASE
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = _DEFAULT_GATEWAY
