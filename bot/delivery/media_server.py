"""The media server: kept originals at signed, expiring links (``bot.delivery.media_links``).

Runs only with ``[media] public_url`` set, on ``[media] host:port`` (127.0.0.1:8081), behind
the operator's reverse proxy, which forwards ``{public_url}/media/`` to it. One route:
``GET``/``HEAD /media/<id>.mp4?exp=&sig=``. A request without a valid signature gets 403
(before anything about the file is looked at), a signed request for a file that is not
kept 404, everything else 404: there is no listing, no index, no other file. Files go
out as ``video/mp4`` with ``Accept-Ranges: bytes``; aiohttp's ``FileResponse`` answers
``Range`` requests with 206 and ``Content-Range`` (browsers and Discord's player seek).
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.config import Config
from bot.core.clock import Clock, utc_now
from bot.delivery.media_links import BadSignature, NotKept, Originals, originals_for

log = logging.getLogger(__name__)


class MediaServer:
    """An aiohttp server for ``/media/<id>.mp4`` with a signature."""

    def __init__(self, originals: Originals, *, host: str, port: int) -> None:
        self.originals = originals
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 picks a free one; see ``self.port``)."""
        app = web.Application()
        app.router.add_get("/media/{name}", self.media)  # HEAD too
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.requested_port).start()
        self.port = self._runner.addresses[0][1]
        log.info("media server on http://%s:%s/media/", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def media(self, request: web.Request) -> web.StreamResponse:
        """One kept original, if the link's signature is valid and unexpired."""
        query = request.rel_url.query
        try:
            path = self.originals.servable(
                request.match_info["name"], query.get("exp", ""), query.get("sig", "")
            )
        except BadSignature:
            return web.Response(status=403, text="forbidden")
        except NotKept:
            return web.Response(status=404, text="not found")
        headers = {
            "Content-Type": "video/mp4",
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        }
        return web.FileResponse(path, headers=headers)


async def start_media_server(config: Config, clock: Clock = utc_now) -> MediaServer | None:
    """Start the media server the config asks for; None when it asks for none.

    A port that cannot be bound is logged as an error and the bot runs on (as the health
    endpoint does): posts still carry their files; only the links do not answer.
    """
    originals = originals_for(config.media, config.storage.media_dir, clock)
    if originals is None:
        return None
    server = MediaServer(originals, host=config.media.host, port=config.media.port)
    try:
        await server.start()
    except OSError as exc:
        log.error(
            "media server could not listen on %s:%s: %s; the links to originals will not answer",
            config.media.host,
            config.media.port,
            exc,
        )
        await server.stop()
        return None
    return server
