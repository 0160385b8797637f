"""Config loading: the example file, environment secrets, path resolution, clear errors."""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import (
    DEFAULT_PRICES,
    SECRET_KEYS,
    SECTIONS,
    Config,
    ConfigError,
    LimitsConfig,
    PollerConfig,
    Secret,
    load_config,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
RELAY = "https://relay.example/v1"
SECRETS = {"DISCORD_TOKEN": "discord-token-123", "SORA_API_KEY": "sk-abcdef123456"}
ENV = {**SECRETS, "SORA_API_BASE": RELAY}


def test_example_file_loads_and_names_every_field():
    config = load_config(EXAMPLE, env=ENV)
    raw = tomllib.loads(EXAMPLE.read_text())
    for section, cls in SECTIONS.items():
        secrets = {key for where, key in SECRET_KEYS if where == section}
        secret_free = {f.name for f in dataclasses.fields(cls)} - secrets
        assert set(raw[section]) == secret_free, section
    assert config.prices == raw["prices"]


def test_defaults_match_example_file():
    assert load_config(EXAMPLE, env=ENV).upstream == dataclasses.replace(
        Config().upstream, api_key=Secret(ENV["SORA_API_KEY"]), base_url=RELAY
    )


def test_starts_without_a_file_from_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(
        None,
        env={
            **ENV,
            "SORA_API_BASE": "http://relay.local/v1/",
            "SORA_BOT_DB": "/var/lib/sora/bot.db",
        },
    )
    assert config.source is None
    assert config.upstream.base_url == "http://relay.local/v1"
    assert config.storage.database == Path("/var/lib/sora/bot.db")
    assert config.discord.token.reveal() == ENV["DISCORD_TOKEN"]


def test_relative_paths_resolve_against_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "config.toml").write_text('[storage]\ndatabase = "db/bot.db"\n')
    monkeypatch.chdir(tmp_path)
    config = load_config(folder / "config.toml", env=ENV)
    assert config.storage.database == folder / "db" / "bot.db"


def test_config_path_from_environment(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[poller]\ntick_seconds = 7\n")
    config = load_config(None, env={**ENV, "SORA_BOT_CONFIG": str(path)})
    assert config.poller.tick_seconds == 7.0


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("", {"SORA_API_KEY": "k"}, "DISCORD_TOKEN is not set"),
        ("", {"DISCORD_TOKEN": "t"}, "SORA_API_KEY is not set"),
        ("[upstream]\napi_key = 'sk-x'\n", ENV, "must not be in the config file"),
        (
            "[upstream]\nseconds = [0]\n",
            ENV,
            "[upstream] seconds[0]: must be greater than 0, got 0",
        ),
        (
            "[upstream]\nsizes = ['big']\n",
            ENV,
            '[upstream] sizes[0]: "big" is not a size like 1280x720',
        ),
        (
            "[upstream]\nmodels = ['sora-2']\ndefault_model = 'x'\n",
            ENV,
            '[upstream] default_model: "x" is not one of models (sora-2)',
        ),
        (
            "[poller]\ntick_seconds = 0\n",
            ENV,
            "[poller] tick_seconds: must be greater than 0, got 0",
        ),
        (
            "[poller]\nconcurrency = 'many'\n",
            ENV,
            '[poller] concurrency: expected an integer, got "many"',
        ),
        (
            "[poller]\nmin_interval_seconds = 9\nmax_interval_seconds = 3\n",
            ENV,
            "[poller] max_interval_seconds: must be at least min_interval_seconds (9), got 3",
        ),
        ("[nope]\n", ENV, "[nope]: unknown config section; expected one of discord, upstream,"),
        (
            "[discord]\ncolour = 1\n",
            ENV,
            "[discord] colour: unknown key; expected one of dev_guild_id,",
        ),
        (
            "[logging]\nlevel = 'LOUD'\n",
            ENV,
            '[logging] level: "LOUD" is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL',
        ),
        ("[prices]\n'sora-2' = 'free'\n", ENV, '[prices] sora-2: expected a number, got "free"'),
        ("not toml = = 1", ENV, "not valid TOML"),
    ],
)
def test_invalid_config_is_one_clear_error(tmp_path, toml, env, message):
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml", env=ENV)


def test_secrets_do_not_show_in_repr():
    config = load_config(None, env=ENV)
    text = repr(config) + str(config.discord) + str(config.upstream.api_key)
    assert ENV["DISCORD_TOKEN"] not in text
    assert ENV["SORA_API_KEY"] not in text
    assert config.upstream.api_key.reveal() == ENV["SORA_API_KEY"]


# --- messages name the key, the expectation and the bad value -----------------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[limits]\ndaily_budget = -5\n", "[limits] daily_budget: must not be negative, got -5"),
        (
            "[limits]\nmax_concurrent_per_user = -1\n",
            "[limits] max_concurrent_per_user: must not be negative, got -1",
        ),
        (
            "[limits]\ndaily_seconds_per_user = -60\n",
            "[limits] daily_seconds_per_user: must not be negative, got -60",
        ),
        (
            "[limits]\ndaily_budjet = 5\n",
            "[limits] daily_budjet: unknown key; did you mean daily_budget?",
        ),
        ("[pollr]\ntick_seconds = 1\n", "[pollr]: unknown config section; did you mean poller?"),
        (
            "[upstream]\nrequest_timeout = 'fast'\n",
            '[upstream] request_timeout: expected a number, got "fast"',
        ),
        (
            "[upstream]\ndefault_size = 'huge'\n",
            '[upstream] default_size: "huge" is not a size like 1280x720',
        ),
        (
            "[upstream]\nseconds = [8, 12]\ndefault_seconds = 4\n",
            "[upstream] default_seconds: 4 is not one of seconds (8, 12)",
        ),
        (
            "[upstream]\ndialect = 'sora'\n",
            '[upstream] dialect: "sora" is not one of auto, openai, chat, generations, video-create',
        ),
        ("[upstream]\nmodels = 'sora-2'\n", '[upstream] models: expected a list, got "sora-2"'),
        (
            "[discord]\nmention_author = 1\n",
            "[discord] mention_author: expected true or false, got 1",
        ),
        ("[storage]\ndatabase = 5\n", "[storage] database: expected a path (a string), got 5"),
        ("[health]\nport = 70000\n", "[health] port: must be at most 65535, got 70000"),
        ("[prices]\n'sora-2' = -0.1\n", "[prices] sora-2: must not be negative, got -0.1"),
        ("poller = 3\n", "[poller]: expected a table, got 3"),
        (
            "[upstream]\nbase_url = 'ftp://x'\n",
            "[upstream] base_url: must start with http:// or https://",
        ),
    ],
)
def test_invalid_value_message_is_exact(tmp_path, toml, message):
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=SECRETS)
    assert str(info.value) == message


def test_sections_validate_on_every_construction():
    with pytest.raises(ValidationError):
        LimitsConfig(daily_budget=-5)
    with pytest.raises(ValidationError):
        dataclasses.replace(Config().poller, max_interval_seconds=1.0)
    assert dataclasses.replace(Config().limits, daily_budget=0.0).daily_budget == 0.0


def test_a_secret_in_the_file_is_refused_without_echoing_it(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[discord]\ntoken = 'discord-token-in-file-999'\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env=ENV)
    assert "discord-token-in-file-999" not in str(info.value)
    assert "must not be in the config file" in str(info.value)


# --- environment overrides and file precedence ------------------------------------------


def test_environment_overrides_the_file(tmp_path):
    path = tmp_path / "conf" / "config.toml"
    path.parent.mkdir()
    path.write_text(
        "[upstream]\nbase_url = 'https://file.example/v1'\n"
        "[storage]\ndatabase = 'file.db'\nmedia_dir = 'media'\n"
    )
    env = {**ENV, "SORA_API_BASE": "https://env.example/v1/", "SORA_BOT_DB": "env/bot.db"}
    config = load_config(path, env=env)
    assert config.upstream.base_url == "https://env.example/v1"
    assert config.storage.database == path.parent / "env" / "bot.db"
    assert config.storage.media_dir == path.parent / "media"
    moved = load_config(path, env={**env, "SORA_BOT_MEDIA": "/data/media"})
    assert moved.storage.media_dir == Path("/data/media")
    assert load_config(path, env=SECRETS).upstream.base_url == "https://file.example/v1"


def test_without_a_relay_the_bot_says_what_to_set():
    with pytest.raises(ConfigError) as info:
        load_config(None, env=SECRETS)
    assert str(info.value) == (
        "SORA_API_BASE is not set (your relay's Videos API, e.g. https://relay.example/v1; "
        "OpenAI's own Videos API shut down on 2026-09-24; see the README's 'What you need')"
    )


def test_an_invalid_environment_override_is_reported(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^\[upstream\] base_url: must start with http"):
        load_config(None, env={**ENV, "SORA_API_BASE": "relay.local/v1"})


def test_the_path_argument_beats_the_environment_which_beats_the_working_folder(
    tmp_path, monkeypatch
):
    for name, tick in (("arg", 1), ("env", 2), ("config", 3)):
        (tmp_path / f"{name}.toml").write_text(f"[poller]\ntick_seconds = {tick}\n")
    monkeypatch.chdir(tmp_path)
    env = {**ENV, "SORA_BOT_CONFIG": str(tmp_path / "env.toml")}
    assert load_config(tmp_path / "arg.toml", env=env).poller.tick_seconds == 1
    assert load_config(None, env=env).poller.tick_seconds == 2
    assert load_config(None, env=ENV).poller.tick_seconds == 3


# --- one source per fact ------------------------------------------------------------------


def test_prices_are_defined_once_and_the_texts_agree():
    assert Config().prices == DEFAULT_PRICES
    assert tomllib.loads(EXAMPLE.read_text())["prices"] == DEFAULT_PRICES
    row = ", ".join(f"`{model} = {price:.2f}`" for model, price in DEFAULT_PRICES.items())
    assert f"| `prices.<model>` | {row} |" in (ROOT / "README.md").read_text()


def test_the_poller_reads_the_config_section_itself():
    poller = PollerConfig(max_age_minutes=2.5, card_edit_interval_seconds=4)
    assert poller.max_age == timedelta(minutes=2.5)
    assert poller.card_edit_interval == timedelta(seconds=4)
