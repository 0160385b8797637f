"""OpenAIVideosClient against the FakeUpstream emulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from bot.core.dialects import Dialect
from bot.core.errors import (
    ContentExpired,
    ContentTooLarge,
    InvalidInput,
    ModerationBlocked,
    RateLimited,
    SubmissionUncertain,
    UpstreamAuthError,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamUnavailable,
)
from bot.core.models import TaskStatus
from bot.core.video_spec import API_MAX_PROMPT_CHARS, VIDEO_MODELS, VIDEO_SECONDS, VIDEO_SIZES
from bot.emulators.fake_upstream import THUMBNAIL_WEBP, FakeUpstream, Fault
from bot.emulators.mp4 import is_mp4
from bot.upstream import (
    RETRY_AFTER_LIMIT,
    OpenAIVideosClient,
    ReferenceImage,
    UpstreamJob,
    VideoCapabilities,
    normalize_status,
    parse_progress,
    parse_retry_after,
)
from tests.upstream_fixtures import (
    API_KEY,
    FakeClock,
    RecordingSleep,
    exception_texts,
    free_port,
    make_client,
    wait_until,
)
from tests.upstream_fixtures import fake_upstream as fake_upstream
from tests.upstream_fixtures import upstream_clock as upstream_clock
from tests.upstream_fixtures import upstream_http as upstream_http
from tests.upstream_fixtures import upstream_sleeps as upstream_sleeps
from tests.upstream_fixtures import videos_client as videos_client

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _listing(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


async def _completed(
    client: OpenAIVideosClient, up: FakeUpstream, prompt: str = "a cat"
) -> UpstreamJob:
    job = await client.create(prompt=prompt, seconds=4, size="720x1280")
    up.finish(job.id)
    return await client.retrieve(job.id)


# --- pure parsing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("queued", TaskStatus.QUEUED, None),
        ("PENDING", TaskStatus.QUEUED, None),
        ("submitted", TaskStatus.QUEUED, None),
        ("NOT_START", TaskStatus.QUEUED, None),
        ("unknown", TaskStatus.QUEUED, None),
        ("", TaskStatus.QUEUED, None),
        ("in_progress", TaskStatus.IN_PROGRESS, None),
        ("In-Progress", TaskStatus.IN_PROGRESS, None),
        ("processing", TaskStatus.IN_PROGRESS, None),
        ("RUNNING", TaskStatus.IN_PROGRESS, None),
        ("generating", TaskStatus.IN_PROGRESS, None),
        ("completed", TaskStatus.COMPLETED, None),
        ("Succeeded", TaskStatus.COMPLETED, None),
        ("SUCCESS", TaskStatus.COMPLETED, None),
        ("finished", TaskStatus.COMPLETED, None),
        ("failed", TaskStatus.FAILED, None),
        ("FAILURE", TaskStatus.FAILED, None),
        ("error", TaskStatus.FAILED, None),
        ("cancelled", TaskStatus.FAILED, "cancelled"),
        ("Canceled", TaskStatus.FAILED, "cancelled"),
        ("expired", TaskStatus.FAILED, "expired"),
    ],
)
def test_normalize_status(raw: str, status: TaskStatus, code: str | None) -> None:
    assert normalize_status(raw) == (status, code)


def test_unknown_status_is_in_progress_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.upstream.parsing"):
        assert normalize_status("rendering_frames") == (TaskStatus.IN_PROGRESS, None)
    assert "rendering_frames" in caplog.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (45, 45),
        (150, 100),
        (-3, 0),
        ("45%", 45),
        (" 100% ", 100),
        ("7", 7),
        (0.42, 42),
        (1.0, 100),
        ("0.5", 50),
        (33.6, 34),
        (None, 0),
        (True, 0),
        ("n/a", 0),
        ([], 0),
    ],
)
def test_parse_progress(value: object, expected: int) -> None:
    assert parse_progress(value) == expected


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == 30
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


# --- operations ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_create_sends_multipart_with_string_seconds(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    job = await videos_client.create(prompt="a calico cat", seconds=8, size="1280x720")

    assert job.status is TaskStatus.QUEUED and job.raw_status == "queued"
    assert job.id.startswith("video_") and job.id in fake_upstream.jobs
    assert (job.model, job.seconds, job.size, job.progress) == ("sora-2", "8", "1280x720", 0)
    [request] = fake_upstream.requests
    assert request.op == "create"
    assert request.content_type.startswith("multipart/form-data")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    stored = fake_upstream.jobs[job.id]
    assert (stored.prompt, stored.seconds, stored.size, stored.model) == (
        "a calico cat",
        "8",
        "1280x720",
        "sora-2",
    )


@pytest.mark.asyncio
async def test_create_uploads_the_reference_image_as_a_file(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    reference = ReferenceImage(filename="first.png", content_type="image/png", data=PNG)
    job = await videos_client.create(
        prompt="animate this", model="sora-2-pro", seconds=4, size="720x1280", reference=reference
    )

    part = fake_upstream.jobs[job.id].reference
    assert part is not None and not isinstance(part, dict)
    assert (part.filename, part.content_type, part.data) == ("first.png", "image/png", PNG)
    assert job.model == "sora-2-pro"


@pytest.mark.asyncio
async def test_retrieve_follows_the_lifecycle(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    job = await videos_client.create(prompt="a cat", seconds=4, size="720x1280")

    seen = [await videos_client.retrieve(job.id)]
    for _ in range(4):
        upstream_clock.advance(2.5)
        seen.append(await videos_client.retrieve(job.id))

    assert [j.status for j in seen] == [
        TaskStatus.QUEUED,
        TaskStatus.IN_PROGRESS,
        TaskStatus.IN_PROGRESS,
        TaskStatus.IN_PROGRESS,
        TaskStatus.COMPLETED,
    ]
    progress = [j.progress for j in seen]
    assert progress == sorted(progress) and progress[0] == 0 and progress[-1] == 100
    assert 0 < progress[1] < progress[3] < 100
    done = seen[-1]
    assert done.expires_at is not None and done.expires_at > datetime.now(UTC)
    assert done.error_code is None and done.result_url is None and done.poll_after is None


@pytest.mark.asyncio
async def test_remix_of_a_completed_video(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    parent = await videos_client.create(prompt="a cat", seconds=12, size="1792x1024")
    fake_upstream.finish(parent.id)

    child = await videos_client.remix(parent.id, prompt="now it rains")

    assert child.remixed_from == parent.id and child.id != parent.id
    assert (child.seconds, child.size, child.model) == ("12", "1792x1024", "sora-2")
    request = fake_upstream.requests[-1]
    assert request.op == "remix" and request.video_id == parent.id
    assert request.content_type.startswith("application/json")
    assert request.body == b'{"prompt":"now it rains"}'


@pytest.mark.asyncio
async def test_remix_of_an_unfinished_video_is_rejected_once(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    parent = await videos_client.create(prompt="a cat", seconds=4, size="720x1280")

    with pytest.raises(UpstreamRejected) as caught:
        await videos_client.remix(parent.id, prompt="again")

    assert caught.value.status_code == 400 and caught.value.param == "video_id"
    assert "not completed" in caught.value.user_message
    assert fake_upstream.count("remix") == 1


@pytest.mark.asyncio
async def test_download_video_to_memory_and_thumbnail(
    upstream_http: httpx.AsyncClient, upstream_sleeps: RecordingSleep
) -> None:
    async with FakeUpstream(api_key=API_KEY, job_seconds=0, video_bytes=300_000) as up:
        client = make_client(upstream_http, up.base_url, upstream_sleeps)
        job = await _completed(client, up)

        video = await client.download(job.id, max_bytes=1_000_000)
        thumb = await client.download(job.id, variant="thumbnail", max_bytes=1_000_000)

    assert video.size == 300_000 and video.data is not None and len(video.data) == 300_000
    assert video.content_type == "video/mp4" and is_mp4(video.data) and video.path is None
    assert thumb.content_type == "image/webp" and thumb.data == THUMBNAIL_WEBP
    assert [r.query.get("variant") for r in up.requests if r.op == "content"] == [
        "video",
        "thumbnail",
    ]


@pytest.mark.asyncio
async def test_download_to_a_file(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    job = await _completed(videos_client, fake_upstream, "a cat [bytes:200000]")
    dest = tmp_path / "out.mp4"

    result = await videos_client.download(job.id, max_bytes=10**6, dest=dest)

    assert result.path == dest and result.data is None and result.size == 200_000
    assert dest.stat().st_size == 200_000 and is_mp4(dest.read_bytes())
    assert _listing(tmp_path) == [dest]


@pytest.mark.asyncio
async def test_download_before_completion_is_rejected(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    job = await videos_client.create(prompt="a cat", seconds=4, size="720x1280")
    with pytest.raises(UpstreamRejected):
        await videos_client.download(job.id, max_bytes=10**6)
    assert fake_upstream.count("content") == 1


@pytest.mark.asyncio
async def test_unknown_id_is_not_found(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    with pytest.raises(UpstreamNotFound):
        await videos_client.retrieve("video_nope")
    assert fake_upstream.count("retrieve") == 1


@pytest.mark.asyncio
async def test_check_credentials(
    upstream_http: httpx.AsyncClient,
    fake_upstream: FakeUpstream,
    videos_client: OpenAIVideosClient,
    upstream_sleeps: RecordingSleep,
) -> None:
    await videos_client.check_credentials()
    wrong = make_client(upstream_http, fake_upstream.base_url, upstream_sleeps, api_key="sk-bad")
    with pytest.raises(UpstreamAuthError) as caught:
        await wrong.check_credentials()

    assert caught.value.status_code == 401
    assert [(r.method, r.path) for r in fake_upstream.requests] == [("GET", "/v1/models")] * 2
    assert not fake_upstream.jobs and upstream_sleeps.delays == []


@pytest.mark.asyncio
async def test_check_credentials_forbidden(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.inject("other", Fault.HTTP_ERROR, status=403, message="Org not verified")
    with pytest.raises(UpstreamAuthError):
        await videos_client.check_credentials()


@pytest.mark.asyncio
async def test_check_credentials_at_an_address_without_an_api_is_not_reachable(
    upstream_http: httpx.AsyncClient, fake_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    """A 404 for /models is never "reachable": there is no OpenAI-compatible API there."""
    elsewhere = make_client(upstream_http, fake_upstream.origin + "/nothing", upstream_sleeps)
    with pytest.raises(UpstreamNotFound):
        await elsewhere.check_credentials()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 32001}, "prompt"),
        ({"seconds": 10}, "seconds"),
        ({"seconds": "4"}, "seconds"),
        ({"seconds": True}, "seconds"),
        ({"size": "1920x1080"}, "size"),
        ({"model": ""}, "model"),
        (
            {"reference": ReferenceImage(filename="a.gif", content_type="image/gif", data=b"GIF")},
            "reference",
        ),
    ],
)
@pytest.mark.asyncio
async def test_create_validates_locally(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, kwargs: dict, field: str
) -> None:
    args = {"prompt": "a cat", "seconds": 4, "size": "720x1280", **kwargs}
    with pytest.raises(InvalidInput) as caught:
        await videos_client.create(**args)
    assert caught.value.field == field
    assert fake_upstream.requests == []


@pytest.mark.asyncio
async def test_remix_and_retrieve_validate_locally(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    with pytest.raises(InvalidInput):
        await videos_client.remix("video_1", prompt="")
    with pytest.raises(InvalidInput):
        await videos_client.remix("", prompt="ok")
    with pytest.raises(InvalidInput):
        await videos_client.retrieve(" ")
    assert fake_upstream.requests == []


@pytest.mark.asyncio
async def test_max_length_prompt_is_accepted(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    job = await videos_client.create(prompt="é" * 32000, seconds=4, size="720x1280")
    assert len(fake_upstream.jobs[job.id].prompt) == 32000


def test_capabilities_are_the_video_spec_and_frozen(videos_client: OpenAIVideosClient) -> None:
    caps = videos_client.capabilities()
    assert caps == VideoCapabilities(
        dialect=Dialect.OPENAI,
        can_remix=True,
        can_list=True,
        can_extend=True,
        image_input=True,
        models=VIDEO_MODELS,
        sizes=VIDEO_SIZES,
        seconds=VIDEO_SECONDS,
        can_cancel=True,
    )
    with pytest.raises(FrozenInstanceError):
        caps.sizes = ("1x1",)  # type: ignore[misc]  # assigning to a frozen field is the test


@pytest.mark.asyncio
async def test_create_accepts_every_size_and_duration_it_advertises(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    caps = videos_client.capabilities()
    for size in caps.sizes:
        for seconds in caps.seconds:
            job = await videos_client.create(prompt="a cat", seconds=seconds, size=size)
            assert (job.size, job.seconds) == (size, str(seconds))
    assert fake_upstream.count("create") == len(caps.sizes) * len(caps.seconds)


@pytest.mark.asyncio
async def test_create_explains_what_it_accepts(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    with pytest.raises(InvalidInput) as seconds:
        await videos_client.create(prompt="a cat", seconds=10, size="720x1280")
    with pytest.raises(InvalidInput) as size:
        await videos_client.create(prompt="a cat", seconds=4, size="1920x1080")
    with pytest.raises(InvalidInput) as prompt:
        await videos_client.create(prompt="x" * 32001, seconds=4, size="720x1280")
    assert seconds.value.user_message == "The duration must be 4, 8 or 12 seconds."
    assert size.value.user_message == (
        "The size must be one of 720x1280, 1280x720, 1024x1792, 1792x1024."
    )
    assert prompt.value.user_message == (
        f"The prompt is too long (32001 characters, max {API_MAX_PROMPT_CHARS})."
    )
    assert fake_upstream.requests == []


# --- retries on idempotent operations ---------------------------------------------------------


@pytest.mark.asyncio
async def test_retrieve_honours_retry_after(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    job = await videos_client.create(prompt="a cat", seconds=4, size="720x1280")
    fake_upstream.inject("retrieve", Fault.RATE_LIMIT, retry_after=2)
    fake_upstream.inject("retrieve", Fault.RATE_LIMIT, retry_after=9, retry_after_ms=1500)

    assert (await videos_client.retrieve(job.id)).id == job.id
    assert upstream_sleeps.delays == [2.0, 1.5]
    assert fake_upstream.count("retrieve") == 3


@pytest.mark.asyncio
async def test_retrieve_honours_an_http_date_retry_after(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    job = await videos_client.create(prompt="a cat", seconds=4, size="720x1280")
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    fake_upstream.inject("retrieve", Fault.RATE_LIMIT, retry_after=when)

    await videos_client.retrieve(job.id)
    [delay] = upstream_sleeps.delays
    assert 17 <= delay <= 20


@pytest.mark.asyncio
async def test_a_long_retry_after_is_raised_not_waited(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    job = await videos_client.create(prompt="a cat", seconds=4, size="720x1280")
    fake_upstream.inject("retrieve", Fault.RATE_LIMIT, retry_after=RETRY_AFTER_LIMIT + 60)

    with pytest.raises(RateLimited) as caught:
        await videos_client.retrieve(job.id)
    assert caught.value.retry_after == RETRY_AFTER_LIMIT + 60 and caught.value.transient
    assert upstream_sleeps.delays == [] and fake_upstream.count("retrieve") == 1


@pytest.mark.parametrize(
    ("fault", "params"),
    [
        (Fault.HTTP_500, {}),
        (Fault.HTTP_502, {}),
        (Fault.HTTP_503, {}),
        (Fault.HTTP_503, {"empty": True}),
        (Fault.MALFORMED, {}),
        (Fault.DROP, {}),
        (Fault.RESPOND, {"json": {"object": "video", "status": "queued"}}),  # no id
        (Fault.HTTP_ERROR, {"status": 408, "message": "Request timeout"}),
    ],
)
@pytest.mark.asyncio
async def test_retrieve_retries_transient_failures(
    videos_client: OpenAIVideosClient,
    fake_upstream: FakeUpstream,
    upstream_sleeps: RecordingSleep,
    fault: Fault,
    params: dict,
) -> None:
    job = await videos_client.create(prompt="a cat", seconds=4, size="720x1280")
    fake_upstream.inject("retrieve", fault, times=2, **params)

    assert (await videos_client.retrieve(job.id)).status is TaskStatus.QUEUED
    assert fake_upstream.count("retrieve") == 3
    assert len(upstream_sleeps.delays) == 2
    # jittered exponential backoff: 50..100 % of 0.5 s, then of 1 s
    assert 0.25 <= upstream_sleeps.delays[0] <= 0.5 and 0.5 <= upstream_sleeps.delays[1] <= 1.0


@pytest.mark.asyncio
async def test_retrieve_retries_a_hang_after_the_timeout(
    upstream_http: httpx.AsyncClient, fake_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    client = make_client(upstream_http, fake_upstream.base_url, upstream_sleeps, json_timeout=0.2)
    job = await client.create(prompt="a cat", seconds=4, size="720x1280")
    fake_upstream.inject("retrieve", Fault.HANG, seconds=5)

    assert (await client.retrieve(job.id)).id == job.id
    assert fake_upstream.count("retrieve") == 2 and len(upstream_sleeps.delays) == 1


@pytest.mark.asyncio
async def test_retrieve_gives_up_after_max_retries(
    upstream_http: httpx.AsyncClient,
    fake_upstream: FakeUpstream,
    upstream_sleeps: RecordingSleep,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(
        upstream_http,
        fake_upstream.base_url,
        upstream_sleeps,
        max_retries=4,
        backoff_base=1.0,
        backoff_cap=3.0,
    )
    job = await client.create(prompt="a cat", seconds=4, size="720x1280")
    fake_upstream.inject("retrieve", Fault.HTTP_500, times=100)

    with (
        caplog.at_level(logging.WARNING, logger="bot.upstream.transport"),
        pytest.raises(UpstreamUnavailable) as caught,
    ):
        await client.retrieve(job.id)

    assert caught.value.status_code == 500 and caught.value.transient
    assert fake_upstream.count("retrieve") == 5
    ceilings = [1.0, 2.0, 3.0, 3.0]  # doubling, capped
    assert len(upstream_sleeps.delays) == 4
    for delay, ceiling in zip(upstream_sleeps.delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    warnings = [r for r in caplog.records if r.name == "bot.upstream.transport"]
    assert len(warnings) == 5 and all(r.levelno == logging.WARNING for r in warnings)


@pytest.mark.asyncio
async def test_retrieve_rate_limited_to_the_end(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    job = await videos_client.create(prompt="a cat", seconds=4, size="720x1280")
    fake_upstream.inject("retrieve", Fault.RATE_LIMIT, times=100, retry_after=1)

    with pytest.raises(RateLimited) as caught:
        await videos_client.retrieve(job.id)
    assert caught.value.retry_after == 1.0 and caught.value.code == "rate_limit_exceeded"
    assert fake_upstream.count("retrieve") == 4 and upstream_sleeps.delays == [1.0] * 3


@pytest.mark.asyncio
async def test_download_retries_a_connection_drop_midway(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    job = await _completed(videos_client, fake_upstream, "a cat [bytes:500000]")
    fake_upstream.inject("content", Fault.DROP)
    fake_upstream.inject("content", Fault.RATE_LIMIT, retry_after=0.5)
    dest = tmp_path / "v.mp4"

    result = await videos_client.download(job.id, max_bytes=10**6, dest=dest)

    assert result.size == 500_000 and is_mp4(dest.read_bytes())
    first = next(r for r in fake_upstream.requests if r.op == "content")
    assert first.aborted and 0 < first.bytes_sent < 500_000
    assert fake_upstream.count("content") == 3 and _listing(tmp_path) == [dest]


@pytest.mark.asyncio
async def test_download_that_always_drops_gives_up(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    job = await _completed(videos_client, fake_upstream, "a cat [fault:drop] [bytes:100000]")
    with pytest.raises(UpstreamUnavailable):
        await videos_client.download(job.id, max_bytes=10**6, dest=tmp_path / "v.mp4")
    assert fake_upstream.count("content") == 4 and _listing(tmp_path) == []


@pytest.mark.asyncio
async def test_download_rejects_a_json_answer_as_content(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    job = await _completed(videos_client, fake_upstream)
    fake_upstream.inject("content", Fault.MALFORMED)
    result = await videos_client.download(job.id, max_bytes=10**6)
    assert result.data is not None and is_mp4(result.data)
    assert fake_upstream.count("content") == 2


@pytest.mark.asyncio
async def test_download_times_out_and_retries(
    upstream_http: httpx.AsyncClient, fake_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    client = make_client(upstream_http, fake_upstream.base_url, upstream_sleeps, json_timeout=0.2)
    job = await _completed(client, fake_upstream)
    fake_upstream.inject("content", Fault.HANG, seconds=5)
    assert (await client.download(job.id, max_bytes=10**6)).size == 4096
    assert fake_upstream.count("content") == 2


# --- job outcomes and mapped errors --------------------------------------------------------------


@pytest.mark.asyncio
async def test_job_moderation_failure(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    job = await videos_client.create(prompt="a cat [fault:moderation]", seconds=4, size="720x1280")
    upstream_clock.advance(10)
    failed = await videos_client.retrieve(job.id)
    assert failed.status is TaskStatus.FAILED and failed.raw_status == "failed"
    assert failed.error_code == "moderation_blocked" and failed.error_message


@pytest.mark.asyncio
async def test_manual_failure_is_reported(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    job = await videos_client.create(prompt="a cat", seconds=4, size="720x1280")
    fake_upstream.fail(job.id, code="internal_error", message="GPU fell over " + "x" * 400)
    failed = await videos_client.retrieve(job.id)
    assert failed.status is TaskStatus.FAILED and failed.error_code == "internal_error"
    assert failed.error_message is not None and len(failed.error_message) <= 200


@pytest.mark.asyncio
async def test_submit_time_moderation_is_not_retried(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    with pytest.raises(ModerationBlocked) as caught:
        await videos_client.create(prompt="[fault:moderation_submit]", seconds=4, size="720x1280")
    assert caught.value.code == "moderation_blocked" and not caught.value.transient
    assert fake_upstream.count("create") == 1 and not fake_upstream.jobs


@pytest.mark.asyncio
async def test_expired_job_and_content(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    job = await _completed(videos_client, fake_upstream)
    fake_upstream.inject("retrieve", Fault.EXPIRED, video_id=job.id)

    expired = await videos_client.retrieve(job.id)
    assert expired.status is TaskStatus.FAILED and expired.raw_status == "expired"
    assert expired.error_code == "expired"
    with pytest.raises(ContentExpired):
        await videos_client.download(job.id, max_bytes=10**6)
    assert fake_upstream.count("content") == 1


@pytest.mark.asyncio
async def test_stuck_job_stays_queued(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    job = await videos_client.create(prompt="a cat [fault:stuck]", seconds=4, size="720x1280")
    upstream_clock.advance(10_000)
    still = await videos_client.retrieve(job.id)
    assert still.status is TaskStatus.QUEUED and still.progress == 0


@pytest.mark.parametrize(
    ("params", "error", "attrs"),
    [
        (
            {"status": 400, "message": "Invalid size", "param": "size", "code": "invalid_value"},
            UpstreamRejected,
            {"param": "size", "code": "invalid_value", "status_code": 400},
        ),
        ({"status": 422, "message": "Unprocessable"}, UpstreamRejected, {"status_code": 422}),
        (
            {"status": 400, "message": "Denied", "code": "content_policy_violation"},
            ModerationBlocked,
            {"code": "content_policy_violation"},
        ),
        (
            {"status": 400, "message": "Your prompt may violate our safety system."},
            ModerationBlocked,
            {"status_code": 400},
        ),
        ({"status": 403, "message": "Forbidden"}, UpstreamAuthError, {"status_code": 403}),
        (
            {"status": 404, "shape": "newapi", "code": "fail_to_fetch_task", "message": "x"},
            UpstreamNotFound,
            {"code": "fail_to_fetch_task"},
        ),
        (
            {"status": 400, "shape": "newapi", "code": "task_not_exist", "message": "x"},
            UpstreamNotFound,
            {"code": "task_not_exist"},
        ),
        ({"status": 409, "shape": "text", "message": "conflict"}, UpstreamRejected, {}),
    ],
)
@pytest.mark.asyncio
async def test_client_errors_are_mapped_and_not_retried(
    videos_client: OpenAIVideosClient,
    fake_upstream: FakeUpstream,
    upstream_sleeps: RecordingSleep,
    params: dict,
    error: type[Exception],
    attrs: dict,
) -> None:
    job = await videos_client.create(prompt="a cat", seconds=4, size="720x1280")
    fake_upstream.inject("retrieve", Fault.HTTP_ERROR, **params)

    with pytest.raises(error) as caught:
        await videos_client.retrieve(job.id)
    assert type(caught.value) is error
    for name, value in attrs.items():
        assert getattr(caught.value, name) == value
    assert fake_upstream.count("retrieve") == 1 and upstream_sleeps.delays == []


@pytest.mark.asyncio
async def test_rejection_message_is_short_and_user_safe(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.inject(
        "create", Fault.HTTP_ERROR, status=400, message="Inpaint image must match " + "y" * 500
    )
    with pytest.raises(UpstreamRejected) as caught:
        await videos_client.create(prompt="a cat", seconds=4, size="720x1280")
    message = caught.value.user_message
    assert message.startswith("The video service rejected the request: Inpaint image")
    assert len(message) <= 200


@pytest.mark.parametrize("status", [404, 410])
@pytest.mark.asyncio
async def test_content_gone_is_content_expired(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, status: int
) -> None:
    job = await _completed(videos_client, fake_upstream)
    fake_upstream.inject("content", Fault.HTTP_ERROR, status=status, message="gone")
    with pytest.raises(ContentExpired):
        await videos_client.download(job.id, max_bytes=10**6)


# --- create and remix are never sent twice -------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "params", "job_created"),
    [
        (Fault.HTTP_500, {}, False),
        (Fault.HTTP_502, {}, False),
        (Fault.HTTP_503, {}, False),
        (Fault.HTTP_503, {"empty": True}, False),
        (Fault.HANG, {"seconds": 5}, True),
        (Fault.MALFORMED, {}, True),
        (Fault.DROP, {}, True),
        (Fault.RESPOND, {"json": {"status": "queued"}}, False),
    ],
)
@pytest.mark.asyncio
async def test_uncertain_create_is_never_resent(
    upstream_http: httpx.AsyncClient,
    fake_upstream: FakeUpstream,
    upstream_sleeps: RecordingSleep,
    fault: Fault,
    params: dict,
    job_created: bool,
) -> None:
    client = make_client(upstream_http, fake_upstream.base_url, upstream_sleeps, json_timeout=0.2)
    fake_upstream.inject("create", fault, times=5, **params)

    with pytest.raises(SubmissionUncertain):
        await client.create(prompt="a cat", seconds=4, size="720x1280")

    assert fake_upstream.count("create") == 1
    assert upstream_sleeps.delays == []
    # The emulator shows why: some of these failures happen after the job was created.
    assert len(fake_upstream.jobs) == (1 if job_created else 0)


@pytest.mark.parametrize(("fault", "params"), [(Fault.HTTP_500, {}), (Fault.HANG, {"seconds": 5})])
@pytest.mark.asyncio
async def test_uncertain_remix_is_never_resent(
    upstream_http: httpx.AsyncClient,
    fake_upstream: FakeUpstream,
    upstream_sleeps: RecordingSleep,
    fault: Fault,
    params: dict,
) -> None:
    client = make_client(upstream_http, fake_upstream.base_url, upstream_sleeps, json_timeout=0.2)
    parent = await _completed(client, fake_upstream)
    fake_upstream.inject("remix", fault, times=5, **params)

    with pytest.raises(SubmissionUncertain):
        await client.remix(parent.id, prompt="again")
    assert fake_upstream.count("remix") == 1 and upstream_sleeps.delays == []


@pytest.mark.asyncio
async def test_create_is_resent_after_429(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, upstream_sleeps: RecordingSleep
) -> None:
    fake_upstream.inject("create", Fault.RATE_LIMIT, times=2, retry_after=3)
    job = await videos_client.create(prompt="a cat", seconds=4, size="720x1280")
    assert fake_upstream.count("create") == 3 and list(fake_upstream.jobs) == [job.id]
    assert upstream_sleeps.delays == [3.0, 3.0]


@pytest.mark.asyncio
async def test_remix_is_resent_after_429(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    parent = await _completed(videos_client, fake_upstream)
    fake_upstream.inject("remix", Fault.RATE_LIMIT, retry_after=1)
    child = await videos_client.remix(parent.id, prompt="again")
    assert fake_upstream.count("remix") == 2 and set(fake_upstream.jobs) == {parent.id, child.id}


@pytest.mark.asyncio
async def test_create_rate_limited_to_the_end(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    with pytest.raises(RateLimited):
        await videos_client.create(prompt="a cat [fault:rate_limit=1]", seconds=4, size="720x1280")
    assert fake_upstream.count("create") == 4 and not fake_upstream.jobs


@pytest.mark.asyncio
async def test_create_is_resent_when_the_connection_was_refused(
    upstream_http: httpx.AsyncClient, upstream_sleeps: RecordingSleep
) -> None:
    port = free_port()
    up = FakeUpstream(api_key=API_KEY, port=port)
    upstream_sleeps.before_next = up.start  # the server comes up between the two attempts
    client = make_client(upstream_http, f"http://127.0.0.1:{port}/v1", upstream_sleeps)
    try:
        job = await client.create(prompt="a cat", seconds=4, size="720x1280")
    finally:
        await up.stop()
    assert len(upstream_sleeps.delays) == 1
    assert up.count("create") == 1 and list(up.jobs) == [job.id]


@pytest.mark.asyncio
async def test_create_without_any_server_is_unavailable_not_uncertain(
    upstream_http: httpx.AsyncClient, upstream_sleeps: RecordingSleep
) -> None:
    client = make_client(upstream_http, f"http://127.0.0.1:{free_port()}/v1", upstream_sleeps)
    with pytest.raises(UpstreamUnavailable) as caught:
        await client.create(prompt="a cat", seconds=4, size="720x1280")
    assert not isinstance(caught.value, SubmissionUncertain)
    assert len(upstream_sleeps.delays) == 3


# --- relay dialects ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_newapi_dialect(
    upstream_http: httpx.AsyncClient, upstream_sleeps: RecordingSleep, upstream_clock: FakeClock
) -> None:
    async with FakeUpstream(
        api_key=API_KEY, relay="newapi", job_seconds=10, clock=upstream_clock
    ) as up:
        client = make_client(upstream_http, up.base_url, upstream_sleeps)
        job = await client.create(prompt="a cat", seconds=4, size="720x1280")
        upstream_clock.advance(4.5)
        running = await client.retrieve(job.id)
        with pytest.raises(UpstreamRejected):  # content before completion: no param/code keys
            await client.download(job.id, max_bytes=10**6)
        upstream_clock.advance(10)
        done = await client.retrieve(job.id)
        video = await client.download(job.id, max_bytes=10**6)
        with pytest.raises(UpstreamNotFound) as missing:
            await client.retrieve("task_doesnotexist")
        up.inject("retrieve", Fault.RATE_LIMIT, times=100, retry_after=1)
        with pytest.raises(RateLimited):
            await client.retrieve(job.id)

    assert job.id.startswith("task_") and job.raw_status == "SUBMITTED"
    assert job.status is TaskStatus.QUEUED
    assert running.status is TaskStatus.IN_PROGRESS and running.progress == 45
    assert running.raw_status == "IN_PROGRESS"
    assert done.status is TaskStatus.COMPLETED and done.raw_status == "SUCCESS"
    assert done.progress == 100 and video.data is not None and is_mp4(video.data)
    assert missing.value.code == "task_not_exist" and missing.value.status_code == 400


@pytest.mark.asyncio
async def test_newapi_failed_job(
    upstream_http: httpx.AsyncClient, upstream_sleeps: RecordingSleep
) -> None:
    async with FakeUpstream(api_key=API_KEY, relay="newapi", job_seconds=0) as up:
        client = make_client(upstream_http, up.base_url, upstream_sleeps)
        job = await client.create(prompt="[fault:moderation]", seconds=4, size="720x1280")
        failed = await client.retrieve(job.id)
    assert failed.status is TaskStatus.FAILED and failed.raw_status == "FAILURE"
    assert failed.error_code == "moderation_blocked"


@pytest.mark.asyncio
async def test_newapi_generic_wrapped_answers(
    upstream_http: httpx.AsyncClient, upstream_sleeps: RecordingSleep
) -> None:
    async with FakeUpstream(api_key=API_KEY, relay="newapi", wrap_data=True, job_seconds=0) as up:
        client = make_client(upstream_http, up.base_url, upstream_sleeps)
        job = await client.create(prompt="a cat", seconds=4, size="720x1280")
        done = await client.retrieve(job.id)
        body = up.requests[-1]
    assert done.id == job.id and done.status is TaskStatus.COMPLETED
    assert body.op == "retrieve"


@pytest.mark.asyncio
async def test_newapi_error_object_inside_a_200(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    body = {"code": "task_not_exist", "message": "task_not_exist", "data": None}
    fake_upstream.inject("retrieve", Fault.RESPOND, json=body)
    with pytest.raises(UpstreamNotFound):
        await videos_client.retrieve("task_x")
    assert fake_upstream.count("retrieve") == 1


@pytest.mark.asyncio
async def test_litellm_dialect_long_base64_ids(
    upstream_http: httpx.AsyncClient, upstream_sleeps: RecordingSleep
) -> None:
    async with FakeUpstream(api_key=API_KEY, relay="litellm", job_seconds=0) as up:
        client = make_client(upstream_http, up.base_url, upstream_sleeps)
        job = await client.create(prompt="a cat", seconds=8, size="720x1280")
        done = await client.retrieve(job.id)
        child = await client.remix(job.id, prompt="again")
        video = await client.download(job.id, max_bytes=10**6)
        content = [r for r in up.requests if r.op == "content"]

    assert job.id.startswith("video_") and len(job.id) > 100 and job.id.endswith("=")
    assert done.status is TaskStatus.COMPLETED and child.remixed_from == job.id
    assert video.data is not None and is_mp4(video.data)
    assert content[0].video_id == job.id and "%3D" in content[0].path and "=" not in content[0].path


@pytest.mark.asyncio
async def test_video_url_is_a_public_result_link(
    upstream_http: httpx.AsyncClient, upstream_sleeps: RecordingSleep
) -> None:
    async with FakeUpstream(api_key=API_KEY, video_url=True, job_seconds=0) as up:
        client = make_client(upstream_http, up.base_url, upstream_sleeps)
        job = await client.create(prompt="a cat", seconds=4, size="720x1280")
        done = await client.retrieve(job.id)
        assert done.result_url is not None
        public = await upstream_http.get(done.result_url)  # no Authorization header

    assert job.result_url is None
    assert public.status_code == 200 and is_mp4(public.content)


@pytest.mark.asyncio
async def test_poll_after_header(
    upstream_http: httpx.AsyncClient, upstream_sleeps: RecordingSleep
) -> None:
    async with FakeUpstream(api_key=API_KEY, poll_after_ms=1500) as up:
        client = make_client(upstream_http, up.base_url, upstream_sleeps)
        job = await client.create(prompt="a cat", seconds=4, size="720x1280")
        assert (await client.retrieve(job.id)).poll_after == 1.5


@pytest.mark.asyncio
async def test_lenient_parsing_of_odd_answers(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    odd = {
        "task_id": "abc",
        "status": "Rendering",
        "progress": 0.42,
        "url": "https://cdn.example/v.mp4",
        "expires_at": "1900000000",
        "seconds": 8,
        "extra": {"nested": True},
    }
    fake_upstream.inject("retrieve", Fault.RESPOND, json=odd)
    fake_upstream.inject("create", Fault.RESPOND, json={"task_id": "task_1"})

    with caplog.at_level(logging.WARNING, logger="bot.upstream.parsing"):
        job = await videos_client.retrieve("abc")
    created = await videos_client.create(prompt="a cat", seconds=4, size="720x1280")

    assert (job.id, job.status, job.progress, job.seconds) == (
        "abc",
        TaskStatus.IN_PROGRESS,
        42,
        "8",
    )
    assert job.result_url == "https://cdn.example/v.mp4"
    assert job.expires_at == datetime.fromtimestamp(1_900_000_000, tz=UTC)
    assert "Rendering" in caplog.text
    assert created.id == "task_1" and created.status is TaskStatus.QUEUED


# --- secrets -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_api_key_never_leaks(
    upstream_http: httpx.AsyncClient,
    fake_upstream: FakeUpstream,
    upstream_sleeps: RecordingSleep,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(upstream_http, fake_upstream.base_url, upstream_sleeps, json_timeout=0.2)
    # the wrong key is echoed back by the emulator's 401, like some relays do
    wrong_key = API_KEY + "-WRONG"
    wrong = make_client(upstream_http, fake_upstream.base_url, upstream_sleeps, api_key=wrong_key)
    caught: list[BaseException] = []
    caplog.set_level(logging.DEBUG)

    async def expect_failure(coro) -> None:  # type: ignore[no-untyped-def]
        try:
            await coro
        except Exception as exc:
            caught.append(exc)
        else:
            raise AssertionError("expected a failure")

    job = await client.create(prompt="a cat", seconds=4, size="720x1280")
    await expect_failure(wrong.retrieve(job.id))
    await expect_failure(wrong.create(prompt="a cat", seconds=4, size="720x1280"))
    fake_upstream.inject(
        "retrieve", Fault.HTTP_ERROR, status=400, message=f"bad key {API_KEY} Bearer {API_KEY}"
    )
    await expect_failure(client.retrieve(job.id))
    fake_upstream.inject("retrieve", Fault.HTTP_500, times=4)
    await expect_failure(client.retrieve(job.id))
    fake_upstream.inject("create", Fault.HANG, seconds=5)
    await expect_failure(client.create(prompt="a cat", seconds=4, size="720x1280"))
    await expect_failure(client.download(job.id, max_bytes=10))
    fake_upstream.fail(job.id, message=f"leaked {API_KEY}")
    failed = await client.retrieve(job.id)

    texts = [text for exc in caught for text in exception_texts(exc)]
    texts += [repr(client), str(client), repr(wrong), caplog.text, repr(failed)]
    assert len(caught) == 6 and caplog.records
    for text in texts:
        assert API_KEY not in text
    assert fake_upstream.requests[1].headers["authorization"] == f"Bearer {wrong_key}"


@pytest.mark.asyncio
async def test_redirect_to_another_origin_drops_the_key(
    upstream_http: httpx.AsyncClient, upstream_sleeps: RecordingSleep
) -> None:
    async with (
        FakeUpstream(api_key="cdn-has-no-key") as cdn,
        FakeUpstream(
            api_key=API_KEY, job_seconds=0, video_bytes=10_000, redirect_content_to=cdn.origin
        ) as api,
    ):
        client = make_client(upstream_http, api.base_url, upstream_sleeps)
        job = await _completed(client, api)
        video = await client.download(job.id, max_bytes=10**6)

    assert video.size == 10_000 and video.data is not None and is_mp4(video.data)
    [api_side] = [r for r in api.requests if r.op == "content"]
    [cdn_side] = cdn.requests
    assert api_side.status == 302 and api_side.headers["authorization"] == f"Bearer {API_KEY}"
    assert cdn.port != api.port and cdn_side.path.startswith("/files/")
    assert "authorization" not in cdn_side.headers


# --- byte cap --------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.asyncio
async def test_byte_cap_stops_the_download(
    upstream_http: httpx.AsyncClient,
    upstream_sleeps: RecordingSleep,
    tmp_path: Path,
    chunked: bool,
) -> None:
    total = 64 * 1024 * 1024
    async with FakeUpstream(
        api_key=API_KEY, job_seconds=0, video_bytes=total, chunked_content=chunked
    ) as up:
        client = make_client(upstream_http, up.base_url, upstream_sleeps)
        job = await _completed(client, up)
        with pytest.raises(ContentTooLarge) as caught:
            await client.download(job.id, max_bytes=1_000_000, dest=tmp_path / "big.mp4")
        [request] = [r for r in up.requests if r.op == "content"]
        await wait_until(lambda: request.finished)

    assert caught.value.limit == 1_000_000
    assert request.aborted and request.bytes_sent < total // 2
    assert _listing(tmp_path) == []
    assert upstream_sleeps.delays == []


@pytest.mark.asyncio
async def test_byte_cap_is_inclusive(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    job = await _completed(videos_client, fake_upstream, "a cat [bytes:5000]")
    assert (await videos_client.download(job.id, max_bytes=5000)).size == 5000
    with pytest.raises(ContentTooLarge):
        await videos_client.download(job.id, max_bytes=4999)
