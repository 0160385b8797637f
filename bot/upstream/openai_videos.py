"""The OpenAI Videos dialect: ``POST /videos``, ``/videos/{id}/remix`` (or its successor
``/videos/edits``), ``/videos/extensions``, ``GET /videos`` (list), ``GET /videos/{id}`` and
``/videos/{id}/content``, as OpenAI, LiteLLM's proxy and new-api speak it
(docs/dialects/openai.md).

No Discord here. Answers become ``UpstreamJob`` values (``bot.upstream.parsing``),
failures the ``bot.core.errors`` vocabulary (``bot.upstream.failures``), requests go
through ``bot.upstream.transport``. What may be asked for comes from
``bot.core.video_spec``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from bot.core.dialects import Dialect
from bot.core.errors import InvalidInput, UnsupportedByUpstream
from bot.core.video_spec import (
    REFERENCE_IMAGE_TYPES,
    VIDEO_MODELS,
    VIDEO_SECONDS,
    VIDEO_SIZES,
    seconds_text,
)
from bot.upstream.adapter import RelayAdapter
from bot.upstream.checks import check_id, check_prompt, quote_id
from bot.upstream.failures import Operation, RouteMissing
from bot.upstream.openai_probe import NEW_API_LACKS, knows_video_route, lists_videos
from bot.upstream.parsing import MalformedAnswer, parse_job
from bot.upstream.provider import Variant
from bot.upstream.transport import Transport
from bot.upstream.values import (
    DialectProbe,
    Download,
    JobPage,
    ReferenceImage,
    UpstreamJob,
    VideoCapabilities,
)

log = logging.getLogger(__name__)

#: The made-up id the dialect probe looks up (it creates nothing).
CREDENTIAL_PROBE_ID = "video_credential_check_0000"
#: ``GET /videos`` takes at most this ``limit`` (the spec's maximum).
MAX_LIST_LIMIT = 100

#: What this dialect offers.
OPENAI_VIDEOS_CAPABILITIES = VideoCapabilities(
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


def _job(data: object, headers: Mapping[str, str], secret: str) -> UpstreamJob:
    return parse_job(data, headers=headers, redact=secret)


def _job_list(data: object, headers: Mapping[str, str], secret: str) -> list[UpstreamJob]:
    """The jobs of a ``VideoListResource``; an item without an id is skipped."""
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise MalformedAnswer("the video list has no data list")
    jobs = []
    for item in items:
        try:
            jobs.append(parse_job(item, redact=secret))
        except MalformedAnswer:
            log.warning("skipping a listed video without an id")
    return jobs


def _job_page(data: object, headers: Mapping[str, str], secret: str) -> JobPage:
    """A ``VideoListResource`` page with its cursor (``has_more``, ``last_id``)."""
    jobs = _job_list(data, headers, secret)
    assert isinstance(data, dict)  # _job_list refused anything else
    last_id = data.get("last_id")
    if not isinstance(last_id, str) or not last_id:
        last_id = jobs[-1].id if jobs else None
    return JobPage(jobs=tuple(jobs), has_more=data.get("has_more") is True, last_id=last_id)


def _reference(upstream_id: str) -> dict[str, str]:
    """The spec's ``VideoReferenceInputParam``: which completed video to edit or extend."""
    return {"id": upstream_id}


def _check_create(
    caps: VideoCapabilities,
    prompt: str,
    model: str,
    seconds: int,
    size: str,
    reference: ReferenceImage | None,
) -> None:
    check_prompt(prompt)
    if not isinstance(model, str) or not model.strip():
        raise InvalidInput("model", "The model name must not be empty.")
    if isinstance(seconds, bool) or seconds not in caps.seconds:
        allowed = seconds_text(caps.seconds, last=" or ")
        raise InvalidInput("seconds", f"The duration must be {allowed} seconds.")
    if size not in caps.sizes:
        raise InvalidInput("size", f"The size must be one of {', '.join(caps.sizes)}.")
    if reference is not None:
        if reference.content_type not in REFERENCE_IMAGE_TYPES:
            raise InvalidInput("reference", "The reference image must be a JPEG, PNG or WebP.")
        if not reference.data:
            raise InvalidInput("reference", "The reference image is empty.")


class OpenAIVideosClient(RelayAdapter):
    """A ``VideoProvider`` for ``{base_url}/videos...`` over a shared ``httpx.AsyncClient``.

    ``max_retries`` is the number of re-sends after the first attempt (``create`` and
    ``remix`` only where the money rule allows). Waits go through ``sleep`` so tests need
    not really wait.
    """

    dialect = Dialect.OPENAI

    def __init__(self, http: httpx.AsyncClient, **options: Any) -> None:
        super().__init__(http, **options)
        #: What this relay turned out to lack (its router answered "no such route").
        self._missing: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"OpenAIVideosClient(base_url={self._transport.base_url!r}, "
            f"default_model={self.default_model!r})"
        )

    def capabilities(self) -> VideoCapabilities:
        """The OpenAI Videos API's sizes, seconds and models (``bot.core.video_spec``).

        Models are narrowed to those the relay lists, when it lists any of them.
        ``can_remix``, ``can_list`` and ``can_extend`` start true (the API has them) and
        turn false once the relay's router said it has no such route (new-api, for one,
        cannot list or extend): a failed ``list_recent`` or ``extend`` teaches the client.
        """
        caps = OPENAI_VIDEOS_CAPABILITIES
        listed = tuple(m for m in caps.models if m in self._listed_models)
        return dataclasses.replace(
            caps,
            models=listed or caps.models,
            can_remix="edits" not in self._missing or "remix" not in self._missing,
            can_list="list" not in self._missing,
            can_extend="extend" not in self._missing,
            can_cancel="delete" not in self._missing,
        )

    @staticmethod
    async def probe(transport: Transport, listed_models: tuple[str, ...]) -> DialectProbe:
        """Whether ``/videos`` exists here, with requests that create nothing.

        A list answer to ``GET /videos?limit=1`` settles it (and shows the relay lists);
        otherwise a made-up id is looked up and the answer read in each relay's words
        (``bot.upstream.openai_probe``).
        """
        listing = await transport.probe("GET", "/videos", params={"limit": "1"})
        if lists_videos(listing):
            return DialectProbe(
                dialect=Dialect.OPENAI,
                speaks=True,
                can_list=True,
                evidence="GET /v1/videos?limit=1 answered a list",
            )
        lookup = await transport.probe("GET", f"/videos/{quote_id(CREDENTIAL_PROBE_ID)}")
        speaks, why = knows_video_route(lookup)
        new_api = "task_not_exist" in why
        return DialectProbe(
            dialect=Dialect.OPENAI,
            speaks=speaks,
            evidence=f"GET /v1/videos answered HTTP {listing.status} (no list); "
            f"GET /v1/videos/<made-up id> answered {why}",
            lacks=NEW_API_LACKS if new_api else frozenset({"list"}),
        )

    def assume_missing(self, operations: frozenset[str]) -> None:
        """Take what detection saw missing (``DialectProbe.lacks``), e.g. a relay whose
        list request failed cannot list: nothing that would fail is offered or sent."""
        self._missing.update(operations)

    async def create(
        self,
        *,
        prompt: str,
        model: str | None = None,
        seconds: int,
        size: str,
        reference: ReferenceImage | None = None,
    ) -> UpstreamJob:
        """Start a generation job (multipart/form-data, like current SDKs).

        Costs money: never sent twice unless the first attempt provably did not reach the
        upstream or was answered 429 (``bot.upstream.failures``); otherwise a failure after
        sending raises ``SubmissionUncertain``. Arguments are validated before any request.
        """
        model = self.default_model if model is None else model
        _check_create(self.capabilities(), prompt, model, seconds, size, reference)
        fields: list[tuple[str, tuple[Any, ...]]] = [
            ("prompt", (None, prompt)),
            ("model", (None, model)),
            ("seconds", (None, str(seconds))),
            ("size", (None, size)),
        ]
        if reference is not None:
            fields.append(
                ("input_reference", (reference.filename, reference.data, reference.content_type))
            )
        return await self._transport.request(
            Operation.CREATE, "POST", "/videos", _job, files=fields
        )

    async def remix(self, upstream_id: str, *, prompt: str) -> UpstreamJob:
        """Start a remix of a completed job (JSON body). Costs money: same rule as ``create``.

        ``POST /videos/{id}/remix``; when the relay's router says that route does not exist
        (it ran no handler, so nothing started), its successor ``POST /videos/edits`` with
        ``{"prompt", "video": {"id"}}`` instead, and straight away from then on. Neither:
        ``UnsupportedByUpstream``.
        """
        check_id(upstream_id)
        check_prompt(prompt)
        if "remix" not in self._missing:
            path = f"/videos/{quote_id(upstream_id)}/remix"
            try:
                return await self._transport.request(
                    Operation.REMIX, "POST", path, _job, json={"prompt": prompt}
                )
            except RouteMissing:
                log.info("the relay has no /videos/{id}/remix; using /videos/edits instead")
                self._missing.add("remix")
        body = {"prompt": prompt, "video": _reference(upstream_id)}
        return await self._send_or_unsupported(
            "edits", "remix", Operation.REMIX, "/videos/edits", body
        )

    async def extend(self, upstream_id: str, *, prompt: str, seconds: int) -> UpstreamJob:
        """Continue a completed job by ``seconds`` (``POST /videos/extensions``, JSON).

        Costs money: same rule as ``create``. The answer's ``seconds`` is the stitched
        total. A relay without the route raises ``UnsupportedByUpstream``.
        """
        check_id(upstream_id)
        check_prompt(prompt)
        caps = self.capabilities()
        if isinstance(seconds, bool) or seconds not in caps.seconds:
            allowed = seconds_text(caps.seconds, last=" or ")
            raise InvalidInput("seconds", f"The duration must be {allowed} seconds.")
        body = {"prompt": prompt, "seconds": str(seconds), "video": _reference(upstream_id)}
        return await self._send_or_unsupported(
            "extend", "extend", Operation.EXTEND, "/videos/extensions", body
        )

    async def _send_or_unsupported(
        self, route: str, operation: str, op: Operation, path: str, body: dict[str, Any]
    ) -> UpstreamJob:
        """POST ``body`` to ``path``; a missing route is remembered and unsupported."""
        if route in self._missing:
            raise UnsupportedByUpstream(operation, Dialect.OPENAI.value)
        try:
            return await self._transport.request(op, "POST", path, _job, json=body)
        except RouteMissing as exc:
            self._missing.add(route)
            raise UnsupportedByUpstream(operation, Dialect.OPENAI.value) from exc

    async def retrieve(self, upstream_id: str) -> UpstreamJob:
        """The job's current state. Retried on transient failures."""
        check_id(upstream_id)
        path = f"/videos/{quote_id(upstream_id)}"
        return await self._transport.request(Operation.RETRIEVE, "GET", path, _job)

    async def download(
        self,
        upstream_id: str,
        *,
        variant: Variant = "video",
        max_bytes: int,
        dest: Path | None = None,
        result_url: str | None = None,
    ) -> Download:
        """Fetch ``/videos/{id}/content`` into memory, or into ``dest`` (via ``dest.part``).

        Redirects are followed without the key leaving the API's origin; more than
        ``max_bytes`` raises ``ContentTooLarge``; a 404/410 raises ``ContentExpired``; a
        broken transfer is retried from the start (see ``Transport.download``).
        """
        check_id(upstream_id)
        if variant not in ("video", "thumbnail"):
            raise InvalidInput("variant", "The variant must be 'video' or 'thumbnail'.")
        return await self._transport.download(
            f"/videos/{quote_id(upstream_id)}/content",
            params={"variant": variant},
            max_bytes=max_bytes,
            dest=dest,
        )

    async def list_recent(self, *, limit: int) -> list[UpstreamJob]:
        """The most recent jobs, newest first (``GET /videos?limit=&order=desc``).

        Creates nothing; retried like a retrieve. A relay without the route (new-api)
        raises ``UnsupportedByUpstream`` and ``capabilities().can_list`` turns false.
        """
        if "list" in self._missing:
            raise UnsupportedByUpstream("list", Dialect.OPENAI.value)
        params = {"limit": str(max(1, min(MAX_LIST_LIMIT, limit))), "order": "desc"}
        try:
            return await self._transport.request(
                Operation.RETRIEVE, "GET", "/videos", _job_list, params=params
            )
        except RouteMissing as exc:
            self._missing.add("list")
            raise UnsupportedByUpstream("list", Dialect.OPENAI.value) from exc

    async def list_page(self, *, limit: int, after: str | None = None) -> JobPage:
        """One page of ``GET /videos?limit=&order=desc[&after=]``, newest first.

        ``after`` is the last id of the previous page (the spec's cursor). Like
        ``list_recent``: a relay without the route raises ``UnsupportedByUpstream`` and
        ``capabilities().can_list`` turns false.
        """
        if "list" in self._missing:
            raise UnsupportedByUpstream("list", Dialect.OPENAI.value)
        params = {"limit": str(max(1, min(MAX_LIST_LIMIT, limit))), "order": "desc"}
        if after is not None:
            check_id(after)
            params["after"] = after
        try:
            return await self._transport.request(
                Operation.RETRIEVE, "GET", "/videos", _job_page, params=params
            )
        except RouteMissing as exc:
            self._missing.add("list")
            raise UnsupportedByUpstream("list", Dialect.OPENAI.value) from exc

    async def cancel(self, upstream_id: str) -> None:
        """``DELETE /videos/{id}``: the job and its assets are deleted upstream.

        Free and idempotent, so it is retried like a retrieve (``Operation.RETRIEVE``).
        """
        check_id(upstream_id)
        if "delete" in self._missing:
            raise UnsupportedByUpstream("cancel", Dialect.OPENAI.value)
        path = f"/videos/{quote_id(upstream_id)}"
        try:
            await self._transport.request(Operation.RETRIEVE, "DELETE", path, _ignored)
        except RouteMissing as exc:  # new-api and LiteLLM route no DELETE
            self._missing.add("delete")
            raise UnsupportedByUpstream("cancel", Dialect.OPENAI.value) from exc


def _ignored(data: object, headers: Mapping[str, str], secret: str) -> None:
    """An answer whose body the caller does not need (``video.deleted``)."""
