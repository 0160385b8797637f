"""The chat dialect: Sora through ``POST /v1/chat/completions`` with ``stream: true``.

Spoken by TheSmallHanCat/sora2api and the commercial relays that copy it (docs.laozhang.ai
``sora_video2``...); sources and choices in ``docs/dialects/chat.md``. The options are
encoded in the model id (``bot.upstream.chat_models``), an image is an ``image_url``
content part (a data URI), and the answer is an SSE stream whose text carries progress
and, at the end, ``<video src='URL'>`` (``bot.upstream.chat_stream``).

**The stream is the job.** No route can look a chat job up later: the relay's task id is
never sent. So ``create`` sends the POST once, returns an ``UpstreamJob`` with an id
minted here (``chat-<random>``) as soon as the relay answered 200, and a background task
reads the stream into that job's state; ``retrieve`` answers from the state. The money
rule holds as for every dialect (``bot.upstream.failures``): a create that may have
reached the relay (a 5xx, a timeout, a cut connection) raises ``SubmissionUncertain`` and
is never re-sent; only "no connection made" and 429 are re-sent.

**A restart cuts the stream.** An id this process does not know (the bot restarted, or
``aclose`` ended the stream) is answered as a FAILED job with ``error_code
"stream_lost"`` whose message says so: the relay may have made the video but cannot be
asked for it, and it was not re-sent to avoid paying twice. The task ends at its next
poll - never a silent hang, never a second paid create. Likewise a stream that ends
without a video link (no ``[DONE]``, a cut connection, ``stream_idle_timeout`` of
silence) fails with ``stream_broken`` and the same promise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
import random
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from bot.core.dialects import Dialect
from bot.core.errors import ContentExpired, InvalidInput, UnsupportedByUpstream
from bot.core.models import TaskStatus
from bot.core.video_spec import REFERENCE_IMAGE_TYPES
from bot.upstream.adapter import RelayAdapter
from bot.upstream.chat_models import ChatCatalog, ChatVariant
from bot.upstream.chat_stream import NOT_RESENT, ChatStreamState, StreamOutcome
from bot.upstream.checks import check_prompt
from bot.upstream.failures import MAX_ERROR_BODY, Failure, FailureMapper, Operation
from bot.upstream.provider import Variant
from bot.upstream.transport import Transport
from bot.upstream.values import (
    DialectProbe,
    Download,
    ReferenceImage,
    UpstreamJob,
    VideoCapabilities,
)

log = logging.getLogger(__name__)

#: Ids minted here for chat jobs.
JOB_ID_PREFIX = "chat-"
#: Silence on an open stream longer than this ends it (sora2api speaks every 30 s at most
#: while Sora lists the task, and may be silent for minutes before).
DEFAULT_STREAM_IDLE_TIMEOUT = 600.0
#: No stream is read for longer than this (sora2api gives up after 1500 s itself).
MAX_STREAM_SECONDS = 2 * 3600.0
#: At most this much of a JSON (non-stream) answer is read.
MAX_JSON_ANSWER = 1024 * 1024
#: Finished jobs kept for ``retrieve``; the oldest are dropped beyond this.
MAX_FINISHED_JOBS = 1000
#: What ``retrieve`` says about an id whose stream this process never had (or lost).
STREAM_LOST_MESSAGE = (
    "The bot restarted while the chat relay was still streaming this video, which cut the "
    "stream; the relay may have made the video, but it cannot be asked for it later. " + NOT_RESENT
)


@dataclasses.dataclass(slots=True)
class _ChatJob:
    """One create's stream and what it has said."""

    id: str
    variant: ChatVariant
    state: ChatStreamState
    ended: bool = False
    lost: bool = False
    task: asyncio.Task[None] | None = None

    def snapshot(self) -> UpstreamJob:
        if self.lost:
            return _lost_job(self.id)
        outcome: StreamOutcome = self.state.snapshot(ended=self.ended)
        return UpstreamJob(
            id=self.id,
            status=outcome.status,
            raw_status=outcome.raw_status,
            progress=outcome.progress,
            model=self.variant.family,
            seconds=str(self.variant.seconds),
            size=self.variant.size,
            error_code=outcome.error_code,
            error_message=outcome.error_message,
            result_url=outcome.result_url,
        )


def _lost_job(upstream_id: str) -> UpstreamJob:
    return UpstreamJob(
        id=upstream_id,
        status=TaskStatus.FAILED,
        raw_status="stream_lost",
        progress=0,
        error_code="stream_lost",
        error_message=STREAM_LOST_MESSAGE,
    )


def _check_reference(reference: ReferenceImage | None) -> None:
    if reference is None:
        return
    if reference.content_type not in REFERENCE_IMAGE_TYPES:
        raise InvalidInput("reference", "The reference image must be a JPEG, PNG or WebP.")
    if not reference.data:
        raise InvalidInput("reference", "The reference image is empty.")


def chat_body(prompt: str, model_id: str, reference: ReferenceImage | None) -> dict[str, Any]:
    """The request body: one user message, text (and image) parts, ``stream: true``.

    sora2api reads an image only from a ``data:image/...;base64,`` URL, so that is sent.
    """
    parts: list[dict[str, Any]] = [{"type": "text", "text": prompt}]
    if reference is not None:
        encoded = base64.b64encode(reference.data).decode("ascii")
        url = f"data:{reference.content_type};base64,{encoded}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return {"model": model_id, "stream": True, "messages": [{"role": "user", "content": parts}]}


def _media_type(response: httpx.Response) -> str:
    header: str = response.headers.get("content-type", "")
    return header.split(";", 1)[0].strip().lower()


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return bytes(data[:limit])


class ChatCompletionsClient(RelayAdapter):
    """A ``VideoProvider`` for chat-completions Sora relays (see the module docstring).

    ``stream_idle_timeout``: how long an open stream may be silent before it counts as
    broken. Waits go through ``sleep`` so tests need not really wait.
    """

    dialect = Dialect.CHAT

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
        stream_idle_timeout: float = DEFAULT_STREAM_IDLE_TIMEOUT,
    ) -> None:
        super().__init__(
            http,
            base_url=base_url,
            api_key=api_key,
            default_model=default_model,
            listed_models=listed_models,
            json_timeout=json_timeout,
            download_timeout=download_timeout,
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            sleep=sleep,
        )
        self._http = http
        self._api_key = api_key
        self._failures = FailureMapper(api_key)
        self._sleep = sleep
        self._random = random.Random()
        self._idle_timeout = stream_idle_timeout
        self._catalog = ChatCatalog.for_relay(listed_models)
        self.default_model = self._default_family(default_model)
        self._jobs: dict[str, _ChatJob] = {}

    def __repr__(self) -> str:
        return (
            f"ChatCompletionsClient(base_url={self._transport.base_url!r}, "
            f"default_model={self.default_model!r}, streams={self.open_streams})"
        )

    def _default_family(self, default_model: str | None) -> str:
        if default_model:
            with contextlib.suppress(InvalidInput):
                return self._catalog.family_of(default_model)
        return self._catalog.families[0]

    @property
    def open_streams(self) -> int:
        """How many streams are being read now."""
        return sum(1 for job in self._jobs.values() if not job.ended)

    def capabilities(self) -> VideoCapabilities:
        """Families, sizes and lengths of the video ids the relay lists (else sora2api's)."""
        return VideoCapabilities(
            dialect=Dialect.CHAT,
            can_remix=False,
            can_list=False,
            can_extend=False,
            image_input=True,
            models=self._catalog.families,
            sizes=self._catalog.sizes,
            seconds=self._catalog.seconds,
        )

    @staticmethod
    async def probe(transport: Transport, listed_models: tuple[str, ...]) -> DialectProbe:
        """Recognised from the ids ``GET /v1/models`` listed; sends nothing.

        The dialect's only route is ``POST /chat/completions``, and a POST there with a
        video model may start a paid generation, so nothing else can tell it creates
        nothing. ``transport`` is unused on purpose.
        """
        del transport
        found = ChatCatalog.from_ids(listed_models).variants
        if not found:
            return DialectProbe(
                dialect=Dialect.CHAT,
                speaks=False,
                evidence="GET /v1/models lists no chat-completions Sora model (sora2-*, "
                "sora_video2*)",
            )
        names = ", ".join(variant.model_id for variant in found[:3])
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        return DialectProbe(
            dialect=Dialect.CHAT,
            speaks=True,
            evidence=f"GET /v1/models lists chat-completions Sora models ({names}{more})",
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
        """Open the stream (costs money); the job's id is minted here.

        The options pick the relay's model id (``ChatCatalog.choose``: a length that does
        not exist is rounded up to one that does). Validated before anything is sent.
        """
        check_prompt(prompt)
        _check_reference(reference)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            raise InvalidInput("seconds", "The duration must be a whole number of seconds.")
        family = self._catalog.family_of(self.default_model if model is None else model)
        variant = self._catalog.choose(family, seconds, size)
        response = await self._open(chat_body(prompt, variant.model_id, reference))
        job = _ChatJob(
            JOB_ID_PREFIX + secrets.token_hex(12), variant, ChatStreamState(self._api_key)
        )
        self._jobs[job.id] = job
        job.task = asyncio.create_task(self._follow(job, response), name=f"chat stream {job.id}")
        self._forget_old()
        return job.snapshot()

    async def _open(self, body: dict[str, Any]) -> httpx.Response:
        """Send the POST until the relay answers 2xx; the money rule decides any re-send."""
        attempt = 0
        while True:
            attempt += 1
            failure = await self._attempt(body)
            if isinstance(failure, httpx.Response):
                return failure
            if not failure.retry or attempt > self._settings.max_retries:
                failure.error.detail = failure.reason or None
                log.warning(
                    "chat create failed (attempt %d, giving up): %s", attempt, failure.reason
                )
                raise failure.error
            delay = failure.delay if failure.delay is not None else self._backoff(attempt)
            log.warning(
                "chat create failed (attempt %d): %s; retrying in %.2fs",
                attempt,
                failure.reason,
                delay,
            )
            await self._sleep(delay)

    async def _attempt(self, body: dict[str, Any]) -> httpx.Response | Failure:
        """One POST: the open 2xx response, or what its failure means."""
        timeout = httpx.Timeout(self._settings.json_timeout, read=self._idle_timeout)
        request = self._http.build_request(
            "POST",
            self._transport.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {self._api_key}", "Accept": "text/event-stream"},
            timeout=timeout,
        )
        try:
            # The answer's head must come within json_timeout; the body may then take long.
            async with asyncio.timeout(self._settings.json_timeout):
                response = await self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            return self._failures.transport(Operation.CREATE, exc)
        except TimeoutError:
            return self._failures.transport(
                Operation.CREATE, httpx.ReadTimeout("no answer head in time", request=request)
            )
        if response.is_success:
            return response
        try:
            content = await _read_capped(response, MAX_ERROR_BODY)
        except httpx.HTTPError:
            content = b""
        finally:
            await response.aclose()
        return self._failures.status(
            Operation.CREATE, response.status_code, response.headers, content
        )

    def _backoff(self, attempt: int) -> float:
        settings = self._settings
        ceiling = min(settings.backoff_cap, settings.backoff_base * 2.0 ** (attempt - 1))
        return ceiling * self._random.uniform(0.5, 1.0)

    async def _follow(self, job: _ChatJob, response: httpx.Response) -> None:
        """Read the stream into ``job.state`` until it ends; never raises (but cancels)."""
        state = job.state
        try:
            async with asyncio.timeout(MAX_STREAM_SECONDS):
                if _media_type(response) == "application/json":
                    await self._take_json(state, response)
                else:
                    async for line in response.aiter_lines():
                        state.feed(line)
                        if state.done:
                            break
        except asyncio.CancelledError:
            job.lost = True
            raise
        except TimeoutError:
            state.broken = state.broken or f"it was still open after {MAX_STREAM_SECONDS:g}s"
        except httpx.ReadTimeout:
            state.broken = state.broken or f"nothing arrived for {self._idle_timeout:g}s"
        except httpx.HTTPError as exc:
            state.broken = state.broken or f"the connection ended early: {type(exc).__name__}"
        except Exception:  # a bug here must still end the job, not leave it hanging
            log.exception("chat stream %s: could not be read", job.id)
            state.broken = state.broken or "the bot could not read it"
        finally:
            job.ended = True
            with contextlib.suppress(httpx.HTTPError):
                await response.aclose()
        log.info("chat stream %s ended: %s", job.id, job.snapshot().status)

    @staticmethod
    async def _take_json(state: ChatStreamState, response: httpx.Response) -> None:
        """A relay that answered one ``chat.completion`` instead of a stream."""
        content = await _read_capped(response, MAX_JSON_ANSWER)
        try:
            body = json.loads(content)
        except ValueError:
            state.broken = "the relay's answer is not JSON"
            return
        if isinstance(body, dict):
            state.feed_chunk(body)
        state.done = True

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.ended]
        for job_id in finished[: max(0, len(finished) - MAX_FINISHED_JOBS)]:
            del self._jobs[job_id]

    async def retrieve(self, upstream_id: str) -> UpstreamJob:
        """The job's state from its stream; an id without a stream here is ``stream_lost``."""
        if not isinstance(upstream_id, str) or not upstream_id.strip():
            raise InvalidInput("video_id", "The video id must not be empty.")
        job = self._jobs.get(upstream_id)
        return _lost_job(upstream_id) if job is None else job.snapshot()

    async def download(
        self,
        upstream_id: str,
        *,
        variant: Variant = "video",
        max_bytes: int,
        dest: Path | None = None,
        result_url: str | None = None,
    ) -> Download:
        """``GET`` the link the stream ended with (the key only on the API's own origin)."""
        if variant != "video":
            raise UnsupportedByUpstream("download a thumbnail of", Dialect.CHAT.value)
        if result_url is None:
            job = self._jobs.get(upstream_id)
            result_url = job.snapshot().result_url if job is not None else None
        if not result_url:
            raise ContentExpired("The chat relay's video link is not known any more.")
        return await self._transport.download_url(
            result_url, with_key=True, max_bytes=max_bytes, dest=dest
        )

    async def aclose(self) -> None:
        """Cancel every open stream; their jobs then read as ``stream_lost``."""
        tasks = [
            job.task for job in self._jobs.values() if job.task is not None and not job.task.done()
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
