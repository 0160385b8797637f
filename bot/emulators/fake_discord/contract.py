"""Validate REST requests against Discord's official OpenAPI spec (with known corrections).

Every request the bot makes is matched to a spec operation (method + path template) and its path
parameters, query parameters and JSON body (or a multipart request's ``payload_json``) are checked
with ``jsonschema``. Violations are readable strings for ``emu.contract_violations`` and can also be
turned into a Discord-style 50035 error tree.

Corrections applied to the spec in memory (it is read-only in the repo):

* message ``content`` max length 4000 -> 2000 (4000 is the Nitro limit; bots get 2000);
* snowflakes accept JSON integers as well as strings (discord.py sends ``message_reference.
  message_id`` and new-attachment ids as ints and Discord accepts them);
* field-level error codes are strings, not integers.

The parsed spec is large (600 KB), so ``load_contract`` caches it per path for the whole process.

Validation needs the repo's spec and ``jsonschema`` (a test extra). Without either it is
skipped, logged at DEBUG only: the offline demo of an installed package (no tests folder, no
test extras) has nothing to act on. The test suite does not depend on the warning: its
contract tests (``tests/test_fake_discord.py``) expect violations and fail when it is off.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from .errors import FieldError, PathPart

log = logging.getLogger(__name__)

SPEC_ENV_VAR = "SORA_BOT_DISCORD_OPENAPI"
_REPO_SPEC = Path(__file__).resolve().parents[3] / "tests" / "contracts" / "discord-openapi.json"
_SPEC_URI = "urn:discord-openapi"
_BOT_CONTENT_MAX = 2000
NO_BODY: Any = object()
"""Sentinel for "the request had no body" (``None`` is a valid JSON body)."""


def default_spec_path() -> Path | None:
    """The spec to use: ``$SORA_BOT_DISCORD_OPENAPI`` or the repo's copy, if either exists."""
    candidate = Path(os.environ.get(SPEC_ENV_VAR) or _REPO_SPEC)
    return candidate if candidate.is_file() else None


@dataclass(frozen=True)
class Violation:
    """One way a request broke the contract; ``str()`` gives the readable form."""

    method: str
    route: str
    location: str
    path: tuple[PathPart, ...]
    keyword: str
    detail: str
    limit: Any = None

    def __str__(self) -> str:
        where = self.location + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path
        )
        return f"{self.method} {self.route}: {where}: {self.detail}"

    def field_error(self) -> FieldError:
        """The same problem as a Discord 50035 field error."""
        code, message = _DISCORD_CODES.get(self.keyword, ("BASE_TYPE_INVALID", self.detail))
        return FieldError(self.path, code, message.format(limit=self.limit, detail=self.detail))


_DISCORD_CODES = {
    "maxLength": ("BASE_TYPE_MAX_LENGTH", "Must be {limit} or fewer in length."),
    "maxItems": ("BASE_TYPE_MAX_LENGTH", "Must be {limit} or fewer in length."),
    "minLength": ("BASE_TYPE_MIN_LENGTH", "Must be {limit} or more in length."),
    "minItems": ("BASE_TYPE_MIN_LENGTH", "Must be {limit} or more in length."),
    "required": ("BASE_TYPE_REQUIRED", "This field is required"),
    "enum": ("BASE_TYPE_CHOICES", "Value must be one of {limit}."),
    "maximum": ("NUMBER_TYPE_MAX", "int value should be less than or equal to {limit}."),
    "minimum": ("NUMBER_TYPE_MIN", "int value should be greater than or equal to {limit}."),
}


@dataclass(frozen=True)
class Operation:
    """One spec operation with its compiled path regex and parameter schemas."""

    method: str
    route: str
    pattern: re.Pattern[str]
    path_params: dict[str, dict[str, Any]]
    query_params: dict[str, dict[str, Any]]
    body_schema: dict[str, Any] | None
    body_required: bool
    responses: dict[int, dict[str, Any]]


class ContractSpec:
    """The corrected spec plus everything needed to validate a request quickly."""

    def __init__(self, document: dict[str, Any]) -> None:
        from jsonschema import Draft202012Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        self.document = apply_corrections(document)
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self._registry = Registry().with_resource(_SPEC_URI, resource)
        self._validator_cls = Draft202012Validator
        self._validators: dict[int, tuple[dict[str, Any], Any]] = {}
        self._routes = _compile_routes(self.document["paths"])

    def find(self, method: str, path: str) -> tuple[Operation | None, str | None]:
        """The operation for a request, or (None, route) when only the method is unknown."""
        for route, pattern, operations in self._routes:
            if pattern.fullmatch(path):
                return operations.get(method.lower()), route
        return None, None

    def validate(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = NO_BODY,
    ) -> list[Violation]:
        """Every violation of the contract by this request (empty list when it conforms)."""
        operation, route = self.find(method, path)
        if operation is None:
            detail = "no such route in the spec" if route is None else "method not allowed on route"
            return [Violation(method, route or path, "route", (), "route", detail)]
        match = operation.pattern.fullmatch(path)
        assert match is not None
        violations = self._check_params(operation, "path", match.groupdict(), operation.path_params)
        violations += self._check_params(
            operation, "query", dict(query or {}), operation.query_params
        )
        violations += self._check_body(operation, body)
        return violations

    def validate_response(self, method: str, path: str, status: int, body: Any) -> list[Violation]:
        """Check a successful JSON response against the spec (keeps the emulator honest)."""
        operation, _ = self.find(method, path)
        if operation is None or status not in operation.responses:
            return []
        errors = self.schema_errors(operation.responses[status], body)
        return _describe_all(operation, f"response {status}", errors)

    def schema_errors(self, schema: dict[str, Any], instance: Any) -> list[Any]:
        """Raw jsonschema errors of ``instance`` against a spec (sub)schema."""
        cached = self._validators.get(id(schema))
        if cached is None:
            # keeping the schema alive in the cache keeps its id() from being reused
            cached = (schema, self._validator_cls(schema, registry=self._registry))
            self._validators[id(schema)] = cached
        return list(cached[1].iter_errors(instance))

    def _check_params(
        self,
        operation: Operation,
        location: str,
        values: Mapping[str, str],
        schemas: Mapping[str, dict[str, Any]],
    ) -> list[Violation]:
        violations: list[Violation] = []
        for name, raw in values.items():
            schema = schemas.get(name)
            if schema is None:
                continue  # undeclared query parameters are tolerated, as Discord does
            candidates = list(_coercions(raw))
            if not any(not self.schema_errors(schema, v) for v in candidates):
                typed = next((v for v in candidates if type(v) is int), candidates[-1])
                errors = self.schema_errors(schema, typed)
                violations += _describe_all(operation, location, errors, prefix=(name,))
        return violations

    def _check_body(self, operation: Operation, body: Any) -> list[Violation]:
        if body is NO_BODY or body is None:
            if operation.body_required:
                return [
                    Violation(
                        operation.method,
                        operation.route,
                        "body",
                        (),
                        "required",
                        "request body is required",
                    )
                ]
            return []
        if operation.body_schema is None:
            return []
        errors = self.schema_errors(operation.body_schema, body)
        return _describe_all(operation, "body", errors)


@functools.cache
def load_contract(path: str | None = None) -> ContractSpec | None:
    """Parse and correct the spec once per process; None when no spec file is available."""
    spec_path = Path(path) if path else default_spec_path()
    if spec_path is None or not spec_path.is_file():
        log.debug("Discord OpenAPI spec not found; contract validation is disabled")
        return None
    try:
        import jsonschema  # noqa: F401  (a test extra; the offline demo may run without it)
    except ImportError:
        log.debug("jsonschema is not installed; contract validation is disabled")
        return None
    with spec_path.open(encoding="utf-8") as fh:
        return ContractSpec(json.load(fh))


# --- spec preparation -----------------------------------------------------------------------


def apply_corrections(document: dict[str, Any]) -> dict[str, Any]:
    """Fix the spec's known errors in place (see module docstring) and return it."""
    schemas = document["components"]["schemas"]
    snowflake = schemas["SnowflakeType"]
    schemas["SnowflakeType"] = {"anyOf": [snowflake, {"type": "integer", "minimum": 0}]}
    for schema in _walk_schemas(schemas):
        content = schema.get("properties", {}).get("content")
        if isinstance(content, dict) and content.get("maxLength", 0) > _BOT_CONTENT_MAX:
            content["maxLength"] = _BOT_CONTENT_MAX
    inner = schemas.get("InnerErrors", {}).get("properties", {}).get("_errors")
    if isinstance(inner, dict):
        inner["items"] = {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    return document


def _walk_schemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk_schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_schemas(value)


def _compile_routes(
    paths: dict[str, Any],
) -> list[tuple[str, re.Pattern[str], dict[str, Operation]]]:
    routes = []
    for route, item in paths.items():
        pattern = re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route)))
        operations = {
            method: _operation(method, route, pattern, item, op)
            for method, op in item.items()
            if method != "parameters"
        }
        routes.append((route, pattern, operations))
    # literal segments win over templates: /messages/@original before /messages/{message_id}
    routes.sort(key=lambda r: (r[0].count("{"), -len(r[0])))
    return routes


def _operation(
    method: str, route: str, pattern: re.Pattern[str], item: dict[str, Any], op: dict[str, Any]
) -> Operation:
    params = [*item.get("parameters", []), *op.get("parameters", [])]
    body = op.get("requestBody") or {}
    content = body.get("content", {})
    media = content.get("application/json") or content.get("multipart/form-data") or {}
    return Operation(
        method=method.upper(),
        route=route,
        pattern=pattern,
        path_params={p["name"]: _ref(p["schema"]) for p in params if p.get("in") == "path"},
        query_params={p["name"]: _ref(p["schema"]) for p in params if p.get("in") == "query"},
        body_schema=_ref(media["schema"]) if "schema" in media else None,
        body_required=bool(body.get("required")),
        responses=_success_schemas(op.get("responses", {})),
    )


def _ref(schema: dict[str, Any]) -> dict[str, Any]:
    """A standalone copy of an inline schema whose ``#/...`` refs point into the spec resource."""
    # _rebase maps a dict to a dict of the same JSON shape.
    return cast(dict[str, Any], _rebase(schema))


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (
                f"{_SPEC_URI}{v}"
                if k == "$ref" and isinstance(v, str) and v.startswith("#")
                else _rebase(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


def _success_schemas(responses: dict[str, Any]) -> dict[int, dict[str, Any]]:
    schemas = {}
    for status, response in responses.items():
        media = response.get("content", {}).get("application/json", {})
        if status.isdigit() and 200 <= int(status) < 300 and "schema" in media:
            schemas[int(status)] = _ref(media["schema"])
    return schemas


def _coercions(raw: str) -> Iterator[Any]:
    """Query/path strings as the JSON values they may stand for."""
    yield raw
    if re.fullmatch(r"-?\d+", raw):
        yield int(raw)
    lowered = raw.lower()
    if lowered in ("true", "1"):
        yield True
    if lowered in ("false", "0"):
        yield False


# --- error descriptions ---------------------------------------------------------------------


def _describe_all(
    operation: Operation, location: str, errors: Iterable[Any], prefix: tuple[PathPart, ...] = ()
) -> list[Violation]:
    violations: list[Violation] = []
    for error in errors:
        violations += _describe(operation, location, error, prefix)
    return violations


def _describe(
    operation: Operation, location: str, error: Any, prefix: tuple[PathPart, ...]
) -> list[Violation]:
    if error.validator in ("anyOf", "oneOf") and error.context:
        branch = _likely_branch(error.context)
        return _describe_all(operation, location, branch, prefix)
    path = (*prefix, *error.absolute_path)
    keyword = error.validator
    limit = error.validator_value
    detail = _detail(error)
    if keyword == "required":
        missing = re.match(r"'(.+?)' is a required property", error.message)
        if missing:
            path = (*path, missing.group(1))
    return [Violation(operation.method, operation.route, location, path, keyword, detail, limit)]


def _likely_branch(context: list[Any]) -> list[Any]:
    """Pick the union branch the instance was meant for: the one whose ``type`` matched."""
    branches: dict[Any, list[Any]] = {}
    for err in context:
        branches.setdefault(err.relative_schema_path[0], []).append(err)

    def discriminator_failed(errs: list[Any]) -> bool:
        return any(
            (list(e.relative_path) == ["type"]) or (not e.relative_path and e.validator == "type")
            for e in errs
        )

    plausible = [errs for errs in branches.values() if not discriminator_failed(errs)]
    if len(plausible) == 1:
        return plausible[0]
    from jsonschema.exceptions import best_match

    best = best_match(context)
    return [best] if best is not None else []


def _short(value: Any, width: int = 60) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _detail(error: Any) -> str:
    keyword, limit, instance = error.validator, error.validator_value, error.instance
    if keyword in ("maxLength", "minLength", "maxItems", "minItems"):
        bound = "at most" if keyword.startswith("max") else "at least"
        return f"length {len(instance)} but must be {bound} {limit}"
    if keyword == "type":
        return f"expected {limit}, got {type(instance).__name__} {_short(instance)}"
    if keyword == "pattern":
        return f"{_short(instance)} does not match {limit}"
    if keyword in ("enum", "const"):
        return f"{_short(instance)} is not one of {limit}"
    if keyword == "required":
        return str(error.message)
    return _short(error.message, 200)
