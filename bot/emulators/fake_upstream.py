"""A local emulator of the OpenAI Videos (Sora) API and of the relays in front of it.

It runs inside the current event loop (tests, benchmarks and the offline demo share it)
or standalone::

    python -m bot.emulators.fake_upstream --port 8089 --api-key sk-test --job-seconds 5

What it serves (``/v1`` prefix, bearer auth):

* ``POST /videos`` (multipart or JSON; validated like the real API), ``GET /videos/{id}``,
  ``POST /videos/{id}/remix`` (completed videos only), ``GET /videos/{id}/content?variant=``
  (a small valid MP4, or a WebP thumbnail).
* ``POST /videos/edits`` (``{prompt, video: {id}}``, remix's successor),
  ``POST /videos/extensions`` (``{prompt, seconds, video: {id}}``; the new job's ``seconds``
  is the stitched total), ``GET /videos?limit=&order=&after=`` (a ``VideoListResource``,
  newest first by default) and ``DELETE /videos/{id}`` (finished jobs only).
* ``GET /files/{name}``: a public, unauthenticated download (the ``video_url`` some relays
  add, and the target of ``redirect_content_to``).

Jobs go ``queued`` -> ``in_progress`` (progress rising) -> ``completed`` after
``job_seconds`` on the injected ``clock``. Prompt words steer single jobs:
``[duration:5]``, ``[bytes:100000]``, ``[real]`` (serve a real H.264/AAC clip, see
``bot.emulators.mp4.real_clip``, instead of a synthetic MP4) and ``[fault:NAME]`` /
``[fault:NAME=ARG]`` with a ``Fault`` value as NAME. ``inject()`` arms faults per request instead.

Relay dialects (see shared/notes/upstream-api.md, section 2):

* ``openai``: ``video_`` + 48 hex ids, all 13 ``VideoResource`` keys, OpenAI error envelope.
* ``newapi``: ``task_...`` ids in both ``id`` and ``task_id``, null fields omitted, task-style
  statuses (``SUBMITTED``, ``IN_PROGRESS``, ``SUCCESS``, ``FAILURE``) and ``"45%"`` progress,
  top-level ``{"code", "message", "data": null}`` error bodies, unknown task -> 400
  ``task_not_exist``, error objects without ``param``/``code``.
* ``litellm``: ``video_`` + base64 ids (contain ``=``, maybe ``+``/``/``), ``usage`` added,
  ``prompt`` dropped, content sent with ``Content-Disposition: attachment``. An id it did
  not issue answers 500 ``litellm.APIConnectionError`` (it cannot route it); a 429 passes
  the backend's Retry-After on as ``llm_provider-retry-after``; every JSON answer carries
  ``x-litellm-*`` headers; an unknown path answers FastAPI's ``{"detail": "Not Found"}``.

Which ``/videos`` routes exist follows each relay's router (docs/dialects/openai.md):
new-api has no list, edits, extensions or delete; LiteLLM no delete. ``absent_routes``
removes more (e.g. ``("remix",)``: a relay whose ``/remix`` is gone, so clients must use
``/videos/edits``). Under ``litellm`` an absent ``list`` answers LiteLLM's 500 (the
proxy routes it, the backend behind cannot list); other absent routes its 404.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib
import json
import logging
import re
import secrets
import string
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from enum import StrEnum
from typing import Any, Literal, Protocol, cast
from urllib.parse import quote

from aiohttp import web

from bot.emulators.mp4 import MIN_MP4_SIZE, iter_mp4, real_clip
from bot.emulators.upstream_rate_limit import (
    Admission,
    RateLimit,
    RequestWindow,
    litellm_detail,
    litellm_headers,
    newapi_message,
    openai_headers,
    openai_message,
    retry_after_text,
)

log = logging.getLogger(__name__)

#: Which relay's flavour of ``/v1/videos`` is served.
Relay = Literal["openai", "newapi", "litellm"]
RELAYS: tuple[Relay, ...] = ("openai", "newapi", "litellm")
#: The dialects the emulator can speak (``bot.core.dialects.Dialect`` values); each but
#: ``openai`` lives in ``bot.emulators.upstream_<name with _ for ->``.
DIALECTS = ("openai", "chat", "generations", "video-create")
#: What ``GET /v1/models`` lists for the openai dialect, and for a relay with no video.
OPENAI_MODELS = ("sora-2", "sora-2-pro")
CHAT_ONLY_MODELS = ("gpt-4o-mini", "text-embedding-3-small")
OPS = ("create", "remix", "extend", "retrieve", "list", "content", "other")
#: The optional ``/videos`` routes, and which ones each relay lacks.
ROUTES = ("remix", "edits", "extensions", "list", "delete")
RELAY_ABSENT_ROUTES: dict[str, frozenset[str]] = {
    "openai": frozenset(),
    "newapi": frozenset({"edits", "extensions", "list", "delete"}),
    "litellm": frozenset({"delete"}),
}
#: What ``extensions`` accepts for ``seconds`` (the spec's description: 4, 8, 12, 16, 20).
EXTEND_SECONDS = ("4", "8", "12", "16", "20")
#: The LiteLLM version the ``litellm`` flavour says it is (issue 13 was seen on it).
LITELLM_VERSION = "1.110.2"
DEFAULT_LIST_LIMIT = 20

VIDEO_SECONDS = ("4", "8", "12")
VIDEO_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
MAX_PROMPT_CHARS = 32000
DEFAULT_MODEL = "sora-2"
#: How long downloadable assets live after completion (the guide says at most one hour).
ASSET_TTL_SECONDS = 3600
#: Share of a job's duration spent ``queued`` before it turns ``in_progress``.
QUEUED_FRACTION = 0.1
#: A 1x1 lossy WebP: what ``variant=thumbnail`` returns.
THUMBNAIL_WEBP = base64.b64decode("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA")

_CREATE_FIELDS = frozenset({"prompt", "model", "seconds", "size", "input_reference"})
_NEWAPI_STATUS = {
    "queued": "SUBMITTED",
    "in_progress": "IN_PROGRESS",
    "completed": "SUCCESS",
    "failed": "FAILURE",
    "expired": "EXPIRED",
}
_NEWAPI_SATURATED = "当前分组上游负载已饱和，请稍后再试"


class Fault(StrEnum):
    """Misbehaviours the emulator can show, per request (``inject``) or per prompt word.

    Request faults replace or disturb one answer; job faults (``MODERATION``, ``EXPIRED``,
    ``STUCK``) change the job the request creates or addresses, and the request then
    proceeds normally.
    """

    RATE_LIMIT = "rate_limit"  # 429; params retry_after (s, or a str sent verbatim), retry_after_ms
    HTTP_500 = "http_500"
    HTTP_502 = "http_502"  # an HTML gateway page
    HTTP_503 = "http_503"  # param empty=True: no body at all
    HTTP_ERROR = "http_error"  # params status, message, code, param, type, shape openai|newapi|text
    RESPOND = "respond"  # answer verbatim: params status, json | body, content_type, headers
    MODERATION_SUBMIT = "moderation_submit"  # 400 moderation_blocked at submit time
    HANG = "hang"  # answer only after params seconds (default 30); a create still creates its job
    MALFORMED = "malformed"  # 200 with a body that is not valid JSON (a create still creates)
    DROP = "drop"  # close the connection: content midway through the body, else without an answer
    MODERATION = "moderation"  # job fault: the job ends failed with error.code moderation_blocked
    EXPIRED = "expired"  # job fault: status `expired`, content gone
    STUCK = "stuck"  # job fault: the job stays queued forever

    @property
    def is_job_fault(self) -> bool:
        """True for faults that change a job's lifecycle rather than one answer."""
        return self in _JOB_FAULTS

    @property
    def refuses(self) -> bool:
        """True for faults that answer instead of the normal handler (nothing is created)."""
        return self in _REFUSALS


_JOB_FAULTS = frozenset({Fault.MODERATION, Fault.EXPIRED, Fault.STUCK})
_REFUSALS = frozenset(
    {
        Fault.RATE_LIMIT,
        Fault.HTTP_500,
        Fault.HTTP_502,
        Fault.HTTP_503,
        Fault.HTTP_ERROR,
        Fault.RESPOND,
        Fault.MODERATION_SUBMIT,
    }
)
#: What the ARG of a ``[fault:NAME=ARG]`` prompt word sets.
_PROMPT_ARG = {Fault.HANG: "seconds", Fault.RATE_LIMIT: "retry_after", Fault.HTTP_ERROR: "status"}


# --- records -------------------------------------------------------------------


@dataclass(slots=True)
class RecordedRequest:
    """One request as the emulator received it, plus how it was answered."""

    method: str
    path: str  # as sent, still percent-encoded
    op: str  # create | remix | retrieve | content | other
    video_id: str | None
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # the emulator's clock
    query: dict[str, str] = field(default_factory=dict)
    status: int | None = None  # None: no answer was sent (connection dropped)
    bytes_sent: int = 0  # body bytes written for streamed downloads
    aborted: bool = False  # a streamed body was cut short (dropped, or the client left)
    dropped: bool = False  # the emulator closed the connection without any answer
    finished: bool = False  # the handler has returned

    @property
    def content_type(self) -> str:
        """The request's content type (with parameters), lower-cased, or ''."""
        return self.headers.get("content-type", "").lower()


_REC_KEY = web.RequestKey("recorded_request", RecordedRequest)


@dataclass(slots=True)
class FormPart:
    """One part of a multipart/form-data body."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


@dataclass(slots=True)
class FakeJob:
    """A video job's state. The lifecycle advances lazily, whenever it is looked at."""

    id: str
    model: str
    prompt: str
    size: str
    seconds: str
    created_at: int  # unix seconds (wall clock)
    started: float  # the emulator clock
    duration: float
    video_bytes: int
    remixed_from: str | None = None
    reference: FormPart | dict[str, Any] | None = None
    moderation: bool = False  # ends failed with moderation_blocked instead of completing
    stuck: bool = False  # stays queued forever
    drop_content: bool = False  # every content download is cut midway
    real: bool = False  # serves ``real_clip()`` instead of a synthetic MP4
    state: Literal["running", "completed", "failed", "expired"] = "running"
    completed_at: int | None = None
    error: dict[str, str] | None = None
    extended_from: str | None = None  # the job an extension continues
    wall_clock: Callable[[], float] = time.time  # unix seconds, for created_at/completed_at

    def status(self, now: float) -> tuple[str, int]:
        """The (status, progress) the API reports at clock time ``now``."""
        self._settle(now)
        if self.state == "completed":
            return "completed", 100
        if self.state == "expired":
            return "expired", 100
        if self.state == "failed":
            return "failed", 0
        elapsed = now - self.started
        if self.stuck or elapsed < self.duration * QUEUED_FRACTION:
            return "queued", 0
        return "in_progress", max(1, min(99, int(100 * elapsed / self.duration)))

    def _settle(self, now: float) -> None:
        if self.state != "running" or self.stuck or now - self.started < self.duration:
            return
        if self.moderation:
            self.fail("moderation_blocked", "The video was blocked by our moderation system.")
        else:
            self.complete()

    def complete(self) -> None:
        self.state = "completed"
        self.completed_at = int(self.wall_clock())
        self.error = None

    def fail(self, code: str, message: str) -> None:
        self.state = "failed"
        self.completed_at = int(self.wall_clock())
        self.error = {"code": code, "message": message}

    def expire(self) -> None:
        self.state = "expired"

    @property
    def expires_at(self) -> int | None:
        if self.completed_at is None or self.state == "failed":
            return None
        return self.completed_at + ASSET_TTL_SECONDS


@dataclass(slots=True)
class _ArmedFault:
    """A fault waiting for matching requests (or one read from a prompt word)."""

    op: str
    fault: Fault
    remaining: int
    video_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _PromptWords:
    """Steering words found in a prompt."""

    duration: float | None = None
    video_bytes: int | None = None
    real: bool = False
    faults: list[_ArmedFault] = field(default_factory=list)

    _PATTERN = re.compile(r"\[(fault|duration|bytes):([^\]\s]+)\]")

    @classmethod
    def parse(cls, prompt: str, op: str) -> _PromptWords:
        words = cls(real="[real]" in prompt)
        for key, value in cls._PATTERN.findall(prompt):
            try:
                words._add(key, value, op)
            except ValueError:
                log.warning("fake upstream: ignoring prompt word [%s:%s]", key, value)
        return words

    def _add(self, key: str, value: str, op: str) -> None:
        if key == "duration":
            self.duration = float(value)
        elif key == "bytes":
            self.video_bytes = max(MIN_MP4_SIZE, int(value))
        else:
            name, _, arg = value.partition("=")
            fault = Fault(name)
            params: dict[str, Any] = {}
            if arg and fault in _PROMPT_ARG:
                params[_PROMPT_ARG[fault]] = int(arg) if fault is Fault.HTTP_ERROR else float(arg)
            self.faults.append(_ArmedFault(op, fault, 1, params=params))

    @property
    def request_fault(self) -> _ArmedFault | None:
        """The fault for the create/remix request itself (``[fault:drop]`` marks the job)."""
        return next(
            (f for f in self.faults if not f.fault.is_job_fault and f.fault is not Fault.DROP),
            None,
        )

    @property
    def job_faults(self) -> set[Fault]:
        return {f.fault for f in self.faults if f.fault.is_job_fault}


class _ApiError(Exception):
    """Raised inside handlers; carries the finished error response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


# --- response helpers ------------------------------------------------------------


def openai_error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """An error in OpenAI's envelope ``{"error": {message, type, param, code}}``."""
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def newapi_error(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    """An error in new-api's task shape ``{"code", "message", "data": null}``."""
    return web.json_response(
        {"code": code, "message": message, "data": None}, status=status, headers=headers
    )


def parse_multipart(body: bytes, content_type: str) -> dict[str, FormPart]:
    """Split a multipart/form-data body into its parts, by field name."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise ValueError("multipart body without a boundary")
    parts: dict[str, FormPart] = {}
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        part_headers = Message()
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            header_name, _, value = line.partition(":")
            part_headers[header_name.strip()] = value.strip()
        name = part_headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("multipart part without a name")
        filename = part_headers.get_param("filename", header="content-disposition")
        parts[name] = FormPart(
            name=name,
            data=data.removesuffix(b"\r\n"),
            filename=filename if isinstance(filename, str) else None,
            content_type=part_headers.get("content-type"),
        )
    return parts


def _invalid(message: str, *, param: str, code: str) -> _ApiError:
    return _ApiError(openai_error(400, message, param=param, code=code))


def _litellm_id(model: str) -> str:
    """LiteLLM's id: ``video_`` + standard base64 of provider, model and upstream id.

    A trailing ``;`` (ignored by LiteLLM's decoder) is added when needed so the base64
    always ends in ``=`` padding: clients must URL-quote ids.
    """
    inner = f"litellm:custom_llm_provider:openai;model_id:{model};video_id:video_{secrets.token_hex(24)}"
    while len(inner) % 3 == 0:
        inner += ";"
    return "video_" + base64.b64encode(inner.encode()).decode()


def litellm_error(
    status: int, message: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    """An error as LiteLLM's proxy sends it (``ProxyException``: ``code`` is a string)."""
    body = {"error": {"message": message, "type": None, "param": None, "code": str(status)}}
    return web.json_response(body, status=status, headers=headers)


def _litellm_headers() -> dict[str, str]:
    """What LiteLLM's proxy adds to its answers (its docs: proxy/response_headers)."""
    return {"x-litellm-version": LITELLM_VERSION, "x-litellm-call-id": secrets.token_hex(16)}


def _newapi_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "task_" + "".join(secrets.choice(alphabet) for _ in range(32))


# --- the emulator ---------------------------------------------------------------


class FakeUpstream:
    """An OpenAI-compatible Videos API on 127.0.0.1, for tests, benchmarks and demos.

    ``requests`` records every request; ``jobs`` holds every job by its public id.
    Optional extras beyond the basics: ``poll_after_ms`` adds the ``openai-poll-after-ms``
    header to job answers; ``wrap_data`` wraps retrieve answers in new-api's generic
    ``{"code": "success", "data": {...}}``; ``chunked_content`` streams downloads without a
    Content-Length; ``redirect_content_to`` (an origin such as ``http://127.0.0.1:PORT``)
    answers content requests with a 302 to that server's public ``/files/`` route;
    ``absent_routes`` drops optional ``/videos`` routes (``ROUTES``) on top of the relay's;
    ``wall_clock`` (unix seconds) stamps ``created_at``/``completed_at``; ``rate_limit``
    enforces a request rate limit per API key the way this relay does
    (``bot.emulators.upstream_rate_limit``, with its sources).
    """

    def __init__(
        self,
        *,
        api_key: str = "sk-test",
        job_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        relay: Relay = "openai",
        dialects: tuple[str, ...] = ("openai",),
        video_url: bool = False,
        video_bytes: int = 4096,
        host: str = "127.0.0.1",
        port: int = 0,
        poll_after_ms: int | None = None,
        wrap_data: bool = False,
        chunked_content: bool = False,
        redirect_content_to: str | None = None,
        absent_routes: tuple[str, ...] = (),
        wall_clock: Callable[[], float] = time.time,
        rate_limit: RateLimit | None = None,
    ) -> None:
        if relay not in RELAYS:
            raise ValueError(f"unknown relay {relay!r}")
        if unknown_routes := [r for r in absent_routes if r not in ROUTES]:
            raise ValueError(f"unknown route {unknown_routes[0]!r}; routes are {ROUTES}")
        unknown = [d for d in dialects if d not in DIALECTS]
        if unknown:
            raise ValueError(f"unknown dialect {unknown[0]!r}")
        if video_bytes < MIN_MP4_SIZE:
            raise ValueError(f"video_bytes must be at least {MIN_MP4_SIZE}")
        self.api_key = api_key
        self.job_seconds = job_seconds
        self.clock = clock
        self.relay: Relay = relay
        self.dialects = tuple(dialects)
        self.video_url = video_url
        self.video_bytes = video_bytes
        self.host = host
        self.port = port
        self.poll_after_ms = poll_after_ms
        self.wrap_data = wrap_data
        self.chunked_content = chunked_content
        self.redirect_content_to = redirect_content_to.rstrip("/") if redirect_content_to else None
        #: The optional ``/videos`` routes this emulator does not serve.
        self.absent_routes = RELAY_ABSENT_ROUTES[relay] | frozenset(absent_routes)
        self.wall_clock = wall_clock
        #: The enforced rate limit's window (None: no limit), with its admitted/refused counts.
        self.rate_window = RequestWindow(rate_limit, clock) if rate_limit is not None else None
        self.requests: list[RecordedRequest] = []
        self.jobs: dict[str, FakeJob] = {}
        self._armed: list[_ArmedFault] = []
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    def __repr__(self) -> str:
        return f"FakeUpstream(relay={self.relay!r}, dialects={self.dialects!r}, port={self.port}, jobs={len(self.jobs)})"

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Listen on ``host:port`` (``port=0`` picks a free port, stored in ``port``)."""
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(self._build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            self.port = self._runner.addresses[0][1]
        log.info(
            "fake upstream (%s: %s) listening on %s",
            self.relay,
            ", ".join(self.dialects) or "no video dialect",
            self.base_url,
        )

    async def stop(self) -> None:
        """Stop listening; hanging answers are released first so shutdown is quick."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeUpstream:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def origin(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL clients use, ``http://HOST:PORT/v1``."""
        return f"{self.origin}/v1"

    # --- test controls -----------------------------------------------------------

    def count(self, op: str, video_id: str | None = None) -> int:
        """How many ``op`` requests arrived (for ``video_id`` only, when given)."""
        return sum(
            1 for r in self.requests if r.op == op and (video_id is None or r.video_id == video_id)
        )

    def inject(
        self,
        op: str,
        fault: Fault | str,
        *,
        times: int = 1,
        video_id: str | None = None,
        **params: Any,
    ) -> None:
        """Arm ``fault`` for the next ``times`` requests of ``op`` (about ``video_id``, if given).

        Faults armed for the same request are used first-in, first-out.
        """
        if op not in OPS:
            raise ValueError(f"op must be one of {OPS}, not {op!r}")
        if times < 1:
            raise ValueError("times must be at least 1")
        self._armed.append(_ArmedFault(op, Fault(fault), times, video_id, dict(params)))

    def clear_faults(self) -> None:
        """Disarm every injected fault."""
        self._armed.clear()

    def finish(self, video_id: str) -> None:
        """Complete a job now."""
        self._job(video_id).complete()

    def fail(
        self,
        video_id: str,
        code: str = "generation_failed",
        message: str = "The video could not be generated.",
    ) -> None:
        """Fail a job now with ``error = {code, message}``."""
        self._job(video_id).fail(code, message)

    def expire(self, video_id: str) -> None:
        """Turn a job's status to ``expired`` and drop its assets."""
        self._job(video_id).expire()

    def _job(self, video_id: str) -> FakeJob:
        try:
            return self.jobs[video_id]
        except KeyError:
            raise KeyError(f"no job {video_id!r}") from None

    # --- plumbing ----------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024**2)
        app.router.add_get("/v1/models", self._handle_models, name="models")
        if "openai" in self.dialects:
            self._add_openai_routes(app)
        for dialect in self.dialects:
            if dialect != "openai":
                _dialect_module(dialect).add_routes(app, self)
        app.router.add_get("/files/{name}", self._handle_public_file, name="file")
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown, name="unknown")
        return app

    def _serves(self, route: str) -> bool:
        return route not in self.absent_routes

    def _add_openai_routes(self, app: web.Application) -> None:
        """The ``/v1/videos`` family, minus the routes this relay lacks (fixed paths first)."""
        router = app.router
        router.add_post("/v1/videos", self._handle_create, name="create")
        if self._serves("list") or self.relay == "litellm":  # LiteLLM always routes the list
            router.add_get("/v1/videos", self._handle_list, name="list")
        if self._serves("edits"):
            router.add_post("/v1/videos/edits", self._handle_edit, name="openai-edits:remix")
        if self._serves("extensions"):
            router.add_post("/v1/videos/extensions", self._handle_extend, name="extend")
        router.add_get("/v1/videos/{video_id}", self._handle_retrieve, name="retrieve")
        if self._serves("delete"):
            router.add_delete("/v1/videos/{video_id}", self._handle_delete, name="delete")
        if self._serves("remix"):
            router.add_post("/v1/videos/{video_id}/remix", self._handle_remix, name="remix")
        router.add_get("/v1/videos/{video_id}/content", self._handle_content, name="content")

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Record the request, check the key (except on public files), run the handler."""
        route = request.match_info.route.name or "unknown"
        op = route.rsplit(":", 1)[-1]  # other dialects name routes "<dialect>:<op>"
        rec = RecordedRequest(
            method=request.method,
            path=request.raw_path.split("?", 1)[0],
            op=op if op in OPS else "other",
            video_id=request.match_info.get("video_id"),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.read(),
            at=self.clock(),
            query=dict(request.query),
        )
        self.requests.append(rec)
        request[_REC_KEY] = rec
        try:
            admission = None
            if route != "file" and not self._authorized(request):
                response: web.StreamResponse = self._unauthorized(request)
            elif (admission := self._admit(request, route)) is not None and not admission.admitted:
                response = self._over_limit(admission)
            else:
                response = await handler(request)
            if admission is not None and not response.prepared:
                response.headers.update(self._rate_headers(admission))
            rec.status = None if rec.dropped else response.status
            if self.relay == "litellm" and not response.prepared:
                response.headers.update(_litellm_headers())
            return response
        except web.HTTPException as exc:  # redirects are raised
            rec.status = exc.status
            raise
        finally:
            rec.finished = True

    def _admit(self, request: web.Request, route: str) -> Admission | None:
        """Count the request against the rate limit (None: no limit, or a public file)."""
        if self.rate_window is None or route == "file":
            return None
        return self.rate_window.admit(request.headers.get("Authorization", ""))

    def _rate_headers(self, admission: Admission) -> dict[str, str]:
        """The rate headers this relay adds to an answer (new-api sends none)."""
        if self.relay == "newapi":
            return {}
        if self.relay == "litellm":
            return litellm_headers(admission)
        return openai_headers(admission)

    def _over_limit(self, admission: Admission) -> web.Response:
        """The 429 this relay sends for a request over its rate limit."""
        assert self.rate_window is not None
        limit = self.rate_window.limit
        if self.relay == "newapi":  # abortWithOpenAiMessage: no Retry-After
            body = {
                "error": {"message": newapi_message(limit), "type": "new_api_error", "code": ""}
            }
            return web.json_response(body, status=429)
        if self.relay == "litellm":  # the v3 limiter: retry-after is the window size
            headers = {"retry-after": f"{limit.per_seconds:g}", "rate_limit_type": "requests"}
            return litellm_error(429, litellm_detail(limit, "hashed-key"), headers=headers)
        headers = {"Retry-After": retry_after_text(admission.retry_after)}
        return openai_error(
            429,
            openai_message(limit, admission.retry_after),
            type="requests",
            code="rate_limit_exceeded",
            headers=headers,
        )

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self.api_key}"

    def _unauthorized(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if self.relay == "newapi":
            body = {"error": {"message": "无效的令牌 (invalid token)", "type": "new_api_error"}}
            return web.json_response(body, status=401)
        # Like some relays, echo the key that was sent: clients must not repeat it.
        message = (
            f"Incorrect API key provided: {given}." if given else "You didn't provide an API key."
        )
        return openai_error(401, message, code="invalid_api_key")

    def _take_fault(self, op: str, video_id: str | None) -> _ArmedFault | None:
        """Pop one use of the first armed fault matching this request."""
        for armed in self._armed:
            if armed.op == op and armed.video_id in (None, video_id):
                armed.remaining -= 1
                if armed.remaining <= 0:
                    self._armed.remove(armed)
                return armed
        return None

    def _refusal(self, armed: _ArmedFault) -> web.Response:
        """The answer for a fault that replaces the normal handler."""
        fault, params = armed.fault, armed.params
        if fault is Fault.RATE_LIMIT:
            return self._rate_limited(params)
        if fault is Fault.HTTP_500:
            return openai_error(
                500,
                "The server had an error while processing your request. Sorry about that!",
                type="server_error",
            )
        if fault is Fault.HTTP_502:
            html = "<html><head><title>502 Bad Gateway</title></head><body>502</body></html>"
            return web.Response(status=502, text=html, content_type="text/html")
        if fault is Fault.HTTP_503:
            if params.get("empty"):
                return web.Response(status=503)
            return openai_error(
                503, "The server is overloaded or not ready yet.", type="server_error"
            )
        if fault is Fault.MODERATION_SUBMIT:
            return openai_error(
                400,
                "Your request was blocked by our moderation system.",
                param="prompt",
                code="moderation_blocked",
            )
        if fault is Fault.RESPOND:
            return self._verbatim(params)
        return self._http_error(params)

    def _rate_limited(self, params: dict[str, Any]) -> web.Response:
        headers: dict[str, str] = {}
        retry_after = params.get("retry_after", 1)
        if retry_after is not None:
            headers["Retry-After"] = (
                retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
            )
        if params.get("retry_after_ms") is not None:
            headers["retry-after-ms"] = f"{params['retry_after_ms']:g}"
        if self.relay == "litellm":  # the backend's headers, passed on with a prefix
            prefixed = {f"llm_provider-{k.lower()}": v for k, v in headers.items()}
            return litellm_error(
                429,
                "litellm.RateLimitError: RateLimitError: OpenAIException - "
                "Rate limit reached for requests. Please try again later.",
                headers=prefixed,
            )
        if self.relay == "newapi":
            return newapi_error(429, "upstream_saturated", _NEWAPI_SATURATED, headers=headers)
        return openai_error(
            429,
            "Rate limit reached for requests. Please try again later.",
            type="requests",
            code="rate_limit_exceeded",
            headers=headers,
        )

    @staticmethod
    def _verbatim(params: dict[str, Any]) -> web.Response:
        status = int(params.get("status", 200))
        headers = dict(params.get("headers", {}))
        if "json" in params:
            return web.json_response(params["json"], status=status, headers=headers)
        body = params.get("body", b"")
        data = body.encode() if isinstance(body, str) else bytes(body)
        content_type = params.get("content_type", "application/json")
        return web.Response(status=status, body=data, content_type=content_type, headers=headers)

    @staticmethod
    def _http_error(params: dict[str, Any]) -> web.Response:
        status = int(params.get("status", 400))
        message = str(params.get("message", "Bad request."))
        shape = params.get("shape", "openai")
        if shape == "newapi":
            return newapi_error(status, str(params.get("code", "error")), message)
        if shape == "text":
            return web.Response(status=status, text=message)
        return openai_error(
            status,
            message,
            type=str(params.get("type", "invalid_request_error")),
            param=params.get("param"),
            code=params.get("code"),
        )

    async def _hang(self, seconds: float) -> None:
        """Wait ``seconds``, or until the emulator stops."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        """Close the connection without answering."""
        request[_REC_KEY].dropped = True
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)  # never reaches the closed connection

    async def _deliver(
        self, request: web.Request, armed: _ArmedFault | None, response: web.Response
    ) -> web.StreamResponse:
        """Send a JSON answer, disturbed by a HANG, MALFORMED or DROP fault if armed."""
        fault = armed.fault if armed else None
        if armed is not None and fault is Fault.HANG:
            await self._hang(float(armed.params.get("seconds", 30)))
        elif fault is Fault.MALFORMED:
            return web.Response(
                status=200, body=b'{"id": "video_trunc', content_type="application/json"
            )
        elif fault is Fault.DROP:
            return self._drop(request)
        return response

    def _not_found(self, video_id: str) -> web.Response:
        if self.relay == "newapi":
            return newapi_error(400, "task_not_exist", "task_not_exist")
        if self.relay == "litellm":  # it cannot route an id it did not issue
            return litellm_error(
                500,
                "litellm.APIConnectionError: openai - 3 validation errors for VideoObject "
                "id Field required object Field required status Field required",
            )
        return openai_error(404, f"Video with id '{video_id}' not found.", param="video_id")

    # --- job views ---------------------------------------------------------------

    def _job_payload(self, job: FakeJob, *, just_created: bool = False) -> dict[str, Any]:
        """The job as this dialect shows it (a job is always queued in its create answer)."""
        if just_created and job.state == "running":
            status, progress = "queued", 0
        else:
            status, progress = job.status(self.clock())
        payload: dict[str, Any] = {
            "id": job.id,
            "object": "video",
            "model": job.model,
            "status": status,
            "progress": progress,
            "created_at": job.created_at,
            "completed_at": job.completed_at,
            "expires_at": job.expires_at,
            "prompt": job.prompt,
            "size": job.size,
            "seconds": job.seconds,
            "remixed_from_video_id": job.remixed_from,
            "error": job.error,
        }
        if self.video_url and status == "completed":
            payload["video_url"] = f"{self.origin}/files/{quote(job.id, safe='')}.mp4"
        if self.relay == "newapi":
            payload = {k: v for k, v in payload.items() if v is not None and k != "prompt"}
            payload["task_id"] = job.id
            payload["status"] = _NEWAPI_STATUS.get(status, status)
            payload["progress"] = f"{progress}%"
            if job.error is not None:
                payload["error"] = {"message": job.error["message"], "code": job.error["code"]}
        elif self.relay == "litellm":
            payload.pop("prompt")
            payload["usage"] = {"duration_seconds": int(job.seconds)}
        return payload

    def _job_response(
        self, job: FakeJob, *, wrap: bool = False, just_created: bool = False
    ) -> web.Response:
        payload: dict[str, Any] = self._job_payload(job, just_created=just_created)
        if wrap:
            payload = {"code": "success", "message": "", "data": payload}
        headers = {}
        if self.poll_after_ms is not None:
            headers["openai-poll-after-ms"] = str(self.poll_after_ms)
        return web.json_response(payload, headers=headers)

    def _new_job(
        self,
        *,
        prompt: str,
        model: str,
        size: str,
        seconds: str,
        words: _PromptWords,
        faults: set[Fault],
        remixed_from: str | None = None,
        reference: FormPart | dict[str, Any] | None = None,
    ) -> FakeJob:
        if self.relay == "newapi":
            job_id = _newapi_id()
        elif self.relay == "litellm":
            job_id = _litellm_id(model)
        else:
            job_id = "video_" + secrets.token_hex(24)
        job = FakeJob(
            id=job_id,
            model=model,
            prompt=prompt,
            size=size,
            seconds=seconds,
            created_at=int(self.wall_clock()),
            started=self.clock(),
            duration=self.job_seconds if words.duration is None else words.duration,
            video_bytes=words.video_bytes or self.video_bytes,
            remixed_from=remixed_from,
            reference=reference,
            moderation=Fault.MODERATION in faults,
            stuck=Fault.STUCK in faults,
            drop_content=any(f.fault is Fault.DROP for f in words.faults),
            real=words.real,
            wall_clock=self.wall_clock,
        )
        if Fault.EXPIRED in faults:
            job.expire()
        self.jobs[job.id] = job
        return job

    @staticmethod
    def _apply_job_fault(job: FakeJob, fault: Fault) -> None:
        if fault is Fault.MODERATION:
            job.moderation = True
        elif fault is Fault.STUCK:
            job.stuck = True
        elif fault is Fault.EXPIRED:
            job.expire()

    # --- request bodies ------------------------------------------------------------

    @staticmethod
    def _read_form(rec: RecordedRequest) -> dict[str, Any]:
        """The body as {field: str | FormPart | JSON value}, for JSON or multipart."""
        content_type = rec.content_type
        if content_type.startswith("application/json"):
            try:
                data = json.loads(rec.body or b"null")
            except ValueError:
                raise _invalid(
                    "We could not parse the JSON body of your request.",
                    param="body",
                    code="invalid_json",
                ) from None
            if not isinstance(data, dict):
                raise _invalid("The body must be a JSON object.", param="body", code="invalid_type")
            return data
        if content_type.startswith("multipart/form-data"):
            try:
                parts = parse_multipart(rec.body, content_type)
            except ValueError as exc:
                raise _invalid(str(exc), param="body", code="invalid_multipart") from None
            return {
                name: part if part.filename is not None else part.text
                for name, part in parts.items()
            }
        raise _invalid(
            f"Unsupported content type: '{content_type or 'none'}'. "
            "Use application/json or multipart/form-data.",
            param="body",
            code="unsupported_content_type",
        )

    @staticmethod
    def _check_prompt(form: dict[str, Any]) -> str:
        if "prompt" not in form:
            raise _invalid(
                "Missing required parameter: 'prompt'.",
                param="prompt",
                code="missing_required_parameter",
            )
        prompt = form["prompt"]
        if not isinstance(prompt, str):
            raise _invalid(
                "Invalid type for 'prompt': expected a string.", param="prompt", code="invalid_type"
            )
        if not prompt:
            raise _invalid(
                "Invalid 'prompt': string too short. Expected a string with minimum length 1, "
                "but got an empty string instead.",
                param="prompt",
                code="string_below_min_length",
            )
        if len(prompt) > MAX_PROMPT_CHARS:
            raise _invalid(
                f"Invalid 'prompt': string too long. Expected a string with maximum length "
                f"{MAX_PROMPT_CHARS}, but got a string with length {len(prompt)} instead.",
                param="prompt",
                code="string_above_max_length",
            )
        return prompt

    @staticmethod
    def _check_enum(form: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
        value = form.get(name, default)
        listed = ", ".join(f"'{a}'" for a in allowed)
        if not isinstance(value, str):
            kind = "an integer" if isinstance(value, int) else f"a {type(value).__name__}"
            raise _invalid(
                f"Invalid type for '{name}': expected one of {listed}, but got {kind} instead.",
                param=name,
                code="invalid_type",
            )
        if value not in allowed:
            raise _invalid(
                f"Invalid value: '{value}'. Supported values are: {listed}.",
                param=name,
                code="invalid_value",
            )
        return value

    def _check_create(self, form: dict[str, Any]) -> dict[str, Any]:
        """Validate a create body like the real API; return the job's settings."""
        unknown = sorted(set(form) - _CREATE_FIELDS)
        if unknown:
            raise _invalid(
                f"Unknown parameter: '{unknown[0]}'.", param=unknown[0], code="unknown_parameter"
            )
        prompt = self._check_prompt(form)
        model = form.get("model", DEFAULT_MODEL)
        if not isinstance(model, str) or not model:
            raise _invalid(
                "Invalid type for 'model': expected a string.", param="model", code="invalid_type"
            )
        seconds = self._check_enum(form, "seconds", VIDEO_SECONDS, "4")
        size = self._check_enum(form, "size", VIDEO_SIZES, "720x1280")
        reference = form.get("input_reference")
        if isinstance(reference, str):
            raise _invalid(
                "Invalid type for 'input_reference': expected a file, but got a string instead.",
                param="input_reference",
                code="invalid_type",
            )
        if (
            isinstance(reference, dict)
            and len({"image_url", "file_id"} & {k for k, v in reference.items() if v}) != 1
        ):
            raise _invalid(
                "Invalid 'input_reference': provide exactly one of 'image_url' or 'file_id'.",
                param="input_reference",
                code="invalid_value",
            )
        return {
            "prompt": prompt,
            "model": model,
            "seconds": seconds,
            "size": size,
            "reference": reference,
        }

    # --- handlers ------------------------------------------------------------------

    async def _handle_create(self, request: web.Request) -> web.StreamResponse:
        rec = request[_REC_KEY]
        try:
            settings = self._check_create(self._read_form(rec))
        except _ApiError as err:
            return err.response
        words = _PromptWords.parse(settings["prompt"], "create")
        armed = self._take_fault("create", None) or words.request_fault
        if armed is not None and armed.fault.refuses:
            return self._refusal(armed)
        faults = words.job_faults
        if armed is not None and armed.fault.is_job_fault:
            faults.add(armed.fault)
            armed = None
        job = self._new_job(words=words, faults=faults, **settings)
        return await self._deliver(request, armed, self._job_response(job, just_created=True))

    async def _handle_retrieve(self, request: web.Request) -> web.StreamResponse:
        video_id = request.match_info["video_id"]
        armed = self._take_fault("retrieve", video_id)
        if armed is not None and armed.fault.refuses:
            return self._refusal(armed)
        job = self.jobs.get(video_id)
        if job is None:
            return await self._deliver(request, armed, self._not_found(video_id))
        if armed is not None and armed.fault.is_job_fault:
            self._apply_job_fault(job, armed.fault)
            armed = None
        return await self._deliver(request, armed, self._job_response(job, wrap=self.wrap_data))

    async def _handle_remix(self, request: web.Request) -> web.StreamResponse:
        rec = request[_REC_KEY]
        video_id = request.match_info["video_id"]
        try:
            form = self._read_form(rec)
            self._check_known(form, {"prompt"})
            prompt = self._check_prompt(form)
        except _ApiError as err:
            return err.response
        return await self._derive(request, "remix", video_id, prompt)

    async def _handle_edit(self, request: web.Request) -> web.StreamResponse:
        """``POST /videos/edits``: remix's successor, the source named in the body."""
        try:
            form = self._read_form(request[_REC_KEY])
            self._check_known(form, {"prompt", "video"})
            prompt = self._check_prompt(form)
            video_id = self._check_reference(form)
        except _ApiError as err:
            return err.response
        return await self._derive(request, "remix", video_id, prompt)

    async def _handle_extend(self, request: web.Request) -> web.StreamResponse:
        """``POST /videos/extensions``: continue a completed video by ``seconds``."""
        try:
            form = self._read_form(request[_REC_KEY])
            self._check_known(form, {"prompt", "video", "seconds"})
            prompt = self._check_prompt(form)
            video_id = self._check_reference(form)
            if "seconds" not in form:
                raise _invalid(
                    "Missing required parameter: 'seconds'.",
                    param="seconds",
                    code="missing_required_parameter",
                )
            seconds = self._check_enum(form, "seconds", EXTEND_SECONDS, "4")
        except _ApiError as err:
            return err.response
        return await self._derive(request, "extend", video_id, prompt, extra_seconds=seconds)

    @staticmethod
    def _check_known(form: dict[str, Any], allowed: set[str]) -> None:
        unknown = sorted(set(form) - allowed)
        if unknown:
            raise _invalid(
                f"Unknown parameter: '{unknown[0]}'.", param=unknown[0], code="unknown_parameter"
            )

    @staticmethod
    def _check_reference(form: dict[str, Any]) -> str:
        """The id in ``video: {"id": ...}`` (JSON, or a JSON text field in multipart)."""
        if "video" not in form:
            raise _invalid(
                "Missing required parameter: 'video'.",
                param="video",
                code="missing_required_parameter",
            )
        video = form["video"]
        if isinstance(video, FormPart):
            raise _invalid(
                "This emulator does not take uploaded source videos; reference a completed "
                "video as {'id': ...}.",
                param="video",
                code="invalid_value",
            )
        if isinstance(video, str):
            with contextlib.suppress(ValueError):
                video = json.loads(video)
        if not isinstance(video, dict) or not isinstance(video.get("id"), str) or not video["id"]:
            raise _invalid(
                "Invalid type for 'video': expected an object with an 'id'.",
                param="video",
                code="invalid_type",
            )
        return cast(str, video["id"])

    async def _derive(
        self,
        request: web.Request,
        op: str,
        video_id: str,
        prompt: str,
        *,
        extra_seconds: str | None = None,
    ) -> web.StreamResponse:
        """Start a job from a completed one: a remix/edit, or an extension (``extra_seconds``)."""
        words = _PromptWords.parse(prompt, op)
        armed = self._take_fault(op, video_id) or words.request_fault
        if armed is not None and armed.fault.refuses:
            return self._refusal(armed)
        parent = self.jobs.get(video_id)
        if parent is None:
            return self._not_found(video_id)
        status, _ = parent.status(self.clock())
        if status != "completed":
            return openai_error(
                400,
                f"Video '{video_id}' is not completed (status: {status}); "
                f"only completed videos can be {'extended' if extra_seconds else 'remixed'}.",
                param="video_id",
                code="invalid_video_status",
            )
        faults = words.job_faults
        if armed is not None and armed.fault.is_job_fault:
            faults.add(armed.fault)
            armed = None
        seconds = parent.seconds
        if extra_seconds is not None:  # the answer shows the stitched total
            seconds = str(int(parent.seconds) + int(extra_seconds))
        job = self._new_job(
            prompt=prompt,
            model=parent.model,
            size=parent.size,
            seconds=seconds,
            words=words,
            faults=faults,
            remixed_from=None if extra_seconds is not None else parent.id,
        )
        job.extended_from = parent.id if extra_seconds is not None else None
        return await self._deliver(request, armed, self._job_response(job, just_created=True))

    async def _handle_list(self, request: web.Request) -> web.StreamResponse:
        """``GET /videos``: a ``VideoListResource`` page (``limit``, ``order``, ``after``)."""
        armed = self._take_fault("list", None)
        if armed is not None and armed.fault.refuses:
            return self._refusal(armed)
        if "list" in self.absent_routes:  # LiteLLM routes it; the backend cannot list
            return litellm_error(
                500, "litellm.APIConnectionError: openai - the backend has no video list"
            )
        try:
            limit, order = self._list_query(request.query)
        except _ApiError as err:
            return err.response
        jobs = list(self.jobs.values())
        if order == "desc":
            jobs.reverse()
        after = request.query.get("after")
        if after is not None:  # unknown cursor: an empty page (CHOICE, docs/dialects)
            ids = [job.id for job in jobs]
            jobs = jobs[ids.index(after) + 1 :] if after in ids else []
        page = jobs[:limit]
        body = {
            "object": "list",
            "data": [self._job_payload(job) for job in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": len(jobs) > len(page),
        }
        return await self._deliver(request, armed, web.json_response(body))

    @staticmethod
    def _list_query(query: Any) -> tuple[int, str]:
        text = query.get("limit", str(DEFAULT_LIST_LIMIT))
        try:
            limit = int(text)
        except ValueError:
            raise _invalid(
                f"Invalid type for 'limit': expected an integer, but got '{text}' instead.",
                param="limit",
                code="invalid_type",
            ) from None
        if not 0 <= limit <= 100:
            raise _invalid(
                f"Invalid 'limit': integer {limit} is out of range; expected 0 to 100.",
                param="limit",
                code="integer_out_of_range",
            )
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise _invalid(
                f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
                param="order",
                code="invalid_value",
            )
        return limit, order

    async def _handle_delete(self, request: web.Request) -> web.Response:
        """``DELETE /videos/{id}``: the job and its assets go (later polls answer 404).

        Whether a job still running may be deleted is undocumented (the spec's
        ``DeleteVideo`` says nothing about status); the emulator allows it, and the bot
        treats a refusal as "the upstream job may still finish" (``bot.services.cancel``).
        """
        video_id = request.match_info["video_id"]
        if self.jobs.pop(video_id, None) is None:
            return self._not_found(video_id)
        return web.json_response({"id": video_id, "object": "video.deleted", "deleted": True})

    async def _handle_content(self, request: web.Request) -> web.StreamResponse:
        video_id = request.match_info["video_id"]
        variant = request.query.get("variant", "video")
        armed = self._take_fault("content", video_id)
        fault = armed.fault if armed else None
        if armed is not None and armed.fault.refuses:
            return self._refusal(armed)
        if armed is not None and fault is Fault.HANG:
            await self._hang(float(armed.params.get("seconds", 30)))
        if variant not in ("video", "thumbnail", "spritesheet"):
            return openai_error(
                400,
                f"Invalid value: '{variant}'. Supported values are: 'video', 'thumbnail' "
                "and 'spritesheet'.",
                param="variant",
                code="invalid_value",
            )
        job = self.jobs.get(video_id)
        if job is None:
            return self._not_found(video_id)
        if fault is not None and fault.is_job_fault:
            self._apply_job_fault(job, fault)
        not_ready = self._content_unavailable(job)
        if not_ready is not None:
            return not_ready
        if fault is Fault.MALFORMED:
            return web.json_response({"error": "upstream fetch failed"}, status=200)
        if self.redirect_content_to and variant == "video":
            target = f"{self.redirect_content_to}/files/{quote(job.id, safe='')}.mp4"
            raise web.HTTPFound(f"{target}?bytes={job.video_bytes}")
        drop = fault is Fault.DROP or job.drop_content
        return await self._send_asset(
            request, job.id, job.video_bytes, variant, drop=drop, real=job.real
        )

    def _content_unavailable(self, job: FakeJob) -> web.Response | None:
        """The error answer for content that cannot be served yet (or any more)."""
        status, _ = job.status(self.clock())
        if status == "expired":
            return openai_error(
                404, "The video's downloadable assets have expired.", code="video_expired"
            )
        if status == "completed":
            return None
        message = f"Task is not completed yet, current status: {status}"
        if self.relay == "newapi":  # new-api's proxy omits param and code
            body = {"error": {"message": message, "type": "invalid_request_error"}}
            return web.json_response(body, status=400)
        return openai_error(400, message, param="video_id", code="video_not_ready")

    async def _handle_public_file(self, request: web.Request) -> web.StreamResponse:
        """Unauthenticated download: a job's video, or ``?bytes=N`` of synthetic MP4."""
        name = request.match_info["name"].removesuffix(".mp4")
        job = self.jobs.get(name)
        if job is not None:
            if job.status(self.clock())[0] != "completed":
                return web.Response(status=404, text="not found")
            return await self._send_asset(
                request, job.id, job.video_bytes, "video", drop=job.drop_content, real=job.real
            )
        try:
            size = max(MIN_MP4_SIZE, int(request.query["bytes"]))
        except (KeyError, ValueError):
            return web.Response(status=404, text="not found")
        return await self._send_asset(request, name, size, "video", drop=False)

    def listed_models(self) -> tuple[str, ...]:
        """What ``GET /v1/models`` lists: every served dialect's video models."""
        models: list[str] = list(CHAT_ONLY_MODELS)
        for dialect in self.dialects:
            if dialect == "openai":
                models.extend(OPENAI_MODELS)
            else:
                models.extend(_dialect_module(dialect).MODELS)
        return tuple(dict.fromkeys(models))

    async def _handle_models(self, request: web.Request) -> web.Response:
        """``GET /v1/models`` in OpenAI's list shape (every relay serves it)."""
        armed = self._take_fault("other", None)
        if armed is not None and armed.fault.refuses:
            return self._refusal(armed)
        data = [
            {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "system"}
            for m in self.listed_models()
        ]
        return web.json_response({"object": "list", "data": data})

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        """The relay's router answer for a path it does not have."""
        if self.relay == "litellm":  # FastAPI's default
            return web.json_response({"detail": "Not Found"}, status=404)
        message = f"Invalid URL ({request.method} {request.path})"
        if self.relay == "newapi":  # controller.RelayNotFound: empty param and code
            body = {"error": {"message": message, "type": "invalid_request_error"}}
            body["error"].update(param="", code="")
            return web.json_response(body, status=404)
        return openai_error(404, message)

    async def _send_asset(
        self,
        request: web.Request,
        video_id: str,
        size: int,
        variant: str,
        *,
        drop: bool,
        real: bool = False,
    ) -> web.StreamResponse:
        """Stream an MP4 of ``size`` bytes (or the thumbnail); cut midway when ``drop``.

        ``real`` serves the cached real clip instead (made off the event loop).
        """
        if variant == "video" and real:
            data = await asyncio.to_thread(lambda: real_clip().read_bytes())
            chunks: Iterator[bytes] = (data[i : i + 65536] for i in range(0, len(data), 65536))
            total, content_type, ext = len(data), "video/mp4", "mp4"
        elif variant == "video":
            chunks = iter_mp4(size)
            total, content_type, ext = size, "video/mp4", "mp4"
        else:
            chunks = iter([THUMBNAIL_WEBP])
            total, content_type, ext = len(THUMBNAIL_WEBP), "image/webp", "webp"
        response = web.StreamResponse(status=200)
        response.content_type = content_type
        if self.relay == "litellm":
            response.headers["Content-Disposition"] = f'attachment; filename="{variant}.{ext}"'
        if self.relay == "newapi":
            response.headers["Cache-Control"] = "public, max-age=86400"
        if self.chunked_content:
            response.enable_chunked_encoding()
        else:
            response.content_length = total
        await self._stream(request, response, chunks, cutoff=total // 2 if drop else None)
        return response

    async def _stream(
        self,
        request: web.Request,
        response: web.StreamResponse,
        chunks: Iterator[bytes],
        *,
        cutoff: int | None,
    ) -> None:
        """Send headers and ``chunks``; at ``cutoff`` bytes close the connection instead."""
        rec = request[_REC_KEY]
        try:
            await response.prepare(request)
            for chunk in chunks:
                if cutoff is not None and rec.bytes_sent + len(chunk) >= cutoff:
                    await response.write(chunk[: cutoff - rec.bytes_sent])
                    rec.bytes_sent = cutoff
                    rec.aborted = True
                    if request.transport is not None:
                        request.transport.close()
                    return
                await response.write(chunk)
                rec.bytes_sent += len(chunk)
            await response.write_eof()
        except ConnectionError:  # the client went away (e.g. it timed out during a hang)
            rec.aborted = True


# --- CLI ------------------------------------------------------------------------------


class _DialectRoutes(Protocol):
    MODELS: tuple[str, ...]

    def add_routes(self, app: web.Application, up: FakeUpstream) -> None: ...


def _dialect_module(dialect: str) -> _DialectRoutes:
    """``bot.emulators.upstream_<dialect>``: the routes of one more dialect."""
    module = importlib.import_module(f"bot.emulators.upstream_{dialect.replace('-', '_')}")
    return cast(_DialectRoutes, module)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.emulators.fake_upstream",
        description="Serve a local emulator of the OpenAI Videos (Sora) API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--api-key", default="sk-test")
    parser.add_argument("--job-seconds", type=float, default=10.0)
    parser.add_argument(
        "--dialect",
        default="openai",
        help=f"comma-separated dialects to speak, of {', '.join(DIALECTS)} (default openai)",
    )
    parser.add_argument("--relay", choices=RELAYS, default="openai")
    parser.add_argument("--video-bytes", type=int, default=256 * 1024)
    parser.add_argument(
        "--video-url", action="store_true", help="add a public video_url to completed jobs"
    )
    parser.add_argument("--poll-after-ms", type=int, default=None)
    parser.add_argument(
        "--absent-route",
        action="append",
        choices=ROUTES,
        default=[],
        help="a /v1/videos route not to serve (repeatable), on top of the relay's own",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    upstream = FakeUpstream(
        api_key=args.api_key,
        job_seconds=args.job_seconds,
        relay=args.relay,
        dialects=tuple(d.strip() for d in args.dialect.split(",") if d.strip()),
        video_url=args.video_url,
        video_bytes=args.video_bytes,
        host=args.host,
        port=args.port,
        poll_after_ms=args.poll_after_ms,
        absent_routes=tuple(args.absent_route),
    )
    async with upstream:
        log.info("base_url=%s (Ctrl-C stops)", upstream.base_url)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """Run the emulator until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    # Run the imported module's copy: the dialect modules import ``bot.emulators.fake_upstream``,
    # and ``__main__``'s classes (request keys, faults) would not be theirs.
    from bot.emulators import fake_upstream as _imported

    _imported.main()
