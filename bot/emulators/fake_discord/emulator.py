"""``FakeDiscord``: a local Discord (gateway + REST) the real discord.py client connects to.

The class is the test driver's API: build a world (guilds, channels, members, permissions), act as
users (slash commands, autocomplete, button clicks, modal submits, plain messages), inject faults,
and inspect what the bot did (messages with their edit history, interactions, the REST log and
contract violations). Everything runs on 127.0.0.1 in the current event loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, Self

from aiohttp import web

from .changes import ChangeSignal
from .clock import Clock, Stopwatch
from .commands import CommandRegistry, InvocationBuilder, check_available
from .contract import load_contract
from .core import EmulatorCore, Injection, RestCall
from .events import EventPublisher
from .gateway import DEFAULT_GUILD_CREATE_DELAY, Intent
from .interactions import (
    FakeInteraction,
    InteractionType,
    base_payload,
    component_data,
    expire_later,
    modal_submit_components,
    new_token,
)
from .messages import Draft, MessageService, Upload
from .models import (
    ChannelType,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMessage,
    FakeRole,
    FakeUser,
    upload_limit_for,
)
from .outage import Outage
from .permissions import DEFAULT_BOT_PERMISSIONS
from .ratelimits import RateLimiter, RateLimitRules
from .rest import RestFrontDoor, Router
from .routes_channels import ChannelRoutes
from .routes_core import CoreRoutes
from .routes_interactions import InteractionRoutes
from .state import EmulatorState

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 512 * 1024 * 1024


class FakeDiscord:
    """A Discord emulator for tests, benchmarks and the offline demo."""

    def __init__(
        self,
        clock: Clock | None = None,
        bot_token: str = "test-token",
        response_deadline: float = 3.0,
        *,
        strict_contract: bool = True,
        privileged_intents: bool = True,
        contract_path: str | None = None,
        rate_limits: RateLimitRules | None = None,
        guild_create_delay: float = DEFAULT_GUILD_CREATE_DELAY,
    ) -> None:
        """``rate_limits`` replaces Discord's observed limits (``RateLimitRules(enabled=False)``
        turns them off); ``guild_create_delay`` is the seconds between READY and GUILD_CREATE."""
        self.clock: Clock = clock or time.time
        self.bot_token = bot_token
        self._state = EmulatorState(self.clock, lambda: self.rest_base)
        self._changes = ChangeSignal()
        self._events = EventPublisher(
            self._state,
            bot_token=bot_token,
            gateway_url=lambda: self.gateway_url,
            privileged_intents=privileged_intents,
        )
        self._gateway = self._events.hub
        self._gateway.guild_create_delay = guild_create_delay
        self._core = EmulatorCore(
            state=self._state,
            changes=self._changes,
            messages=MessageService(self._state, self._changes, self._events.message_event),
            commands=CommandRegistry(self._state),
            gateway=self._gateway,
            contract=load_contract(contract_path),
            bot_token=bot_token,
            response_deadline=response_deadline,
            limiter=RateLimiter(
                self.clock, self._state.application_id, rate_limits or RateLimitRules()
            ),
            strict_contract=strict_contract,
        )
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._timers: set[asyncio.Task[None]] = set()
        self._outage_end: asyncio.TimerHandle | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self, port: int = 0) -> Self:
        """Listen on 127.0.0.1 (a free port by default)."""
        router = Router()
        CoreRoutes(self._core, lambda: self.gateway_url).register(router)
        ChannelRoutes(self._core).register(router)
        InteractionRoutes(self._core).register(router)
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_get("/gateway", self._gateway.handle)
        app.router.add_route(
            "*", r"/api/v{version:\d+}/{tail:.*}", RestFrontDoor(self._core, router).handle
        )
        app.router.add_get(
            "/attachments/{channel_id}/{attachment_id}/{filename}", self._serve_attachment
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self._port = self._runner.addresses[0][1]
        log.info("fake discord listening on %s", self.rest_base)
        return self

    async def stop(self) -> None:
        """Close the bot's connections and the server."""
        for timer in self._timers:
            timer.cancel()
        if self._outage_end is not None:
            self._outage_end.cancel()
        await self._gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- addresses and identities -----------------------------------------------------------

    @property
    def rest_base(self) -> str:
        """``http://127.0.0.1:PORT`` (discord.py appends ``/api/v10``)."""
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def gateway_url(self) -> str:
        """``ws://127.0.0.1:PORT/gateway``."""
        return f"ws://127.0.0.1:{self._port}/gateway"

    @property
    def application_id(self) -> int:
        """The application's id (equal to the bot user's id, as for modern apps)."""
        return self._state.application_id

    @property
    def bot_user_id(self) -> int:
        """The bot user's id."""
        return self._state.bot_user.id

    @property
    def bot_user(self) -> FakeUser:
        """The bot user."""
        return self._state.bot_user

    @property
    def owner(self) -> FakeUser:
        """The application owner (also owner of every guild, so it has all permissions)."""
        return self._state.owner

    # --- building the world -----------------------------------------------------------------

    def add_guild(
        self, name: str, upload_limit: int | None = None, *, premium_tier: int = 0
    ) -> FakeGuild:
        """A guild the bot is in; announced with GUILD_CREATE if the bot is already connected.

        ``premium_tier`` (boost level 0-3) sets the upload limit Discord applies
        (``UPLOAD_LIMIT_BY_TIER``); ``upload_limit`` overrides it with any byte count."""
        guild = self._state.add_guild(name, upload_limit_for(premium_tier, upload_limit))
        guild.boost_tier = premium_tier
        self._dispatch("GUILD_CREATE", self._events.guild_create(guild), Intent.GUILDS)
        return guild

    def set_upload_limit(self, guild: FakeGuild, upload_limit: int) -> None:
        """Change a guild's per-attachment size limit (bytes)."""
        guild.upload_limit = upload_limit
        self._dispatch("GUILD_UPDATE", self._state.guild_payload(guild), Intent.GUILDS)

    def set_premium_tier(self, guild: FakeGuild, premium_tier: int) -> None:
        """Boost (or un-boost) a guild: its tier and tier upload limit change; GUILD_UPDATE."""
        guild.upload_limit = upload_limit_for(premium_tier, None)
        guild.boost_tier = premium_tier
        self._dispatch("GUILD_UPDATE", self._state.guild_payload(guild), Intent.GUILDS)

    def add_channel(
        self, guild: FakeGuild, name: str, bot_permissions: int = DEFAULT_BOT_PERMISSIONS
    ) -> FakeChannel:
        """A text channel where the bot has exactly ``bot_permissions``."""
        channel = self._state.add_channel(guild, name, bot_permissions)
        self._dispatch("CHANNEL_CREATE", self._state.channel_payload(channel), Intent.GUILDS)
        return channel

    def add_thread(
        self,
        parent: FakeChannel,
        name: str,
        *,
        locked: bool = False,
        archived: bool = False,
        private: bool = False,
    ) -> FakeChannel:
        """A thread under ``parent`` (the bot's permissions come from the parent).

        A forum channel's threads are its posts. A ``private`` thread starts without the
        bot as a member (``add_bot_to_thread``), so the bot hears of it only when it has
        MANAGE_THREADS, as Discord sends THREAD_CREATE only to those who can see a thread.
        """
        kind = ChannelType.PRIVATE_THREAD if private else ChannelType.PUBLIC_THREAD
        guild = self._state.guild_of(parent)
        thread = self._state.add_channel(guild, name, parent=parent, kind=kind)
        thread.locked, thread.archived = locked, archived
        if self._state.bot_permissions(thread):
            self._dispatch("THREAD_CREATE", self._state.channel_payload(thread), Intent.GUILDS)
        return thread

    def add_bot_to_thread(self, thread: FakeChannel) -> None:
        """Someone adds the bot to a thread: THREAD_CREATE with the bot's thread member."""
        thread.bot_is_member = True
        self._dispatch("THREAD_CREATE", self._state.channel_payload(thread), Intent.GUILDS)

    def add_voice_channel(
        self, guild: FakeGuild, name: str, bot_permissions: int = DEFAULT_BOT_PERMISSIONS
    ) -> FakeChannel:
        """A voice channel, whose text chat the bot may be asked to post in."""
        channel = self._state.add_channel(
            guild, name, bot_permissions, kind=ChannelType.GUILD_VOICE
        )
        self._dispatch("CHANNEL_CREATE", self._state.channel_payload(channel), Intent.GUILDS)
        return channel

    def add_forum(
        self, guild: FakeGuild, name: str, bot_permissions: int = DEFAULT_BOT_PERMISSIONS
    ) -> FakeChannel:
        """A forum channel; its posts are threads (``add_thread``)."""
        channel = self._state.add_channel(
            guild, name, bot_permissions, kind=ChannelType.GUILD_FORUM
        )
        self._dispatch("CHANNEL_CREATE", self._state.channel_payload(channel), Intent.GUILDS)
        return channel

    def set_bot_permissions(self, channel: FakeChannel, permissions: int) -> None:
        """Change what the bot may do in a channel (sends CHANNEL_UPDATE); threads use their
        parent's permissions, so set those on the parent."""
        if channel.is_thread:
            raise ValueError(
                "threads inherit the parent channel's permissions; set them on the parent"
            )
        channel.bot_permissions = int(permissions)
        self._dispatch("CHANNEL_UPDATE", self._state.channel_payload(channel), Intent.GUILDS)

    def add_role(self, guild: FakeGuild, name: str, permissions: int = 0) -> FakeRole:
        """A role members can be given."""
        role = self._state.add_role(guild, name, permissions)
        self._dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.payload()}, Intent.GUILDS
        )
        return role

    def add_member(
        self,
        guild: FakeGuild,
        name: str,
        manage_guild: bool = False,
        roles: Iterable[FakeRole] = (),
        nick: str | None = None,
    ) -> FakeUser:
        """A user in ``guild``; ``manage_guild`` gives them a role with MANAGE_GUILD.

        ``name`` is their username and global display name; ``nick`` their server nickname.
        """
        user = self._state.add_member(guild, name, list(roles), manage_guild)
        guild.members[user.id].nick = nick
        member = {"guild_id": str(guild.id), **self._state.member_payload(guild, user.id)}
        self._dispatch("GUILD_MEMBER_ADD", member, Intent.GUILD_MEMBERS)
        return user

    def set_nick(self, guild: FakeGuild, user: FakeUser, nick: str | None) -> None:
        """Change (or clear) a member's server nickname; GUILD_MEMBER_UPDATE follows."""
        guild.members[user.id].nick = nick
        member = {"guild_id": str(guild.id), **self._state.member_payload(guild, user.id)}
        self._dispatch("GUILD_MEMBER_UPDATE", member, Intent.GUILD_MEMBERS)

    def delete_channel(self, channel: FakeChannel) -> None:
        """Delete a channel; later REST calls on it get 404 10003."""
        channel.deleted = True
        event = "THREAD_DELETE" if channel.is_thread else "CHANNEL_DELETE"
        self._dispatch(event, self._state.channel_payload(channel), Intent.GUILDS)
        self._changes.notify()

    def remove_bot_from_guild(self, guild: FakeGuild) -> None:
        """Kick the bot: GUILD_DELETE, and its channels answer 403 50001 from then on."""
        guild.bot_present = False
        self._dispatch("GUILD_DELETE", {"id": str(guild.id)}, Intent.GUILDS)
        self._changes.notify()

    # --- acting as users --------------------------------------------------------------------

    async def slash(
        self,
        user: FakeUser,
        channel: FakeChannel,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        attachments: Iterable[FakeAttachment] = (),
    ) -> FakeInteraction:
        """Run ``/command`` (``"admin stats"`` for subcommands) as ``user`` in ``channel``."""
        data = self._command_data(user, channel, command, options or {}, list(attachments), None)
        return await self._interact(InteractionType.APPLICATION_COMMAND, user, channel, data)

    async def autocomplete(
        self,
        user: FakeUser,
        channel: FakeChannel,
        command: str,
        options: dict[str, Any],
        focused: str,
        *,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Type into option ``focused`` and return the choices the bot suggested."""
        data = self._command_data(user, channel, command, options, [], focused)
        kind = InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE
        interaction = await self._interact(kind, user, channel, data)
        await interaction.initial_response(timeout)
        return interaction.choices or []

    async def click(
        self,
        user: FakeUser,
        message: FakeMessage | int,
        custom_id: str,
        values: list[str] | None = None,
    ) -> FakeInteraction:
        """Press a button (or pick ``values`` in a select) on a message."""
        target = self._visible_message(user, message)
        channel = self._state.channels[target.channel_id]
        data = component_data(target, custom_id, values)
        return await self._interact(InteractionType.MESSAGE_COMPONENT, user, channel, data, target)

    async def submit_modal(
        self,
        user: FakeUser,
        channel: FakeChannel,
        custom_id: str,
        values: dict[str, Any],
        message: FakeMessage | None = None,
    ) -> FakeInteraction:
        """Submit the modal the bot opened with ``custom_id`` (mirroring its layout)."""
        opened_by = self._core.modals.get(custom_id)
        modal = opened_by.modal if opened_by else None
        if message is None and opened_by is not None:
            message = opened_by.message
        data = {"custom_id": custom_id, "components": modal_submit_components(modal, values)}
        kind = InteractionType.MODAL_SUBMIT
        return await self._interact(kind, user, channel, data, message, triggered_by=opened_by)

    def user_message(
        self,
        user: FakeUser,
        channel: FakeChannel,
        content: str = "",
        *,
        attachments: Iterable[FakeAttachment] = (),
        reply_to: FakeMessage | None = None,
    ) -> FakeMessage:
        """A message posted by a (non-bot) user; the bot gets MESSAGE_CREATE."""
        uploads = [Upload(i, a.filename, a.content_type, a.data) for i, a in enumerate(attachments)]
        reference = None
        if reply_to is not None:
            reference = {
                "type": 0,
                "message_id": str(reply_to.id),
                "channel_id": str(channel.id),
                "guild_id": str(channel.guild_id),
            }
        draft = Draft(channel, user.id, reference=reference)
        return self._core.messages.create(draft, {"content": content}, uploads)

    def delete_message(self, channel: FakeChannel, message_id: int | FakeMessage) -> None:
        """Delete a message as a moderator would."""
        message_id = message_id.id if isinstance(message_id, FakeMessage) else message_id
        message = self._state.messages[message_id]
        if message.channel_id != channel.id:
            raise LookupError(f"message {message_id} is not in channel {channel.name!r}")
        self._core.messages.delete(message)

    # --- faults -----------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: Any = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
        *,
        after_processing: bool = False,
    ) -> Injection:
        """Answer the next ``times`` matching REST requests with ``status`` (regex searched in the
        path after ``/api/v10``; method ``"*"`` matches all). 429s get ``Via``, ``retry_after`` and
        X-RateLimit headers so discord.py retries them. ``after_processing``: carry each request
        out first, so only its answer is lost (the message exists, the bot sees a 5xx)."""
        injection = Injection(
            method.upper(),
            re.compile(path_regex),
            status,
            body,
            dict(headers or {}),
            times,
            after_processing=after_processing,
        )
        self._core.injections.append(injection)
        return injection

    def start_outage(self, seconds: float | None = None, *, status: int = 503) -> None:
        """Discord goes down: REST answers ``status`` (503 plain text or 502 Cloudflare HTML, see
        ``outage``), the gateway drops the bot and refuses reconnects. Ends after ``seconds`` of
        real time, or at ``end_outage()``."""
        self._core.outage = Outage(status)
        self._gateway.refusing = True
        cut = asyncio.create_task(self._gateway.cut(), name="fake-discord-outage")
        self._timers.add(cut)
        cut.add_done_callback(self._timers.discard)
        if seconds is not None:
            self._outage_end = asyncio.get_running_loop().call_later(seconds, self.end_outage)

    def end_outage(self) -> None:
        """Discord is back: REST answers again and the gateway accepts (and resumes) the bot."""
        if self._outage_end is not None:
            self._outage_end.cancel()

            self._outage_end = None
        self._core.outage = None
        self._gateway.refusing = False

    @property
    def guild_create_delay(self) -> float:
        """Seconds between READY and the GUILD_CREATEs of the next IDENTIFY."""
        return self._gateway.guild_create_delay

    @guild_create_delay.setter
    def guild_create_delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the delay cannot be negative")
        self._gateway.guild_create_delay = seconds

    @property
    def in_outage(self) -> bool:
        """Whether an outage is going on."""
        return self._core.outage is not None

    async def drop_gateway(self, resume: bool = True, timeout: float = 15.0) -> None:
        """Cut the bot's websocket; wait for RESUME (or, with ``resume=False``, a new IDENTIFY,
        which discord.py delays by 5 s)."""
        await self._gateway.drop(resume=resume, timeout=timeout)

    # --- inspecting -------------------------------------------------------------------------

    async def wait_for_bot_ready(self, timeout: float = 10.0) -> None:
        """Wait until the bot identified and received READY plus every GUILD_CREATE."""
        try:
            await asyncio.wait_for(self._gateway.ready.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"the bot did not connect to the fake gateway within {timeout:g}s"
            ) from None

    @property
    def bot_connected(self) -> bool:
        """Whether the bot has a live gateway connection."""
        return self._gateway.connected

    @property
    def bot_intents(self) -> int | None:
        """The intents the bot's current gateway session identified with, if any."""
        session = self._gateway.session
        return None if session is None else session.intents

    @property
    def gateway_stats(self) -> dict[str, int]:
        """How many IDENTIFYs and RESUMEs the gateway has seen."""
        return {"identify": self._gateway.identify_count, "resume": self._gateway.resume_count}

    def channel_messages(
        self,
        channel: FakeChannel,
        *,
        include_ephemeral: bool = False,
        include_deleted: bool = False,
    ) -> list[FakeMessage]:
        """Messages in a channel, oldest first; by default what every member sees."""
        return [
            m
            for m in self._state.messages.values()
            if m.channel_id == channel.id
            and (include_deleted or not m.deleted)
            and (include_ephemeral or not m.ephemeral)
        ]

    def get_message(self, message_id: int) -> FakeMessage:
        """Any message by id, including deleted and ephemeral ones."""
        return self._state.messages[message_id]

    async def wait_for_message(
        self,
        predicate: Callable[[FakeMessage], bool],
        timeout: float = 5.0,
    ) -> FakeMessage:
        """The first non-deleted message (ephemeral included) matching ``predicate``."""

        def probe() -> FakeMessage | None:
            return next(
                (m for m in list(self._state.messages.values()) if not m.deleted and predicate(m)),
                None,
            )

        return await self._changes.wait_for(probe, timeout, "a matching message")

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (checked on every emulator change and every 20 ms,
        so it also works for the bot's own state); returns its value."""
        return await self._changes.wait_for(predicate, timeout, "the condition", poll=0.02)

    @property
    def interactions(self) -> list[FakeInteraction]:
        """Every interaction dispatched, in order."""
        return list(self._core.interactions.values())

    @property
    def rest_log(self) -> list[RestCall]:
        """Every REST request: method, path (after /api/v10), status, at, query, body."""
        return self._core.rest_log

    @property
    def invalid_requests(self) -> int:
        """401, 403 and non-shared 429 answers in the last 10 minutes (Discord bans at 10,000)."""
        return self._core.limiter.invalid_requests

    @property
    def rate_limited(self) -> dict[str, int]:
        """How many 429s the emulator answered, by ``X-RateLimit-Scope`` (user/global/shared)."""
        return dict(self._core.limiter.rate_limited)

    @property
    def rate_limits(self) -> RateLimitRules:
        """The rate limits in force."""
        return self._core.limiter.rules

    @property
    def command_writes(self) -> int:
        """How many times commands were written (bulk PUTs and single creates/edits/deletes)."""
        return self._core.commands.writes

    @property
    def registered_commands(self) -> list[dict[str, Any]]:
        """Every registered command; guild commands carry ``guild_id``."""
        return self._core.commands.all()

    @property
    def contract_violations(self) -> list[str]:
        """Readable descriptions of requests that broke the OpenAPI contract."""
        return self._core.contract_violations

    @property
    def response_violations(self) -> list[str]:
        """Emulator responses that do not match the spec (an emulator bug, not the bot's)."""
        return self._core.response_violations

    @property
    def unimplemented(self) -> list[str]:
        """Requests to routes the emulator does not implement (``METHOD /path``)."""
        return self._core.unimplemented

    # --- internals --------------------------------------------------------------------------

    def _dispatch(self, event: str, data: dict[str, Any], intent: int | None = None) -> None:
        self._events.dispatch(event, data, intent)

    def _command_data(
        self,
        user: FakeUser,
        channel: FakeChannel,
        command: str,
        options: dict[str, Any],
        attachments: list[FakeAttachment],
        focused: str | None,
    ) -> dict[str, Any]:
        name, *path = command.split()
        guild = self._state.guild_of(channel)
        definition = self._core.commands.find(guild, name)
        check_available(self._state, guild, user, definition)
        builder = InvocationBuilder(self._state, guild, channel, user)
        return builder.build(definition, path, options, attachments, focused)

    def _visible_message(self, user: FakeUser, message: FakeMessage | int) -> FakeMessage:
        target = message if isinstance(message, FakeMessage) else self._state.messages[message]
        if target.deleted:
            raise LookupError(f"message {target.id} was deleted")
        if target.ephemeral and target.visible_to != user.id:
            raise LookupError(f"{user.name} cannot see ephemeral message {target.id}")
        return target

    async def _interact(
        self,
        kind: InteractionType,
        user: FakeUser,
        channel: FakeChannel,
        data: dict[str, Any],
        message: FakeMessage | None = None,
        *,
        triggered_by: FakeInteraction | None = None,
    ) -> FakeInteraction:
        interaction = self._new_interaction(kind, user, channel, data, message)
        interaction.triggered_by = triggered_by
        self._core.interactions[interaction.token] = interaction
        timer = asyncio.create_task(
            expire_later(interaction), name=f"fake-discord-deadline-{interaction.id}"
        )
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)
        self._dispatch("INTERACTION_CREATE", interaction.payload)
        self._changes.notify()
        await asyncio.sleep(0)
        return interaction

    def _new_interaction(
        self,
        kind: InteractionType,
        user: FakeUser,
        channel: FakeChannel,
        data: dict[str, Any],
        message: FakeMessage | None,
    ) -> FakeInteraction:
        if self._gateway.session is None or self._gateway.session.invalidated:
            raise RuntimeError("the bot is not connected; await emu.wait_for_bot_ready() first")
        guild = self._state.guild_of(channel)
        if channel.deleted or not guild.bot_present or user.id not in guild.members:
            raise LookupError(f"{user.name} cannot interact with the bot in {channel.name!r}")
        interaction_id, token = self._state.new_id(), new_token()
        payload = base_payload(
            self._state,
            interaction_id=interaction_id,
            token=token,
            kind=kind,
            user=user,
            channel=channel,
            data=data,
            message=message,
        )
        return FakeInteraction(
            id=interaction_id,
            token=token,
            type=kind,
            user=user,
            channel=channel,
            guild=guild,
            payload=payload,
            stopwatch=Stopwatch(self.clock),
            response_deadline=self._core.response_deadline,
            lookup=self._state.messages.get,
            changes=self._changes,
            message=message,
        )

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        """The CDN: uploaded files are downloadable at their ``url``."""
        attachment_id = request.match_info["attachment_id"]
        stored = (
            self._state.attachments.get(int(attachment_id)) if attachment_id.isdigit() else None
        )
        if stored is None or stored.filename != request.match_info["filename"]:
            raise web.HTTPNotFound()
        return web.Response(body=stored.data, content_type=stored.content_type)
