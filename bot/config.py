"""Configuration: a TOML file into frozen, validated dataclasses; secrets from the environment.

Every key has a default, so the bot also starts with no file at all when the
environment provides the secrets. Relative paths in the file resolve against
the file's folder (not the working directory).

The sections are pydantic dataclasses: the field types and ``Field`` bounds *are*
the validation, and it runs on every construction (``load_config``, tests, the
harness and ``dataclasses.replace`` alike). ``load_config`` turns the first
problem into a ``ConfigError`` of one line naming the key, what was expected and
what was found.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import ErrorDetails, PydanticCustomError

from bot.core.dialects import AUTO, Dialect

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Estimated USD per second of video, per model: the one place these numbers live.
DEFAULT_PRICES: Mapping[str, float] = {"sora-2": 0.10, "sora-2-pro": 0.30}

ENV_CONFIG = "SORA_BOT_CONFIG"
ENV_DISCORD_TOKEN = "DISCORD_TOKEN"
ENV_API_KEY = "SORA_API_KEY"
ENV_API_BASE = "SORA_API_BASE"
ENV_DB = "SORA_BOT_DB"
ENV_MEDIA = "SORA_BOT_MEDIA"
ENV_MEDIA_SECRET = "SORA_BOT_MEDIA_SECRET"
#: The least length of ``$SORA_BOT_MEDIA_SECRET`` (it signs the links to kept originals).
MIN_MEDIA_SECRET = 16


#: Said when no relay is configured: the one fact a newcomer most needs.
NO_RELAY = (
    f"{ENV_API_BASE} is not set (your relay's Videos API, e.g. https://relay.example/v1; "
    "OpenAI's own Videos API shut down on 2026-09-24; see the README's 'What you need')"
)


class ConfigError(Exception):
    """The configuration cannot be used; the message is one line for the operator."""


class Secret:
    """A string that does not show itself in ``repr``/``str``/logs.

    Call ``reveal()`` at the one place the value is sent over the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value itself."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# --- field types: each names what it accepts ---------------------------------------------


def _size(value: str) -> str:
    width, sep, height = value.partition("x")
    if not (sep and width.isdigit() and height.isdigit() and int(width) and int(height)):
        raise PydanticCustomError(
            "not_size", "{value} is not a size like 1280x720", {"value": _show(value)}
        )
    return value


def _size_or_empty(value: str) -> str:
    return _size(value) if value else value


def _dialect(value: str) -> str:
    allowed = (AUTO, *(d.value for d in Dialect))
    if value not in allowed:
        raise PydanticCustomError(
            "not_one_of",
            "{value} is not one of {allowed}",
            {"value": _show(value), "allowed": ", ".join(allowed)},
        )
    return value


def _http_url(value: str) -> str:
    if value and not value.startswith(("http://", "https://")):
        raise PydanticCustomError("not_http", "must start with http:// or https://")
    return value.rstrip("/")


def _log_level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise PydanticCustomError(
            "not_one_of",
            "{value} is not one of {allowed}",
            {"value": _show(value), "allowed": ", ".join(LOG_LEVELS)},
        )
    return value


Text = Annotated[str, Strict()]
Flag = Annotated[bool, Strict()]
Count = Annotated[int, Strict(), Field(ge=0)]
PositiveCount = Annotated[int, Strict(), Field(gt=0)]
Number = Annotated[float, Strict(), Field(ge=0)]
PositiveNumber = Annotated[float, Strict(), Field(gt=0)]
Size = Annotated[str, Strict(), AfterValidator(_size)]
#: Seconds of video; which lengths exist is the relay's dialect's business (checked at start).
Seconds = Annotated[int, Strict(), Field(gt=0, le=120)]
DialectName = Annotated[str, Strict(), AfterValidator(_dialect)]
HttpUrl = Annotated[str, Strict(), AfterValidator(_http_url)]
#: A TCP port; 0 picks a free one (tests).
Port = Annotated[int, Strict(), Field(ge=0, le=65535)]

_SECTION = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


def _rule(key: str, message: str) -> PydanticCustomError:
    """A rule between two keys of one section, reported on ``key``."""
    return PydanticCustomError("config_rule", "{key}: {message}", {"key": key, "message": message})


# --- the sections ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, config=_SECTION)
class DiscordConfig:
    """How the bot talks to Discord."""

    token: Secret = field(default_factory=lambda: Secret(""))
    dev_guild_id: Count = 0
    admin_role: Text = ""
    mention_author: Flag = True
    api_base: Text = ""
    gateway_url: Text = ""


@dataclass(frozen=True, kw_only=True, config=_SECTION)
class UpstreamConfig:
    """The relay that serves Sora; there is no default (OpenAI's own API is gone).

    ``dialect`` is ``auto`` (detected at start) or one of ``bot.core.dialects.Dialect``.
    ``models``, ``seconds`` and ``sizes`` narrow what the relay offers (empty: all of it);
    an empty default is the first offered. Whether the relay offers them is checked at
    start (``bot.core.options``), since only then is its dialect known.
    """

    base_url: HttpUrl = ""
    api_key: Secret = field(default_factory=lambda: Secret(""))
    dialect: DialectName = AUTO
    default_model: Text = ""
    models: tuple[Text, ...] = ()
    seconds: tuple[Seconds, ...] = ()
    sizes: tuple[Size, ...] = ()
    default_seconds: Annotated[int, Strict(), Field(ge=0, le=120)] = 0
    default_size: Annotated[str, Strict(), AfterValidator(_size_or_empty)] = ""
    request_timeout: PositiveNumber = 30.0
    download_timeout: PositiveNumber = 300.0
    max_retries: Count = 4
    max_reference_image_mb: PositiveNumber = 10.0

    @model_validator(mode="after")
    def _defaults_are_offered(self) -> UpstreamConfig:
        for key, value, offered_key, offered in (
            ("default_model", self.default_model, "models", self.models),
            ("default_seconds", self.default_seconds, "seconds", self.seconds),
            ("default_size", self.default_size, "sizes", self.sizes),
        ):
            if value and offered and value not in offered:
                listed = ", ".join(map(str, offered))
                raise _rule(key, f"{_show(value)} is not one of {offered_key} ({listed})")
        return self


@dataclass(frozen=True, kw_only=True, config=_SECTION)
class PollerConfig:
    """How often and how hard the poller asks the upstream; the poller reads this directly."""

    tick_seconds: PositiveNumber = 2.0
    #: Tasks claimed per database transaction (a round claims several batches).
    batch_size: PositiveCount = 50
    concurrency: PositiveCount = 8
    #: The most upstream requests per second the poller sends (polls: retrieves and list
    #: pages); x0.7 on each 429 (after its Retry-After), +1 per second of good answers.
    max_requests_per_second: PositiveNumber = 10.0
    #: The most tasks one round looks at (the round's database work).
    max_tasks_per_round: PositiveCount = 1000
    #: Where the upstream lists videos (``GET /v1/videos``), one page answers for every
    #: due task on it; the rest are retrieved one by one.
    list_polling: Flag = True
    first_poll_seconds: Number = 10.0
    min_interval_seconds: PositiveNumber = 3.0
    max_interval_seconds: PositiveNumber = 30.0
    error_backoff_cap_seconds: Number = 300.0
    max_age_minutes: PositiveNumber = 60.0
    card_edit_interval_seconds: Number = 5.0
    #: Status-card edits per channel per minute, shared by every card in the channel.
    card_edits_per_channel_per_minute: PositiveNumber = 30.0
    #: Transient delivery failures (Discord 5xx, 429, timeouts) retry until this deadline.
    delivery_deadline_hours: PositiveNumber = 24.0
    #: Also give up after this many attempts (0 = no count limit: the deadline alone).
    delivery_max_attempts: Count = 0

    @model_validator(mode="after")
    def _interval_bounds_are_ordered(self) -> PollerConfig:
        if self.max_interval_seconds < self.min_interval_seconds:
            raise _rule(
                "max_interval_seconds",
                f"must be at least min_interval_seconds ({_show(self.min_interval_seconds)}),"
                f" got {_show(self.max_interval_seconds)}",
            )
        return self

    @property
    def max_age(self) -> timedelta:
        """How long a video may take before it is failed."""
        return timedelta(minutes=self.max_age_minutes)

    @property
    def delivery_deadline(self) -> timedelta:
        """How long after a task finished its post may still be retried."""
        return timedelta(hours=self.delivery_deadline_hours)

    @property
    def card_edit_interval(self) -> timedelta:
        """The least time between two edits of one status card."""
        return timedelta(seconds=self.card_edit_interval_seconds)


@dataclass(frozen=True, kw_only=True, config=_SECTION)
class StorageConfig:
    """Where the SQLite database and downloaded media live."""

    database: Path = Path("data/sora-bot.db")
    media_dir: Path = Path("data/media")


@dataclass(frozen=True, kw_only=True, config=_SECTION)
class LimitsConfig:
    """Default quotas (0 = unlimited); admins override them per guild with ``/admin limits``."""

    max_concurrent_per_user: Count = 3
    daily_seconds_per_user: Count = 120
    daily_budget: Number = 20.0
    banned_words: tuple[Text, ...] = ()
    #: Videos running at once per guild (0 = unlimited); more wait in the fair queue.
    max_concurrent_per_guild: Count = 0
    #: Over a concurrency limit, a video waits in the queue (false: it is refused).
    queue: Flag = True


@dataclass(frozen=True, kw_only=True, config=_SECTION)
class LoggingConfig:
    """Log level (any case) and format."""

    level: Annotated[Text, AfterValidator(_log_level)] = "INFO"
    json: Flag = False


@dataclass(frozen=True, kw_only=True, config=_SECTION)
class HealthConfig:
    """The optional /healthz and /metrics HTTP endpoint."""

    enabled: Flag = False
    host: Text = "127.0.0.1"
    port: Annotated[int, Strict(), Field(ge=1, le=65535)] = 8080


@dataclass(frozen=True, kw_only=True, config=_SECTION)
class MediaConfig:
    """Result videos: the largest download, compressing videos over the upload limit, and
    (optionally) keeping originals reachable at signed links.

    A video larger than the post's upload limit is re-encoded to fit (``bot.delivery.transcode``);
    ``transcode_concurrency`` encodes run at once (0: never compress, post a link instead).
    With ``public_url`` set, the original stays in ``media_dir/originals`` for
    ``retention_hours`` behind the media server on ``host:port`` (``bot.delivery.media_server``).
    """

    max_download_mb: PositiveNumber = 200.0
    transcode_concurrency: Count = 1
    transcode_timeout_seconds: PositiveNumber = 300.0
    #: The public base (behind the operator's reverse proxy) where ``/media/...`` of the
    #: bot's media server is reachable; "" keeps no originals and serves nothing.
    public_url: HttpUrl = ""
    #: How long kept originals (and their signed links) last.
    retention_hours: PositiveNumber = 72.0
    host: Text = "127.0.0.1"
    port: Port = 8081
    secret: Secret = field(default_factory=lambda: Secret(""))

    @model_validator(mode="after")
    def _links_are_signed(self) -> MediaConfig:
        if self.public_url and len(self.secret.reveal()) < MIN_MEDIA_SECRET:
            raise _rule(
                "public_url",
                f"is set, so {ENV_MEDIA_SECRET} must hold a secret of at least"
                f" {MIN_MEDIA_SECRET} characters (it signs the links)",
            )
        return self

    @property
    def max_download_bytes(self) -> int:
        """``max_download_mb`` in bytes."""
        return int(self.max_download_mb * 1048576)

    @property
    def keeps_originals(self) -> bool:
        """Whether originals are kept and served (``public_url`` is set)."""
        return bool(self.public_url)

    @property
    def retention(self) -> timedelta:
        """How long a kept original stays."""
        return timedelta(hours=self.retention_hours)


@dataclass(frozen=True, kw_only=True, config=_SECTION)
class Config:
    """The whole configuration."""

    discord: DiscordConfig = field(default_factory=DiscordConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    poller: PollerConfig = field(default_factory=PollerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    prices: dict[str, Number] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    source: Path | None = None

    def price_per_second(self, model: str) -> float | None:
        """The configured price of one second of ``model``, if known."""
        return self.prices.get(model)


SECTIONS: dict[str, type] = {
    "discord": DiscordConfig,
    "upstream": UpstreamConfig,
    "poller": PollerConfig,
    "storage": StorageConfig,
    "limits": LimitsConfig,
    "logging": LoggingConfig,
    "health": HealthConfig,
    "media": MediaConfig,
}
SECRET_KEYS = {("discord", "token"), ("upstream", "api_key"), ("media", "secret")}
_TABLES = (*SECTIONS, "prices")
_CONFIG = TypeAdapter(Config)


# --- loading -----------------------------------------------------------------------------


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    require_secrets: bool = True,
) -> Config:
    """Read ``path`` (or ``$SORA_BOT_CONFIG``, or ``./config.toml`` if present) plus the environment."""
    env = os.environ if env is None else env
    path = path or env.get(ENV_CONFIG) or None
    if path is None and Path("config.toml").is_file():
        path = "config.toml"
    raw: dict[str, Any] = {}
    base_dir = Path.cwd()
    source = None
    if path is not None:
        source = Path(path).expanduser().resolve()
        raw = _read_toml(source)
        base_dir = source.parent
    _check_tables(raw)
    try:
        config = _CONFIG.validate_python(_with_environment(raw, env))
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0])) from None
    storage = StorageConfig(
        database=_resolve(config.storage.database, base_dir),
        media_dir=_resolve(config.storage.media_dir, base_dir),
    )
    config = dataclasses.replace(config, storage=storage, source=source)
    _check_secrets(config, require_secrets=require_secrets)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _check_tables(raw: Mapping[str, Any]) -> None:
    """Known tables only, and never a secret in the file (its value is never echoed)."""
    for name, values in raw.items():
        if name not in _TABLES:
            raise ConfigError(f"[{name}]: unknown config section{_did_you_mean(name, _TABLES)}")
        if not isinstance(values, dict):
            raise ConfigError(f"[{name}]: expected a table, got {_show(values)}")
        for key in values:
            if (name, key) in SECRET_KEYS:
                raise ConfigError(
                    f"[{name}] {key} must not be in the config file; set it in the environment"
                )


def _with_environment(raw: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The file's tables plus the secrets and the overrides from the environment."""
    data = {name: dict(values) for name, values in raw.items()}
    data.setdefault("discord", {})["token"] = Secret(env.get(ENV_DISCORD_TOKEN, ""))
    upstream = data.setdefault("upstream", {})
    upstream["api_key"] = Secret(env.get(ENV_API_KEY, ""))
    if env.get(ENV_API_BASE):
        upstream["base_url"] = env[ENV_API_BASE]
    data.setdefault("media", {})["secret"] = Secret(env.get(ENV_MEDIA_SECRET, ""))
    if env.get(ENV_DB):
        data.setdefault("storage", {})["database"] = env[ENV_DB]
    if env.get(ENV_MEDIA):
        data.setdefault("storage", {})["media_dir"] = env[ENV_MEDIA]
    return data


def _resolve(path: Path, base_dir: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() or str(path) == ":memory:" else base_dir / path


def _check_secrets(config: Config, *, require_secrets: bool) -> None:
    if require_secrets and not config.discord.token:
        raise ConfigError(f"{ENV_DISCORD_TOKEN} is not set (the Discord bot token)")
    if require_secrets and not config.upstream.api_key:
        raise ConfigError(f"{ENV_API_KEY} is not set (the Videos API key)")
    if require_secrets and not config.upstream.base_url:
        raise ConfigError(NO_RELAY)


# --- one line per problem ----------------------------------------------------------------

_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "tuple_type": "a list",
    "path_type": "a path (a string)",
    "dataclass_type": "a table",
    "dict_type": "a table",
}


def _describe(error: ErrorDetails) -> str:
    """``[section] key: what is wrong`` for one pydantic error."""
    section, *rest = error["loc"]
    key = "".join(f"[{part}]" if isinstance(part, int) else f" {part}" for part in rest)
    where = f"[{section}]{key}"
    kind, ctx, got = error["type"], error.get("ctx", {}), _show(error["input"])
    if kind == "unexpected_keyword_argument":
        cls = SECTIONS[str(section)]
        fields = [f.name for f in dataclasses.fields(cls) if (section, f.name) not in SECRET_KEYS]
        return f"{where}: unknown key{_did_you_mean(str(rest[-1]), fields)}"
    if kind == "config_rule":
        return f"[{section}] {error['msg']}"
    if kind in _EXPECTED:
        return f"{where}: expected {_EXPECTED[kind]}, got {got}"
    if kind == "greater_than":
        return f"{where}: must be greater than {_show(ctx['gt'])}, got {got}"
    if kind == "greater_than_equal":
        bound = "must not be negative" if ctx["ge"] == 0 else f"must be at least {_show(ctx['ge'])}"
        return f"{where}: {bound}, got {got}"
    if kind == "less_than_equal":
        return f"{where}: must be at most {_show(ctx['le'])}, got {got}"
    if kind == "too_short":
        return f"{where}: must not be empty"
    return f"{where}: {error['msg']}"


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    """The nearest choice, else the whole list."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]}?" if close else f"; expected one of {', '.join(choices)}"


def _show(value: object) -> str:
    """A value as it is written in TOML (strings quoted, ``true``/``false``, ``3`` for 3.0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | bool | list | tuple | dict):
        return json.dumps(value, default=str)
    return str(value)
