"""The unified ``video/create`` dialect: ``POST /v1/video/create`` + ``GET /v1/video/query?id=``.

Published by commercial relays (v98store, fast-token, octopusx, jusu-api, crazyrouter; see
``docs/dialects/video-create.md`` for the sources and every choice made where they are
silent). A create answers ``{"id": "sora-2:task_…", "status": "pending"}``; the query
answers the job with a public ``video_url`` once it is done. The options are not the
OpenAI ones: ``orientation`` + ``size: small|large`` instead of a resolution, ``duration``
as an integer with only some lengths, ``images`` as a list of URLs. There is no remix,
no extension and no listing.

The id the create answered is the job's id for good: queries send it whole, and a query
answer whose id dropped the ``sora-2:`` prefix (some relays do) is still that job.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.core.dialects import Dialect
from bot.core.errors import (
    ContentExpired,
    InvalidInput,
    UpstreamNotFound,
    UpstreamUnavailable,
)
from bot.core.models import TaskStatus
from bot.core.video_spec import REFERENCE_IMAGE_TYPES, seconds_text
from bot.upstream.adapter import RelayAdapter
from bot.upstream.checks import check_id, check_prompt
from bot.upstream.failures import Operation
from bot.upstream.parsing import MalformedAnswer, parse_job
from bot.upstream.provider import Variant
from bot.upstream.transport import Transport
from bot.upstream.values import (
    DialectProbe,
    Download,
    ProbeAnswer,
    ReferenceImage,
    UpstreamJob,
    VideoCapabilities,
)

log = logging.getLogger(__name__)

DIALECT = Dialect.VIDEO_CREATE

#: Our size -> the dialect's (``orientation``, ``size``): small is 720p, large 1080p.
SIZE_OPTIONS: Mapping[str, tuple[str, str]] = {
    "720x1280": ("portrait", "small"),
    "1280x720": ("landscape", "small"),
    "1080x1920": ("portrait", "large"),
    "1920x1080": ("landscape", "large"),
}
_SIZE_BACK = {options: size for size, options in SIZE_OPTIONS.items()}

#: The lengths each documented model makes; other model names are passed through.
MODEL_SECONDS: Mapping[str, tuple[int, ...]] = {
    "sora-2": (10, 15),
    "sora-2-pro": (15, 25),
}

#: What this dialect offers, in the bot's vocabulary.
VIDEO_CREATE_CAPABILITIES = VideoCapabilities(
    dialect=DIALECT,
    can_remix=False,
    can_list=False,
    can_extend=False,
    image_input=True,
    models=tuple(MODEL_SECONDS),
    sizes=tuple(SIZE_OPTIONS),
    seconds=(10, 15, 25),
)

#: The made-up id the probe queries (shaped like a real one; it creates nothing).
PROBE_ID = "sora-2:task_00000000000000000000000000"

#: A query answer about a task that does not exist, in the wordings relays use.
_NO_SUCH_TASK = re.compile(
    r"task_not_exist|task[ _-]?not[ _-]?found|task\b.{0,40}\b(not exist|does not exist|not found)"
    r"|(no such|unknown|invalid) task|任务不存在",
    re.I | re.S,
)
#: A job failure that is the upstream's content moderation.
_MODERATION_WORDS = re.compile(
    r"moderation|content[ _]polic|guardrail|safety|content[ _]filter|violat", re.I
)
_MODERATION_CODES = frozenset(
    {
        "moderation_blocked",
        "content_policy_violation",
        "content_filter",
        "safety_violation",
        "sentinel_block",
    }
)


# --- what is sent -------------------------------------------------------------------------


def _check_length(caps: VideoCapabilities, model: str, seconds: int) -> None:
    """``seconds`` must be offered, and made by ``model`` when the docs say which it makes."""
    if isinstance(seconds, bool) or seconds not in caps.seconds:
        allowed = seconds_text(caps.seconds, last=" or ")
        raise InvalidInput("seconds", f"The duration must be {allowed} seconds.")
    lengths = MODEL_SECONDS.get(model)
    if lengths is not None and seconds not in lengths:
        makers = [m for m, made in MODEL_SECONDS.items() if seconds in made]
        hint = f" For {seconds} seconds use {' or '.join(makers)}." if makers else ""
        raise InvalidInput(
            "seconds",
            f"{model} makes {seconds_text(lengths, last=' or ')}-second videos here.{hint}",
        )


def _image_url(reference: ReferenceImage) -> str:
    """The reference as an RFC 2397 data URL: the dialect takes image URLs only."""
    if reference.content_type not in REFERENCE_IMAGE_TYPES:
        raise InvalidInput("reference", "The reference image must be a JPEG, PNG or WebP.")
    if not reference.data:
        raise InvalidInput("reference", "The reference image is empty.")
    encoded = base64.b64encode(reference.data).decode("ascii")
    return f"data:{reference.content_type};base64,{encoded}"


def create_body(
    caps: VideoCapabilities,
    *,
    prompt: str,
    model: str,
    seconds: int,
    size: str,
    reference: ReferenceImage | None,
) -> dict[str, Any]:
    """The JSON body of ``POST /video/create``; ``InvalidInput`` before anything is sent.

    ``watermark: true`` is the documented default (prefer no watermark, fall back);
    ``private: true`` keeps the video off the relay's public feed.
    """
    check_prompt(prompt)
    if not isinstance(model, str) or not model.strip():
        raise InvalidInput("model", "The model name must not be empty.")
    if size not in caps.sizes or size not in SIZE_OPTIONS:
        raise InvalidInput("size", f"The size must be one of {', '.join(caps.sizes)}.")
    _check_length(caps, model, seconds)
    orientation, size_word = SIZE_OPTIONS[size]
    return {
        "model": model,
        "prompt": prompt,
        "orientation": orientation,
        "size": size_word,
        "duration": seconds,
        "images": [] if reference is None else [_image_url(reference)],
        "watermark": True,
        "private": True,
    }


# --- what is answered ---------------------------------------------------------------------


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _answer_body(data: object) -> Mapping[str, Any]:
    """The job object of an answer (unwrapping a ``{"data": {...}}`` envelope)."""
    if not isinstance(data, dict):
        raise MalformedAnswer("the answer is not a JSON object")
    inner = data.get("data")
    if isinstance(inner, dict) and not any(k in data for k in ("id", "task_id", "status")):
        return inner
    return data


def same_task(answered: str, asked: str) -> bool:
    """Whether an answer's id names the job we asked for (the ``model:`` prefix may go)."""
    return answered == asked or answered == asked.partition(":")[2]


def _prepared(body: Mapping[str, Any], asked_id: str | None) -> dict[str, Any]:
    """``body`` with what ``parse_job`` reads filled in from where this dialect puts it."""
    prepared = dict(body)
    detail = _mapping(body.get("detail"))
    if prepared.get("progress") is None:
        pending = _mapping(detail.get("pending_info"))
        prepared["progress"] = pending.get("progress_pct")
    if prepared.get("error") is None and prepared.get("fail_reason") is None:
        reason = body.get("failure_reason") or detail.get("failure_reason")
        prepared["fail_reason"] = reason
    if asked_id is not None and any(k in body for k in ("id", "task_id", "status")):
        answered = str(body.get("id") or body.get("task_id") or "")
        if answered and not same_task(answered, asked_id):
            log.info("query for %s answered id %s; kept the asked id", asked_id, answered)
        prepared["id"] = asked_id
    return prepared


def _our_size(body: Mapping[str, Any]) -> str | None:
    """The answer's orientation + size in our vocabulary, when it echoes both."""
    echo = _mapping(_mapping(body.get("detail")).get("input"))
    orientation = body.get("orientation") or echo.get("orientation")
    size = body.get("size") or echo.get("size")
    return _SIZE_BACK.get((str(orientation), str(size)))


def _moderation_code(job: UpstreamJob) -> str | None:
    """``moderation_blocked`` for a failure the upstream's content moderation caused."""
    if job.status is not TaskStatus.FAILED:
        return job.error_code
    code = (job.error_code or "").lower()
    if code in _MODERATION_CODES:
        return "moderation_blocked"
    if job.error_code is None and _MODERATION_WORDS.search(job.error_message or ""):
        return "moderation_blocked"
    return job.error_code


def read_job(data: object, *, asked_id: str | None, secret: str = "") -> UpstreamJob:
    """An ``UpstreamJob`` from a create (``asked_id=None``) or query answer.

    A query's job keeps ``asked_id`` whatever id the answer shows. Raises
    ``MalformedAnswer`` (``EmbeddedError`` for an error object in a 2xx answer).
    """
    body = _answer_body(data)
    job = parse_job(_prepared(body, asked_id), redact=secret or None)
    duration = body.get("duration") or _mapping(_mapping(body.get("detail")).get("input")).get(
        "duration"
    )
    return dataclasses.replace(
        job,
        size=_our_size(body),
        seconds=str(duration) if isinstance(duration, int | str) and duration else job.seconds,
        error_code=_moderation_code(job),
    )


def _thumbnail_url(data: object, _headers: Mapping[str, str], _secret: str) -> str | None:
    body = _answer_body(data)
    for value in (body.get("thumbnail_url"), _mapping(body.get("detail")).get("thumbnail_url")):
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return value
    return None


def probe_verdict(answer: ProbeAnswer) -> tuple[bool, str]:
    """(speaks, why) for the answer to a query of ``PROBE_ID``.

    The route exists when the answer is about a task: a job object, or "no such task".
    "Invalid URL", a bare 404/405 page or a refused key say nothing of the sort.
    """
    body = answer.json
    words = json.dumps(body, ensure_ascii=False) if isinstance(body, dict) else answer.text
    text = words.lower().replace(PROBE_ID.lower(), "<id>")
    if 200 <= answer.status < 300 and isinstance(body, dict) and "status" in body:
        return True, "a task status"
    if answer.status in (401, 403):
        return False, "the key was refused"
    if "invalid url" in text or answer.status == 405:
        return False, "no such route"
    if 400 <= answer.status < 500 and _NO_SUCH_TASK.search(text):
        return True, "no such task"
    return False, "not a task answer"


# --- the adapter --------------------------------------------------------------------------


class VideoCreateClient(RelayAdapter):
    """A ``VideoProvider`` for ``{base_url}/video/create`` and ``/video/query``.

    ``max_retries`` is the number of re-sends after the first attempt (``create`` only
    where the money rule allows). Waits go through ``sleep`` so tests need not wait.
    """

    dialect = Dialect.VIDEO_CREATE

    def __repr__(self) -> str:
        return (
            f"VideoCreateClient(base_url={self._transport.base_url!r}, "
            f"default_model={self.default_model!r})"
        )

    def capabilities(self) -> VideoCapabilities:
        """The documented options; models narrowed to those the relay lists, if any."""
        listed = tuple(m for m in VIDEO_CREATE_CAPABILITIES.models if m in self._listed_models)
        if not listed:
            return VIDEO_CREATE_CAPABILITIES
        return dataclasses.replace(VIDEO_CREATE_CAPABILITIES, models=listed)

    @staticmethod
    async def probe(transport: Transport, listed_models: tuple[str, ...]) -> DialectProbe:
        """Whether ``/video/query`` exists here: one query of a made-up id (creates nothing)."""
        answer = await transport.probe("GET", "/video/query", params={"id": PROBE_ID})
        speaks, why = probe_verdict(answer)
        return DialectProbe(
            dialect=DIALECT,
            speaks=speaks,
            evidence=f"GET /v1/video/query?id=<made-up id> answered HTTP {answer.status} ({why})",
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
        """Start a generation job (JSON). Its id is the full one the relay answered.

        Costs money: never sent twice unless the first attempt provably did not reach the
        upstream or was answered 429 (``bot.upstream.failures``); otherwise a failure after
        sending raises ``SubmissionUncertain``. Arguments are validated before any request.
        """
        model = self.default_model if model is None else model
        body = create_body(
            self.capabilities(),
            prompt=prompt,
            model=model,
            seconds=seconds,
            size=size,
            reference=reference,
        )

        def parse(data: object, _headers: Mapping[str, str], secret: str) -> UpstreamJob:
            return read_job(data, asked_id=None, secret=secret)

        return await self._transport.request(
            Operation.CREATE, "POST", "/video/create", parse, json=body
        )

    async def retrieve(self, upstream_id: str) -> UpstreamJob:
        """``GET /video/query?id=<full id>``. Retried on transient failures."""
        check_id(upstream_id)

        def parse(data: object, _headers: Mapping[str, str], secret: str) -> UpstreamJob:
            return read_job(data, asked_id=upstream_id, secret=secret)

        return await self._transport.request(
            Operation.RETRIEVE, "GET", "/video/query", parse, params={"id": upstream_id}
        )

    async def download(
        self,
        upstream_id: str,
        *,
        variant: Variant = "video",
        max_bytes: int,
        dest: Path | None = None,
        result_url: str | None = None,
    ) -> Download:
        """Fetch the finished job's public ``video_url`` (or ``thumbnail_url``).

        ``result_url`` (stored from the completed job) saves a query. The key goes only to
        the API's own origin, never to the CDN the link points at.
        """
        check_id(upstream_id)
        if variant == "video":
            url = result_url or await self._video_link(upstream_id)
        elif variant == "thumbnail":
            url = await self._thumbnail_link(upstream_id)
        else:
            raise InvalidInput("variant", "The variant must be 'video' or 'thumbnail'.")
        return await self._transport.download_url(
            url, with_key=True, max_bytes=max_bytes, dest=dest
        )

    async def _video_link(self, upstream_id: str) -> str:
        job = await self.retrieve(upstream_id)
        if job.result_url:
            return job.result_url
        if job.status is TaskStatus.FAILED:
            raise ContentExpired("The video service has no video file for this job.")
        raise UpstreamUnavailable("The video service has not given a link to the video yet.")

    async def _thumbnail_link(self, upstream_id: str) -> str:
        url = await self._transport.request(
            Operation.RETRIEVE, "GET", "/video/query", _thumbnail_url, params={"id": upstream_id}
        )
        if url is None:
            raise UpstreamNotFound(
                "The video service has no thumbnail for this video.", code="no_thumbnail"
            )
        return url
