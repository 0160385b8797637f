"""Admin domain logic without Discord: filters, store queries, stats, exports, cancel, retry.

Store queries run against real SQLite; cancel and retry run the real service against the
upstream emulator over HTTP (``tests.core_fixtures``), with a manual clock.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.clock import ManualClock
from bot.core.errors import InvalidInput, NotFound, QuotaExceeded
from bot.core.models import TaskEvent, TaskKind, TaskStatus
from bot.services import admin
from bot.services.admin import ActionRefused, HistoryFilter
from bot.services.submission import GenerateOptions
from tests.core_fixtures import GUILD, ORIGIN, OTHER_GUILD, core, core_config
from tests.store_fixtures import GUILD as GUILD_S
from tests.store_fixtures import OTHER_GUILD as OTHER_GUILD_S
from tests.store_fixtures import T0, USER, drive_to, make_task, open_store

S = TaskStatus
BOB = USER + 1


def link(task, message_id):
    return f"https://discord.test/{task.guild_id}/{task.channel_id}/{message_id}"


# --- filters and parsing -------------------------------------------------------------------


@pytest.mark.parametrize(
    "filt",
    [
        HistoryFilter(),
        HistoryFilter(
            user_id=1_300_000_000_000_000_001,
            channel_id=1_200_000_000_000_000_001,
            status=S.IN_PROGRESS,
            since=datetime(2025, 1, 1, tzinfo=UTC),
            until=datetime(2025, 2, 1, tzinfo=UTC),
        ),
        HistoryFilter(status=S.CANCELLED, until=datetime(2030, 6, 1, 12, 30, tzinfo=UTC)),
    ],
)
def test_filter_token_round_trips_and_fits_a_custom_id(filt):
    token = filt.to_token()
    assert HistoryFilter.from_token(token) == filt
    assert set(token) <= set("0123456789abcdefghijklmnopqrstuvwxyz.")
    assert len(f"sora:pg:adm:999:{token}") <= 100


@pytest.mark.parametrize("token", ["", "a.b", "...Z.", "zz.!.c..", ".....", "-1....", "..w.."])
def test_unreadable_filter_token_is_a_value_error(token):
    with pytest.raises(ValueError):
        HistoryFilter.from_token(token)


def test_as_of_caps_the_window_and_token_rounds_an_exclusive_bound_up():
    moment = datetime(2025, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    capped = HistoryFilter(until=datetime(2030, 1, 1, tzinfo=UTC)).as_of(moment)
    assert capped.until == moment
    earlier = HistoryFilter(until=datetime(2024, 1, 1, tzinfo=UTC)).as_of(moment)
    assert earlier.until == datetime(2024, 1, 1, tzinfo=UTC)
    round_trip = HistoryFilter.from_token(capped.to_token())
    assert round_trip.until == datetime(2025, 1, 1, 12, 0, 1, tzinfo=UTC)


def test_day_range_includes_the_until_day_and_checks_order():
    since, until = admin.day_range("2025-01-02", "2025-01-02")
    assert since == datetime(2025, 1, 2, tzinfo=UTC)
    assert until == datetime(2025, 1, 3, tzinfo=UTC)
    assert admin.day_range(None, None) == (None, None)
    with pytest.raises(InvalidInput, match="must not be before"):
        admin.day_range("2025-01-03", "2025-01-02")
    with pytest.raises(InvalidInput, match="`yesterday` is not a date. Use YYYY-MM-DD"):
        admin.day_range("yesterday", None)


def test_parse_status_accepts_values_and_names_the_choices():
    assert admin.parse_status(" Failed ") is S.FAILED
    assert admin.parse_status(None) is None
    with pytest.raises(InvalidInput, match="in_progress"):
        admin.parse_status("done")


def test_banned_words_add_and_remove_case_insensitively():
    words = admin.banned_words_after(["Gore"], add="  blood   bath ")
    assert words == ["Gore", "blood bath"]
    assert admin.banned_words_after(words, remove="GORE") == ["blood bath"]
    with pytest.raises(InvalidInput, match="already banned"):
        admin.banned_words_after(words, add="gore")
    with pytest.raises(InvalidInput, match="not on the banned list"):
        admin.banned_words_after(words, remove="kittens")
    with pytest.raises(InvalidInput, match="at most 40"):
        admin.banned_words_after(words, add="x" * 41)
    full = [f"w{i}" for i in range(admin.MAX_BANNED_WORDS)]
    with pytest.raises(InvalidInput, match="full"):
        admin.banned_words_after(full, add="one-more")


# --- store queries -------------------------------------------------------------------------


def test_totals_count_seconds_of_completed_and_cost_of_all_but_cancelled():
    clock = ManualClock(T0)
    db, store = open_store(clock=clock)
    drive_to(store, make_task(store, seconds=4, estimated_cost=0.4), S.COMPLETED)
    drive_to(store, make_task(store, seconds=8, estimated_cost=0.8), S.FAILED)
    drive_to(store, make_task(store, seconds=12, estimated_cost=1.2, user_id=BOB), S.CANCELLED)
    clock.advance(86400)
    pro = make_task(store, seconds=4, model="sora-2-pro", estimated_cost=1.2, user_id=BOB)
    drive_to(store, pro, S.COMPLETED)
    make_task(store, guild_id=OTHER_GUILD_S, seconds=12, estimated_cost=9.0)

    by_model = {g.key: g for g in store.totals(GUILD_S, by="model")}
    assert (by_model["sora-2"].count, by_model["sora-2"].seconds) == (3, 4)
    assert by_model["sora-2"].cost == pytest.approx(1.2)
    assert (by_model["sora-2-pro"].count, by_model["sora-2-pro"].seconds) == (1, 4)
    by_user = {g.key: g for g in store.totals(GUILD_S, by="user")}
    assert by_user[str(USER)].count == 2 and by_user[str(BOB)].cost == pytest.approx(1.2)
    by_day = store.totals(GUILD_S, by="day")
    assert sorted(g.key for g in by_day) == ["2025-01-01", "2025-01-02"]
    by_status = {g.key: g.count for g in store.totals(GUILD_S, by="status")}
    assert by_status == {"completed": 2, "failed": 1, "cancelled": 1}
    second_day = store.totals(GUILD_S, by="status", since=T0 + timedelta(days=1))
    assert [(g.key, g.count) for g in second_day] == [("completed", 1)]
    with pytest.raises(ValueError):
        store.totals(GUILD_S, by="prompt; DROP TABLE tasks")
    db.close()


def test_top_chains_and_history_counts_stay_in_their_guild():
    db, store = open_store()
    root = drive_to(store, make_task(store), S.COMPLETED)
    child = drive_to(store, make_task(store, parent=root), S.COMPLETED)
    make_task(store, parent=child)
    make_task(store, parent=root)
    lone = drive_to(store, make_task(store), S.COMPLETED)
    small = drive_to(store, make_task(store), S.COMPLETED)
    make_task(store, parent=small)
    other = drive_to(store, make_task(store, guild_id=OTHER_GUILD_S), S.COMPLETED)
    for _ in range(5):
        make_task(store, guild_id=OTHER_GUILD_S, parent=other)

    chains = store.top_chains(GUILD_S, limit=5)
    assert [(c.root_id, c.tasks, c.depth) for c in chains] == [(root.id, 4, 2), (small.id, 2, 1)]
    assert lone.id not in {c.root_id for c in chains}
    assert store.count_history(GUILD_S) == 7
    assert store.count_history(GUILD_S, status=S.SUBMITTING) == 3
    assert store.count_history(OTHER_GUILD_S) == 6
    db.close()


def test_find_retry_follows_metadata_link():
    db, store = open_store()
    old = drive_to(store, make_task(store), S.FAILED)
    assert store.find_retry(old.id, guild_id=GUILD_S) is None
    new = make_task(store, metadata_extra={"retry_of": old.id})
    assert store.find_retry(old.id, guild_id=GUILD_S) == new
    assert store.find_retry(old.id, guild_id=OTHER_GUILD_S) is None
    db.close()


# --- export --------------------------------------------------------------------------------


def test_export_csv_quotes_formulas_and_jsonl_keeps_values():
    db, store = open_store()
    parent = drive_to(store, make_task(store, prompt='=HYPERLINK("http://x")'), S.COMPLETED)
    child = make_task(store, parent=parent, prompt='a "quoted", comma\nline', estimated_cost=0.4)
    tasks = [store.get(child.id), store.get(parent.id)]
    rows = [admin.export_row(t, link) for t in tasks]

    parsed = list(csv.DictReader(io.StringIO(admin.to_csv(rows).decode())))
    assert list(parsed[0]) == list(admin.EXPORT_FIELDS)
    assert parsed[0]["prompt"] == 'a "quoted", comma\nline'
    assert parsed[0]["parent_id"] == parent.id and parsed[0]["estimated_cost"] == "0.4"
    assert parsed[1]["prompt"] == '\'=HYPERLINK("http://x")'
    assert parsed[1]["user_id"] == str(USER) and parsed[1]["parent_id"] == ""

    lines = admin.to_jsonl(rows).decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert records[1]["prompt"] == '=HYPERLINK("http://x")'
    assert records[0]["parent_id"] == parent.id and records[1]["parent_id"] is None
    db.close()


def test_export_row_links_result_and_card_messages():
    db, store = open_store()
    task = drive_to(store, make_task(store), S.COMPLETED)
    store.set_card_message(task.id, 111)
    store.mark_delivering(task.id)
    store.mark_delivered(task.id, message_id=222, attached=True, result_bytes=10)
    row = admin.export_row(store.get(task.id), link)
    assert row["card_link"].endswith("/111") and row["result_link"].endswith("/222")
    assert row["completed_at"] is not None and row["retry_of"] is None
    db.close()


@pytest.mark.asyncio
async def test_export_history_is_capped_and_says_so(tmp_path):
    async with core(tmp_path) as c:
        for n in range(3):
            await c.service.generate(ORIGIN, f"video {n}", GenerateOptions())
        full = await admin.export_history(
            c.store, GUILD, HistoryFilter(), fmt="jsonl", message_link=link, now=c.clock()
        )
        capped = await admin.export_history(
            c.store, GUILD, HistoryFilter(), fmt="csv", message_link=link, now=c.clock(), max_rows=2
        )
        with pytest.raises(InvalidInput):
            await admin.export_history(
                c.store, GUILD, HistoryFilter(), fmt="xml", message_link=link, now=c.clock()
            )
    assert (full.rows, full.truncated) == (3, False) and full.filename.endswith(".jsonl")
    assert (capped.rows, capped.truncated) == (2, True)
    assert len(capped.data.decode().splitlines()) == 3  # header + 2


# --- cancel and retry ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_cancel_only_running_tasks_of_the_guild(tmp_path):
    async with core(tmp_path) as c:
        running = await c.service.generate(ORIGIN, "a slow sunrise", GenerateOptions())
        cancelled = await admin.cancel_video(c.store, running, by_user_id=BOB)
        assert cancelled.status is S.CANCELLED and cancelled.next_poll_at is None
        events = await c.store.events(running.id)
        assert events[-1].kind == "cancelled" and events[-1].detail["by_user_id"] == BOB
        with pytest.raises(ActionRefused, match="already cancelled"):
            await admin.cancel_video(c.store, cancelled, by_user_id=BOB)
        await c.tick_after(600)
        assert c.upstream.count("retrieve", running.upstream_id) == 0

        foreign = running.replace(guild_id=OTHER_GUILD)
        with pytest.raises(NotFound):
            await admin.cancel_video(c.store, foreign, by_user_id=BOB)


def test_submitting_task_cannot_be_cancelled_yet():
    db, store = open_store()
    task = make_task(store)
    with pytest.raises(ActionRefused, match="still being sent"):
        admin.check_cancellable(task)
    db.close()


@pytest.mark.asyncio
async def test_retry_of_a_failed_video_is_a_linked_new_task_with_the_same_parameters(tmp_path):
    async with core(tmp_path) as c:
        old = await c.service.generate(
            ORIGIN, "a kite", GenerateOptions(model="sora-2-pro", seconds=8, size="720x1280")
        )
        c.upstream.fail(old.upstream_id)
        await c.tick_after(30)
        assert (await c.store.get(old.id)).status is S.FAILED

        plan = await admin.plan_retry(c.service, GUILD, old.id.upper())
        new = await admin.submit_retry(c.service, plan, card_message_id=4242, by_user_id=BOB)
        assert new.id != old.id and new.status is S.QUEUED
        assert (new.prompt, new.model, new.seconds, new.size) == (
            "a kite",
            "sora-2-pro",
            8,
            "720x1280",
        )
        assert (new.user_id, new.channel_id, new.card_message_id) == (
            old.user_id,
            old.channel_id,
            4242,
        )
        assert new.metadata["retry_of"] == old.id and new.kind is TaskKind.GENERATE
        assert c.upstream.jobs[new.upstream_id].seconds == "8"
        assert (await c.store.events(old.id))[-1].kind == "retried"

        with pytest.raises(ActionRefused, match=f"already retried as `{new.id}`"):
            await admin.plan_retry(c.service, GUILD, old.id)
        with pytest.raises(ActionRefused, match="only a failed video"):
            await admin.plan_retry(c.service, GUILD, new.id)
        with pytest.raises(NotFound):
            await admin.plan_retry(c.service, OTHER_GUILD, old.id)


@pytest.mark.asyncio
async def test_retry_of_a_failed_remix_keeps_its_parent(tmp_path):
    async with core(tmp_path) as c:
        parent = await c.service.generate(ORIGIN, "a red boat", GenerateOptions())

        async def parent_done():
            return (await c.store.get(parent.id)).status is S.COMPLETED

        await c.run_until(parent_done)
        parent = await c.store.get(parent.id)
        remix = await c.service.remix(ORIGIN, parent.id, "a red boat on fire")
        c.upstream.fail(remix.upstream_id)
        await c.tick_after(30)

        plan = await admin.plan_retry(c.service, GUILD, remix.id)
        new = await admin.submit_retry(c.service, plan, card_message_id=None, by_user_id=BOB)
        assert new.parent_id == parent.id and new.root_id == parent.id and new.depth == 1
        assert new.kind is TaskKind.REMIX and new.metadata["retry_of"] == remix.id
        assert new.prompt == "a red boat on fire"
        remix_calls = [r for r in c.upstream.requests if r.op == "remix"]
        assert [r.video_id for r in remix_calls] == [parent.upstream_id, parent.upstream_id]


@pytest.mark.asyncio
async def test_retry_is_checked_against_the_authors_quota(tmp_path):
    config = core_config(daily_seconds_per_user=8)
    async with core(tmp_path, config=config) as c:
        old = await c.service.generate(ORIGIN, "a kite", GenerateOptions(seconds=8))
        c.upstream.fail(old.upstream_id)
        await c.tick_after(30)
        with pytest.raises(QuotaExceeded, match="daily limit is 8s"):
            await admin.plan_retry(c.service, GUILD, old.id)
        assert await c.store.count_history(GUILD) == 1


# --- stats and task detail -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_gather_stats_adds_up_per_group(tmp_path):
    async with core(tmp_path) as c:
        done = await c.service.generate(ORIGIN, "one", GenerateOptions(seconds=8))
        await c.service.generate(ORIGIN, "two", GenerateOptions(model="sora-2-pro"))
        c.upstream.finish(done.upstream_id)
        await c.tick_after(30)
        stats = await admin.gather_stats(c.store, GUILD, since=None, until=None)
        empty = await admin.gather_stats(c.store, OTHER_GUILD, since=None, until=None)
    assert stats.count == 2 and stats.seconds == 8
    assert stats.cost == pytest.approx(0.8 + 1.2)
    assert {g.key for g in stats.by_model} == {"sora-2", "sora-2-pro"}
    assert [g.key for g in stats.by_user] == [str(ORIGIN.user_id)]
    assert empty.count == 0 and empty.chains == []


def test_timings_read_the_audit_trail():
    created = T0
    db, store = open_store()
    task = make_task(store)
    db.close()
    events = [
        TaskEvent(
            task_id=task.id,
            at=created + timedelta(seconds=1),
            kind="submitted",
            detail={"status": "queued"},
        ),
        TaskEvent(
            task_id=task.id,
            at=created + timedelta(seconds=30),
            kind="status",
            detail={"to": "in_progress"},
        ),
        TaskEvent(task_id=task.id, at=created + timedelta(seconds=95), kind="completed"),
        TaskEvent(task_id=task.id, at=created + timedelta(seconds=97), kind="delivered"),
    ]
    times = admin.timings(task, events)
    assert times.started - times.submitted == timedelta(seconds=29)
    assert admin.format_duration(times.finished - times.started) == "1m 05s"
    assert admin.format_duration(timedelta(hours=2, minutes=3)) == "2h 03m"
    assert admin.format_duration(times.delivered - times.finished) == "2s"
    line = admin.event_line(events[1])
    assert line == '12:00:30 status {"to": "in_progress"}'
