"""The REST front door: body parsing, logging, contract checks, faults, rate limits, routing, errors.

Every ``/api/v{9,10}/...`` request goes through ``RestFrontDoor.handle``: it is logged, answered
with the outage page during an outage, checked against the OpenAPI contract (violations recorded
and, in strict mode, rejected with 50035), answered by an injected fault if one matches, counted
against its rate-limit buckets (``ratelimits``; 429 when over), otherwise routed to a handler. Handlers raise
``DiscordError`` for error answers. JSON responses carry exactly ``Content-Type: application/json``
because discord.py only parses bodies with that exact header.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from . import errors
from .contract import NO_BODY
from .core import EmulatorCore, RestCall
from .errors import DiscordError
from .messages import Upload
from .ratelimits import CLOUDFLARE_BAN_PAGE, VIA, RateLimited

log = logging.getLogger(__name__)

JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class ApiRequest:
    """A parsed REST request as handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    uploads: list[Upload]
    headers: dict[str, str] = field(default_factory=dict)

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object ({} when absent); 50109 when it is not an object."""
        if self.body is NO_BODY or self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise errors.invalid_json()
        return self.body

    def snowflake(self, name: str) -> int:
        """A path parameter as an int (404 for non-numbers, like Discord's router)."""
        value = self.params[name]
        if not value.isdigit():
            raise errors.not_found_route()
        return int(value)

    def flag(self, name: str) -> bool:
        """A boolean query parameter (``true``/``1``)."""
        return self.query.get(name, "").lower() in ("1", "true")


Handler = Callable[[ApiRequest], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One implemented endpoint; ``bot_auth`` means it needs ``Authorization: Bot <token>``."""

    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    bot_auth: bool


class Router:
    """Maps (method, path) to handlers; templates use ``{name}`` placeholders."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, *, bot_auth: bool = True) -> None:
        """Register a handler; literal templates are matched before placeholder ones."""
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self._routes.append(Route(method, template, re.compile(regex), handler, bot_auth))
        self._routes.sort(key=lambda r: (r.template.count("{"), -len(r.template)))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for a request; 404 / 405 DiscordErrors otherwise."""
        allowed = False
        for route in self._routes:
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            if route.method == method:
                return route, found.groupdict()
            allowed = True
        raise errors.method_not_allowed() if allowed else errors.not_found_route()


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response with the exact content type discord.py requires."""
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        headers={**JSON_HEADERS, **(headers or {})},
    )


def no_content() -> web.Response:
    """204, as Discord answers deletes and ``wait=false`` webhook posts."""
    return web.Response(status=204)


def error_response(error: DiscordError) -> web.Response:
    """A Discord error body with its status."""
    return json_response(error.body(), status=error.status, headers=error.headers)


def rate_limited_response(limited: RateLimited) -> web.Response:
    """A 429 as API-RL's examples show it."""
    return json_response(limited.body(), status=429, headers=limited.all_headers())


def cloudflare_ban() -> web.Response:
    """The IP ban after too many invalid requests: HTML and no ``Via``, as Cloudflare sends it."""
    return web.Response(status=429, text=CLOUDFLARE_BAN_PAGE, content_type="text/html")


async def read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    """The JSON body (or multipart ``payload_json`` plus ``files[n]``); NO_BODY when empty."""
    if request.content_type == "multipart/form-data":
        return await _read_multipart(request)
    raw = await request.read()
    if not raw:
        return NO_BODY, []
    try:
        return json.loads(raw), []
    except ValueError as exc:
        raise errors.invalid_json() from exc


async def _read_multipart(request: web.Request) -> tuple[Any, list[Upload]]:
    payload: dict[str, Any] = {}
    uploads: list[Upload] = []
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            raise TypeError("nested multipart bodies are not supported")
        name = part.name or ""
        data = await part.read()
        file_index = re.fullmatch(r"files\[(\d+)\]", name)
        if name == "payload_json":
            try:
                payload.update(json.loads(data))
            except ValueError as exc:
                raise errors.invalid_json() from exc
        elif file_index:
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            filename = part.filename or name
            uploads.append(Upload(int(file_index.group(1)), filename, content_type, bytes(data)))
        else:
            payload[name] = data.decode()
    return payload, uploads


class RestFrontDoor:
    """The aiohttp handler for ``/api/v{version}/{tail}``."""

    def __init__(self, core: EmulatorCore, router: Router) -> None:
        self._core = core
        self._router = router

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Log, validate, inject faults, rate-limit, route and turn DiscordErrors into responses."""
        core = self._core
        path = "/" + request.match_info["tail"]
        call = RestCall(request.method, path, 0, core.state.clock(), dict(request.query))
        core.rest_log.append(call)
        try:
            response = await self._answer(request, path, call)
        except DiscordError as exc:
            call.error = exc.body()
            response = error_response(exc)
        except RateLimited as exc:
            call.error = exc.body()
            response = rate_limited_response(exc)
        call.status = response.status
        core.limiter.record_answer(response.status, response.headers.get("X-RateLimit-Scope"))
        if response.content_type != "text/html":
            response.headers.update(VIA)
        self._check_response(request.method, path, response)
        core.changes.notify()
        log.debug("fake discord REST %s %s -> %s", request.method, path, response.status)
        return response

    async def _answer(self, request: web.Request, path: str, call: RestCall) -> web.StreamResponse:
        core = self._core
        body, uploads = await read_body(request)
        call.body = None if body is NO_BODY else body
        if core.outage is not None:
            return core.outage.response()
        self._check_contract(request.method, path, dict(request.query), body)
        injection = core.take_injection(request.method, path)
        if injection is not None and not injection.after_processing:
            status, payload, headers = injection.render()
            return web.Response(status=status, body=payload, headers=headers)
        if core.limiter.banned:
            return cloudflare_ban()
        route, params = self._match(request.method, path)
        authorization = request.headers.get("Authorization")
        if route.bot_auth and authorization != f"Bot {core.bot_token}":
            raise errors.unauthorized()
        identity = authorization or f"ip:{request.remote}"
        bucket_headers = core.limiter.admit(request.method, path, identity)
        api = ApiRequest(
            request.method, path, params, dict(request.query), body, uploads, dict(request.headers)
        )
        try:
            response = await route.handler(api)
        except DiscordError as exc:
            exc.headers = {**bucket_headers, **exc.headers}
            raise
        if injection is not None:  # done, but the answer is lost on the way (an edge's 5xx)
            status, payload, headers = injection.render()
            return web.Response(status=status, body=payload, headers=headers)
        response.headers.update(bucket_headers)
        return response

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        try:
            return self._router.match(method, path)
        except DiscordError:
            self._core.unimplemented.append(f"{method} {path}")
            log.warning("fake discord does not implement %s %s", method, path)
            raise

    def _check_response(self, method: str, path: str, response: web.StreamResponse) -> None:
        contract = self._core.contract
        if contract is None or not isinstance(response, web.Response) or response.status >= 300:
            return
        if response.content_type != "application/json" or not isinstance(response.body, bytes):
            return
        body = json.loads(response.body)
        found = contract.validate_response(method, path, response.status, body)
        self._core.response_violations.extend(str(v) for v in found)

    def _check_contract(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
        contract = self._core.contract
        if contract is None:
            return
        violations = contract.validate(method, path, query, body)
        self._core.contract_violations.extend(str(v) for v in violations)
        rejectable = [v for v in violations if v.location != "route"]
        if rejectable and self._core.strict_contract:
            raise errors.invalid_form_body([v.field_error() for v in rejectable])
