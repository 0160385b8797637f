"""The client's requests and the emulator's answers against the saved OpenAPI contract.

``tests/contracts/openai-videos.openapi.json`` is the ``/videos`` part of OpenAI's spec.
Requests and JSON answers go through openapi-core (paths, parameters, bearer security,
JSON bodies). openapi-core hands multipart parts whose schema has no plain ``type`` (the
``model`` anyOf, the ``input_reference`` oneOf) to the validator as bytes, and binary
``video/mp4`` / ``image/webp`` answers likewise, so: multipart bodies are split with the
emulator's parser and checked with jsonschema against the operation's multipart component
schema, and binary answers have their media type checked against the spec's list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.request.exceptions import InvalidRequestBody
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.datastructures import Headers, ImmutableMultiDict

from bot.core.video_spec import (
    API_MAX_PROMPT_CHARS,
    PROMPT_MAX_CHARS,
    VIDEO_MODELS,
    VIDEO_SECONDS,
    VIDEO_SIZES,
)
from bot.emulators.fake_upstream import FakeUpstream, Fault, RecordedRequest, parse_multipart
from bot.upstream import OpenAIVideosClient, ReferenceImage
from tests.upstream_fixtures import API_KEY, FakeClock
from tests.upstream_fixtures import fake_upstream as fake_upstream
from tests.upstream_fixtures import upstream_clock as upstream_clock
from tests.upstream_fixtures import upstream_http as upstream_http
from tests.upstream_fixtures import upstream_sleeps as upstream_sleeps
from tests.upstream_fixtures import videos_client as videos_client

SPEC_PATH = Path(__file__).parent / "contracts" / "openai-videos.openapi.json"
SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
API = OpenAPI.from_dict(SPEC)
#: Requests are checked as if sent to the spec's server, ``https://api.openai.com/v1``.
SPEC_ORIGIN = "https://api.openai.com"
_REGISTRY = Registry().with_resource(
    "urn:openai-videos", Resource.from_contents(SPEC, default_specification=DRAFT202012)
)


def component(name: str) -> Draft202012Validator:
    """A jsonschema validator for ``#/components/schemas/{name}`` of the contract."""
    ref = {"$ref": f"urn:openai-videos#/components/schemas/{name}"}
    return Draft202012Validator(ref, registry=_REGISTRY)


@dataclass
class ContractRequest:
    """openapi-core's Request protocol over a recorded or an httpx request."""

    method: str
    path: str
    body: bytes | None
    content_type: str
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    host_url: str = SPEC_ORIGIN

    def __post_init__(self) -> None:
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(self.query),
            header=Headers(self.headers),
            cookie=ImmutableMultiDict(),
            path={},
        )

    @classmethod
    def of(cls, recorded: RecordedRequest) -> ContractRequest:
        return cls(
            method=recorded.method.lower(),
            path=recorded.path,
            body=recorded.body or None,
            content_type=recorded.content_type,
            headers=recorded.headers,
            query=recorded.query,
        )

    @classmethod
    def of_httpx(cls, request: httpx.Request) -> ContractRequest:
        return cls(
            method=request.method.lower(),
            path=request.url.raw_path.decode().split("?", 1)[0],
            body=request.read() or None,
            content_type=request.headers.get("content-type", ""),
            headers=dict(request.headers),
            query=dict(request.url.params),
        )


@dataclass
class ContractResponse:
    """openapi-core's Response protocol over an httpx response."""

    status_code: int
    content_type: str
    data: bytes
    headers: dict[str, str]

    @classmethod
    def of(cls, response: httpx.Response) -> ContractResponse:
        return cls(
            status_code=response.status_code,
            content_type=response.headers.get("content-type", ""),
            data=response.content,
            headers=dict(response.headers),
        )


def _multipart_schema(request: ContractRequest) -> str:
    """The component schema of the multipart body of a create or remix request."""
    return "CreateVideoRemixBody" if request.path.endswith("/remix") else "CreateVideoMultipartBody"


def request_errors(request: ContractRequest) -> list[Any]:
    """Contract violations of a request (empty when it conforms)."""
    errors: list[Any] = list(API.unmarshal_request(request).errors)
    if request.content_type.startswith("multipart/form-data"):
        errors = [e for e in errors if not isinstance(e, InvalidRequestBody)]
        parts = parse_multipart(request.body or b"", request.content_type)
        # format: binary is a string in JSON Schema terms: a file part's bytes stand in as one
        form = {name: part.text for name, part in parts.items()}
        errors += list(component(_multipart_schema(request)).iter_errors(form))
    return errors


def response_errors(response: httpx.Response) -> list[Exception]:
    result = API.unmarshal_response(
        ContractRequest.of_httpx(response.request), ContractResponse.of(response)
    )
    return list(result.errors)


def _describe(errors: list[Exception]) -> str:
    return "; ".join(f"{e!r} <- {e.__cause__!r}" for e in errors)


# --- the client's requests ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_client_requests_satisfy_the_contract(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    job = await videos_client.create(prompt="a calico cat", seconds=8, size="1024x1792")
    await videos_client.retrieve(job.id)
    fake_upstream.finish(job.id)
    await videos_client.remix(job.id, prompt="at night")
    await videos_client.download(job.id, max_bytes=10**6)
    await videos_client.download(job.id, variant="thumbnail", max_bytes=10**6)

    ops = [r.op for r in fake_upstream.requests]
    assert ops == ["create", "retrieve", "remix", "content", "content"]
    for recorded in fake_upstream.requests:
        errors = request_errors(ContractRequest.of(recorded))
        assert errors == [], f"{recorded.method} {recorded.path}: {_describe(errors)}"

    create = fake_upstream.requests[0]
    assert create.content_type.startswith("multipart/form-data")
    parts = parse_multipart(create.body, create.content_type)
    assert {name: part.text for name, part in parts.items()} == {
        "prompt": "a calico cat",
        "model": "sora-2",
        "seconds": "8",
        "size": "1024x1792",
    }
    remix = API.unmarshal_request(ContractRequest.of(fake_upstream.requests[2]))
    assert remix.body == {"prompt": "at night"}
    assert fake_upstream.requests[2].content_type == "application/json"


@pytest.mark.asyncio
async def test_create_with_a_reference_image_satisfies_the_multipart_schema(
    videos_client: OpenAIVideosClient, fake_upstream: FakeUpstream
) -> None:
    image = ReferenceImage(filename="frame.webp", content_type="image/webp", data=b"RIFF\x00WEBP")
    await videos_client.create(prompt="go", seconds=4, size="720x1280", reference=image)

    [recorded] = fake_upstream.requests
    file_part = parse_multipart(recorded.body, recorded.content_type)["input_reference"]
    assert (file_part.filename, file_part.content_type) == ("frame.webp", "image/webp")
    assert file_part.data == b"RIFF\x00WEBP"
    assert request_errors(ContractRequest.of(recorded)) == []


@pytest.mark.asyncio
async def test_litellm_ids_are_valid_path_parameters(upstream_http: httpx.AsyncClient) -> None:
    async with FakeUpstream(api_key=API_KEY, relay="litellm", job_seconds=0) as up:
        client = OpenAIVideosClient(upstream_http, base_url=up.base_url, api_key=API_KEY)
        job = await client.create(prompt="a", seconds=4, size="720x1280")
        await client.retrieve(job.id)
        await client.download(job.id, max_bytes=10**6)
    for recorded in up.requests:
        assert request_errors(ContractRequest.of(recorded)) == []
        if recorded.op != "create":
            assert recorded.video_id == job.id


# --- the emulator's answers -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_emulator_job_answers_satisfy_the_contract(
    fake_upstream: FakeUpstream, upstream_clock: FakeClock
) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=fake_upstream.base_url, headers=headers) as http:
        answers = [await http.post("/videos", files=[("prompt", (None, "a cat"))])]
        answers.append(await http.post("/videos", json={"prompt": "[fault:moderation]"}))
        first, blocked = (a.json()["id"] for a in answers)
        upstream_clock.advance(5)
        answers.append(await http.get(f"/videos/{first}"))  # in progress
        upstream_clock.advance(5)
        answers.append(await http.get(f"/videos/{first}"))  # completed
        answers.append(await http.get(f"/videos/{blocked}"))  # failed
        answers.append(await http.post(f"/videos/{first}/remix", json={"prompt": "b"}))

    statuses = [a.json()["status"] for a in answers]
    assert statuses == ["queued", "queued", "in_progress", "completed", "failed", "queued"]
    assert answers[-1].json()["remixed_from_video_id"] == first
    for answer in answers:
        errors = response_errors(answer)
        assert errors == [], f"{answer.request.url}: {_describe(errors)}"
        assert list(component("VideoResource").iter_errors(answer.json())) == []


@pytest.mark.asyncio
async def test_emulator_content_uses_the_contracts_media_types(
    fake_upstream: FakeUpstream,
) -> None:
    declared = SPEC["paths"]["/videos/{video_id}/content"]["get"]["responses"]["200"]["content"]
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=fake_upstream.base_url, headers=headers) as http:
        video_id = (await http.post("/videos", json={"prompt": "a"})).json()["id"]
        fake_upstream.finish(video_id)
        answers = [
            await http.get(f"/videos/{video_id}/content", params={"variant": variant})
            for variant in ("video", "thumbnail")
        ]
    media = [a.headers["content-type"] for a in answers]
    assert media == ["video/mp4", "image/webp"] and all(m in declared for m in media)
    for answer in answers:  # the request side of a content download
        assert request_errors(ContractRequest.of_httpx(answer.request)) == []


@pytest.mark.asyncio
async def test_emulator_errors_use_the_error_envelope(fake_upstream: FakeUpstream) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=fake_upstream.base_url, headers=headers) as http:
        video_id = (await http.post("/videos", json={"prompt": "a"})).json()["id"]
        fake_upstream.inject("retrieve", Fault.RATE_LIMIT)
        fake_upstream.inject("retrieve", Fault.HTTP_500)
        fake_upstream.inject("retrieve", Fault.HTTP_503)
        answers = [
            await http.get(f"/videos/{video_id}"),
            await http.get(f"/videos/{video_id}"),
            await http.get(f"/videos/{video_id}"),
            await http.get("/videos/video_missing"),
            await http.get(f"/videos/{video_id}/content"),
            await http.post(f"/videos/{video_id}/remix", json={"prompt": "b"}),
            await http.post("/videos", json={"prompt": "a", "seconds": 4}),
            await http.post("/videos", json={"prompt": "[fault:moderation_submit]"}),
            await http.get(f"/videos/{video_id}", headers={"Authorization": "Bearer wrong"}),
        ]
    assert [a.status_code for a in answers] == [429, 500, 503, 404, 400, 400, 400, 400, 401]
    envelope = component("ErrorResponse")
    for answer in answers:
        assert list(envelope.iter_errors(answer.json())) == [], answer.text


# --- the checks themselves are strict ------------------------------------------------------------------


def test_the_contract_rejects_what_the_real_api_rejects() -> None:
    auth = {"Authorization": "Bearer x"}
    integer_seconds = ContractRequest(
        "post", "/v1/videos", b'{"prompt": "a", "seconds": 4}', "application/json", auth
    )
    bad_size = ContractRequest(
        "post", "/v1/videos", b'{"prompt": "a", "size": "1x1"}', "application/json", auth
    )
    no_key = ContractRequest("post", "/v1/videos", b'{"prompt": "a"}', "application/json", {})
    bad_variant = ContractRequest(
        "get", "/v1/videos/v/content", None, "", auth, query={"variant": "gif"}
    )
    form = httpx.Request(
        "POST", "http://x/", files=[("prompt", (None, "a")), ("seconds", (None, "10"))]
    )
    bad_form = ContractRequest(
        "post", "/v1/videos", form.read(), form.headers["content-type"], auth
    )
    good = ContractRequest("post", "/v1/videos", b'{"prompt": "a"}', "application/json", auth)
    for request in (integer_seconds, bad_size, no_key, bad_variant, bad_form):
        assert request_errors(request), request
    assert request_errors(good) == []


@pytest.mark.asyncio
async def test_relay_dialects_deviate_from_the_contract_on_purpose() -> None:
    """new-api and LiteLLM drop keys the spec requires; the client must (and does) cope."""
    for dialect in ("newapi", "litellm"):
        async with FakeUpstream(api_key=API_KEY, relay=dialect) as up:
            async with httpx.AsyncClient(
                base_url=up.base_url, headers={"Authorization": f"Bearer {API_KEY}"}
            ) as http:
                created = await http.post("/videos", json={"prompt": "a"})
        assert list(component("VideoResource").iter_errors(created.json())), dialect


def test_the_video_spec_is_the_contracts() -> None:
    """``bot.core.video_spec`` is the one copy of these facts: it must say what the API says."""
    schemas = SPEC["components"]["schemas"]
    assert VIDEO_SIZES == tuple(schemas["VideoSize"]["enum"])
    assert tuple(str(s) for s in VIDEO_SECONDS) == tuple(schemas["VideoSeconds"]["enum"])
    documented_models = next(
        part["enum"] for part in schemas["VideoModel"]["anyOf"] if "enum" in part
    )
    assert set(VIDEO_MODELS) <= set(documented_models)
    prompt_bodies = ("CreateVideoMultipartBody", "CreateVideoJsonBody", "CreateVideoRemixBody")
    limits = {schemas[name]["properties"]["prompt"]["maxLength"] for name in prompt_bodies}
    assert limits == {API_MAX_PROMPT_CHARS}
    # Our product limit is a different, stricter fact: a prompt we accept, the API accepts.
    assert PROMPT_MAX_CHARS <= API_MAX_PROMPT_CHARS
