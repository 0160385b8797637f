"""Build the adapter for a dialect: the one place that knows every adapter class."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from bot.core.dialects import Dialect
from bot.upstream.chat_completions import ChatCompletionsClient
from bot.upstream.generations import GenerationsClient
from bot.upstream.openai_videos import OpenAIVideosClient
from bot.upstream.provider import VideoProvider
from bot.upstream.transport import RetrySettings, Transport
from bot.upstream.values import DialectProbe
from bot.upstream.video_create import VideoCreateClient


class AdapterClass(Protocol):
    """What every adapter class offers besides the ``VideoProvider`` methods."""

    def __call__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        default_model: str | None = None,
        listed_models: tuple[str, ...] = (),
        json_timeout: float = 30.0,
        download_timeout: float = 300.0,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> VideoProvider: ...

    @staticmethod
    async def probe(transport: Transport, listed_models: tuple[str, ...]) -> DialectProbe: ...


#: The adapter of each dialect.
ADAPTERS: dict[Dialect, AdapterClass] = {
    Dialect.OPENAI: OpenAIVideosClient,
    Dialect.CHAT: ChatCompletionsClient,
    Dialect.GENERATIONS: GenerationsClient,
    Dialect.VIDEO_CREATE: VideoCreateClient,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class ClientSettings:
    """Timeouts and retries shared by every adapter."""

    json_timeout: float = 30.0
    download_timeout: float = 300.0
    max_retries: int = 4


def make_transport(
    http: httpx.AsyncClient, *, base_url: str, api_key: str, settings: ClientSettings | None = None
) -> Transport:
    """A transport for detection requests (the adapters build their own)."""
    settings = settings or ClientSettings()
    return Transport(
        http,
        base_url=base_url,
        api_key=api_key,
        settings=RetrySettings(
            json_timeout=settings.json_timeout,
            download_timeout=settings.download_timeout,
            max_retries=settings.max_retries,
        ),
    )


def make_provider(
    dialect: Dialect,
    http: httpx.AsyncClient,
    *,
    base_url: str,
    api_key: str,
    default_model: str | None = None,
    listed_models: tuple[str, ...] = (),
    settings: ClientSettings | None = None,
    lacks: frozenset[str] = frozenset(),
) -> VideoProvider:
    """The adapter for ``dialect`` over ``http``; ``lacks``: what detection saw missing."""
    settings = settings or ClientSettings()
    provider = ADAPTERS[dialect](
        http,
        base_url=base_url,
        api_key=api_key,
        default_model=default_model,
        listed_models=listed_models,
        json_timeout=settings.json_timeout,
        download_timeout=settings.download_timeout,
        max_retries=settings.max_retries,
    )
    if lacks and isinstance(provider, OpenAIVideosClient):
        provider.assume_missing(lacks)
    return provider
