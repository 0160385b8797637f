"""The chat dialect: ChatCompletionsClient against the sora2api-shaped emulator, over HTTP.

Contract tests pin what the adapter sends (as the emulator recorded it) and what the
emulator answers to the shapes in TheSmallHanCat/sora2api and docs.laozhang.ai (see
``docs/dialects/chat.md``); the rest drive the adapter through the emulator: progress,
completion and download, failures inside a 200 stream, moderation, a restart
(``stream_lost``), the money rule and the probe.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.core.dialects import Dialect
from bot.core.errors import (
    ContentExpired,
    InvalidInput,
    SubmissionUncertain,
    UnsupportedByUpstream,
    UpstreamAuthError,
)
from bot.core.models import TaskStatus
from bot.emulators import upstream_chat
from bot.emulators.fake_upstream import FakeUpstream, Fault
from bot.emulators.mp4 import is_mp4
from bot.upstream.chat_completions import (
    JOB_ID_PREFIX,
    ChatCompletionsClient,
    chat_body,
)
from bot.upstream.chat_models import DOCUMENTED_MODEL_IDS, ChatCatalog, parse_model_id
from bot.upstream.chat_stream import ChatStreamState
from bot.upstream.models_list import list_models
from bot.upstream.transport import RetrySettings, Transport
from bot.upstream.values import ReferenceImage, UpstreamJob
from tests.upstream_fixtures import API_KEY, FakeClock, RecordingSleep, exception_texts

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LAOZHANG_IDS = (
    "sora_video2",
    "sora_video2-landscape",
    "sora_video2-15s",
    "sora_video2-landscape-15s",
)


# --- fixtures and helpers ------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest_asyncio.fixture
async def chat_up(clock: FakeClock) -> AsyncIterator[FakeUpstream]:
    """A chat-dialect emulator whose jobs take 10 s on ``clock``."""
    async with FakeUpstream(
        api_key=API_KEY, job_seconds=10.0, clock=clock, dialects=("chat",)
    ) as up:
        yield up


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def make_chat(http: httpx.AsyncClient, up: FakeUpstream, **overrides: Any) -> ChatCompletionsClient:
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "json_timeout": 2.0,
        "download_timeout": 10.0,
        "max_retries": 3,
        "sleep": RecordingSleep(),
        "listed_models": up.listed_models(),
    }
    options.update(overrides)
    return ChatCompletionsClient(http, base_url=up.base_url, **options)


@pytest_asyncio.fixture
async def chat(
    http: httpx.AsyncClient, chat_up: FakeUpstream
) -> AsyncIterator[ChatCompletionsClient]:
    client = make_chat(http, chat_up)
    yield client
    await client.aclose()


async def until(
    client: ChatCompletionsClient,
    job_id: str,
    *statuses: TaskStatus,
    least: int = 0,
    within: float = 5.0,
) -> UpstreamJob:
    """Retrieve ``job_id`` until its status is one of ``statuses`` (with ``least`` progress)."""
    deadline = time.monotonic() + within
    while True:
        job = await client.retrieve(job_id)
        if job.status in statuses and job.progress >= least:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job still {job.status} ({job})")
        await asyncio.sleep(0.02)


async def finished(client: ChatCompletionsClient, job_id: str, clock: FakeClock) -> UpstreamJob:
    """Let the emulated job run to its end and read the outcome."""
    clock.advance(11)
    return await until(client, job_id, TaskStatus.COMPLETED, TaskStatus.FAILED)


def sent_body(up: FakeUpstream) -> dict[str, Any]:
    [request] = [r for r in up.requests if r.op == "create"]
    body = json.loads(request.body)
    assert isinstance(body, dict)
    return body


async def raw_stream(up: FakeUpstream, body: dict[str, Any]) -> tuple[int, str, list[str]]:
    """Status, content type and ``data:`` payloads of one raw POST to the emulator."""
    async with httpx.AsyncClient() as client:
        async with client.stream(
            "POST",
            up.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=5.0,
        ) as response:
            lines = [line async for line in response.aiter_lines()]
            kind = response.headers.get("content-type", "")
            return response.status_code, kind, [ln[6:] for ln in lines if ln.startswith("data: ")]


# --- contract: what the adapter sends ------------------------------------------------------


@pytest.mark.asyncio
async def test_create_sends_one_streaming_chat_completion(
    chat: ChatCompletionsClient, chat_up: FakeUpstream
) -> None:
    job = await chat.create(prompt="a cat on a piano", seconds=10, size="1280x720")

    assert job.id.startswith(JOB_ID_PREFIX) and job.status is TaskStatus.QUEUED
    [request] = [r for r in chat_up.requests if r.op == "create"]
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.content_type.startswith("application/json")
    assert json.loads(request.body) == {
        "model": "sora2-landscape-10s",
        "stream": True,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "a cat on a piano"}]}],
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("model", "seconds", "size", "model_id"),
    [
        ("sora-2", 10, "720x1280", "sora2-portrait-10s"),
        ("sora-2", 15, "1280x720", "sora2-landscape-15s"),
        ("sora-2", 25, "720x1280", "sora2-portrait-25s"),
        ("sora-2-pro", 15, "1280x720", "sora2pro-landscape-15s"),
        ("sora-2-pro", 10, "1792x1024", "sora2pro-hd-landscape-10s"),
        ("sora-2-pro", 15, "1024x1792", "sora2pro-hd-portrait-15s"),
        # Lengths that do not exist are rounded up (else the longest is taken).
        ("sora-2", 4, "1280x720", "sora2-landscape-10s"),
        ("sora-2", 8, "720x1280", "sora2-portrait-10s"),
        ("sora-2", 12, "1280x720", "sora2-landscape-15s"),
        ("sora-2-pro", 25, "1792x1024", "sora2pro-hd-landscape-15s"),
        # The relay's own words are accepted as models.
        ("sora2pro", 10, "1280x720", "sora2pro-landscape-10s"),
        ("sora2-portrait-15s", 10, "1280x720", "sora2-landscape-10s"),
    ],
)
async def test_options_are_encoded_in_the_model_id(
    chat: ChatCompletionsClient,
    chat_up: FakeUpstream,
    model: str,
    seconds: int,
    size: str,
    model_id: str,
) -> None:
    job = await chat.create(prompt="waves", model=model, seconds=seconds, size=size)

    assert sent_body(chat_up)["model"] == model_id
    variant = parse_model_id(model_id)
    assert variant is not None
    assert (job.model, job.seconds, job.size) == (variant.family, str(variant.seconds), size)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"model": "sora-2", "size": "1792x1024"}, "size"),  # HD is sora-2-pro only
        ({"model": "sora-2", "size": "1920x1080"}, "size"),
        ({"model": "veo-3"}, "model"),
        ({"prompt": "  "}, "prompt"),
        ({"seconds": 0}, "seconds"),
    ],
)
async def test_choices_no_model_offers_are_refused_before_sending(
    chat: ChatCompletionsClient, chat_up: FakeUpstream, options: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {"prompt": "a cat", "seconds": 10, "size": "1280x720"}
    arguments.update(options)

    with pytest.raises(InvalidInput) as caught:
        await chat.create(**arguments)

    assert caught.value.field == field
    assert chat_up.count("create") == 0


@pytest.mark.asyncio
async def test_image_input_is_a_base64_image_url_part(
    chat: ChatCompletionsClient, chat_up: FakeUpstream, clock: FakeClock
) -> None:
    reference = ReferenceImage(filename="frame.png", content_type="image/png", data=PNG)

    job = await chat.create(prompt="animate it", seconds=10, size="720x1280", reference=reference)

    text, image = sent_body(chat_up)["messages"][0]["content"]
    assert text == {"type": "text", "text": "animate it"}
    encoded = base64.b64encode(PNG).decode()
    assert image == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}}
    [fake_job] = chat_up.jobs.values()
    assert fake_job.reference is not None and fake_job.reference.data == PNG
    assert (await finished(chat, job.id, clock)).status is TaskStatus.COMPLETED


def test_chat_body_without_an_image_is_text_only() -> None:
    body = chat_body("hello", "sora_video2", None)

    assert body["messages"][0]["content"] == [{"type": "text", "text": "hello"}]
    assert body["stream"] is True


# --- contract: what the emulator answers ------------------------------------------------


@pytest.mark.asyncio
async def test_emulator_streams_sora2api_chunks_and_the_video_tag(chat_up: FakeUpstream) -> None:
    body = {
        "model": "sora2-portrait-10s",
        "stream": True,
        "messages": [{"role": "user", "content": "x [duration:0]"}],  # done at its first look
    }

    status, kind, events = await raw_stream(chat_up, body)

    assert status == 200 and kind.startswith("text/event-stream")
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "Generation Process Begins" in chunks[0]["choices"][0]["delta"]["reasoning_content"]
    final = chunks[-1]["choices"][0]
    assert final["finish_reason"] == "STOP"
    assert final["delta"]["content"].startswith("```html\n<video src='http://")
    assert final["delta"]["content"].endswith("' controls></video>\n```")


@pytest.mark.asyncio
async def test_emulator_without_stream_only_checks_availability(chat_up: FakeUpstream) -> None:
    body = {"model": "sora2-landscape-10s", "messages": [{"role": "user", "content": "a cat"}]}

    status, kind, _events = await raw_stream(chat_up, body)
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            chat_up.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {API_KEY}"},
        )

    assert status == 200 and kind.startswith("application/json")
    assert answer.json()["object"] == "chat.completion"
    assert "Please enable streaming" in answer.json()["choices"][0]["message"]["content"]
    assert chat_up.jobs == {}


@pytest.mark.asyncio
async def test_emulator_answers_a_bad_model_like_sora2api(chat_up: FakeUpstream) -> None:
    body = {"model": "sora-2", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            chat_up.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {API_KEY}"},
        )

    assert answer.status_code == 500
    assert answer.json()["error"] == {
        "message": "400: Invalid model: sora-2",
        "type": "server_error",
        "param": None,
        "code": None,
    }


@pytest.mark.asyncio
async def test_emulator_lists_the_models_sora2api_lists(
    http: httpx.AsyncClient, chat_up: FakeUpstream
) -> None:
    transport = Transport(
        http, base_url=chat_up.base_url, api_key=API_KEY, settings=RetrySettings()
    )

    listed = await list_models(transport)

    assert set(upstream_chat.MODELS) <= set(listed)
    assert set(DOCUMENTED_MODEL_IDS) == set(upstream_chat.VIDEO_MODELS)
    assert "gpt-image" in listed and "prompt-enhance-short-10s" in listed


# --- the stream reader against the relays' own words ------------------------------------------


def _state(*lines: str) -> ChatStreamState:
    state = ChatStreamState(secret=API_KEY)
    for line in lines:
        state.feed(line)
    return state


def test_an_error_chunk_fails_the_job_with_the_embedded_code() -> None:
    # sora2api issue #59, as posted (shortened message).
    error = {
        "error": {
            "message": 'API request failed: 400 - {"error": {"message": "Hmmm something '
            'didn\'t look right with your request.", "type": "invalid_request_error", '
            '"param": null, "code": "sentinel_block"}}',
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    first = {
        "object": "chat.completion.chunk",
        "choices": [
            {
                "delta": {
                    "role": "assistant",
                    "content": None,
                    "reasoning_content": "**Generation Process Begins**\n",
                },
                "finish_reason": None,
            }
        ],
    }
    state = _state(f"data: {json.dumps(first)}", f"data: {json.dumps(error)}", "data: [DONE]")

    outcome = state.snapshot(ended=True)

    assert outcome.status is TaskStatus.FAILED
    assert outcome.error_code == "sentinel_block"
    assert outcome.error_message is not None and "didn't look right" in outcome.error_message


def test_a_content_violation_text_is_moderation() -> None:
    violation = {"choices": [{"delta": {"reasoning_content": "**Content Policy Violation**\n\nx"}}]}
    final = {"choices": [{"delta": {"content": "❌ 生成失败: x"}, "finish_reason": "STOP"}]}
    state = _state(f"data: {json.dumps(violation)}", f"data: {json.dumps(final)}", "data: [DONE]")

    outcome = state.snapshot(ended=True)

    assert (outcome.status, outcome.error_code) == (TaskStatus.FAILED, "moderation_blocked")


def test_a_failure_text_without_a_link_fails_with_the_relays_words() -> None:
    final = {
        "choices": [
            {
                "delta": {
                    "content": "❌ Generation failed: Cloudflare challenge or "
                    "rate limit (429) triggered."
                },
                "finish_reason": "STOP",
            }
        ]
    }
    # sora2api's Cloudflare branch writes its [DONE] with escaped newlines: it still counts.
    state = _state(f"data: {json.dumps(final)}", "data: [DONE]\\n\\n")

    outcome = state.snapshot(ended=False)

    assert (outcome.status, outcome.error_code) == (TaskStatus.FAILED, "generation_failed")
    assert outcome.error_message is not None and "Cloudflare" in outcome.error_message


@pytest.mark.parametrize(
    "content",
    [
        "```html\n<video src='https://relay.example/tmp/a1.mp4' controls></video>\n```",
        '<video controls src="https://relay.example/tmp/a1.mp4"></video>',
        "> ✅ Video generated successfully, [click here](https://relay.example/tmp/a1.mp4) ~",
        "[下载视频](https://relay.example/tmp/a1.mp4)\n\n",
        "Video: https://relay.example/tmp/a1.mp4 (valid for 1 day)",
    ],
)
def test_the_video_link_is_read_from_each_relays_final_message(content: str) -> None:
    final = {"choices": [{"delta": {"content": content}, "finish_reason": "stop"}]}
    state = _state(f"data: {json.dumps(final)}", "data: [DONE]")

    outcome = state.snapshot(ended=True)

    assert outcome.status is TaskStatus.COMPLETED
    assert outcome.result_url == "https://relay.example/tmp/a1.mp4"


def test_progress_comes_from_reasoning_or_content_text_and_never_falls() -> None:
    lines = [
        {"reasoning_content": "**Video Generation Progress**: 45% (processing)\n"},
        {"content": "> 🏃 进度 76.."},
        {"reasoning_content": "**Processing**\n\nGeneration in progress: 40% completed..."},
    ]
    state = ChatStreamState()
    seen = []
    for delta in lines:
        state.feed(f"data: {json.dumps({'choices': [{'delta': delta}]})}")
        seen.append(state.snapshot(ended=False))

    assert [o.progress for o in seen] == [45, 76, 76]
    assert all(o.status is TaskStatus.IN_PROGRESS for o in seen)


def test_a_stream_cut_before_its_link_is_broken_and_says_it_was_not_resent() -> None:
    state = _state('data: {"choices": [{"delta": {"reasoning_content": "50%"}}]}')

    outcome = state.snapshot(ended=True)

    assert (outcome.status, outcome.error_code) == (TaskStatus.FAILED, "stream_broken")
    assert outcome.error_message is not None and "not re-sent" in outcome.error_message


def test_a_non_stream_answer_is_read_as_the_final_message() -> None:
    # What sora2api answers when ``stream`` is missing: no video, a hint.
    state = ChatStreamState()
    state.feed_chunk(
        {
            "object": "chat.completion",
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": "All tokens available ... Please enable streaming.",
                    },
                    "finish_reason": "stop",
                }
            ],
        }
    )
    state.done = True

    outcome = state.snapshot(ended=True)

    assert outcome.error_code == "generation_failed"
    assert outcome.error_message is not None and "enable streaming" in outcome.error_message


# --- the adapter through the emulator ------------------------------------------------------


@pytest.mark.asyncio
async def test_create_progress_complete_download(
    chat: ChatCompletionsClient, chat_up: FakeUpstream, clock: FakeClock
) -> None:
    job = await chat.create(prompt="a lighthouse", model="sora-2", seconds=15, size="720x1280")

    clock.advance(5)
    running = await until(chat, job.id, TaskStatus.IN_PROGRESS, least=1)
    assert running.progress < 100
    done = await finished(chat, job.id, clock)
    assert done.status is TaskStatus.COMPLETED and done.progress == 100
    assert done.result_url is not None and done.result_url.startswith(chat_up.origin + "/files/")

    download = await chat.download(done.id, max_bytes=10**6, result_url=done.result_url)

    assert download.data is not None and is_mp4(download.data)
    assert chat_up.count("create") == 1
    assert chat.open_streams == 0


@pytest.mark.asyncio
async def test_download_without_a_link_uses_the_jobs_own(
    chat: ChatCompletionsClient, chat_up: FakeUpstream, clock: FakeClock
) -> None:
    job = await chat.create(prompt="a lighthouse", seconds=10, size="1280x720")
    await finished(chat, job.id, clock)

    download = await chat.download(job.id, max_bytes=10**6)

    assert download.data is not None and is_mp4(download.data)
    with pytest.raises(ContentExpired):
        await chat.download("chat-never-made", max_bytes=10**6)


@pytest.mark.asyncio
async def test_moderation_inside_the_stream_reaches_the_job(
    chat: ChatCompletionsClient, clock: FakeClock
) -> None:
    job = await chat.create(prompt="something [fault:moderation]", seconds=10, size="1280x720")

    done = await finished(chat, job.id, clock)

    assert (done.status, done.error_code) == (TaskStatus.FAILED, "moderation_blocked")
    assert done.result_url is None


@pytest.mark.asyncio
async def test_an_error_chunk_in_the_200_stream_fails_the_job(
    chat: ChatCompletionsClient, chat_up: FakeUpstream, clock: FakeClock
) -> None:
    job = await chat.create(prompt="a boat", seconds=10, size="1280x720")
    await until(chat, job.id, TaskStatus.QUEUED)
    [fake_id] = chat_up.jobs

    chat_up.fail(fake_id, message="Upstream API timeout: Generation exceeded 1500 seconds limit")
    done = await until(chat, job.id, TaskStatus.FAILED)

    assert done.error_code == "relay_error"
    assert done.error_message is not None and "1500 seconds" in done.error_message
    assert chat_up.count("create") == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["prompt", "inject"])
async def test_a_broken_stream_fails_and_is_not_resent(
    chat: ChatCompletionsClient, chat_up: FakeUpstream, clock: FakeClock, how: str
) -> None:
    prompt = "a bridge [fault:drop]" if how == "prompt" else "a bridge"
    if how == "inject":
        chat_up.inject("create", Fault.DROP)

    job = await chat.create(prompt=prompt, seconds=10, size="1280x720")
    done = await until(chat, job.id, TaskStatus.FAILED)

    assert done.error_code == "stream_broken"
    assert done.error_message is not None and "not re-sent" in done.error_message
    assert chat_up.count("create") == 1


@pytest.mark.asyncio
async def test_a_line_that_is_not_json_breaks_the_stream(
    chat: ChatCompletionsClient, chat_up: FakeUpstream
) -> None:
    chat_up.inject("create", Fault.MALFORMED)

    job = await chat.create(prompt="a bridge", seconds=10, size="1280x720")
    done = await until(chat, job.id, TaskStatus.FAILED)

    assert done.error_code == "stream_broken"
    assert done.error_message is not None and "not JSON" in done.error_message


@pytest.mark.asyncio
async def test_a_silent_stream_ends_after_the_idle_timeout(
    http: httpx.AsyncClient, chat_up: FakeUpstream
) -> None:
    client = make_chat(http, chat_up, stream_idle_timeout=0.3)
    job = await client.create(prompt="wait [fault:stuck]", seconds=10, size="1280x720")

    done = await until(client, job.id, TaskStatus.FAILED)

    assert done.error_code == "stream_broken"
    assert done.error_message is not None and "nothing arrived for 0.3s" in done.error_message
    assert chat_up.count("create") == 1


@pytest.mark.asyncio
async def test_the_relay_going_away_mid_stream_fails_the_job(
    http: httpx.AsyncClient, clock: FakeClock
) -> None:
    up = FakeUpstream(api_key=API_KEY, job_seconds=10.0, clock=clock, dialects=("chat",))
    await up.start()
    client = make_chat(http, up)
    try:
        job = await client.create(prompt="a bridge", seconds=10, size="1280x720")
        await up.stop()
        done = await until(client, job.id, TaskStatus.FAILED)
    finally:
        await up.stop()
        await client.aclose()

    assert done.error_code == "stream_broken"


@pytest.mark.asyncio
async def test_a_restart_reads_the_cut_stream_as_lost_and_never_resends(
    http: httpx.AsyncClient, chat_up: FakeUpstream, clock: FakeClock
) -> None:
    before = make_chat(http, chat_up)
    job = await before.create(prompt="a long take", seconds=10, size="1280x720")
    clock.advance(5)
    await until(before, job.id, TaskStatus.IN_PROGRESS)

    await before.aclose()  # the process stops: its streams end with it
    after = make_chat(http, chat_up)  # the restarted process
    seen_by_before = await before.retrieve(job.id)
    seen_by_after = await after.retrieve(job.id)

    for lost in (seen_by_before, seen_by_after):
        assert (lost.status, lost.error_code) == (TaskStatus.FAILED, "stream_lost")
        assert lost.error_message is not None
        assert "restarted" in lost.error_message and "not re-sent" in lost.error_message
    assert before.open_streams == 0
    assert chat_up.count("create") == 1
    await after.aclose()


# --- the money rule ----------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("fault", [Fault.HTTP_500, Fault.HTTP_502, Fault.HTTP_503])
async def test_a_5xx_on_create_is_never_resent(
    chat: ChatCompletionsClient, chat_up: FakeUpstream, fault: Fault
) -> None:
    chat_up.inject("create", fault)

    with pytest.raises(SubmissionUncertain):
        await chat.create(prompt="a cat", seconds=10, size="1280x720")

    assert chat_up.count("create") == 1


@pytest.mark.asyncio
async def test_a_create_whose_answer_does_not_come_is_never_resent(
    http: httpx.AsyncClient, chat_up: FakeUpstream
) -> None:
    client = make_chat(http, chat_up, json_timeout=0.3)
    chat_up.inject("create", Fault.HANG, seconds=5)

    with pytest.raises(SubmissionUncertain):
        await client.create(prompt="a cat", seconds=10, size="1280x720")

    assert chat_up.count("create") == 1
    await client.aclose()


@pytest.mark.asyncio
async def test_a_429_on_create_is_resent_after_waiting(
    http: httpx.AsyncClient, chat_up: FakeUpstream
) -> None:
    sleeps = RecordingSleep()
    client = make_chat(http, chat_up, sleep=sleeps)
    chat_up.inject("create", Fault.RATE_LIMIT, retry_after=2)

    job = await client.create(prompt="a cat", seconds=10, size="1280x720")

    assert job.status is TaskStatus.QUEUED
    assert chat_up.count("create") == 2 and sleeps.delays == [2.0]
    await client.aclose()


@pytest.mark.asyncio
async def test_a_refused_key_is_an_auth_error_without_the_key_in_it(
    http: httpx.AsyncClient, chat_up: FakeUpstream
) -> None:
    client = make_chat(http, chat_up, api_key="sk-wrong-key-LEAKCHECK")

    with pytest.raises(UpstreamAuthError) as caught:
        await client.create(prompt="a cat", seconds=10, size="1280x720")
    with pytest.raises(UpstreamAuthError):
        await client.check_credentials()

    assert not any("sk-wrong-key-LEAKCHECK" in text for text in exception_texts(caught.value))
    assert "sk-wrong-key-LEAKCHECK" not in repr(client)
    await client.aclose()


@pytest.mark.asyncio
async def test_check_credentials_creates_nothing(
    chat: ChatCompletionsClient, chat_up: FakeUpstream
) -> None:
    await chat.check_credentials()

    assert [(r.method, r.path) for r in chat_up.requests] == [("GET", "/v1/models")]


# --- what this dialect cannot do ------------------------------------------------------------


@pytest.mark.asyncio
async def test_remix_extend_list_and_thumbnails_send_nothing(
    chat: ChatCompletionsClient, chat_up: FakeUpstream
) -> None:
    calls = [
        chat.remix("chat-x", prompt="again"),
        chat.extend("chat-x", prompt="more", seconds=10),
        chat.list_recent(limit=5),
        chat.download("chat-x", variant="thumbnail", max_bytes=1000, result_url="http://x/y.mp4"),
    ]
    for call in calls:
        with pytest.raises(UnsupportedByUpstream) as caught:
            await call
        assert caught.value.dialect == "chat"

    assert chat_up.requests == []


@pytest.mark.asyncio
async def test_capabilities_come_from_the_listed_ids(http: httpx.AsyncClient) -> None:
    from_sora2api = ChatCompletionsClient(
        http, base_url="http://127.0.0.1:9/v1", api_key=API_KEY, listed_models=upstream_chat.MODELS
    ).capabilities()
    from_laozhang = ChatCompletionsClient(
        http, base_url="http://127.0.0.1:9/v1", api_key=API_KEY, listed_models=LAOZHANG_IDS
    ).capabilities()
    from_nothing = ChatCompletionsClient(
        http, base_url="http://127.0.0.1:9/v1", api_key=API_KEY
    ).capabilities()

    assert from_sora2api.dialect is Dialect.CHAT
    assert (from_sora2api.can_remix, from_sora2api.can_list, from_sora2api.can_extend) == (
        False,
        False,
        False,
    )
    assert from_sora2api.image_input
    assert from_sora2api.models == ("sora-2", "sora-2-pro")
    assert from_sora2api.sizes == ("1280x720", "720x1280", "1792x1024", "1024x1792")
    assert from_sora2api.seconds == (10, 15, 25)
    assert from_laozhang.models == ("sora-2",)
    assert from_laozhang.sizes == ("1280x720", "720x1280")
    assert from_laozhang.seconds == (10, 15)
    assert from_nothing == from_sora2api


def test_laozhang_names_map_to_portrait_by_default() -> None:
    catalog = ChatCatalog.from_ids(LAOZHANG_IDS)

    assert catalog.choose("sora-2", 10, "720x1280").model_id == "sora_video2"
    assert catalog.choose("sora-2", 15, "1280x720").model_id == "sora_video2-landscape-15s"
    assert parse_model_id("sora_video2-landscape-hd-15s") is not None
    assert parse_model_id("sora-video-10s") is not None
    for other in ("sora-2", "sora-2-pro", "gpt-image", "prompt-enhance-long-10s", "sora2-wide"):
        assert parse_model_id(other) is None


# --- the probe -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_probe_recognises_the_listing_and_sends_nothing(
    http: httpx.AsyncClient, chat_up: FakeUpstream
) -> None:
    transport = Transport(
        http, base_url=chat_up.base_url, api_key=API_KEY, settings=RetrySettings()
    )
    listed = await list_models(transport)
    before = len(chat_up.requests)

    probe = await ChatCompletionsClient.probe(transport, listed)

    assert probe.dialect is Dialect.CHAT and probe.speaks and not probe.can_list
    assert "sora2-landscape-10s" in probe.evidence
    assert len(chat_up.requests) == before


@pytest.mark.asyncio
@pytest.mark.parametrize("dialects", [("openai",), ()])
async def test_probe_does_not_speak_for_other_relays(
    http: httpx.AsyncClient, dialects: tuple[str, ...]
) -> None:
    async with FakeUpstream(api_key=API_KEY, dialects=dialects) as other:
        transport = Transport(
            http, base_url=other.base_url, api_key=API_KEY, settings=RetrySettings()
        )
        listed = await list_models(transport)

        probe = await ChatCompletionsClient.probe(transport, listed)

    assert not probe.speaks
    assert [r.path for r in other.requests] == ["/v1/models"]
