"""The emulator's shared state: entity registries, permission maths and Discord JSON payloads.

REST handlers, the gateway and the test driver all read and write this one object, so a message
the bot posts over REST is immediately what ``emu.channel_messages`` returns and what a later
GET sends back.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from . import errors
from .clock import Clock, SnowflakeFactory, iso_timestamp
from .models import (
    BOOSTS_FOR_TIER,
    DEFAULT_UPLOAD_LIMIT,
    ChannelType,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    StoredAttachment,
)
from .permissions import (
    ALL_PERMISSIONS,
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    Permission,
    effective_permissions,
    member_overwrite,
)


class EmulatorState:
    """Every guild, channel, user, message, attachment and registered command."""

    def __init__(self, clock: Clock, base_url: Callable[[], str]) -> None:
        self.clock = clock
        self.new_id = SnowflakeFactory(clock)
        self._base_url = base_url
        self.application_id = self.new_id()
        self.bot_user = FakeUser(self.application_id, "sora-bot", bot=True)
        self.owner = FakeUser(self.new_id(), "app-owner")
        self.users: dict[int, FakeUser] = {u.id: u for u in (self.bot_user, self.owner)}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, FakeMessage] = {}
        self.attachments: dict[int, StoredAttachment] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}

    # --- building the world -----------------------------------------------------------------

    def add_guild(self, name: str, upload_limit: int = DEFAULT_UPLOAD_LIMIT) -> FakeGuild:
        """A guild with @everyone, a managed bot role, the bot and the app owner as members."""
        guild = FakeGuild(self.new_id(), name, owner_id=self.owner.id, upload_limit=upload_limit)
        self.guilds[guild.id] = guild
        guild.roles[guild.id] = FakeRole(
            guild.id, guild.id, "@everyone", int(DEFAULT_EVERYONE_PERMISSIONS), 0
        )
        bot_role = FakeRole(
            self.new_id(),
            guild.id,
            self.bot_user.name,
            int(DEFAULT_BOT_PERMISSIONS),
            1,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.bot_role_id = bot_role.id
        self._join(guild, self.bot_user, [bot_role.id])
        self._join(guild, self.owner, [])
        return guild

    def add_channel(
        self,
        guild: FakeGuild,
        name: str,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        *,
        parent: FakeChannel | None = None,
        kind: ChannelType | None = None,
    ) -> FakeChannel:
        """A text channel, or a public thread under ``parent`` (inheriting its permissions).

        ``kind`` picks another type: a voice or forum channel, or a private thread.
        """
        default = ChannelType.PUBLIC_THREAD if parent else ChannelType.GUILD_TEXT
        channel = FakeChannel(
            self.new_id(),
            guild.id,
            name,
            type=kind or default,
            position=len(guild.channel_ids),
            bot_permissions=int(parent.bot_permissions if parent else bot_permissions),
            parent_id=parent.id if parent else None,
        )
        self.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def add_role(self, guild: FakeGuild, name: str, permissions: int = 0) -> FakeRole:
        """A plain role (not managed) positioned above the existing ones."""
        role = FakeRole(self.new_id(), guild.id, name, int(permissions), position=len(guild.roles))
        guild.roles[role.id] = role
        return role

    def add_member(
        self, guild: FakeGuild, name: str, roles: list[FakeRole], manage_guild: bool
    ) -> FakeUser:
        """A new user joined to ``guild``; ``manage_guild`` adds a "Manager" role granting it."""
        user = FakeUser(self.new_id(), name)
        self.users[user.id] = user
        role_ids = [r.id for r in roles]
        if manage_guild:
            role_ids.append(self._manager_role(guild).id)
        self._join(guild, user, role_ids)
        return user

    def _manager_role(self, guild: FakeGuild) -> FakeRole:
        if guild.manager_role_id is None:
            guild.manager_role_id = self.add_role(guild, "Manager", Permission.MANAGE_GUILD).id
        return guild.roles[guild.manager_role_id]

    def _join(self, guild: FakeGuild, user: FakeUser, role_ids: list[int]) -> FakeMember:
        member = FakeMember(user, guild.id, role_ids, iso_timestamp(self.clock()))
        guild.members[user.id] = member
        return member

    def store_attachment(
        self, channel_id: int, upload: FakeAttachment, *, ephemeral: bool = False
    ) -> StoredAttachment:
        """Keep an uploaded file and give it a URL on the emulator (like Discord's CDN)."""
        att_id = self.new_id()
        content_type = upload.content_type
        if content_type in ("", "application/octet-stream"):
            content_type = mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
        stored = StoredAttachment(
            id=att_id,
            filename=upload.filename,
            content_type=content_type,
            data=upload.data,
            url=f"{self._base_url()}/attachments/{channel_id}/{att_id}/{quote(upload.filename)}",
            width=upload.width,
            height=upload.height,
            description=upload.description,
            ephemeral=ephemeral,
        )
        self.attachments[att_id] = stored
        return stored

    # --- lookups that fail like Discord -------------------------------------------------------

    def guild_of(self, channel: FakeChannel) -> FakeGuild:
        """The guild a channel belongs to."""
        return self.guilds[channel.guild_id]

    def get_guild(self, guild_id: int) -> FakeGuild:
        """A guild the bot is in; 404 10004 otherwise."""
        guild = self.guilds.get(guild_id)
        if guild is None or not guild.bot_present:
            raise errors.unknown_guild()
        return guild

    def get_channel(self, channel_id: int) -> FakeChannel:
        """A live channel; 404 10003 when unknown or deleted, 403 50001 when the bot left."""
        channel = self.channels.get(channel_id)
        if channel is None or channel.deleted:
            raise errors.unknown_channel()
        if not self.guild_of(channel).bot_present:
            raise errors.missing_access()
        return channel

    def get_message(self, channel: FakeChannel, message_id: int) -> FakeMessage:
        """A visible, non-deleted message in ``channel``; 404 10008 otherwise."""
        message = self.messages.get(message_id)
        if (
            message is None
            or message.deleted
            or message.ephemeral
            or message.channel_id != channel.id
        ):
            raise errors.unknown_message()
        return message

    def channel_history(self, channel: FakeChannel) -> list[FakeMessage]:
        """Everyone-visible messages of a channel, oldest first."""
        return [
            m
            for m in self.messages.values()
            if m.channel_id == channel.id and not m.deleted and not m.ephemeral
        ]

    # --- permissions -----------------------------------------------------------------------

    def bot_permissions(self, channel: FakeChannel) -> int:
        """What the bot's REST calls may do in a channel (threads use their parent's).

        A private thread the bot has not joined is invisible to it without MANAGE_THREADS
        (Discord's threads topic); a voice channel's text chat cannot be read without
        CONNECT (https://github.com/discord/discord-api-docs/pull/5111).
        """
        perms = self.app_permissions(channel)
        private = channel.type == ChannelType.PRIVATE_THREAD
        if private and not channel.bot_is_member and not perms & Permission.MANAGE_THREADS:
            return 0
        if channel.is_voice and not perms & Permission.CONNECT:
            perms &= ~Permission.READ_MESSAGE_HISTORY
        return perms

    def app_permissions(self, channel: FakeChannel) -> int:
        """The bot's permissions from roles and overwrites, as interactions report them.

        Thread membership and CONNECT do not enter this number; the bot has to check them.
        """
        source = self.channels[channel.parent_id] if channel.parent_id else channel
        return effective_permissions(source.bot_permissions)

    def member_permissions(self, guild: FakeGuild, user_id: int) -> int:
        """A member's permissions from @everyone and their roles (owner and admins get all)."""
        if user_id == self.bot_user.id:
            return self._bot_base_permissions(guild)
        member = guild.members[user_id]
        perms = guild.everyone_role.permissions
        for role_id in member.role_ids:
            perms |= guild.roles[role_id].permissions
        if user_id == guild.owner_id or perms & Permission.ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def _bot_base_permissions(self, guild: FakeGuild) -> int:
        perms = guild.everyone_role.permissions
        if guild.bot_role_id is not None:
            perms |= guild.roles[guild.bot_role_id].permissions
        return perms

    # --- payloads --------------------------------------------------------------------------

    def member_payload(
        self, guild: FakeGuild, user_id: int, *, with_permissions: bool = False
    ) -> dict[str, Any]:
        """Guild member JSON; ``with_permissions`` adds the field interactions carry."""
        perms = self.member_permissions(guild, user_id) if with_permissions else None
        return guild.members[user_id].payload(perms)

    def role_payloads(self, guild: FakeGuild) -> list[dict[str, Any]]:
        """All roles of a guild."""
        return [r.payload() for r in guild.roles.values()]

    def channel_payload(self, channel: FakeChannel) -> dict[str, Any]:
        """Channel JSON with a bot member overwrite so discord.py computes the same permissions."""
        guild = self.guild_of(channel)
        data: dict[str, Any] = {
            "id": str(channel.id),
            "type": int(channel.type),
            "guild_id": str(guild.id),
            "name": channel.name,
            "position": channel.position,
            "parent_id": str(channel.parent_id) if channel.parent_id else None,
            "nsfw": False,
            "flags": 0,
            "rate_limit_per_user": 0,
            "last_message_id": str(channel.last_message_id) if channel.last_message_id else None,
        }
        if channel.is_thread:
            data["owner_id"] = str(self.owner.id)
            data["thread_metadata"] = {
                "archived": channel.archived,
                "locked": channel.locked,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso_timestamp(self.clock()),
            }
            data["member_count"] = 1
            data["message_count"] = len(self.channel_history(channel))
            data["total_message_sent"] = data["message_count"]
            self._add_thread_member(channel, data)
            return data
        if channel.is_voice:
            data.update(bitrate=64000, user_limit=0, rtc_region=None)
        allow, deny = member_overwrite(self._bot_base_permissions(guild), channel.bot_permissions)
        data["topic"] = None
        data["permission_overwrites"] = [
            {"id": str(self.bot_user.id), "type": 1, "allow": str(allow), "deny": str(deny)}
        ]
        return data

    def _add_thread_member(self, thread: FakeChannel, data: dict[str, Any]) -> None:
        """The bot's own thread member object, which Discord adds to threads it has joined."""
        if thread.type == ChannelType.PRIVATE_THREAD:
            data["thread_metadata"]["invitable"] = True
        if thread.bot_is_member:
            data["member"] = {
                "id": str(thread.id),
                "user_id": str(self.bot_user.id),
                "join_timestamp": iso_timestamp(self.clock()),
                "flags": 0,
            }

    def guild_payload(self, guild: FakeGuild) -> dict[str, Any]:
        """Guild JSON as GET /guilds/{id} returns it."""
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "region": "",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": guild.premium_tier,
            "premium_subscription_count": BOOSTS_FOR_TIER[guild.premium_tier],
            "premium_progress_bar_enabled": False,
            "preferred_locale": guild.locale,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "max_members": 500000,
            "max_presences": None,
            "nsfw": False,
            "home_header": None,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "widget_enabled": False,
            "widget_channel_id": None,
            "application_id": None,
            "features": [],
            "roles": self.role_payloads(guild),
            "emojis": [],
            "stickers": [],
            "incidents_data": None,
        }

    def guild_create_payload(self, guild: FakeGuild, *, all_members: bool = True) -> dict[str, Any]:
        """GUILD_CREATE: the REST guild plus channels, threads, members and gateway extras.

        Without the GUILD_MEMBERS intent Discord only includes the bot's own member.
        """
        live = [self.channels[c] for c in guild.channel_ids if not self.channels[c].deleted]
        members = guild.members.values() if all_members else [guild.members[self.bot_user.id]]
        return {
            **self.guild_payload(guild),
            "unavailable": False,
            "large": False,
            "lazy": True,
            "joined_at": guild.members[self.bot_user.id].joined_at,
            "member_count": len(guild.members),
            "channels": [self.channel_payload(c) for c in live if not c.is_thread],
            "threads": [
                self.channel_payload(c) for c in live if c.is_thread and self.bot_permissions(c)
            ],
            "members": [m.payload() for m in members],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def message_payload(
        self, message: FakeMessage, *, with_member: bool = False, nested: bool = False
    ) -> dict[str, Any]:
        """Message JSON; ``with_member`` adds the author's member object like gateway events do.

        ``nested`` marks a ``referenced_message``, which Discord sends one level deep only.
        """
        author = self.users[message.author_id]
        data: dict[str, Any] = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "author": author.payload(),
            "content": message.content,
            "timestamp": iso_timestamp(message.created_at),
            "edited_timestamp": iso_timestamp(message.edited_at) if message.edited_at else None,
            "tts": message.tts,
            "mention_everyone": message.mention_everyone,
            "mentions": [
                self.users[u].payload() for u in message.mention_user_ids if u in self.users
            ],
            "mention_roles": [str(r) for r in message.mention_role_ids],
            "attachments": [a.payload() for a in message.attachments],
            "embeds": message.embeds,
            "components": message.components,
            "pinned": False,
            "type": int(message.type),
            "flags": message.flags,
        }
        self._add_optional_message_fields(message, data, nested)
        if with_member and message.guild_id is not None:
            guild = self.guilds[message.guild_id]
            if message.author_id in guild.members:
                member = guild.members[message.author_id].payload()
                member.pop("user")
                data["member"] = member
                data["guild_id"] = str(message.guild_id)
        return data

    def _add_optional_message_fields(
        self, message: FakeMessage, data: dict[str, Any], nested: bool
    ) -> None:
        if message.nonce is not None:
            data["nonce"] = message.nonce
        if message.webhook_id is not None:
            data["webhook_id"] = str(message.webhook_id)
        if message.application_id is not None:
            data["application_id"] = str(message.application_id)
        if message.interaction_metadata is not None:
            data["interaction_metadata"] = message.interaction_metadata
        if message.message_reference is not None:
            data["message_reference"] = message.message_reference
            if not nested:
                target = self.messages.get(int(message.message_reference["message_id"]))
                alive = target is not None and not target.deleted
                data["referenced_message"] = (
                    self.message_payload(target, nested=True) if alive and target else None
                )
