"""Quota checks and the task insert are one transaction: simultaneous /sora cannot both pass.

Realistic set-up: a file-backed database, the real ``AsyncTaskStore`` (writer thread plus
read-only reader thread), the real ``VideoService`` and httpx client against the upstream
emulator. Two submissions of one member (or two members of one guild, for the budget)
are started together with ``asyncio.gather``; with ``max_concurrent_per_user = 1`` (or a
daily cap that fits one video) exactly one must be accepted and the other refused with
the usual text. The "two stores" variant opens a second store on the same file, as a
second process (an admin CLI, a restarted bot overlapping the old one) would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.core.errors import QuotaExceeded
from bot.core.models import VideoTask
from bot.core.poll_policy import PollPolicy
from bot.services.submission import GenerateOptions, Origin, VideoService
from bot.storage.async_store import AsyncTaskStore
from bot.storage.store import Usage
from tests.core_fixtures import CHANNEL, GUILD, ORIGIN, USER, core, core_config
from tests.store_fixtures import GUILD as STORE_GUILD
from tests.store_fixtures import T0, make_task, open_store

OTHER_MEMBER = Origin(guild_id=GUILD, channel_id=CHANNEL, user_id=USER + 1)


@asynccontextmanager
async def services(tmp_path: Path, stores: str, **limits: Any) -> AsyncIterator[list[Any]]:
    """Two services submitting for the same guild: over one store or over two on one file."""
    async with core(tmp_path, config=core_config(**limits)) as c:
        if stores == "one store":
            yield [c, c.service, c.service]
            return
        second = await AsyncTaskStore.open(c.db_path, clock=c.clock)
        try:
            other = VideoService(
                store=second,
                upstream=c.client,
                config=c.service.config,
                policy=PollPolicy(jitter=0),
                clock=c.clock,
            )
            yield [c, c.service, other]
        finally:
            await second.close()


def outcomes(results: list[VideoTask | BaseException]) -> tuple[list[VideoTask], list[str]]:
    """The accepted tasks and the refusal texts; any other outcome fails the test."""
    unexpected = [r for r in results if not isinstance(r, VideoTask | QuotaExceeded)]
    assert not unexpected, unexpected
    accepted = [r for r in results if isinstance(r, VideoTask)]
    return accepted, [str(r) for r in results if isinstance(r, QuotaExceeded)]


@pytest.mark.asyncio
@pytest.mark.parametrize("stores", ["one store", "two stores"])
async def test_two_simultaneous_submissions_cannot_both_pass_the_concurrency_limit(
    tmp_path: Path, stores: str
) -> None:
    # The queue off: the refusal is the proof (test_queue.py covers the queue's own race).
    limits = {"max_concurrent_per_user": 1, "queue": False}
    async with services(tmp_path, stores, **limits) as (c, first, second):
        results = await asyncio.gather(
            first.generate(ORIGIN, "a fox at dawn", GenerateOptions()),
            second.generate(ORIGIN, "a fox at dusk", GenerateOptions()),
            return_exceptions=True,
        )
        accepted, refused = outcomes(results)
        assert len(accepted) == 1, results
        assert refused == ["You have 1 videos in progress (limit 1). Wait for one to finish."]
        assert await c.store.count_history(GUILD) == 1
        assert c.upstream.count("create") == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("stores", ["one store", "two stores"])
async def test_two_simultaneous_submissions_cannot_both_fit_the_daily_seconds(
    tmp_path: Path, stores: str
) -> None:
    async with services(tmp_path, stores, daily_seconds_per_user=8) as (c, first, second):
        results = await asyncio.gather(
            first.generate(ORIGIN, "a kite", GenerateOptions(seconds=8)),
            second.generate(ORIGIN, "a boat", GenerateOptions(seconds=8)),
            return_exceptions=True,
        )
        accepted, refused = outcomes(results)
        assert len(accepted) == 1, results
        assert len(refused) == 1
        assert refused[0].startswith(
            "This would take you to 16s of video today; the daily limit is 8s. It resets <t:"
        )
        assert await c.store.count_history(GUILD) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("stores", ["one store", "two stores"])
async def test_two_members_at_once_cannot_both_spend_the_last_of_the_guild_budget(
    tmp_path: Path, stores: str
) -> None:
    # sora-2 costs 0.10/s: one 4 s video is $0.40 and fits a $0.50 budget, two do not.
    async with services(tmp_path, stores, daily_budget=0.5) as (c, first, second):
        results = await asyncio.gather(
            first.generate(ORIGIN, "a tram", GenerateOptions()),
            second.generate(OTHER_MEMBER, "a train", GenerateOptions()),
            return_exceptions=True,
        )
        accepted, refused = outcomes(results)
        assert len(accepted) == 1, results
        assert len(refused) == 1
        assert refused[0].startswith(
            "This server's daily budget of $0.50 is used up ($0.40 spent). It resets <t:"
        )
        assert await c.store.count_history(GUILD) == 1


class RecordingRefusal:
    """An ``Admission`` that notes the usage it was shown and refuses."""

    since = T0

    def __init__(self) -> None:
        self.seen: list[Usage] = []

    def check(self, usage: Usage) -> None:
        self.seen.append(usage)
        raise QuotaExceeded("no room")


def test_a_refused_admission_sees_the_usage_and_writes_nothing(tmp_path: Path) -> None:
    db, store = open_store(tmp_path / "bot.db")
    first = make_task(store, seconds=8, estimated_cost=0.8)
    refusal = RecordingRefusal()
    with pytest.raises(QuotaExceeded, match="no room"):
        make_task(store, admission=refusal)
    assert refusal.seen == [Usage(running=1, seconds=8, cost=0.8)]
    assert [t.id for t in store.guild_history(STORE_GUILD, limit=10)] == [first.id]
    assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
    assert not db.conn.in_transaction
    db.close()
