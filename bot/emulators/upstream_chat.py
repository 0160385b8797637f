"""The chat dialect in the upstream emulator: ``POST /v1/chat/completions``, sora2api's way.

Modelled on TheSmallHanCat/sora2api (``src/api/routes.py``, ``src/core/models.py``,
``src/services/generation_handler.py`` at commit 5342435; real streams quoted in its
issues #59 and #90), as ``docs/dialects/chat.md`` records:

* The body ``{"model", "messages": [{"role", "content": str | [text/image_url parts]}],
  "stream"}``; only the last message counts, an image only as a ``data:image/...;base64,``
  URL. Without ``"stream": true`` nothing is generated: a 200 ``chat.completion`` says
  "Please enable streaming to use the generation feature."
* A bad model or empty messages: HTTP 500 ``{"error": {"message": "400: Invalid model: X",
  "type": "server_error", ...}}`` (sora2api's ``HTTPException`` is caught by its own
  ``except Exception``); a body that is not the request model: 422 ``{"detail": [...]}``.
* ``text/event-stream`` of ``chat.completion.chunk`` objects: ``reasoning_content``
  progress text (``**Video Generation Progress**: 45% (processing)``) whenever the job's
  progress changes (in real time, over ``up.job_seconds`` on ``up.clock``); at the end
  ``content`` "```html\\n<video src='URL' controls></video>\\n```" with ``finish_reason``
  ``"STOP"``, then ``data: [DONE]``. The URL is the emulator's public ``/files/<id>.mp4``
  (sora2api serves its cache at a public ``/tmp/<file>`` on the same origin).
* Failures inside the 200: ``[fault:moderation]`` ends with sora2api's content-violation
  text (``❌ 生成失败: ...``, no URL); ``up.fail(id)`` with an error chunk
  ``{"error": {...}}`` and ``[DONE]``; ``[fault:drop]`` / an injected ``DROP`` cuts the
  connection after the first progress chunk (no URL, no ``[DONE]``); ``MALFORMED`` sends a
  line that is not JSON and ends; stopping the emulator ends open streams the same way.
* Request faults (``RATE_LIMIT``, ``HTTP_500``, ...) answer instead, as in every dialect;
  ``HANG`` holds the answer's head (the job still starts).

``MODELS`` is what sora2api's ``GET /v1/models`` lists: every ``MODEL_CONFIG`` key.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from aiohttp import web

from bot.emulators.fake_upstream import (
    _REC_KEY,
    FakeJob,
    FakeUpstream,
    Fault,
    FormPart,
    RecordedRequest,
    _ArmedFault,
    _PromptWords,
)

#: Video ids -> (size, seconds) in sora2api's ``MODEL_CONFIG`` (landscape 1280x704,
#: portrait 704x1280 in Sora; the emulator uses the API's own size names).
VIDEO_MODELS: dict[str, tuple[str, str]] = {
    **{
        f"sora2-{o}-{s}s": (z, str(s))
        for o, z in (("landscape", "1280x720"), ("portrait", "720x1280"))
        for s in (10, 15, 25)
    },
    **{
        f"sora2pro-{o}-{s}s": (z, str(s))
        for o, z in (("landscape", "1280x720"), ("portrait", "720x1280"))
        for s in (10, 15, 25)
    },
    **{
        f"sora2pro-hd-{o}-{s}s": (z, str(s))
        for o, z in (("landscape", "1792x1024"), ("portrait", "1024x1792"))
        for s in (10, 15)
    },
}
_IMAGE_MODELS = ("gpt-image", "gpt-image-landscape", "gpt-image-portrait")
_ENHANCE_MODELS = tuple(
    f"prompt-enhance-{level}-{s}s" for level in ("short", "medium", "long") for s in (10, 15, 20)
)
#: What ``GET /v1/models`` lists for this dialect (sora2api lists its whole config).
MODELS: tuple[str, ...] = (*_IMAGE_MODELS, *VIDEO_MODELS, *_ENHANCE_MODELS)

#: How often an open stream looks at its job (real seconds).
TICK = 0.05
#: sora2api's wording for a Sora draft flagged as a content violation.
VIOLATION_REASON = "This content may violate our content policies."
_NO_STREAM = (
    "All tokens available for video generation. Please enable streaming to use the "
    "generation feature."
)


def add_routes(app: web.Application, up: FakeUpstream) -> None:
    """Serve the chat dialect on ``app`` for ``up``."""
    app.router.add_post("/v1/chat/completions", _ChatRoute(up).handle, name="chat:create")


def _server_error(message: str) -> web.Response:
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    return web.json_response(body, status=500)


def _unprocessable(field: str, message: str) -> web.Response:
    detail = [{"type": "missing", "loc": ["body", field], "msg": message, "input": None}]
    return web.json_response({"detail": detail}, status=422)


def chunk(
    *,
    content: str | None = None,
    reasoning: str | None = None,
    finish: str | None = None,
    first: bool = False,
) -> bytes:
    """One SSE event shaped like sora2api's ``_format_stream_chunk``."""
    delta: dict[str, Any] = {"role": "assistant"} if first else {}
    delta.update(content=content, reasoning_content=reasoning, tool_calls=None)
    usage: dict[str, int] = {"prompt_tokens": 0}
    if finish:
        usage.update(completion_tokens=1, total_tokens=1)
    body = {
        "id": f"chatcmpl-{int(time.time() * 1000)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "sora",
        "choices": [
            {"index": 0, "delta": delta, "finish_reason": finish, "native_finish_reason": finish}
        ],
        "usage": usage,
    }
    return f"data: {json.dumps(body)}\n\n".encode()


DONE = b"data: [DONE]\n\n"


def _read_message(body: object) -> tuple[str, str, list[Any], bool] | web.Response:
    """(model, prompt, content parts, stream) of a request body, or the error answer."""
    if not isinstance(body, dict):
        return _unprocessable("model", "Input should be a valid dictionary")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str):
        return _unprocessable("model", "Field required")
    if not isinstance(messages, list):
        return _unprocessable("messages", "Field required")
    if not messages or not isinstance(messages[-1], dict):
        return _server_error("400: Messages cannot be empty")
    content = messages[-1].get("content")
    if isinstance(content, str):
        return model, content, [], bool(body.get("stream"))
    if not isinstance(content, list):
        return _server_error("400: Invalid content format")
    texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return model, texts[-1] if texts else "", content, bool(body.get("stream"))


def _image_part(parts: list[Any]) -> FormPart | None:
    """The ``image_url`` part's image, read only from a base64 data URI (as sora2api)."""
    for part in parts:
        if not isinstance(part, dict) or part.get("type") != "image_url":
            continue
        image = part.get("image_url")
        url = image.get("url", "") if isinstance(image, dict) else ""
        if isinstance(url, str) and url.startswith("data:image") and "base64," in url:
            head, _, data = url.partition("base64,")
            content_type = head.removeprefix("data:").rstrip(";")
            try:
                decoded = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                continue
            return FormPart(name="image", data=decoded, filename="image", content_type=content_type)
    return None


class _ChatRoute:
    """The handler, bound to one emulator."""

    def __init__(self, up: FakeUpstream) -> None:
        self.up = up

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rec = request[_REC_KEY]
        try:
            body = json.loads(rec.body or b"null")
        except ValueError:
            return _unprocessable("body", "JSON decode error")
        read = _read_message(body)
        if isinstance(read, web.Response):
            return read
        model, prompt, parts, stream = read
        if model not in MODELS:
            return _server_error(f"400: Invalid model: {model}")
        words = _PromptWords.parse(prompt, "create")
        armed = self.up._take_fault("create", None) or words.request_fault
        if armed is not None and armed.fault.refuses:
            return self.up._refusal(armed)
        if not stream:
            return _availability_answer()
        if model not in VIDEO_MODELS:
            return _server_error(f"400: {model} is not a video model (not emulated)")
        job = self._start_job(model, prompt, parts, words, armed)
        if armed is not None and armed.fault is Fault.HANG:
            await self.up._hang(float(armed.params.get("seconds", 30)))
        return await self._stream(request, rec, job, armed, image=job.reference is not None)

    def _start_job(
        self,
        model: str,
        prompt: str,
        parts: list[Any],
        words: _PromptWords,
        armed: _ArmedFault | None,
    ) -> FakeJob:
        size, seconds = VIDEO_MODELS[model]
        faults = words.job_faults
        if armed is not None and armed.fault.is_job_fault:
            faults.add(armed.fault)
        return self.up._new_job(
            prompt=prompt,
            model=model,
            size=size,
            seconds=seconds,
            words=words,
            faults=faults,
            reference=_image_part(parts),
        )

    async def _stream(
        self,
        request: web.Request,
        rec: RecordedRequest,
        job: FakeJob,
        armed: _ArmedFault | None,
        *,
        image: bool,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        response.content_type = "text/event-stream"
        drop = job.drop_content or (armed is not None and armed.fault is Fault.DROP)
        malformed = armed is not None and armed.fault is Fault.MALFORMED
        writer = _Writer(request, response, rec)
        try:
            await response.prepare(request)
            if image:
                await writer.send(
                    chunk(
                        reasoning="**Image Upload Begins**\n\nUploading image to server...\n",
                        first=True,
                    )
                )
            await writer.send(
                chunk(
                    reasoning="**Generation Process Begins**\n\nInitializing generation request...\n",
                    first=not image,
                )
            )
            if malformed:
                await writer.send(b'data: {"id": "chatcmpl-trunc\n\n')
                return writer.cut()
            if not await self._follow(writer, job, drop=drop):
                return writer.cut()
            await writer.send_end(job, self.up)
        except ConnectionError:  # the client went away
            rec.aborted = True
        return response

    async def _follow(self, writer: _Writer, job: FakeJob, *, drop: bool) -> bool:
        """Send progress until the job ends; False: the stream is to be cut now."""
        last = -1
        while True:
            status, progress = job.status(self.up.clock())
            if status in ("completed", "failed", "expired"):
                return True
            if progress != last:
                last = progress
                label = "processing" if status == "in_progress" else "queued"
                text = f"**Video Generation Progress**: {progress}% ({label})\n"
                await writer.send(chunk(reasoning=text))
                if drop:
                    return False
            await self.up._hang(TICK)
            if self.up._closing.is_set():
                return False


class _Writer:
    """Writes SSE events to one response and records what was sent."""

    def __init__(
        self, request: web.Request, response: web.StreamResponse, rec: RecordedRequest
    ) -> None:
        self.request = request
        self.response = response
        self.rec = rec

    async def send(self, data: bytes) -> None:
        await self.response.write(data)
        self.rec.bytes_sent += len(data)

    def cut(self) -> web.StreamResponse:
        """Close the connection without the stream's end."""
        self.rec.aborted = True
        if self.request.transport is not None:
            self.request.transport.close()
        return self.response

    async def send_end(self, job: FakeJob, up: FakeUpstream) -> None:
        """The stream's last words for a finished job, then ``[DONE]``."""
        status, _ = job.status(up.clock())
        if status == "failed" and job.moderation:
            await self.send(
                chunk(reasoning=f"**Content Policy Violation**\n\n{VIOLATION_REASON}\n")
            )
            await self.send(chunk(content=f"❌ 生成失败: {VIOLATION_REASON}", finish="STOP"))
        elif status == "failed":
            message = (job.error or {}).get("message", "Generation failed")
            error = {"message": message, "type": "server_error", "param": None, "code": None}
            await self.send(f"data: {json.dumps({'error': error})}\n\n".encode())
        else:
            url = f"{up.origin}/files/{job.id}.mp4"
            await self.send(
                chunk(reasoning="**Video Generation Completed**\n\nVideo generation successful.\n")
            )
            await self.send(
                chunk(content=f"```html\n<video src='{url}' controls></video>\n```", finish="STOP")
            )
        await self.send(DONE)
        await self.response.write_eof()


def _availability_answer() -> web.Response:
    """sora2api's non-stream answer: an availability check, nothing generated."""
    body = {
        "id": f"chatcmpl-{time.time()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "sora",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _NO_STREAM},
                "finish_reason": "stop",
            }
        ],
    }
    return web.json_response(body)
