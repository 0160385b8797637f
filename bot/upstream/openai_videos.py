"""The OpenAI Videos dialect: ``POST /videos``, ``/videos/{id}/remix``, ``GET /videos/{id}``
and ``/videos/{id}/content``, as OpenAI and the relays that copy it speak it.

No Discord here. Answers become ``UpstreamJob`` values (``bot.upstream.parsing``),
failures the ``bot.core.errors`` vocabulary (``bot.upstream.failures``), requests go
through ``bot.upstream.transport``. What may be asked for comes from
``bot.core.video_spec``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bot.core.dialects import Dialect
from bot.core.errors import InvalidInput, UnsupportedByUpstream
from bot.core.video_spec import (
    API_MAX_PROMPT_CHARS,
    REFERENCE_IMAGE_TYPES,
    VIDEO_MODELS,
    VIDEO_SECONDS,
    VIDEO_SIZES,
    seconds_text,
)
from bot.upstream.failures import Operation
from bot.upstream.models_list import list_models
from bot.upstream.parsing import parse_job
from bot.upstream.provider import Variant
from bot.upstream.transport import RetrySettings, Transport
from bot.upstream.values import (
    DialectProbe,
    Download,
    ReferenceImage,
    UpstreamJob,
    VideoCapabilities,
)

#: The made-up id the dialect probe looks up (it creates nothing).
CREDENTIAL_PROBE_ID = "video_credential_check_0000"

#: What this dialect offers.
OPENAI_VIDEOS_CAPABILITIES = VideoCapabilities(
    dialect=Dialect.OPENAI,
    can_remix=True,
    can_list=True,
    can_extend=True,
    image_input=True,
    models=VIDEO_MODELS,
    sizes=VIDEO_SIZES,
    seconds=VIDEO_SECONDS,
    can_cancel=True,
)


def _job(data: object, headers: Mapping[str, str], secret: str) -> UpstreamJob:
    return parse_job(data, headers=headers, redact=secret)


def _quote(upstream_id: str) -> str:
    return quote(upstream_id, safe="")


def _check_id(upstream_id: str) -> None:
    if not isinstance(upstream_id, str) or not upstream_id.strip():
        raise InvalidInput("video_id", "The video id must not be empty.")


def _check_prompt(prompt: str) -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput("prompt", "The prompt must not be empty.")
    if len(prompt) > API_MAX_PROMPT_CHARS:
        raise InvalidInput(
            "prompt",
            f"The prompt is too long ({len(prompt)} characters, max {API_MAX_PROMPT_CHARS}).",
        )


def _check_create(
    caps: VideoCapabilities,
    prompt: str,
    model: str,
    seconds: int,
    size: str,
    reference: ReferenceImage | None,
) -> None:
    _check_prompt(prompt)
    if not isinstance(model, str) or not model.strip():
        raise InvalidInput("model", "The model name must not be empty.")
    if isinstance(seconds, bool) or seconds not in caps.seconds:
        allowed = seconds_text(caps.seconds, last=" or ")
        raise InvalidInput("seconds", f"The duration must be {allowed} seconds.")
    if size not in caps.sizes:
        raise InvalidInput("size", f"The size must be one of {', '.join(caps.sizes)}.")
    if reference is not None:
        if reference.content_type not in REFERENCE_IMAGE_TYPES:
            raise InvalidInput("reference", "The reference image must be a JPEG, PNG or WebP.")
        if not reference.data:
            raise InvalidInput("reference", "The reference image is empty.")


class OpenAIVideosClient:
    """A ``VideoProvider`` for ``{base_url}/videos...`` over a shared ``httpx.AsyncClient``.

    ``max_retries`` is the number of re-sends after the first attempt (``create`` and
    ``remix`` only where the money rule allows). Waits go through ``sleep`` so tests need
    not really wait.
    """

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
        settings = RetrySettings(
            json_timeout=json_timeout,
            download_timeout=download_timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
        )
        self._transport = Transport(
            http, base_url=base_url, api_key=api_key, settings=settings, sleep=sleep
        )
        self.default_model = default_model or "sora-2"
        self._listed_models = listed_models

    def __repr__(self) -> str:
        return (
            f"OpenAIVideosClient(base_url={self._transport.base_url!r}, "
            f"default_model={self.default_model!r})"
        )

    def capabilities(self) -> VideoCapabilities:
        """The OpenAI Videos API's sizes, seconds and models (``bot.core.video_spec``).

        Models are narrowed to those the relay lists, when it lists any of them.
        """
        listed = tuple(m for m in OPENAI_VIDEOS_CAPABILITIES.models if m in self._listed_models)
        if not listed:
            return OPENAI_VIDEOS_CAPABILITIES
        return dataclasses.replace(OPENAI_VIDEOS_CAPABILITIES, models=listed)

    @staticmethod
    async def probe(transport: Transport, listed_models: tuple[str, ...]) -> DialectProbe:
        """Whether ``/videos`` exists here, with requests that create nothing."""
        listing = await transport.probe("GET", "/videos", params={"limit": "1"})
        body = listing.json
        if listing.status == 200 and isinstance(body, dict) and isinstance(body.get("data"), list):
            return DialectProbe(
                dialect=Dialect.OPENAI,
                speaks=True,
                can_list=True,
                evidence="GET /v1/videos?limit=1 answered a list",
            )
        lookup = await transport.probe("GET", f"/videos/{_quote(CREDENTIAL_PROBE_ID)}")
        text = lookup.text.lower()
        # "Video with id ... not found" (OpenAI), 400 task_not_exist (new-api); a missing
        # route answers "Invalid URL (GET ...)" or a bare 404 page.
        speaks = (lookup.status == 404 and "not found" in text and "invalid url" not in text) or (
            lookup.status == 400 and "task_not_exist" in text
        )
        return DialectProbe(
            dialect=Dialect.OPENAI,
            speaks=speaks,
            evidence=f"GET /v1/videos/<made-up id> answered HTTP {lookup.status}",
        )

    async def create(
        self,
        *,
        prompt: str,
        model: str | None = None,
        seconds: int,
        size: str,
        reference: ReferenceImage | None = None,
    ) -> UpstreamJob:
        """Start a generation job (multipart/form-data, like current SDKs).

        Costs money: never sent twice unless the first attempt provably did not reach the
        upstream or was answered 429 (``bot.upstream.failures``); otherwise a failure after
        sending raises ``SubmissionUncertain``. Arguments are validated before any request.
        """
        model = self.default_model if model is None else model
        _check_create(self.capabilities(), prompt, model, seconds, size, reference)
        fields: list[tuple[str, tuple[Any, ...]]] = [
            ("prompt", (None, prompt)),
            ("model", (None, model)),
            ("seconds", (None, str(seconds))),
            ("size", (None, size)),
        ]
        if reference is not None:
            fields.append(
                ("input_reference", (reference.filename, reference.data, reference.content_type))
            )
        return await self._transport.request(
            Operation.CREATE, "POST", "/videos", _job, files=fields
        )

    async def remix(self, upstream_id: str, *, prompt: str) -> UpstreamJob:
        """Start a remix of a completed job (JSON body). Costs money: same rule as ``create``."""
        _check_id(upstream_id)
        _check_prompt(prompt)
        path = f"/videos/{_quote(upstream_id)}/remix"
        return await self._transport.request(
            Operation.REMIX, "POST", path, _job, json={"prompt": prompt}
        )

    async def retrieve(self, upstream_id: str) -> UpstreamJob:
        """The job's current state. Retried on transient failures."""
        _check_id(upstream_id)
        path = f"/videos/{_quote(upstream_id)}"
        return await self._transport.request(Operation.RETRIEVE, "GET", path, _job)

    async def download(
        self,
        upstream_id: str,
        *,
        variant: Variant = "video",
        max_bytes: int,
        dest: Path | None = None,
        result_url: str | None = None,
    ) -> Download:
        """Fetch ``/videos/{id}/content`` into memory, or into ``dest`` (via ``dest.part``).

        Redirects are followed without the key leaving the API's origin; more than
        ``max_bytes`` raises ``ContentTooLarge``; a 404/410 raises ``ContentExpired``; a
        broken transfer is retried from the start (see ``Transport.download``).
        """
        _check_id(upstream_id)
        if variant not in ("video", "thumbnail"):
            raise InvalidInput("variant", "The variant must be 'video' or 'thumbnail'.")
        return await self._transport.download(
            f"/videos/{_quote(upstream_id)}/content",
            params={"variant": variant},
            max_bytes=max_bytes,
            dest=dest,
        )

    async def extend(self, upstream_id: str, *, prompt: str, seconds: int) -> UpstreamJob:
        """Continue a completed job (``POST /videos/extensions``)."""
        raise UnsupportedByUpstream("extend", Dialect.OPENAI.value)

    async def list_recent(self, *, limit: int) -> list[UpstreamJob]:
        """The most recent jobs (``GET /videos``)."""
        raise UnsupportedByUpstream("list", Dialect.OPENAI.value)

    async def check_credentials(self) -> None:
        """``GET /models``: creates nothing and every relay answers it (``models_list``)."""
        await list_models(self._transport)

    async def aclose(self) -> None:
        """Nothing runs in the background."""

    async def cancel(self, upstream_id: str) -> None:
        """``DELETE /videos/{id}``: the job and its assets are deleted upstream.

        Free and idempotent, so it is retried like a retrieve (``Operation.RETRIEVE``).
        """
        _check_id(upstream_id)
        path = f"/videos/{_quote(upstream_id)}"
        await self._transport.request(Operation.RETRIEVE, "DELETE", path, _ignored)


def _ignored(data: object, headers: Mapping[str, str], secret: str) -> None:
    """An answer whose body the caller does not need (``video.deleted``)."""
