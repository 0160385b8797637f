"""``python -m bot`` failing to start: one line, an exit code that says what to fix, nothing on disk.

The bot runs as a real subprocess against the emulators in this test's event loop (or
against addresses that cannot answer), as an operator would start it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from bot.cli.startup import EXIT_CONFIG, EXIT_REFUSED, EXIT_UNREACHABLE
from bot.emulators.fake_discord import FakeDiscord
from bot.emulators.fake_upstream import FakeUpstream

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "MTIzNDU2Nzg5.startup-test-token.Zq8Xw"
KEY = "sk-startup-test-key-7Hq2Lm9"
DNS_FAILED = "DNS lookup failed (no network, or the host name is wrong)"


@dataclass
class Result:
    code: int
    stderr: str


@dataclass
class World:
    discord: FakeDiscord
    upstream: FakeUpstream
    home: Path

    async def start(
        self, *, token: str = TOKEN, key: str = KEY, api_base: str | None = None, relay: str = ""
    ) -> Result:
        """``python -m bot`` in an empty folder with a config pointing at the emulators."""
        config = self.home / "config.toml"
        config.write_text(
            f'[discord]\napi_base = "{api_base or self.discord.rest_base}"\n'
            f'gateway_url = "{self.discord.gateway_url}"\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SORA_"))}
        env |= {
            "DISCORD_TOKEN": token,
            "SORA_API_KEY": key,
            "SORA_API_BASE": relay or self.upstream.base_url,
            "PYTHONPATH": str(ROOT),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            cwd=self.home,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        return Result(process.returncode, err.decode())

    def created(self) -> list[str]:
        """What the bot left in its folder, besides the config."""
        return sorted(p.name for p in self.home.iterdir() if p.name != "config.toml")


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with FakeUpstream(api_key=KEY) as upstream, FakeDiscord(bot_token=TOKEN) as discord:
        yield World(discord, upstream, tmp_path)


def one_line(result: Result) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert "voice will NOT be supported" not in result.stderr
    lines = [x for x in result.stderr.splitlines() if x.startswith("sora-bot:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.asyncio
async def test_no_network_to_discord_is_one_line_exit_4_and_creates_nothing(world: World):
    result = await world.start(api_base="http://discord.invalid")
    assert result.code == EXIT_UNREACHABLE
    assert one_line(result) == (
        f"sora-bot: cannot reach Discord at http://discord.invalid/api/v10: {DNS_FAILED}"
    )
    assert world.created() == []


@pytest.mark.asyncio
async def test_a_rejected_token_is_exit_3_and_never_printed(world: World):
    result = await world.start(token=TOKEN + "x")
    assert result.code == EXIT_REFUSED
    assert one_line(result) == (
        "sora-bot: Discord refused the token (DISCORD_TOKEN); "
        "copy it again from the Developer Portal (Bot → Reset Token)"
    )
    assert TOKEN not in result.stderr
    assert world.created() == []


@pytest.mark.asyncio
async def test_an_unreachable_relay_is_exit_4_naming_the_address_and_cause(world: World):
    result = await world.start(relay="http://127.0.0.1:9/v1")
    assert result.code == EXIT_UNREACHABLE
    assert one_line(result) == (
        "sora-bot: cannot reach the Videos API at http://127.0.0.1:9/v1: connection refused"
    )
    assert world.created() == []


@pytest.mark.asyncio
async def test_an_unknown_relay_host_is_a_dns_failure(world: World):
    result = await world.start(relay="http://relay.invalid/v1")
    assert result.code == EXIT_UNREACHABLE
    assert one_line(result) == (
        f"sora-bot: cannot reach the Videos API at http://relay.invalid/v1: {DNS_FAILED}"
    )


@pytest.mark.asyncio
async def test_a_refused_api_key_is_exit_3_with_the_relays_own_words(world: World):
    result = await world.start(key=KEY + "-wrong")
    assert result.code == EXIT_REFUSED
    line = one_line(result)
    assert line.startswith(
        f"sora-bot: the Videos API at {world.upstream.base_url} refused the key (SORA_API_KEY): "
        "HTTP 401 invalid_api_key: "
    )
    assert KEY not in result.stderr
    assert world.created() == []


@pytest.mark.asyncio
async def test_an_address_without_an_api_is_exit_2_and_never_called_reachable(world: World):
    """A 404 for GET /models: no OpenAI-compatible API there (often a missing /v1)."""
    result = await world.start(relay=world.upstream.origin)
    assert result.code == EXIT_CONFIG
    line = one_line(result)
    assert line.startswith(
        f"sora-bot: there is no OpenAI-compatible API at {world.upstream.origin}: GET /models "
    ), line
    assert "HTTP 404" in line and line.endswith("SORA_API_BASE usually ends in /v1")
    assert world.created() == []


@pytest.mark.asyncio
async def test_a_relay_speaking_no_video_dialect_is_exit_2_listing_what_each_probe_saw(
    tmp_path: Path,
):
    async with (
        FakeUpstream(api_key=KEY, dialects=()) as chat_only,
        FakeDiscord(bot_token=TOKEN) as discord,
    ):
        result = await World(discord, chat_only, tmp_path).start()
        assert result.code == EXIT_CONFIG
        line = one_line(result)
        assert line.startswith(f"sora-bot: the relay at {chat_only.base_url} speaks none of "), line
        assert "(openai: GET /v1/videos answered HTTP 404" in line and "chat: " in line
        assert "check SORA_API_BASE, or set [upstream] dialect" in line
        assert all(r.method == "GET" for r in chat_only.requests) and not chat_only.jobs
        assert World(discord, chat_only, tmp_path).created() == []
