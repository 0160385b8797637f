"""Which relay dialect to speak, and the adapter for it: shared by the bot and the harness.

``[upstream] dialect = "auto"`` (the default) detects the dialect with requests that
create nothing (``bot.upstream.detect``) and remembers it in the database per base URL:
the next start with the same base URL speaks the same dialect (in-flight tasks were
created in it) without probing again; a changed base URL is detected afresh. A dialect
named in config is used as it is. The model list (``GET /v1/models``) is read at every
start: it checks the key and says which models the relay serves today.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import httpx

from bot.cli.startup import EXIT_CONFIG, EXIT_REFUSED, EXIT_UNREACHABLE, StartupFailure
from bot.config import ENV_API_BASE, ENV_API_KEY, Config
from bot.core import errors
from bot.core.dialects import AUTO, Dialect
from bot.core.options import OptionsUnavailable
from bot.ops.check_lines import public_url
from bot.services.submission import video_options
from bot.storage.async_store import AsyncTaskStore
from bot.upstream import VideoProvider
from bot.upstream.detect import Detection, NoVideoDialect, probe_dialects
from bot.upstream.factory import ClientSettings, make_provider, make_transport
from bot.upstream.models_list import list_models
from bot.upstream.transport import Transport

log = logging.getLogger(__name__)

#: The meta key that remembers the detected dialect:
#: ``{"base_url": ..., "dialect": ..., "lacks": [...]}``.
DIALECT_META_KEY = "upstream.dialect"


@dataclass(frozen=True, slots=True)
class Remembered:
    """A dialect detected at an earlier start for the same base URL."""

    dialect: Dialect
    lacks: frozenset[str] = frozenset()


def remembered_dialect(value: str | None, base_url: str) -> Remembered | None:
    """The detection stored in ``value`` when it was made for this ``base_url``."""
    try:
        memory = json.loads(value or "null")
        if isinstance(memory, dict) and memory.get("base_url") == base_url:
            lacks = memory.get("lacks") or []
            return Remembered(Dialect(str(memory.get("dialect"))), frozenset(map(str, lacks)))
    except (ValueError, TypeError):
        pass
    return None


async def remember(store: AsyncTaskStore, config: Config, detection: Detection) -> None:
    """Store a fresh detection (a forced dialect is config's, not memory's)."""
    if config.upstream.dialect != AUTO or detection.remembered:
        return
    value = json.dumps(
        {
            "base_url": config.upstream.base_url,
            "dialect": detection.dialect,
            "lacks": sorted(detection.lacks),
        }
    )
    await store.set_meta(DIALECT_META_KEY, value)


def _settings(config: Config, max_retries: int | None) -> ClientSettings:
    up = config.upstream
    return ClientSettings(
        json_timeout=up.request_timeout,
        download_timeout=up.download_timeout,
        max_retries=up.max_retries if max_retries is None else max_retries,
    )


def make_upstream(
    config: Config, http: httpx.AsyncClient, detection: Detection, *, max_retries: int | None = None
) -> VideoProvider:
    """The adapter for the detected (or configured) dialect."""
    up = config.upstream
    return make_provider(
        detection.dialect,
        http,
        base_url=up.base_url,
        api_key=up.api_key.reveal(),
        default_model=up.default_model or None,
        listed_models=detection.listed_models,
        settings=_settings(config, max_retries),
        lacks=detection.lacks,
    )


async def find_dialect(
    config: Config,
    http: httpx.AsyncClient,
    *,
    remembered: Remembered | None,
    max_retries: int | None = None,
) -> Detection:
    """The dialect to speak and the models listed; ``StartupFailure`` says what to fix."""
    up = config.upstream
    transport = make_transport(
        http,
        base_url=up.base_url,
        api_key=up.api_key.reveal(),
        settings=_settings(config, max_retries),
    )
    try:
        models = await _listed_models(config, transport)
    except _RelayFailing as failing:
        if up.dialect == AUTO and remembered is None:
            raise StartupFailure(EXIT_UNREACHABLE, str(failing)) from None
        # The dialect is known: start, and let polls retry while the relay recovers.
        log.warning("%s; starting anyway", failing)
        models = ()
    if up.dialect != AUTO:
        detection = Detection(
            dialect=Dialect(up.dialect), listed_models=models, evidence="set by [upstream] dialect"
        )
    elif remembered is not None:
        detection = Detection(
            dialect=remembered.dialect,
            listed_models=models,
            evidence="detected at an earlier start for this base_url",
            remembered=True,
            lacks=remembered.lacks,
        )
    else:
        detection = await _detect(config, transport, models)
    _check_options(config, http, detection)
    log.info("the relay speaks the %s dialect (%s)", detection.dialect, detection.evidence)
    return detection


async def _listed_models(config: Config, transport: Transport) -> tuple[str, ...]:
    where = public_url(config.upstream.base_url)
    try:
        return await list_models(transport)
    except errors.UpstreamAuthError as exc:
        raise StartupFailure(
            EXIT_REFUSED,
            f"the Videos API at {where} refused the key ({ENV_API_KEY}): {exc.detail or 'HTTP 401'}",
        ) from None
    except errors.UpstreamNotFound as exc:
        raise StartupFailure(EXIT_CONFIG, _no_api_here(where, exc)) from None
    except errors.UpstreamError as exc:
        if (exc.detail or "").startswith("HTTP "):
            raise _RelayFailing(_unreachable(where, exc)) from None
        raise StartupFailure(EXIT_UNREACHABLE, _unreachable(where, exc)) from None


class _RelayFailing(Exception):
    """The relay answers, with errors of its own (5xx, 429): it is there, but failing."""


async def _detect(config: Config, transport: Transport, models: tuple[str, ...]) -> Detection:
    where = public_url(config.upstream.base_url)
    try:
        probes = await probe_dialects(transport, models)
    except errors.UpstreamError as exc:
        raise StartupFailure(EXIT_UNREACHABLE, _unreachable(where, exc)) from None
    spoken = [p for p in probes if p.speaks]
    if not spoken:
        raise StartupFailure(
            EXIT_CONFIG, f"the relay at {where} {NoVideoDialect(probes).detail}; {_FORCE_HINT}"
        )
    found = spoken[0]
    return Detection(
        dialect=found.dialect,
        listed_models=models,
        evidence=found.evidence,
        can_list=found.can_list,
        lacks=found.lacks,
    )


def _check_options(config: Config, http: httpx.AsyncClient, detection: Detection) -> None:
    """Config must name options the dialect offers (else ``/sora`` could offer nothing)."""
    provider = make_upstream(config, http, detection)
    try:
        video_options(config, provider.capabilities())
    except OptionsUnavailable as exc:
        raise StartupFailure(EXIT_CONFIG, str(exc)) from None


_FORCE_HINT = (
    f"check {ENV_API_BASE}, or set [upstream] dialect if your relay speaks one of them "
    "under other names"
)


def _no_api_here(where: str, exc: errors.UpstreamError) -> str:
    return (
        f"there is no OpenAI-compatible API at {where}: GET /models {exc.detail or 'answered 404'}"
        f"; {ENV_API_BASE} usually ends in /v1"
    )


def _unreachable(where: str, exc: errors.UpstreamError) -> str:
    detail = exc.detail or exc.user_message
    if detail.startswith("HTTP "):
        return f"the Videos API at {where} answered {detail}; cannot tell which dialect it speaks"
    _, _, cause = detail.partition(": ")
    return f"cannot reach the Videos API at {where}: {cause or detail}"
