"""Config loading: the example file, environment secrets, path resolution, clear errors."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from bot.config import SECTIONS, Config, ConfigError, Secret, load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
ENV = {"DISCORD_TOKEN": "discord-token-123", "SORA_API_KEY": "sk-abcdef123456"}


def test_example_file_loads_and_names_every_field():
    config = load_config(EXAMPLE, env=ENV)
    raw = tomllib.loads(EXAMPLE.read_text())
    for section, cls in SECTIONS.items():
        secret_free = {f.name for f in dataclasses.fields(cls)} - {"token", "api_key"}
        assert set(raw[section]) == secret_free, section
    assert config.prices == raw["prices"]


def test_defaults_match_example_file():
    assert load_config(EXAMPLE, env=ENV).upstream == dataclasses.replace(
        Config().upstream, api_key=Secret(ENV["SORA_API_KEY"])
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
        ("[upstream]\nseconds = [5]\n", ENV, "seconds must come from 4, 8, 12"),
        ("[upstream]\nsizes = ['1x1']\n", ENV, "sizes must come from"),
        ("[upstream]\ndefault_model = 'x'\n", ENV, "default_model must be one of"),
        ("[poller]\ntick_seconds = 0\n", ENV, "tick_seconds must be greater than 0"),
        ("[poller]\nconcurrency = 'many'\n", ENV, "wrong type"),
        (
            "[poller]\nmin_interval_seconds = 9\nmax_interval_seconds = 3\n",
            ENV,
            "max_interval_seconds",
        ),
        ("[nope]\n", ENV, "unknown config section"),
        ("[discord]\ncolour = 1\n", ENV, "unknown key [discord] colour"),
        ("[logging]\nlevel = 'LOUD'\n", ENV, "[logging] level"),
        ("[prices]\n'sora-2' = 'free'\n", ENV, "must be numbers"),
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
