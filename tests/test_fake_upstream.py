"""The FakeUpstream emulator itself, driven with a plain httpx client (not OpenAIVideosClient)."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from bot.emulators.fake_upstream import (
    THUMBNAIL_WEBP,
    FakeUpstream,
    Fault,
    parse_multipart,
)
from bot.emulators.mp4 import MIN_MP4_SIZE, is_mp4, iter_mp4, mp4_bytes, top_level_boxes
from tests.upstream_fixtures import API_KEY, FakeClock, free_port, wait_until
from tests.upstream_fixtures import fake_upstream as fake_upstream
from tests.upstream_fixtures import upstream_clock as upstream_clock

AUTH = {"Authorization": f"Bearer {API_KEY}"}
#: One TLS context for the many short-lived clients below (building one costs ~50 ms).
_TLS = httpx.create_ssl_context()


def _form(**fields: str) -> list[tuple[str, tuple[None, str]]]:
    return [(name, (None, value)) for name, value in fields.items()]


async def _create(up: FakeUpstream, prompt: str = "a cat", **fields: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=up.base_url, headers=AUTH, verify=_TLS) as http:
        response = await http.post("/videos", files=_form(prompt=prompt, **fields))
    assert response.status_code == 200, response.text
    return response.json()


async def _get(up: FakeUpstream, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=up.base_url, headers=AUTH, verify=_TLS) as http:
        return await http.get(path, **kwargs)


async def _post(up: FakeUpstream, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=up.base_url, headers=AUTH, verify=_TLS) as http:
        return await http.post(path, **kwargs)


# --- mp4 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [MIN_MP4_SIZE, 4096, 1_000_003])
def test_mp4_has_the_requested_size_and_valid_boxes(size: int) -> None:
    data = mp4_bytes(size)
    assert len(data) == size and is_mp4(data)
    boxes = top_level_boxes(data)
    assert [kind for kind, _ in boxes] == ["ftyp", "moov", "mdat"]
    assert sum(box_size for _, box_size in boxes) == size
    assert data[8:12] == b"isom" and b"mvhd" in data[:200]
    assert b"".join(iter_mp4(size, chunk_size=1000)) == data


def test_mp4_too_small_and_large_sizes() -> None:
    with pytest.raises(ValueError):
        mp4_bytes(MIN_MP4_SIZE - 1)
    size = 5 * 1024**3  # over 4 GiB: the mdat box needs a 64-bit size
    head = next(iter_mp4(size))
    assert head[-16:-12] == b"\x00\x00\x00\x01" and head[-12:-8] == b"mdat"
    assert int.from_bytes(head[-8:], "big") == size - (len(head) - 16)
    assert not is_mp4(b"not an mp4 at all") and not is_mp4(mp4_bytes(4096)[:-1])


def test_thumbnail_is_a_webp_riff() -> None:
    assert THUMBNAIL_WEBP[:4] == b"RIFF" and THUMBNAIL_WEBP[8:12] == b"WEBP"
    assert int.from_bytes(THUMBNAIL_WEBP[4:8], "little") == len(THUMBNAIL_WEBP) - 8


def test_parse_multipart_keeps_binary_parts() -> None:
    payload = bytes(range(256)) * 3 + b"\r\n--not-the-boundary\r\n"
    request = httpx.Request(
        "POST",
        "http://x/",
        files=[("prompt", (None, "héllo")), ("input_reference", ("a.png", payload, "image/png"))],
    )
    parts = parse_multipart(request.read(), request.headers["content-type"])
    assert parts["prompt"].text == "héllo" and parts["prompt"].filename is None
    image = parts["input_reference"]
    assert (image.filename, image.content_type, image.data) == ("a.png", "image/png", payload)


# --- auth, validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": API_KEY}]
)
@pytest.mark.asyncio
async def test_requests_without_the_key_are_401(
    fake_upstream: FakeUpstream, headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=fake_upstream.base_url, headers=headers) as http:
        response = await http.post("/videos", files=_form(prompt="a cat"))
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert not fake_upstream.jobs and fake_upstream.requests[0].status == 401


@pytest.mark.asyncio
async def test_newapi_401_shape() -> None:
    async with FakeUpstream(relay="newapi") as up:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{up.base_url}/videos/task_x")
    assert response.status_code == 401 and response.json()["error"]["type"] == "new_api_error"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({}, "prompt", "missing_required_parameter"),
        ({"prompt": ""}, "prompt", "string_below_min_length"),
        ({"prompt": "x" * 32001}, "prompt", "string_above_max_length"),
        ({"prompt": "a", "seconds": 4}, "seconds", "invalid_type"),
        ({"prompt": "a", "seconds": "10"}, "seconds", "invalid_value"),
        ({"prompt": "a", "size": "1920x1080"}, "size", "invalid_value"),
        ({"prompt": "a", "duration": 4}, "duration", "unknown_parameter"),
        ({"prompt": "a", "input_reference": {}}, "input_reference", "invalid_value"),
    ],
)
@pytest.mark.asyncio
async def test_create_validation_json(
    fake_upstream: FakeUpstream, body: dict[str, Any], param: str, code: str
) -> None:
    response = await _post(fake_upstream, "/videos", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")
    assert not fake_upstream.jobs


@pytest.mark.asyncio
async def test_create_validation_multipart(fake_upstream: FakeUpstream) -> None:
    as_text = await _post(
        fake_upstream, "/videos", files=_form(prompt="a", input_reference="http://x/a.png")
    )
    assert as_text.status_code == 400
    assert as_text.json()["error"]["message"] == (
        "Invalid type for 'input_reference': expected a file, but got a string instead."
    )
    bad_seconds = await _post(fake_upstream, "/videos", files=_form(prompt="a", seconds="10"))
    assert bad_seconds.json()["error"]["message"] == (
        "Invalid value: '10'. Supported values are: '4', '8', '12'."
    )
    urlencoded = await _post(fake_upstream, "/videos", data={"prompt": "a"})
    assert urlencoded.status_code == 400
    assert not fake_upstream.jobs


@pytest.mark.asyncio
async def test_create_accepts_json_and_multipart(fake_upstream: FakeUpstream) -> None:
    from_json = await _post(
        fake_upstream,
        "/videos",
        json={"prompt": "a", "seconds": "12", "size": "1024x1792", "model": "sora-2-pro"},
    )
    from_form = await _create(fake_upstream, "b")
    created = from_json.json()
    assert (created["seconds"], created["size"], created["model"]) == (
        "12",
        "1024x1792",
        "sora-2-pro",
    )
    assert (from_form["seconds"], from_form["size"], from_form["model"]) == (
        "4",
        "720x1280",
        "sora-2",
    )
    assert len(fake_upstream.jobs) == 2


# --- lifecycle ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_lifecycle_on_the_injected_clock(
    fake_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    created = await _create(fake_upstream)
    assert set(created) == {
        "id", "object", "model", "status", "progress", "created_at", "completed_at",
        "expires_at", "prompt", "size", "seconds", "remixed_from_video_id", "error",
    }  # fmt: skip
    assert (created["status"], created["progress"], created["completed_at"]) == ("queued", 0, None)
    path = f"/videos/{created['id']}"
    states = []
    for step in (0.5, 2, 3, 4, 1):
        upstream_clock.advance(step)
        body = (await _get(fake_upstream, path)).json()
        states.append((body["status"], body["progress"]))
    assert states[0] == ("queued", 0)
    assert [s for s, _ in states[1:4]] == ["in_progress"] * 3
    assert states[1][1] < states[2][1] < states[3][1] < 100
    assert states[4] == ("completed", 100)
    done = (await _get(fake_upstream, path)).json()
    assert done["completed_at"] is not None and done["expires_at"] == done["completed_at"] + 3600


@pytest.mark.asyncio
async def test_prompt_words_set_duration_and_size(
    fake_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    quick = await _create(fake_upstream, "quick [duration:1] [bytes:2000]")
    slow = await _create(fake_upstream, "slow")
    upstream_clock.advance(1)
    assert (await _get(fake_upstream, f"/videos/{quick['id']}")).json()["status"] == "completed"
    assert (await _get(fake_upstream, f"/videos/{slow['id']}")).json()["status"] == "in_progress"
    content = await _get(fake_upstream, f"/videos/{quick['id']}/content")
    assert len(content.content) == 2000 and is_mp4(content.content)


@pytest.mark.asyncio
async def test_manual_controls(fake_upstream: FakeUpstream) -> None:
    a, b, c = [(await _create(fake_upstream))["id"] for _ in range(3)]
    fake_upstream.finish(a)
    fake_upstream.fail(b, code="oops", message="It broke.")
    fake_upstream.finish(c)
    fake_upstream.expire(c)
    bodies = [(await _get(fake_upstream, f"/videos/{v}")).json() for v in (a, b, c)]
    assert [x["status"] for x in bodies] == ["completed", "failed", "expired"]
    assert bodies[1]["error"] == {"code": "oops", "message": "It broke."}
    expired = await _get(fake_upstream, f"/videos/{c}/content")
    assert expired.status_code == 404 and expired.json()["error"]["code"] == "video_expired"
    with pytest.raises(KeyError):
        fake_upstream.finish("video_unknown")


@pytest.mark.asyncio
async def test_job_faults_from_prompt_words(
    fake_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    blocked = await _create(fake_upstream, "[fault:moderation]")
    stuck = await _create(fake_upstream, "[fault:stuck]")
    expired = await _create(fake_upstream, "[fault:expired]")
    upstream_clock.advance(1000)
    bodies = [
        (await _get(fake_upstream, f"/videos/{j['id']}")).json() for j in (blocked, stuck, expired)
    ]
    assert bodies[0]["status"] == "failed"
    assert bodies[0]["error"]["code"] == "moderation_blocked"
    assert (bodies[1]["status"], bodies[1]["progress"]) == ("queued", 0)
    assert bodies[2]["status"] == "expired"


@pytest.mark.asyncio
async def test_request_faults_from_prompt_words(fake_upstream: FakeUpstream) -> None:
    limited = await _post(fake_upstream, "/videos", files=_form(prompt="[fault:rate_limit=7]"))
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    failing = await _post(fake_upstream, "/videos", files=_form(prompt="x [fault:http_502]"))
    assert failing.status_code == 502 and "text/html" in failing.headers["content-type"]
    blocked = await _post(fake_upstream, "/videos", files=_form(prompt="[fault:moderation_submit]"))
    assert blocked.status_code == 400
    assert blocked.json()["error"]["code"] == "moderation_blocked"
    teapot = await _post(fake_upstream, "/videos", files=_form(prompt="[fault:http_error=418]"))
    assert teapot.status_code == 418
    ignored = await _create(fake_upstream, "[fault:no_such_fault] [bytes:abc]")
    assert ignored["status"] == "queued"
    assert len(fake_upstream.jobs) == 1


# --- injected faults -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_inject_counts_down_and_targets(fake_upstream: FakeUpstream) -> None:
    a = (await _create(fake_upstream))["id"]
    b = (await _create(fake_upstream))["id"]
    fake_upstream.inject("retrieve", Fault.HTTP_500, times=2, video_id=b)
    fake_upstream.inject("retrieve", Fault.HTTP_503)

    statuses = [(await _get(fake_upstream, f"/videos/{v}")).status_code for v in (a, b, a, b, b)]

    assert statuses == [503, 500, 200, 500, 200]
    assert fake_upstream.count("retrieve") == 5
    assert fake_upstream.count("retrieve", b) == 3 and fake_upstream.count("create") == 2
    with pytest.raises(ValueError):
        fake_upstream.inject("delete", Fault.HTTP_500)
    with pytest.raises(ValueError):
        fake_upstream.inject("create", "not-a-fault")


@pytest.mark.asyncio
async def test_rate_limit_headers_and_empty_503(fake_upstream: FakeUpstream) -> None:
    fake_upstream.inject("retrieve", Fault.RATE_LIMIT, retry_after=2.5, retry_after_ms=2500)
    fake_upstream.inject("retrieve", Fault.RATE_LIMIT, retry_after=None)
    fake_upstream.inject("retrieve", Fault.HTTP_503, empty=True)
    first = await _get(fake_upstream, "/videos/x")
    second = await _get(fake_upstream, "/videos/x")
    third = await _get(fake_upstream, "/videos/x")
    assert (first.headers["retry-after"], first.headers["retry-after-ms"]) == ("2.5", "2500")
    assert second.status_code == 429 and "retry-after" not in second.headers
    assert third.status_code == 503 and third.content == b""


@pytest.mark.asyncio
async def test_malformed_and_respond(fake_upstream: FakeUpstream) -> None:
    fake_upstream.inject("create", Fault.MALFORMED)
    fake_upstream.inject(
        "retrieve", Fault.RESPOND, status=202, json={"hello": 1}, headers={"x-a": "b"}
    )
    malformed = await _post(fake_upstream, "/videos", files=_form(prompt="a"))
    verbatim = await _get(fake_upstream, "/videos/anything")
    assert malformed.status_code == 200
    with pytest.raises(ValueError):
        malformed.json()
    assert len(fake_upstream.jobs) == 1  # the create happened; only the answer was broken
    assert (verbatim.status_code, verbatim.json(), verbatim.headers["x-a"]) == (
        202,
        {"hello": 1},
        "b",
    )


@pytest.mark.asyncio
async def test_drop_without_an_answer(fake_upstream: FakeUpstream) -> None:
    fake_upstream.inject("create", Fault.DROP)
    with pytest.raises(httpx.RemoteProtocolError):
        await _post(fake_upstream, "/videos", files=_form(prompt="a"))
    [request] = fake_upstream.requests
    assert request.dropped and request.status is None and len(fake_upstream.jobs) == 1


@pytest.mark.asyncio
async def test_drop_midway_through_content(fake_upstream: FakeUpstream) -> None:
    job = await _create(fake_upstream, "[bytes:300000]")
    fake_upstream.finish(job["id"])
    fake_upstream.inject("content", Fault.DROP)
    with pytest.raises(httpx.RemoteProtocolError):
        await _get(fake_upstream, f"/videos/{job['id']}/content")
    whole = await _get(fake_upstream, f"/videos/{job['id']}/content")
    dropped = fake_upstream.requests[-2]
    assert dropped.aborted and dropped.bytes_sent == 150_000 and dropped.status == 200
    assert len(whole.content) == 300_000


@pytest.mark.asyncio
async def test_hang_is_released_by_stop() -> None:
    up = FakeUpstream(api_key=API_KEY)
    await up.start()
    up.inject("retrieve", Fault.HANG, seconds=60)
    async with httpx.AsyncClient() as http:
        pending = asyncio.create_task(http.get(f"{up.base_url}/videos/x", headers=AUTH))
        await wait_until(lambda: len(up.requests) == 1)
        started = time.monotonic()
        await up.stop()
        [outcome] = await asyncio.gather(pending, return_exceptions=True)
        assert time.monotonic() - started < 2
    # released hangs answer (or the connection closes); either way nobody waits 60 s
    assert isinstance(outcome, httpx.Response | httpx.HTTPError)


@pytest.mark.asyncio
async def test_job_fault_injected_on_retrieve(fake_upstream: FakeUpstream) -> None:
    job = (await _create(fake_upstream))["id"]
    fake_upstream.finish(job)
    fake_upstream.inject("retrieve", Fault.EXPIRED, video_id=job)
    assert (await _get(fake_upstream, f"/videos/{job}")).json()["status"] == "expired"
    assert fake_upstream.jobs[job].state == "expired"


# --- remix, content ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_remix_rules(fake_upstream: FakeUpstream) -> None:
    parent = await _create(fake_upstream, "a cat", seconds="8", size="1280x720")
    early = await _post(fake_upstream, f"/videos/{parent['id']}/remix", json={"prompt": "b"})
    assert early.status_code == 400 and early.json()["error"]["param"] == "video_id"
    fake_upstream.finish(parent["id"])
    as_form = await _post(fake_upstream, f"/videos/{parent['id']}/remix", files=_form(prompt="c"))
    as_json = await _post(fake_upstream, f"/videos/{parent['id']}/remix", json={"prompt": "d"})
    unknown = await _post(fake_upstream, "/videos/video_nope/remix", json={"prompt": "d"})
    extra = await _post(
        fake_upstream, f"/videos/{parent['id']}/remix", json={"prompt": "d", "x": 1}
    )
    for child in (as_form.json(), as_json.json()):
        assert child["remixed_from_video_id"] == parent["id"]
        assert (child["seconds"], child["size"], child["status"]) == ("8", "1280x720", "queued")
    assert unknown.status_code == 404 and extra.status_code == 400
    assert fake_upstream.count("remix") == 5 and fake_upstream.count("remix", parent["id"]) == 4


@pytest.mark.asyncio
async def test_content_variants_and_not_ready(fake_upstream: FakeUpstream) -> None:
    job = (await _create(fake_upstream))["id"]
    early = await _get(fake_upstream, f"/videos/{job}/content")
    assert early.status_code == 400
    assert early.json()["error"]["message"].startswith("Task is not completed yet")
    fake_upstream.finish(job)
    video = await _get(fake_upstream, f"/videos/{job}/content")
    thumb = await _get(fake_upstream, f"/videos/{job}/content", params={"variant": "thumbnail"})
    wrong = await _get(fake_upstream, f"/videos/{job}/content", params={"variant": "gif"})
    assert video.headers["content-type"] == "video/mp4" and is_mp4(video.content)
    assert int(video.headers["content-length"]) == 4096
    assert thumb.headers["content-type"] == "image/webp" and thumb.content == THUMBNAIL_WEBP
    assert wrong.status_code == 400
    assert (await _get(fake_upstream, "/videos/nope/content")).status_code == 404


@pytest.mark.asyncio
async def test_models_list_names_the_video_models_of_each_dialect_served() -> None:
    async with FakeUpstream(api_key=API_KEY) as up:
        listed = (await _get(up, "/models")).json()
    assert listed["object"] == "list"
    ids = [m["id"] for m in listed["data"]]
    assert "sora-2" in ids and "sora-2-pro" in ids
    async with FakeUpstream(api_key=API_KEY, dialects=()) as none:
        ids = [m["id"] for m in (await _get(none, "/models")).json()["data"]]
        videos = await _get(none, "/videos/video_x")
    assert ids and not any(i.startswith("sora") for i in ids)
    assert videos.status_code == 404


@pytest.mark.asyncio
async def test_unknown_route_and_recording(fake_upstream: FakeUpstream) -> None:
    response = await _get(fake_upstream, "/embeddings")
    assert response.status_code == 404 and "Invalid URL" in response.json()["error"]["message"]
    [request] = fake_upstream.requests
    assert (request.op, request.method, request.path, request.video_id) == (
        "other",
        "GET",
        "/v1/embeddings",
        None,
    )
    assert request.finished and request.headers["authorization"] == f"Bearer {API_KEY}"


# --- dialects ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_newapi_dialect_shapes() -> None:
    clock = FakeClock()
    async with FakeUpstream(api_key=API_KEY, relay="newapi", clock=clock, job_seconds=10) as up:
        created = await _create(up)
        clock.advance(4.5)
        running = (await _get(up, f"/videos/{created['id']}")).json()
        early = await _get(up, f"/videos/{created['id']}/content")
        missing = await _get(up, "/videos/task_missing")
        up.inject("retrieve", Fault.RATE_LIMIT)
        limited = await _get(up, f"/videos/{created['id']}")
        clock.advance(10)
        done = (await _get(up, f"/videos/{created['id']}")).json()
        content = await _get(up, f"/videos/{created['id']}/content")

    assert created["id"].startswith("task_") and created["task_id"] == created["id"]
    assert created["status"] == "SUBMITTED"
    for omitted in ("completed_at", "expires_at", "remixed_from_video_id", "error", "prompt"):
        assert omitted not in created
    assert (running["status"], running["progress"]) == ("IN_PROGRESS", "45%")
    assert early.status_code == 400 and set(early.json()["error"]) == {"message", "type"}
    assert missing.status_code == 400
    assert missing.json() == {"code": "task_not_exist", "message": "task_not_exist", "data": None}
    assert limited.status_code == 429 and set(limited.json()) == {"code", "message", "data"}
    assert (done["status"], done["progress"]) == ("SUCCESS", "100%")
    assert content.headers["cache-control"] == "public, max-age=86400"


@pytest.mark.asyncio
async def test_newapi_wrapped_answers() -> None:
    async with FakeUpstream(api_key=API_KEY, relay="newapi", wrap_data=True) as up:
        created = await _create(up)
        wrapped = (await _get(up, f"/videos/{created['id']}")).json()
    assert wrapped["code"] == "success" and wrapped["data"]["task_id"] == created["id"]


@pytest.mark.asyncio
async def test_litellm_dialect_shapes() -> None:
    async with FakeUpstream(api_key=API_KEY, relay="litellm", job_seconds=0) as up:
        created = await _create(up, seconds="8")
        encoded = created["id"].replace("=", "%3D").replace("+", "%2B").replace("/", "%2F")
        done = (await _get(up, f"/videos/{encoded}")).json()
        content = await _get(up, f"/videos/{encoded}/content")

    inner = base64.b64decode(created["id"].removeprefix("video_")).decode()
    assert inner.startswith("litellm:custom_llm_provider:openai;model_id:sora-2;video_id:video_")
    assert created["id"].endswith("=") and "prompt" not in created
    assert created["usage"] == {"duration_seconds": 8} and done["status"] == "completed"
    assert content.headers["content-disposition"].startswith("attachment")
    assert is_mp4(content.content)


@pytest.mark.asyncio
async def test_video_url_and_poll_after_header() -> None:
    async with FakeUpstream(
        api_key=API_KEY, video_url=True, poll_after_ms=2000, job_seconds=0
    ) as up:
        created = await _create(up)
        done = await _get(up, f"/videos/{created['id']}")
        async with httpx.AsyncClient() as anonymous:
            public = await anonymous.get(done.json()["video_url"])

    assert "video_url" not in created
    assert done.headers["openai-poll-after-ms"] == "2000"
    assert public.status_code == 200 and is_mp4(public.content)
    assert up.requests[-1].op == "other" and "authorization" not in up.requests[-1].headers


@pytest.mark.asyncio
async def test_constructor_rejects_bad_options() -> None:
    with pytest.raises(ValueError):
        FakeUpstream(relay="azure")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FakeUpstream(video_bytes=10)


# --- CLI -------------------------------------------------------------------------------------------


def test_cli_serves_until_terminated() -> None:
    port = free_port()
    command = [sys.executable, "-m", "bot.emulators.fake_upstream", "--port", str(port)]
    command += ["--api-key", "sk-cli", "--job-seconds", "0"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}/v1", headers={"Authorization": "Bearer sk-cli"}
        ) as http:
            deadline = time.monotonic() + 10
            while True:
                try:
                    created = http.post("/videos", files=_form(prompt="cli"))
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline and process.poll() is None
                    time.sleep(0.05)
            done = http.get(f"/videos/{created.json()['id']}")
        assert created.status_code == 200 and done.json()["status"] == "completed"
    finally:
        process.terminate()
        process.wait(timeout=10)
