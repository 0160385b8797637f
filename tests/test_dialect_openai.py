"""The ``openai`` dialect's additions, through the emulator over real HTTP.

Edits (remix's successor), extensions and the video list against the saved contract;
the remix -> edits fallback and the money rule around it; LiteLLM's
``llm_provider-retry-after``; the dialect probe per relay flavour; and the start-up
reconciliation of a create whose answer a crash lost (``bot.polling.reconcile``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.core import errors
from bot.core.clock import DEFAULT_START, ManualClock
from bot.core.models import DeliveryState, TaskStatus, VideoTask
from bot.core.poll_policy import PollPolicy
from bot.emulators.fake_upstream import FakeUpstream, Fault
from bot.polling.reconcile import CLOCK_SKEW, CREATE_WINDOW, match_interrupted
from bot.services.submission import GenerateOptions, VideoService
from bot.storage.async_store import AsyncTaskStore
from bot.upstream import OpenAIVideosClient, UpstreamJob, parse_job, parse_retry_after
from bot.upstream.transport import RetrySettings, Transport
from tests.core_fixtures import (
    ORIGIN,
    Core,
    RecordingNotifier,
    core_config,
    make_poller,
    no_sleep,
)
from tests.subprocess_bot import ProcessWorld, outcome_post, settled, wait_for_row
from tests.test_upstream_contract import ContractRequest, component, request_errors, response_errors
from tests.upstream_fixtures import API_KEY, RecordingSleep, make_client, wait_until

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@asynccontextmanager
async def emulator(**options: Any) -> AsyncIterator[tuple[FakeUpstream, OpenAIVideosClient]]:
    """An emulator whose jobs finish at once, and a client for it (sleeps recorded)."""
    sleeps = options.pop("sleeps", RecordingSleep())
    async with (
        FakeUpstream(api_key=API_KEY, job_seconds=0, **options) as up,
        httpx.AsyncClient() as http,
    ):
        yield up, make_client(http, up.base_url, sleeps)


def requests_to(up: FakeUpstream, method: str, path: str) -> list[Any]:
    return [r for r in up.requests if r.method == method and r.path == path]


# --- contract: edits, extensions, list ---------------------------------------------------


@pytest.mark.asyncio
async def test_edit_extend_and_list_requests_satisfy_the_contract() -> None:
    async with emulator(absent_routes=("remix",)) as (up, client):
        parent = await client.create(prompt="a red kite", seconds=4, size="1280x720")
        edited = await client.remix(parent.id, prompt="a blue kite")
        extended = await client.extend(parent.id, prompt="it flies away", seconds=8)
        listed = await client.list_recent(limit=5)

    [edit] = requests_to(up, "POST", "/v1/videos/edits")
    [extension] = requests_to(up, "POST", "/v1/videos/extensions")
    [listing] = requests_to(up, "GET", "/v1/videos")
    for recorded in (edit, extension, listing):
        assert request_errors(ContractRequest.of(recorded)) == [], recorded.path
    assert edit.content_type.startswith("application/json")
    assert httpx.Response(200, content=edit.body).json() == {
        "prompt": "a blue kite",
        "video": {"id": parent.id},
    }
    assert httpx.Response(200, content=extension.body).json() == {
        "prompt": "it flies away",
        "seconds": "8",
        "video": {"id": parent.id},
    }
    assert listing.query == {"limit": "5", "order": "desc"}
    assert edited.remixed_from == parent.id and extended.seconds == "12"  # the stitched total
    assert [job.id for job in listed] == [extended.id, edited.id, parent.id]
    assert listed[-1].prompt == "a red kite" and listed[-1].created_at is not None


@pytest.mark.asyncio
async def test_emulator_answers_for_edits_extensions_list_and_delete_satisfy_the_contract() -> None:
    async with (
        FakeUpstream(api_key=API_KEY, job_seconds=0) as up,
        httpx.AsyncClient(base_url=up.base_url, headers=AUTH) as http,
    ):
        first = (await http.post("/videos", json={"prompt": "one"})).json()["id"]
        answers = [
            await http.post("/videos/edits", json={"prompt": "two", "video": {"id": first}}),
            await http.post(
                "/videos/extensions",
                json={"prompt": "three", "seconds": "4", "video": {"id": first}},
            ),
            await http.get("/videos", params={"limit": "2", "order": "asc"}),
            await http.get("/videos"),
        ]
        answers.append(await http.delete(f"/videos/{first}"))
        after_delete = await http.get("/videos")

    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert response_errors(answer) == [], answer.request.url
    page = answers[2].json()
    assert not list(component("VideoListResource").iter_errors(page))
    assert [v["prompt"] for v in page["data"]] == ["one", "two"]
    assert page["first_id"] == first and page["has_more"] is True
    assert [v["prompt"] for v in answers[3].json()["data"]] == ["three", "two", "one"]
    assert answers[4].json() == {"id": first, "object": "video.deleted", "deleted": True}
    assert first not in {v["id"] for v in after_delete.json()["data"]}


@pytest.mark.asyncio
async def test_emulator_list_pages_with_after_and_checks_its_query() -> None:
    async with (
        FakeUpstream(api_key=API_KEY, job_seconds=0) as up,
        httpx.AsyncClient(base_url=up.base_url, headers=AUTH) as http,
    ):
        for n in range(3):
            await http.post("/videos", json={"prompt": f"p{n}"})
        page1 = (await http.get("/videos", params={"limit": "2"})).json()
        page2 = (await http.get("/videos", params={"limit": "2", "after": page1["last_id"]})).json()
        bad_limit = await http.get("/videos", params={"limit": "500"})
        bad_order = await http.get("/videos", params={"order": "newest"})

    assert [v["prompt"] for v in page1["data"]] == ["p2", "p1"] and page1["has_more"] is True
    assert [v["prompt"] for v in page2["data"]] == ["p0"] and page2["has_more"] is False
    assert bad_limit.status_code == 400 and bad_limit.json()["error"]["param"] == "limit"
    assert bad_order.status_code == 400 and bad_order.json()["error"]["param"] == "order"


@pytest.mark.asyncio
async def test_extension_needs_a_completed_video_and_allowed_seconds() -> None:
    async with (
        FakeUpstream(api_key=API_KEY, job_seconds=60) as up,
        httpx.AsyncClient(base_url=up.base_url, headers=AUTH) as http,
    ):
        running = (await http.post("/videos", json={"prompt": "slow"})).json()["id"]
        not_done = await http.post(
            "/videos/extensions", json={"prompt": "x", "seconds": "4", "video": {"id": running}}
        )
        up.finish(running)
        bad_seconds = await http.post(
            "/videos/extensions", json={"prompt": "x", "seconds": "5", "video": {"id": running}}
        )
        no_video = await http.post("/videos/edits", json={"prompt": "x"})

    assert not_done.status_code == 400 and "not completed" in not_done.json()["error"]["message"]
    assert bad_seconds.status_code == 400 and bad_seconds.json()["error"]["param"] == "seconds"
    assert no_video.status_code == 400 and no_video.json()["error"]["param"] == "video"


# --- remix -> edits fallback, and the money rule ---------------------------------------------


@pytest.mark.asyncio
async def test_remix_falls_back_to_edits_when_the_route_is_missing_and_remembers() -> None:
    async with emulator(absent_routes=("remix",)) as (up, client):
        parent = await client.create(prompt="a kite", seconds=4, size="1280x720")
        first = await client.remix(parent.id, prompt="a blue kite")
        second = await client.remix(parent.id, prompt="a green kite")
        remix_path = f"/v1/videos/{parent.id}/remix"

    assert len(requests_to(up, "POST", remix_path)) == 1  # tried once, then remembered
    assert requests_to(up, "POST", remix_path)[0].status == 404
    assert len(requests_to(up, "POST", "/v1/videos/edits")) == 2
    assert first.remixed_from == second.remixed_from == parent.id
    assert client.capabilities().can_remix is True
    assert up.count("remix") == 2 and len(up.jobs) == 3  # the parent and two edits


@pytest.mark.asyncio
async def test_a_video_not_found_is_not_a_missing_route() -> None:
    async with emulator() as (up, client):
        with pytest.raises(errors.UpstreamNotFound) as raised:
            await client.remix("video_" + "0" * 48, prompt="again")
    assert not requests_to(up, "POST", "/v1/videos/edits")
    assert type(raised.value) is errors.UpstreamNotFound  # not RouteMissing


@pytest.mark.asyncio
async def test_a_remix_that_may_have_started_is_never_followed_by_an_edit() -> None:
    async with emulator(absent_routes=("remix",)) as (up, client):
        parent = await client.create(prompt="a kite", seconds=4, size="1280x720")
        up.inject("remix", Fault.HTTP_500)
        with pytest.raises(errors.SubmissionUncertain):
            await client.remix(parent.id, prompt="a blue kite")
    # The /remix 404 proved nothing started; the edit that followed got a 500: not re-sent.
    assert len(requests_to(up, "POST", "/v1/videos/edits")) == 1


@pytest.mark.asyncio
async def test_a_5xx_on_remix_is_uncertain_and_no_edit_is_sent() -> None:
    async with emulator() as (up, client):
        parent = await client.create(prompt="a kite", seconds=4, size="1280x720")
        up.inject("remix", Fault.HTTP_500)
        with pytest.raises(errors.SubmissionUncertain):
            await client.remix(parent.id, prompt="a blue kite")
    assert up.count("remix") == 1 and not requests_to(up, "POST", "/v1/videos/edits")


@pytest.mark.asyncio
@pytest.mark.parametrize("relay", ["openai", "litellm"])
async def test_without_remix_and_edits_remix_is_unsupported_and_then_sends_nothing(
    relay: str,
) -> None:
    async with emulator(relay=relay, absent_routes=("remix", "edits")) as (up, client):
        parent = await client.create(prompt="a kite", seconds=4, size="1280x720")
        with pytest.raises(errors.UnsupportedByUpstream):
            await client.remix(parent.id, prompt="again")
        sent = len(up.requests)
        with pytest.raises(errors.UnsupportedByUpstream):
            await client.remix(parent.id, prompt="again")
    assert len(up.requests) == sent
    assert client.capabilities().can_remix is False and len(up.jobs) == 1


@pytest.mark.asyncio
async def test_newapi_remixes_by_remix_and_has_no_extend_or_list() -> None:
    async with emulator(relay="newapi") as (up, client):
        parent = await client.create(prompt="a kite", seconds=4, size="1280x720")
        child = await client.remix(parent.id, prompt="again")
        with pytest.raises(errors.UnsupportedByUpstream):
            await client.extend(parent.id, prompt="more", seconds=4)
        with pytest.raises(errors.UnsupportedByUpstream):
            await client.list_recent(limit=10)
        sent = len(up.requests)
        with pytest.raises(errors.UnsupportedByUpstream):
            await client.list_recent(limit=10)
        caps = client.capabilities()

    assert child.id in up.jobs and not requests_to(up, "POST", "/v1/videos/edits")
    [unknown] = requests_to(up, "POST", "/v1/videos/extensions")
    assert unknown.status == 404 and len(up.requests) == sent
    assert (caps.can_remix, caps.can_extend, caps.can_list) == (True, False, False)


@pytest.mark.asyncio
async def test_extend_validates_before_sending() -> None:
    async with emulator() as (up, client):
        with pytest.raises(errors.InvalidInput):
            await client.extend("video_x", prompt="more", seconds=5)
        with pytest.raises(errors.InvalidInput):
            await client.extend("video_x", prompt=" ", seconds=4)
    assert not up.requests


# --- LiteLLM's llm_provider-retry-after ------------------------------------------------------


@pytest.mark.asyncio
async def test_litellm_429_waits_the_passed_on_retry_after() -> None:
    sleeps = RecordingSleep()
    async with emulator(relay="litellm", sleeps=sleeps) as (up, client):
        up.inject("create", Fault.RATE_LIMIT, retry_after=3)
        job = await client.create(prompt="a kite", seconds=4, size="1280x720")
        refused = up.requests[0]
    assert sleeps.delays == [3.0] and job.id in up.jobs and up.count("create") == 2
    assert refused.status == 429 and len(up.jobs) == 1


@pytest.mark.asyncio
async def test_litellm_429_headers_are_prefixed() -> None:
    async with (
        FakeUpstream(api_key=API_KEY, relay="litellm") as up,
        httpx.AsyncClient(base_url=up.base_url, headers=AUTH) as http,
    ):
        up.inject("create", Fault.RATE_LIMIT, retry_after=3)
        answer = await http.post("/videos", json={"prompt": "a"})
    assert answer.status_code == 429 and "retry-after" not in answer.headers
    assert answer.headers["llm_provider-retry-after"] == "3"
    assert answer.headers["x-litellm-version"]


@pytest.mark.asyncio
async def test_a_long_litellm_retry_after_is_a_floor_for_the_next_poll(tmp_path: Path) -> None:
    async with world(tmp_path, relay="litellm") as c:
        task = await c.service.generate(ORIGIN, "a kite", GenerateOptions())
        c.upstream.inject("retrieve", Fault.RATE_LIMIT, retry_after=90)
        c.clock.advance(10)
        await c.poller.poll_tick()
        polled = await c.store.get(task.id)
    assert polled.status is TaskStatus.QUEUED and polled.poll_failures == 1
    assert polled.next_poll_at is not None
    assert polled.next_poll_at >= c.clock() + timedelta(seconds=90)
    assert c.poller.paused_until == c.clock() + timedelta(seconds=90)


def test_retry_after_reads_litellm_copies_and_the_larger_wins() -> None:
    assert parse_retry_after({"llm_provider-retry-after": "7"}) == 7
    assert parse_retry_after({"llm_provider-retry-after-ms": "2500"}) == 2.5
    assert parse_retry_after({"retry-after": "2", "llm_provider-retry-after": "7"}) == 7
    assert parse_retry_after({"retry-after": "9", "llm_provider-retry-after": "7"}) == 9
    assert parse_retry_after({"llm_provider-retry-after": "soon"}) is None
    job = parse_job(
        {"id": "video_1", "status": "queued"},
        headers={"llm_provider-openai-poll-after-ms": "4000"},
    )
    assert job.poll_after == 4


# --- the dialect probe ---------------------------------------------------------------------


async def _probe(up: FakeUpstream) -> Any:
    async with httpx.AsyncClient() as http:
        transport = Transport(
            http, base_url=up.base_url, api_key=API_KEY, settings=RetrySettings(max_retries=0)
        )
        return await OpenAIVideosClient.probe(transport, up.listed_models())


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("options", "speaks", "can_list"),
    [
        pytest.param({}, True, True, id="openai-lists"),
        pytest.param({"absent_routes": ("list",)}, True, False, id="openai-unknown-id-404"),
        pytest.param({"relay": "newapi"}, True, False, id="newapi-task_not_exist"),
        pytest.param({"relay": "litellm"}, True, True, id="litellm-lists"),
        pytest.param(
            {"relay": "litellm", "absent_routes": ("list",)}, True, False, id="litellm-500"
        ),
        pytest.param({"dialects": ()}, False, False, id="no-video-dialect"),
        pytest.param({"dialects": (), "relay": "litellm"}, False, False, id="fastapi-404"),
        pytest.param({"dialects": (), "relay": "newapi"}, False, False, id="newapi-no-route"),
    ],
)
async def test_probe_per_relay_flavour(
    options: dict[str, Any], speaks: bool, can_list: bool
) -> None:
    async with FakeUpstream(api_key=API_KEY, **options) as up:
        found = await _probe(up)
    assert (found.speaks, found.can_list) == (speaks, can_list), found.evidence
    assert all(r.method == "GET" for r in up.requests) and not up.jobs  # created nothing


@pytest.mark.asyncio
async def test_probe_does_not_take_a_bare_500_for_litellm() -> None:
    async with FakeUpstream(api_key=API_KEY, absent_routes=("list",)) as up:
        up.inject("retrieve", Fault.HTTP_500)
        found = await _probe(up)
    assert found.speaks is False and "500" in found.evidence


# --- reconciliation across a restart ------------------------------------------------------


@asynccontextmanager
async def world(tmp_path: Path, **upstream_options: Any) -> AsyncIterator[Core]:
    """Like ``tests.core_fixtures.core``, with the emulator's wall clock on the bot's clock
    (so listed ``created_at`` and task times can be compared)."""
    clock = ManualClock(DEFAULT_START)
    fake = FakeUpstream(
        api_key=API_KEY,
        job_seconds=20.0,
        clock=lambda: clock().timestamp(),
        wall_clock=lambda: clock().timestamp(),
        **upstream_options,
    )
    db_path = tmp_path / "core.db"
    async with fake, httpx.AsyncClient() as http:
        client = OpenAIVideosClient(
            http, base_url=fake.base_url, api_key=API_KEY, json_timeout=10.0, sleep=no_sleep
        )
        store = await AsyncTaskStore.open(db_path, clock=clock)
        notifier = RecordingNotifier(clock=clock)
        service = VideoService(
            store=store,
            upstream=client,
            config=core_config(),
            policy=PollPolicy(jitter=0),
            clock=clock,
        )
        poller = make_poller(store, client, notifier, clock, tmp_path / "media")
        c = Core(clock, fake, client, store, service, poller, notifier, db_path)
        try:
            yield c
        finally:
            await c.store.close()


async def crash_during_create(c: Core, prompt: str) -> VideoTask:
    """Send a create whose answer never comes, and kill the "process" mid-request.

    The emulator's HANG fault creates the job and withholds the answer; cancelling the
    request is what a crash does to it. The store is closed like a dead process leaves it.
    """
    c.upstream.inject("create", Fault.HANG, seconds=60)
    sending = asyncio.create_task(c.service.generate(ORIGIN, prompt, GenerateOptions(seconds=8)))
    await wait_until(lambda: len(c.upstream.jobs) == 1 and not sending.done())
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    [task] = await c.store.interrupted_submissions()
    await c.store.close()
    return task


async def restart(c: Core, tmp_path: Path, client: OpenAIVideosClient) -> None:
    """A new process: the same database, a fresh client and poller."""
    c.store = await AsyncTaskStore.open(c.db_path, clock=c.clock)
    c.notifier = RecordingNotifier(clock=c.clock)
    c.client = client
    c.poller = make_poller(c.store, client, c.notifier, c.clock, tmp_path / "media")


@pytest.mark.asyncio
async def test_a_create_lost_in_a_crash_is_found_by_listing_and_delivered(tmp_path: Path) -> None:
    async with world(tmp_path) as c, httpx.AsyncClient() as http:
        task = await crash_during_create(c, "a lighthouse at dusk")
        [job_id] = c.upstream.jobs
        c.clock.advance(3)
        await restart(
            c,
            tmp_path,
            OpenAIVideosClient(http, base_url=c.upstream.base_url, api_key=API_KEY, sleep=no_sleep),
        )
        assert await c.poller.recover() == 1
        resumed = await c.store.get(task.id)
        assert resumed.status is TaskStatus.IN_PROGRESS and resumed.upstream_id == job_id
        assert await c.poller.cards.flush() == 1  # the card no longer says "sending"
        assert c.notifier.cards == [(task.id, TaskStatus.IN_PROGRESS, resumed.progress)]

        async def delivered() -> bool:
            return (await c.store.get(task.id)).delivery_state is DeliveryState.DELIVERED

        await c.run_until(delivered)
        done = await c.store.get(task.id)
        [post] = c.notifier.posts
        listings = requests_to(c.upstream, "GET", "/v1/videos")

    assert done.status is TaskStatus.COMPLETED and post.attached and post.task_id == task.id
    assert c.upstream.count("create") == 1  # never re-sent
    assert len(listings) == 1 and listings[0].query["order"] == "desc"


@pytest.mark.asyncio
async def test_a_job_another_task_holds_is_never_taken(tmp_path: Path) -> None:
    async with world(tmp_path) as c:
        owner = await c.service.generate(ORIGIN, "same words", GenerateOptions(seconds=8))
        orphan = await c.store.create_task(
            guild_id=ORIGIN.guild_id,
            channel_id=ORIGIN.channel_id,
            user_id=ORIGIN.user_id,
            prompt="same words",
            model="sora-2",
            seconds=8,
            size=owner.size,
        )
        assert await c.poller.recover() == 1
        failed = await c.store.get(orphan.id)
        assert await c.store.upstream_ids_in_use([owner.upstream_id, "video_nobody"]) == {
            owner.upstream_id
        }
    assert failed.status is TaskStatus.FAILED and failed.error_code == "submission_interrupted"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "relay",
    [
        pytest.param("newapi", id="newapi-cannot-list"),
        pytest.param("litellm", id="litellm-lists-no-prompts"),
    ],
)
async def test_without_a_usable_listing_the_task_fails_as_before(
    tmp_path: Path, relay: str
) -> None:
    async with world(tmp_path, relay=relay) as c, httpx.AsyncClient() as http:
        task = await crash_during_create(c, "a lighthouse at dusk")
        await restart(
            c,
            tmp_path,
            OpenAIVideosClient(http, base_url=c.upstream.base_url, api_key=API_KEY, sleep=no_sleep),
        )
        assert await c.poller.recover() == 1
        failed = await c.store.get(task.id)
        listings = requests_to(c.upstream, "GET", "/v1/videos")
    assert failed.status is TaskStatus.FAILED and failed.error_code == "submission_interrupted"
    assert len(listings) == 1 and c.upstream.count("create") == 1


@pytest.mark.asyncio
async def test_a_job_created_outside_the_window_is_not_matched(tmp_path: Path) -> None:
    async with world(tmp_path) as c, httpx.AsyncClient() as http:
        task = await crash_during_create(c, "a lighthouse at dusk")
        await restart(
            c,
            tmp_path,
            OpenAIVideosClient(http, base_url=c.upstream.base_url, api_key=API_KEY, sleep=no_sleep),
        )
        # The lost job seen as created long after the task: not its answer.
        [job] = c.upstream.jobs.values()
        job.created_at += int((CREATE_WINDOW + timedelta(seconds=5)).total_seconds())
        assert await c.poller.recover() == 1
        failed = await c.store.get(task.id)
    assert failed.status is TaskStatus.FAILED


def _listed(job_id: str, prompt: str, at: float, **fields: Any) -> UpstreamJob:
    body = {"id": job_id, "status": "in_progress", "prompt": prompt, "created_at": at}
    return parse_job({**body, **fields})


def _task(task_id: str, prompt: str, offset: float, **fields: Any) -> VideoTask:
    base = VideoTask(
        id=task_id,
        guild_id=1,
        channel_id=2,
        user_id=3,
        prompt=prompt,
        model="sora-2",
        seconds=8,
        size="1280x720",
        status=TaskStatus.SUBMITTING,
        created_at=DEFAULT_START + timedelta(seconds=offset),
        updated_at=DEFAULT_START,
    )
    return replace(base, **fields)


def test_matching_rules() -> None:
    t0 = DEFAULT_START.timestamp()
    a, b = _task("aaaaaa", "boat", 0), _task("bbbbbb", "boat", 30)
    listed = [
        _listed("video_far", "boat", t0 + CREATE_WINDOW.total_seconds() + 1),
        _listed("video_b", "boat", t0 + 31),
        _listed("video_a", "boat", t0 + 1),
        _listed("video_early", "boat", t0 - CLOCK_SKEW.total_seconds() - 1),
        _listed("video_size", "boat", t0 + 2, size="720x1280"),
        _listed("video_model", "boat", t0 + 2, model="sora-2-pro"),
        _listed("video_secs", "boat", t0 + 2, seconds="4"),
        _listed("video_remix", "boat", t0 + 2, remixed_from_video_id="video_parent"),
        _listed("video_other", "a car", t0 + 1),
    ]
    assert {k: v.id for k, v in match_interrupted([b, a], listed, set()).items()} == {
        "aaaaaa": "video_a",
        "bbbbbb": "video_b",
    }
    # each job once, never a taken one; the next closest fitting job is used
    only_a = match_interrupted([a, b], listed[:3], {"video_a"})
    assert {k: v.id for k, v in only_a.items()} == {"aaaaaa": "video_b", "bbbbbb": "video_far"}
    no_prompt = parse_job({"id": "video_np", "status": "queued", "created_at": t0 + 1})
    assert match_interrupted([a], [no_prompt], set()) == {}


@pytest.mark.asyncio
async def test_openais_newer_unknown_url_wording_is_a_missing_route() -> None:
    unknown_url = {
        "error": {
            "message": "Unknown request URL: POST /v1/videos/x/remix. Please check the URL "
            "for typos, or see the docs at https://platform.openai.com/docs/api-reference/.",
            "type": "invalid_request_error",
            "param": None,
            "code": "unknown_url",
        }
    }
    async with emulator() as (up, client):
        parent = await client.create(prompt="a kite", seconds=4, size="1280x720")
        up.inject("remix", Fault.RESPOND, status=404, json=unknown_url)
        child = await client.remix(parent.id, prompt="a blue kite")
    assert child.remixed_from == parent.id
    assert len(requests_to(up, "POST", "/v1/videos/edits")) == 1


@pytest.mark.asyncio
async def test_a_probe_that_saw_new_api_tells_the_client_what_it_lacks() -> None:
    async with emulator(relay="newapi") as (up, client):
        assert client.capabilities().can_list is True  # the API has it, until shown otherwise
        probe = await _probe(up)
        assert probe.lacks == {"list", "edits", "extend", "delete"}
        client.assume_missing(probe.lacks)
        sent = len(up.requests)
        with pytest.raises(errors.UnsupportedByUpstream):
            await client.list_recent(limit=5)
        with pytest.raises(errors.UnsupportedByUpstream):
            await client.extend("task_x", prompt="more", seconds=4)
    caps = client.capabilities()
    assert (caps.can_list, caps.can_extend, caps.can_remix) == (False, False, True)
    assert len(up.requests) == sent


@pytest.mark.asyncio
async def test_a_sigkilled_bot_resumes_the_create_it_was_sending(tmp_path: Path) -> None:
    """The real bot as a process, SIGKILLed while its create hangs (the job exists upstream,
    its id reached nobody), restarted on the same database: the video is found and posted."""
    async with ProcessWorld(tmp_path / "world") as w:
        await w.start_bot()
        w.upstream.inject("create", Fault.HANG, seconds=60)
        await w.discord.slash(w.alice, w.channel, "sora", {"prompt": "a lighthouse at dusk"})
        await wait_until(lambda: len(w.upstream.jobs) == 1, within=15)
        await w.kill_bot()
        [job_id] = w.upstream.jobs
        [orphan] = await w.tasks()
        assert orphan.status is TaskStatus.SUBMITTING and orphan.upstream_id is None
        await w.start_bot()
        post = await outcome_post(w, orphan.id)
        done = await wait_for_row(w, orphan.id, settled)
        assert w.discord.contract_violations == []
    assert done.status is TaskStatus.COMPLETED and done.upstream_id == job_id
    assert post.attachments and done.result_message_id == post.id
    assert w.upstream.count("create") == 1  # found, never re-sent
