"""Which dialect a relay speaks, found with requests that create nothing.

``GET /v1/models`` first (it checks the key, and its ids name the video models), then
each adapter's ``probe`` in ``DIALECT_PREFERENCE`` order — richest first, so a relay that
serves several dialects (new-api serves ``/v1/videos`` and ``/v1/video/generations``)
gets the one that can remix and list. A relay that speaks none is an error that lists
what each probe saw, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.dialects import DIALECT_PREFERENCE, Dialect
from bot.core.errors import BotError
from bot.upstream.factory import ADAPTERS
from bot.upstream.models_list import list_models
from bot.upstream.transport import Transport
from bot.upstream.values import DialectProbe


class NoVideoDialect(BotError):
    """The relay answers, but speaks none of the dialects; ``probes`` say what each saw."""

    def __init__(self, probes: tuple[DialectProbe, ...]) -> None:
        self.probes = probes
        seen = "; ".join(f"{p.dialect}: {p.evidence}" for p in probes)
        super().__init__("The video relay speaks none of the video dialects the bot knows.")
        self.detail = f"speaks none of {', '.join(d.value for d in DIALECT_PREFERENCE)} ({seen})"


@dataclass(frozen=True, kw_only=True, slots=True)
class Detection:
    """The dialect chosen for a relay, the models it lists, and why."""

    dialect: Dialect
    listed_models: tuple[str, ...]
    evidence: str
    can_list: bool = False
    remembered: bool = False  # taken from an earlier start's detection
    lacks: frozenset[str] = frozenset()  # operations the probe showed missing


async def probe_dialects(
    transport: Transport, listed_models: tuple[str, ...]
) -> tuple[DialectProbe, ...]:
    """Probe in preference order, stopping at the first dialect the relay speaks."""
    probes: list[DialectProbe] = []
    for dialect in DIALECT_PREFERENCE:
        adapter = ADAPTERS.get(dialect)
        if adapter is None:
            continue
        probe = await adapter.probe(transport, listed_models)
        probes.append(probe)
        if probe.speaks:
            break
    return tuple(probes)


async def detect(transport: Transport) -> Detection:
    """List the models, then find the richest dialect spoken.

    ``UpstreamAuthError`` for a refused key, ``UpstreamNotFound`` when there is no
    OpenAI-compatible API at the address, ``NoVideoDialect`` when none is spoken.
    """
    return await detect_with_models(transport, await list_models(transport))


async def detect_with_models(transport: Transport, models: tuple[str, ...]) -> Detection:
    """``detect`` once the model list is known."""
    probes = await probe_dialects(transport, models)
    spoken = [p for p in probes if p.speaks]
    if not spoken:
        raise NoVideoDialect(probes)
    found = spoken[0]
    return Detection(
        dialect=found.dialect,
        listed_models=models,
        evidence=found.evidence,
        can_list=found.can_list,
        lacks=found.lacks,
    )
