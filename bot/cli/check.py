"""``python -m bot check``: is this configuration and environment ready to run the bot?

One line per item, ``OK``, ``WARN``, ``FAIL`` or ``SKIP`` (could not be checked, and
why), then a summary that counts each; the exit code is 1 when any item FAILs. Every
failure names its cause: the HTTP status and the service's own error message, or the
network cause (DNS lookup failed, connection refused, timed out). Nothing is created or changed, with two small exceptions that
cannot be avoided when testing honestly: a temporary file is created and deleted to
prove a folder writable, and opening an existing database read-only lets SQLite
create its ``-wal``/``-shm`` side files (as any reader of a WAL database does). The
database itself is never created or migrated here; pending migrations are applied
by the bot at its next start.

Items:

* ``config``: the file parses and every value is in range (``load_config`` did that),
  and the secrets are set;
* ``database`` / ``media``: the folders are writable, the SQLite file (if it exists)
  is a database whose migrations this version knows;
* ``upstream``: ``GET /models`` (it creates nothing, and every relay answers it) proves
  the relay reachable and the key accepted; a 404 means no OpenAI-compatible API there;
* ``dialect``: which relay dialect it speaks (detected with requests that create
  nothing, or set in config) and what that dialect can do;
* ``options``: the models, seconds and sizes ``/sora`` will offer, and every offered
  model has a price;
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

import contextlib
import logging
import sqlite3
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

import httpx
from sqlite_utils import Database

from bot.cli.upstream_setup import make_upstream
from bot.config import ENV_API_BASE, ENV_API_KEY, ENV_DISCORD_TOKEN, NO_RELAY, Config, ConfigError
from bot.core import errors
from bot.core.dialects import AUTO, Dialect
from bot.core.options import OptionsUnavailable
from bot.discord_ui.setup_check import check_discord
from bot.ops.check_lines import STATUSES, CheckLine, fail, ok, public_url, skip, warn
from bot.services.submission import video_options
from bot.storage.migrations import MIGRATIONS
from bot.upstream import VideoCapabilities
from bot.upstream.detect import Detection, NoVideoDialect, detect_with_models
from bot.upstream.factory import ClientSettings, make_transport
from bot.upstream.models_list import list_models
from bot.upstream.transport import Transport

#: Seconds to wait for any one HTTP answer during the check.
HTTP_TIMEOUT = 10.0


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
    out.write(summary_line(lines) + "\n")
    out.flush()
    return 1 if any(line.status == "FAIL" for line in lines) else 0


def summary_line(lines: Iterable[CheckLine]) -> str:
    """``check: 5 OK, 0 WARN, 1 FAIL, 2 SKIP: not ready: fix the FAIL lines``."""
    statuses = [line.status for line in lines]
    counts = ", ".join(f"{statuses.count(status)} {status}" for status in STATUSES)
    if "FAIL" in statuses:
        verdict = "not ready: fix the FAIL lines"
    elif "SKIP" in statuses:
        verdict = "not fully checked: see the SKIP lines"
    else:
        verdict = "ready to run"
    return f"check: {counts}: {verdict}"


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
        if not config.upstream.base_url:
            lines.append(skip("upstream", f"not checked: {ENV_API_BASE} is not set"))
        elif config.upstream.api_key:
            lines.extend(await check_upstream(config, http))
        else:
            lines.append(skip("upstream", f"not checked: {ENV_API_KEY} is not set"))
        if config.discord.token:
            lines.extend(await check_discord(config, http))
        else:
            lines.append(skip("discord token", f"not checked: {ENV_DISCORD_TOKEN} is not set"))
            lines.append(skip("guilds", "not checked: needs a valid Discord token"))
    return lines


# --- config -------------------------------------------------------------------------------


def check_config(config: Config) -> list[CheckLine]:
    """The config loaded (else we would not be here) and the secrets are set."""
    source = f"{config.source} parses" if config.source else "no config file, defaults"
    lines = [ok("config", f"{source} + environment; every value is in range")]
    for name, secret, what in (
        (ENV_DISCORD_TOKEN, config.discord.token, "the Discord bot token"),
        (ENV_API_KEY, config.upstream.api_key, "the Videos API key"),
    ):
        if not secret:
            lines.append(fail("config", f"{name} is not set ({what}); set it in the environment"))
    if not config.upstream.base_url:
        lines.append(fail("config", NO_RELAY))
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


async def check_upstream(config: Config, http: httpx.AsyncClient) -> list[CheckLine]:
    """The key (``GET /models``), then the dialect and what ``/sora`` will offer.

    Every request creates nothing. The dialect is detected afresh (the bot itself keeps
    the one remembered for this base URL; see ``bot.cli.upstream_setup``).
    """
    up = config.upstream
    where = public_url(up.base_url)
    transport = make_transport(
        http,
        base_url=up.base_url,
        api_key=up.api_key.reveal(),
        settings=ClientSettings(json_timeout=min(up.request_timeout, HTTP_TIMEOUT), max_retries=1),
    )
    try:
        with _quiet("bot.upstream"):
            models = await list_models(transport)
            detection = await _dialect(config, transport, models)
    except errors.UpstreamAuthError as exc:
        return [
            fail(
                "upstream",
                f"{where} refused the API key ({ENV_API_KEY}): {upstream_cause(exc)}; check the key",
            )
        ]
    except errors.UpstreamNotFound as exc:
        return [
            fail(
                "upstream",
                f"{where} has no OpenAI-compatible API: GET /models {upstream_cause(exc)}; "
                f"{ENV_API_BASE} usually ends in /v1",
            )
        ]
    except NoVideoDialect as exc:
        return [
            ok("upstream", f"{where} accepted the API key ({len(models)} models listed)"),
            fail("dialect", f"{where} {exc.detail}; check {ENV_API_BASE}"),
        ]
    except errors.UpstreamError as exc:
        return [fail("upstream", f"{where} is not usable: {upstream_cause(exc)}")]
    return [
        ok("upstream", f"{where} accepted the API key ({len(models)} models listed)"),
        *_dialect_lines(config, http, detection),
    ]


async def _dialect(config: Config, transport: Transport, models: tuple[str, ...]) -> Detection:
    if config.upstream.dialect != AUTO:
        dialect = Dialect(config.upstream.dialect)
        return Detection(
            dialect=dialect, listed_models=models, evidence="set by [upstream] dialect"
        )
    return await detect_with_models(transport, models)


def _dialect_lines(
    config: Config, http: httpx.AsyncClient, detection: Detection
) -> list[CheckLine]:
    """The dialect, its capabilities, and the options ``/sora`` offers (or why none)."""
    caps = make_upstream(config, http, detection).capabilities()
    lines = [ok("dialect", f"{detection.dialect} ({detection.evidence}); {capability_text(caps)}")]
    try:
        options = video_options(config, caps)
    except OptionsUnavailable as exc:
        return [*lines, fail("options", str(exc))]
    lines.append(
        ok(
            "options",
            f"/sora offers models {', '.join(options.models)}; seconds "
            f"{', '.join(map(str, options.seconds))}; sizes {', '.join(options.sizes)}",
        )
    )
    unpriced = [m for m in options.models if config.price_per_second(m) is None]
    if unpriced:
        lines.append(
            warn(
                "options",
                f"no [prices] entry for {', '.join(unpriced)}: their cost is not estimated, "
                "so the daily budget does not count them",
            )
        )
    return lines


def capability_text(caps: VideoCapabilities) -> str:
    """``remix yes, extend no, list no, image input yes``."""
    flags = (
        ("remix", caps.can_remix),
        ("extend", caps.can_extend),
        ("list", caps.can_list),
        ("image input", caps.image_input),
    )
    return ", ".join(f"{name} {'yes' if value else 'no'}" for name, value in flags)


def upstream_cause(exc: errors.UpstreamError) -> str:
    """What went wrong, for an operator: the status and the upstream's words, or the
    network cause; the user-facing sentence only when nothing more precise is known."""
    if exc.detail is None:
        return exc.user_message
    if exc.detail.startswith("HTTP "):
        return f"answered {exc.detail}"
    _, _, cause = exc.detail.partition(": ")
    return cause or exc.detail


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
