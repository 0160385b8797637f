"""The ``video-create`` dialect: contract, and ``VideoCreateClient`` through the emulator.

Contract tests pin what the adapter SENDS (as the emulator recorded it) and what the
emulator ANSWERS to the shapes the relays' docs publish (docs/dialects/video-create.md):
``POST /v1/video/create`` with ``orientation``/``size``/``duration``/``images``, an id with a
model prefix that the query answer drops, a public ``video_url``. Everything runs over real
HTTP on 127.0.0.1; nothing of ours is mocked.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.core.dialects import Dialect
from bot.core.errors import (
    ContentExpired,
    InvalidInput,
    ModerationBlocked,
    SubmissionUncertain,
    UnsupportedByUpstream,
    UpstreamAuthError,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from bot.core.models import TaskStatus
from bot.emulators.fake_upstream import FakeUpstream, Fault
from bot.emulators.mp4 import is_mp4
from bot.emulators.upstream_video_create import MODELS
from bot.upstream.transport import RetrySettings, Transport
from bot.upstream.values import ProbeAnswer, ReferenceImage, UpstreamJob
from bot.upstream.video_create import (
    PROBE_ID,
    SIZE_OPTIONS,
    VideoCreateClient,
    probe_verdict,
    read_job,
)
from tests.upstream_fixtures import API_KEY, FakeClock, RecordingSleep, exception_texts
from tests.upstream_fixtures import upstream_clock as upstream_clock
from tests.upstream_fixtures import upstream_http as upstream_http
from tests.upstream_fixtures import upstream_sleeps as upstream_sleeps

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TASK_ID = re.compile(r"^sora-2(-pro)?:task_[0-9a-z]{26}$")


@pytest_asyncio.fixture
async def vc_upstream(upstream_clock: FakeClock) -> AsyncIterator[FakeUpstream]:
    """A relay speaking only video-create; jobs take 10 s on ``upstream_clock``."""
    async with FakeUpstream(
        api_key=API_KEY, job_seconds=10.0, clock=upstream_clock, dialects=("video-create",)
    ) as up:
        yield up


def _client(
    http: httpx.AsyncClient, up: FakeUpstream, sleep: RecordingSleep, **overrides: Any
) -> VideoCreateClient:
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "json_timeout": 2.0,
        "download_timeout": 10.0,
        "max_retries": 3,
        "sleep": sleep,
    }
    options.update(overrides)
    return VideoCreateClient(http, base_url=up.base_url, **options)


@pytest.fixture
def vc(
    upstream_http: httpx.AsyncClient, vc_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> VideoCreateClient:
    return _client(upstream_http, vc_upstream, upstream_sleeps)


def _transport(http: httpx.AsyncClient, up: FakeUpstream, key: str = API_KEY) -> Transport:
    return Transport(http, base_url=up.base_url, api_key=key, settings=RetrySettings())


def _sent_json(up: FakeUpstream, op: str = "create") -> dict[str, Any]:
    [request] = [r for r in up.requests if r.op == op]
    body: dict[str, Any] = json.loads(request.body)
    return body


async def _completed(vc: VideoCreateClient, clock: FakeClock, prompt: str = "a cat") -> UpstreamJob:
    job = await vc.create(prompt=prompt, seconds=10, size="1280x720")
    clock.advance(10.0)
    return await vc.retrieve(job.id)


# --- contract: what the adapter sends -----------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("size", "orientation", "size_word"),
    [
        ("720x1280", "portrait", "small"),
        ("1280x720", "landscape", "small"),
        ("1080x1920", "portrait", "large"),
        ("1920x1080", "landscape", "large"),
    ],
)
async def test_create_sends_the_unified_json_body(
    vc: VideoCreateClient, vc_upstream: FakeUpstream, size: str, orientation: str, size_word: str
) -> None:
    await vc.create(prompt="a cat on a piano", model="sora-2-pro", seconds=15, size=size)
    [request] = [r for r in vc_upstream.requests if r.op == "create"]
    assert (request.method, request.path) == ("POST", "/v1/video/create")
    assert request.content_type.startswith("application/json")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert json.loads(request.body) == {
        "model": "sora-2-pro",
        "prompt": "a cat on a piano",
        "orientation": orientation,
        "size": size_word,
        "duration": 15,
        "images": [],
        "watermark": True,
        "private": True,
    }


def test_every_offered_size_has_an_orientation_and_a_size_word(vc: VideoCreateClient) -> None:
    assert set(vc.capabilities().sizes) == set(SIZE_OPTIONS)
    for orientation, size_word in SIZE_OPTIONS.values():
        assert orientation in ("portrait", "landscape")
        assert size_word in ("small", "large")


@pytest.mark.asyncio
async def test_the_duration_is_sent_as_an_integer(
    vc: VideoCreateClient, vc_upstream: FakeUpstream
) -> None:
    await vc.create(prompt="x", seconds=15, size="720x1280")
    duration = _sent_json(vc_upstream)["duration"]
    assert duration == 15 and type(duration) is int


@pytest.mark.asyncio
async def test_a_reference_image_is_sent_as_one_data_url(
    vc: VideoCreateClient, vc_upstream: FakeUpstream
) -> None:
    reference = ReferenceImage(filename="first.png", content_type="image/png", data=PNG)
    await vc.create(prompt="animate it", seconds=10, size="720x1280", reference=reference)
    [image] = _sent_json(vc_upstream)["images"]
    prefix = "data:image/png;base64,"
    assert image.startswith(prefix)
    assert base64.b64decode(image.removeprefix(prefix)) == PNG


@pytest.mark.asyncio
async def test_the_query_sends_the_full_prefixed_id(
    vc: VideoCreateClient, vc_upstream: FakeUpstream
) -> None:
    job = await vc.create(prompt="x", seconds=10, size="720x1280")
    await vc.retrieve(job.id)
    [query] = [r for r in vc_upstream.requests if r.op == "retrieve"]
    assert (query.method, query.path) == ("GET", "/v1/video/query")
    assert query.query == {"id": job.id}
    assert TASK_ID.match(query.query["id"])


@pytest.mark.asyncio
async def test_without_a_model_the_default_is_sent(
    upstream_http: httpx.AsyncClient, vc_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    client = _client(upstream_http, vc_upstream, upstream_sleeps, default_model="sora-2-pro")
    job = await client.create(prompt="x", seconds=25, size="1920x1080")
    assert _sent_json(vc_upstream)["model"] == "sora-2-pro"
    assert job.id.startswith("sora-2-pro:task_")


# --- contract: what the emulator answers --------------------------------------------------


async def _post(http: httpx.AsyncClient, up: FakeUpstream, body: object) -> httpx.Response:
    return await http.post(
        f"{up.base_url}/video/create",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}"},
    )


async def _query(http: httpx.AsyncClient, up: FakeUpstream, task_id: str) -> httpx.Response:
    return await http.get(
        f"{up.base_url}/video/query",
        params={"id": task_id},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )


VALID = {
    "model": "sora-2",
    "prompt": "make animate",
    "orientation": "portrait",
    "size": "large",
    "duration": 15,
    "images": [],
    "watermark": False,
    "private": True,
}


@pytest.mark.asyncio
async def test_the_create_answer_is_a_prefixed_id_pending_with_a_millisecond_time(
    upstream_http: httpx.AsyncClient, vc_upstream: FakeUpstream
) -> None:
    answer = await _post(upstream_http, vc_upstream, VALID)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"id", "status", "status_update_time"}
    assert TASK_ID.match(body["id"]) and body["status"] == "pending"
    assert body["status_update_time"] > 10**12  # milliseconds


@pytest.mark.asyncio
async def test_the_query_answer_drops_the_prefix_and_goes_pending_processing_completed(
    upstream_http: httpx.AsyncClient, vc_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    task_id = (await _post(upstream_http, vc_upstream, VALID)).json()["id"]
    bare = task_id.split(":", 1)[1]
    pending = (await _query(upstream_http, vc_upstream, task_id)).json()
    assert (pending["id"], pending["status"], pending["video_url"]) == (bare, "pending", None)
    assert pending["detail"]["input"]["orientation"] == "portrait"
    upstream_clock.advance(5.0)
    processing = (await _query(upstream_http, vc_upstream, task_id)).json()
    assert processing["status"] == "processing" and processing["progress"] == "50"
    assert processing["detail"]["pending_info"]["progress_pct"] == 0.5
    upstream_clock.advance(5.0)
    done = (await _query(upstream_http, vc_upstream, task_id)).json()
    assert done["status"] == "completed" and done["id"] == bare
    assert done["video_url"].startswith(vc_upstream.origin + "/files/")
    assert isinstance(done["enhanced_prompt"], str) and done["status_update_time"] > 10**12
    public = await upstream_http.get(done["video_url"])  # no key: the link is public
    assert public.status_code == 200 and is_mp4(public.content)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"duration": "15"}, "duration"),
        ({"duration": 25}, "duration"),  # sora-2 makes 10 or 15
        ({"orientation": "square"}, "orientation"),
        ({"size": "1280x720"}, "size"),
        ({"model": "sora-9"}, "model"),
        ({"seconds": "8"}, "seconds"),
        ({"images": "https://example.com/a.png"}, "images"),
        ({"images": ["not a url"]}, "images"),
    ],
)
async def test_the_emulator_refuses_what_the_docs_do_not_allow(
    upstream_http: httpx.AsyncClient, vc_upstream: FakeUpstream, change: dict[str, Any], param: str
) -> None:
    answer = await _post(upstream_http, vc_upstream, {**VALID, **change})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param
    assert vc_upstream.jobs == {}


@pytest.mark.asyncio
async def test_an_unknown_id_is_a_400_task_not_exist(
    upstream_http: httpx.AsyncClient, vc_upstream: FakeUpstream
) -> None:
    task_id = (await _post(upstream_http, vc_upstream, VALID)).json()["id"]
    for unknown in ("sora-2:task_nosuchtask0000000000000000", task_id.split(":", 1)[1]):
        answer = await _query(upstream_http, vc_upstream, unknown)
        assert answer.status_code == 400
        assert answer.json() == {
            "code": "task_not_exist",
            "message": "task_not_exist",
            "data": None,
        }


@pytest.mark.asyncio
async def test_a_relay_without_the_dialect_answers_invalid_url(
    upstream_http: httpx.AsyncClient,
) -> None:
    async with FakeUpstream(api_key=API_KEY, dialects=()) as up:
        answer = await _query(upstream_http, up, PROBE_ID)
    assert answer.status_code == 404
    assert "Invalid URL" in answer.json()["error"]["message"]


# --- the adapter through the emulator -----------------------------------------------------


@pytest.mark.asyncio
async def test_create_progress_completed_download(
    vc: VideoCreateClient, vc_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    job = await vc.create(prompt="a cat", seconds=10, size="1280x720")
    assert TASK_ID.match(job.id)
    assert (job.status, job.raw_status, job.progress) == (TaskStatus.QUEUED, "pending", 0)
    upstream_clock.advance(5.0)
    running = await vc.retrieve(job.id)
    assert (running.status, running.raw_status, running.progress) == (
        TaskStatus.IN_PROGRESS,
        "processing",
        50,
    )
    upstream_clock.advance(5.0)
    done = await vc.retrieve(job.id)
    assert done.status is TaskStatus.COMPLETED and done.progress == 100
    assert (done.size, done.seconds, done.model) == ("1280x720", "10", "sora-2")
    assert done.result_url is not None
    video = await vc.download(done.id, max_bytes=10**6, result_url=done.result_url)
    assert video.data is not None and is_mp4(video.data)
    assert vc_upstream.count("create") == 1


@pytest.mark.asyncio
async def test_the_job_keeps_the_full_id_when_the_answer_drops_the_prefix(
    vc: VideoCreateClient, vc_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    job = await vc.create(prompt="x", seconds=10, size="720x1280")
    upstream_clock.advance(10.0)
    retrieved = await vc.retrieve(job.id)
    assert retrieved.id == job.id  # the answer said job.id without "sora-2:"
    assert retrieved.status is TaskStatus.COMPLETED
    assert [r.query["id"] for r in vc_upstream.requests if r.op == "retrieve"] == [job.id]


@pytest.mark.asyncio
async def test_an_answer_keeping_the_prefix_or_naming_another_id_is_still_the_asked_job(
    vc: VideoCreateClient, vc_upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    job = await vc.create(prompt="x", seconds=10, size="720x1280")
    answer = {"id": job.id, "status": "processing", "progress": 7}
    vc_upstream.inject("retrieve", Fault.RESPOND, json=answer)
    assert (await vc.retrieve(job.id)).id == job.id
    vc_upstream.inject("retrieve", Fault.RESPOND, json={**answer, "id": "video_5c6a605a"})
    with caplog.at_level(logging.INFO, logger="bot.upstream.video_create"):
        other = await vc.retrieve(job.id)
    assert other.id == job.id and other.progress == 7
    assert "video_5c6a605a" in caplog.text


@pytest.mark.asyncio
async def test_a_moderated_job_fails_with_moderation_blocked(
    vc: VideoCreateClient, upstream_clock: FakeClock
) -> None:
    job = await vc.create(prompt="a cat [fault:moderation]", seconds=10, size="720x1280")
    upstream_clock.advance(10.0)
    failed = await vc.retrieve(job.id)
    assert failed.status is TaskStatus.FAILED
    assert failed.error_code == "moderation_blocked"
    assert failed.error_message


@pytest.mark.asyncio
async def test_a_generic_failure_keeps_its_code_and_message(
    vc: VideoCreateClient, vc_upstream: FakeUpstream
) -> None:
    job = await vc.create(prompt="x", seconds=10, size="720x1280")
    vc_upstream.fail(job.id, "generation_failed", "The video could not be generated.")
    failed = await vc.retrieve(job.id)
    assert (failed.status, failed.error_code) == (TaskStatus.FAILED, "generation_failed")
    assert failed.error_message == "The video could not be generated."


@pytest.mark.asyncio
async def test_moderation_at_submit_raises_moderation_blocked(
    vc: VideoCreateClient, vc_upstream: FakeUpstream
) -> None:
    with pytest.raises(ModerationBlocked):
        await vc.create(prompt="x [fault:moderation_submit]", seconds=10, size="720x1280")
    assert vc_upstream.jobs == {}


@pytest.mark.asyncio
async def test_an_unknown_id_is_upstream_not_found(vc: VideoCreateClient) -> None:
    with pytest.raises(UpstreamNotFound) as caught:
        await vc.retrieve("sora-2:task_nosuchtask0000000000000000")
    assert caught.value.code == "task_not_exist"


@pytest.mark.asyncio
async def test_a_refused_field_is_upstream_rejected_and_not_resent(
    vc: VideoCreateClient, vc_upstream: FakeUpstream
) -> None:
    vc_upstream.inject(
        "create", Fault.HTTP_ERROR, status=400, message="images: not reachable", param="images"
    )
    with pytest.raises(UpstreamRejected) as caught:
        await vc.create(prompt="x", seconds=10, size="720x1280")
    assert caught.value.param == "images"
    assert vc_upstream.count("create") == 1


@pytest.mark.asyncio
async def test_an_expired_link_is_content_expired(
    vc: VideoCreateClient, vc_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    done = await _completed(vc, upstream_clock)
    vc_upstream.expire(done.id)
    with pytest.raises(ContentExpired):
        await vc.download(done.id, max_bytes=10**6, result_url=done.result_url)


@pytest.mark.asyncio
async def test_download_without_a_stored_link_queries_for_it(
    vc: VideoCreateClient, vc_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    done = await _completed(vc, upstream_clock)
    before = vc_upstream.count("retrieve")
    video = await vc.download(done.id, max_bytes=10**6)
    assert video.data is not None and is_mp4(video.data)
    assert vc_upstream.count("retrieve") == before + 1


@pytest.mark.asyncio
async def test_download_before_completion_is_unavailable(
    vc: VideoCreateClient, vc_upstream: FakeUpstream
) -> None:
    job = await vc.create(prompt="x", seconds=10, size="720x1280")
    with pytest.raises(UpstreamUnavailable):
        await vc.download(job.id, max_bytes=10**6)
    assert not [r for r in vc_upstream.requests if r.path.startswith("/files/")]


@pytest.mark.asyncio
async def test_the_key_never_goes_to_the_cdn_the_link_points_at(
    upstream_http: httpx.AsyncClient, upstream_clock: FakeClock, upstream_sleeps: RecordingSleep
) -> None:
    async with FakeUpstream(api_key="cdn-needs-no-key") as cdn:
        async with FakeUpstream(
            api_key=API_KEY,
            job_seconds=10.0,
            clock=upstream_clock,
            dialects=("video-create",),
            redirect_content_to=cdn.origin,
        ) as api:
            client = _client(upstream_http, api, upstream_sleeps)
            done = await _completed(client, upstream_clock)
            assert done.result_url is not None and done.result_url.startswith(cdn.origin)
            video = await client.download(done.id, max_bytes=10**6, result_url=done.result_url)
    assert video.data is not None and is_mp4(video.data)
    [fetch] = cdn.requests
    assert "authorization" not in fetch.headers
    assert all(API_KEY not in value for value in fetch.headers.values())


@pytest.mark.asyncio
async def test_a_thumbnail_is_fetched_from_thumbnail_url_or_is_not_found(
    vc: VideoCreateClient, vc_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    done = await _completed(vc, upstream_clock)
    with pytest.raises(UpstreamNotFound):
        await vc.download(done.id, variant="thumbnail", max_bytes=10**6)
    link = f"{vc_upstream.origin}/files/thumb.mp4?bytes=2048"
    answer = {"id": done.id, "status": "completed", "thumbnail_url": link}
    vc_upstream.inject("retrieve", Fault.RESPOND, json=answer)
    thumbnail = await vc.download(done.id, variant="thumbnail", max_bytes=10**6)
    assert thumbnail.size == 2048


# --- what the adapter refuses before sending ------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seconds": 8}, "seconds"),  # an OpenAI length: not in this dialect
        ({"seconds": 25}, "seconds"),  # sora-2 makes 10 or 15
        ({"seconds": 10, "model": "sora-2-pro"}, "seconds"),  # sora-2-pro makes 15 or 25
        ({"size": "1024x1792"}, "size"),
        ({"prompt": "  "}, "prompt"),
        ({"model": ""}, "model"),
        (
            {"reference": ReferenceImage(filename="a.gif", content_type="image/gif", data=b"GIF")},
            "reference",
        ),
    ],
)
async def test_invalid_options_are_refused_before_sending(
    vc: VideoCreateClient, vc_upstream: FakeUpstream, kwargs: dict[str, Any], field: str
) -> None:
    options: dict[str, Any] = {"prompt": "x", "seconds": 10, "size": "720x1280", **kwargs}
    with pytest.raises(InvalidInput) as caught:
        await vc.create(**options)
    assert caught.value.field == field
    assert vc_upstream.requests == []


@pytest.mark.asyncio
async def test_a_length_the_model_lacks_names_the_model_that_has_it(
    vc: VideoCreateClient,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await vc.create(prompt="x", seconds=25, size="720x1280")
    assert "sora-2-pro" in caught.value.user_message


@pytest.mark.asyncio
async def test_an_undocumented_model_name_is_passed_through(
    vc: VideoCreateClient, vc_upstream: FakeUpstream
) -> None:
    job = await vc.create(prompt="x", model="sora-2-all", seconds=15, size="720x1280")
    assert job.id.startswith("sora-2-all:task_")
    assert _sent_json(vc_upstream)["model"] == "sora-2-all"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.remix("sora-2:task_x", prompt="more"),
        lambda c: c.extend("sora-2:task_x", prompt="more", seconds=10),
        lambda c: c.list_recent(limit=5),
    ],
)
async def test_remix_extend_and_list_are_unsupported_and_send_nothing(
    vc: VideoCreateClient, vc_upstream: FakeUpstream, call: Any
) -> None:
    with pytest.raises(UnsupportedByUpstream) as caught:
        await call(vc)
    assert caught.value.dialect == "video-create"
    assert vc_upstream.requests == []


def test_capabilities(vc: VideoCreateClient) -> None:
    caps = vc.capabilities()
    assert caps.dialect is Dialect.VIDEO_CREATE
    assert (caps.can_remix, caps.can_list, caps.can_extend, caps.image_input) == (
        False,
        False,
        False,
        True,
    )
    assert caps.models == MODELS == ("sora-2", "sora-2-pro")
    assert caps.sizes == ("720x1280", "1280x720", "1080x1920", "1920x1080")
    assert caps.seconds == (10, 15, 25)


@pytest.mark.parametrize(
    ("listed", "models"),
    [
        ((), ("sora-2", "sora-2-pro")),
        (("gpt-4o", "sora-2-pro"), ("sora-2-pro",)),
        (("gpt-4o",), ("sora-2", "sora-2-pro")),
    ],
)
def test_models_are_narrowed_to_those_the_relay_lists(
    upstream_http: httpx.AsyncClient,
    listed: tuple[str, ...],
    models: tuple[str, ...],
) -> None:
    client = VideoCreateClient(
        upstream_http, base_url="http://127.0.0.1:9/v1", api_key=API_KEY, listed_models=listed
    )
    assert client.capabilities().models == models


@pytest.mark.asyncio
async def test_aclose_sends_nothing(vc: VideoCreateClient, vc_upstream: FakeUpstream) -> None:
    await vc.aclose()
    assert vc_upstream.requests == []


# --- credentials and detection -------------------------------------------------------------


@pytest.mark.asyncio
async def test_check_credentials_lists_models_and_creates_nothing(
    vc: VideoCreateClient, vc_upstream: FakeUpstream
) -> None:
    await vc.check_credentials()
    assert [(r.method, r.path) for r in vc_upstream.requests] == [("GET", "/v1/models")]
    assert vc_upstream.jobs == {}


@pytest.mark.asyncio
async def test_a_refused_key_is_upstream_auth_error_without_the_key(
    upstream_http: httpx.AsyncClient, vc_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    client = _client(upstream_http, vc_upstream, upstream_sleeps, api_key="sk-wrong-key-123456")
    with pytest.raises(UpstreamAuthError) as caught:
        await client.check_credentials()
    assert all("sk-wrong-key-123456" not in text for text in exception_texts(caught.value))


@pytest.mark.asyncio
async def test_the_probe_speaks_for_its_emulator_and_creates_nothing(
    upstream_http: httpx.AsyncClient, vc_upstream: FakeUpstream
) -> None:
    probe = await VideoCreateClient.probe(_transport(upstream_http, vc_upstream), MODELS)
    assert (probe.dialect, probe.speaks, probe.can_list) == (Dialect.VIDEO_CREATE, True, False)
    assert "HTTP 400" in probe.evidence
    assert [(r.method, r.path, r.query) for r in vc_upstream.requests] == [
        ("GET", "/v1/video/query", {"id": PROBE_ID})
    ]
    assert vc_upstream.jobs == {}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "options",
    [
        {"dialects": ()},
        {"dialects": ("openai",)},
        {"dialects": ("openai",), "relay": "newapi"},
        {"dialects": ("openai",), "relay": "litellm"},
    ],
)
async def test_the_probe_does_not_speak_for_other_relays(
    upstream_http: httpx.AsyncClient, options: dict[str, Any]
) -> None:
    async with FakeUpstream(api_key=API_KEY, **options) as up:
        probe = await VideoCreateClient.probe(_transport(upstream_http, up), ())
        assert not probe.speaks
        assert "HTTP 404" in probe.evidence
        assert up.jobs == {}


@pytest.mark.asyncio
async def test_the_probe_with_a_refused_key_does_not_speak(
    upstream_http: httpx.AsyncClient, vc_upstream: FakeUpstream
) -> None:
    transport = _transport(upstream_http, vc_upstream, key="sk-wrong-key-123456")
    probe = await VideoCreateClient.probe(transport, ())
    assert not probe.speaks and "HTTP 401" in probe.evidence


def _answer(status: int, body: object, *, text: str | None = None) -> ProbeAnswer:
    rendered = json.dumps(body, ensure_ascii=False) if body is not None else (text or "")
    return ProbeAnswer(status=status, headers={}, json=body, text=text or rendered)


@pytest.mark.parametrize(
    ("answer", "speaks"),
    [
        (_answer(400, {"code": "task_not_exist", "message": "task_not_exist", "data": None}), True),
        (
            _answer(404, {"error": {"message": "task not found", "type": "invalid_request_error"}}),
            True,
        ),
        (_answer(400, {"error": {"message": "任务不存在"}}), True),
        (_answer(200, {"id": "task_0", "status": "failed", "video_url": None}), True),
        (_answer(404, {"error": {"message": "Invalid URL (GET /v1/video/query)"}}), False),
        (_answer(404, None, text="404 page not found"), False),
        (_answer(404, None, text="<html><body>Not Found</body></html>"), False),
        (_answer(405, None, text="Method Not Allowed"), False),
        (_answer(401, {"error": {"message": "invalid task token"}}), False),
        (_answer(500, {"error": {"message": "task fetch failed"}}), False),
        # An error that only echoes the made-up id (which contains "task") says nothing.
        (_answer(400, {"error": {"message": f"bad request for {PROBE_ID} not found"}}), False),
    ],
)
def test_probe_verdict_tells_no_such_route_from_no_such_task(
    answer: ProbeAnswer, speaks: bool
) -> None:
    assert probe_verdict(answer)[0] is speaks


# --- reading answers (pure) -----------------------------------------------------------------


def test_progress_falls_back_to_detail_pending_info() -> None:
    answer = {
        "id": "sora-2:task_01k6x15vhrff09dkkqjrzwhm60",
        "detail": {
            "id": "task_01k6x15vhrff09dkkqjrzwhm60",
            "input": {"size": "small", "orientation": "portrait", "model": "sy_ore"},
            "status": "pending",
            "pending_info": {"progress_pct": 0.9302178175176704, "status": "processing"},
        },
        "status": "pending",
    }
    job = read_job(answer, asked_id="sora-2:task_01k6x15vhrff09dkkqjrzwhm60")
    assert (job.status, job.progress, job.size) == (TaskStatus.QUEUED, 93, "720x1280")


@pytest.mark.parametrize(
    ("failure", "code", "message"),
    [
        ({"error": "This content may violate our content policies."}, "moderation_blocked", None),
        (
            {"error": {"code": "content_policy_violation", "message": "no"}},
            "moderation_blocked",
            "no",
        ),
        ({"fail_reason": "blocked by guardrails"}, "moderation_blocked", None),
        ({"failure_reason": "upstream timeout"}, None, "upstream timeout"),
        ({"detail": {"failure_reason": "Sora said no"}}, None, "Sora said no"),
        ({}, None, None),
    ],
)
def test_failures_are_read_from_every_field_and_moderation_is_recognised(
    failure: dict[str, Any], code: str | None, message: str | None
) -> None:
    job = read_job({"id": "task_1", "status": "failed", **failure}, asked_id="sora-2:task_1")
    assert job.status is TaskStatus.FAILED and job.error_code == code
    if message is not None:
        assert job.error_message == message


def test_a_cancelled_job_fails_as_cancelled() -> None:
    job = read_job({"id": "task_1", "status": "cancelled"}, asked_id="sora-2:task_1")
    assert (job.status, job.error_code) == (TaskStatus.FAILED, "cancelled")


def test_a_public_link_only_counts_when_it_is_http() -> None:
    done = {"id": "task_1", "status": "completed", "video_url": "ftp://example.com/v.mp4"}
    assert read_job(done, asked_id="sora-2:task_1").result_url is None


@pytest.mark.asyncio
async def test_an_error_object_in_a_200_query_is_not_a_job(
    vc: VideoCreateClient, vc_upstream: FakeUpstream
) -> None:
    body = {"code": "task_not_exist", "message": "task_not_exist", "data": None}
    vc_upstream.inject("retrieve", Fault.RESPOND, json=body)
    with pytest.raises(UpstreamNotFound):
        await vc.retrieve("sora-2:task_x")


# --- the money rule --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_500_on_create_is_not_resent(
    vc: VideoCreateClient, vc_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    vc_upstream.inject("create", Fault.HTTP_500)
    with pytest.raises(SubmissionUncertain):
        await vc.create(prompt="x", seconds=10, size="720x1280")
    assert vc_upstream.count("create") == 1
    assert upstream_sleeps.delays == []


@pytest.mark.asyncio
@pytest.mark.parametrize("fault", [Fault.DROP, Fault.MALFORMED, Fault.HTTP_502])
async def test_a_create_that_may_have_started_is_not_resent(
    vc: VideoCreateClient, vc_upstream: FakeUpstream, fault: Fault
) -> None:
    vc_upstream.inject("create", fault)
    with pytest.raises(SubmissionUncertain):
        await vc.create(prompt="x", seconds=10, size="720x1280")
    assert vc_upstream.count("create") == 1


@pytest.mark.asyncio
async def test_a_429_on_create_is_resent_once_allowed(
    vc: VideoCreateClient, vc_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    vc_upstream.inject("create", Fault.RATE_LIMIT, retry_after=2)
    job = await vc.create(prompt="x", seconds=10, size="720x1280")
    assert vc_upstream.count("create") == 2 and list(vc_upstream.jobs) == [job.id]
    assert upstream_sleeps.delays == [2.0]


@pytest.mark.asyncio
async def test_a_query_is_retried_after_a_500(
    vc: VideoCreateClient, vc_upstream: FakeUpstream
) -> None:
    job = await vc.create(prompt="x", seconds=10, size="720x1280")
    vc_upstream.inject("retrieve", Fault.HTTP_500, times=2)
    assert (await vc.retrieve(job.id)).id == job.id
    assert vc_upstream.count("retrieve") == 3


@pytest.mark.asyncio
async def test_a_relay_serving_videos_too_still_speaks_video_create(
    upstream_http: httpx.AsyncClient,
) -> None:
    async with FakeUpstream(api_key=API_KEY, dialects=("openai", "video-create")) as up:
        probe = await VideoCreateClient.probe(_transport(upstream_http, up), ())
        assert probe.speaks
        assert set(up.listed_models()) >= set(MODELS)
