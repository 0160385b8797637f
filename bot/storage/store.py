"""``TaskStore``: the one typed facade over every storage operation (synchronous).

The store is a set of named operations that take and return ``bot.core.models``
objects; no caller sees a row or writes SQL. It is synchronous (its tests need no event
loop); ``bot.storage.async_store.AsyncTaskStore`` is the same operations, awaited.

Layout, by concern (each a mixin of ``@reader`` / ``@writer`` operations):

=====================  ===================================================================
``tasks``              lifecycle: create (with an atomic quota ``Admission``), get,
                       submitted, progress, complete, fail, cancel, poll failures
``claims``             leases on due polls and deliveries, start-up release
``delivery``           posting the outcome exactly once
``cards``              the progress card's message and last edit
``usage``              quota counts and the ``Admission`` protocol
``chains``             children, ancestors and trees, per guild
``history``            filtered history pages, counts, autocomplete, retry links
``queue``              the fair queue of waiting tasks, and taking one out of it
``reports``            status counts, totals, top chains, the audit trail
``picks``              members' picks (⭐) per video, rerolls of a video
``settings``           meta values and guild limits
``upload_limits``      each task's recorded attachment limit, refreshed per guild
``member_defaults``    each member's own /sora defaults, per guild (/settings)
``deletions``          the deleted mark of result posts (the Delete button)
``recent_index``       autocomplete's in-memory window of each guild's newest finished
                       videos (used by ``AsyncTaskStore``; not an operation mixin)
``core`` / ``codec``   connection plumbing and transactions / row encoding
``connection``         ``open_database`` (pragmas, migrations) and ``open_reader``
=====================  ===================================================================

Why mixins rather than composition: callers keep one object with a flat namespace
(``store.get(...)``, ``store.claim_due(...)``) and the async facade is derived from the
very same class-level declarations (``bot.storage.access``), so nothing is listed
twice. Composing sub-stores (``store.tasks.get``) would have changed every call site, or
needed a hand-written delegate per method, which is what this layout removes. The
mixins share no state except one composed ``StoreCore`` (connection, clock, ids and the
``BEGIN IMMEDIATE`` transaction helper), so they cannot step on each other.

Event kinds: created, submitted, status, completed, failed, cancelled, poll_error,
delivery_attempt, delivered, delivery_retry, delivery_failed, card_posted, and any
kind passed to ``add_event``.

Times: every "now" comes from the injected clock, except where a method takes ``now``
(the claim methods, so the scheduler tick and the lease agree). ``updated_at`` is the
time of the last lifecycle or delivery change; card bookkeeping and claim leases do
not touch it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

from bot.core import ids
from bot.core.clock import Clock, utc_now
from bot.core.limits import LIMIT_FIELDS, GuildLimits, Usage
from bot.storage.cards import Cards
from bot.storage.chains import Chains
from bot.storage.claims import Claims
from bot.storage.codec import to_db_time
from bot.storage.connection import BUSY_TIMEOUT_MS, open_database, open_reader
from bot.storage.core import StoreCore
from bot.storage.deletions import Deletions
from bot.storage.delivery import Delivery, IllegalDeliveryTransition
from bot.storage.history import History
from bot.storage.member_defaults import MemberDefaultsStore
from bot.storage.picks import PickedVideo, Picks, PickToggle
from bot.storage.queue import Queue, QueueBlocked
from bot.storage.reports import TOTAL_GROUPS, ChainSize, GroupTotal, Reports
from bot.storage.settings import Settings
from bot.storage.tasks import TaskLifecycle
from bot.storage.upload_limits import UploadLimits
from bot.storage.usage import Admission, Quotas

__all__ = [
    "BUSY_TIMEOUT_MS",
    "LIMIT_FIELDS",
    "TOTAL_GROUPS",
    "Admission",
    "ChainSize",
    "GroupTotal",
    "GuildLimits",
    "IllegalDeliveryTransition",
    "PickToggle",
    "PickedVideo",
    "QueueBlocked",
    "StoreOperations",
    "TaskStore",
    "Usage",
    "open_database",
    "open_reader",
    "to_db_time",
]


class StoreOperations(
    TaskLifecycle,
    Claims,
    Delivery,
    Cards,
    Quotas,
    Chains,
    History,
    Queue,
    Reports,
    Picks,
    Settings,
    UploadLimits,
    MemberDefaultsStore,
    Deletions,
):
    """Every store operation, declared once; ``TaskStore`` and ``AsyncTaskStore`` bind them."""

    __slots__ = ()


class TaskStore(StoreOperations):
    """Named operations on video tasks, their events, meta values and guild limits."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = utc_now,
        id_factory: Callable[[], str] = ids.new_video_id,
    ) -> None:
        self._core = StoreCore(db, clock=clock, id_factory=id_factory)
