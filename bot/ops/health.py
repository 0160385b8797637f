"""The optional HTTP endpoint: ``/healthz`` for orchestrators, ``/metrics`` for Prometheus.

Off by default; ``[health] enabled = true`` serves it on ``host:port`` (``127.0.0.1:8080``).

``/healthz`` answers 200 when all three checks pass, else 503; the JSON body names
each check and says which failed::

    {"status": "unhealthy", "failed": ["gateway"],
     "checks": {"gateway": {"ok": false, "detail": "not connected"}, ...}}

* ``gateway``: discord.py is logged in, ready and its websocket is open;
* ``scheduler``: the APScheduler that drives the poller is running;
* ``poller``: the last poll round completed less than ``stale_after`` seconds ago
  (``STALE_TICKS`` ticks, at least ``MIN_STALE_SECONDS``: a round that downloads a
  large video legitimately takes a while). A round counts even when the upstream
  answered errors: a broken upstream is not fixed by restarting the bot.

``python -m bot.ops.health`` is the container health probe: it reads the same config as
the bot and exits 0 when the endpoint is disabled (nothing to check) or answers 200.
``$SORA_BOT_HEALTH_URL`` overrides the address it asks.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from bot.config import Config, ConfigError, load_config
from bot.ops.metrics import CONTENT_TYPE, BotMetrics

log = logging.getLogger(__name__)

STALE_TICKS = 10
MIN_STALE_SECONDS = 120.0
ENV_HEALTH_URL = "SORA_BOT_HEALTH_URL"
PROBE_TIMEOUT = 4.0

Counts = tuple[Mapping[str, int], Mapping[str, int]]


@dataclass(frozen=True)
class Probe:
    """What the endpoint reads from the running bot, as plain callables (no Discord types)."""

    gateway_connected: Callable[[], bool]
    scheduler_running: Callable[[], bool]
    last_poll_at: Callable[[], datetime | None]
    now: Callable[[], datetime]
    task_counts: Callable[[], Awaitable[Counts]]


def probe_bot(bot: Any) -> Probe:
    """A ``Probe`` of a ``SoraBot`` (duck-typed: this module stays free of discord imports)."""

    def gateway_connected() -> bool:
        ws = getattr(bot, "ws", None)
        return bool(bot.is_ready() and not bot.is_closed() and ws is not None and ws.open)

    async def task_counts() -> Counts:
        return (
            await bot.store.count_by_status(),
            await bot.store.count_by_delivery_state(),
        )

    return Probe(
        gateway_connected=gateway_connected,
        scheduler_running=lambda: bool(bot.scheduler.running),
        last_poll_at=lambda: bot.poller.last_tick_at,
        now=bot.clock,
        task_counts=task_counts,
    )


@dataclass(frozen=True)
class HealthReport:
    """The outcome of the three checks."""

    checks: dict[str, dict[str, Any]]

    @property
    def healthy(self) -> bool:
        """True when every check passed."""
        return all(check["ok"] for check in self.checks.values())

    def body(self) -> dict[str, Any]:
        """The JSON body of ``/healthz``."""
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "failed": [name for name, check in self.checks.items() if not check["ok"]],
            "checks": self.checks,
        }


def evaluate(
    *,
    gateway_connected: bool,
    scheduler_running: bool,
    last_poll_at: datetime | None,
    now: datetime,
    stale_after: float,
) -> HealthReport:
    """Judge the bot's state (pure, so every rule is easy to test)."""
    age = None if last_poll_at is None else max((now - last_poll_at).total_seconds(), 0.0)
    if age is None:
        poller = {"ok": False, "detail": "no poll round has completed yet"}
    else:
        fresh = age <= stale_after
        poller = {
            "ok": fresh,
            "detail": f"last round {age:.1f}s ago (limit {stale_after:g}s)",
            "seconds_since_last_poll": round(age, 3),
        }
    return HealthReport(
        {
            "gateway": {
                "ok": gateway_connected,
                "detail": "connected" if gateway_connected else "not connected",
            },
            "scheduler": {
                "ok": scheduler_running,
                "detail": "running" if scheduler_running else "stopped",
            },
            "poller": poller,
        }
    )


def stale_after_for(config: Config) -> float:
    """How old the last poll round may be before ``/healthz`` fails."""
    return max(STALE_TICKS * config.poller.tick_seconds, MIN_STALE_SECONDS)


class HealthServer:
    """An aiohttp server with ``/healthz`` and ``/metrics``."""

    def __init__(
        self,
        probe: Probe,
        metrics: BotMetrics,
        *,
        host: str,
        port: int,
        stale_after: float,
    ) -> None:
        self.probe = probe
        self.metrics = metrics
        self.host = host
        self.requested_port = port
        self.stale_after = stale_after
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 picks a free one; see ``self.port``)."""
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_page)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.requested_port).start()
        self.port = self._runner.addresses[0][1]
        log.info("health endpoint on http://%s:%s (/healthz, /metrics)", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def report(self) -> HealthReport:
        """The checks, now."""
        probe = self.probe
        return evaluate(
            gateway_connected=probe.gateway_connected(),
            scheduler_running=probe.scheduler_running(),
            last_poll_at=probe.last_poll_at(),
            now=probe.now(),
            stale_after=self.stale_after,
        )

    async def healthz(self, request: web.Request) -> web.Response:
        """200 with the checks when healthy, 503 naming the failed ones otherwise."""
        report = self.report()
        if not report.healthy:
            log.info("health check failed: %s", ", ".join(report.body()["failed"]))
        return web.json_response(report.body(), status=200 if report.healthy else 503)

    async def metrics_page(self, request: web.Request) -> web.Response:
        """Every metric, with the task counts fresh from SQLite."""
        report = self.report()
        poller = report.checks["poller"]
        self.metrics.refresh_state(
            gateway=report.checks["gateway"]["ok"],
            scheduler=report.checks["scheduler"]["ok"],
            seconds_since_poll=poller.get("seconds_since_last_poll"),
        )
        try:
            by_status, by_state = await self.probe.task_counts()
        except (RuntimeError, sqlite3.Error) as exc:
            log.warning("metrics: task counts unavailable (%s)", exc)
        else:
            self.metrics.refresh_tasks(by_status, by_state)
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


class Observability:
    """Metrics for one bot process plus, when ``[health] enabled``, the HTTP endpoint.

    Create it before the HTTP client (``httpx_event_hooks``), ``attach`` it to the bot
    before the bot starts, ``close`` it after the bot closed and before the database.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = BotMetrics()
        self.server: HealthServer | None = None

    def httpx_event_hooks(self) -> dict[str, list[Callable[[Any], Awaitable[None]]]]:
        """Hooks for the Videos API's ``httpx.AsyncClient``."""
        return self.metrics.httpx_event_hooks()

    def discord_trace(self) -> aiohttp.TraceConfig:
        """The ``http_trace`` for the bot's discord.py client (its answers are counted)."""
        return self.metrics.discord.trace_config()

    async def attach(self, bot: Any) -> None:
        """Count the bot's poll rounds and, if enabled, start serving ``/healthz``."""
        bot.poller.on_tick = self.metrics.on_tick
        self.metrics.outbox = bot.poller.cards
        health = self.config.health
        if not health.enabled:
            return
        server = HealthServer(
            probe_bot(bot),
            self.metrics,
            host=health.host,
            port=health.port,
            stale_after=stale_after_for(self.config),
        )
        try:
            await server.start()
        except OSError as exc:
            # The bot's job matters more than its endpoint: keep running, say why loudly
            # (the container's health check then reports the missing endpoint).
            log.error(
                "health endpoint could not listen on %s:%s: %s", health.host, health.port, exc
            )
            await server.stop()
            return
        self.server = server

    async def close(self) -> None:
        """Stop the endpoint (if it runs)."""
        if self.server is not None:
            await self.server.stop()
            self.server = None


# --- the container health probe ---------------------------------------------------------------


def probe_url(env: Mapping[str, str] | None = None) -> str | None:
    """Where the probe asks: ``$SORA_BOT_HEALTH_URL``, else the config's endpoint, else None.

    Raises ``ConfigError`` when the config cannot be read (the bot could not run either).
    """
    env = os.environ if env is None else env
    if env.get(ENV_HEALTH_URL):
        return env[ENV_HEALTH_URL]
    health = load_config(env=env, require_secrets=False).health
    if not health.enabled:
        return None
    host = health.host if health.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{health.port}/healthz"


def probe_main(env: Mapping[str, str] | None = None) -> int:
    """0 when healthy or when there is no endpoint to ask; 1 otherwise (one line on stderr)."""
    try:
        url = probe_url(env)
    except ConfigError as exc:
        sys.stderr.write(f"unhealthy: configuration error: {exc}\n")
        return 1
    if url is None:
        return 0
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as response:
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        failed = _failed_checks(exc.read())
        sys.stderr.write(f"unhealthy: {url} answered {exc.code}{failed}\n")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        sys.stderr.write(f"unhealthy: {url} did not answer ({exc})\n")
    return 1


def _failed_checks(body: bytes) -> str:
    try:
        failed = json.loads(body).get("failed") or []
    except (ValueError, AttributeError):
        return ""
    return f" (failed: {', '.join(map(str, failed))})" if failed else ""


if __name__ == "__main__":
    sys.exit(probe_main())
