"""REST routes for login, gateway discovery, guild lookups and application commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import errors, rules
from .core import EmulatorCore
from .rest import ApiRequest, Router, json_response, no_content

APPLICATION_FLAGS = (1 << 15) | (1 << 19) | (1 << 23)
"""GATEWAY_GUILD_MEMBERS_LIMITED | GATEWAY_MESSAGE_CONTENT_LIMITED | APPLICATION_COMMAND_BADGE."""


class CoreRoutes:
    """Users, application info, gateway URLs, guilds and command registration."""

    def __init__(self, core: EmulatorCore, gateway_url: Callable[[], str]) -> None:
        self._core = core
        self._state = core.state
        self._gateway_url = gateway_url

    def register(self, router: Router) -> None:
        """Attach every route of this group."""
        router.add("GET", "/users/@me", self.me)
        router.add("GET", "/users/@me/guilds", self.my_guilds)
        router.add("GET", "/users/{user_id}", self.user)
        router.add("GET", "/oauth2/applications/@me", self.application)
        router.add("GET", "/applications/@me", self.application)
        router.add("GET", "/gateway", self.gateway, bot_auth=False)
        router.add("GET", "/gateway/bot", self.gateway_bot)
        router.add("GET", "/guilds/{guild_id}", self.guild)
        router.add("GET", "/guilds/{guild_id}/channels", self.guild_channels)
        router.add("GET", "/guilds/{guild_id}/roles", self.guild_roles)
        router.add("GET", "/guilds/{guild_id}/members/{user_id}", self.guild_member)
        for prefix in (
            "/applications/{application_id}",
            "/applications/{application_id}/guilds/{guild_id}",
        ):
            router.add("GET", prefix + "/commands", self.list_commands)
            router.add("PUT", prefix + "/commands", self.overwrite_commands)
            router.add("POST", prefix + "/commands", self.create_command)
            router.add("GET", prefix + "/commands/{command_id}", self.get_command)
            router.add("PATCH", prefix + "/commands/{command_id}", self.edit_command)
            router.add("DELETE", prefix + "/commands/{command_id}", self.delete_command)

    # --- identity ---------------------------------------------------------------------------

    async def me(self, req: ApiRequest) -> web.Response:
        """The bot user (discord.py's login check)."""
        data = self._state.bot_user.payload()
        data.update(verified=True, mfa_enabled=False, email=None, locale="en-US", premium_type=0)
        return json_response(data)

    async def my_guilds(self, req: ApiRequest) -> web.Response:
        """The guilds the bot is in, by id, as partial guilds with its server-wide permissions
        (``before``/``after``/``limit`` paging and ``with_counts`` like Discord)."""
        state = self._state
        before, after = req.query.get("before", ""), req.query.get("after", "")
        limit = int(req.query.get("limit") or 200)
        guilds = sorted((g for g in state.guilds.values() if g.bot_present), key=lambda g: g.id)
        if before.isdigit():
            guilds = [g for g in guilds if g.id < int(before)][-limit:]
        guilds = [g for g in guilds if not after.isdigit() or g.id > int(after)][:limit]
        found = []
        for guild in guilds:
            entry: dict[str, Any] = {
                "id": str(guild.id),
                "name": guild.name,
                "icon": None,
                "banner": None,
                "owner": False,
                "permissions": str(state.member_permissions(guild, state.bot_user.id)),
                "features": [],
            }
            if req.flag("with_counts"):
                entry.update(
                    approximate_member_count=len(guild.members), approximate_presence_count=0
                )
            found.append(entry)
        return json_response(found)

    async def user(self, req: ApiRequest) -> web.Response:
        """Any known user."""
        user = self._state.users.get(req.snowflake("user_id"))
        if user is None:
            raise errors.unknown_user()
        return json_response(user.payload())

    async def application(self, req: ApiRequest) -> web.Response:
        """Application info; discord.py reads it at login (owner, flags, ids)."""
        state = self._state
        return json_response(
            {
                "id": str(state.application_id),
                "name": state.bot_user.name,
                "icon": None,
                "description": "Fake Discord application",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": state.owner.payload(),
                "team": None,
                "flags": APPLICATION_FLAGS,
                "flags_new": str(APPLICATION_FLAGS),
                "role_connections_verification_url": None,
                "approximate_user_install_count": 0,
                "approximate_user_authorization_count": 0,
                "explicit_content_filter": 0,
                "eligible_oauth2_scopes": [],
                "bot": state.bot_user.payload(),
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "integration_types_config": {"0": {}},
                "approximate_guild_count": sum(g.bot_present for g in state.guilds.values()),
            }
        )

    async def gateway(self, req: ApiRequest) -> web.Response:
        """Where to connect (only sharded clients ask; plain clients use the hardcoded URL)."""
        return json_response({"url": self._gateway_url()})

    async def gateway_bot(self, req: ApiRequest) -> web.Response:
        """Gateway URL plus shard count and session start limits."""
        limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
        return json_response(
            {"url": self._gateway_url(), "shards": 1, "session_start_limit": limit}
        )

    # --- guilds -----------------------------------------------------------------------------

    async def guild(self, req: ApiRequest) -> web.Response:
        """One guild the bot is in."""
        guild = self._state.get_guild(req.snowflake("guild_id"))
        data = self._state.guild_payload(guild)
        if req.flag("with_counts"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return json_response(data)

    async def guild_channels(self, req: ApiRequest) -> web.Response:
        """The guild's live channels (threads are listed elsewhere, as in Discord)."""
        guild = self._state.get_guild(req.snowflake("guild_id"))
        channels = [self._state.channels[c] for c in guild.channel_ids]
        return json_response(
            [self._state.channel_payload(c) for c in channels if not c.deleted and not c.is_thread]
        )

    async def guild_roles(self, req: ApiRequest) -> web.Response:
        """The guild's roles."""
        guild = self._state.get_guild(req.snowflake("guild_id"))
        return json_response(self._state.role_payloads(guild))

    async def guild_member(self, req: ApiRequest) -> web.Response:
        """One member; 404 10007 when the user is not in the guild."""
        guild = self._state.get_guild(req.snowflake("guild_id"))
        user_id = req.snowflake("user_id")
        if user_id not in guild.members:
            raise errors.unknown_member()
        return json_response(self._state.member_payload(guild, user_id))

    # --- application commands ----------------------------------------------------------------

    def _scope(self, req: ApiRequest) -> int | None:
        if req.snowflake("application_id") != self._state.application_id:
            raise errors.DiscordError(403, 50001, "Missing Access")
        if "guild_id" not in req.params:
            return None
        return self._state.get_guild(req.snowflake("guild_id")).id

    def _find(self, scope: int | None, req: ApiRequest) -> dict[str, Any]:
        command_id = req.snowflake("command_id")
        found = next(
            (c for c in self._core.commands.list(scope) if int(c["id"]) == command_id), None
        )
        if found is None:
            raise errors.unknown_command()
        return found

    async def list_commands(self, req: ApiRequest) -> web.Response:
        """Registered commands of a scope."""
        return json_response(self._core.commands.list(self._scope(req)))

    async def overwrite_commands(self, req: ApiRequest) -> web.Response:
        """Bulk overwrite (what ``tree.sync()`` sends)."""
        scope = self._scope(req)
        definitions = req.body if isinstance(req.body, list) else []
        problems = rules.check_commands(definitions, global_scope=scope is None)
        if problems:
            raise errors.invalid_form_body(problems)
        return json_response(self._core.commands.overwrite(scope, definitions))

    async def create_command(self, req: ApiRequest) -> web.Response:
        """Create or replace one command by name."""
        scope = self._scope(req)
        definition = req.json_object()
        problems = rules.check_commands([definition], global_scope=False)
        if problems:
            raise errors.invalid_form_body(
                [e.__class__(e.path[1:], e.code, e.message) for e in problems]
            )
        return json_response(self._core.commands.upsert(scope, definition), status=201)

    async def get_command(self, req: ApiRequest) -> web.Response:
        """One command by id."""
        return json_response(self._find(self._scope(req), req))

    async def edit_command(self, req: ApiRequest) -> web.Response:
        """Patch one command (merged over the stored definition)."""
        scope = self._scope(req)
        current = self._find(scope, req)
        merged = {**current, **req.json_object()}
        return json_response(self._core.commands.upsert(scope, merged))

    async def delete_command(self, req: ApiRequest) -> web.Response:
        """Delete one command."""
        scope = self._scope(req)
        if not self._core.commands.delete(scope, req.snowflake("command_id")):
            raise errors.unknown_command()
        return no_content()
