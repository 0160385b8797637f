"""The ``generations`` dialect (new-api's ``/v1/video/generations``): contract and adapter.

Contract tests pin what ``GenerationsClient`` sends (as the emulator recorded it) and what
the emulator answers, both to new-api's sources (``docs/dialects/generations.md``). The
adapter tests drive ``GenerationsClient`` through ``FakeUpstream(dialects=("generations",))``
over real HTTP on 127.0.0.1; only the network edge is emulated.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.core.dialects import Dialect
from bot.core.errors import (
    InvalidInput,
    ModerationBlocked,
    RateLimited,
    SubmissionUncertain,
    UnsupportedByUpstream,
    UpstreamAuthError,
    UpstreamNotFound,
)
from bot.core.models import TaskStatus
from bot.emulators.fake_upstream import FakeUpstream, Fault, parse_multipart
from bot.emulators.mp4 import is_mp4
from bot.upstream.generations import (
    GENERATIONS_MODELS,
    PRO_ONLY_SIZES,
    GenerationsClient,
    parse_task,
)
from bot.upstream.parsing import EmbeddedError, MalformedAnswer
from bot.upstream.transport import RetrySettings, Transport
from bot.upstream.values import ReferenceImage
from tests.upstream_fixtures import (
    API_KEY,
    FakeClock,
    RecordingSleep,
    exception_texts,
    free_port,
)
from tests.upstream_fixtures import upstream_clock as upstream_clock
from tests.upstream_fixtures import upstream_http as upstream_http
from tests.upstream_fixtures import upstream_sleeps as upstream_sleeps

AUTH = {"Authorization": f"Bearer {API_KEY}"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TASK_STATUSES = {"NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE"}


@pytest_asyncio.fixture
async def gen_upstream(upstream_clock: FakeClock) -> AsyncIterator[FakeUpstream]:
    """A relay speaking only the generations dialect; jobs take 10 s on the fake clock."""
    async with FakeUpstream(
        api_key=API_KEY, job_seconds=10.0, clock=upstream_clock, dialects=("generations",)
    ) as up:
        yield up


def _client(
    http: httpx.AsyncClient, base_url: str, sleep: RecordingSleep, **options: Any
) -> GenerationsClient:
    settings: dict[str, Any] = {
        "api_key": API_KEY,
        "json_timeout": 2.0,
        "download_timeout": 10.0,
        "max_retries": 3,
        "sleep": sleep,
    }
    settings.update(options)
    return GenerationsClient(http, base_url=base_url, **settings)


@pytest.fixture
def gen_client(
    upstream_http: httpx.AsyncClient, gen_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> GenerationsClient:
    return _client(upstream_http, gen_upstream.base_url, upstream_sleeps)


def _transport(http: httpx.AsyncClient, base_url: str, api_key: str = API_KEY) -> Transport:
    return Transport(http, base_url=base_url, api_key=api_key, settings=RetrySettings())


async def _raw(up: FakeUpstream, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=up.origin, headers=AUTH) as http:
        return await http.request(method, path, **kwargs)


async def _raw_create(up: FakeUpstream, **fields: Any) -> dict[str, Any]:
    body = {"model": "sora-2", "prompt": "a cat", "seconds": "4", "size": "720x1280", **fields}
    response = await _raw(up, "POST", "/v1/video/generations", json=body)
    assert response.status_code == 200, response.text
    return response.json()


# --- contract: what the adapter sends -------------------------------------------------


@pytest.mark.asyncio
async def test_create_sends_the_documented_json_with_seconds_as_a_string(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    await gen_client.create(prompt="a red fox", model="sora-2", seconds=8, size="1280x720")
    [sent] = gen_upstream.requests
    assert (sent.method, sent.path, sent.op) == ("POST", "/v1/video/generations", "create")
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.content_type.startswith("application/json")
    assert json.loads(sent.body) == {
        "model": "sora-2",
        "prompt": "a red fox",
        "seconds": "8",
        "size": "1280x720",
    }


@pytest.mark.asyncio
async def test_create_with_an_image_sends_multipart_with_an_input_reference_file(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    image = ReferenceImage(filename="first.png", content_type="image/png", data=PNG)
    await gen_client.create(
        prompt="from this frame", model="sora-2-pro", seconds=12, size="1792x1024", reference=image
    )
    [sent] = gen_upstream.requests
    assert sent.content_type.startswith("multipart/form-data")
    parts = parse_multipart(sent.body, sent.content_type)
    assert {n: p.text for n, p in parts.items() if p.filename is None} == {
        "model": "sora-2-pro",
        "prompt": "from this frame",
        "seconds": "12",
        "size": "1792x1024",
    }
    file = parts["input_reference"]
    assert (file.filename, file.content_type, file.data) == ("first.png", "image/png", PNG)


@pytest.mark.asyncio
async def test_the_default_model_is_sora_2(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    await gen_client.create(prompt="a cat", seconds=4, size="720x1280")
    assert json.loads(gen_upstream.requests[0].body)["model"] == "sora-2"


@pytest.mark.asyncio
async def test_retrieve_asks_for_the_task_by_its_quoted_id(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    with pytest.raises(UpstreamNotFound):
        await gen_client.retrieve("task_a/b")
    [sent] = gen_upstream.requests
    assert (sent.method, sent.path) == ("GET", "/v1/video/generations/task_a%2Fb")


# --- contract: what the emulator answers ----------------------------------------------


@pytest.mark.asyncio
async def test_create_answers_the_sora_video_object_with_new_apis_task_id(
    gen_upstream: FakeUpstream,
) -> None:
    answer = await _raw_create(gen_upstream, seconds="8", size="1280x720")
    assert answer["id"] == answer["task_id"] and answer["task_id"].startswith("task_")
    assert len(answer["task_id"]) == len("task_") + 32
    assert (answer["object"], answer["status"], answer["progress"]) == ("video", "queued", 0)
    assert (answer["model"], answer["seconds"], answer["size"]) == ("sora-2", "8", "1280x720")


@pytest.mark.asyncio
async def test_a_task_answer_is_the_wrapped_task_row(
    gen_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    task_id = (await _raw_create(gen_upstream))["task_id"]
    body = (await _raw(gen_upstream, "GET", f"/v1/video/generations/{task_id}")).json()
    assert (body["code"], body["message"]) == ("success", "")
    data = body["data"]
    assert isinstance(data["id"], int) and data["task_id"] == task_id
    assert (data["status"], data["progress"], data["fail_reason"]) == ("NOT_START", "0%", "")
    assert "result_url" not in data  # omitempty until there is one
    assert data["properties"]["origin_model_name"] == "sora-2"
    assert data["data"]["object"] == "video"  # the upstream's own answer, kept as it came


@pytest.mark.asyncio
async def test_statuses_and_progress_words_follow_the_task_lifecycle(
    gen_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    task_id = (await _raw_create(gen_upstream))["task_id"]
    seen = []
    for step in (0.0, 0.8, 2.0, 3.0, 3.0, 3.0):
        upstream_clock.advance(step)
        data = (await _raw(gen_upstream, "GET", f"/v1/video/generations/{task_id}")).json()["data"]
        seen.append((data["status"], data["progress"]))
    assert seen[0] == ("NOT_START", "0%") and seen[1] == ("QUEUED", "20%")
    in_progress = [int(p[:-1]) for s, p in seen if s == "IN_PROGRESS"]
    assert in_progress and in_progress == sorted(in_progress) and in_progress[0] >= 30
    assert seen[-1] == ("SUCCESS", "100%")
    assert {s for s, _ in seen} <= TASK_STATUSES


@pytest.mark.asyncio
async def test_an_unknown_task_is_400_task_not_exist(gen_upstream: FakeUpstream) -> None:
    response = await _raw(gen_upstream, "GET", "/v1/video/generations/task_nope")
    assert response.status_code == 400
    assert response.json() == {"code": "task_not_exist", "message": "task_not_exist", "data": None}


@pytest.mark.asyncio
async def test_the_result_url_is_new_apis_proxy_and_needs_the_key(
    gen_upstream: FakeUpstream,
) -> None:
    task_id = (await _raw_create(gen_upstream))["task_id"]
    gen_upstream.finish(task_id)
    data = (await _raw(gen_upstream, "GET", f"/v1/video/generations/{task_id}")).json()["data"]
    assert data["result_url"] == f"{gen_upstream.origin}/v1/videos/{task_id}/content"
    async with httpx.AsyncClient() as http:
        anonymous = await http.get(data["result_url"])
        keyed = await http.get(data["result_url"], headers=AUTH)
    assert anonymous.status_code == 401
    assert keyed.status_code == 200 and is_mp4(keyed.content)


@pytest.mark.asyncio
async def test_content_before_success_is_refused_like_new_apis_proxy(
    gen_upstream: FakeUpstream,
) -> None:
    task_id = (await _raw_create(gen_upstream))["task_id"]
    response = await _raw(gen_upstream, "GET", f"/v1/videos/{task_id}/content")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Task is not completed yet, current status: NOT_START",
            "type": "invalid_request_error",
        }
    }


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"model": ""}, 400, "missing_model"),
        ({"seconds": 8}, 400, "invalid_json"),  # TaskSubmitReq.seconds is a string
        ({"prompt": " "}, 400, "invalid_request"),
        ({"size": "1792x1024"}, 400, "invalid_size"),  # sora-2 makes 720p only
        ({"duration": 8}, 400, "fail_to_fetch_task"),  # forwarded to OpenAI: unknown there
        ({"width": 1280, "height": 720}, 400, "fail_to_fetch_task"),
        ({"image": "https://x/a.png"}, 400, "fail_to_fetch_task"),
        ({"seconds": "10"}, 400, "fail_to_fetch_task"),
    ],
)
@pytest.mark.asyncio
async def test_the_emulator_refuses_what_new_api_or_its_sora_upstream_refuses(
    gen_upstream: FakeUpstream, fields: dict[str, Any], status: int, code: str
) -> None:
    body = {"model": "sora-2", "prompt": "a cat", "seconds": "4", "size": "720x1280", **fields}
    response = await _raw(gen_upstream, "POST", "/v1/video/generations", json=body)
    assert response.status_code == status
    answer = response.json()
    assert answer["code"] == code and answer["data"] is None and answer["message"]
    assert not gen_upstream.jobs


@pytest.mark.asyncio
async def test_a_model_no_channel_serves_is_new_apis_503(gen_upstream: FakeUpstream) -> None:
    body = {"model": "kling-v1", "prompt": "a cat"}
    response = await _raw(gen_upstream, "POST", "/v1/video/generations", json=body)
    assert response.status_code == 503
    assert "无可用渠道" in response.json()["error"]["message"]


@pytest.mark.asyncio
async def test_models_are_listed_for_the_dialect(gen_upstream: FakeUpstream) -> None:
    response = await _raw(gen_upstream, "GET", "/v1/models")
    ids = {m["id"] for m in response.json()["data"]}
    assert set(GENERATIONS_MODELS) <= ids


# --- parsing the answers new-api gives (pure) -----------------------------------------


def test_the_documented_create_answer_is_a_queued_job() -> None:
    job = parse_task({"task_id": "abcd1234efgh", "status": "queued"}, {}, API_KEY)
    assert (job.id, job.status, job.progress) == ("abcd1234efgh", TaskStatus.QUEUED, 0)


@pytest.mark.parametrize(
    ("status", "progress", "expected"),
    [
        ("NOT_START", "0%", (TaskStatus.QUEUED, 0)),
        ("SUBMITTED", "10%", (TaskStatus.QUEUED, 10)),
        ("QUEUED", "20%", (TaskStatus.QUEUED, 20)),
        ("UNKNOWN", "", (TaskStatus.QUEUED, 0)),
        ("IN_PROGRESS", "30%", (TaskStatus.IN_PROGRESS, 30)),
        ("SUCCESS", "100%", (TaskStatus.COMPLETED, 100)),
        ("FAILURE", "100%", (TaskStatus.FAILED, 100)),
    ],
)
def test_task_statuses_and_percent_progress(
    status: str, progress: str, expected: tuple[TaskStatus, int]
) -> None:
    wrapped = {
        "code": "success",
        "message": "",
        "data": {"id": 7, "task_id": "task_x", "status": status, "progress": progress},
    }
    job = parse_task(wrapped, {}, API_KEY)
    assert job.id == "task_x" and (job.status, job.progress) == expected


def test_the_documented_task_answer_and_the_realtime_one_are_read_too() -> None:
    documented = {
        "task_id": "abcd1234efgh",
        "status": "completed",
        "url": "https://example.com/video.mp4",
        "format": "mp4",
        "error": {"code": 0, "message": ""},
    }
    job = parse_task(documented, {}, API_KEY)
    assert job.status is TaskStatus.COMPLETED and job.result_url == "https://example.com/video.mp4"
    realtime = {
        "code": "success",
        "data": {
            "task_id": "t1",
            "status": "failed",
            "url": "",
            "error": {"code": 0, "message": "quota"},
        },
    }
    failed = parse_task(realtime, {}, API_KEY)
    assert failed.status is TaskStatus.FAILED and failed.error_message == "quota"
    assert failed.error_code is None  # a numeric code says nothing


@pytest.mark.parametrize(
    "reason",
    [
        "The video was blocked by our moderation system.",
        "Your request was rejected by the safety system",
        "内容审核未通过",
        "prompt contains sensitive content",
    ],
)
def test_a_moderation_reason_is_reported_as_moderation_blocked(reason: str) -> None:
    data = {"task_id": "t", "status": "FAILURE", "progress": "100%", "fail_reason": reason}
    job = parse_task({"code": "success", "data": data}, {}, API_KEY)
    assert job.error_code == "moderation_blocked" and job.error_message == reason


def test_a_successful_old_row_with_its_url_in_fail_reason_is_no_failure() -> None:
    url = "https://cdn.example/v.mp4"
    data = {"task_id": "t", "status": "SUCCESS", "fail_reason": url, "result_url": url}
    job = parse_task({"code": "success", "data": data}, {}, API_KEY)
    assert job.error_message is None and job.error_code is None and job.result_url == url


def test_the_key_is_redacted_from_a_failure_reason() -> None:
    data = {"task_id": "t", "status": "FAILURE", "fail_reason": f"bad key {API_KEY}"}
    job = parse_task({"code": "success", "data": data}, {}, API_KEY)
    assert job.error_message is not None and API_KEY not in job.error_message


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"code": "success", "data": None}, MalformedAnswer),
        (
            {"code": "fail_to_fetch_task", "message": "upstream said no", "data": None},
            EmbeddedError,
        ),
        ({"error": {"message": "nope", "type": "invalid_request_error"}}, EmbeddedError),
        ({"status": "queued"}, MalformedAnswer),
        (["not", "an", "object"], MalformedAnswer),
    ],
)
def test_answers_without_a_task_are_refused(body: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_task(body, {}, API_KEY)


# --- the adapter through the emulator ---------------------------------------------------


@pytest.mark.asyncio
async def test_create_progress_complete_download(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    job = await gen_client.create(prompt="a cat", seconds=8, size="1280x720")
    assert job.status is TaskStatus.QUEUED and job.id in gen_upstream.jobs
    progress = []
    for _ in range(6):
        upstream_clock.advance(2.0)
        current = await gen_client.retrieve(job.id)
        progress.append(current.progress)
    assert progress == sorted(progress) and current.status is TaskStatus.COMPLETED
    assert (current.model, current.seconds, current.size) == ("sora-2", "8", "1280x720")
    # new-api's proxy link needs the key: not kept (members would get a dead link) ...
    assert current.result_url is None
    # ... and the download finds the same proxy on our base URL, with the key.
    video = await gen_client.download(job.id, max_bytes=10**6, result_url=current.result_url)
    assert video.data is not None and is_mp4(video.data)
    fetch = gen_upstream.requests[-1]
    assert (fetch.path, fetch.op) == (f"/v1/videos/{job.id}/content", "content")
    assert fetch.headers["authorization"] == f"Bearer {API_KEY}"


@pytest.mark.asyncio
async def test_download_to_a_file(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream, tmp_path: Any
) -> None:
    job = await gen_client.create(prompt="a cat", seconds=4, size="720x1280")
    gen_upstream.finish(job.id)
    done = await gen_client.retrieve(job.id)
    dest = tmp_path / "v.mp4"
    saved = await gen_client.download(
        job.id, max_bytes=10**6, dest=dest, result_url=done.result_url
    )
    assert saved.path == dest and is_mp4(dest.read_bytes())


@pytest.mark.asyncio
async def test_a_providers_public_link_is_the_result_url_when_the_relay_gives_one(
    upstream_http: httpx.AsyncClient, upstream_clock: FakeClock, upstream_sleeps: RecordingSleep
) -> None:
    async with FakeUpstream(
        api_key=API_KEY, clock=upstream_clock, dialects=("generations",), video_url=True
    ) as up:
        client = _client(upstream_http, up.base_url, upstream_sleeps)
        job = await client.create(prompt="a cat", seconds=4, size="720x1280")
        up.finish(job.id)
        done = await client.retrieve(job.id)
        assert done.result_url == f"{up.origin}/files/{job.id}.mp4"
        video = await client.download(job.id, max_bytes=10**6, result_url=done.result_url)
    assert video.data is not None and is_mp4(video.data)
    fetch = up.requests[-1]
    assert fetch.op == "other" and fetch.path == f"/files/{job.id}.mp4"


@pytest.mark.asyncio
async def test_a_foreign_result_url_gets_no_key(
    upstream_http: httpx.AsyncClient, upstream_clock: FakeClock, upstream_sleeps: RecordingSleep
) -> None:
    async with (
        FakeUpstream(api_key=API_KEY, clock=upstream_clock, dialects=("generations",)) as relay,
        FakeUpstream(api_key="sk-cdn", clock=upstream_clock, dialects=()) as cdn,
    ):
        client = _client(upstream_http, relay.base_url, upstream_sleeps)
        job = await client.create(prompt="a cat", seconds=4, size="720x1280")
        relay.finish(job.id)
        link = f"{cdn.origin}/files/clip.mp4?bytes=5000"
        video = await client.download(job.id, max_bytes=10**6, result_url=link)
    assert video.size == 5000
    [fetch] = cdn.requests
    assert "authorization" not in fetch.headers


@pytest.mark.asyncio
async def test_new_apis_proxy_link_on_a_stale_server_address_is_fetched_from_our_base(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    job = await gen_client.create(prompt="a cat", seconds=4, size="720x1280")
    gen_upstream.finish(job.id)
    stale = f"http://127.0.0.1:{free_port()}/v1/videos/{job.id}/content"  # nothing listens
    video = await gen_client.download(job.id, max_bytes=10**6, result_url=stale)
    assert video.data is not None and is_mp4(video.data)
    fetch = gen_upstream.requests[-1]
    assert fetch.path == f"/v1/videos/{job.id}/content"
    assert fetch.headers["authorization"] == f"Bearer {API_KEY}"


@pytest.mark.asyncio
async def test_without_a_result_url_the_proxy_on_our_base_is_used(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    job = await gen_client.create(prompt="a cat", seconds=4, size="720x1280")
    gen_upstream.finish(job.id)
    video = await gen_client.download(job.id, max_bytes=10**6)
    assert video.data is not None and is_mp4(video.data)
    assert gen_upstream.requests[-1].path == f"/v1/videos/{job.id}/content"


@pytest.mark.asyncio
async def test_there_is_no_thumbnail_and_nothing_is_sent_for_one(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    with pytest.raises(UnsupportedByUpstream):
        await gen_client.download("task_x", variant="thumbnail", max_bytes=10**6)
    assert not gen_upstream.requests


@pytest.mark.asyncio
async def test_a_job_moderated_upstream_fails_with_moderation_blocked(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    job = await gen_client.create(prompt="a cat [fault:moderation]", seconds=4, size="720x1280")
    upstream_clock.advance(11.0)
    failed = await gen_client.retrieve(job.id)
    assert failed.status is TaskStatus.FAILED and failed.raw_status == "FAILURE"
    assert failed.error_code == "moderation_blocked"
    assert failed.error_message == "The video was blocked by our moderation system."
    assert failed.result_url is None


@pytest.mark.asyncio
async def test_a_job_moderated_on_the_first_look_fails_too(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    job = await gen_client.create(prompt="a cat", seconds=4, size="720x1280")
    gen_upstream.inject("retrieve", Fault.MODERATION, video_id=job.id)
    upstream_clock.advance(11.0)
    failed = await gen_client.retrieve(job.id)
    assert failed.error_code == "moderation_blocked"


@pytest.mark.asyncio
async def test_a_moderated_submission_is_refused_and_not_resent(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    gen_upstream.inject("create", Fault.MODERATION_SUBMIT)
    with pytest.raises(ModerationBlocked):
        await gen_client.create(prompt="a cat", seconds=4, size="720x1280")
    assert gen_upstream.count("create") == 1 and not gen_upstream.jobs


@pytest.mark.asyncio
async def test_an_ordinary_failure_keeps_its_reason_and_no_code(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    job = await gen_client.create(prompt="a cat", seconds=4, size="720x1280")
    gen_upstream.fail(job.id, "server_error", "The render farm is on fire.")
    failed = await gen_client.retrieve(job.id)
    assert failed.status is TaskStatus.FAILED
    assert (failed.error_code, failed.error_message) == (None, "The render farm is on fire.")


@pytest.mark.asyncio
async def test_an_unknown_task_raises_not_found(gen_client: GenerationsClient) -> None:
    with pytest.raises(UpstreamNotFound) as caught:
        await gen_client.retrieve("task_made_up")
    assert caught.value.code == "task_not_exist" and caught.value.status_code == 400


@pytest.mark.asyncio
async def test_a_500_on_create_is_not_resent(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    gen_upstream.inject("create", Fault.HTTP_500)
    with pytest.raises(SubmissionUncertain):
        await gen_client.create(prompt="a cat", seconds=4, size="720x1280")
    assert gen_upstream.count("create") == 1 and upstream_sleeps.delays == []


@pytest.mark.asyncio
async def test_a_dropped_create_is_not_resent(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    gen_upstream.inject("create", Fault.DROP)
    with pytest.raises(SubmissionUncertain):
        await gen_client.create(prompt="a cat", seconds=4, size="720x1280")
    assert gen_upstream.count("create") == 1


@pytest.mark.asyncio
async def test_a_saturated_group_429_on_create_is_resent(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    gen_upstream.inject("create", Fault.RATE_LIMIT, retry_after=0)
    job = await gen_client.create(prompt="a cat", seconds=4, size="720x1280")
    assert gen_upstream.count("create") == 2 and list(gen_upstream.jobs) == [job.id]


@pytest.mark.asyncio
async def test_a_long_429_is_raised_with_new_apis_words(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    gen_upstream.inject("create", Fault.RATE_LIMIT, retry_after=600)
    with pytest.raises(RateLimited) as caught:
        await gen_client.create(prompt="a cat", seconds=4, size="720x1280")
    assert caught.value.retry_after == 600 and gen_upstream.count("create") == 1


@pytest.mark.asyncio
async def test_a_retrieve_500_is_retried(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    job = await gen_client.create(prompt="a cat", seconds=4, size="720x1280")
    gen_upstream.inject("retrieve", Fault.HTTP_500, video_id=job.id)
    current = await gen_client.retrieve(job.id)
    assert current.id == job.id and gen_upstream.count("retrieve") == 2


@pytest.mark.asyncio
async def test_a_refused_key_is_an_auth_error_without_the_key_in_it(
    upstream_http: httpx.AsyncClient, gen_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    client = _client(upstream_http, gen_upstream.base_url, upstream_sleeps, api_key="sk-wrong-KEY")
    with pytest.raises(UpstreamAuthError) as caught:
        await client.create(prompt="a cat", seconds=4, size="720x1280")
    assert not any("sk-wrong-KEY" in text for text in exception_texts(caught.value))


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"model": "sora-2", "size": "1792x1024"}, "size"),  # new-api: sora-2 is 720p only
        ({"seconds": 10}, "seconds"),
        ({"size": "1920x1080"}, "size"),
        ({"prompt": "   "}, "prompt"),
        ({"model": ""}, "model"),
    ],
)
@pytest.mark.asyncio
async def test_bad_options_are_refused_before_anything_is_sent(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream, options: dict[str, Any], field: str
) -> None:
    request: dict[str, Any] = {"prompt": "a cat", "seconds": 4, "size": "720x1280", **options}
    with pytest.raises(InvalidInput) as caught:
        await gen_client.create(**request)
    assert caught.value.field == field and not gen_upstream.requests


@pytest.mark.asyncio
async def test_a_bad_reference_image_is_refused_before_anything_is_sent(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    gif = ReferenceImage(filename="a.gif", content_type="image/gif", data=b"GIF89a")
    with pytest.raises(InvalidInput):
        await gen_client.create(prompt="a cat", seconds=4, size="720x1280", reference=gif)
    assert not gen_upstream.requests


@pytest.mark.asyncio
async def test_remix_extend_and_list_are_not_in_this_dialect_and_send_nothing(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    with pytest.raises(UnsupportedByUpstream) as remix:
        await gen_client.remix("task_x", prompt="again")
    with pytest.raises(UnsupportedByUpstream):
        await gen_client.extend("task_x", prompt="more", seconds=4)
    with pytest.raises(UnsupportedByUpstream):
        await gen_client.list_recent(limit=5)
    assert remix.value.dialect == "generations" and not gen_upstream.requests
    await gen_client.aclose()


@pytest.mark.asyncio
async def test_check_credentials_lists_models_and_creates_nothing(
    gen_client: GenerationsClient, gen_upstream: FakeUpstream
) -> None:
    await gen_client.check_credentials()
    [sent] = gen_upstream.requests
    assert (sent.method, sent.path) == ("GET", "/v1/models") and not gen_upstream.jobs


def test_capabilities_say_what_the_dialect_offers(gen_client: GenerationsClient) -> None:
    caps = gen_client.capabilities()
    assert caps.dialect is Dialect.GENERATIONS
    assert (caps.can_remix, caps.can_list, caps.can_extend, caps.image_input) == (
        False,
        False,
        False,
        True,
    )
    assert caps.models == ("sora-2", "sora-2-pro") and caps.seconds == (4, 8, 12)
    assert caps.sizes == ("720x1280", "1280x720", "1024x1792", "1792x1024")


@pytest.mark.parametrize(
    ("listed", "models"),
    [
        (("sora-2", "gpt-4o-mini"), ("sora-2",)),
        (("sora-2-pro", "sora-2"), ("sora-2", "sora-2-pro")),
        (("kling-v1",), ("sora-2", "sora-2-pro")),  # none of ours listed: the documented ones
        ((), ("sora-2", "sora-2-pro")),
    ],
)
@pytest.mark.asyncio
async def test_models_are_narrowed_to_those_the_relay_lists(
    upstream_http: httpx.AsyncClient,
    upstream_sleeps: RecordingSleep,
    listed: tuple[str, ...],
    models: tuple[str, ...],
) -> None:
    client = _client(upstream_http, "http://127.0.0.1:1/v1", upstream_sleeps, listed_models=listed)
    caps = client.capabilities()
    assert caps.models == models
    assert ("sora-2-pro" in models) == all(s in caps.sizes for s in PRO_ONLY_SIZES)


# --- detection ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_probe_hears_the_generations_dialect(
    upstream_http: httpx.AsyncClient, gen_upstream: FakeUpstream
) -> None:
    probe = await GenerationsClient.probe(_transport(upstream_http, gen_upstream.base_url), ())
    assert probe.dialect is Dialect.GENERATIONS and probe.speaks
    assert "task_not_exist" in probe.evidence
    [sent] = gen_upstream.requests
    assert sent.method == "GET" and sent.path.startswith("/v1/video/generations/")
    assert not gen_upstream.jobs


@pytest.mark.parametrize(
    ("dialects", "relay"),
    [(("openai",), "openai"), (("openai",), "newapi"), ((), "openai")],
)
@pytest.mark.asyncio
async def test_the_probe_hears_nothing_where_the_route_is_missing(
    upstream_http: httpx.AsyncClient,
    upstream_clock: FakeClock,
    dialects: tuple[str, ...],
    relay: Any,
) -> None:
    async with FakeUpstream(
        api_key=API_KEY, clock=upstream_clock, dialects=dialects, relay=relay
    ) as up:
        probe = await GenerationsClient.probe(_transport(upstream_http, up.base_url), ())
    assert not probe.speaks and "404" in probe.evidence and not up.jobs


@pytest.mark.asyncio
async def test_the_probe_says_when_the_key_was_refused(
    upstream_http: httpx.AsyncClient, gen_upstream: FakeUpstream
) -> None:
    transport = _transport(upstream_http, gen_upstream.base_url, api_key="sk-other")
    probe = await GenerationsClient.probe(transport, ())
    assert not probe.speaks and "key" in probe.evidence and "401" in probe.evidence


@pytest.mark.asyncio
async def test_a_relay_with_both_dialects_serves_generations_and_its_content(
    upstream_http: httpx.AsyncClient, upstream_clock: FakeClock, upstream_sleeps: RecordingSleep
) -> None:
    async with FakeUpstream(
        api_key=API_KEY, clock=upstream_clock, dialects=("openai", "generations"), relay="newapi"
    ) as up:
        client = _client(upstream_http, up.base_url, upstream_sleeps)
        probe = await GenerationsClient.probe(_transport(upstream_http, up.base_url), ())
        job = await client.create(prompt="a cat", seconds=4, size="720x1280")
        up.finish(job.id)
        done = await client.retrieve(job.id)
        video = await client.download(job.id, max_bytes=10**6, result_url=done.result_url)
    assert probe.speaks and job.id.startswith("task_")
    assert video.data is not None and is_mp4(video.data)


def test_the_standalone_emulator_speaks_the_dialect_with_its_faults() -> None:
    port = free_port()
    command = [sys.executable, "-m", "bot.emulators.fake_upstream", "--port", str(port)]
    command += ["--api-key", "sk-cli", "--job-seconds", "0", "--dialect", "generations"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    body = {"model": "sora-2", "prompt": "cli", "seconds": "4", "size": "720x1280"}
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}/v1", headers={"Authorization": "Bearer sk-cli"}
        ) as http:
            deadline = time.monotonic() + 10
            while True:
                try:
                    created = http.post("/video/generations", json=body)
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline and process.poll() is None
                    time.sleep(0.05)
            done = http.get(f"/video/generations/{created.json()['task_id']}")
            refused = http.post(
                "/video/generations", json={**body, "prompt": "cli [fault:http_500]"}
            )
        assert created.status_code == 200 and done.json()["data"]["status"] == "SUCCESS"
        assert refused.status_code == 500 and refused.json()["code"] == "fail_to_fetch_task"
    finally:
        process.terminate()
        process.wait(timeout=10)
