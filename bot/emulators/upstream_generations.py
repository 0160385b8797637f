"""The ``generations`` dialect for ``FakeUpstream``: new-api's generic video task API.

Served routes (bearer auth, checked by ``FakeUpstream``'s middleware):

* ``POST /v1/video/generations`` (JSON or multipart): validated in new-api's order, then
  as its Sora channel's upstream (OpenAI's ``/v1/videos``) would; answers the upstream's
  Video object with new-api's public ``task_...`` id in ``id`` and ``task_id``.
* ``GET /v1/video/generations/{task_id}``: ``{"code": "success", "message": "", "data":
  TaskDto}``; an unknown id answers 400 ``{"code": "task_not_exist", ...}``.
* ``GET /v1/videos/{task_id}/content``: new-api's content proxy (needs the key), the
  ``result_url`` of a finished task. Served by the openai dialect's handler instead when
  both dialects are on (same jobs, same bytes).

Sources (QuantumNous/new-api): ``router/video-router.go``, ``dto/task.go`` (``TaskDto``,
``TaskResponse``, ``TaskError``), ``model/task.go`` (statuses, ``NOT_START`` + ``"0%"`` at
creation), ``relay/relay_task.go`` (``videoFetchByIDRespBodyBuilder``: the wrapped TaskDto,
``task_not_exist``; ``RelayTaskSubmit``: an upstream refusal becomes ``fail_to_fetch_task``
with the upstream's body as the message), ``relay/common/relay_utils.go``
(``ValidateMultipartDirect``: ``missing_model``, ``invalid_request``, ``invalid_size``),
``relay/channel/task/taskcommon/helpers.go`` (``"20%"`` queued, ``"30%"`` in progress,
``"100%"`` done; ``BuildProxyURL``), ``relay/channel/task/sora/adaptor.go`` (the create
answer; ``fail_reason`` = the upstream's ``error.message``), ``controller/video_proxy.go``
(content errors), ``middleware/distributor.go`` (503 for a model no channel serves),
``controller/relay.go`` (``respondTaskError``: every 429 says the group is saturated).
Details and choices: ``docs/dialects/generations.md``.

Choices where new-api leaves it open: a job shows ``NOT_START`` for the first half of its
queued time, then ``QUEUED``; ``IN_PROGRESS`` progress is the job's own (never below
``"30%"``); ``FakeUpstream(video_url=True)`` makes ``result_url`` a public link (a
provider's CDN, fetched without the key) instead of the proxy; an expired job stays
``SUCCESS`` and its content proxy answers 502 (the provider's 404 behind it).
Every fault and prompt word of ``FakeUpstream`` works here; refusals answer in new-api's
``{code, message, data}`` shape.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import time
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.emulators.fake_upstream import (
    _REC_KEY,
    QUEUED_FRACTION,
    VIDEO_SECONDS,
    VIDEO_SIZES,
    FakeJob,
    FakeUpstream,
    Fault,
    FormPart,
    RecordedRequest,
    _ArmedFault,
    _PromptWords,
    newapi_error,
    parse_multipart,
)

#: What ``GET /v1/models`` lists for this dialect (new-api's Sora channel models).
MODELS: tuple[str, ...] = ("sora-2", "sora-2-pro")

#: Sizes new-api lets ``sora-2`` ask for; ``sora-2-pro`` may ask for any ``VIDEO_SIZES``.
SORA_2_SIZES = ("720x1280", "1280x720")
#: Fields the Sora channel's upstream (OpenAI's ``/v1/videos``) accepts; new-api forwards
#: the body as it came, so anything else is refused there.
UPSTREAM_FIELDS = frozenset({"prompt", "model", "seconds", "size", "input_reference"})
SATURATED = "当前分组上游负载已饱和，请稍后再试"


class _Refused(Exception):
    """Carries a finished error answer out of request checks."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _task_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "task_" + "".join(secrets.choice(alphabet) for _ in range(32))


def _upstream_refusal(status: int, message: str, *, param: str | None, code: str) -> _Refused:
    """What new-api answers when its channel refused: the channel's body as the message."""
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }
    return _Refused(newapi_error(status, "fail_to_fetch_task", json.dumps(body)))


def _read_body(rec: RecordedRequest) -> dict[str, Any]:
    """The create body as {field: value}; new-api skips bodies of other content types."""
    if rec.content_type.startswith("application/json"):
        try:
            data = json.loads(rec.body or b"null")
        except ValueError:
            raise _Refused(
                newapi_error(400, "invalid_json", "invalid character in the JSON body")
            ) from None
        if not isinstance(data, dict):
            raise _Refused(newapi_error(400, "invalid_json", "the JSON body is not an object"))
        return data
    if rec.content_type.startswith("multipart/form-data"):
        try:
            parts = parse_multipart(rec.body, rec.content_type)
        except ValueError as exc:
            raise _Refused(newapi_error(400, "invalid_multipart_form", str(exc))) from None
        return {n: p if p.filename is not None else p.text for n, p in parts.items()}
    return {}


def _check_new_api(form: dict[str, Any]) -> tuple[str, str, str, str]:
    """new-api's own checks (distributor, ``ValidateMultipartDirect``): (model, prompt,
    seconds, size)."""
    model = form.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _Refused(newapi_error(400, "missing_model", "model field is required"))
    if model not in MODELS:
        message = f"当前分组 default 下对于模型 {model} 无可用渠道"
        raise _Refused(
            web.json_response({"error": {"message": message, "type": "new_api_error"}}, status=503)
        )
    seconds = form.get("seconds", "4")
    if not isinstance(seconds, str):
        message = (
            "json: cannot unmarshal number into Go struct field TaskSubmitReq.seconds of type"
            " string"
        )
        raise _Refused(newapi_error(400, "invalid_json", message))
    prompt = form.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _Refused(newapi_error(400, "invalid_request", "prompt is required"))
    size = form.get("size", "720x1280")
    allowed = SORA_2_SIZES if model == "sora-2" else VIDEO_SIZES
    if size not in allowed:
        raise _Refused(newapi_error(400, "invalid_size", "sora-2 size is invalid"))
    return model, prompt, seconds, str(size)


def _check_upstream(form: dict[str, Any], seconds: str) -> FormPart | None:
    """The Sora channel's upstream checks of the forwarded body; the reference image."""
    unknown = sorted(set(form) - UPSTREAM_FIELDS)
    if unknown:
        raise _upstream_refusal(
            400, f"Unknown parameter: '{unknown[0]}'.", param=unknown[0], code="unknown_parameter"
        )
    if seconds not in VIDEO_SECONDS:
        listed = ", ".join(f"'{s}'" for s in VIDEO_SECONDS)
        raise _upstream_refusal(
            400,
            f"Invalid value: '{seconds}'. Supported values are: {listed}.",
            param="seconds",
            code="invalid_value",
        )
    reference = form.get("input_reference")
    if reference is not None and not isinstance(reference, FormPart):
        raise _upstream_refusal(
            400,
            "Invalid type for 'input_reference': expected an object, but got a string instead.",
            param="input_reference",
            code="invalid_type",
        )
    return reference


class _Routes:
    """The handlers, bound to one ``FakeUpstream`` (its jobs, clock, faults)."""

    def __init__(self, up: FakeUpstream) -> None:
        self.up = up

    # --- answers -------------------------------------------------------------------

    def refusal(self, armed: _ArmedFault) -> web.Response:
        """A refusing fault, as new-api would pass it on."""
        fault, params = armed.fault, armed.params
        if fault is Fault.RATE_LIMIT:
            headers: dict[str, str] = {}
            retry_after = params.get("retry_after", 1)
            if retry_after is not None:
                headers["Retry-After"] = (
                    retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
                )
            if params.get("retry_after_ms") is not None:
                headers["retry-after-ms"] = f"{params['retry_after_ms']:g}"
            return newapi_error(429, "upstream_error", SATURATED, headers=headers)
        if fault is Fault.HTTP_500:
            body = {"error": {"message": "The server had an error.", "type": "server_error"}}
            return newapi_error(500, "fail_to_fetch_task", json.dumps(body))
        if fault is Fault.MODERATION_SUBMIT:
            return _upstream_refusal(
                400,
                "Your request was blocked by our moderation system.",
                param="prompt",
                code="moderation_blocked",
            ).response
        if fault is Fault.HTTP_ERROR and "shape" not in params:
            armed = _ArmedFault(armed.op, fault, 1, armed.video_id, {**params, "shape": "newapi"})
        return self.up._refusal(armed)

    def result_url(self, job: FakeJob) -> str:
        if self.up.video_url:  # a provider's public link
            return f"{self.up.origin}/files/{quote(job.id, safe='')}.mp4"
        return f"{self.up.origin}/v1/videos/{quote(job.id, safe='')}/content"

    def task_state(self, job: FakeJob) -> tuple[str, str, str, int]:
        """(new-api status, its progress, the upstream's status, its progress)."""
        status, progress = job.status(self.up.clock())
        if status == "queued":
            elapsed = self.up.clock() - job.started
            if elapsed < job.duration * QUEUED_FRACTION / 2:
                return "NOT_START", "0%", status, progress
            return "QUEUED", "20%", status, progress
        if status == "in_progress":
            return "IN_PROGRESS", f"{max(30, progress)}%", status, progress
        if status == "failed":
            return "FAILURE", "100%", status, progress
        return "SUCCESS", "100%", "completed", 100  # an expired job stays SUCCESS here

    def upstream_video(self, job: FakeJob, status: str, progress: int) -> dict[str, Any]:
        """The Sora upstream's own answer, as new-api keeps it in the task's ``data``."""
        digest = hashlib.sha256(job.id.encode()).hexdigest()[:48]
        video: dict[str, Any] = {
            "id": f"video_{digest}",
            "object": "video",
            "model": job.model,
            "status": status,
            "progress": progress,
            "created_at": job.created_at,
            "size": job.size,
            "seconds": job.seconds,
        }
        if job.error is not None:
            video["error"] = dict(job.error)
        return video

    def task_dto(self, job: FakeJob) -> dict[str, Any]:
        """``TaskModel2Dto`` of the job's task row."""
        word, percent, upstream_status, upstream_progress = self.task_state(job)
        done = word in ("SUCCESS", "FAILURE")
        dto: dict[str, Any] = {
            "id": list(self.up.jobs).index(job.id) + 1,
            "created_at": job.created_at,
            "updated_at": int(time.time()),
            "task_id": job.id,
            "platform": "55",
            "user_id": 1,
            "group": "default",
            "channel_id": 1,
            "quota": 0,
            "action": "generate" if job.reference is not None else "textGenerate",
            "status": word,
            "fail_reason": job.error["message"] if word == "FAILURE" and job.error else "",
            "submit_time": job.created_at,
            "start_time": job.created_at if word not in ("NOT_START", "QUEUED") else 0,
            "finish_time": (job.completed_at or int(time.time())) if done else 0,
            "progress": percent,
            "properties": {
                "input": job.prompt,
                "upstream_model_name": job.model,
                "origin_model_name": job.model,
            },
            "data": self.upstream_video(job, upstream_status, upstream_progress),
        }
        if word == "SUCCESS":
            dto["result_url"] = self.result_url(job)
        return dto

    # --- handlers --------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.StreamResponse:
        rec = request[_REC_KEY]
        try:
            form = _read_body(rec)
            model, prompt, seconds, size = _check_new_api(form)
        except _Refused as refused:
            return refused.response
        words = _PromptWords.parse(prompt, "create")
        armed = self.up._take_fault("create", None) or words.request_fault
        if armed is not None and armed.fault.refuses:
            return self.refusal(armed)
        try:
            reference = _check_upstream(form, seconds)
        except _Refused as refused:
            return refused.response
        faults = words.job_faults
        if armed is not None and armed.fault.is_job_fault:
            faults.add(armed.fault)
            armed = None
        job = self.up._new_job(
            prompt=prompt,
            model=model,
            size=size,
            seconds=seconds,
            words=words,
            faults=faults,
            reference=reference,
        )
        del self.up.jobs[job.id]  # new-api's public ids, whichever relay flavour is on
        job.id = _task_id()
        self.up.jobs[job.id] = job
        answer = self.upstream_video(job, "queued", 0)
        answer.update(id=job.id, task_id=job.id)
        return await self.up._deliver(request, armed, web.json_response(answer))

    async def retrieve(self, request: web.Request) -> web.StreamResponse:
        task_id = request.match_info["video_id"]
        armed = self.up._take_fault("retrieve", task_id)
        if armed is not None and armed.fault.refuses:
            return self.refusal(armed)
        job = self.up.jobs.get(task_id)
        if job is None:
            missing = newapi_error(400, "task_not_exist", "task_not_exist")
            return await self.up._deliver(request, armed, missing)
        if armed is not None and armed.fault.is_job_fault:
            self.up._apply_job_fault(job, armed.fault)
            armed = None
        body = {"code": "success", "message": "", "data": self.task_dto(job)}
        return await self.up._deliver(request, armed, web.json_response(body))

    async def content(self, request: web.Request) -> web.StreamResponse:
        task_id = request.match_info["video_id"]
        armed = self.up._take_fault("content", task_id)
        if armed is not None and armed.fault.refuses:
            return self.refusal(armed)
        if armed is not None and armed.fault is Fault.HANG:
            await self.up._hang(float(armed.params.get("seconds", 30)))
        job = self.up.jobs.get(task_id)
        if job is None:
            return _proxy_error(404, "invalid_request_error", "Task not found")
        if armed is not None and armed.fault.is_job_fault:
            self.up._apply_job_fault(job, armed.fault)
        word = self.task_state(job)[0]
        if word != "SUCCESS":
            message = f"Task is not completed yet, current status: {word}"
            return _proxy_error(400, "invalid_request_error", message)
        if job.state == "expired":
            return _proxy_error(502, "server_error", "Upstream service returned status 404")
        drop = (armed is not None and armed.fault is Fault.DROP) or job.drop_content
        return await self.up._send_asset(
            request, job.id, job.video_bytes, "video", drop=drop, real=job.real
        )


def _proxy_error(status: int, kind: str, message: str) -> web.Response:
    """``controller/video_proxy.go``'s error shape: no ``param``, no ``code``."""
    return web.json_response({"error": {"message": message, "type": kind}}, status=status)


def add_routes(app: web.Application, up: FakeUpstream) -> None:
    """Serve the generations dialect on ``app`` (route names ``generations:<op>``)."""
    routes = _Routes(up)
    app.router.add_post("/v1/video/generations", routes.create, name="generations:create")
    app.router.add_get(
        "/v1/video/generations/{video_id}", routes.retrieve, name="generations:retrieve"
    )
    app.router.add_get("/v1/videos/{video_id}/content", routes.content, name="generations:content")
