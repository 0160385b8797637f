"""Interactions: what a simulated user triggers, and how the emulator tracks the bot's answer.

``FakeInteraction`` is the test driver's handle on one interaction: its payload, the initial
response (or the "The application did not respond" failure), the original response message and
followups. The ``build_*`` functions produce the INTERACTION_CREATE payloads discord.py parses.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, cast

from .changes import ChangeSignal
from .clock import Stopwatch
from .models import FakeChannel, FakeGuild, FakeMessage, FakeUser, MessageFlag
from .state import EmulatorState

log = logging.getLogger(__name__)

TOKEN_LIFETIME_SECONDS = 15 * 60
NO_RESPONSE = "The application did not respond"


class InteractionType(IntEnum):
    """Interaction types Discord sends."""

    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    APPLICATION_COMMAND_AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CallbackType(IntEnum):
    """Initial response types a bot may send."""

    PONG = 1
    CHANNEL_MESSAGE_WITH_SOURCE = 4
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
    MODAL = 9
    LAUNCH_ACTIVITY = 12


ALLOWED_CALLBACKS: dict[InteractionType, frozenset[int]] = {
    InteractionType.PING: frozenset({1}),
    InteractionType.APPLICATION_COMMAND: frozenset({4, 5, 9, 12}),
    InteractionType.MESSAGE_COMPONENT: frozenset({4, 5, 6, 7, 9, 12}),
    InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE: frozenset({8}),
    InteractionType.MODAL_SUBMIT: frozenset({4, 5, 6, 7}),
}


class InteractionFailed(AssertionError):
    """The bot never acknowledged the interaction in time (the user saw an error)."""


MessageLookup = Callable[[int], "FakeMessage | None"]


@dataclass(eq=False)
class FakeInteraction:
    """One interaction as the emulator saw it, from dispatch to the last followup."""

    id: int
    token: str
    type: InteractionType
    user: FakeUser
    channel: FakeChannel
    guild: FakeGuild
    payload: dict[str, Any]
    stopwatch: Stopwatch
    response_deadline: float
    lookup: MessageLookup = field(repr=False)
    changes: ChangeSignal = field(repr=False)
    message: FakeMessage | None = None
    triggered_by: FakeInteraction | None = None
    response: dict[str, Any] | None = None
    responded_after: float | None = None
    failed: bool = False
    failure_reason: str | None = None
    callback_errors: list[int] = field(default_factory=list)
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)

    # --- state --------------------------------------------------------------------------------

    @property
    def data(self) -> dict[str, Any]:
        """The interaction's ``data`` object as dispatched."""
        # The dispatched payload is JSON whose ``data`` is always an object.
        return cast(dict[str, Any], self.payload.get("data", {}))

    @property
    def responded(self) -> bool:
        """Whether an initial response was accepted."""
        return self.response is not None

    @property
    def response_type(self) -> int | None:
        """The accepted initial response's callback type."""
        return None if self.response is None else int(self.response["type"])

    @property
    def is_deferred(self) -> bool:
        """Whether the initial response was a defer (5 or 6)."""
        return self.response_type in (5, 6)

    @property
    def is_ephemeral(self) -> bool:
        """Whether the original response is only visible to the invoking user."""
        original = self.original
        if original is not None:
            return original.ephemeral
        flags = ((self.response or {}).get("data") or {}).get("flags") or 0
        return bool(flags & MessageFlag.EPHEMERAL)

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal the bot opened (callback type 9), if any."""
        return (
            self.response["data"]
            if self.response_type == CallbackType.MODAL and self.response
            else None
        )

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """Autocomplete choices the bot returned (callback type 8), if any."""
        if (
            self.response_type != CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
            or not self.response
        ):
            return None
        return list((self.response.get("data") or {}).get("choices") or [])

    @property
    def original(self) -> FakeMessage | None:
        """The original response message now (None before there is one)."""
        return None if self.original_message_id is None else self.lookup(self.original_message_id)

    @property
    def followups(self) -> list[FakeMessage]:
        """Followup messages in the order they were sent (deleted ones included)."""
        return [m for m in (self.lookup(i) for i in self.followup_ids) if m is not None]

    def elapsed(self) -> float:
        """Seconds since dispatch (larger of injected and real clocks)."""
        return self.stopwatch.elapsed()

    def is_late(self) -> bool:
        """Whether the 3-second initial-response window has passed."""
        return self.elapsed() > self.response_deadline

    def token_expired(self) -> bool:
        """Whether the 15-minute token lifetime has passed."""
        return self.elapsed() > TOKEN_LIFETIME_SECONDS

    def mark_failed_if_unanswered(self) -> None:
        """Called at the deadline: without a response the user sees the failure message."""
        if self.response is None and not self.failed:
            self.failed = True
            self.failure_reason = NO_RESPONSE
            log.info("interaction %s (%s) was not answered in time", self.id, self.describe())
            self.changes.notify()

    def describe(self) -> str:
        """Short label for logs and errors: command name or custom_id."""
        return str(self.data.get("name") or self.data.get("custom_id") or self.type.name)

    # --- awaiting -------------------------------------------------------------------------

    async def settled(self, timeout: float = 5.0) -> None:
        """Wait until the bot answered or the interaction failed."""
        await self.changes.wait_for(
            lambda: self.responded or self.failed, timeout, f"a response to {self.describe()}"
        )

    async def initial_response(self, timeout: float = 5.0) -> dict[str, Any]:
        """The accepted callback body ``{type, data}``; raises ``InteractionFailed`` if too late."""
        await self.settled(timeout)
        if self.response is None:
            raise InteractionFailed(f"{self.describe()}: {self.failure_reason}")
        return self.response

    async def original_message(self, timeout: float = 5.0) -> FakeMessage:
        """The original response message once it exists and is no longer "thinking"."""

        def ready() -> FakeMessage | None:
            if self.failed and not self.responded:
                raise InteractionFailed(f"{self.describe()}: {self.failure_reason}")
            original = self.original
            return original if original is not None and not original.loading else None

        return await self.changes.wait_for(
            ready, timeout, f"the original response of {self.describe()}"
        )

    async def wait_for_followups(self, count: int = 1, timeout: float = 5.0) -> list[FakeMessage]:
        """At least ``count`` followups, waiting for them if needed."""
        return await self.changes.wait_for(
            lambda: self.followups if len(self.followup_ids) >= count else None,
            timeout,
            f"{count} followup(s) of {self.describe()}",
        )


def new_token() -> str:
    """An opaque interaction token, long like Discord's."""
    return "fake." + secrets.token_urlsafe(96)


# --- payloads ---------------------------------------------------------------------------------


def base_payload(
    state: EmulatorState,
    *,
    interaction_id: int,
    token: str,
    kind: InteractionType,
    user: FakeUser,
    channel: FakeChannel,
    data: dict[str, Any],
    message: FakeMessage | None = None,
) -> dict[str, Any]:
    """The common INTERACTION_CREATE fields discord.py requires (and a few it merely reads)."""
    guild = state.guild_of(channel)
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(state.application_id),
        "type": int(kind),
        "data": data,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
        "channel_id": str(channel.id),
        "channel": state.channel_payload(channel),
        "member": state.member_payload(guild, user.id, with_permissions=True),
        "token": token,
        "version": 1,
        "app_permissions": str(state.app_permissions(channel)),
        "locale": "en-US",
        "guild_locale": guild.locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": guild.upload_limit,
    }
    if message is not None:
        payload["message"] = state.message_payload(message)
    return payload


def message_metadata(
    interaction: FakeInteraction, *, followup_of: int | None = None
) -> dict[str, Any]:
    """``interaction_metadata`` for messages created by an interaction response or followup."""
    meta: dict[str, Any] = {
        "id": str(interaction.id),
        "type": int(interaction.type),
        "user": interaction.user.payload(),
        "authorizing_integration_owners": {"0": str(interaction.guild.id)},
    }
    if interaction.type == InteractionType.APPLICATION_COMMAND:
        meta["name"] = full_command_name(interaction.data)
        meta["command_type"] = interaction.data.get("type", 1)
    if interaction.message is not None and interaction.type == InteractionType.MESSAGE_COMPONENT:
        meta["interacted_message_id"] = str(interaction.message.id)
    if interaction.triggered_by is not None:
        meta["triggering_interaction_metadata"] = message_metadata(interaction.triggered_by)
    if followup_of is not None:
        meta["original_response_message_id"] = str(followup_of)
    return meta


def full_command_name(data: dict[str, Any]) -> str:
    """``"admin stats"`` from a command's name plus its subcommand options."""
    parts = [str(data.get("name", ""))]
    options = data.get("options") or []
    while options and options[0].get("type") in (1, 2):
        parts.append(options[0]["name"])
        options = options[0].get("options") or []
    return " ".join(parts)


def component_data(
    message: FakeMessage, custom_id: str, values: list[str] | None
) -> dict[str, Any]:
    """``data`` of a button/select click; raises LookupError if the message has no such component."""
    component = message.find_component(custom_id)
    if component is None:
        raise LookupError(
            f"message {message.id} has no component {custom_id!r}; it has {message.custom_ids()}"
        )
    if component.get("disabled"):
        raise LookupError(f"component {custom_id!r} is disabled; users cannot click it")
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
    if component["type"] != 2:
        data["values"] = list(values or [])
    if "id" in component:
        data["id"] = component["id"]
    return data


def modal_submit_components(
    modal: dict[str, Any] | None, values: dict[str, Any]
) -> list[dict[str, Any]]:
    """The submitted ``components`` mirroring the modal's layout (rows or labels)."""
    if modal is None:
        return [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in values.items()
        ]
    unused = set(values)
    submitted = []
    for comp in modal.get("components") or []:
        if comp.get("type") == 1:
            inner = [_submitted(c, values, unused) for c in comp.get("components") or []]
            submitted.append({"type": 1, **_id(comp), "components": inner})
        elif comp.get("type") == 18:
            submitted.append(
                {
                    "type": 18,
                    **_id(comp),
                    "component": _submitted(comp["component"], values, unused),
                }
            )
        else:
            submitted.append({"type": comp.get("type"), **_id(comp)})
    if unused:
        raise LookupError(f"modal {modal.get('custom_id')!r} has no inputs {sorted(unused)}")
    return submitted


def _id(comp: dict[str, Any]) -> dict[str, Any]:
    return {"id": comp["id"]} if "id" in comp else {}


def _submitted(comp: dict[str, Any], values: dict[str, Any], unused: set[str]) -> dict[str, Any]:
    custom_id = comp.get("custom_id", "")
    unused.discard(custom_id)
    value = values.get(custom_id)
    out: dict[str, Any] = {"type": comp.get("type"), **_id(comp), "custom_id": custom_id}
    if comp.get("type") == 4:
        text = str(value if value is not None else comp.get("value") or "")
        _check_text_input(comp, text)
        out["value"] = text
    elif isinstance(value, list):
        out["values"] = [str(v) for v in value]
    else:
        out["value"] = value
    return out


def _check_text_input(comp: dict[str, Any], text: str) -> None:
    """What Discord's client enforces before it lets a user submit."""
    name = comp.get("custom_id")
    if comp.get("required", True) and not text:
        raise ValueError(f"text input {name!r} is required")
    if text and len(text) < (comp.get("min_length") or 0):
        raise ValueError(f"text input {name!r} needs at least {comp['min_length']} characters")
    if len(text) > (comp.get("max_length") or 4000):
        raise ValueError(
            f"text input {name!r} allows at most {comp.get('max_length') or 4000} characters"
        )


async def expire_later(interaction: FakeInteraction) -> None:
    """Mark the interaction failed when its response window closes unanswered."""
    await asyncio.sleep(interaction.response_deadline)
    interaction.mark_failed_if_unanswered()
