"""Creating, editing and deleting messages, shared by channel, webhook and interaction routes.

Route handlers decide *who* may do something (permissions, tokens); this module decides *what*
happens to the message: limits, upload sizes, nonce dedupe, mention resolution, edit history and
the gateway event that follows.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import errors, rules
from .changes import ChangeSignal
from .errors import PathPart
from .models import (
    FakeAttachment,
    FakeChannel,
    FakeMessage,
    MessageFlag,
    MessageType,
    iter_components,
)
from .state import EmulatorState

NONCE_WINDOW_SECONDS = 300.0
"""How long ``enforce_nonce`` remembers a nonce ("the past few minutes" in Discord's docs)."""

MAX_FILES = 10
_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")
_EDITABLE_FLAGS = MessageFlag.SUPPRESS_EMBEDS | MessageFlag.IS_COMPONENTS_V2
_CREATE_FLAGS = _EDITABLE_FLAGS | MessageFlag.SUPPRESS_NOTIFICATIONS

MessageListener = Callable[[str, FakeMessage], None]


@dataclass
class Upload:
    """One ``files[n]`` part of a multipart request."""

    index: int
    filename: str
    content_type: str
    data: bytes


@dataclass
class Draft:
    """Who is posting where and how, decided by the route before the message exists."""

    channel: FakeChannel
    author_id: int
    allow_ephemeral: bool = False
    visible_to: int | None = None
    interaction_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    webhook_id: int | None = None
    type: int = MessageType.DEFAULT
    reference: dict[str, Any] | None = None
    drop_embeds: bool = False
    can_mention_everyone: bool = True
    extra_flags: int = 0


class MessageService:
    """Applies message bodies to the shared state and reports changes."""

    def __init__(
        self, state: EmulatorState, changes: ChangeSignal, listener: MessageListener
    ) -> None:
        self._state = state
        self._changes = changes
        self._listener = listener
        self._nonces: dict[tuple[int, str], tuple[float, int]] = {}

    # --- validation ------------------------------------------------------------------------

    def validate(
        self,
        channel: FakeChannel,
        payload: dict[str, Any],
        uploads: list[Upload],
        prefix: tuple[PathPart, ...] = (),
    ) -> None:
        """Raise the error Discord would give for limits or oversize files."""
        problems = rules.check_message(payload)
        if len(uploads) > MAX_FILES:
            problems.append(rules.too_long(("files",), MAX_FILES))
        if problems:
            raise errors.invalid_form_body(problems, prefix)
        limit = self._state.guild_of(channel).upload_limit
        if any(len(u.data) > limit for u in uploads):
            raise errors.entity_too_large()

    def find_duplicate(self, author_id: int, payload: dict[str, Any]) -> FakeMessage | None:
        """The message an ``enforce_nonce`` repeat should get back instead of a new one."""
        nonce = payload.get("nonce")
        if nonce is None or not payload.get("enforce_nonce"):
            return None
        seen = self._nonces.get((author_id, str(nonce)))
        if seen is None or self._state.clock() - seen[0] > NONCE_WINDOW_SECONDS:
            return None
        original = self._state.messages.get(seen[1])
        return original if original is not None and not original.deleted else None

    # --- mutations -------------------------------------------------------------------------

    def create(self, draft: Draft, payload: dict[str, Any], uploads: list[Upload]) -> FakeMessage:
        """Store a new message (already validated) and emit MESSAGE_CREATE when public."""
        state = self._state
        flags = _as_int(payload.get("flags")) & (
            _CREATE_FLAGS | (MessageFlag.EPHEMERAL if draft.allow_ephemeral else 0)
        )
        flags |= draft.extra_flags
        message = FakeMessage(
            id=state.new_id(),
            channel_id=draft.channel.id,
            guild_id=draft.channel.guild_id,
            author_id=draft.author_id,
            created_at=state.clock(),
            flags=flags,
            nonce=payload.get("nonce"),
            type=MessageType.REPLY if draft.reference else draft.type,
            tts=bool(payload.get("tts")),
            message_reference=draft.reference,
            interaction_id=draft.interaction_id,
            interaction_metadata=draft.interaction_metadata,
            webhook_id=draft.webhook_id,
            application_id=state.application_id if draft.webhook_id else None,
        )
        if message.ephemeral:
            message.visible_to = draft.visible_to
        self._apply_body(message, payload, uploads, draft.drop_embeds)
        self._resolve_mentions(message, payload.get("allowed_mentions"), draft.can_mention_everyone)
        state.messages[message.id] = message
        if not message.ephemeral:
            draft.channel.last_message_id = message.id
        self._remember_nonce(message, payload)
        self._emit("MESSAGE_CREATE", message)
        return message

    def edit(
        self,
        message: FakeMessage,
        payload: dict[str, Any],
        uploads: list[Upload],
        *,
        drop_embeds: bool = False,
    ) -> FakeMessage:
        """Apply a PATCH body, keeping the previous look in ``message.edits``."""
        if _edit_leaves_empty(message, payload, uploads, drop_embeds):
            raise errors.empty_message()
        before = message.snapshot(self._state.clock())
        if "flags" in payload:
            keep = message.flags & ~_EDITABLE_FLAGS
            message.flags = keep | (_as_int(payload["flags"]) & _EDITABLE_FLAGS)
        message.flags &= ~MessageFlag.LOADING
        self._apply_body(message, payload, uploads, drop_embeds)
        if "allowed_mentions" in payload or "content" in payload:
            self._resolve_mentions(
                message, payload.get("allowed_mentions", message.allowed_mentions), True
            )
        message.edits.append(before)
        message.edited_at = self._state.clock()
        self._emit("MESSAGE_UPDATE", message)
        return message

    def delete(self, message: FakeMessage) -> None:
        """Mark deleted (kept for inspection) and emit MESSAGE_DELETE when it was public."""
        message.deleted = True
        self._emit("MESSAGE_DELETE", message)

    # --- helpers ---------------------------------------------------------------------------

    def _apply_body(
        self,
        message: FakeMessage,
        payload: dict[str, Any],
        uploads: list[Upload],
        drop_embeds: bool,
    ) -> None:
        if "content" in payload:
            message.content = payload["content"] if isinstance(payload["content"], str) else ""
        if "embeds" in payload:
            message.embeds = [] if drop_embeds else _normalise_embeds(payload["embeds"])
        if "components" in payload:
            message.components = number_components(copy.deepcopy(payload["components"] or []))
        if "allowed_mentions" in payload:
            message.allowed_mentions = payload["allowed_mentions"]
        self._apply_attachments(message, payload, uploads)

    def _apply_attachments(
        self, message: FakeMessage, payload: dict[str, Any], uploads: list[Upload]
    ) -> None:
        described = {
            str(a.get("id")): a for a in payload.get("attachments") or [] if isinstance(a, dict)
        }
        if "attachments" in payload:
            message.attachments = [a for a in message.attachments if str(a.id) in described]
        for upload in uploads:
            meta = described.get(str(upload.index), {})
            file = FakeAttachment(
                filename=meta.get("filename") or upload.filename,
                content_type=upload.content_type,
                data=upload.data,
                description=meta.get("description"),
            )
            stored = self._state.store_attachment(
                message.channel_id, file, ephemeral=message.ephemeral
            )
            message.attachments.append(stored)

    def _resolve_mentions(
        self, message: FakeMessage, allowed: Any, can_mention_everyone: bool
    ) -> None:
        """Who actually gets pinged, honouring ``allowed_mentions`` like Discord does."""
        allowed = (
            allowed if isinstance(allowed, dict) else {"parse": ["users", "roles", "everyone"]}
        )
        parse = set(allowed.get("parse") or [])
        users = {int(u) for u in _USER_MENTION.findall(message.content)}
        roles = {int(r) for r in _ROLE_MENTION.findall(message.content)}
        allowed_users = {int(u) for u in allowed.get("users") or []}
        allowed_roles = {int(r) for r in allowed.get("roles") or []}
        pinged = {u for u in users if "users" in parse or u in allowed_users}
        target = self._state.messages.get(message.reply_to or 0)
        if target is not None and allowed.get("replied_user"):
            pinged.add(target.author_id)
        message.mention_user_ids = sorted(u for u in pinged if u in self._state.users)
        message.mention_role_ids = sorted(
            r for r in roles if "roles" in parse or r in allowed_roles
        )
        everyone = "@everyone" in message.content or "@here" in message.content
        message.mention_everyone = everyone and "everyone" in parse and can_mention_everyone

    def _remember_nonce(self, message: FakeMessage, payload: dict[str, Any]) -> None:
        if message.nonce is not None and payload.get("enforce_nonce"):
            self._nonces[(message.author_id, str(message.nonce))] = (message.created_at, message.id)

    def _emit(self, event: str, message: FakeMessage) -> None:
        self._listener(event, message)
        self._changes.notify()


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _normalise_embeds(embeds: Any) -> list[dict[str, Any]]:
    """Stored embeds as Discord returns them: ``type: rich`` and no bot-set ``video``."""
    result = []
    for embed in embeds or []:
        if isinstance(embed, dict):
            clean = {k: v for k, v in copy.deepcopy(embed).items() if k != "video"}
            clean.setdefault("type", "rich")
            result.append(clean)
    return result


def number_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Normalise stored components as Discord returns them: every component gets a numeric ``id``
    (depth-first, skipping ids already used) and unicode emoji lose their null ``id``."""
    flat = iter_components(components)
    used = {c["id"] for c in flat if isinstance(c.get("id"), int)}
    next_id = 1
    for comp in flat:
        emoji = comp.get("emoji")
        if isinstance(emoji, dict) and emoji.get("id") is None:
            emoji.pop("id", None)
        if isinstance(comp.get("id"), int):
            continue
        while next_id in used:
            next_id += 1
        comp["id"] = next_id
        used.add(next_id)
    return components


def _edit_leaves_empty(
    message: FakeMessage, payload: dict[str, Any], uploads: list[Upload], drop_embeds: bool
) -> bool:
    content = payload["content"] if "content" in payload else message.content
    if "embeds" in payload:
        embeds = [] if drop_embeds else payload["embeds"]
    else:
        embeds = message.embeds
    components = payload["components"] if "components" in payload else message.components
    kept = message.attachments
    if "attachments" in payload:
        ids = {str(a.get("id")) for a in payload["attachments"] or [] if isinstance(a, dict)}
        kept = [a for a in message.attachments if str(a.id) in ids]
    return not (content or embeds or components or kept or uploads)


def is_empty_body(payload: dict[str, Any], uploads: list[Upload]) -> bool:
    """Whether a create body would produce a message with nothing in it (50006)."""
    return not (
        payload.get("content")
        or payload.get("embeds")
        or payload.get("components")
        or payload.get("sticker_ids")
        or payload.get("poll")
        or uploads
    )
