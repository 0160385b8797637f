"""Configuration: a TOML file into frozen dataclasses, secrets from the environment.

Every key has a default, so the bot also starts with no file at all when the
environment provides the secrets. Relative paths in the file resolve against
the file's folder (not the working directory). Validation happens once, here;
an invalid value raises ``ConfigError`` with one readable line.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bot.core.video_spec import VIDEO_SECONDS as SPEC_SECONDS
from bot.core.video_spec import VIDEO_SIZES as SPEC_SIZES
from bot.core.video_spec import seconds_text

ENV_CONFIG = "SORA_BOT_CONFIG"
ENV_DISCORD_TOKEN = "DISCORD_TOKEN"
ENV_API_KEY = "SORA_API_KEY"
ENV_API_BASE = "SORA_API_BASE"
ENV_DB = "SORA_BOT_DB"


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


@dataclass(frozen=True, kw_only=True)
class DiscordConfig:
    """How the bot talks to Discord."""

    token: Secret = field(default_factory=lambda: Secret(""))
    dev_guild_id: int = 0
    admin_role: str = ""
    mention_author: bool = True
    api_base: str = ""
    gateway_url: str = ""


@dataclass(frozen=True, kw_only=True)
class UpstreamConfig:
    """The OpenAI-compatible Videos API (OpenAI itself or a relay)."""

    base_url: str = "https://api.openai.com/v1"
    api_key: Secret = field(default_factory=lambda: Secret(""))
    default_model: str = "sora-2"
    models: tuple[str, ...] = ("sora-2", "sora-2-pro")
    seconds: tuple[int, ...] = SPEC_SECONDS
    sizes: tuple[str, ...] = SPEC_SIZES
    default_seconds: int = 4
    default_size: str = "1280x720"
    request_timeout: float = 30.0
    download_timeout: float = 300.0
    max_retries: int = 4
    max_reference_image_mb: float = 10.0


@dataclass(frozen=True, kw_only=True)
class PollerConfig:
    """How often and how hard the poller asks the upstream."""

    tick_seconds: float = 2.0
    batch_size: int = 50
    concurrency: int = 8
    first_poll_seconds: float = 10.0
    min_interval_seconds: float = 3.0
    max_interval_seconds: float = 30.0
    error_backoff_cap_seconds: float = 300.0
    max_age_minutes: float = 60.0
    card_edit_interval_seconds: float = 5.0
    delivery_max_attempts: int = 8


@dataclass(frozen=True, kw_only=True)
class StorageConfig:
    """Where the SQLite database and downloaded media live."""

    database: Path = Path("data/sora-bot.db")
    media_dir: Path = Path("data/media")


@dataclass(frozen=True, kw_only=True)
class LimitsConfig:
    """Default quotas; admins override them per guild with ``/admin limits``."""

    max_concurrent_per_user: int = 3
    daily_seconds_per_user: int = 120
    daily_budget: float = 20.0
    banned_words: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class LoggingConfig:
    """Log level and format."""

    level: str = "INFO"
    json: bool = False


@dataclass(frozen=True, kw_only=True)
class HealthConfig:
    """The optional /healthz and /metrics HTTP endpoint."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole configuration."""

    discord: DiscordConfig = field(default_factory=DiscordConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    poller: PollerConfig = field(default_factory=PollerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    prices: Mapping[str, float] = field(
        default_factory=lambda: {"sora-2": 0.10, "sora-2-pro": 0.30}
    )
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
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
}
SECRET_KEYS = {("discord", "token"), ("upstream", "api_key")}


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
    config = _build(raw, base_dir, env, source)
    _validate(config, require_secrets=require_secrets)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _build(
    raw: dict[str, Any], base_dir: Path, env: Mapping[str, str], source: Path | None
) -> Config:
    unknown = set(raw) - set(SECTIONS) - {"prices"}
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}")
    sections = {name: _section(name, cls, raw.get(name, {})) for name, cls in SECTIONS.items()}
    prices = _prices(raw.get("prices"))
    discord = sections["discord"]
    upstream = sections["upstream"]
    storage = sections["storage"]
    discord = _replace(discord, token=Secret(env.get(ENV_DISCORD_TOKEN, "")))
    upstream = _replace(
        upstream,
        api_key=Secret(env.get(ENV_API_KEY, "")),
        base_url=(env.get(ENV_API_BASE) or upstream.base_url).rstrip("/"),
    )
    database = Path(env[ENV_DB]) if env.get(ENV_DB) else storage.database
    storage = StorageConfig(
        database=_resolve(database, base_dir), media_dir=_resolve(storage.media_dir, base_dir)
    )
    sections.update(discord=discord, upstream=upstream, storage=storage)
    return Config(
        **sections, prices=prices if prices is not None else Config().prices, source=source
    )


def _section(name: str, cls: type, values: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if (name, key) in SECRET_KEYS:
            raise ConfigError(
                f"[{name}] {key} must not be in the config file; set it in the environment"
            )
        if key not in known:
            raise ConfigError(f"unknown key [{name}] {key}")
        kwargs[key] = _coerce(name, key, known[key].type, value)
    return cls(**kwargs)


def _coerce(section: str, key: str, annotation: Any, value: Any) -> Any:
    kind = str(annotation)
    where = f"[{section}] {key}"
    try:
        if kind.startswith("tuple[int"):
            return tuple(int(v) for v in _as_list(value))
        if kind.startswith("tuple[str"):
            return tuple(str(v) for v in _as_list(value))
        if kind == "bool":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if kind == "int":
            if isinstance(value, bool):
                raise TypeError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if kind == "Path":
            return Path(str(value))
        if kind == "str":
            if not isinstance(value, str):
                raise TypeError
            return value
    except (TypeError, ValueError):
        raise ConfigError(f"{where} has the wrong type: {value!r}") from None
    return value


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError
    return value


def _prices(raw: Any) -> dict[str, float] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError("[prices] must be a table of model = price per second")
    try:
        return {str(model): float(price) for model, price in raw.items()}
    except (TypeError, ValueError):
        raise ConfigError("[prices] values must be numbers (price per second)") from None


def _resolve(path: Path, base_dir: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() or str(path) == ":memory:" else base_dir / path


def _replace(obj: Any, **changes: Any) -> Any:
    values = {f.name: getattr(obj, f.name) for f in fields(obj)}
    values.update(changes)
    return type(obj)(**values)


def _validate(config: Config, *, require_secrets: bool) -> None:
    up, poll = config.upstream, config.poller
    if require_secrets and not config.discord.token:
        raise ConfigError(f"{ENV_DISCORD_TOKEN} is not set (the Discord bot token)")
    if require_secrets and not up.api_key:
        raise ConfigError(f"{ENV_API_KEY} is not set (the Videos API key)")
    if not up.base_url.startswith(("http://", "https://")):
        raise ConfigError("[upstream] base_url must start with http:// or https://")
    if not up.models or up.default_model not in up.models:
        raise ConfigError("[upstream] default_model must be one of [upstream] models")
    bad_sizes = [s for s in up.sizes if s not in SPEC_SIZES]
    if bad_sizes or up.default_size not in up.sizes:
        raise ConfigError(
            f"[upstream] sizes must come from {', '.join(SPEC_SIZES)} and include default_size"
        )
    bad_seconds = [s for s in up.seconds if s not in SPEC_SECONDS]
    if bad_seconds or up.default_seconds not in up.seconds:
        raise ConfigError(
            f"[upstream] seconds must come from {seconds_text()} and include default_seconds"
        )
    positive = {
        "[upstream] request_timeout": up.request_timeout,
        "[upstream] download_timeout": up.download_timeout,
        "[poller] tick_seconds": poll.tick_seconds,
        "[poller] batch_size": poll.batch_size,
        "[poller] concurrency": poll.concurrency,
        "[poller] min_interval_seconds": poll.min_interval_seconds,
        "[poller] max_age_minutes": poll.max_age_minutes,
    }
    for name, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{name} must be greater than 0")
    if poll.max_interval_seconds < poll.min_interval_seconds:
        raise ConfigError("[poller] max_interval_seconds must be >= min_interval_seconds")
    if config.logging.level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError("[logging] level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    if not 0 < config.health.port < 65536:
        raise ConfigError("[health] port must be between 1 and 65535")
    if any(price < 0 for price in config.prices.values()):
        raise ConfigError("[prices] must not be negative")
