"""The recent finished videos of each guild, in memory, for ``/remix`` autocomplete.

Why: ``History.recent_completed`` is a SQLite query on the store's one reader thread,
so during a burst of commands an autocomplete waits behind every quota check, report
and export queued before it (issue 14: p99 23 ms behind 50 quota reads). Discord asks
for choices at every keystroke; the answer should not queue.

What: ``RecentIndex`` holds, per guild, a *window*: the newest ``window`` completed
videos (``created_at DESC, id DESC``, the order of ``recent_completed``) as light
``RecentVideo`` entries (id, prompt, created_at). ``GuildWindow.find`` reproduces
``recent_completed``'s matching exactly (``matcher``): nothing typed lists the newest;
otherwise the id starts with what was typed (a leading ``#`` and backticks dropped) or
the prompt contains it, with SQLite ``LIKE``'s case rule (ASCII letters only) and no
wildcards. When the window cannot prove its answer (fewer matches than asked in a
guild with more videos than the window holds) it says so and the caller asks SQLite.

The window size (2,000) is chosen so that a guild's whole history of the issue's
target size (1,000+ videos) is in memory. A window that cannot tell sends the query to
SQLite (queued like before), and that is the common case for a smaller window: ids are
random over 31 letters, so a 2-character id prefix matches about one video in 961 and a
window of 500 of a 1,200-video guild holds fewer than 25 matches for nearly every id
keystroke or specific word (``bench.autocomplete --window 500``: p95 10.5 ms against
0.7 ms with 2,000). The price of 2,000: a search that matches nothing scans them all,
about 1.3 ms on this 2-core machine. Memory is bounded across guilds by
``budget_bytes`` (16 MiB; an estimate per entry of its prompt plus ~300 bytes of
objects, measured with tracemalloc): the least recently used guilds are dropped first
and reloaded on their next use.

Kept in step (``after_write``): the index is a cache of the database, never the only
copy of anything. ``AsyncTaskStore`` reports every writer job to it on the event loop
before the awaiting caller resumes (so ``await store.complete(...)`` is followed by an
autocomplete that offers the video):

* ``COMPLETING_WRITERS`` can move a task to COMPLETED and return it: the returned
  completed tasks are added to their guild's window;
* ``UNRELATED_WRITERS`` cannot change what autocomplete shows: they never complete a
  task, and COMPLETED is final (``TRANSITIONS``), no writer changes a task's prompt,
  guild or creation time, and no writer deletes task rows. Deleting a result post
  (``mark_result_deleted``, m009) keeps the video offered, as ``recent_completed`` does
  (it can still be remixed);
* anything else (a writer not classified here, ``AsyncTaskStore.call`` of any
  function) empties the index: correct, only slower until rebuilt.

Another process (or an operator's ``sqlite3``) writing to the same file: before each
answer the loop asks ``ChangeProbe`` (``bot.storage.change_probe``: ``PRAGMA
data_version`` of a private connection, ~3 µs) whether a commit happened that this
store's writer did not make; and after each writer job the writer connection's own
``data_version`` (foreign commits only) is compared. Either empties the index.

Built lazily: a guild without a window (first use after a start, or after an
invalidation) is answered by ``recent_completed`` itself, exactly as before the index,
while its window (one query of three columns) loads in the background; so a start with
many guilds reads nothing up front, and the first answer after a change behind the
store's back reads the changed rows. Writes observed while a window loads are replayed
over it; a load that an invalidation overtook is not kept. ``RecentLookup.preload``
loads a window ahead of its first use.
"""

from __future__ import annotations

import asyncio
import bisect
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core.models import TaskStatus, VideoTask
from bot.storage.codec import check_page

#: Completed videos kept per guild (see the module docstring for why 2,000).
DEFAULT_WINDOW = 2000
#: Estimated bytes of all windows together before the least recently used are dropped.
DEFAULT_BUDGET_BYTES = 16 * 1024 * 1024
#: Estimated bytes of one entry besides its prompt (the object, id, datetime, list slots).
ENTRY_OVERHEAD_BYTES = 300

#: Writers that can make a task COMPLETED; each returns the tasks it changed (a list
#: may hold other things too). ``update_progress_many`` (a poll round in one
#: transaction) is being added on another branch; a name that is not a writer is inert.
COMPLETING_WRITERS = frozenset(
    {"mark_submitted", "update_progress", "complete", "update_progress_many"}
)
#: Writers that cannot change what autocomplete shows (see the module docstring).
UNRELATED_WRITERS = frozenset(
    {
        "active_by_upstream_ids",  # being added on another branch (list polling)
        "add_event",
        "cancel",
        "claim_deliveries",
        "claim_due",
        "clear_member_defaults",
        "create_task",
        "delete_meta",
        "fail",
        "interrupted_submissions",
        "mark_card_dead",
        "mark_delivered",
        "mark_delivering",
        "mark_result_deleted",
        "mark_undeliverable",
        "new_video_id",
        "outdate_waiting_cards",
        "record_card_edit",
        "record_poll_failure",
        "refresh_upload_limits",
        "release_claims",
        "release_polls",  # being added on another branch (list polling)
        "retry_delivery",
        "set_card_message",
        "set_limits",
        "set_meta",
        "start_waiting",
        "toggle_pick",
        "update_limits",
        "update_member_defaults",
        "upstream_ids_in_use",
    }
)


@dataclass(frozen=True, slots=True)
class RecentVideo:
    """What autocomplete needs of a finished video."""

    id: str
    prompt: str
    created_at: datetime

    @classmethod
    def of(cls, task: VideoTask) -> RecentVideo:
        """The entry of a task."""
        return cls(task.id, task.prompt, task.created_at)

    @property
    def key(self) -> tuple[datetime, str]:
        """Sort key: ``recent_completed`` lists by ``created_at DESC, id DESC``."""
        return (self.created_at, self.id)

    @property
    def weight(self) -> int:
        """Estimated bytes in memory."""
        return ENTRY_OVERHEAD_BYTES + len(self.prompt)


Matcher = Callable[[RecentVideo], bool]


def matcher(prefix: str) -> Matcher | None:
    """``recent_completed``'s filter for ``prefix`` in Python; None when nothing is typed.

    SQLite's ``LIKE`` folds the case of ASCII letters only (``re.ASCII`` with
    ``re.IGNORECASE`` does the same); the id part is lowered by Python first, as the SQL
    path does before building its pattern.
    """
    needle = prefix.strip()
    if not needle:
        return None
    id_part = needle.lower().removeprefix("#").strip("`")
    id_start = re.compile(re.escape(id_part), re.IGNORECASE | re.ASCII).match
    in_prompt = re.compile(re.escape(needle), re.IGNORECASE | re.ASCII).search
    return lambda video: id_start(video.id) is not None or in_prompt(video.prompt) is not None


@dataclass
class GuildWindow:
    """One guild's newest completed videos, oldest first (``entries[-1]`` is the newest).

    ``complete``: the window holds every completed video of the guild, so a search that
    finds fewer than asked is still the whole answer.
    """

    capacity: int
    complete: bool
    entries: list[RecentVideo] = field(default_factory=list)
    keys: list[tuple[datetime, str]] = field(default_factory=list)
    weight: int = 0

    @classmethod
    def from_newest(cls, newest_first: list[RecentVideo], capacity: int) -> GuildWindow:
        """A window from a query's rows, newest first (one more than ``capacity`` if any)."""
        kept = list(reversed(newest_first[:capacity]))
        window = cls(capacity, complete=len(newest_first) <= capacity, entries=kept)
        window.keys = [v.key for v in kept]
        window.weight = sum(v.weight for v in kept)
        return window

    def add(self, video: RecentVideo) -> int:
        """Put a newly completed video in its place; returns the change in ``weight``."""
        at = bisect.bisect_left(self.keys, video.key)
        if at < len(self.keys) and self.keys[at] == video.key:
            return 0  # already here (a replayed or repeated observation)
        if at == 0 and not self.complete and self.entries:
            return 0  # older than the window's oldest: outside the window
        before = self.weight
        self.entries.insert(at, video)
        self.keys.insert(at, video.key)
        self.weight += video.weight
        if len(self.entries) > self.capacity:
            self.weight -= self.entries.pop(0).weight
            self.keys.pop(0)
            self.complete = False
        return self.weight - before

    def find(self, match: Matcher | None, limit: int) -> list[RecentVideo] | None:
        """Up to ``limit`` matches, newest first; None when only SQLite can tell."""
        found: list[RecentVideo] = []
        if limit == 0:
            return found
        for video in reversed(self.entries):
            if match is None or match(video):
                found.append(video)
                if len(found) == limit:
                    return found
        return found if self.complete else None


def tasks_in(result: Any) -> Iterable[VideoTask]:
    """The tasks a writer returned (one, or a list or tuple of them)."""
    if isinstance(result, VideoTask):
        return (result,)
    if isinstance(result, list | tuple):
        return (item for item in result if isinstance(item, VideoTask))
    return ()


class RecentIndex:
    """Every guild's window, the writes that keep them in step, and their memory bound.

    Used from the event loop only (``AsyncTaskStore`` hands writes over with
    ``call_soon_threadsafe``), so it needs no lock.
    """

    def __init__(
        self,
        *,
        window: int = DEFAULT_WINDOW,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        data_version: int | None = None,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self.budget_bytes = budget_bytes
        self.invalidations = 0
        self._windows: OrderedDict[int, GuildWindow] = OrderedDict()
        self._weight = 0
        self._loading: dict[int, list[RecentVideo]] = {}
        self._epoch = 0
        self._data_version = data_version

    @property
    def weight(self) -> int:
        """Estimated bytes held by every window together."""
        return self._weight

    def guilds(self) -> list[int]:
        """The guilds with a window, least recently used first."""
        return list(self._windows)

    def get(self, guild_id: int) -> GuildWindow | None:
        """The guild's window if it is built (it becomes the most recently used)."""
        window = self._windows.get(guild_id)
        if window is not None:
            self._windows.move_to_end(guild_id)
        return window

    def begin_load(self, guild_id: int) -> int:
        """A window is being read from SQLite: note completions until it lands."""
        self._loading.setdefault(guild_id, [])
        return self._epoch

    def abandon_load(self, guild_id: int) -> None:
        """The read failed: stop noting completions for it."""
        self._loading.pop(guild_id, None)

    def finish_load(
        self, guild_id: int, epoch: int, newest_first: list[RecentVideo]
    ) -> GuildWindow:
        """The window read from SQLite, with the completions noted meanwhile; kept unless
        an invalidation happened since ``begin_load`` returned ``epoch``."""
        window = GuildWindow.from_newest(newest_first, self.window)
        for video in self._loading.pop(guild_id, []):
            window.add(video)
        if epoch == self._epoch:
            replaced = self._windows.pop(guild_id, None)
            self._weight -= 0 if replaced is None else replaced.weight
            self._windows[guild_id] = window
            self._weight += window.weight
            self._evict(keep=guild_id)
        return window

    def add(self, task: VideoTask) -> None:
        """A task was written: a completed one joins its guild's window (if built)."""
        if task.status is not TaskStatus.COMPLETED:
            return
        video = RecentVideo.of(task)
        noted = self._loading.get(task.guild_id)
        if noted is not None:
            noted.append(video)
        window = self._windows.get(task.guild_id)
        if window is not None:
            self._weight += window.add(video)
            self._evict(keep=task.guild_id)

    def invalidate(self) -> None:
        """Forget every window (they are rebuilt from SQLite on their next use)."""
        self.invalidations += 1
        self._epoch += 1
        self._windows.clear()
        self._loading.clear()
        self._weight = 0

    def after_write(self, op_name: str | None, result: Any, data_version: int | None) -> None:
        """One writer job finished (``op_name`` None: an ``AsyncTaskStore.call``)."""
        if data_version != self._data_version:
            if self._data_version is not None:
                self.invalidate()  # another connection wrote to the file
            self._data_version = data_version
        if op_name in UNRELATED_WRITERS:
            return
        if op_name in COMPLETING_WRITERS:
            for task in tasks_in(result):
                self.add(task)
            return
        self.invalidate()

    def _evict(self, *, keep: int) -> None:
        while self._weight > self.budget_bytes and len(self._windows) > 1:
            oldest = next(iter(self._windows))
            if oldest == keep:
                self._windows.move_to_end(keep)
                continue
            self._weight -= self._windows.pop(oldest).weight


LoadRows = Callable[[int, int], Awaitable[list[RecentVideo]]]
AskSQLite = Callable[[int, str, int], Awaitable[list[VideoTask]]]


def _never() -> bool:
    return False


class RecentLookup:
    """Autocomplete's answers: from the index when it can tell, from SQLite otherwise.

    ``load_rows(guild_id, n)`` reads the newest ``n`` completed videos of a guild;
    ``ask_sqlite(guild_id, prefix, limit)`` is ``recent_completed`` itself;
    ``changed()`` says whether another connection committed since it last said so
    (``ChangeProbe.changed``). A guild without a window (first use, or after an
    invalidation) is answered by SQLite, exactly as before the index, while its window
    loads in the background: so the first answer after a change behind the store's back
    reads the changed rows themselves.
    """

    def __init__(
        self,
        index: RecentIndex,
        load_rows: LoadRows,
        ask_sqlite: AskSQLite,
        changed: Callable[[], bool] = _never,
    ) -> None:
        self.index = index
        self.fallbacks = 0
        self.cold = 0
        self._load_rows = load_rows
        self._ask_sqlite = ask_sqlite
        self._changed = changed
        self._loads: dict[int, asyncio.Task[GuildWindow]] = {}

    async def find(self, guild_id: int, *, prefix: str = "", limit: int = 25) -> list[RecentVideo]:
        """What ``recent_completed(guild_id, prefix=prefix, limit=limit)`` lists, as entries."""
        check_page(limit)
        if self._changed():
            self.index.invalidate()
        window = self.index.get(guild_id)
        if window is None:
            self.cold += 1
            self._load(guild_id)
        else:
            found = window.find(matcher(prefix), limit)
            if found is not None:
                return found
            self.fallbacks += 1
        return [RecentVideo.of(t) for t in await self._ask_sqlite(guild_id, prefix, limit)]

    async def preload(self, guild_id: int) -> None:
        """Load the guild's window now (e.g. when the bot sees the guild after a start), so
        its first autocomplete is answered from memory."""
        if self.index.get(guild_id) is None:
            await asyncio.shield(self._load(guild_id))

    async def aclose(self) -> None:
        """Stop the loads in flight (the store is closing)."""
        loads = list(self._loads.values())
        for load in loads:
            load.cancel()
        await asyncio.gather(*loads, return_exceptions=True)

    def _load(self, guild_id: int) -> asyncio.Task[GuildWindow]:
        """The guild's window being read, once however many ask at the same time."""
        load = self._loads.get(guild_id)
        if load is None:
            load = asyncio.ensure_future(self._read(guild_id))
            self._loads[guild_id] = load
            load.add_done_callback(lambda done: self._loaded(guild_id, done))
        return load

    async def _read(self, guild_id: int) -> GuildWindow:
        epoch = self.index.begin_load(guild_id)
        try:
            rows = await self._load_rows(guild_id, self.index.window + 1)
        except BaseException:
            self.index.abandon_load(guild_id)
            raise
        return self.index.finish_load(guild_id, epoch, rows)

    def _loaded(self, guild_id: int, done: asyncio.Task[GuildWindow]) -> None:
        if self._loads.get(guild_id) is done:
            del self._loads[guild_id]
        if not done.cancelled():
            done.exception()  # retrieved: a failed load is retried on the next use
