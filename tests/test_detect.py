"""Dialect detection against every emulated dialect, mixes of them, and none.

Each probe must create nothing; a relay serving several dialects gets the richest; one
serving none is a clear error listing what each probe saw, never a guess.
"""

from __future__ import annotations

import dataclasses
import json
from itertools import permutations
from pathlib import Path

import httpx
import pytest

from bot.cli.upstream_setup import DIALECT_META_KEY
from bot.core.dialects import DIALECT_PREFERENCE, Dialect
from bot.emulators.fake_upstream import FakeUpstream
from bot.emulators.harness import BotHarness
from bot.upstream.detect import NoVideoDialect, detect
from bot.upstream.factory import make_transport

pytestmark = pytest.mark.asyncio
KEY = "sk-detect-test-key"


async def detected(*dialects: str, relay: str = "openai") -> tuple[Dialect, FakeUpstream]:
    async with FakeUpstream(api_key=KEY, dialects=dialects, relay=relay) as up:  # type: ignore[arg-type]
        async with httpx.AsyncClient() as http:
            found = await detect(make_transport(http, base_url=up.base_url, api_key=KEY))
    assert up.jobs == {} and {r.method for r in up.requests} == {"GET"}, up.requests
    return found.dialect, up


@pytest.mark.parametrize("dialect", list(Dialect))
async def test_each_dialect_is_detected_and_nothing_is_created(dialect: Dialect):
    found, up = await detected(dialect.value)
    assert found is dialect
    assert up.requests[0].path == "/v1/models"


@pytest.mark.parametrize(
    "served", [pair for pair in permutations([d.value for d in Dialect], 2)], ids=str
)
async def test_a_relay_serving_two_dialects_gets_the_richer(served: tuple[str, str]):
    found, _ = await detected(*served)
    richer = min((Dialect(d) for d in served), key=DIALECT_PREFERENCE.index)
    assert found is richer


@pytest.mark.parametrize("relay", ["openai", "newapi", "litellm"])
async def test_every_videos_api_relay_flavour_is_the_openai_dialect(relay: str):
    found, _ = await detected("openai", relay=relay)
    assert found is Dialect.OPENAI


async def test_a_relay_serving_no_video_dialect_is_an_error_naming_each_probe():
    async with FakeUpstream(api_key=KEY, dialects=()) as up, httpx.AsyncClient() as http:
        with pytest.raises(NoVideoDialect) as caught:
            await detect(make_transport(http, base_url=up.base_url, api_key=KEY))
    assert [p.dialect for p in caught.value.probes] == list(DIALECT_PREFERENCE)
    assert caught.value.detail is not None
    assert caught.value.detail.startswith("speaks none of openai, generations, video-create, chat")
    assert not up.jobs


async def test_the_detected_dialect_is_remembered_and_a_new_base_url_is_detected_afresh(
    tmp_path: Path,
):
    async with BotHarness(tmp_path, upstream_options={"dialects": ("generations",)}) as h:
        assert h.detection is not None and h.detection.dialect is Dialect.GENERATIONS
        assert h.store is not None
        memory = json.loads(await h.store.get_meta(DIALECT_META_KEY) or "{}")
        assert memory == {"base_url": h.upstream.base_url, "dialect": "generations", "lacks": []}

        # The relay learns /v1/videos too: the remembered dialect stays (in-flight tasks
        # were made in it), and no probe is sent again.
        await h.upstream.stop()
        h.upstream.dialects = ("generations", "openai")
        await h.upstream.start()  # same port, so the same base URL
        await h.restart()
        assert h.detection.dialect is Dialect.GENERATIONS and h.detection.remembered
        assert h.upstream.requests[-1].path == "/v1/models"

        # Another base URL is another relay: detected afresh.
        async with FakeUpstream(api_key=h.upstream.api_key, dialects=("chat",)) as other:
            assert h.config is not None
            upstream = dataclasses.replace(h.config.upstream, base_url=other.base_url)
            h.config = dataclasses.replace(h.config, upstream=upstream)
            await h.restart()
            assert h.detection.dialect is Dialect.CHAT and not h.detection.remembered
            memory = json.loads(await h.store.get_meta(DIALECT_META_KEY) or "{}")
            assert memory == {"base_url": other.base_url, "dialect": "chat", "lacks": []}
