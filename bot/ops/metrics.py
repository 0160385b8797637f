"""Prometheus metrics for one bot process, in a private registry.

What is measured and where it comes from:

* ``sora_bot_tasks{status}`` and ``sora_bot_task_deliveries{state}``: counted in SQLite
  when ``/metrics`` is scraped (``refresh_tasks``), so they are right after a restart;
* ``sora_bot_upstream_requests_total{operation,outcome}`` and
  ``sora_bot_upstream_request_seconds{operation,outcome}``: httpx event hooks on the
  client the Videos API client uses. Every attempt counts (retries included); the
  latency is the time until the response headers arrived. Requests that got no answer
  at all (timeouts, refused connections) never reach a response hook: they show up in
  ``sora_bot_poll_errors_total`` and in the logs;
* ``sora_bot_poll_rounds_total``, ``sora_bot_poll_errors_total``,
  ``sora_bot_deliveries_total`` and ``sora_bot_delivery_failures_total{kind}``: the
  poller's per-round ``TickSummary`` (``on_tick``);
* ``sora_bot_seconds_since_last_poll``: poll lag, the age of the last completed poll
  round (it grows when polling stalls), set at scrape time;
* ``sora_bot_gateway_connected`` and ``sora_bot_scheduler_running``: 0/1, at scrape time;
* ``sora_bot_discord_rate_limited{scope}`` and ``sora_bot_discord_invalid_requests_10m``:
  Discord's 429s by scope and the invalid requests that count toward its IP ban, from
  aiohttp trace hooks on discord.py's session (``bot.ops.discord_requests``);
* ``sora_bot_outbox_card_edits`` and ``sora_bot_outbox_oldest_seconds``: the status-card
  edits waiting for their channel's budget (``bot.delivery.outbox``), at scrape time.

A private ``CollectorRegistry`` keeps several bots in one process (tests) apart and
leaves out the default process collectors.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.core.models import DeliveryState, TaskStatus
from bot.delivery.outbox import CardEdits
from bot.ops.discord_requests import INVALID_LIMIT, DiscordRequestStats
from bot.polling.poller import TickSummary

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_STARTED = "sora_bot_started"
#: Upstream latency buckets (seconds): creates and status checks are quick, downloads are not.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

_OPERATIONS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"/videos/[^/]+/remix$"), "remix"),
    ("POST", re.compile(r"/videos$"), "create"),
    ("GET", re.compile(r"/videos/[^/]+/content$"), "content"),
    ("GET", re.compile(r"/videos/[^/]+$"), "retrieve"),
    ("GET", re.compile(r"/files/[^/]+$"), "content"),
)


def operation_of(method: str, path: str) -> str:
    """``create``, ``remix``, ``retrieve``, ``content`` or ``other`` for a Videos API request."""
    for wanted, pattern, name in _OPERATIONS:
        if method == wanted and pattern.search(path):
            return name
    return "other"


def outcome_of(status: int) -> str:
    """``ok``, ``rate_limited``, ``client_error`` or ``server_error`` for an HTTP status."""
    if status < 400:
        return "ok"
    if status == 429:
        return "rate_limited"
    return "client_error" if status < 500 else "server_error"


class BotMetrics:
    """The bot's metrics and the hooks that feed them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.tasks = Gauge("sora_bot_tasks", "Tasks by lifecycle status.", ["status"], registry=r)
        self.deliveries_by_state = Gauge(
            "sora_bot_task_deliveries", "Tasks by delivery state.", ["state"], registry=r
        )
        self.upstream_requests = Counter(
            "sora_bot_upstream_requests",
            "Videos API requests answered, by operation and outcome (each retry counts).",
            ["operation", "outcome"],
            registry=r,
        )
        self.upstream_latency = Histogram(
            "sora_bot_upstream_request_seconds",
            "Seconds until the Videos API's response headers arrived.",
            ["operation", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.poll_rounds = Counter("sora_bot_poll_rounds", "Completed poller rounds.", registry=r)
        self.poll_errors = Counter(
            "sora_bot_poll_errors", "Status checks that failed (any upstream error).", registry=r
        )
        self.delivered = Counter(
            "sora_bot_deliveries", "Outcomes (results or failure notices) posted.", registry=r
        )
        self.delivery_failures = Counter(
            "sora_bot_delivery_failures",
            "Posts that failed: retry (will be tried again) or undeliverable (given up).",
            ["kind"],
            registry=r,
        )
        self.poll_lag = Gauge(
            "sora_bot_seconds_since_last_poll",
            "Seconds since the poller last completed a round (-1 before the first).",
            registry=r,
        )
        self.gateway_connected = Gauge(
            "sora_bot_gateway_connected", "1 while the Discord gateway is connected.", registry=r
        )
        self.scheduler_running = Gauge(
            "sora_bot_scheduler_running", "1 while the poll scheduler runs.", registry=r
        )
        for kind in ("retry", "undeliverable"):
            self.delivery_failures.labels(kind=kind)
        self._add_discord_gauges()

    def _add_discord_gauges(self) -> None:
        """What Discord answers (429s, invalid requests) and the card edits waiting."""
        r = self.registry
        self.discord = DiscordRequestStats()
        self.outbox: CardEdits | None = None
        self.outbox_depth = Gauge(
            "sora_bot_outbox_card_edits",
            "Status cards owed an edit, waiting for their channel's budget.",
            registry=r,
        )
        self.outbox_age = Gauge(
            "sora_bot_outbox_oldest_seconds",
            "Seconds the longest-waiting owed card edit has waited.",
            registry=r,
        )
        self.discord_rate_limited = Gauge(
            "sora_bot_discord_rate_limited",
            "Discord answers 429 since start, by X-RateLimit-Scope (cloudflare: no scope).",
            ["scope"],
            registry=r,
        )
        self.discord_invalid = Gauge(
            "sora_bot_discord_invalid_requests_10m",
            "401/403/429 answers (not shared-scope 429s) in the last 10 minutes; "
            f"Discord bans the IP at {INVALID_LIMIT}.",
            registry=r,
        )

    # --- feeding --------------------------------------------------------------------------

    def httpx_event_hooks(self) -> dict[str, list[Callable[[Any], Awaitable[None]]]]:
        """``event_hooks`` for the ``httpx.AsyncClient`` the Videos API client uses."""
        return {"request": [self._on_request], "response": [self._on_response]}

    async def _on_request(self, request: httpx.Request) -> None:
        request.extensions[_STARTED] = time.perf_counter()

    async def _on_response(self, response: httpx.Response) -> None:
        request = response.request
        operation = operation_of(request.method, request.url.path)
        outcome = outcome_of(response.status_code)
        self.upstream_requests.labels(operation=operation, outcome=outcome).inc()
        started = request.extensions.get(_STARTED)
        if isinstance(started, float):
            elapsed = max(time.perf_counter() - started, 0.0)
            self.upstream_latency.labels(operation=operation, outcome=outcome).observe(elapsed)

    def on_tick(self, summary: TickSummary) -> None:
        """The poller's hook: count what one round did."""
        self.poll_rounds.inc()
        self.poll_errors.inc(summary.errors)
        self.delivered.inc(summary.delivered)
        self.delivery_failures.labels(kind="retry").inc(summary.delivery_retries)
        self.delivery_failures.labels(kind="undeliverable").inc(summary.undeliverable)

    def refresh_tasks(self, by_status: Mapping[str, int], by_state: Mapping[str, int]) -> None:
        """Set the task gauges from fresh counts (every known status shows, 0 if none)."""
        for status in TaskStatus:
            self.tasks.labels(status=status.value).set(by_status.get(status.value, 0))
        for state in DeliveryState:
            self.deliveries_by_state.labels(state=state.value).set(by_state.get(state.value, 0))

    def refresh_state(
        self, *, gateway: bool, scheduler: bool, seconds_since_poll: float | None
    ) -> None:
        """Set the gauges that describe the process right now."""
        self.gateway_connected.set(1 if gateway else 0)
        self.scheduler_running.set(1 if scheduler else 0)
        self.poll_lag.set(-1 if seconds_since_poll is None else seconds_since_poll)
        for scope in ("user", "global", "shared", "cloudflare"):
            self.discord_rate_limited.labels(scope=scope).set(self.discord.rate_limited[scope])
        self.discord_invalid.set(self.discord.invalid_last_10_minutes())
        if self.outbox is not None:
            self.outbox_depth.set(self.outbox.depth)
            self.outbox_age.set(self.outbox.oldest_age())

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
