"""What a Discord outage looks like from a bot: failing REST answers and a gateway that is gone.

Observed shapes (not documented by Discord):

- **503, plain text from the edge proxy**: ``upstream connect error or disconnect/reset before
  headers. reset reason: overflow`` (reported verbatim by bots during outages, e.g.
  CSSS/wall_e#664). discord.py raises ``DiscordServerError`` at once for a 503.
- **502, Cloudflare's HTML "Bad Gateway" page** (crmarsh/discord-linux-bugs#98, spacebarchat
  /server#283 during the 2021-08 Cloudflare incident). discord.py retries 500/502/504/524 up to five
  times (sleeping 1, 3, 5, 7 s) before raising.
- The gateway drops every connection and refuses new ones (the websocket upgrade answers 503), so
  the client keeps reconnecting with back-off until the outage ends, then RESUMEs.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

ENVOY_503 = "upstream connect error or disconnect/reset before headers. reset reason: overflow"
CLOUDFLARE_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)
OUTAGE_STATUSES = (502, 503)


@dataclass(frozen=True)
class Outage:
    """An ongoing outage: REST answers ``status`` and the gateway refuses connections."""

    status: int = 503

    def __post_init__(self) -> None:
        if self.status not in OUTAGE_STATUSES:
            raise ValueError(f"outages answer one of {OUTAGE_STATUSES}, not {self.status}")

    def response(self) -> web.Response:
        """The REST answer during the outage."""
        if self.status == 502:
            return web.Response(
                status=502,
                text=CLOUDFLARE_502,
                content_type="text/html",
                headers={"Server": "cloudflare"},
            )
        return web.Response(status=503, text=ENVOY_503, content_type="text/plain")
