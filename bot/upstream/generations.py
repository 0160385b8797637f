"""The ``generations`` dialect: new-api's generic video task API.

``POST {base}/video/generations`` starts a task, ``GET {base}/video/generations/{task_id}``
follows it (``{"code": "success", "data": {task}}``, statuses ``NOT_START``, ``SUBMITTED``,
``QUEUED``, ``IN_PROGRESS``, ``SUCCESS``, ``FAILURE``, progress as ``"30%"``) and the result
is fetched from the task's ``result_url`` (new-api's proxy ``/v1/videos/{task_id}/content``,
which needs the key, or a provider's public link). Sources and every choice made where
they are silent: ``docs/dialects/generations.md``.

No remix, list or extension here: those raise ``UnsupportedByUpstream`` and send nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.core.dialects import Dialect
from bot.core.errors import InvalidInput, UnsupportedByUpstream
from bot.core.models import TaskStatus
from bot.core.video_spec import (
    API_MAX_PROMPT_CHARS,
    VIDEO_SECONDS,
    VIDEO_SIZES,
    seconds_text,
)
from bot.upstream.adapter import RelayAdapter
from bot.upstream.checks import check_reference, quote_id
from bot.upstream.failures import Operation
from bot.upstream.parsing import (
    EmbeddedError,
    ErrorInfo,
    MalformedAnswer,
    error_info,
    normalize_status,
    parse_progress,
    short_text,
)
from bot.upstream.provider import Variant
from bot.upstream.transport import Transport
from bot.upstream.values import (
    DialectProbe,
    Download,
    ReferenceImage,
    UpstreamJob,
    VideoCapabilities,
)

#: Where tasks are created and followed, under the API base URL.
TASKS_PATH = "/video/generations"
#: The made-up task id the probe looks up (it creates nothing).
PROBE_TASK_ID = "task_dialect_probe_0000"
#: new-api's answer for a task id it does not know (HTTP 400).
TASK_NOT_EXIST = "task_not_exist"
#: The Sora models new-api's Sora channel offers (``relay/channel/task/sora/constants.go``).
GENERATIONS_MODELS: tuple[str, ...] = ("sora-2", "sora-2-pro")
#: Sizes new-api accepts only for ``sora-2-pro`` (``ValidateMultipartDirect``).
PRO_ONLY_SIZES: tuple[str, ...] = ("1024x1792", "1792x1024")

#: What this dialect offers, in the bot's vocabulary.
GENERATIONS_CAPABILITIES = VideoCapabilities(
    dialect=Dialect.GENERATIONS,
    can_remix=False,
    can_list=False,
    can_extend=False,
    image_input=True,
    models=GENERATIONS_MODELS,
    sizes=VIDEO_SIZES,
    seconds=VIDEO_SECONDS,
)

#: new-api's content proxy path (``taskcommon.BuildProxyURL``).
_PROXY_PATH = re.compile(r"/v1/videos/[^/]+/content$")
#: Failure reasons that mean moderation: new-api keeps only the upstream's text.
_MODERATION_REASON = re.compile(
    r"moderation|content[ _-]?policy|safety|content[ _-]?filter|sensitive|审核|违规|敏感", re.I
)
_MODERATION_CODE = "moderation_blocked"


# --- reading answers ------------------------------------------------------------------


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _task_body(data: object) -> Mapping[str, Any]:
    """The task object itself: ``data`` of a ``{"code", "data"}`` answer, else the answer."""
    if not isinstance(data, dict):
        raise MalformedAnswer("the answer is not a JSON object")
    if "code" in data and not (_text(data.get("task_id")) or _text(data.get("id"))):
        inner = data.get("data")
        if data.get("code") != "success":
            raise EmbeddedError(error_info(data) or ErrorInfo(code=str(data.get("code"))))
        if not isinstance(inner, dict):
            raise MalformedAnswer("the answer holds no task")
        return inner
    return data


def _task_id(body: Mapping[str, Any]) -> str:
    """``task_id``, else a string ``id`` (new-api's task rows also carry an integer ``id``)."""
    task_id = _text(body.get("task_id")) or _text(body.get("id"))
    if task_id is None:
        info = error_info(body)
        if info is not None:
            raise EmbeddedError(info)
        raise MalformedAnswer("the answer has no task id")
    return task_id


def _failure(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(code, reason) of a failed task: ``fail_reason``, else ``error`` {code, message}."""
    error = body.get("error")
    code = message = None
    if isinstance(error, dict):
        raw_code = error.get("code")
        code = _text(raw_code) if not str(raw_code).isdigit() else None
        message = _text(error.get("message"))
    elif isinstance(error, str):
        message = _text(error)
    reason = _text(body.get("fail_reason")) or message
    if reason is not None and _MODERATION_REASON.search(reason):
        code = _MODERATION_CODE
    return code, reason


def _result_url(body: Mapping[str, Any]) -> str | None:
    for key in ("result_url", "url", "video_url"):
        value = _text(body.get(key))
        if value is not None and value.startswith(("https://", "http://")):
            return value
    return None


def _detail(body: Mapping[str, Any], key: str) -> str | None:
    """A field of the task, or of the upstream's own answer new-api keeps in ``data``."""
    upstream = body.get("data")
    value = body.get(key)
    if value is None and isinstance(upstream, dict):
        value = upstream.get(key)
    return _text(value) if not isinstance(value, int) else str(value)


def _model(body: Mapping[str, Any]) -> str | None:
    properties = body.get("properties")
    if isinstance(properties, dict):
        named = _text(properties.get("origin_model_name"))
        if named is not None:
            return named
    return _detail(body, "model")


def parse_task(data: object, _headers: Mapping[str, str], secret: str) -> UpstreamJob:
    """An ``UpstreamJob`` from a create or task answer (wrapped or not).

    Raises ``MalformedAnswer`` when there is no task id, ``EmbeddedError`` when a 2xx
    body is an error (``{"code": "task_not_exist", ...}``, ``{"error": {...}}``).
    """
    body = _task_body(data)
    task_id = _task_id(body)
    raw_status = str(body.get("status") or "")
    status, terminal_code = normalize_status(raw_status)
    code = reason = None
    if status is TaskStatus.FAILED:  # on SUCCESS old rows keep the URL in fail_reason
        code, reason = _failure(body)
    progress = 100 if status is TaskStatus.COMPLETED else parse_progress(body.get("progress"))
    return UpstreamJob(
        id=task_id,
        status=status,
        raw_status=raw_status,
        progress=progress,
        model=_model(body),
        seconds=_detail(body, "seconds"),
        size=_detail(body, "size"),
        error_code=terminal_code or code,
        error_message=short_text(reason, secret) if reason else None,
        result_url=_result_url(body),
    )


# --- checking and building requests -------------------------------------------------


def _check_text(field: str, value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, f"The {what} must not be empty.")


def _check_create(
    caps: VideoCapabilities, prompt: str, model: str, seconds: int, size: str
) -> None:
    _check_text("prompt", prompt, "prompt")
    if len(prompt) > API_MAX_PROMPT_CHARS:
        raise InvalidInput(
            "prompt",
            f"The prompt is too long ({len(prompt)} characters, max {API_MAX_PROMPT_CHARS}).",
        )
    _check_text("model", model, "model name")
    if isinstance(seconds, bool) or seconds not in caps.seconds:
        allowed = seconds_text(caps.seconds, last=" or ")
        raise InvalidInput("seconds", f"The duration must be {allowed} seconds.")
    if size not in caps.sizes:
        raise InvalidInput("size", f"The size must be one of {', '.join(caps.sizes)}.")
    if model == "sora-2" and size in PRO_ONLY_SIZES:  # new-api answers 400 invalid_size
        raise InvalidInput("size", f"sora-2 cannot make {size} videos; sora-2-pro can.")


def create_body(
    *, prompt: str, model: str, seconds: int, size: str, reference: ReferenceImage | None
) -> dict[str, Any]:
    """The httpx keywords of a create: JSON, or multipart when an image goes with it.

    ``seconds`` is a string and ``size`` is ``WxH``: what new-api reads and what its Sora
    channel forwards verbatim to ``/v1/videos`` (``duration``, ``width`` and ``height``
    are documented but never read, and would reach OpenAI as unknown parameters).
    """
    fields = {"model": model, "prompt": prompt, "seconds": str(seconds), "size": size}
    if reference is None:
        return {"json": fields}
    parts: list[tuple[str, tuple[Any, ...]]] = [(k, (None, v)) for k, v in fields.items()]
    parts.append(("input_reference", (reference.filename, reference.data, reference.content_type)))
    return {"files": parts}


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class GenerationsClient(RelayAdapter):
    """A ``VideoProvider`` for new-api's ``{base_url}/video/generations`` task API.

    ``max_retries`` is the number of re-sends after the first attempt (a create only
    where the money rule allows). Waits go through ``sleep`` so tests need not wait.
    """

    dialect = Dialect.GENERATIONS
    fallback_model = GENERATIONS_MODELS[0]

    def __repr__(self) -> str:
        return (
            f"GenerationsClient(base_url={self._transport.base_url!r}, "
            f"default_model={self.default_model!r})"
        )

    def capabilities(self) -> VideoCapabilities:
        """Sora's models (narrowed to those the relay lists, when it lists any of them),
        sizes (the ``sora-2-pro``-only ones dropped when that model is not offered) and
        seconds."""
        models = tuple(m for m in GENERATIONS_MODELS if m in self._listed_models)
        models = models or GENERATIONS_MODELS
        sizes = VIDEO_SIZES
        if "sora-2-pro" not in models:
            sizes = tuple(s for s in VIDEO_SIZES if s not in PRO_ONLY_SIZES)
        return dataclasses.replace(GENERATIONS_CAPABILITIES, models=models, sizes=sizes)

    @staticmethod
    async def probe(transport: Transport, listed_models: tuple[str, ...]) -> DialectProbe:
        """Whether the task route exists, by looking up a made-up id (creates nothing).

        new-api answers 400 ``{"code": "task_not_exist", ...}`` when the route exists and
        404 ``Invalid URL (GET ...)`` when it does not; only the first counts.
        ``listed_models`` does not matter: the route exists whatever the relay lists.
        """
        path = f"{TASKS_PATH}/{PROBE_TASK_ID}"
        answer = await transport.probe("GET", path)
        body = answer.json
        code = body.get("code") if isinstance(body, dict) else None
        asked = f"GET {TASKS_PATH}/<made-up id>"
        if code == TASK_NOT_EXIST:
            evidence = f"{asked} answered HTTP {answer.status} {TASK_NOT_EXIST}"
            return DialectProbe(dialect=Dialect.GENERATIONS, speaks=True, evidence=evidence)
        if answer.status in (401, 403):
            evidence = f"{asked} refused the key (HTTP {answer.status})"
        elif answer.status == 404:
            evidence = f"{asked} answered HTTP 404: no such route"
        else:
            evidence = f"{asked} answered HTTP {answer.status} without {TASK_NOT_EXIST}"
        return DialectProbe(dialect=Dialect.GENERATIONS, speaks=False, evidence=evidence)

    async def create(
        self,
        *,
        prompt: str,
        model: str | None = None,
        seconds: int,
        size: str,
        reference: ReferenceImage | None = None,
    ) -> UpstreamJob:
        """Start a task (JSON; multipart when a reference image goes with it).

        Costs money: never sent twice unless the first attempt provably did not reach the
        upstream or was answered 429 (``bot.upstream.failures``); otherwise a failure after
        sending raises ``SubmissionUncertain``. Arguments are validated before any request.
        """
        model = self.default_model if model is None else model
        _check_create(self.capabilities(), prompt, model, seconds, size)
        if reference is not None:
            check_reference(reference)
        body = create_body(
            prompt=prompt, model=model, seconds=seconds, size=size, reference=reference
        )
        return await self._transport.request(
            Operation.CREATE, "POST", TASKS_PATH, parse_task, **body
        )

    async def retrieve(self, upstream_id: str) -> UpstreamJob:
        """The task's current state. Retried on transient failures."""
        _check_text("video_id", upstream_id, "video id")
        path = f"{TASKS_PATH}/{quote_id(upstream_id)}"
        job = await self._transport.request(Operation.RETRIEVE, "GET", path, parse_task)
        if job.result_url is not None and _PROXY_PATH.search(urlsplit(job.result_url).path):
            # new-api's proxy needs the key: members would get a dead link. Without a
            # stored link, ``download`` fetches the same proxy path on our base URL.
            return dataclasses.replace(job, result_url=None)
        return job

    async def download(
        self,
        upstream_id: str,
        *,
        variant: Variant = "video",
        max_bytes: int,
        dest: Path | None = None,
        result_url: str | None = None,
    ) -> Download:
        """The finished video, from where the task said it is (see ``_result_target``).

        There are no thumbnails in this dialect: ``variant="thumbnail"`` raises
        ``UnsupportedByUpstream`` and sends nothing.
        """
        _check_text("video_id", upstream_id, "video id")
        if variant != "video":
            raise UnsupportedByUpstream("fetch a thumbnail of", Dialect.GENERATIONS.value)
        proxy_path = f"/videos/{quote_id(upstream_id)}/content"
        if result_url is None:
            return await self._transport.download(
                proxy_path, params={}, max_bytes=max_bytes, dest=dest
            )
        url, with_key = self._result_target(result_url, proxy_path)
        return await self._transport.download_url(
            url, with_key=with_key, max_bytes=max_bytes, dest=dest
        )

    def _result_target(self, result_url: str, proxy_path: str) -> tuple[str, bool]:
        """(URL to fetch, send the key?) for a task's ``result_url``.

        On the API's origin: as given, with the key (new-api's proxy needs it). new-api's
        proxy path on another origin (its ``ServerAddress`` setting unset or stale): the
        same proxy on our base URL, with the key (never sent to the other host). Anything
        else is a provider's public link: fetched without the key.
        """
        base = self._transport.base_url
        if _origin(result_url) == _origin(base):
            return result_url, True
        if _PROXY_PATH.search(urlsplit(result_url).path):
            return base + proxy_path, True
        return result_url, False
