"""What every dialect adapter shares: its ``Transport``, the key check, and "no such thing".

Each adapter (``openai_videos``, ``chat_completions``, ``generations``, ``video_create``)
subclasses ``RelayAdapter`` and overrides what its dialect has; an operation it lacks
raises ``UnsupportedByUpstream`` and sends nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

import httpx

from bot.core.dialects import Dialect
from bot.core.errors import UnsupportedByUpstream
from bot.upstream.models_list import list_models
from bot.upstream.transport import AnswerWatcher, Pacer, RetrySettings, Transport
from bot.upstream.values import JobPage, UpstreamJob


class RelayAdapter:
    """The shared part of a ``VideoProvider`` over a shared ``httpx.AsyncClient``.

    ``max_retries`` is the number of re-sends after the first attempt (paid requests
    only where the money rule allows). Waits go through ``sleep`` so tests need not
    really wait. ``listed_models`` are the ids ``GET /v1/models`` listed (may be empty).
    """

    dialect: ClassVar[Dialect]
    #: The model used when neither the caller nor the config names one.
    fallback_model: ClassVar[str] = "sora-2"

    def __init__(
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
    ) -> None:
        self._settings = RetrySettings(
            json_timeout=json_timeout,
            download_timeout=download_timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
        )
        self._transport = Transport(
            http, base_url=base_url, api_key=api_key, settings=self._settings, sleep=sleep
        )
        self.default_model = default_model or self.fallback_model
        self._listed_models = listed_models

    def _unsupported(self, operation: str) -> UnsupportedByUpstream:
        return UnsupportedByUpstream(operation, self.dialect.value)

    async def remix(self, upstream_id: str, *, prompt: str) -> UpstreamJob:
        """This dialect has no remix (nothing is sent)."""
        raise self._unsupported("remix")

    async def extend(self, upstream_id: str, *, prompt: str, seconds: int) -> UpstreamJob:
        """This dialect has no extensions (nothing is sent)."""
        raise self._unsupported("extend")

    async def list_recent(self, *, limit: int) -> list[UpstreamJob]:
        """This dialect cannot list jobs (nothing is sent)."""
        raise self._unsupported("list")

    async def list_page(self, *, limit: int, after: str | None = None) -> JobPage:
        """This dialect cannot list jobs (nothing is sent)."""
        raise self._unsupported("list")

    async def cancel(self, upstream_id: str) -> None:
        """This dialect has no way to stop or delete a job (nothing is sent)."""
        raise self._unsupported("cancel")

    def watch_answers(self, watcher: AnswerWatcher, pacer: Pacer | None = None) -> None:
        """Tell ``watcher`` what every answer says about the rate limit; ``pacer`` is
        awaited before a request refused with 429 is sent again."""
        self._transport.watch(watcher, pacer)

    async def check_credentials(self) -> None:
        """``GET /models``: creates nothing and every relay answers it (``models_list``)."""
        await list_models(self._transport)

    async def aclose(self) -> None:
        """Nothing runs in the background."""
