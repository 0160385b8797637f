"""Interaction callbacks and the interaction webhook (followups, original response).

Enforced like Discord: one initial response within the deadline (late -> 404 10062 and the
interaction is recorded as failed; second -> 400 40060), callback types valid for the interaction
type, message/modal/choice limits, upload size; the token works for 15 minutes (then 401 50027).
Channel permissions do not apply here: interaction responses bypass them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import errors, rules
from .core import EmulatorCore
from .errors import FieldError
from .interactions import (
    ALLOWED_CALLBACKS,
    CallbackType,
    FakeInteraction,
    InteractionType,
    message_metadata,
)
from .messages import Draft, Upload, is_empty_body
from .models import FakeMessage, MessageFlag, MessageType
from .rest import ApiRequest, Router, json_response, no_content

_RESOURCE_TYPES = (CallbackType.CHANNEL_MESSAGE_WITH_SOURCE, CallbackType.UPDATE_MESSAGE)
"""Callback types whose ``with_response`` body includes the message as ``resource`` (per spec)."""


class InteractionRoutes:
    """POST callback, and the webhook routes keyed by application id + interaction token."""

    def __init__(self, core: EmulatorCore) -> None:
        self._core = core
        self._state = core.state

    def register(self, router: Router) -> None:
        """Attach every route of this group (none needs the bot token)."""
        router.add(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            self.callback,
            bot_auth=False,
        )
        router.add("POST", "/webhooks/{webhook_id}/{webhook_token}", self.followup, bot_auth=False)
        base = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
        router.add("GET", base, self.get_message, bot_auth=False)
        router.add("PATCH", base, self.edit_message, bot_auth=False)
        router.add("DELETE", base, self.delete_message, bot_auth=False)

    # --- initial response -------------------------------------------------------------------

    async def callback(self, req: ApiRequest) -> web.Response:
        """The initial response; records failures on the FakeInteraction for the driver."""
        interaction = self._core.interactions.get(req.params["interaction_token"])
        if interaction is None or str(interaction.id) != req.params["interaction_id"]:
            raise errors.unknown_interaction()
        try:
            return await self._accept(interaction, req)
        except errors.DiscordError as exc:
            interaction.callback_errors.append(exc.code)
            raise

    async def _accept(self, ix: FakeInteraction, req: ApiRequest) -> web.Response:
        if ix.responded:
            raise errors.already_acknowledged()
        if ix.failed or ix.is_late():
            ix.mark_failed_if_unanswered()
            raise errors.unknown_interaction()
        body = req.json_object()
        callback_type = self._check_type(ix, body.get("type"))
        raw_data = body.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        message = self._respond(ix, callback_type, data, req.uploads)
        ix.response = {"type": callback_type, "data": data}
        ix.responded_after = ix.elapsed()
        self._core.changes.notify()
        if req.flag("with_response"):
            return json_response(self._callback_body(ix, callback_type, message))
        return no_content()

    def _check_type(self, ix: FakeInteraction, callback_type: Any) -> int:
        """The callback type as an int, once it is one this interaction accepts."""
        allowed = set(ALLOWED_CALLBACKS[ix.type])
        if ix.type == InteractionType.MODAL_SUBMIT and ix.message is None:
            allowed -= {6, 7}
        if callback_type not in allowed:
            choices = ", ".join(str(t) for t in sorted(allowed))
            raise errors.invalid_form_body(
                [FieldError(("type",), "BASE_TYPE_CHOICES", f"Value must be one of ({choices}).")]
            )
        return int(callback_type)

    def _respond(
        self, ix: FakeInteraction, callback_type: int, data: dict[str, Any], uploads: list[Upload]
    ) -> FakeMessage | None:
        """Apply one callback type; returns the message it created or updated, if any."""
        if callback_type == CallbackType.CHANNEL_MESSAGE_WITH_SOURCE:
            return self._reply(ix, data, uploads)
        if callback_type == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
            return self._defer(ix, data)
        if callback_type in (CallbackType.DEFERRED_UPDATE_MESSAGE, CallbackType.UPDATE_MESSAGE):
            return self._update(ix, callback_type, data, uploads)
        if callback_type == CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            self._raise_if(rules.check_choices(data))
        elif callback_type == CallbackType.MODAL:
            self._raise_if(rules.check_modal(data))
            self._core.modals[str(data["custom_id"])] = ix
        return None

    def _raise_if(self, problems: list[FieldError]) -> None:
        if problems:
            raise errors.invalid_form_body(problems, ("data",))

    def _draft(
        self, ix: FakeInteraction, *, followup_of: int | None = None, extra_flags: int = 0
    ) -> Draft:
        command = ix.type == InteractionType.APPLICATION_COMMAND
        return Draft(
            ix.channel,
            self._state.bot_user.id,
            allow_ephemeral=True,
            visible_to=ix.user.id,
            interaction_id=ix.id,
            interaction_metadata=message_metadata(ix, followup_of=followup_of),
            webhook_id=self._state.application_id,
            type=MessageType.CHAT_INPUT_COMMAND if command else MessageType.DEFAULT,
            extra_flags=extra_flags,
        )

    def _reply(
        self, ix: FakeInteraction, data: dict[str, Any], uploads: list[Upload]
    ) -> FakeMessage:
        self._core.messages.validate(ix.channel, data, uploads, ("data",))
        if is_empty_body(data, uploads):
            raise errors.empty_message()
        message = self._core.messages.create(self._draft(ix), data, uploads)
        ix.original_message_id = message.id
        return message

    def _defer(self, ix: FakeInteraction, data: dict[str, Any]) -> FakeMessage:
        flags = (data.get("flags") or 0) & MessageFlag.EPHEMERAL
        draft = self._draft(ix, extra_flags=MessageFlag.LOADING)
        message = self._core.messages.create(draft, {"flags": flags}, [])
        ix.original_message_id = message.id
        return message

    def _update(
        self, ix: FakeInteraction, callback_type: int, data: dict[str, Any], uploads: list[Upload]
    ) -> FakeMessage | None:
        if ix.message is None:
            return None
        ix.original_message_id = ix.message.id
        if callback_type == CallbackType.UPDATE_MESSAGE:
            self._core.messages.validate(ix.channel, data, uploads, ("data",))
            self._core.messages.edit(ix.message, data, uploads)
        return ix.message

    def _callback_body(
        self, ix: FakeInteraction, callback_type: int, message: FakeMessage | None
    ) -> dict[str, Any]:
        """The ``with_response`` body discord.py turns into an InteractionCallbackResponse."""
        summary: dict[str, Any] = {
            "id": str(ix.id),
            "type": int(ix.type),
            "channel_id": str(ix.channel.id),
            "guild_id": str(ix.guild.id),
        }
        body: dict[str, Any] = {"interaction": summary}
        if message is not None:
            summary.update(
                response_message_id=str(message.id),
                response_message_loading=message.loading,
                response_message_ephemeral=message.ephemeral,
            )
        if message is not None and callback_type in _RESOURCE_TYPES:
            payload = self._state.message_payload(message)
            body["resource"] = {"type": callback_type, "message": payload}
        return body

    # --- webhook routes ---------------------------------------------------------------------

    def _interaction(self, req: ApiRequest) -> FakeInteraction:
        """The interaction behind a webhook URL; 10015 / 50027 like Discord."""
        if req.snowflake("webhook_id") != self._state.application_id:
            raise errors.unknown_webhook()
        ix = self._core.interactions.get(req.params["webhook_token"])
        if ix is None or ix.token_expired():
            raise errors.invalid_webhook_token()
        if not ix.responded:
            raise errors.unknown_webhook()
        return ix

    def _message(self, ix: FakeInteraction, req: ApiRequest) -> FakeMessage:
        ref = req.params["message_id"]
        if ref == "@original":
            message = ix.original
        else:
            wanted = req.snowflake("message_id")
            known = wanted in ix.followup_ids or wanted == ix.original_message_id
            message = self._state.messages.get(wanted) if known else None
        if message is None or message.deleted:
            raise errors.unknown_message()
        return message

    async def followup(self, req: ApiRequest) -> web.Response:
        """A followup; the first one after a defer fills the "thinking" message, as Discord does.

        Once the "thinking" message was deleted, a followup is a new message with its own flags.
        """
        ix = self._interaction(req)
        payload = req.json_object()
        self._core.messages.validate(ix.channel, payload, req.uploads)
        if is_empty_body(payload, req.uploads):
            raise errors.empty_message()
        original = ix.original
        if original is not None and original.loading and not original.deleted:
            fill = {k: v for k, v in payload.items() if k != "flags"}
            message = self._core.messages.edit(original, fill, req.uploads)
        else:
            draft = self._draft(ix, followup_of=ix.original_message_id)
            message = self._core.messages.create(draft, payload, req.uploads)
        ix.followup_ids.append(message.id)
        if req.flag("wait"):
            return json_response(self._state.message_payload(message))
        return no_content()

    async def get_message(self, req: ApiRequest) -> web.Response:
        """The original response or one followup."""
        ix = self._interaction(req)
        return json_response(self._state.message_payload(self._message(ix, req)))

    async def edit_message(self, req: ApiRequest) -> web.Response:
        """Edit the original response or a followup (fills a deferred one)."""
        ix = self._interaction(req)
        message = self._message(ix, req)
        payload = req.json_object()
        self._core.messages.validate(ix.channel, payload, req.uploads)
        self._core.messages.edit(message, payload, req.uploads)
        return json_response(self._state.message_payload(message))

    async def delete_message(self, req: ApiRequest) -> web.Response:
        """Delete the original response or a followup."""
        ix = self._interaction(req)
        self._core.messages.delete(self._message(ix, req))
        return no_content()
