"""What the bot hears over the gateway: READY, GUILD_CREATE and change events, filtered like Discord.

``EventPublisher`` owns the ``GatewayHub`` and turns state changes into dispatches, applying the
rules a bot notices: GUILD_CREATE carries only the bot's own member without the GUILD_MEMBERS
intent; message events need GUILD_MESSAGES; without MESSAGE_CONTENT other users' messages arrive
with empty content unless they mention the bot; ephemeral messages are never dispatched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .gateway import GatewayHub, GatewaySession, Intent
from .models import FakeGuild, FakeMessage
from .routes_core import APPLICATION_FLAGS
from .state import EmulatorState


class EventPublisher:
    """Builds READY/GUILD_CREATE frames and publishes world and message changes."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        bot_token: str,
        gateway_url: Callable[[], str],
        privileged_intents: bool,
    ) -> None:
        self._state = state
        self._gateway_url = gateway_url
        self.hub = GatewayHub(
            bot_token=bot_token,
            ready_builder=self.ready_payload,
            guilds_builder=self.guild_creates,
            members_builder=self.member_chunk,
            privileged_intents=privileged_intents,
        )

    def dispatch(self, event: str, data: dict[str, Any], intent: int | None = None) -> None:
        """Send a dispatch to the bot's session (dropped if its intents exclude it)."""
        self.hub.dispatch(event, data, intent)

    def guild_create(self, guild: FakeGuild) -> dict[str, Any]:
        """GUILD_CREATE for the current session's intents."""
        members = self.hub.wants(Intent.GUILD_MEMBERS)
        return self._state.guild_create_payload(guild, all_members=members)

    def ready_payload(self, session: GatewaySession) -> dict[str, Any]:
        """READY, every guild the bot is in listed as unavailable until its GUILD_CREATE."""
        state = self._state
        guilds = [g for g in state.guilds.values() if g.bot_present]
        ready = {
            "v": 10,
            "user": state.bot_user.payload()
            | {"verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self._gateway_url(),
            "application": {"id": str(state.application_id), "flags": APPLICATION_FLAGS},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["local"],
            "user_settings": {},
            "auth": {},
            "_trace": ["fake-discord"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard  # AutoShardedClient reads it
        return ready

    def guild_creates(self, session: GatewaySession) -> list[dict[str, Any]]:
        """One GUILD_CREATE per guild the bot is in, for the session's intents."""
        members = bool(session.intents & Intent.GUILD_MEMBERS)
        guilds = [g for g in self._state.guilds.values() if g.bot_present]
        return [self._state.guild_create_payload(g, all_members=members) for g in guilds]

    def member_chunk(self, guild_id: int) -> list[dict[str, Any]]:
        """All members of a guild, for REQUEST_GUILD_MEMBERS."""
        guild = self._state.guilds.get(guild_id)
        return [] if guild is None else [m.payload() for m in guild.members.values()]

    def message_event(self, event: str, message: FakeMessage) -> None:
        """Mirror MESSAGE_CREATE/UPDATE/DELETE (never for ephemeral messages)."""
        if message.ephemeral:
            return
        data: dict[str, Any]
        if event == "MESSAGE_DELETE":
            data = {
                "id": str(message.id),
                "channel_id": str(message.channel_id),
                "guild_id": str(message.guild_id),
            }
        else:
            data = self._state.message_payload(message, with_member=True)
            if self._content_hidden(message):
                data.update(content="", embeds=[], attachments=[], components=[])
        self.dispatch(event, data, Intent.GUILD_MESSAGES)

    def _content_hidden(self, message: FakeMessage) -> bool:
        """Without MESSAGE_CONTENT the bot only sees its own messages and ones mentioning it."""
        bot_id = self._state.bot_user.id
        if self.hub.wants(Intent.MESSAGE_CONTENT) or message.author_id == bot_id:
            return False
        return bot_id not in message.mention_user_ids
