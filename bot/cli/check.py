"""``python -m bot check``: is this configuration and environment ready to run the bot?

One line per item, ``OK``, ``WARN`` or ``FAIL``, then a summary; the exit code is 1
when any item FAILs. Nothing is created or changed, with two small exceptions that
cannot be avoided when testing honestly: a temporary file is created and deleted to
prove a folder writable, and opening an existing database read-only lets SQLite
create its ``-wal``/``-shm`` side files (as any reader of a WAL database does). The
database itself is never created or migrated here; pending migrations are applied
by the bot at its next start.

Items:

* ``config``: the file parses and every value is in range (``load_config`` did that),
  the secrets are set, and every offered model has a price;
* ``database`` / ``media``: the folders are writable, the SQLite file (if it exists)
  is a database whose migrations this version knows;
* ``upstream``: one cheap authenticated request (``VideoProvider.check_credentials``;
  it creates nothing) proves the Videos API reachable and the key accepted;
* ``discord token``: ``GET /users/@me`` with the bot token (no gateway login);
* ``guild ...``: for every server the bot is in, its permissions in each text channel,
  computed from the server's roles, the bot's roles and the channel overwrites, against
  what posting a result needs (``bot.discord_ui.permissions.REQUIRED``). A channel the
  bot can see but not post results in is a WARN (``/sora`` there is refused with the
  missing permission named); a server where no channel is usable is a FAIL. Channels
  hidden from the bot are only counted: hiding is usually deliberate.

Secrets are never printed: they are not put in any line, and every line is scrubbed
of the token and the key before it is written, as a last line of defence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urlsplit, urlunsplit

import discord
import httpx
from sqlite_utils import Database

from bot.config import ENV_API_KEY, ENV_DISCORD_TOKEN, Config, ConfigError
from bot.core import errors
from bot.discord_ui.permissions import REQUIRED
from bot.storage.migrations import MIGRATIONS
from bot.upstream import OpenAIVideosClient

DISCORD_API = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (https://github.com/sora-bot/sora-bot, 0.1) sora-bot-check"
#: Seconds to wait for any one HTTP answer during the check.
HTTP_TIMEOUT = 10.0
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


@dataclass(frozen=True)
class CheckLine:
    """One checked item: ``OK``, ``WARN`` or ``FAIL``, what, and a detail for the operator."""

    status: str
    item: str
    detail: str

    def render(self) -> str:
        """``OK   database: ...``."""
        return f"{self.status:<4} {self.item}: {self.detail}"


def ok(item: str, detail: str) -> CheckLine:
    """An item that is fine."""
    return CheckLine("OK", item, detail)


def warn(item: str, detail: str) -> CheckLine:
    """An item that works but deserves a look."""
    return CheckLine("WARN", item, detail)


def fail(item: str, detail: str) -> CheckLine:
    """An item that must be fixed before the bot can work."""
    return CheckLine("FAIL", item, detail)


def config_failure(error: ConfigError) -> CheckLine:
    """The line for a configuration that does not even load."""
    return fail("config", str(error))


async def run_check(config: Config, *, out: TextIO | None = None) -> int:
    """Check everything, write one line per item and a summary; 1 if anything FAILs."""
    out = out or sys.stdout
    secrets = (config.discord.token.reveal(), config.upstream.api_key.reveal())
    lines = await collect_checks(config)
    for line in lines:
        out.write(scrub(line.render(), secrets) + "\n")
    counts = {
        status: sum(1 for line in lines if line.status == status)
        for status in ("OK", "WARN", "FAIL")
    }
    verdict = "not ready: fix the FAIL lines" if counts["FAIL"] else "ready to run"
    out.write(
        f"check: {counts['OK']} OK, {counts['WARN']} WARN, {counts['FAIL']} FAIL: {verdict}\n"
    )
    out.flush()
    return 1 if counts["FAIL"] else 0


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every (non-trivial) secret replaced by ``********``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "********")
    return text


async def collect_checks(config: Config) -> list[CheckLine]:
    """Every check, in the order an operator would fix things."""
    lines = check_config(config)
    lines.append(check_database(config.storage.database))
    lines.append(check_folder("media", config.storage.media_dir))
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
        if config.upstream.api_key:
            lines.append(await check_upstream(config, http))
        if config.discord.token:
            lines.extend(await check_discord(config, http))
    return lines


# --- config -------------------------------------------------------------------------------


def check_config(config: Config) -> list[CheckLine]:
    """The config loaded (else we would not be here); secrets set; every model priced."""
    source = f"{config.source} parses" if config.source else "no config file, defaults"
    lines = [ok("config", f"{source} + environment; every value is in range")]
    for name, secret, what in (
        (ENV_DISCORD_TOKEN, config.discord.token, "the Discord bot token"),
        (ENV_API_KEY, config.upstream.api_key, "the Videos API key"),
    ):
        if not secret:
            lines.append(fail("config", f"{name} is not set ({what}); set it in the environment"))
    unpriced = [m for m in config.upstream.models if config.price_per_second(m) is None]
    if unpriced:
        lines.append(
            warn(
                "config",
                f"no [prices] entry for {', '.join(unpriced)}: their cost is not estimated, "
                "so the daily budget does not count them",
            )
        )
    return lines


# --- storage ------------------------------------------------------------------------------


def check_database(path: Path) -> CheckLine:
    """The SQLite file's folder is writable; an existing file is a database we can migrate."""
    if str(path) == ":memory:":
        return warn("database", "in memory: tasks are lost when the bot stops")
    if path.exists() and not path.is_file():
        return fail("database", f"{path} exists but is not a file")
    problem = folder_problem(path.parent)
    if problem:
        return fail("database", f"cannot write next to {path}: {problem}")
    if not path.exists():
        return ok(
            "database",
            f"{path} will be created at the first start "
            f"(with {len(_all_migrations())} migration(s))",
        )
    return _migration_state(path)


def _all_migrations() -> list[str]:
    """Names of every migration this version knows (what an empty database still needs)."""
    return [m.name for m in MIGRATIONS.pending(Database(memory=True))]


def _migration_state(path: Path) -> CheckLine:
    """Read (never write) which migrations the existing database has."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        return fail("database", f"{path} cannot be opened: {exc}")
    try:
        db = Database(conn)
        applied = [m.name for m in MIGRATIONS.applied(db)]
        pending = [m.name for m in MIGRATIONS.pending(db)]
    except sqlite3.Error as exc:
        return fail("database", f"{path} is not a usable SQLite database: {exc}")
    finally:
        conn.close()
    unknown = sorted(set(applied) - set(_all_migrations()))
    if unknown:
        return fail(
            "database",
            f"{path} was migrated by a newer sora-bot ({', '.join(unknown)}); "
            "run that version or restore a backup",
        )
    if pending:
        return ok(
            "database",
            f"{path} is writable; {len(pending)} migration(s) pending "
            f"({', '.join(pending)}), applied automatically at the next start",
        )
    return ok("database", f"{path} is writable; migrations current ({len(applied)} applied)")


def check_folder(item: str, folder: Path) -> CheckLine:
    """A folder the bot writes to (created at start if missing)."""
    problem = folder_problem(folder)
    if problem:
        return fail(item, f"{folder}: {problem}")
    note = "" if folder.exists() else " (will be created at the first start)"
    return ok(item, f"{folder} is writable{note}")


def folder_problem(folder: Path) -> str | None:
    """Why files cannot be created in ``folder`` (or where it would be created), else None.

    A missing folder is judged by its nearest existing ancestor, because the bot
    creates the missing part at start. Writability is proved by creating and deleting a
    temporary file, which also catches read-only mounts.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".sora-bot-check-"):
            pass
    except OSError as exc:
        return f"{existing} is not writable ({exc.strerror or type(exc).__name__})"
    return None


# --- upstream -----------------------------------------------------------------------------


async def check_upstream(config: Config, http: httpx.AsyncClient) -> CheckLine:
    """One cheap authenticated lookup that creates nothing."""
    up = config.upstream
    where = public_url(up.base_url)
    client = OpenAIVideosClient(
        http,
        base_url=up.base_url,
        api_key=up.api_key.reveal(),
        default_model=up.default_model,
        json_timeout=min(up.request_timeout, HTTP_TIMEOUT),
        max_retries=1,
    )
    try:
        with _quiet("bot.upstream"):
            await client.check_credentials()
    except errors.UpstreamAuthError:
        return fail("upstream", f"{where} refused the API key ({ENV_API_KEY}): check it")
    except errors.UpstreamError as exc:
        return fail("upstream", f"{where} is not usable: {exc.user_message}")
    return ok("upstream", f"{where} is reachable and accepted the API key")


@contextlib.contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Hide a logger's warnings for a moment: the probe's expected 404 is not a failure,
    and a real failure is reported on the check line itself."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment (they may carry credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# --- discord ------------------------------------------------------------------------------


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
                raise DiscordAnswer(
                    f"cannot reach Discord at {public_url(self.api)} ({type(exc).__name__})"
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
            detail = f"Discord refused the token ({ENV_DISCORD_TOKEN}): copy it again from the Developer Portal"
        return [fail("discord token", detail)]
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
