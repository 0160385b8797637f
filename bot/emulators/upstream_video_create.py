"""The unified ``video/create`` dialect for ``FakeUpstream(dialects=("video-create",))``.

Routes (bearer auth, like the rest of the emulator):

* ``POST /v1/video/create`` (JSON only): ``model``, ``prompt``, ``orientation``
  (``portrait|landscape``), ``size`` (``small|large``), ``duration`` (an integer: ``sora-2``
  makes 10 or 15, ``sora-2-pro`` 15 or 25), ``images`` (a list of http(s) or ``data:image/``
  URLs), optional ``watermark`` / ``private`` booleans. Answers
  ``{"id": "<model>:task_<26 chars>", "status": "pending", "status_update_time": <ms>}``.
* ``GET /v1/video/query?id=<the full id>``: the job, statuses ``pending`` -> ``processing``
  -> ``completed`` | ``failed``; ``progress`` as a string, ``detail.pending_info.progress_pct``
  (0..1) while processing, a public ``video_url`` once completed (on
  ``up.redirect_content_to`` when set, a CDN on another origin, else on the emulator's own
  unauthenticated ``/files/``), ``enhanced_prompt``, ``status_update_time`` in ms. The
  answer's ``id`` DROPS the ``<model>:`` prefix (as octopusx's example does); a failed job
  carries ``error: {code, message}`` (``moderation_blocked`` for moderation).
* Unknown id: 400 ``{"code": "task_not_exist", "message": "task_not_exist", "data": null}``;
  request faults in OpenAI's error envelope. An expired job still answers ``completed``,
  but its link is gone (404), as relays' temporary links do.

Prompt words (``[duration:S]``, ``[bytes:N]``, ``[fault:NAME]``) and ``up.inject("create" |
"retrieve", ...)`` work as for ``/v1/videos``. Sources (stored copies, 2026-12): v98store
"Create Video Sora-2" (https://v98store.com/html_docs/api-358068995.html); fast-token
"Create video sora-2" / "sora-2-pro" (https://docs.fast-token.com/en/other-model/video/sora2/
mode-standard/); octopusx "Sora unified" create and query, and its Veo query with the
prefix dropped (https://docs.octopusx.ai/en/videos/sora/unified-generation, .../unified-query,
.../videos/veo/unified-query); jusu-api query (https://jusu-api.apifox.cn/359865498e0);
crazyrouter (https://docs.crazyrouter.com/video/sora). Undocumented behaviour (errors, the
unknown id, failures) is chosen in ``docs/dialects/video-create.md``.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.emulators.fake_upstream import (
    FakeJob,
    FakeUpstream,
    _PromptWords,
    newapi_error,
    openai_error,
)

NAME = "video-create"
#: What ``GET /v1/models`` lists for this dialect.
MODELS: tuple[str, ...] = ("sora-2", "sora-2-pro")
#: The lengths each model makes (fast-token, octopusx, yunwu-style tables).
#: ``sora-2-all`` (image-to-video on some relays) is accepted but not listed.
MODEL_DURATIONS: dict[str, tuple[int, ...]] = {
    "sora-2": (10, 15),
    "sora-2-pro": (15, 25),
    "sora-2-all": (10, 15),
}
ORIENTATIONS = ("portrait", "landscape")
SIZES = ("small", "large")
MAX_PROMPT_CHARS = 32000
_FIELDS = frozenset(
    {
        "model",
        "prompt",
        "orientation",
        "size",
        "duration",
        "images",
        "watermark",
        "private",
        "character_url",
        "character_timestamps",
        "style",
        "storyboard",
    }
)
_STATUS_WORDS = {
    "queued": "pending",
    "in_progress": "processing",
    "completed": "completed",
    "failed": "failed",
    "expired": "completed",  # the link expires; the job does not say so
}
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # ULID's, lower case


class _Invalid(Exception):
    def __init__(self, message: str, *, param: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.response = openai_error(400, message, param=param, code=code)


def _task_id(model: str) -> str:
    return f"{model}:task_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(26))


def _now_ms() -> int:
    return int(time.time() * 1000)


def _bare(job_id: str) -> str:
    return job_id.partition(":")[2] or job_id


def _check_choice(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = body.get(name)
    if value is None:
        raise _Invalid(f"Missing required parameter: '{name}'.", param=name, code="missing")
    if value not in allowed:
        listed = ", ".join(f"'{a}'" for a in allowed)
        raise _Invalid(f"Invalid value: '{value}'. Supported values are: {listed}.", param=name)
    return str(value)


def _check_duration(body: dict[str, Any], model: str) -> int:
    value = body.get("duration")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(
            "Invalid type for 'duration': expected an integer.",
            param="duration",
            code="invalid_type",
        )
    allowed = MODEL_DURATIONS[model]
    if value not in allowed:
        listed = " or ".join(str(a) for a in allowed)
        raise _Invalid(f"{model} supports a duration of {listed} seconds.", param="duration")
    return value


def _check_images(body: dict[str, Any]) -> list[str]:
    images = body.get("images", [])
    if not isinstance(images, list):
        raise _Invalid(
            "'images' must be a list of image URLs.", param="images", code="invalid_type"
        )
    for image in images:
        if not isinstance(image, str) or not (
            image.startswith(("https://", "http://")) or image.startswith("data:image/")
        ):
            raise _Invalid("Every image must be an image URL.", param="images")
    return images


def check_create(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a create body; return the job's settings (``_Invalid`` on a bad field)."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _Invalid(f"Unknown parameter: '{unknown[0]}'.", param=unknown[0], code="unknown")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _Invalid("'prompt' must be a non-empty string.", param="prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise _Invalid(f"'prompt' is longer than {MAX_PROMPT_CHARS} characters.", param="prompt")
    model = _check_choice(body, "model", tuple(MODEL_DURATIONS))
    for flag in ("watermark", "private"):
        if flag in body and not isinstance(body[flag], bool):
            raise _Invalid(f"'{flag}' must be a boolean.", param=flag, code="invalid_type")
    return {
        "prompt": prompt,
        "model": model,
        "orientation": _check_choice(body, "orientation", ORIENTATIONS),
        "size": _check_choice(body, "size", SIZES),
        "duration": _check_duration(body, model),
        "images": _check_images(body),
    }


class _VideoCreateRoutes:
    """The two handlers, over the emulator's jobs, faults and clock."""

    def __init__(self, up: FakeUpstream) -> None:
        self.up = up
        #: What each job's create asked for, echoed in ``detail.input``.
        self.inputs: dict[str, dict[str, Any]] = {}

    async def create(self, request: web.Request) -> web.StreamResponse:
        up = self.up
        if not request.content_type.startswith("application/json"):
            return openai_error(
                400, "The body must be JSON.", param="body", code="unsupported_content_type"
            )
        try:
            body = json.loads(await request.read() or b"null")
            if not isinstance(body, dict):
                raise _Invalid("The body must be a JSON object.", param="body")
            settings = check_create(body)
        except ValueError:
            return openai_error(400, "We could not parse the JSON body.", param="body")
        except _Invalid as err:
            return err.response
        words = _PromptWords.parse(settings["prompt"], "create")
        armed = up._take_fault("create", None) or words.request_fault
        if armed is not None and armed.fault.refuses:
            return up._refusal(armed)
        faults = words.job_faults
        if armed is not None and armed.fault.is_job_fault:
            faults.add(armed.fault)
            armed = None
        job = self._new_job(settings, words, faults)
        answer = {"id": job.id, "status": "pending", "status_update_time": _now_ms()}
        return await up._deliver(request, armed, web.json_response(answer))

    def _new_job(self, settings: dict[str, Any], words: _PromptWords, faults: set[Any]) -> FakeJob:
        up = self.up
        job = up._new_job(
            prompt=settings["prompt"],
            model=settings["model"],
            size=settings["size"],
            seconds=str(settings["duration"]),
            words=words,
            faults=faults,
            reference={"images": settings["images"]} if settings["images"] else None,
        )
        del up.jobs[job.id]
        job.id = _task_id(settings["model"])
        up.jobs[job.id] = job
        self.inputs[job.id] = {
            "prompt": settings["prompt"],
            "model": settings["model"],
            "images": settings["images"],
            "orientation": settings["orientation"],
            "size": settings["size"],
            "duration": settings["duration"],
        }
        return job

    async def query(self, request: web.Request) -> web.StreamResponse:
        up = self.up
        task_id = request.query.get("id", "")
        if not task_id:
            return openai_error(400, "Missing required parameter: 'id'.", param="id")
        armed = up._take_fault("retrieve", task_id)
        if armed is not None and armed.fault.refuses:
            return up._refusal(armed)
        job = up.jobs.get(task_id)
        if job is None or task_id not in self.inputs:
            not_found = newapi_error(400, "task_not_exist", "task_not_exist")
            return await up._deliver(request, armed, not_found)
        if armed is not None and armed.fault.is_job_fault:
            up._apply_job_fault(job, armed.fault)
            armed = None
        return await up._deliver(request, armed, web.json_response(self.payload(job)))

    def payload(self, job: FakeJob) -> dict[str, Any]:
        """The query answer for ``job`` now."""
        status, progress = job.status(self.up.clock())
        word = _STATUS_WORDS.get(status, status)
        detail: dict[str, Any] = {"id": _bare(job.id), "input": self.inputs[job.id], "status": word}
        if word == "processing":
            detail["pending_info"] = {"progress_pct": progress / 100, "status": "processing"}
        answer: dict[str, Any] = {
            "id": _bare(job.id),
            "object": "video",
            "model": job.model,
            "status": word,
            "progress": str(progress),
            "created_at": job.created_at,
            "size": job.size,
            "video_url": self._video_url(job) if word == "completed" else None,
            "enhanced_prompt": job.prompt if word == "completed" else "",
            "status_update_time": _now_ms(),
            "detail": detail,
        }
        if job.error is not None:
            answer["error"] = dict(job.error)
        return answer

    def _video_url(self, job: FakeJob) -> str:
        """A public link: the CDN origin when one is set, else the emulator's ``/files/``."""
        up = self.up
        name = quote(job.id, safe="") + ".mp4"
        if up.redirect_content_to:
            return f"{up.redirect_content_to}/files/{name}?bytes={job.video_bytes}"
        return f"{up.origin}/files/{name}"


def add_routes(app: web.Application, up: FakeUpstream) -> None:
    """Serve this dialect's routes on ``app`` for ``up``."""
    routes = _VideoCreateRoutes(up)
    app.router.add_post("/v1/video/create", routes.create, name=f"{NAME}:create")
    app.router.add_get("/v1/video/query", routes.query, name=f"{NAME}:retrieve")
