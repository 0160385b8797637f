"""``python -m bot demo``: watch the real bot work, offline, in a few seconds.

The production bot (discord.py client, SQLite store, APScheduler poller, httpx
client) runs against the bundled Discord and Videos API emulators in a temporary
folder (``BotHarness``: no config, no secrets, nothing leaves this machine). A
scripted scene plays: a ``/sora``, a ``/remix`` of it, a remix through the Remix
button and its form, a video the video service refuses, and ``/lineage`` when that
command exists. Every step checks its outcome; then the channel is printed as a
transcript. Exit code 0 only if every step went as scripted.

``--keep-running`` then leaves the channel open (``demo_repl``): type ``/sora a cat``,
``/remix <id> <prompt>``, ``/admin stats`` (as the admin: ``as boss``), ``click #3 Remix``,
``as bob``, ``show``, ``help`` or ``quit``.

This is the one production module that drives the emulators: the prompt's modules
(``demo_repl``, ``demo_commands``, ``demo_input``) go through ``PromptChannel``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bot.cli.demo_commands import (
    CHANNEL,
    USER,
    Refused,
    TypedCommandError,
    convert_options,
    find_command,
    needed_permissions,
    parse_typed,
)
from bot.cli.demo_input import StopSignals
from bot.cli.demo_repl import Repl
from bot.core.models import DeliveryState, TaskStatus, VideoTask
from bot.emulators.fake_discord import FakeInteraction, FakeMessage, FakeUser
from bot.emulators.fake_discord.commands import CommandNotAvailable
from bot.emulators.fake_discord.models import iter_components
from bot.emulators.harness import BotHarness
from bot.emulators.transcript import (
    button_label,
    describe_interaction,
    human_size,
    markup_context,
    message_labels,
    render_message,
    render_transcript,
)
from bot.ops.logs import setup_logging

#: How long an emulated video takes to render.
JOB_SECONDS = 1.0
#: The longest one step may take before the scene counts as failed.
STEP_TIMEOUT = 20.0
#: The longest the whole scripted scene may take.
SCENE_TIMEOUT = 50.0
#: How long the interactive prompt waits for the channel to settle after a command.
SETTLE_TIMEOUT = 30.0
#: How long stopping waits for the bot's interaction handlers still in flight.
DRAIN_TIMEOUT = 5.0
#: Names discord.py gives the tasks that run interaction handlers.
HANDLER_TASKS = (
    "CommandTree-invoker",
    "discord-ui-view-dispatch",
    "discord-ui-modal-dispatch",
    "discord-ui-dynamic-item",
    "discord.py: on_interaction",
)
UNFINISHED = (
    TaskStatus.WAITING,
    TaskStatus.SUBMITTING,
    TaskStatus.QUEUED,
    TaskStatus.IN_PROGRESS,
)

SCENE_PROMPT = "a paper boat drifting down a rainy street"
REMIX_PROMPT = "the boat is on fire"
BUTTON_PROMPT = "the burning boat at sunset, seen from a bridge"
REFUSED_PROMPT = "a prompt the video service refuses [fault:moderation]"
INTRO = (
    "sora-bot demo: the real bot (discord.py, SQLite, APScheduler poller, httpx) against\n"
    "local emulators of Discord and of the Videos API. No account, key or network needed.\n"
    "Prompt words like [fault:moderation] make the emulated video service misbehave.\n"
)


class StepFailed(Refused):
    """A step of the scene did not go as scripted; the message says how."""


@dataclass
class Step:
    """One checked step of the scene."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """``  ✔ name: detail`` (or ✘)."""
        return f"  {'✔' if self.ok else '✘'} {self.name}: {self.detail}"


@dataclass
class SceneReport:
    """What ``play_scene`` did: its steps and whether ``/lineage`` was available."""

    steps: list[Step] = field(default_factory=list)
    lineage_available: bool = False

    @property
    def ok(self) -> bool:
        """True when every step went as scripted."""
        return bool(self.steps) and all(step.ok for step in self.steps)


class DemoChannel:
    """Acts as users in the harness channel and checks what the bot did."""

    def __init__(self, harness: BotHarness) -> None:
        self.h = harness
        self.emu = harness.discord

    # --- acting -----------------------------------------------------------------------------

    async def sora(self, user: FakeUser, prompt: str) -> VideoTask:
        """Run ``/sora`` and return the task behind the card it shows."""
        ix = await self.emu.slash(user, self.h.channel, "sora", {"prompt": prompt})
        return await self._task_of(ix)

    async def remix(self, user: FakeUser, video_id: str, prompt: str) -> VideoTask:
        """Run ``/remix`` and return the new task."""
        options = {"video_id": video_id, "prompt": prompt}
        ix = await self.emu.slash(user, self.h.channel, "remix", options)
        return await self._task_of(ix)

    async def click_remix(
        self, user: FakeUser, message: FakeMessage, prompt: str | None
    ) -> VideoTask:
        """Press Remix under ``message``, fill in the form (``None`` keeps it), submit."""
        custom_id = next((c for c in message.custom_ids() if c.startswith("sora:remix:")), None)
        if custom_id is None:
            raise StepFailed("the message has no Remix button")
        clicked = await self.emu.click(user, message, custom_id)
        await self._answered(clicked)
        modal = clicked.modal
        if modal is None:
            raise StepFailed(f"the Remix button opened no form: {self._said(clicked)}")
        field_id = next(
            (c["custom_id"] for c in iter_components(modal["components"]) if c.get("type") == 4),
            None,
        )
        if field_id is None:
            raise StepFailed("the Remix form has no text field")
        values = {} if prompt is None else {field_id: prompt}
        submitted = await self.emu.submit_modal(user, self.h.channel, modal["custom_id"], values)
        return await self._task_of(submitted)

    async def command(self, user: FakeUser, name: str, options: dict[str, Any]) -> FakeInteraction:
        """Run any slash command and wait for its first answer."""
        ix = await self.emu.slash(user, self.h.channel, name, options)
        await self._answered(ix)
        return ix

    # --- waiting and checking ---------------------------------------------------------------

    async def _answered(self, ix: FakeInteraction) -> None:
        try:
            await ix.initial_response(timeout=STEP_TIMEOUT)
        except AssertionError as exc:
            raise StepFailed(f"Discord showed 'the application did not respond' ({exc})") from exc

    async def _task_of(self, ix: FakeInteraction) -> VideoTask:
        """The task whose status card this interaction created (or why there is none)."""
        await self._answered(ix)
        card = await self.answer(ix)
        if card.ephemeral:
            raise StepFailed(f"the bot refused: {card.content}")
        store = self.h.store
        assert store is not None

        async def by_card() -> VideoTask | None:
            recent = await store.guild_history(self.h.guild.id, limit=20)
            return next((t for t in recent if t.card_message_id == card.id), None)

        task: VideoTask = await self.h.wait_for(
            by_card, timeout=STEP_TIMEOUT, what="the task of the card"
        )
        return task

    async def answer(self, ix: FakeInteraction) -> FakeMessage:
        """The bot's visible answer: its card, or the private error that replaced it."""

        def found() -> FakeMessage | None:
            original = ix.original
            if original is not None and not original.loading and not original.deleted:
                return original
            errors = [m for m in ix.followups if m.ephemeral and not m.deleted]
            return errors[-1] if errors else None

        try:
            message: FakeMessage = await self.emu.wait_until(found, timeout=STEP_TIMEOUT)
            return message
        except TimeoutError as exc:
            raise StepFailed(f"the bot showed no answer to {ix.describe()}") from exc

    async def finished(self, task_id: str) -> VideoTask:
        """Wait until the task ended and its outcome was posted (or given up on)."""
        store = self.h.store
        assert store is not None
        done = (DeliveryState.DELIVERED, DeliveryState.UNDELIVERABLE)

        async def settled() -> VideoTask | None:  # posted, and its card edited to match
            task = await store.get(task_id)
            return task if task and task.delivery_state in done and task.card_settled else None

        try:
            task: VideoTask = await self.h.wait_for(
                settled, timeout=STEP_TIMEOUT, what=f"video {task_id}"
            )
        except AssertionError as exc:
            raise StepFailed(f"video {task_id} did not finish within {STEP_TIMEOUT:g}s") from exc
        if task.delivery_state is DeliveryState.UNDELIVERABLE:
            raise StepFailed(f"video {task_id} could not be posted: {task.delivery_error}")
        return task

    def posted(self, task: VideoTask) -> FakeMessage:
        """The message the task's outcome was posted as."""
        if task.result_message_id is None:
            raise StepFailed(f"video {task.id} has no result post")
        return self.emu.get_message(task.result_message_id)

    def check_result(self, task: VideoTask, reply_to: int | None, what: str) -> FakeMessage:
        """The result post: completed, an MP4 attached, a Remix button, replying to ``reply_to``."""
        if task.status is not TaskStatus.COMPLETED:
            raise StepFailed(f"video {task.id} ended {task.status}: {task.error_message}")
        post = self.posted(task)
        if post.reply_to != reply_to:
            raise StepFailed(f"the result of {task.id} does not reply to {what}")
        videos = [a for a in post.attachments if a.filename.endswith(".mp4") and a.size > 0]
        if not videos:
            raise StepFailed(f"the result of {task.id} has no MP4 attached")
        has_remix = any(c.startswith("sora:remix:") for c in post.custom_ids())
        if has_remix != self.can_remix:
            shown = "has no" if self.can_remix else "shows a"
            raise StepFailed(f"the result of {task.id} {shown} Remix button")
        return post

    @property
    def can_remix(self) -> bool:
        """Whether the emulated relay's dialect can remix (else the scene shows the refusal)."""
        assert self.h.bot is not None
        return self.h.bot.service.can_remix

    def _said(self, ix: FakeInteraction) -> str:
        message = ix.original
        return message.content if message is not None else f"answer type {ix.response_type}"

    # --- showing ----------------------------------------------------------------------------

    def names(self) -> dict[int, str]:
        """Display names of everyone in the channel."""
        users = (self.emu.bot_user, self.emu.owner, self.h.alice, self.h.bob, self.h.admin)
        return {user.id: user.name for user in users}

    def messages(self) -> list[FakeMessage]:
        """The channel, oldest first, including answers only one member can see."""
        return self.emu.channel_messages(self.h.channel, include_ephemeral=True)

    def invocations(self, labels: dict[int, str]) -> dict[int, str]:
        """What each interaction's user did, for the transcript headers."""
        return {ix.id: describe_interaction(ix, labels) for ix in self.emu.interactions}

    def channel_names(self) -> dict[int, str]:
        """Names of the server's channels, for ``<#id>`` mentions."""
        return {self.h.channel.id: self.h.channel.name}

    def transcript(self) -> str:
        """The whole channel as text."""
        messages = self.messages()
        labels = message_labels(messages)
        title = f"#{self.h.channel.name} — {len(messages)} messages"
        return render_transcript(
            messages,
            names=self.names(),
            invocations=self.invocations(labels),
            title=title,
            channels=self.channel_names(),
            now=self.emu.clock(),
        )

    def message_text(self, message: FakeMessage) -> str:
        """Everything readable in a message (content, embeds, file names), for checks."""
        parts = [message.content, *(a.filename for a in message.attachments)]
        for embed in message.embeds:
            parts += [str(embed.get("title", "")), str(embed.get("description", ""))]
            parts += [f"{f.get('name')} {f.get('value')}" for f in embed.get("fields") or []]
        return "\n".join(parts)


class PromptChannel(DemoChannel):
    """What the ``--keep-running`` prompt can do in the channel, by member name.

    The emulator decides what a member may use: a command it refuses as hidden
    (``default_member_permissions``) is reported the way Discord's client behaves, as
    unavailable to that member, in one line.
    """

    def __init__(self, harness: BotHarness) -> None:
        super().__init__(harness)
        self._shown: dict[int, tuple[int, bool]] = {}

    # --- members and commands ---------------------------------------------------------------

    def member_names(self) -> list[str]:
        """The members one can act as, the first one acting at the start."""
        return [user.name for user in (self.h.alice, self.h.bob, self.h.admin)]

    def member_notes(self) -> dict[str, str]:
        """``{name: what is special about them}`` (the admin has Manage Server)."""
        return {name: self._manager_note(name) for name in self.member_names()}

    def _manager_note(self, name: str) -> str:
        return "Manage Server; also: as admin" if name == self.h.admin.name else ""

    def member(self, name: str) -> FakeUser:
        """The member called ``name`` (``admin`` is the one with Manage Server)."""
        members = {user.name: user for user in (self.h.alice, self.h.bob, self.h.admin)}
        members.setdefault("admin", self.h.admin)
        if name not in members:
            raise LookupError(f"no member called {name!r}; try {', '.join(self.member_names())}")
        return members[name]

    def commands(self) -> list[dict[str, Any]]:
        """The bot's slash commands as registered with Discord."""
        return [c for c in self.emu.registered_commands if c.get("type", 1) == 1]

    def hidden_note(self, user_name: str, definition: dict[str, Any]) -> str | None:
        """``hidden from alice: needs Manage Server`` when Discord hides the command, else None.

        Used to explain (help, a command that did not even parse); whether a typed command
        runs is the emulator's call (``typed_command``).
        """
        needed = needed_permissions(definition)
        if needed is None or self.member(user_name) is self.h.admin:
            return None
        return f"hidden from {user_name}: needs {needed}; try: as {self.h.admin.name}"

    def refusal(self, user_name: str, definition: dict[str, Any]) -> str | None:
        """The line printed when the member types a command Discord does not offer them."""
        needed = needed_permissions(definition)
        if needed is None or self.member(user_name) is self.h.admin:
            return None
        return (
            f"/{definition['name']} is not available to {user_name}: Discord shows it only to "
            f"members with {needed} (try: as {self.h.admin.name})"
        )

    async def typed_command(self, user_name: str, text: str) -> FakeInteraction:
        """Run ``name [sub] [key:value ...]`` as typed after the ``/``."""
        name, _, rest = text.strip().partition(" ")
        definition = find_command(self.commands(), name)
        try:
            typed = parse_typed(definition, rest)
            options = convert_options(typed, self._lookup)
        except (TypedCommandError, LookupError):
            hidden = self.refusal(user_name, definition)
            if hidden:
                raise StepFailed(hidden) from None
            raise
        try:
            return await self.command(self.member(user_name), typed.name, options)
        except CommandNotAvailable as exc:
            raise StepFailed(self.refusal(user_name, definition) or str(exc)) from None

    def _lookup(self, kind: int, name: str) -> Any:
        if kind == USER:
            return self.member(name)
        if kind == CHANNEL and name == self.h.channel.name:
            return self.h.channel
        if kind == CHANNEL:
            raise LookupError(f"no channel #{name}; this server has #{self.h.channel.name}")
        raise LookupError(f"{name!r}: roles cannot be typed here")

    # --- buttons ----------------------------------------------------------------------------

    def message_at(self, label: str) -> FakeMessage:
        """The message shown as ``#n``."""
        labels = {shown: mid for mid, shown in message_labels(self.messages()).items()}
        if label not in labels:
            raise LookupError(f"no message {label}")
        return self.emu.get_message(labels[label])

    def is_remix_button(self, label: str, wanted: str) -> bool:
        """Whether ``click #n wanted`` means the Remix button (which opens a form)."""
        message = self.message_at(label)
        remix = any(c.startswith("sora:remix:") for c in message.custom_ids())
        return remix and wanted.lower() == "remix"

    async def press_remix(self, user_name: str, label: str, prompt: str | None) -> None:
        """Press Remix under ``#n`` and submit its form (``None`` keeps the prompt)."""
        await self.click_remix(self.member(user_name), self.message_at(label), prompt)

    async def press(self, user_name: str, label: str, wanted: str) -> None:
        """Press the button under ``#n`` whose label contains ``wanted``."""
        message = self.message_at(label)
        component = next(
            (
                c
                for c in iter_components(message.components)
                if c.get("type") == 2 and wanted.lower() in button_label(c).lower()
            ),
            None,
        )
        if component is None or "custom_id" not in component:
            raise LookupError(f"{label} has no button {wanted!r}")
        await self.emu.click(self.member(user_name), message, component["custom_id"])

    # --- waiting and printing -----------------------------------------------------------------

    async def settle(self) -> None:
        """Wait until every interaction is answered and no video is pending or unposted."""
        store = self.h.store
        assert store is not None

        async def idle() -> bool:
            for ix in self.emu.interactions:
                answered = ix.responded or ix.failed
                if not answered or (ix.original is not None and ix.original.loading):
                    return False
            statuses = await store.count_by_status()
            running = sum(statuses.get(s.value, 0) for s in UNFINISHED)
            deliveries = await store.count_by_delivery_state()
            owed = deliveries.get("pending", 0) + deliveries.get("delivering", 0)
            return running == 0 and owed == 0

        with contextlib.suppress(AssertionError):
            await self.h.wait_for(idle, timeout=SETTLE_TIMEOUT, what="the channel")

    async def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Let the bot's interaction handlers still running finish (at most ``timeout``).

        Stopping the harness closes the store under them; a handler cut off mid-way
        (Ctrl-C during a command) would log its failure with a traceback.
        """
        running = [
            task
            for task in asyncio.all_tasks()
            if task.get_name().startswith(HANDLER_TASKS) and not task.done()
        ]
        if running:
            await asyncio.wait(running, timeout=timeout)

    def mark_shown(self) -> None:
        """Count every message as printed in its current state."""
        self._shown = {m.id: self._state(m) for m in self.messages()}

    def print_unseen(self, say: Callable[[str], None]) -> None:
        """Print the messages that are new or changed since they were last printed."""
        messages = self.messages()
        labels = message_labels(messages)
        names = self.names()
        invocations = self.invocations(labels)
        markup = markup_context(labels, names, self.channel_names(), self.emu.clock())
        for message in messages:
            state = self._state(message)
            if self._shown.get(message.id) == state:
                continue
            self._shown[message.id] = state
            lines = render_message(
                message, labels=labels, names=names, invocations=invocations, markup=markup
            )
            say("\n".join(lines))

    @staticmethod
    def _state(message: FakeMessage) -> tuple[int, bool]:
        return message.edit_count, message.loading


# --- describing interactions ------------------------------------------------------------------


# --- the scripted scene -------------------------------------------------------------------


class _Scene:
    """The scripted steps; each returns what happened or raises ``StepFailed``."""

    def __init__(self, channel: DemoChannel) -> None:
        self.channel = channel
        self.h = channel.h
        self.videos: dict[str, VideoTask] = {}

    async def first_video(self) -> str:
        task = await self.channel.finished((await self.channel.sora(self.h.alice, SCENE_PROMPT)).id)
        post = self.channel.check_result(task, task.card_message_id, "its status card")
        self.videos["first"] = task
        return f"video {task.id} posted as a reply to its card ({_files(post)})"

    async def command_remix(self) -> str:
        parent = self.videos["first"]
        task = await self.channel.finished(
            (await self.channel.remix(self.h.bob, parent.id, REMIX_PROMPT)).id
        )
        _check_parent(task, parent)
        post = self.channel.check_result(
            task, parent.result_message_id, f"the result of {parent.id}"
        )
        self.videos["second"] = task
        return f"video {task.id} (remix of {parent.id}) replies to {parent.id}'s result ({_files(post)})"

    async def button_remix(self) -> str:
        parent = self.videos["second"]
        started = await self.channel.click_remix(
            self.h.alice, self.channel.posted(parent), BUTTON_PROMPT
        )
        task = await self.channel.finished(started.id)
        _check_parent(task, parent)
        post = self.channel.check_result(
            task, parent.result_message_id, f"the result of {parent.id}"
        )
        self.videos["third"] = task
        return (
            f"the form → video {task.id} (depth {task.depth}) replies to "
            f"{parent.id}'s result ({_files(post)})"
        )

    async def remix_refused(self) -> str:
        parent = self.videos["first"]
        options = {"video_id": parent.id, "prompt": REMIX_PROMPT}
        answer = await self.channel.answer(await self.channel.command(self.h.bob, "remix", options))
        if not answer.ephemeral or "cannot remix" not in answer.content:
            raise StepFailed(f"/remix should be refused by this relay, got: {answer.content}")
        return f"/remix {parent.id} is refused, only bob sees why: {answer.content}"

    async def refused(self) -> str:
        task = await self.channel.finished((await self.channel.sora(self.h.bob, REFUSED_PROMPT)).id)
        if task.status is not TaskStatus.FAILED:
            raise StepFailed(f"video {task.id} should have failed but is {task.status}")
        notice = self.channel.posted(task)
        if notice.reply_to != task.card_message_id or "failed" not in notice.content:
            raise StepFailed(f"the failure notice of {task.id} is not a reply to its card")
        return f"video {task.id} failed as scripted; the author is told why: {task.error_message}"

    async def lineage(self) -> str:
        root = self.videos["first"]
        leaf = self.videos.get("third", root)
        options = lineage_options(self.h.discord.registered_commands, leaf.id)
        ix = await self.channel.command(self.h.alice, "lineage", options)
        answer = await self.channel.answer(ix)
        text = self.channel.message_text(answer)
        if root.id not in text and leaf.id not in text:
            raise StepFailed(f"/lineage {leaf.id} does not mention {root.id} or {leaf.id}")
        return f"/lineage {leaf.id} answered ({'only alice sees it' if answer.ephemeral else 'public'})"


async def play_scene(channel: DemoChannel, say: Callable[[str], None]) -> SceneReport:
    """Play the scene step by step; stops at the first step that does not go as scripted."""
    report = SceneReport()
    scene = _Scene(channel)
    steps: list[tuple[str, Callable[[], Awaitable[str]]]] = [
        ("alice runs /sora", scene.first_video)
    ]
    if channel.can_remix:
        steps += [
            ("bob runs /remix", scene.command_remix),
            ("alice presses Remix", scene.button_remix),
        ]
    else:
        steps.append(("bob runs /remix", scene.remix_refused))
    steps.append(("bob asks for a refused video", scene.refused))
    report.lineage_available = command_registered(channel.h.discord.registered_commands, "lineage")
    if report.lineage_available:
        steps.append(("alice runs /lineage", scene.lineage))
    for name, action in steps:
        step = await _run_step(name, action)
        report.steps.append(step)
        say(step.line())
        if not step.ok:
            break
    if not report.lineage_available and report.ok:
        say("  · /lineage is not available in this build; that step was skipped")
    return report


async def _run_step(name: str, action: Callable[[], Awaitable[str]]) -> Step:
    try:
        return Step(name, True, await action())
    except StepFailed as exc:
        return Step(name, False, str(exc))
    except Exception as exc:  # the demo reports any breakage as a failed step
        return Step(name, False, f"{type(exc).__name__}: {exc}")


def _check_parent(task: VideoTask, parent: VideoTask) -> None:
    if task.parent_id != parent.id or task.root_id != parent.root_id:
        raise StepFailed(f"video {task.id} is not recorded as a remix of {parent.id}")


def _files(message: FakeMessage) -> str:
    return "; ".join(f"{a.filename}, {human_size(a.size)}" for a in message.attachments)


def command_registered(commands: list[dict[str, Any]], name: str) -> bool:
    """Whether the bot registered a slash command called ``name``."""
    return any(c.get("name") == name and c.get("type", 1) == 1 for c in commands)


def lineage_options(commands: list[dict[str, Any]], video_id: str) -> dict[str, Any]:
    """Options for ``/lineage`` pointing at ``video_id`` (its id option, else its first text one)."""
    definition = next(c for c in commands if c.get("name") == "lineage")
    options = [o for o in definition.get("options") or [] if o.get("type") == 3]
    if not options:
        return {}
    chosen = next((o for o in options if "id" in o["name"] or "video" in o["name"]), options[0])
    return {chosen["name"]: video_id}


# --- entry point ----------------------------------------------------------------------------


async def run_demo(
    *,
    keep_running: bool = False,
    out: TextIO | None = None,
    inp: TextIO | None = None,
    quiet_logs: bool = True,
    job_seconds: float = JOB_SECONDS,
    dialect: str = "openai",
) -> int:
    """Play the scene and print the transcript; 0 only if every step went as scripted.

    ``quiet_logs`` sets up WARNING-level logging so the transcript stays readable
    (tests pass False to keep pytest's log capture). SIGINT (Ctrl-C) and SIGTERM end the
    demo cleanly at any point: the bot and the emulators are stopped and one line says
    so. The exit code is then the scene's if it had finished (leaving the prompt with
    Ctrl-C is ordinary), else 128 + the signal number, as a shell reports a signal.
    """
    if quiet_logs:
        setup_logging(level="WARNING")
        # Expected chatter at demo speed: "voice not supported", "tick skipped: still running".
        for noisy in ("discord.client", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    session = _Session(out or sys.stdout, inp or sys.stdin, keep_running, job_seconds, dialect)
    with StopSignals() as signals:
        return await session.run(signals)


STOPPED = "the bot and both emulators are shut down."


class _Session:
    """One demo run: the harness in a temporary folder, the scene, then maybe the prompt."""

    def __init__(
        self, out: TextIO, inp: TextIO, keep_running: bool, job_seconds: float, dialect: str
    ) -> None:
        self.dialect = dialect
        self.out = out
        self.inp = inp
        self.keep_running = keep_running
        self.job_seconds = job_seconds
        #: Set once the scene has finished (whatever its outcome).
        self.report: SceneReport | None = None

    def say(self, text: str) -> None:
        """Print a line."""
        self.out.write(text + "\n")
        self.out.flush()

    async def run(self, signals: StopSignals) -> int:
        """Start the harness, play, print; the harness is closed when this returns.

        A stop signal cancels only the scene or the prompt (``signals.guarded``): the
        harness is always started and stopped whole, after the bot's handlers still in
        flight have finished (``drain``).
        """
        self.say(INTRO)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="sora-bot-demo-") as workdir:
            async with contextlib.AsyncExitStack() as stack:
                try:
                    harness = await stack.enter_async_context(
                        BotHarness(
                            Path(workdir),
                            job_seconds=self.job_seconds,
                            upstream_options={"dialects": (self.dialect,)},
                        )
                    )
                except (OSError, RuntimeError, TimeoutError) as exc:
                    self.say(f"demo FAILED: could not start the bot against the emulators: {exc}")
                    return 1
                channel = PromptChannel(harness)
                stack.push_async_callback(channel.drain)
                ended = await signals.guarded(self._play(channel, started))
        if signals.received is not None:
            self.say("")
            self.say(f"Stopped by {signals.received.name}: {STOPPED}")
            if self.report is None:
                return 128 + int(signals.received)
        elif ended is not None:
            self.say(f"Stopped ({ended}): {STOPPED}")
        return 0 if self.report is not None and self.report.ok else 1

    async def _play(self, channel: PromptChannel, started: float) -> str | None:
        """The scene, then the prompt if asked for; returns why the prompt ended."""
        await self._scene(channel, started)
        if not self.keep_running:
            return None
        return await Repl(channel, self.inp, self.out).run()

    async def _scene(self, channel: DemoChannel, started: float) -> None:
        self.say(f"The bot is connected to the emulated server '{channel.h.guild.name}'.\n")
        self.say("Scene:")
        try:
            async with asyncio.timeout(SCENE_TIMEOUT):
                report = await play_scene(channel, self.say)
        except TimeoutError:
            report = SceneReport([Step("scene", False, f"took over {SCENE_TIMEOUT:g}s")])
        self.report = report
        self.say("")
        self.say(channel.transcript())
        self.say("")
        self.say(_verdict(report, time.monotonic() - started))


def _verdict(report: SceneReport, seconds: float) -> str:
    if report.ok:
        return f"demo OK: {len(report.steps)} steps went as scripted in {seconds:.1f}s"
    failed = next((s for s in report.steps if not s.ok), None)
    if failed is None:
        return "demo FAILED: no step ran"
    return f"demo FAILED at step '{failed.name}': {failed.detail}"
