"""The emulator's enforced rate limit, per relay, over real loopback HTTP."""

from __future__ import annotations

import httpx
import pytest

from bot.emulators.fake_upstream import FakeUpstream
from bot.emulators.upstream_rate_limit import RateLimit

pytestmark = pytest.mark.asyncio

KEY = "sk-rate-limit-test"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _get(http: httpx.AsyncClient, up: FakeUpstream) -> httpx.Response:
    return await http.get(f"{up.base_url}/models", headers={"Authorization": f"Bearer {KEY}"})


async def test_openai_limit_counts_admitted_requests_in_a_sliding_window():
    clock = Clock()
    up = FakeUpstream(api_key=KEY, clock=clock, rate_limit=RateLimit(requests=2, per_seconds=10))
    async with up, httpx.AsyncClient() as http:
        first = await _get(http, up)
        clock.now += 1
        second = await _get(http, up)
        assert [first.status_code, second.status_code] == [200, 200]
        assert first.headers["x-ratelimit-limit-requests"] == "2"
        assert first.headers["x-ratelimit-remaining-requests"] == "1"
        assert second.headers["x-ratelimit-remaining-requests"] == "0"
        assert second.headers["x-ratelimit-reset-requests"] == "10s"
        clock.now += 4
        refused = await _get(http, up)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        clock.now += 5  # the first request leaves the window; the refusal never counted
        assert (await _get(http, up)).status_code == 200
        assert (await _get(http, up)).status_code == 429
    assert up.rate_window is not None
    assert (up.rate_window.admitted, up.rate_window.refused) == (3, 2)


async def test_newapi_refuses_in_its_words_without_retry_after_or_headers():
    up = FakeUpstream(
        api_key=KEY, relay="newapi", clock=Clock(), rate_limit=RateLimit(1, per_seconds=60)
    )
    async with up, httpx.AsyncClient() as http:
        ok = await _get(http, up)
        refused = await _get(http, up)
    assert ok.status_code == 200 and "x-ratelimit-remaining-requests" not in ok.headers
    assert refused.status_code == 429 and "retry-after" not in refused.headers
    error = refused.json()["error"]
    assert error["type"] == "new_api_error"
    assert error["message"] == "您已达到请求数限制：1分钟内最多请求1次"


async def test_litellm_refusal_waits_a_whole_window():
    up = FakeUpstream(
        api_key=KEY, relay="litellm", clock=Clock(), rate_limit=RateLimit(1, per_seconds=60)
    )
    async with up, httpx.AsyncClient() as http:
        ok = await _get(http, up)
        refused = await _get(http, up)
    assert ok.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert refused.json()["error"]["message"].startswith("Rate limit exceeded for api_key")
