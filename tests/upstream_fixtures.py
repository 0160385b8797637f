"""Fixtures and helpers for the upstream client / emulator tests.

Test modules import the fixtures they use in the re-export form
``from tests.upstream_fixtures import fake_upstream as fake_upstream`` (pytest finds
fixtures in a module's namespace; the ``as`` form keeps ruff's F401/F811 quiet) and the
plain helpers by name. Fixture names are prefixed so they cannot be confused with
fixtures in ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.emulators.fake_upstream import FakeUpstream
from bot.upstream import OpenAIVideosClient

#: The emulator's key. Long and distinctive, so a leak is easy to find in text.
API_KEY = "sk-test-3f9a1c77e2b04d5c8a6e-LEAKCHECK"


class FakeClock:
    """A monotonic clock for the emulator that only moves when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSleep:
    """A ``sleep`` for ``OpenAIVideosClient`` that records delays and returns at once.

    ``before_next`` (an async callable) runs once, at the first sleep: tests use it to
    change the world between two attempts (e.g. start a server).
    """

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.before_next: Callable[[], Awaitable[Any]] | None = None

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        hook, self.before_next = self.before_next, None
        if hook is not None:
            await hook()
        await asyncio.sleep(0)


def make_client(
    http: httpx.AsyncClient, base_url: str, sleep: RecordingSleep, **overrides: Any
) -> OpenAIVideosClient:
    """A ``OpenAIVideosClient`` with test-friendly timeouts (override any keyword)."""
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "json_timeout": 2.0,
        "download_timeout": 10.0,
        "max_retries": 3,
        "sleep": sleep,
    }
    options.update(overrides)
    return OpenAIVideosClient(http, base_url=base_url, **options)


def free_port() -> int:
    """A TCP port on 127.0.0.1 with (right now) nothing listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_until(predicate: Callable[[], bool], within: float = 3.0) -> None:
    """Yield to the event loop until ``predicate()`` holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def exception_texts(exc: BaseException) -> list[str]:
    """str, repr and args of an exception and every exception chained to it."""
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), *map(repr, current.args)]
        texts += [repr(v) for v in vars(current).values()] if hasattr(current, "__dict__") else []
        current = current.__cause__ or current.__context__
    return texts


@pytest.fixture
def upstream_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def upstream_sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest_asyncio.fixture
async def fake_upstream(upstream_clock: FakeClock) -> AsyncIterator[FakeUpstream]:
    """An OpenAI-dialect emulator whose jobs take 10 s on ``upstream_clock``."""
    async with FakeUpstream(api_key=API_KEY, job_seconds=10.0, clock=upstream_clock) as up:
        yield up


@pytest_asyncio.fixture
async def upstream_http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
def videos_client(
    upstream_http: httpx.AsyncClient, fake_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> OpenAIVideosClient:
    return make_client(upstream_http, fake_upstream.base_url, upstream_sleeps)
