"""Submitting videos: validation, quotas, the task row, and the one upstream create.

The Discord layer calls these with plain values (ids, strings) and renders the
returned ``VideoTask``; nothing here knows about Discord.

The money rule: the task row is written (``submitting``) before the upstream
create is sent, and the create is sent once. If the answer is lost the task is
failed, never re-sent (see ``bot.upstream.failures`` for the only retries allowed).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from bot.config import Config
from bot.core import errors
from bot.core.clock import Clock, utc_now
from bot.core.ids import normalize_video_id
from bot.core.images import check_reference_image
from bot.core.limits import SubmissionQuota, day_window, estimate_cost
from bot.core.lineage import check_remixable, inherit_parameters
from bot.core.member_defaults import EffectiveDefaults, MemberDefaults, effective_defaults
from bot.core.models import TaskKind, TaskStatus, VideoTask
from bot.core.options import VideoOptions, Wanted, offer
from bot.core.poll_policy import PollPolicy
from bot.core.prompts import clean_prompt
from bot.services.quotas import configured_limits, refuse_unless_allowed
from bot.storage.async_store import AsyncTaskStore
from bot.storage.usage import AdmissionFacts
from bot.upstream import ReferenceImage, UpstreamJob, VideoCapabilities, VideoProvider

log = logging.getLogger(__name__)

#: Most sibling remixes one /remix may create.
MAX_VARIANTS = 4


@dataclass(frozen=True, kw_only=True)
class Origin:
    """Where a request came from in Discord (plain ids, so the core stays Discord-free).

    ``author_name`` is the member's display name as Discord sent it with the request;
    the task keeps it, so what is shown later needs no member lookup. ``upload_limit``
    is the largest file the bot may attach to its own posts in the guild, as the guild
    said at submission (None: not known); the task keeps it for its result post.
    """

    guild_id: int
    channel_id: int
    user_id: int
    card_message_id: int | None = None
    author_name: str | None = None
    upload_limit: int | None = None


@dataclass(frozen=True, kw_only=True)
class GenerateOptions:
    """The user's choices for a new video; None means the member's default (``/settings``),
    else the configured one."""

    model: str | None = None
    seconds: int | None = None
    size: str | None = None
    reference: ReferenceImage | None = None


def video_options(config: Config, caps: VideoCapabilities) -> VideoOptions:
    """The relay's models, seconds and sizes narrowed by ``[upstream]`` config.

    ``OptionsUnavailable`` when config names nothing the relay offers.
    """
    up = config.upstream
    wanted = Wanted(
        models=up.models,
        seconds=up.seconds,
        sizes=up.sizes,
        default_model=up.default_model,
        default_seconds=up.default_seconds,
        default_size=up.default_size,
    )
    return offer(
        models=caps.models,
        seconds=caps.seconds,
        sizes=caps.sizes,
        wanted=wanted,
        relay=f"the {caps.dialect} dialect",
    )


class VideoService:
    """Creates generate and remix tasks."""

    def __init__(
        self,
        *,
        store: AsyncTaskStore,
        upstream: VideoProvider,
        config: Config,
        policy: PollPolicy | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.upstream = upstream
        self.config = config
        self.policy = policy or PollPolicy()
        self.clock = clock
        #: What ``/sora`` offers: the relay's dialect narrowed by config.
        self.options = video_options(config, upstream.capabilities())

    # --- lookups ---------------------------------------------------------------

    async def find_video(self, guild_id: int, video_id: str) -> VideoTask:
        """The task with this id in this guild; ``NotFound`` otherwise (also for other guilds)."""
        normalized = normalize_video_id(video_id)
        if normalized is None:
            shown = video_id.strip()[:20] or "(empty)"
            raise errors.InvalidInput(
                "video_id", f"`{_escape_code(shown)}` is not a video id. Ids look like `k7q2mx`."
            )
        return await self.store.get_in_guild(normalized, guild_id)

    @property
    def can_remix(self) -> bool:
        """Whether the relay's dialect can remix (else ``/remix`` is refused, sending nothing)."""
        return self.upstream.capabilities().can_remix

    @property
    def can_extend(self) -> bool:
        """Whether the relay's dialect can extend a video (else ``/extend`` is not offered)."""
        return self.upstream.capabilities().can_extend

    def _require(self, operation: str, offered: bool) -> None:
        if not offered:
            raise errors.UnsupportedByUpstream(operation, self.upstream.capabilities().dialect)

    async def find_remix_parent(self, guild_id: int, video_id: str) -> VideoTask:
        """A completed video of this guild that may be remixed (by a relay that can)."""
        self._require("remix", self.can_remix)
        parent = await self.find_video(guild_id, video_id)
        check_remixable(parent, guild_id)
        return parent

    # --- submissions -----------------------------------------------------------

    def resolve_options(self, options: GenerateOptions) -> tuple[str, int, str]:
        """Model, seconds and size after the server's defaults, checked against the offer."""
        return self.options.resolve(options.model, options.seconds, options.size)

    async def defaults_for(self, guild_id: int, user_id: int) -> EffectiveDefaults:
        """What an option left out of ``/sora`` becomes for this member (``/settings``)."""
        saved = await self.store.get_member_defaults(guild_id, user_id)
        return effective_defaults(self.options, saved)

    async def resolve_for(self, origin: Origin, options: GenerateOptions) -> tuple[str, int, str]:
        """Model, seconds and size after the member's defaults (where still offered), then
        the server's; checked against what is offered."""
        saved = await self.store.get_member_defaults(origin.guild_id, origin.user_id)
        return self._resolved(saved, options)

    def _resolved(self, saved: MemberDefaults, options: GenerateOptions) -> tuple[str, int, str]:
        mine = effective_defaults(self.options, saved)
        return self.options.resolve(
            mine.model if options.model is None else options.model,
            mine.seconds if options.seconds is None else options.seconds,
            mine.size if options.size is None else options.size,
        )

    @property
    def max_reference_bytes(self) -> int:
        """The largest reference image accepted."""
        return int(self.config.upstream.max_reference_image_mb * 1048576)

    async def check_generate(self, origin: Origin, prompt: str, options: GenerateOptions) -> str:
        """Everything that can refuse a new video before anything is written; returns the clean prompt."""
        text = clean_prompt(prompt)
        facts = await self._facts(origin)
        model, seconds, _size = self._resolved(facts.defaults, options)
        self._admission(facts, origin, text, model, seconds, can_wait=options.reference is None)
        return text

    async def check_remix(
        self, origin: Origin, video_id: str, prompt: str, *, variants: int = 1
    ) -> VideoTask:
        """Everything that can refuse a remix before anything is written; returns the parent."""
        text = clean_prompt(prompt)
        if not 1 <= variants <= MAX_VARIANTS:
            raise errors.InvalidInput("variants", f"Variants must be between 1 and {MAX_VARIANTS}.")
        parent = await self.find_remix_parent(origin.guild_id, video_id)
        params = inherit_parameters(parent)
        await self._admit(
            origin, text, params["model"], params["seconds"] * variants, count=variants
        )
        return parent

    async def generate(
        self,
        origin: Origin,
        prompt: str,
        options: GenerateOptions,
        *,
        metadata_extra: dict[str, Any] | None = None,
    ) -> VideoTask:
        """Validate, check quotas, record and submit a new video."""
        text = clean_prompt(prompt)
        facts = await self._facts(origin)
        model, seconds, size = self._resolved(facts.defaults, options)
        quota = self._admission(
            facts, origin, text, model, seconds, can_wait=options.reference is None
        )
        if options.reference is not None:
            check_reference_image(
                options.reference.data,
                content_type=options.reference.content_type,
                size=size,
                max_bytes=self.max_reference_bytes,
            )
        task = await self.store.create_task(
            guild_id=origin.guild_id,
            channel_id=origin.channel_id,
            user_id=origin.user_id,
            author_name=origin.author_name,
            upload_limit=origin.upload_limit,
            prompt=text,
            model=model,
            seconds=seconds,
            size=size,
            estimated_cost=quota.cost,
            metadata_extra=metadata_extra,
            admission=quota,
            wait_rule=quota if quota.queue else None,
        )
        return await self._submit(
            task,
            origin,
            lambda: self.upstream.create(
                prompt=text, model=model, seconds=seconds, size=size, reference=options.reference
            ),
        )

    async def remix(self, origin: Origin, video_id: str, prompt: str) -> VideoTask:
        """Validate, check quotas, record and submit a remix of a completed video."""
        parent = await self.check_remix(origin, video_id, prompt)
        return await self.remix_of(origin, parent, prompt)

    async def check_extend(
        self, origin: Origin, video_id: str, prompt: str, seconds: int | None
    ) -> tuple[VideoTask, int]:
        """Everything that can refuse an extension before anything is written.

        Returns the parent and the extension's length (the parent's when not given).
        """
        self._require("extend", self.can_extend)
        text = clean_prompt(prompt)
        parent = await self.find_video(origin.guild_id, video_id)
        check_remixable(parent, origin.guild_id, verb="extended")
        length = parent.seconds if seconds is None else seconds
        if length not in self.options.seconds:
            allowed = ", ".join(str(s) for s in self.options.seconds)
            raise errors.InvalidInput("seconds", f"Seconds must be one of: {allowed}.")
        await self._admit(origin, text, parent.model, length)
        return parent, length

    async def extend_of(
        self, origin: Origin, parent: VideoTask, prompt: str, seconds: int
    ) -> VideoTask:
        """Submit an extension of a checked parent: ``seconds`` more, same model and size."""
        self._require("extend", self.can_extend)
        text = clean_prompt(prompt)
        quota = await self._admit(origin, text, parent.model, seconds)
        task = await self.store.create_task(
            guild_id=origin.guild_id,
            channel_id=origin.channel_id,
            user_id=origin.user_id,
            author_name=origin.author_name,
            upload_limit=origin.upload_limit,
            prompt=text,
            parent=parent,
            kind=TaskKind.EXTEND,
            estimated_cost=quota.cost,
            admission=quota,
            wait_rule=quota if quota.queue else None,
            model=parent.model,
            seconds=seconds,
            size=parent.size,
        )
        upstream_parent = parent.upstream_id
        assert upstream_parent is not None, "a completed task always has an upstream id"
        return await self._submit(
            task,
            origin,
            lambda: self.upstream.extend(upstream_parent, prompt=text, seconds=seconds),
        )

    async def remix_of(
        self,
        origin: Origin,
        parent: VideoTask,
        prompt: str,
        *,
        metadata_extra: dict[str, Any] | None = None,
    ) -> VideoTask:
        """Submit a remix of an already checked parent (batch remixes call this per variant)."""
        self._require("remix", self.can_remix)
        text = clean_prompt(prompt)
        params = inherit_parameters(parent)
        quota = await self._admit(origin, text, params["model"], params["seconds"])
        task = await self.store.create_task(
            guild_id=origin.guild_id,
            channel_id=origin.channel_id,
            user_id=origin.user_id,
            author_name=origin.author_name,
            upload_limit=origin.upload_limit,
            prompt=text,
            parent=parent,
            kind=TaskKind.REMIX,
            metadata_extra=metadata_extra,
            estimated_cost=quota.cost,
            admission=quota,
            wait_rule=quota if quota.queue else None,
            **params,
        )
        upstream_parent = parent.upstream_id
        assert upstream_parent is not None, "a completed task always has an upstream id"
        return await self._submit(
            task, origin, lambda: self.upstream.remix(upstream_parent, prompt=text)
        )

    async def _admit(
        self,
        origin: Origin,
        prompt: str,
        model: str,
        seconds: int,
        *,
        count: int = 1,
        can_wait: bool = True,
    ) -> SubmissionQuota:
        """Banned-word and quota checks for ``count`` new tasks, read in one trip."""
        facts = await self._facts(origin)
        return self._admission(
            facts, origin, prompt, model, seconds, count=count, can_wait=can_wait
        )

    async def _facts(self, origin: Origin) -> AdmissionFacts:
        since = day_window(self.clock())[0]
        return await self.store.admission_facts(origin.guild_id, origin.user_id, since)

    def _admission(
        self,
        facts: AdmissionFacts,
        origin: Origin,
        prompt: str,
        model: str,
        seconds: int,
        *,
        count: int = 1,
        can_wait: bool = True,
    ) -> SubmissionQuota:
        """Banned-word and quota checks for ``count`` new tasks against ``facts``.

        Returns the quota of one of them, for ``create_task(admission=...)`` to check again
        inside the insert's transaction; its ``cost`` is the estimated cost of one task.
        With ``[limits] queue`` (and ``can_wait``: a reference image is not kept for a
        later send) the concurrency limits make a task wait instead of refusing it.
        """
        cost = estimate_cost(self.config.prices, model, seconds // count)
        batch = SubmissionQuota(
            limits=configured_limits(self.config.limits).merged(facts.limits),
            seconds=seconds,
            cost=cost * count if cost is not None else None,
            new_tasks=count,
            now=self.clock(),
            queue=self.config.limits.queue and can_wait,
        )
        refuse_unless_allowed(batch, facts.usage, prompt)
        return replace(batch, seconds=seconds // count, cost=cost, new_tasks=1)

    async def _submit(
        self, task: VideoTask, origin: Origin, send: Callable[[], Awaitable[UpstreamJob]]
    ) -> VideoTask:
        """Send the one create/remix call for ``task`` and record its answer.

        A task inserted WAITING is not sent: the queue sends it when a slot frees.
        """
        if origin.card_message_id is not None:
            await self.store.set_card_message(task.id, origin.card_message_id)
            task = task.replace(card_message_id=origin.card_message_id)
        if task.status is TaskStatus.WAITING:
            log.info("task %s: waiting in the queue (%s)", task.id, task.kind)
            return task
        return await self._send(task, send, notify=False)

    async def send_waiting(self, task: VideoTask) -> VideoTask:
        """Send a task the queue took out of waiting (``store.start_waiting``).

        Its author is not waiting for an answer any more, so a refusal is a failure
        notice in the channel, like any other failure.
        """
        return await self._send(task, self._upstream_call(task), notify=True)

    def _upstream_call(self, task: VideoTask) -> Callable[[], Awaitable[UpstreamJob]]:
        """The create, remix or extend call a stored task stands for (no reference image)."""
        meta = task.metadata
        if task.kind is TaskKind.EXTEND:
            parent = str(meta["extend_from_external"])
            return lambda: self.upstream.extend(parent, prompt=task.prompt, seconds=task.seconds)
        if task.parent_id is not None:
            parent = str(meta["remix_from_external"])
            return lambda: self.upstream.remix(parent, prompt=task.prompt)
        return lambda: self.upstream.create(
            prompt=task.prompt, model=task.model, seconds=task.seconds, size=task.size
        )

    async def _send(
        self, task: VideoTask, send: Callable[[], Awaitable[UpstreamJob]], *, notify: bool
    ) -> VideoTask:
        log.info("task %s: submitting (%s, parent %s)", task.id, task.kind, task.parent_id)
        try:
            job: UpstreamJob = await send()
        except errors.UpstreamError as exc:
            await self.store.fail(
                task.id, code=_error_code(exc), message=exc.user_message, notify=notify
            )
            log.info("task %s: upstream refused the submission (%s)", task.id, _error_code(exc))
            raise
        status = (
            job.status
            if job.status in (TaskStatus.QUEUED, TaskStatus.IN_PROGRESS)
            else TaskStatus.QUEUED
        )
        next_poll = self.clock() + timedelta(seconds=self.policy.after_submit())
        submitted = await self.store.mark_submitted(
            task.id,
            upstream_id=job.id,
            status=status,
            progress=job.progress,
            next_poll_at=next_poll,
        )
        log.info("task %s: submitted as %s (%s)", task.id, job.id, status)
        return submitted


def _error_code(exc: errors.UpstreamError) -> str:
    """The upstream's own code when it gave one (except for moderation), else ours."""
    if isinstance(exc, errors.ModerationBlocked):
        return exc.failure_code
    return exc.code or exc.failure_code


def _escape_code(text: str) -> str:
    return text.replace("`", "'")
