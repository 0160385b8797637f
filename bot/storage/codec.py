"""Rows <-> models: how a ``VideoTask`` is written to and read from the ``tasks`` table.

Datetimes are fixed-width ISO-8601 UTC text (so text order is time order), metadata is
sorted JSON, booleans are 0/1/NULL and enums are their values. ``retry_of`` and
``rerolled_from`` are columns of their own (indexed, for ``find_retry`` and ``rerolls_of``)
copied from the same keys of ``metadata`` on insert; the model keeps carrying them in its
metadata only, so they are not ``COLUMNS``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.core.errors import parse_failure_code
from bot.core.lineage import LineageTask
from bot.core.models import ACTIVE_STATUSES, DeliveryState, TaskKind, TaskStatus, VideoTask

#: The ``tasks`` columns that map one-to-one onto ``VideoTask`` fields.
COLUMNS = tuple(f.name for f in dataclasses.fields(VideoTask))
#: Columns the store keeps next to the model's fields (derived from them on insert).
DERIVED_COLUMNS = ("retry_of", "rerolled_from")
SELECT = f"SELECT {', '.join(COLUMNS)} FROM tasks"
_INSERTED = (*COLUMNS, *DERIVED_COLUMNS)
INSERT = f"INSERT INTO tasks ({', '.join(_INSERTED)}) VALUES ({', '.join('?' for _ in _INSERTED)})"
DATETIME_COLUMNS = frozenset(
    {
        "created_at",
        "updated_at",
        "completed_at",
        "next_poll_at",
        "card_edited_at",
        "next_delivery_at",
        "deleted_at",
    }
)
#: Statuses the poller works on, and those plus SUBMITTING (a member's unfinished tasks).
ACTIVE = tuple(s.value for s in sorted(ACTIVE_STATUSES))
NOT_TERMINAL = (*ACTIVE, TaskStatus.SUBMITTING.value)
#: Tasks in the fair queue (not sent upstream yet, not counted as running).
WAITING = TaskStatus.WAITING.value


def to_db_time(dt: datetime) -> str:
    """Encode an aware datetime as fixed-width ISO-8601 UTC text (sortable as text)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: the store only accepts aware values")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str | None) -> datetime | None:
    """Decode ``to_db_time``'s text (None stays None)."""
    return None if text is None else datetime.fromisoformat(text)


def encode(column: str, value: Any) -> Any:
    """One model value as the column stores it."""
    if value is None:
        return None
    if column in DATETIME_COLUMNS:
        return to_db_time(value)
    if column == "metadata":
        return json.dumps(value, sort_keys=True)
    if column == "result_attached":
        return int(bool(value))
    if column in ("status", "delivery_state", "card_status"):
        return str(value)
    return value


def insert_row(task: VideoTask) -> list[Any]:
    """The parameters of ``INSERT`` for a new task (model columns, then derived ones)."""
    derived = [task.metadata.get(column) for column in DERIVED_COLUMNS]
    return [*(encode(c, getattr(task, c)) for c in COLUMNS), *derived]


def decode(row: Mapping[str, Any]) -> VideoTask:
    """A ``SELECT`` row as a ``VideoTask``."""
    values = dict(row)
    for column in DATETIME_COLUMNS:
        values[column] = from_db_time(values[column])
    values["status"] = TaskStatus(values["status"])
    values["delivery_state"] = DeliveryState(values["delivery_state"])
    values["error_code"] = parse_failure_code(values["error_code"])
    values["card_status"] = values["card_status"] and TaskStatus(values["card_status"])
    values["metadata"] = json.loads(values["metadata"] or "{}")
    attached = values["result_attached"]
    values["result_attached"] = None if attached is None else bool(attached)
    return VideoTask(**values)


#: ``LineageTask``'s fields, in order, as ``tasks`` expressions: the columns a tree line
#: shows, with the task's kind and reroll source read from its metadata by SQLite.
LINEAGE_SELECT = (
    "SELECT id, guild_id, channel_id, user_id, author_name, prompt, seconds, status,"
    " parent_id, root_id, depth, created_at, json_extract(metadata, '$.type'),"
    " CASE WHEN json_type(metadata, '$.rerolled_from') = 'text'"
    " THEN json_extract(metadata, '$.rerolled_from') END,"
    " result_message_id, card_message_id, deleted_at IS NOT NULL FROM tasks"
)
_STATUSES = {status.value: status for status in TaskStatus}
_KINDS = {kind.value: kind for kind in TaskKind}


def decode_lineage(row: tuple[Any, ...]) -> LineageTask:
    """A ``LINEAGE_SELECT`` row as a ``LineageTask`` (the same values ``decode`` gives)."""
    (id_, guild, channel, user, author, prompt, seconds, status, parent, root, depth,
     created, kind, rerolled, result_message, card_message, deleted) = row  # fmt: skip
    return LineageTask(
        id_,
        guild,
        channel,
        user,
        author,
        prompt,
        seconds,
        _STATUSES.get(status) or TaskStatus(status),
        parent,
        root,
        depth,
        datetime.fromisoformat(created),
        _KINDS.get(kind) or TaskKind(kind or TaskKind.GENERATE),
        rerolled,
        result_message,
        card_message,
        bool(deleted),
    )


def encode_detail(detail: Mapping[str, Any]) -> str:
    """An event's detail as JSON text (values that are not JSON become strings)."""
    return json.dumps(dict(detail), sort_keys=True, default=str)


def like_escape(text: str) -> str:
    """Escape LIKE wildcards so user text matches literally (with ``ESCAPE '\\'``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def clamp_progress(progress: int) -> int:
    """Progress as a percentage in 0..100."""
    return max(0, min(100, int(progress)))


def check_page(limit: int, offset: int = 0) -> None:
    """Refuse negative page bounds (SQLite would read them as "no limit")."""
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")


def marks(values: tuple[str, ...] | list[str]) -> str:
    """``?, ?, ?`` for an ``IN (...)`` over ``values``."""
    return ", ".join("?" for _ in values)
