"""Admin tools without Discord: history filters, stats, exports, cancel and retry rules.

The Discord layer (``bot.discord_ui.admin_cog``) parses options into these types, calls
these functions and renders what they return. Everything is scoped to one guild: a task
of another guild is ``NotFound``, exactly like an unknown id.

Money rules: a cancelled task stops being polled; ``bot.services.cancel`` also cancels the
upstream job where the dialect can, else the job may still finish (and be billed) upstream. A retry is a new task
(a new upstream create), refused unless the old task failed and was not retried yet, and
checked against the author's quotas like any submission.
"""

from __future__ import annotations

import csv
import io
import json
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from bot.core.errors import BotError, InvalidInput
from bot.core.models import FINISH_EVENTS, EventKind, TaskEvent, TaskStatus, VideoTask
from bot.services.submission import GenerateOptions, Origin, VideoService
from bot.storage.async_store import AsyncTaskStore
from bot.storage.store import ChainSize, GroupTotal, PickedVideo, TaskStore

ExportFormat = Literal["csv", "jsonl"]

#: Most rows one export may hold (Discord attachments are capped at 10 MiB by default).
EXPORT_MAX_ROWS = 5000
MAX_BANNED_WORDS = 100
MAX_BANNED_WORD_CHARS = 40

#: One letter per status, for compact filter tokens in button ids.
STATUS_CODES = {
    TaskStatus.WAITING: "a",  # "awaiting a slot"
    TaskStatus.SUBMITTING: "s",
    TaskStatus.QUEUED: "q",
    TaskStatus.IN_PROGRESS: "i",
    TaskStatus.COMPLETED: "c",
    TaskStatus.FAILED: "f",
    TaskStatus.CANCELLED: "x",
}
_CODE_STATUS = {code: status for status, code in STATUS_CODES.items()}
_B36 = string.digits + string.ascii_lowercase


class ActionRefused(BotError):
    """An admin action that the task's current state does not allow."""


# --- compact numbers (for button ids) ------------------------------------------------


def to_base36(number: int) -> str:
    """A non-negative integer in base 36 (snowflakes shrink from 19 to 13 characters)."""
    if number < 0:
        raise ValueError("only non-negative numbers")
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _B36[rest] + digits
        if number == 0:
            return digits


def from_base36(text: str) -> int:
    """The inverse of ``to_base36``; raises ``ValueError`` on anything else."""
    if not text or any(ch not in _B36 for ch in text):
        raise ValueError(f"not a base-36 number: {text!r}")
    return int(text, 36)


# --- history filters -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class HistoryFilter:
    """Which tasks of a guild to list; ``since`` inclusive, ``until`` exclusive (UTC)."""

    user_id: int | None = None
    channel_id: int | None = None
    status: TaskStatus | None = None
    since: datetime | None = None
    until: datetime | None = None

    def query(self) -> dict[str, Any]:
        """Keyword arguments for ``TaskStore.guild_history`` / ``count_history``."""
        return {
            "user_id": self.user_id,
            "channel_id": self.channel_id,
            "status": self.status,
            "since": self.since,
            "until": self.until,
        }

    def as_of(self, moment: datetime) -> HistoryFilter:
        """The same filter, ignoring tasks created at or after ``moment``.

        Pages are counted against a fixed moment, so tasks created while someone pages
        through a list do not shift the pages under them.
        """
        until = moment if self.until is None else min(self.until, moment)
        return replace(self, until=until)

    def to_token(self) -> str:
        """A short text form (``[0-9a-z.]``) to carry in a button's ``custom_id``."""
        parts = [
            "" if self.user_id is None else to_base36(self.user_id),
            "" if self.channel_id is None else to_base36(self.channel_id),
            "" if self.status is None else STATUS_CODES[self.status],
            _time_token(self.since),
            _time_token(self.until),
        ]
        return ".".join(parts)

    @classmethod
    def from_token(cls, token: str) -> HistoryFilter:
        """Parse ``to_token``'s output; raises ``ValueError`` on anything else."""
        parts = token.split(".")
        if len(parts) != 5:
            raise ValueError(f"bad filter token {token!r}")
        user, channel, status, since, until = parts
        if status and status not in _CODE_STATUS:
            raise ValueError(f"bad status code {status!r}")
        return cls(
            user_id=from_base36(user) if user else None,
            channel_id=from_base36(channel) if channel else None,
            status=_CODE_STATUS[status] if status else None,
            since=_token_time(since),
            until=_token_time(until),
        )


def _time_token(moment: datetime | None) -> str:
    """Whole seconds, rounded up so an exclusive bound never drops a task."""
    if moment is None:
        return ""
    seconds = moment.timestamp()
    return to_base36(int(seconds) + (0 if seconds == int(seconds) else 1))


def _token_time(text: str) -> datetime | None:
    return datetime.fromtimestamp(from_base36(text), UTC) if text else None


def parse_status(text: str | None) -> TaskStatus | None:
    """A status option's value, or None for "any"."""
    if text is None or not text.strip():
        return None
    try:
        return TaskStatus(text.strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in TaskStatus)
        raise InvalidInput("status", f"Status must be one of: {allowed}.") from None


def parse_day(text: str, field: str) -> date:
    """A ``YYYY-MM-DD`` option value."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        shown = text.strip()[:20].replace("`", "'") or "(empty)"
        raise InvalidInput(
            field, f"`{shown}` is not a date. Use YYYY-MM-DD, e.g. 2025-01-31."
        ) from None


def day_range(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """UTC bounds for "from day A to day B, both included"; either side may be open."""
    start = _midnight(parse_day(since, "since")) if since else None
    end = _midnight(parse_day(until, "until")) + timedelta(days=1) if until else None
    if start is not None and end is not None and start >= end:
        raise InvalidInput("until", "`until` must not be before `since`.")
    return start, end


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# --- cancel ------------------------------------------------------------------------------


def check_cancellable(task: VideoTask) -> None:
    """Raise ``ActionRefused`` unless the poller (or the queue) is working on ``task``."""
    if task.status.is_active or task.status is TaskStatus.WAITING:
        return
    if task.status is TaskStatus.SUBMITTING:
        raise ActionRefused(
            f"Video `{task.id}` is still being sent to the video service; try again in a moment."
        )
    raise ActionRefused(f"Video `{task.id}` is already {task.status.value}; nothing to cancel.")


def _cancel_on_worker(store: TaskStore, guild_id: int, task_id: str, by_user_id: int) -> VideoTask:
    """Check and cancel in one worker job, so the poller cannot finish the task in between."""
    task = store.get_in_guild(task_id, guild_id)
    check_cancellable(task)
    return store.cancel(task.id, by_user_id=by_user_id)


async def cancel_video(store: AsyncTaskStore, task: VideoTask, *, by_user_id: int) -> VideoTask:
    """Stop polling ``task`` and mark it cancelled (no result is posted afterwards)."""
    return await store.call(_cancel_on_worker, task.guild_id, task.id, by_user_id)


# --- retry -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RetryPlan:
    """A failed task that passed every check for a retry; ``parent`` for remixes."""

    old: VideoTask
    parent: VideoTask | None

    def origin(self, card_message_id: int | None = None) -> Origin:
        """The retry runs as the original author (with their name then), in the original channel."""
        return Origin(
            guild_id=self.old.guild_id,
            channel_id=self.old.channel_id,
            user_id=self.old.user_id,
            card_message_id=card_message_id,
            author_name=self.old.author_name,
        )

    @property
    def options(self) -> GenerateOptions:
        """The old task's parameters."""
        return GenerateOptions(model=self.old.model, seconds=self.old.seconds, size=self.old.size)


async def plan_retry(service: VideoService, guild_id: int, video_id: str) -> RetryPlan:
    """Everything that can refuse a retry, before anything is written or posted."""
    old = await service.find_video(guild_id, video_id)
    if old.status is not TaskStatus.FAILED:
        raise ActionRefused(
            f"Video `{old.id}` is {old.status.value}; only a failed video can be retried."
        )
    earlier = await service.store.find_retry(old.id, guild_id=guild_id)
    if earlier is not None:
        raise ActionRefused(
            f"Video `{old.id}` was already retried as `{earlier.id}` ({earlier.status.value})."
        )
    plan = RetryPlan(old=old, parent=None)
    if old.parent_id is None:
        await service.check_generate(plan.origin(), old.prompt, plan.options)
        return plan
    parent = await service.check_remix(plan.origin(), old.parent_id, old.prompt)
    return RetryPlan(old=old, parent=parent)


async def submit_retry(
    service: VideoService, plan: RetryPlan, *, card_message_id: int | None, by_user_id: int
) -> VideoTask:
    """Create and submit the new task, linked by ``metadata.retry_of``; audit it on the old one."""
    origin = plan.origin(card_message_id)
    extra = {"retry_of": plan.old.id, "retried_by": by_user_id}
    if plan.parent is None:
        task = await service.generate(origin, plan.old.prompt, plan.options, metadata_extra=extra)
    else:
        task = await service.remix_of(origin, plan.parent, plan.old.prompt, metadata_extra=extra)
    await service.store.add_event(
        plan.old.id, EventKind.RETRIED, {"new_id": task.id, "by_user_id": by_user_id}
    )
    return task


# --- stats -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GuildStats:
    """What ``/admin stats`` shows for one guild and window."""

    since: datetime | None
    until: datetime | None
    by_status: list[GroupTotal]
    by_model: list[GroupTotal]
    by_user: list[GroupTotal]
    by_day: list[GroupTotal]
    chains: list[ChainSize]
    #: Display names of the members in ``by_user`` (keyed by user id) that have one stored.
    user_names: dict[int, str] = field(default_factory=dict)
    #: Members' picks (⭐) of the videos in the window, and the most-picked of them.
    picks: int = 0
    most_picked: list[PickedVideo] = field(default_factory=list)

    @property
    def count(self) -> int:
        """Tasks in the window."""
        return sum(g.count for g in self.by_status)

    @property
    def seconds(self) -> int:
        """Seconds of video completed in the window."""
        return sum(g.seconds for g in self.by_status)

    @property
    def cost(self) -> float:
        """Estimated cost of the window (every task except cancelled ones)."""
        return round(sum(g.cost for g in self.by_status), 4)


async def gather_stats(
    store: AsyncTaskStore,
    guild_id: int,
    *,
    since: datetime | None,
    until: datetime | None,
    chains: int = 5,
    picked: int = 5,
) -> GuildStats:
    """Counts, seconds and estimated cost by status, model, user and day; the top chains;
    the picks of the window's videos and the ``picked`` most-picked ones."""
    window = {"since": since, "until": until}
    return GuildStats(
        since=since,
        until=until,
        by_status=await store.totals(guild_id, by="status", **window),
        by_model=await store.totals(guild_id, by="model", **window),
        by_user=await store.totals(guild_id, by="user", **window),
        by_day=sorted(await store.totals(guild_id, by="day", **window), key=lambda g: g.key),
        chains=await store.top_chains(guild_id, limit=chains, **window),
        user_names=await store.author_names(guild_id, **window),
        picks=await store.picks_total(guild_id, **window),
        most_picked=await store.most_picked(guild_id, limit=picked, **window),
    )


# --- export ------------------------------------------------------------------------------

EXPORT_FIELDS = (
    "id",
    "created_at",
    "completed_at",
    "status",
    "user_id",
    "channel_id",
    "prompt",
    "model",
    "seconds",
    "size",
    "parent_id",
    "root_id",
    "depth",
    "retry_of",
    "upstream_id",
    "estimated_cost",
    "error_code",
    "error_message",
    "result_link",
    "card_link",
    "deleted_at",
    "deleted_by",
    "rerolled_from",
    "picks",
)
#: Spreadsheet apps run cells starting with these as formulas (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

MessageLink = Callable[[VideoTask, int], str]


def export_row(task: VideoTask, message_link: MessageLink, *, picks: int = 0) -> dict[str, Any]:
    """One task as an export record (ids as strings, so no spreadsheet rounds a snowflake).

    ``picks`` is how many members picked the video (⭐).
    """
    return {
        "id": task.id,
        "created_at": task.created_at.isoformat(),
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
        "status": task.status.value,
        "user_id": str(task.user_id),
        "channel_id": str(task.channel_id),
        "prompt": task.prompt,
        "model": task.model,
        "seconds": task.seconds,
        "size": task.size,
        "parent_id": task.parent_id,
        "root_id": task.root_id,
        "depth": task.depth,
        "retry_of": task.metadata.get("retry_of"),
        "upstream_id": task.upstream_id,
        "estimated_cost": task.estimated_cost,
        "error_code": task.error_code,
        "error_message": task.error_message,
        "result_link": message_link(task, task.result_message_id)
        if task.result_message_id
        else None,
        "card_link": message_link(task, task.card_message_id) if task.card_message_id else None,
        "deleted_at": task.deleted_at.isoformat() if task.deleted_at else None,
        "deleted_by": str(task.deleted_by) if task.deleted_by else None,
        "rerolled_from": task.rerolled_from,
        "picks": picks,
    }


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(rows: Iterable[dict[str, Any]]) -> bytes:
    """CSV with a header row; text that a spreadsheet would run as a formula is quoted with '."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _csv_cell(value) for key, value in row.items()})
    return buffer.getvalue().encode()


def to_jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    """One JSON object per line, values exactly as stored."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


@dataclass(frozen=True, kw_only=True)
class Export:
    """An export file and whether rows were left out."""

    data: bytes
    rows: int
    truncated: bool
    filename: str


async def export_history(
    store: AsyncTaskStore,
    guild_id: int,
    filt: HistoryFilter,
    *,
    fmt: ExportFormat,
    message_link: MessageLink,
    now: datetime,
    max_rows: int = EXPORT_MAX_ROWS,
) -> Export:
    """The filtered history of a guild (newest first) as CSV or JSONL bytes."""
    if fmt not in ("csv", "jsonl"):
        raise InvalidInput("format", "Format must be csv or jsonl.")
    tasks = await store.guild_history(guild_id, **filt.query(), limit=max_rows + 1)
    kept = tasks[:max_rows]
    picks = await store.pick_counts([t.id for t in kept], guild_id=guild_id)
    rows = [export_row(task, message_link, picks=picks.get(task.id, 0)) for task in kept]
    data = to_csv(rows) if fmt == "csv" else to_jsonl(rows)
    filename = f"sora-videos-{guild_id}-{now:%Y%m%d-%H%M%S}.{fmt}"
    return Export(data=data, rows=len(rows), truncated=len(tasks) > max_rows, filename=filename)


# --- task detail -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Timings:
    """When a task reached each stage, from its row and audit trail."""

    created: datetime
    submitted: datetime | None
    started: datetime | None
    finished: datetime | None
    delivered: datetime | None


def timings(task: VideoTask, events: Sequence[TaskEvent]) -> Timings:
    """The stage times of ``task``; missing stages are None."""

    def first(predicate: Callable[[TaskEvent], bool]) -> datetime | None:
        return next((e.at for e in events if predicate(e)), None)

    started = first(
        lambda e: (
            (e.kind == EventKind.STATUS and e.detail.get("to") == TaskStatus.IN_PROGRESS.value)
            or (
                e.kind == EventKind.SUBMITTED
                and e.detail.get("status") == TaskStatus.IN_PROGRESS.value
            )
        )
    )
    finished = first(lambda e: e.kind in FINISH_EVENTS)
    if finished is None and task.status.is_terminal:
        finished = task.completed_at or task.updated_at
    return Timings(
        created=task.created_at,
        submitted=first(lambda e: e.kind == EventKind.SUBMITTED),
        started=started,
        finished=finished,
        delivered=first(lambda e: e.kind == EventKind.DELIVERED),
    )


def format_duration(delta: timedelta) -> str:
    """``1h 02m``, ``3m 05s`` or ``42s``."""
    total = max(0, int(delta.total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def event_line(event: TaskEvent, max_detail: int = 90) -> str:
    """One audit-trail line: ``12:00:03 status {"from": "queued", ...}``."""
    detail = json.dumps(event.detail, sort_keys=True, ensure_ascii=False) if event.detail else ""
    if len(detail) > max_detail:
        detail = detail[: max_detail - 1] + "…"
    return f"{event.at:%H:%M:%S} {event.kind} {detail}".rstrip()


# --- limits ------------------------------------------------------------------------------


def banned_words_after(
    current: Sequence[str], *, add: str | None = None, remove: str | None = None
) -> list[str]:
    """The banned-word list with one word added and/or removed (case-insensitive match)."""
    words = list(current)
    folded = [w.casefold() for w in words]
    if remove is not None:
        target = remove.strip().casefold()
        if target not in folded:
            raise InvalidInput("unban_word", f"`{_shown(remove)}` is not on the banned list.")
        index = folded.index(target)
        del words[index], folded[index]
    if add is not None:
        word = " ".join(add.split())
        if not word:
            raise InvalidInput("ban_word", "The word to ban is empty.")
        if len(word) > MAX_BANNED_WORD_CHARS:
            raise InvalidInput(
                "ban_word", f"A banned word may be at most {MAX_BANNED_WORD_CHARS} characters."
            )
        if word.casefold() in folded:
            raise InvalidInput("ban_word", f"`{_shown(word)}` is already banned.")
        if len(words) >= MAX_BANNED_WORDS:
            raise InvalidInput("ban_word", f"The list is full ({MAX_BANNED_WORDS} words).")
        words.append(word)
    return words


def _shown(text: str) -> str:
    return text.strip()[:MAX_BANNED_WORD_CHARS].replace("`", "'")
