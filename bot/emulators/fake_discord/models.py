"""The emulator's world: users, roles, guilds, channels, attachments and messages.

These are plain dataclasses the test driver reads directly (``emu.channel_messages(ch)[0].content``);
turning them into Discord JSON payloads that need more than one object lives in ``state.py``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .permissions import DEFAULT_BOT_PERMISSIONS

MiB = 1024 * 1024
DEFAULT_UPLOAD_LIMIT = 10 * MiB
"""Discord's per-file limit for bots, webhooks and interaction responses since 2025-01-16."""
UPLOAD_LIMIT_BY_TIER = {0: DEFAULT_UPLOAD_LIMIT, 1: DEFAULT_UPLOAD_LIMIT, 2: 50 * MiB, 3: 100 * MiB}
"""Per-file upload limit by boost tier: 10 MiB at tiers 0-1, 50 MiB at 2, 100 MiB at 3 (discord.py
2.7 ``Guild.filesize_limit`` / ``_PREMIUM_GUILD_LIMITS``; API-CL 2024-12-16 for the 10 MiB base)."""

BOOSTS_FOR_TIER = {0: 0, 1: 2, 2: 7, 3: 14}
"""Boosts a guild needs for each tier (Discord's Server Boosting FAQ), sent as
``premium_subscription_count`` so the payload is consistent."""


def upload_limit_for(premium_tier: int, override: int | None) -> int:
    """The per-file limit of a guild at ``premium_tier``, unless ``override`` gives one."""
    if premium_tier not in UPLOAD_LIMIT_BY_TIER:
        raise ValueError(f"boost tiers are 0-3, not {premium_tier}")
    return UPLOAD_LIMIT_BY_TIER[premium_tier] if override is None else override


class ChannelType(IntEnum):
    """The channel types the emulator can create."""

    GUILD_TEXT = 0
    GUILD_VOICE = 2
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_FORUM = 15


class MessageFlag(IntEnum):
    """Message flags the emulator interprets."""

    SUPPRESS_EMBEDS = 1 << 2
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    SUPPRESS_NOTIFICATIONS = 1 << 12
    IS_COMPONENTS_V2 = 1 << 15


class MessageType(IntEnum):
    """Message types the emulator produces."""

    DEFAULT = 0
    REPLY = 19
    CHAT_INPUT_COMMAND = 20


@dataclass(eq=False)
class FakeUser:
    """A Discord user (people and the bot)."""

    id: int
    name: str
    bot: bool = False

    @property
    def mention(self) -> str:
        """The ``<@id>`` form used in message content."""
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        """User object as Discord sends it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": None if self.bot else self.name,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(eq=False)
class FakeRole:
    """A guild role; the @everyone role shares its id with the guild."""

    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 1
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        """The ``<@&id>`` form used in message content."""
        return f"<@&{self.id}>"

    def payload(self) -> dict[str, Any]:
        """Role object as Discord sends it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.bot_id is not None,
            "mentionable": False,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass(eq=False)
class FakeMember:
    """A user's membership in one guild; ``nick`` is the server nickname (None: none set)."""

    user: FakeUser
    guild_id: int
    role_ids: list[int]
    joined_at: str
    nick: str | None = None

    def payload(self, permissions: int | None = None) -> dict[str, Any]:
        """Guild member object; ``permissions`` is only present inside interactions."""
        data: dict[str, Any] = {
            "user": self.user.payload(),
            "roles": [str(r) for r in self.role_ids],
            "joined_at": self.joined_at,
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(eq=False)
class FakeGuild:
    """A server. ``upload_limit`` is the per-attachment size limit in bytes."""

    id: int
    name: str
    owner_id: int
    upload_limit: int = DEFAULT_UPLOAD_LIMIT
    roles: dict[int, FakeRole] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    bot_role_id: int | None = None
    manager_role_id: int | None = None
    bot_present: bool = True
    locale: str = "en-US"
    boost_tier: int | None = None
    """The boost tier set by the driver; None derives it from ``upload_limit``."""

    @property
    def everyone_role(self) -> FakeRole:
        """The @everyone role (same id as the guild)."""
        return self.roles[self.id]

    @property
    def premium_tier(self) -> int:
        """The boost tier: as set, else implied by the upload limit (so discord.py's
        ``filesize_limit`` agrees with an ``upload_limit`` given in bytes)."""
        if (
            self.boost_tier is not None
            and self.upload_limit == UPLOAD_LIMIT_BY_TIER[self.boost_tier]
        ):
            return self.boost_tier
        if self.upload_limit >= 100 * MiB:
            return 3
        if self.upload_limit >= 50 * MiB:
            return 2
        return 0


@dataclass(eq=False)
class FakeChannel:
    """A text channel or thread; ``bot_permissions`` is what the bot may do here."""

    id: int
    guild_id: int
    name: str
    type: ChannelType = ChannelType.GUILD_TEXT
    position: int = 0
    bot_permissions: int = int(DEFAULT_BOT_PERMISSIONS)
    parent_id: int | None = None
    archived: bool = False
    locked: bool = False
    deleted: bool = False
    last_message_id: int | None = None
    #: Whether the bot has joined this thread (a private one is hidden from non-members).
    bot_is_member: bool = False

    @property
    def is_thread(self) -> bool:
        """Whether this is a thread (sending needs SEND_MESSAGES_IN_THREADS)."""
        return self.type in (ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD)

    @property
    def is_voice(self) -> bool:
        """Whether this is a voice channel (its text chat needs CONNECT to be read)."""
        return self.type == ChannelType.GUILD_VOICE

    @property
    def mention(self) -> str:
        """The ``<#id>`` form used in message content."""
        return f"<#{self.id}>"


@dataclass
class FakeAttachment:
    """A file a simulated user attaches to a slash command option or message."""

    filename: str
    content_type: str = "application/octet-stream"
    data: bytes = b""
    width: int | None = None
    height: int | None = None
    description: str | None = None


@dataclass(eq=False)
class StoredAttachment:
    """An uploaded file the emulator serves back at ``url``."""

    id: int
    filename: str
    content_type: str
    data: bytes
    url: str
    width: int | None = None
    height: int | None = None
    description: str | None = None
    ephemeral: bool = False

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    def payload(self) -> dict[str, Any]:
        """Attachment object as Discord sends it."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
            "ephemeral": self.ephemeral,
            "flags": 0,
        }
        if self.width is not None and self.height is not None:
            data.update(width=self.width, height=self.height)
        if self.description is not None:
            data["description"] = self.description
        return data


@dataclass(frozen=True)
class MessageRevision:
    """What a message looked like before one edit."""

    at: float
    content: str
    embeds: list[dict[str, Any]]
    components: list[dict[str, Any]]
    attachment_filenames: list[str]
    flags: int


@dataclass(eq=False)
class FakeMessage:
    """A message as the emulator stores it, including deleted and ephemeral ones."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    created_at: float
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[StoredAttachment] = field(default_factory=list)
    message_reference: dict[str, Any] | None = None
    allowed_mentions: dict[str, Any] | None = None
    flags: int = 0
    nonce: str | int | None = None
    type: int = MessageType.DEFAULT
    tts: bool = False
    edited_at: float | None = None
    edits: list[MessageRevision] = field(default_factory=list)
    deleted: bool = False
    interaction_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    visible_to: int | None = None
    mention_everyone: bool = False
    mention_user_ids: list[int] = field(default_factory=list)
    mention_role_ids: list[int] = field(default_factory=list)

    @property
    def edit_count(self) -> int:
        """How many times the message was edited."""
        return len(self.edits)

    @property
    def ephemeral(self) -> bool:
        """Whether only ``visible_to`` can see it."""
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether this is a deferred "Bot is thinking..." placeholder not yet filled in."""
        return bool(self.flags & MessageFlag.LOADING)

    @property
    def reply_to(self) -> int | None:
        """Id of the message this one replies to, if any."""
        if self.message_reference is None:
            return None
        return int(self.message_reference["message_id"])

    def custom_ids(self) -> list[str]:
        """Every component ``custom_id`` on the message, in order."""
        return [c["custom_id"] for c in iter_components(self.components) if "custom_id" in c]

    def find_component(self, custom_id: str) -> dict[str, Any] | None:
        """The component with this ``custom_id``, searching nested layouts."""
        return next(
            (c for c in iter_components(self.components) if c.get("custom_id") == custom_id),
            None,
        )

    def snapshot(self, at: float) -> MessageRevision:
        """Freeze the current look of the message (before an edit)."""
        return MessageRevision(
            at=at,
            content=self.content,
            embeds=copy.deepcopy(self.embeds),
            components=copy.deepcopy(self.components),
            attachment_filenames=[a.filename for a in self.attachments],
            flags=self.flags,
        )


def iter_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten a component tree (action rows, containers, sections, labels) depth-first."""
    flat: list[dict[str, Any]] = []
    for comp in components:
        if not isinstance(comp, dict):
            continue
        flat.append(comp)
        children = list(comp.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                children.append(comp[key])
        flat.extend(iter_components(children))
    return flat
