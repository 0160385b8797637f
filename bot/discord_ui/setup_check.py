"""The Discord half of ``python -m bot check``: the token, the servers, channel permissions.

A few bot-token REST calls over httpx (no gateway, no discord.py client), and the
permission maths Discord applies: the server's roles, the bot's roles, then the
channel's overwrites, against what posting a result needs (``permissions.REQUIRED``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import discord
import httpx

from bot.config import ENV_DISCORD_TOKEN, Config
from bot.core.network import network_cause
from bot.discord_ui.permissions import REQUIRED
from bot.ops.check_lines import CheckLine, fail, ok, public_url, skip, warn

DISCORD_API = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (https://github.com/sora-bot/sora-bot, 0.1) sora-bot-check"
#: Servers inspected at most (three requests each).
MAX_GUILDS = 50
#: Text and announcement channels: where slash commands and results live.
TEXT_CHANNEL_TYPES = (0, 5)
#: Longest Retry-After honoured on a Discord 429 before giving up on that request.
MAX_RETRY_AFTER = 5.0

FLAG = discord.Permissions.VALID_FLAGS
ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = FLAG["administrator"]
VIEW_CHANNEL = FLAG["view_channel"]
SEND_MESSAGES = FLAG["send_messages"]
#: What Discord silently drops without Send Messages (its implicit permission rules).
NEEDS_SEND = (
    FLAG["send_tts_messages"]
    | FLAG["mention_everyone"]
    | FLAG["embed_links"]
    | FLAG["attach_files"]
)


class DiscordAnswer(Exception):
    """Discord (or the way to it) did not give the answer a check needed."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DiscordRest:
    """The few bot-token REST calls the check needs; no gateway, no discord.py client."""

    def __init__(self, http: httpx.AsyncClient, api: str, token: str) -> None:
        self.http = http
        self.api = api.rstrip("/")
        self.headers = {"Authorization": f"Bot {token}", "User-Agent": USER_AGENT}

    async def get(self, path: str, **params: Any) -> Any:
        """GET ``path`` as JSON; one retry after a short 429; ``DiscordAnswer`` otherwise."""
        for _ in range(2):
            try:
                response = await self.http.get(self.api + path, headers=self.headers, params=params)
            except httpx.HTTPError as exc:
                cause = network_cause(exc) or type(exc).__name__
                raise DiscordAnswer(
                    f"cannot reach Discord at {public_url(self.api)}: {cause}"
                ) from exc
            if response.status_code == 429:
                delay = _retry_after(response)
                if delay is not None and delay <= MAX_RETRY_AFTER:
                    await asyncio.sleep(delay)
                    continue
            if response.is_success:
                try:
                    return response.json()
                except ValueError as exc:
                    raise DiscordAnswer(
                        f"{public_url(self.api)} did not answer like Discord (no JSON)"
                    ) from exc
            raise DiscordAnswer(_discord_error(response), response.status_code)
        raise DiscordAnswer("Discord kept answering 429 (rate limited); try again in a minute")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.json().get("retry_after"))
    except (ValueError, TypeError, AttributeError):
        return None


def _discord_error(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = f"{body.get('message', '')} (code {body.get('code', '?')})"
    except (ValueError, AttributeError):
        message = response.reason_phrase
    return f"Discord answered {response.status_code}: {message}"


def discord_api(config: Config) -> str:
    """The REST base: the configured emulator's, or Discord's."""
    base = config.discord.api_base
    return f"{base.rstrip('/')}/api/v10" if base else DISCORD_API


async def check_discord(config: Config, http: httpx.AsyncClient) -> list[CheckLine]:
    """The token, then every server the bot is in."""
    rest = DiscordRest(http, discord_api(config), config.discord.token.reveal())
    try:
        me = await rest.get("/users/@me")
    except DiscordAnswer as exc:
        detail = str(exc)
        if exc.status == 401:
            detail = (
                f"Discord refused the token ({ENV_DISCORD_TOKEN}): {detail.removeprefix('Discord ')}"
                "; copy it again from the Developer Portal"
            )
        return [fail("discord token", detail), skip("guilds", "not checked: needs the token")]
    lines = [ok("discord token", f"valid: bot user {me.get('username')} (id {me.get('id')})")]
    try:
        guilds = await rest.get("/users/@me/guilds", limit=200)
    except DiscordAnswer as exc:
        return [*lines, fail("guilds", str(exc))]
    lines.extend(_guild_list_lines(config, guilds))
    for guild in guilds[:MAX_GUILDS]:
        lines.extend(await check_guild(rest, int(me["id"]), guild))
    return lines


def _guild_list_lines(config: Config, guilds: list[dict[str, Any]]) -> list[CheckLine]:
    if not guilds:
        return [
            fail(
                "guilds",
                "the bot is in no server yet: invite it with the URL from the README "
                "(scopes bot + applications.commands)",
            )
        ]
    lines = []
    dev_guild = config.discord.dev_guild_id
    if dev_guild and all(int(g["id"]) != dev_guild for g in guilds):
        lines.append(
            fail("guilds", f"[discord] dev_guild_id {dev_guild} is not a server the bot is in")
        )
    if len(guilds) > MAX_GUILDS:
        lines.append(
            warn(
                "guilds", f"the bot is in {len(guilds)} servers; the first {MAX_GUILDS} are checked"
            )
        )
    return lines


async def check_guild(
    rest: DiscordRest, bot_id: int, summary: Mapping[str, Any]
) -> list[CheckLine]:
    """The bot's permissions in every text channel of one server."""
    guild_id, name = int(summary["id"]), str(summary.get("name", "?"))
    item = f"guild '{name}' ({guild_id})"
    try:
        guild = await rest.get(f"/guilds/{guild_id}")
        channels = await rest.get(f"/guilds/{guild_id}/channels")
        member = await rest.get(f"/guilds/{guild_id}/members/{bot_id}")
    except DiscordAnswer as exc:
        return [fail(item, str(exc))]
    roles = {int(r["id"]): int(r["permissions"]) for r in guild.get("roles") or []}
    role_ids = [int(r) for r in member.get("roles") or []]
    base = base_permissions(guild_id, int(guild.get("owner_id") or 0), roles, role_ids, bot_id)
    texts = [c for c in channels if c.get("type") in TEXT_CHANNEL_TYPES]
    usable, hidden, lines = [], 0, []
    for channel in sorted(texts, key=lambda c: (c.get("position", 0), int(c["id"]))):
        perms = channel_permissions(
            base, guild_id, channel.get("permission_overwrites") or [], role_ids, bot_id
        )
        missing = missing_permissions(perms)
        if not missing:
            usable.append(f"#{channel.get('name')}")
        elif "View Channel" in missing:
            hidden += 1
        else:
            lines.append(
                warn(
                    f"channel #{channel.get('name')} in '{name}'",
                    f"missing {', '.join(missing)}: /sora there is refused until it is granted",
                )
            )
    hidden_note = f"; {hidden} hidden from the bot" if hidden else ""
    if not usable:
        return [
            fail(
                item,
                f"the bot cannot post results in any of its {len(texts)} text channels{hidden_note}",
            ),
            *lines,
        ]
    listed = ", ".join(usable[:5]) + (", …" if len(usable) > 5 else "")
    detail = f"results can be posted in {len(usable)} of {len(texts)} text channels ({listed}){hidden_note}"
    return [ok(item, detail), *lines]


# --- permission arithmetic (Discord's documented algorithm) -----------------------------------


def base_permissions(
    guild_id: int,
    owner_id: int,
    roles: Mapping[int, int],
    member_roles: Iterable[int],
    user_id: int,
) -> int:
    """Server-wide permissions: @everyone (id = guild id) plus the member's roles."""
    if user_id == owner_id:
        return ALL_PERMISSIONS
    perms = roles.get(guild_id, 0)
    for role_id in member_roles:
        perms |= roles.get(role_id, 0)
    return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms


def channel_permissions(
    base: int,
    guild_id: int,
    overwrites: Iterable[Mapping[str, Any]],
    member_roles: Iterable[int],
    user_id: int,
) -> int:
    """Apply a channel's overwrites (@everyone, then roles together, then the member)
    and Discord's implicit rules (nothing without View Channel; no embeds or files
    without Send Messages)."""
    if base & ADMINISTRATOR:
        return ALL_PERMISSIONS
    by_id = {
        int(o["id"]): (int(o.get("allow", 0)), int(o.get("deny", 0)), o.get("type"))
        for o in overwrites
    }
    perms = base
    if guild_id in by_id:
        allow, deny, _ = by_id[guild_id]
        perms = (perms & ~deny) | allow
    role_allow = role_deny = 0
    for role_id in member_roles:
        if role_id in by_id and role_id != guild_id:
            allow, deny, _ = by_id[role_id]
            role_allow, role_deny = role_allow | allow, role_deny | deny
    perms = (perms & ~role_deny) | role_allow
    if user_id in by_id:
        allow, deny, _ = by_id[user_id]
        perms = (perms & ~deny) | allow
    if not perms & VIEW_CHANNEL:
        return 0
    if not perms & SEND_MESSAGES:
        perms &= ~NEEDS_SEND
    return perms


def missing_permissions(perms: int) -> list[str]:
    """Readable names of what posting results needs and ``perms`` lacks."""
    return [label for flag, label in REQUIRED.items() if not perms & FLAG[flag]]
