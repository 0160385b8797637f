"""``python -m bot check`` against the emulators: what an operator sees for good and broken setups."""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlite_utils import Database

from bot.cli.check import check_database, collect_checks, run_check
from bot.config import Config, DiscordConfig, Secret, StorageConfig, UpstreamConfig, load_config
from bot.discord_ui.setup_check import (
    DiscordRest,
    base_permissions,
    channel_permissions,
    discord_api,
    missing_permissions,
)
from bot.emulators.fake_discord import DEFAULT_BOT_PERMISSIONS, FakeDiscord, FakeGuild, Permission
from bot.emulators.fake_discord.permissions import effective_permissions
from bot.emulators.fake_upstream import FakeUpstream
from bot.emulators.harness import harness_config
from bot.storage.migrations import MIGRATIONS
from bot.storage.store import open_database

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "MTIzNDU2Nzg5.distinctive-discord-token.Zq8Xw"
KEY = "sk-distinctive-upstream-key-7Hq2Lm9"
CAN_SEE_ONLY = Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY


@dataclass
class Setup:
    upstream: FakeUpstream
    discord: FakeDiscord
    guild: FakeGuild
    config: Config


@pytest_asyncio.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    """Both emulators up, one server with a #videos channel the bot can post in."""
    async with FakeUpstream(api_key=KEY) as upstream, FakeDiscord(bot_token=TOKEN) as discord:
        guild = discord.add_guild("Video Team")
        discord.add_channel(guild, "videos")
        config = harness_config(tmp_path / "data", upstream_base=upstream.base_url, discord=discord)
        config = with_secrets(config, token=TOKEN, key=KEY)
        yield Setup(upstream, discord, guild, config)


def with_secrets(config: Config, *, token: str, key: str) -> Config:
    return dataclasses.replace(
        config,
        discord=dataclasses.replace(config.discord, token=Secret(token)),
        upstream=dataclasses.replace(config.upstream, api_key=Secret(key)),
    )


async def check(config: Config) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = await run_check(config, out=out)
    text = out.getvalue()
    assert TOKEN not in text and KEY not in text
    return code, text.splitlines()


def line(lines: list[str], prefix: str) -> str:
    found = [x for x in lines if x.split(":", 1)[0].split(None, 1)[-1].startswith(prefix)]
    assert len(found) == 1, (prefix, lines)
    return found[0]


@pytest.mark.asyncio
async def test_a_good_setup_is_all_ok_and_exits_0(setup: Setup):
    code, lines = await check(setup.config)
    assert code == 0, lines
    assert line(lines, "config").startswith("OK   config: no config file, defaults")
    assert line(lines, "database").startswith("OK   database:")
    assert "will be created" in line(lines, "database")
    assert line(lines, "upstream").startswith("OK   upstream:")
    assert line(lines, "discord token").startswith("OK   discord token: valid: bot user sora-bot")
    guild = line(lines, "guild 'Video Team'")
    assert guild.startswith("OK") and "1 of 1 text channels (#videos)" in guild
    dialect = line(lines, "dialect")
    assert dialect.startswith("OK   dialect: openai (GET /v1/videos"), dialect
    assert dialect.endswith("remix yes, extend yes, list yes, image input yes"), dialect
    assert line(lines, "options") == (
        "OK   options: /sora offers models sora-2, sora-2-pro; seconds 4, 8, 12; "
        "sizes 720x1280, 1280x720, 1024x1792, 1792x1024"
    )
    assert lines[-1] == "check: 8 OK, 0 WARN, 0 FAIL, 0 SKIP: ready to run"
    assert not (setup.config.storage.database).exists(), "check must not create the database"
    assert setup.upstream.requests[0].path == "/v1/models"
    assert {r.method for r in setup.upstream.requests} == {"GET"} and not setup.upstream.jobs
    assert setup.discord.contract_violations == [] and setup.discord.unimplemented == []


@pytest.mark.asyncio
async def test_a_wrong_api_key_fails_the_upstream_line_without_printing_it(setup: Setup):
    config = with_secrets(setup.config, token=TOKEN, key=KEY + "-wrong")
    code, lines = await check(config)
    assert code == 1
    assert line(lines, "upstream").startswith("FAIL upstream:")
    assert "refused the API key (SORA_API_KEY): answered HTTP 401 invalid_api_key: " in line(
        lines, "upstream"
    )
    assert "-wrong" not in "\n".join(lines)


@pytest.mark.asyncio
async def test_an_unreachable_upstream_fails_with_the_address(setup: Setup):
    await setup.upstream.stop()
    code, lines = await check(setup.config)
    assert code == 1
    upstream = line(lines, "upstream")
    assert upstream == f"FAIL upstream: {setup.upstream.base_url} is not usable: connection refused"


@pytest.mark.asyncio
async def test_an_upstream_failure_names_its_status_and_the_upstreams_own_message(setup: Setup):
    setup.upstream.inject(
        "other",
        "http_error",
        times=5,
        status=503,
        code="server_error",
        message="relay overloaded",
    )
    code, lines = await check(setup.config)
    assert code == 1
    assert line(lines, "upstream") == (
        f"FAIL upstream: {setup.upstream.base_url} is not usable: "
        "answered HTTP 503 server_error: relay overloaded"
    )


@pytest.mark.asyncio
async def test_an_unknown_host_is_named_a_dns_failure_for_both_services(setup: Setup):
    config = dataclasses.replace(
        setup.config,
        upstream=dataclasses.replace(setup.config.upstream, base_url="http://relay.invalid/v1"),
        discord=dataclasses.replace(setup.config.discord, api_base="http://discord.invalid"),
    )
    code, lines = await check(config)
    assert code == 1
    assert line(lines, "upstream") == (
        "FAIL upstream: http://relay.invalid/v1 is not usable: "
        "DNS lookup failed (no network, or the host name is wrong)"
    )
    assert line(lines, "discord token") == (
        "FAIL discord token: cannot reach Discord at http://discord.invalid/api/v10: "
        "DNS lookup failed (no network, or the host name is wrong)"
    )
    assert line(lines, "guilds") == "SKIP guilds: not checked: needs the token"


@pytest.mark.asyncio
async def test_a_wrong_discord_token_fails_and_skips_the_servers(setup: Setup):
    config = with_secrets(setup.config, token=TOKEN + "x", key=KEY)
    code, lines = await check(config)
    assert code == 1
    assert line(lines, "discord token") == (
        "FAIL discord token: Discord refused the token (DISCORD_TOKEN): "
        "answered 401: 401: Unauthorized (code 0); copy it again from the Developer Portal"
    )
    assert [x for x in lines if "guild" in x] == ["SKIP guilds: not checked: needs the token"]
    assert TOKEN + "x" not in "\n".join(lines)


@pytest.mark.asyncio
async def test_channels_without_permissions_warn_and_a_server_with_none_usable_fails(setup: Setup):
    emu = setup.discord
    emu.add_channel(setup.guild, "rules", bot_permissions=CAN_SEE_ONLY)
    emu.add_channel(setup.guild, "staff", bot_permissions=0)
    locked = emu.add_guild("Locked Server")
    emu.add_channel(
        locked, "general", bot_permissions=Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES
    )
    code, lines = await check(setup.config)
    assert code == 1
    team = line(lines, "guild 'Video Team'")
    assert team.startswith("OK") and "1 of 3 text channels (#videos); 1 hidden from the bot" in team
    assert line(lines, "channel #rules in 'Video Team'") == (
        "WARN channel #rules in 'Video Team': missing Send Messages, Embed Links, Attach Files: "
        "/sora there is refused until it is granted"
    )
    assert not any("#staff" in x for x in lines)
    assert line(lines, "guild 'Locked Server'").startswith(
        "FAIL guild 'Locked Server'"
    ) and "cannot post results in any of its 1 text channels" in line(
        lines, "guild 'Locked Server'"
    )
    assert "missing Embed Links, Attach Files, Read Message History" in line(
        lines, "channel #general in 'Locked Server'"
    )
    assert lines[-1].endswith("1 FAIL, 0 SKIP: not ready: fix the FAIL lines")


@pytest.mark.asyncio
async def test_a_bot_in_no_server_and_a_wrong_dev_guild_fail(tmp_path: Path):
    async with FakeUpstream(api_key=KEY) as upstream, FakeDiscord(bot_token=TOKEN) as discord:
        config = harness_config(tmp_path, upstream_base=upstream.base_url, discord=discord)
        config = with_secrets(config, token=TOKEN, key=KEY)
        code, lines = await check(config)
        assert code == 1
        assert line(lines, "guilds").startswith("FAIL guilds: the bot is in no server yet")

        discord.add_channel(discord.add_guild("Team"), "videos")
        wrong = dataclasses.replace(
            config, discord=dataclasses.replace(config.discord, dev_guild_id=42)
        )
        code, lines = await check(wrong)
        assert code == 1
        assert (
            line(lines, "guilds")
            == "FAIL guilds: [discord] dev_guild_id 42 is not a server the bot is in"
        )


@pytest.mark.asyncio
async def test_permissions_computed_from_rest_match_what_the_emulator_enforces(setup: Setup):
    """The check's overwrite arithmetic agrees with the emulator's own permission state."""
    emu = setup.discord
    variants = [
        CAN_SEE_ONLY,
        Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES | Permission.ATTACH_FILES,
        Permission.SEND_MESSAGES | Permission.EMBED_LINKS,
        DEFAULT_BOT_PERMISSIONS | Permission.MANAGE_MESSAGES,
        0,
    ]
    channels = [
        emu.add_channel(setup.guild, f"c{i}", bot_permissions=p) for i, p in enumerate(variants)
    ]
    async with httpx.AsyncClient() as http:
        rest = DiscordRest(http, discord_api(setup.config), TOKEN)
        guild = await rest.get(f"/guilds/{setup.guild.id}")
        listed = {int(c["id"]): c for c in await rest.get(f"/guilds/{setup.guild.id}/channels")}
        member = await rest.get(f"/guilds/{setup.guild.id}/members/{emu.bot_user_id}")
    roles = {int(r["id"]): int(r["permissions"]) for r in guild["roles"]}
    role_ids = [int(r) for r in member["roles"]]
    base = base_permissions(
        setup.guild.id, int(guild["owner_id"]), roles, role_ids, emu.bot_user_id
    )
    for channel, raw in zip(channels, variants, strict=True):
        overwrites = listed[channel.id]["permission_overwrites"]
        computed = channel_permissions(base, setup.guild.id, overwrites, role_ids, emu.bot_user_id)
        expected = effective_permissions(int(raw))
        assert missing_permissions(computed) == missing_permissions(expected), channel.name


def test_role_overwrites_apply_after_everyone_and_before_the_member():
    guild, role, me = 1, 2, 3
    view, send = int(Permission.VIEW_CHANNEL), int(Permission.SEND_MESSAGES)
    base = base_permissions(
        guild, owner_id=99, roles={guild: view | send, role: 0}, member_roles=[role], user_id=me
    )
    overwrites = [
        {"id": str(guild), "type": 0, "allow": "0", "deny": str(send)},
        {"id": str(role), "type": 0, "allow": str(send), "deny": "0"},
    ]
    assert channel_permissions(base, guild, overwrites, [role], me) & send
    overwrites.append({"id": str(me), "type": 1, "allow": "0", "deny": str(view)})
    assert channel_permissions(base, guild, overwrites, [role], me) == 0
    assert base_permissions(guild, owner_id=me, roles={}, member_roles=[], user_id=me) & send


@pytest.mark.asyncio
async def test_missing_secrets_are_reported_with_the_other_checks(tmp_path: Path):
    config = load_config(env={"SORA_BOT_DB": str(tmp_path / "x.db")}, require_secrets=False)
    lines = [x.render() for x in await collect_checks(config)]
    assert (
        "FAIL config: DISCORD_TOKEN is not set (the Discord bot token); set it in the environment"
        in lines
    )
    assert (
        "FAIL config: SORA_API_KEY is not set (the Videos API key); set it in the environment"
        in lines
    )
    assert any(x.startswith("OK   database:") for x in lines)
    assert not any(x.startswith(("OK   upstream", "FAIL upstream", "OK   discord")) for x in lines)


def test_database_lines_for_existing_broken_and_future_databases(tmp_path: Path):
    current = tmp_path / "current.db"
    open_database(current).close()
    known = [m.name for m in MIGRATIONS.pending(Database(memory=True))]
    assert check_database(current).render() == (
        f"OK   database: {current} is writable; migrations current ({len(known)} applied)"
    )

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    assert (
        check_database(garbage)
        .render()
        .startswith(f"FAIL database: {garbage} is not a usable SQLite database")
    )

    future = tmp_path / "future.db"
    db = open_database(future)
    db["_sqlite_migrations"].insert(
        {"migration_set": "sora-bot", "name": "m999_from_the_future", "applied_at": "2030-01-01"}
    )
    db.close()
    assert (
        "was migrated by a newer sora-bot (m999_from_the_future)" in check_database(future).render()
    )

    old = tmp_path / "old.db"
    Database(old).execute("CREATE TABLE unrelated (x)")
    pending = f"{len(known)} migration(s) pending ({', '.join(known)}), applied automatically"
    assert pending in check_database(old).render()
    assert Database(old).table_names() == ["unrelated"], "the check must not migrate"

    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    assert check_database(blocked / "sub" / "bot.db").render() == (
        f"FAIL database: cannot write next to {blocked / 'sub' / 'bot.db'}: {blocked} is not a folder"
    )


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SORA_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**clean, **env, "PYTHONPATH": str(ROOT)},
        cwd=cwd,
        timeout=60,
    )


def test_a_config_that_does_not_load_is_one_fail_line_and_exit_2(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("[poller]\ntick_seconds = 0\n")
    result = run_cli("check", "--config", str(config), env={"DISCORD_TOKEN": TOKEN}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        "FAIL config: [poller] tick_seconds: must be greater than 0, got 0"
    ]
    assert TOKEN not in result.stdout + result.stderr


def test_check_command_without_secrets_lists_every_problem_and_exits_1(tmp_path: Path):
    result = run_cli("check", env={"SORA_BOT_DB": str(tmp_path / "bot.db")}, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert (
        "FAIL config: DISCORD_TOKEN is not set (the Discord bot token); set it in the environment"
        in lines
    )
    assert "SKIP upstream: not checked: SORA_API_BASE is not set" in lines
    assert "SKIP discord token: not checked: DISCORD_TOKEN is not set" in lines
    assert any(x.startswith("FAIL config: SORA_API_BASE is not set (your relay") for x in lines)
    assert lines[-1] == "check: 3 OK, 0 WARN, 3 FAIL, 3 SKIP: not ready: fix the FAIL lines"
    assert not (tmp_path / "bot.db").exists()


@pytest.mark.asyncio
async def test_storage_paths_from_config_are_checked(tmp_path: Path):
    blocked = tmp_path / "file"
    blocked.write_text("x")
    config = Config(
        discord=DiscordConfig(token=Secret("")),
        upstream=UpstreamConfig(api_key=Secret("")),
        storage=StorageConfig(database=tmp_path / "ok" / "bot.db", media_dir=blocked / "media"),
    )
    lines = [x.render() for x in await collect_checks(config)]
    assert f"FAIL media: {blocked / 'media'}: {blocked} is not a folder" in lines
    assert any(x.startswith("OK   database:") for x in lines)


@pytest.mark.asyncio
async def test_a_relay_speaking_no_video_dialect_fails_the_dialect_line(setup: Setup):
    async with FakeUpstream(api_key=KEY, dialects=()) as chat_only:
        upstream = dataclasses.replace(setup.config.upstream, base_url=chat_only.base_url)
        code, lines = await check(dataclasses.replace(setup.config, upstream=upstream))
    assert code == 1
    assert line(lines, "upstream").startswith("OK   upstream:")
    dialect = line(lines, "dialect")
    assert dialect.startswith(
        f"FAIL dialect: {chat_only.base_url} speaks none of openai, generations, video-create, chat"
    ), dialect
    assert not chat_only.jobs


@pytest.mark.asyncio
async def test_options_the_dialect_lacks_fail_the_options_line(setup: Setup):
    upstream = dataclasses.replace(setup.config.upstream, seconds=(10, 15))
    code, lines = await check(dataclasses.replace(setup.config, upstream=upstream))
    assert code == 1
    assert line(lines, "options") == (
        "FAIL options: [upstream] seconds: none of 10, 15 is offered by the relay "
        "(the openai dialect offers 4, 8, 12)"
    )


@pytest.mark.asyncio
async def test_a_forced_dialect_is_named_as_set_by_config(setup: Setup):
    async with FakeUpstream(api_key=KEY, dialects=("chat",)) as chat:
        upstream = dataclasses.replace(
            setup.config.upstream, base_url=chat.base_url, dialect="chat"
        )
        code, lines = await check(dataclasses.replace(setup.config, upstream=upstream))
    assert code == 0, lines
    assert line(lines, "dialect") == (
        "OK   dialect: chat (set by [upstream] dialect); "
        "remix no, extend no, list no, image input yes"
    )
    assert [r.path for r in chat.requests] == ["/v1/models"]
