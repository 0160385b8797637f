"""The gateway websocket: HELLO, IDENTIFY -> READY, heartbeats, RESUME with replay, dispatches.

One ``GatewaySession`` lives from IDENTIFY until it is invalidated, across disconnects, and keeps
every dispatch it numbered so a RESUME can replay what the bot missed. A single pump task per
connection writes dispatches in sequence order, so driver code can ``dispatch`` synchronously.
Frames are sent as uncompressed text, which discord.py accepts even though it asks for zlib.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)


class Op:
    """Gateway opcodes."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class Intent:
    """Gateway intents the emulator filters on."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    MESSAGE_CONTENT = 1 << 15
    PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_DISALLOWED_INTENTS = 4014
CLOSE_DROPPED = 4000
CLOSE_OUTAGE = 1011
DEFAULT_GUILD_CREATE_DELAY = 0.2
"""Seconds between READY and the GUILD_CREATEs (sent as their own frames after READY, each guild
``unavailable`` in READY until then; API-GW "Ready" and "Guild Create"). Discord documents no
delay; a small bot typically gets them within a fraction of a second (observed), big ones much
later; set ``FakeDiscord(guild_create_delay=...)`` or ``emu.guild_create_delay`` to test a slow
start. (The bot waits for READY and for each guild before delivering to it.)"""
REPLAY_BUFFER = 10_000

ReadyBuilder = Callable[["GatewaySession"], dict[str, Any]]
GuildsBuilder = Callable[["GatewaySession"], list[dict[str, Any]]]
MembersBuilder = Callable[[int], list[dict[str, Any]]]


@dataclass(eq=False)
class GatewaySession:
    """An identified session: sequence numbers and the replay buffer outlive connections."""

    session_id: str
    intents: int
    shard: list[int] | None = None
    seq: int = 0
    buffer: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))
    ws: web.WebSocketResponse | None = None
    cursor: int = 0
    invalidated: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, event: str, data: dict[str, Any]) -> int:
        """Number a dispatch, keep it for replay and wake the writer."""
        self.seq += 1
        self.buffer.append({"op": Op.DISPATCH, "t": event, "s": self.seq, "d": data})
        self.wake.set()
        return self.seq

    def pending(self) -> list[dict[str, Any]]:
        """Dispatches numbered after what the current connection has already been sent."""
        return [frame for frame in self.buffer if frame["s"] > self.cursor]

    def can_resume_from(self, seq: int) -> bool:
        """Whether the buffer still holds everything after ``seq``."""
        return not self.buffer or self.buffer[0]["s"] <= seq + 1


class _Connection:
    """One websocket; serialises writes from the reader and the pump."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self._lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._lock:
            if not self.ws.closed:
                await self.ws.send_str(json.dumps(frame))


class GatewayHub:
    """Accepts the bot's connections and delivers dispatches to its current session."""

    def __init__(
        self,
        *,
        bot_token: str,
        ready_builder: ReadyBuilder,
        guilds_builder: GuildsBuilder,
        members_builder: MembersBuilder,
        privileged_intents: bool = True,
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        self._token = bot_token
        self._ready_builder = ready_builder
        self._guilds_builder = guilds_builder
        self.guild_create_delay = DEFAULT_GUILD_CREATE_DELAY
        self.refusing = False
        """During an outage: connections are refused with 503."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._members_builder = members_builder
        self._privileged_intents = privileged_intents
        self._heartbeat_ms = heartbeat_interval_ms
        self._connections: set[_Connection] = set()
        self._ready_seq: int | None = None
        self._resumed_seq: int | None = None
        self.session: GatewaySession | None = None
        self.ready = asyncio.Event()
        self.identify_count = 0
        self.resume_count = 0
        self.progress = asyncio.Event()

    @property
    def connected(self) -> bool:
        """Whether the bot currently has a live, identified connection."""
        return (
            self.session is not None and self.session.ws is not None and not self.session.ws.closed
        )

    # --- aiohttp handler -------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The websocket endpoint the bot connects to (503 during an outage)."""
        if self.refusing:
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(ws)
        self._connections.add(conn)
        pump: asyncio.Task[None] | None = None
        try:
            await conn.send({"op": Op.HELLO, "d": {"heartbeat_interval": self._heartbeat_ms}})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                started = await self._on_frame(conn, json.loads(msg.data))
                if started is not None:
                    if pump is not None:
                        pump.cancel()
                    pump = asyncio.create_task(
                        self._pump(conn, started), name="fake-discord-gateway-pump"
                    )
        finally:
            if pump is not None:
                pump.cancel()
            self._connections.discard(conn)
            if self.session is not None and self.session.ws is ws:
                self.session.ws = None
            self._signal()
        return ws

    async def _on_frame(self, conn: _Connection, frame: dict[str, Any]) -> GatewaySession | None:
        """Handle one client frame; returns the session when this connection starts pumping."""
        op, data = frame.get("op"), frame.get("d")
        if op == Op.HEARTBEAT:
            await conn.send({"op": Op.HEARTBEAT_ACK})
        elif op == Op.IDENTIFY:
            return await self._identify(conn, data or {})
        elif op == Op.RESUME:
            return await self._resume(conn, data or {})
        elif op == Op.REQUEST_GUILD_MEMBERS:
            self._send_members(data or {})
        elif op not in (Op.PRESENCE_UPDATE, Op.VOICE_STATE_UPDATE):
            log.warning("fake gateway: ignoring unknown opcode %s", op)
        return None

    async def _identify(self, conn: _Connection, data: dict[str, Any]) -> GatewaySession | None:
        if data.get("token") != self._token:
            await conn.ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return None
        intents = int(data.get("intents") or 0)
        if intents & Intent.PRIVILEGED and not self._privileged_intents:
            await conn.ws.close(code=CLOSE_DISALLOWED_INTENTS, message=b"Disallowed intent(s).")
            return None
        if self.session is not None:
            self.session.invalidated = True
        session = GatewaySession(
            secrets.token_hex(16), intents, shard=data.get("shard"), ws=conn.ws
        )
        self.session = session
        self.ready.clear()
        self._ready_seq = None
        ready_seq = session.push("READY", self._ready_builder(session))
        if self.guild_create_delay > 0:
            self._spawn(self._guilds_later(session, ready_seq), "fake-discord-guild-create")
        else:
            self._push_guilds(session, ready_seq)
        self.identify_count += 1
        log.info("fake gateway: IDENTIFY -> session %s", session.session_id)
        return session

    async def _guilds_later(self, session: GatewaySession, ready_seq: int) -> None:
        await asyncio.sleep(self.guild_create_delay)
        if session is self.session and not session.invalidated:
            self._push_guilds(session, ready_seq)

    def _push_guilds(self, session: GatewaySession, ready_seq: int) -> None:
        """Send every GUILD_CREATE (built now, so changes made meanwhile are in them)."""
        last = ready_seq
        for payload in self._guilds_builder(session):
            last = session.push("GUILD_CREATE", payload)
        self._ready_seq = last
        session.wake.set()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resume(self, conn: _Connection, data: dict[str, Any]) -> GatewaySession | None:
        session, seq = self.session, int(data.get("seq") or 0)
        valid = (
            data.get("token") == self._token
            and session is not None
            and not session.invalidated
            and session.session_id == data.get("session_id")
            and session.can_resume_from(seq)
        )
        if not valid or session is None:
            await conn.send({"op": Op.INVALID_SESSION, "d": False})
            return None
        session.ws, session.cursor = conn.ws, seq
        self._resumed_seq = session.push("RESUMED", {"_trace": ["fake-discord"]})
        self.resume_count += 1
        log.info("fake gateway: RESUME session %s from seq %s", session.session_id, seq)
        return session

    def _send_members(self, data: dict[str, Any]) -> None:
        guild_id = int(data.get("guild_id") or 0)
        chunk = {
            "guild_id": str(guild_id),
            "members": self._members_builder(guild_id),
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def _pump(self, conn: _Connection, session: GatewaySession) -> None:
        """Write this session's dispatches to this connection, in order, until either ends."""
        while session.ws is conn.ws and not conn.ws.closed:
            session.wake.clear()
            for frame in session.pending():
                await conn.send(frame)
                session.cursor = frame["s"]
            self._note_progress(session)
            await session.wake.wait()

    def _note_progress(self, session: GatewaySession) -> None:
        if (
            self._ready_seq is not None
            and session.cursor >= self._ready_seq
            and session is self.session
        ):
            self.ready.set()
        self._signal()

    def _signal(self) -> None:
        self.progress.set()
        self.progress = asyncio.Event()

    # --- driver side -----------------------------------------------------------------------

    def dispatch(self, event: str, data: dict[str, Any], intent: int | None = None) -> bool:
        """Queue a dispatch for the bot; False when there is no session or the intent is off."""
        session = self.session
        if session is None or session.invalidated:
            log.debug("fake gateway: no session, dropping %s", event)
            return False
        if intent is not None and not session.intents & intent:
            return False
        session.push(event, data)
        return True

    def wants(self, intent: int) -> bool:
        """Whether the current session subscribed to ``intent``."""
        return self.session is not None and bool(self.session.intents & intent)

    async def drop(self, *, resume: bool = True, timeout: float = 15.0) -> None:
        """Disconnect the bot and wait until it has resumed (or re-identified when not resumable)."""
        session = self.session
        if session is None or session.ws is None:
            raise RuntimeError("the bot is not connected to the fake gateway")
        ws, resumes, identifies = session.ws, self.resume_count, self.identify_count
        if resume:
            await ws.close(code=CLOSE_DROPPED, message=b"fake-discord: dropped")
            await self._wait(
                lambda: self.resume_count > resumes and self._sent(self._resumed_seq), timeout
            )
        else:
            session.invalidated = True
            conn = next(c for c in self._connections if c.ws is ws)
            await conn.send({"op": Op.INVALID_SESSION, "d": False})
            await self._wait(
                lambda: self.identify_count > identifies and self.ready.is_set(), timeout
            )

    def _sent(self, seq: int | None) -> bool:
        return self.session is not None and seq is not None and self.session.cursor >= seq

    async def _wait(self, condition: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await self.progress.wait()

    async def cut(self) -> None:
        """Drop every connection abnormally, as an outage does; the session stays resumable."""
        for conn in list(self._connections):
            await conn.ws.close(code=CLOSE_OUTAGE, message=b"fake-discord: outage")

    async def close(self) -> None:
        """Close every connection (the bot will see a normal close)."""
        for task in self._tasks:
            task.cancel()
        for conn in list(self._connections):
            await conn.ws.close(code=1001, message=b"fake-discord shutting down")
        self._connections.clear()
