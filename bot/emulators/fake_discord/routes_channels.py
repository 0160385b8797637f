"""REST routes for channels and their messages, with the bot's channel permissions enforced.

Check order follows what Discord reports first: unknown channel (404), oversized upload (413),
access and send permissions (403), then the body (400). Embeds are silently dropped without
EMBED_LINKS, as Discord does; files need ATTACH_FILES; replies need READ_MESSAGE_HISTORY.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import errors, rules
from .core import EmulatorCore
from .errors import FieldError
from .messages import Draft, Upload, is_empty_body
from .models import FakeChannel, FakeMessage
from .permissions import Permission
from .rest import ApiRequest, Router, json_response, no_content

DEFAULT_HISTORY_LIMIT = 50


class ChannelRoutes:
    """GET channel, message history, and create/get/edit/delete message as the bot."""

    def __init__(self, core: EmulatorCore) -> None:
        self._core = core
        self._state = core.state
        self._bot_id = core.state.bot_user.id

    def register(self, router: Router) -> None:
        """Attach every route of this group."""
        router.add("GET", "/channels/{channel_id}", self.get_channel)
        router.add("GET", "/channels/{channel_id}/messages", self.history)
        router.add("POST", "/channels/{channel_id}/messages", self.create)
        router.add("POST", "/channels/{channel_id}/typing", self.typing)
        router.add("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        router.add("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit)
        router.add("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete)

    # --- helpers ----------------------------------------------------------------------------

    def _visible_channel(self, req: ApiRequest) -> tuple[FakeChannel, int]:
        channel = self._state.get_channel(req.snowflake("channel_id"))
        perms = self._state.bot_permissions(channel)
        if not perms & Permission.VIEW_CHANNEL:
            raise errors.missing_access()
        return channel, perms

    def _check_uploads(self, channel: FakeChannel, uploads: list[Upload]) -> None:
        limit = self._state.guild_of(channel).upload_limit
        if any(len(u.data) > limit for u in uploads):
            raise errors.entity_too_large()

    def _check_can_send(self, channel: FakeChannel, perms: int) -> None:
        if channel.is_thread:
            if not perms & Permission.SEND_MESSAGES_IN_THREADS:
                raise errors.missing_permissions()
            if channel.locked and not perms & Permission.MANAGE_THREADS:
                raise errors.thread_locked()
            channel.archived = False  # sending to an archived (unlocked) thread unarchives it
        elif not perms & Permission.SEND_MESSAGES:
            raise errors.missing_permissions()

    def _reference(self, channel: FakeChannel, ref: Any, perms: int) -> dict[str, Any] | None:
        """Resolve a reply target; unknown targets fail unless ``fail_if_not_exists`` is false.

        A reference naming another channel always fails (``rules.check_reply_channel``).
        """
        if not ref:
            return None
        if not perms & Permission.READ_MESSAGE_HISTORY:
            raise errors.missing_permissions()
        ref = ref if isinstance(ref, dict) else {}
        other_channel = rules.check_reply_channel(ref, channel.id)
        if other_channel is not None:
            raise errors.invalid_form_body([other_channel])
        target = self._state.messages.get(_int(ref.get("message_id")))
        if target is None or target.deleted or target.ephemeral or target.channel_id != channel.id:
            if ref.get("fail_if_not_exists", True) is False:
                return None
            unknown = FieldError(
                ("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
            )
            raise errors.invalid_form_body([unknown])
        return {
            "type": 0,
            "message_id": str(target.id),
            "channel_id": str(channel.id),
            "guild_id": str(channel.guild_id),
        }

    def _own_message(self, channel: FakeChannel, req: ApiRequest) -> FakeMessage:
        return self._state.get_message(channel, req.snowflake("message_id"))

    # --- handlers ---------------------------------------------------------------------------

    async def get_channel(self, req: ApiRequest) -> web.Response:
        """Channel object (needs VIEW_CHANNEL)."""
        channel, _ = self._visible_channel(req)
        return json_response(self._state.channel_payload(channel))

    async def typing(self, req: ApiRequest) -> web.Response:
        """Typing indicator: accepted and ignored."""
        channel, perms = self._visible_channel(req)
        self._check_can_send(channel, perms)
        return no_content()

    async def history(self, req: ApiRequest) -> web.Response:
        """Newest-first history; empty without READ_MESSAGE_HISTORY, as documented."""
        channel, perms = self._visible_channel(req)
        if not perms & Permission.READ_MESSAGE_HISTORY:
            return json_response([])
        limit = min(max(_int(req.query.get("limit")) or DEFAULT_HISTORY_LIMIT, 1), 100)
        selected = select_history(self._state.channel_history(channel), req.query, limit)
        return json_response([self._state.message_payload(m) for m in selected])

    async def get_message(self, req: ApiRequest) -> web.Response:
        """One message (needs READ_MESSAGE_HISTORY); 404 10008 when deleted."""
        channel, perms = self._visible_channel(req)
        if not perms & Permission.READ_MESSAGE_HISTORY:
            raise errors.missing_permissions()
        return json_response(self._state.message_payload(self._own_message(channel, req)))

    async def create(self, req: ApiRequest) -> web.Response:
        """Post a message as the bot."""
        channel = self._state.get_channel(req.snowflake("channel_id"))
        self._check_uploads(channel, req.uploads)
        channel, perms = self._visible_channel(req)
        self._check_can_send(channel, perms)
        payload = req.json_object()
        duplicate = self._core.messages.find_duplicate(self._bot_id, payload)
        if duplicate is not None:
            return json_response(self._state.message_payload(duplicate))
        self._core.messages.validate(channel, payload, req.uploads)
        if req.uploads and not perms & Permission.ATTACH_FILES:
            raise errors.missing_permissions()
        reference = self._reference(channel, payload.get("message_reference"), perms)
        drop_embeds = not perms & Permission.EMBED_LINKS
        if is_empty_body({**payload, "embeds": None} if drop_embeds else payload, req.uploads):
            raise errors.empty_message()
        draft = Draft(
            channel,
            self._bot_id,
            reference=reference,
            drop_embeds=drop_embeds,
            can_mention_everyone=bool(perms & Permission.MENTION_EVERYONE),
        )
        message = self._core.messages.create(draft, payload, req.uploads)
        return json_response(self._state.message_payload(message))

    async def edit(self, req: ApiRequest) -> web.Response:
        """Edit one of the bot's messages (including its interaction responses)."""
        channel = self._state.get_channel(req.snowflake("channel_id"))
        self._check_uploads(channel, req.uploads)
        channel, perms = self._visible_channel(req)
        message = self._own_message(channel, req)
        if message.author_id != self._bot_id:
            raise errors.cannot_edit_other_users_message()
        payload = req.json_object()
        self._core.messages.validate(channel, payload, req.uploads)
        if req.uploads and not perms & Permission.ATTACH_FILES:
            raise errors.missing_permissions()
        drop = "embeds" in payload and not perms & Permission.EMBED_LINKS
        self._core.messages.edit(message, payload, req.uploads, drop_embeds=drop)
        return json_response(self._state.message_payload(message))

    async def delete(self, req: ApiRequest) -> web.Response:
        """Delete the bot's message, or anyone's with MANAGE_MESSAGES."""
        channel, perms = self._visible_channel(req)
        message = self._own_message(channel, req)
        if message.author_id != self._bot_id and not perms & Permission.MANAGE_MESSAGES:
            raise errors.missing_permissions()
        self._core.messages.delete(message)
        return no_content()


def select_history(
    messages: list[FakeMessage], query: dict[str, str], limit: int
) -> list[FakeMessage]:
    """Apply before/after/around to oldest-first messages; result is newest first like Discord."""
    if query.get("around"):
        around = _int(query["around"])
        older = [m for m in messages if m.id <= around][-(limit // 2 + 1) :]
        newer = [m for m in messages if m.id > around][: limit - len(older)]
        return list(reversed(older + newer))
    if query.get("after"):
        after = _int(query["after"])
        return list(reversed([m for m in messages if m.id > after][:limit]))
    before = _int(query.get("before"))
    older = [m for m in messages if not before or m.id < before]
    return list(reversed(older[-limit:]))


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
