"""``/healthz`` and ``/metrics`` on the real bot (BotHarness), plus the pure health rules."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.config import Config, HealthConfig
from bot.emulators.harness import BotHarness
from bot.ops.health import evaluate, probe_main, probe_url
from bot.ops.metrics import operation_of, outcome_of

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_health(port: int):
    def configure(config: Config) -> Config:
        return dataclasses.replace(config, health=HealthConfig(enabled=True, port=port))

    return configure


def sample(metrics: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text format (None when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    found = re.search(r"^" + pattern + r"$", metrics, re.M)
    return float(found.group(1)) if found else None


async def get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(f"http://127.0.0.1:{port}{path}", timeout=5)


async def healthy(port: int) -> httpx.Response | None:
    response = await get(port, "/healthz")
    return response if response.status_code == 200 else None


@pytest.mark.asyncio
async def test_healthz_is_ok_and_metrics_count_tasks_requests_and_deliveries(tmp_path: Path):
    port = free_port()
    async with BotHarness(tmp_path, job_seconds=0.5, configure=with_health(port)) as h:
        ok = await h.wait_for(lambda: healthy(port), what="/healthz 200")
        assert ok.json()["status"] == "ok" and ok.json()["failed"] == []
        assert set(ok.json()["checks"]) == {"gateway", "scheduler", "poller"}

        ix = await h.discord.slash(h.alice, h.channel, "sora", {"prompt": "a lighthouse"})
        await ix.original_message()
        await h.discord.wait_for_message(lambda m: bool(m.attachments), timeout=15)
        store = h.store
        assert store is not None

        async def delivered() -> bool:
            return (await store.count_by_delivery_state()).get("delivered") == 1

        await h.wait_for(delivered, what="the delivery")

        async def counted() -> httpx.Response | None:  # rounds count when they end
            response = await get(port, "/metrics")
            return response if sample(response.text, "sora_bot_deliveries_total") == 1.0 else None

        response = await h.wait_for(counted, what="the delivery to be counted")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = response.text
        assert sample(text, "sora_bot_tasks", status="completed") == 1.0
        assert sample(text, "sora_bot_tasks", status="failed") == 0.0
        assert sample(text, "sora_bot_task_deliveries", state="delivered") == 1.0
        assert (
            sample(text, "sora_bot_upstream_requests_total", operation="create", outcome="ok")
            == 1.0
        )
        assert (
            sample(text, "sora_bot_upstream_requests_total", operation="retrieve", outcome="ok")
            >= 1
        )
        assert (
            sample(text, "sora_bot_upstream_requests_total", operation="content", outcome="ok")
            == 1.0
        )
        count = sample(
            text, "sora_bot_upstream_request_seconds_count", operation="create", outcome="ok"
        )
        assert count == 1.0
        assert sample(text, "sora_bot_deliveries_total") == 1.0
        assert sample(text, "sora_bot_gateway_connected") == 1.0
        lag = sample(text, "sora_bot_seconds_since_last_poll")
        assert lag is not None and lag >= 0


@pytest.mark.asyncio
async def test_an_undeliverable_post_is_counted_as_a_delivery_failure(tmp_path: Path):
    port = free_port()
    async with BotHarness(tmp_path, job_seconds=0.3, configure=with_health(port)) as h:
        h.discord.inject(
            "POST",
            r"/channels/\d+/messages$",
            403,
            {"message": "Missing Permissions", "code": 50013},
        )
        ix = await h.discord.slash(h.alice, h.channel, "sora", {"prompt": "a quiet pond"})
        await ix.original_message()
        store = h.store
        assert store is not None

        async def given_up() -> bool:
            return (await store.count_by_delivery_state()).get("undeliverable") == 1

        await h.wait_for(given_up, what="the delivery to be given up")

        async def counted() -> str | None:  # metrics count at the end of each posting round
            text = (await get(port, "/metrics")).text
            undeliverable = sample(text, "sora_bot_delivery_failures_total", kind="undeliverable")
            return text if undeliverable == 1.0 else None

        text = await h.wait_for(counted, what="the give-up to be counted")
        assert sample(text, "sora_bot_deliveries_total") == 0.0


@pytest.mark.asyncio
async def test_healthz_is_503_naming_the_scheduler_when_it_stops(tmp_path: Path):
    port = free_port()
    async with BotHarness(tmp_path, configure=with_health(port)) as h:
        await h.wait_for(lambda: healthy(port), what="/healthz 200")
        assert h.bot is not None
        h.bot.scheduler.shutdown(wait=False)
        response = await get(port, "/healthz")
        assert response.status_code == 503
        assert response.json()["failed"] == ["scheduler"]
        assert response.json()["checks"]["scheduler"] == {"ok": False, "detail": "stopped"}
        text = (await get(port, "/metrics")).text
        assert sample(text, "sora_bot_scheduler_running") == 0.0


@pytest.mark.asyncio
async def test_healthz_is_503_naming_the_gateway_after_the_bot_disconnects(tmp_path: Path):
    port = free_port()
    async with BotHarness(tmp_path, configure=with_health(port)) as h:
        await h.wait_for(lambda: healthy(port), what="/healthz 200")
        assert h.bot is not None
        await h.bot.close()
        response = await get(port, "/healthz")
        assert response.status_code == 503
        body = response.json()
        assert (
            "gateway" in body["failed"] and body["checks"]["gateway"]["detail"] == "not connected"
        )
        assert body["status"] == "unhealthy"


@pytest.mark.asyncio
async def test_the_container_probe_follows_the_endpoint(tmp_path: Path):
    port = free_port()
    env = {"SORA_BOT_HEALTH_URL": f"http://127.0.0.1:{port}/healthz"}
    async with BotHarness(tmp_path, configure=with_health(port)) as h:
        await h.wait_for(lambda: healthy(port), what="/healthz 200")
        assert await asyncio.to_thread(probe_main, env) == 0
        assert h.bot is not None
        h.bot.scheduler.shutdown(wait=False)
        assert await asyncio.to_thread(probe_main, env) == 1
    assert await asyncio.to_thread(probe_main, env) == 1, "nothing listens any more"


@pytest.mark.asyncio
async def test_the_probe_asks_nothing_when_the_endpoint_is_disabled(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("[health]\nenabled = false\n")
    assert probe_url({"SORA_BOT_CONFIG": str(config)}) is None
    assert await asyncio.to_thread(probe_main, {"SORA_BOT_CONFIG": str(config)}) == 0
    config.write_text('[health]\nenabled = true\nhost = "0.0.0.0"\nport = 9100\n')
    assert probe_url({"SORA_BOT_CONFIG": str(config)}) == "http://127.0.0.1:9100/healthz"
    config.write_text("[health]\nport = 0\n")
    assert await asyncio.to_thread(probe_main, {"SORA_BOT_CONFIG": str(config)}) == 1


def test_poller_check_fails_when_the_last_round_is_too_old_or_missing():
    fresh = evaluate(
        gateway_connected=True,
        scheduler_running=True,
        last_poll_at=NOW - timedelta(seconds=3),
        now=NOW,
        stale_after=20,
    )
    assert fresh.healthy and fresh.checks["poller"]["seconds_since_last_poll"] == 3.0
    stale = evaluate(
        gateway_connected=True,
        scheduler_running=True,
        last_poll_at=NOW - timedelta(seconds=21),
        now=NOW,
        stale_after=20,
    )
    assert not stale.healthy and stale.body()["failed"] == ["poller"]
    assert stale.checks["poller"]["detail"] == "last round 21.0s ago (limit 20s)"
    never = evaluate(
        gateway_connected=False, scheduler_running=True, last_poll_at=None, now=NOW, stale_after=20
    )
    assert never.body()["failed"] == ["gateway", "poller"]


def test_upstream_requests_are_labelled_by_operation_and_outcome():
    assert operation_of("POST", "/v1/videos") == "create"
    assert operation_of("POST", "/v1/videos/video_1/remix") == "remix"
    assert operation_of("GET", "/v1/videos/video_1") == "retrieve"
    assert operation_of("GET", "/v1/videos/video_1/content") == "content"
    assert operation_of("DELETE", "/v1/videos/video_1") == "other"
    assert [outcome_of(s) for s in (200, 302, 404, 429, 503)] == [
        "ok",
        "ok",
        "client_error",
        "rate_limited",
        "server_error",
    ]


@pytest.mark.asyncio
async def test_a_busy_health_port_is_logged_and_the_bot_keeps_working(tmp_path: Path, caplog):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        async with BotHarness(tmp_path, configure=with_health(port)) as h:
            assert h.observability is not None and h.observability.server is None
            ix = await h.discord.slash(h.alice, h.channel, "sora", {"prompt": "still works"})
            card = await ix.original_message()
            assert not card.ephemeral
    assert f"health endpoint could not listen on 127.0.0.1:{port}" in caplog.text
