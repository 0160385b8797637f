"""The emulator tells the truth: Discord's rate limits, invalid requests, boost-tier uploads, the
delay between READY and GUILD_CREATE, and outages (rules and sources in
``bot/emulators/fake_discord/ratelimits.py``, ``outage.py`` and ``gateway.py``)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands

from bot.emulators.fake_discord import (
    FakeDiscord,
    ManualClock,
    RateLimitRules,
    RouteLimit,
)
from bot.emulators.fake_discord.models import MiB
from tests.discord_fixtures import FAST_READY, DiscordWorld, minimal_bot, running_bot
from tests.discord_fixtures import discord_world as discord_world
from tests.discord_fixtures import fake_discord as fake_discord

Answer = tuple[int, Any, dict[str, str]]


async def call(
    emu: FakeDiscord,
    method: str,
    path: str,
    payload: Any = None,
    *,
    token: str | None = "",
    data: aiohttp.FormData | None = None,
) -> Answer:
    """One raw REST request: status, parsed body (text when not JSON) and headers."""
    headers = {} if token is None else {"Authorization": f"Bot {token or emu.bot_token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, f"{emu.rest_base}/api/v10{path}", json=payload, data=data, headers=headers
        ) as response,
    ):
        text = await response.text()
        body = json.loads(text) if response.content_type == "application/json" else text
        return response.status, body, dict(response.headers)


def post(emu: FakeDiscord, channel_id: int, content: str) -> Any:
    return call(emu, "POST", f"/channels/{channel_id}/messages", {"content": content})


# --- per-route buckets ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_sixth_message_in_five_seconds_is_429_in_that_channel_only(
    discord_world: DiscordWorld,
) -> None:
    emu, clock = discord_world.emu, discord_world.clock
    other = emu.add_channel(discord_world.guild, "other")
    answers = [await post(emu, discord_world.channel.id, f"m{i}") for i in range(6)]
    assert [status for status, _, _ in answers[:5]] == [200] * 5
    assert [h["X-RateLimit-Remaining"] for _, _, h in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert {h["X-RateLimit-Limit"] for _, _, h in answers[:5]} == {"5"}
    status, body, headers = answers[5]
    assert status == 429
    assert body["message"] == "You are being rate limited." and body["global"] is False
    assert 4.0 < body["retry_after"] <= 5.0
    assert headers["X-RateLimit-Scope"] == "user" and headers["Via"] == "1.1 google"
    assert headers["Retry-After"] == "5" and headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Bucket"] == answers[0][2]["X-RateLimit-Bucket"]
    assert (await post(emu, other.id, "elsewhere"))[0] == 200
    clock.advance(5)
    assert (await post(emu, discord_world.channel.id, "after the reset"))[0] == 200
    assert len(emu.channel_messages(discord_world.channel)) == 6
    assert emu.rate_limited == {"user": 1, "global": 0, "shared": 0}


@pytest.mark.asyncio
async def test_edits_have_their_own_counter_under_the_same_bucket_hash(
    discord_world: DiscordWorld,
) -> None:
    emu, channel = discord_world.emu, discord_world.channel
    created = [await post(emu, channel.id, f"m{i}") for i in range(5)]
    message_id = created[0][1]["id"]
    path = f"/channels/{channel.id}/messages/{message_id}"
    edits = [await call(emu, "PATCH", path, {"content": f"e{i}"}) for i in range(6)]
    assert [status for status, _, _ in edits] == [200] * 5 + [429]
    assert edits[0][2]["X-RateLimit-Bucket"] == created[0][2]["X-RateLimit-Bucket"]
    assert (await post(emu, channel.id, "still limited"))[0] == 429


@pytest.mark.asyncio
async def test_routes_without_a_bucket_send_no_bucket_headers(fake_discord: FakeDiscord) -> None:
    status, _, headers = await call(fake_discord, "GET", "/users/@me")
    assert status == 200 and headers["Via"] == "1.1 google"
    assert not any(name.startswith("X-RateLimit") for name in headers)


# --- the global limit -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_global_limit_is_per_second_and_spares_interaction_endpoints() -> None:
    clock = ManualClock()
    async with FakeDiscord(clock=clock, rate_limits=RateLimitRules(global_per_second=3)) as emu:
        answers = [await call(emu, "GET", "/users/@me") for _ in range(4)]
        followup = await call(
            emu, "GET", f"/webhooks/{emu.application_id}/no-such-token/messages/@original"
        )
        callback = await call(emu, "POST", "/interactions/1/no-such-token/callback", {"type": 1})
        clock.advance(1)
        after = await call(emu, "GET", "/users/@me")
    assert [status for status, _, _ in answers] == [200, 200, 200, 429]
    status, body, headers = answers[3]
    assert body["global"] is True and body["message"] == "You are being rate limited."
    assert headers["X-RateLimit-Global"] == "true" and headers["X-RateLimit-Scope"] == "global"
    assert followup[0] != 429 and callback[0] != 429
    assert after[0] == 200
    assert emu.rate_limited["global"] == 1


@pytest.mark.asyncio
async def test_rules_can_be_switched_off() -> None:
    async with FakeDiscord(rate_limits=RateLimitRules(enabled=False)) as emu:
        guild = emu.add_guild("Team")
        channel = emu.add_channel(guild, "videos")
        statuses = [(await post(emu, channel.id, f"m{i}"))[0] for i in range(8)]
    assert statuses == [200] * 8


# --- invalid requests -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_invalid_requests_count_401_403_and_429_but_not_shared_429(
    discord_world: DiscordWorld,
) -> None:
    emu, clock = discord_world.emu, discord_world.clock
    assert (await call(emu, "GET", "/users/@me", token="wrong"))[0] == 401
    emu.set_bot_permissions(discord_world.channel, 0)
    assert (await post(emu, discord_world.channel.id, "no access"))[0] == 403
    emu.inject("GET", "/users/@me", 429, headers={"X-RateLimit-Scope": "shared"})
    assert (await call(emu, "GET", "/users/@me"))[0] == 429
    emu.inject("GET", "/users/@me", 429)
    assert (await call(emu, "GET", "/users/@me"))[0] == 429
    assert (await call(emu, "GET", "/users/@me"))[0] == 200
    assert emu.invalid_requests == 3
    assert emu.rate_limited == {"user": 1, "global": 0, "shared": 1}
    clock.advance(601)
    assert emu.invalid_requests == 0


@pytest.mark.asyncio
async def test_too_many_invalid_requests_get_a_cloudflare_ban() -> None:
    async with FakeDiscord(rate_limits=RateLimitRules(invalid_request_limit=2)) as emu:
        for _ in range(2):
            assert (await call(emu, "GET", "/users/@me", token="wrong"))[0] == 401
        status, body, headers = await call(emu, "GET", "/users/@me")
    assert status == 429 and "Error 1015" in body and "Via" not in headers


# --- uploads by boost tier ------------------------------------------------------------------------


def upload_form(size: int) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("payload_json", json.dumps({"attachments": [{"id": 0, "filename": "v.mp4"}]}))
    form.add_field("files[0]", b"\x00" * size, filename="v.mp4", content_type="video/mp4")
    return form


@pytest.mark.asyncio
async def test_upload_limits_follow_the_boost_tier(fake_discord: FakeDiscord) -> None:
    emu = fake_discord
    plain = emu.add_channel(emu.add_guild("Plain"), "videos")
    boosted_guild = emu.add_guild("Boosted", premium_tier=2)
    boosted = emu.add_channel(boosted_guild, "videos")
    path = "/channels/{}/messages"
    big = await call(emu, "POST", path.format(boosted.id), data=upload_form(40_000_000))
    small = await call(emu, "POST", path.format(plain.id), data=upload_form(11 * 1_000_000))
    fits = await call(emu, "POST", path.format(plain.id), data=upload_form(10 * MiB))
    assert big[0] == 200 and big[1]["attachments"][0]["size"] == 40_000_000
    assert small[0] == 413 and small[1] == {"message": "Request entity too large", "code": 40005}
    assert fits[0] == 200
    status, guild, _ = await call(emu, "GET", f"/guilds/{boosted_guild.id}")
    assert guild["premium_tier"] == 2 and guild["premium_subscription_count"] == 7
    emu.set_premium_tier(boosted_guild, 3)
    assert boosted_guild.upload_limit == 100 * MiB and boosted_guild.premium_tier == 3


class SizeBot(commands.Bot):
    """Answers ``/size`` after noting the interaction's upload limit."""

    def __init__(self, guild_id: int, seen: list[int]) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned, intents=discord.Intents.default(), **FAST_READY
        )
        self.guild_id, self.seen = guild_id, seen

    async def setup_hook(self) -> None:
        @self.tree.command(name="size", guild=discord.Object(self.guild_id))
        async def size(interaction: discord.Interaction) -> None:
            self.seen.append(interaction.filesize_limit)
            await interaction.response.send_message("ok")

        await self.tree.sync(guild=discord.Object(self.guild_id))


@pytest.mark.asyncio
async def test_the_bot_sees_the_tier_in_guild_create_and_interactions(
    fake_discord: FakeDiscord,
) -> None:
    emu = fake_discord
    guild = emu.add_guild("Boosted", premium_tier=3)
    channel = emu.add_channel(guild, "videos")
    alice = emu.add_member(guild, "alice")
    seen: list[int] = []
    bot = SizeBot(guild.id, seen)
    async with running_bot(bot, emu):
        cached = bot.get_guild(guild.id)
        assert cached is not None and cached.premium_tier == 3
        assert cached.filesize_limit == 100 * MiB
        ix = await emu.slash(alice, channel, "size")
        await ix.initial_response(5)
    assert seen == [100 * MiB]


# --- READY, then GUILD_CREATE ---------------------------------------------------------------------


async def identify(emu: FakeDiscord) -> list[tuple[str, float, dict[str, Any]]]:
    """Connect a raw websocket, IDENTIFY, and record dispatches until every GUILD_CREATE."""
    seen: list[tuple[str, float, dict[str, Any]]] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(emu.gateway_url) as ws:
        await ws.receive_json()  # HELLO
        await ws.send_json({"op": 2, "d": {"token": emu.bot_token, "intents": 1}})
        while True:
            frame = await asyncio.wait_for(ws.receive_json(), 10)
            seen.append((frame["t"], time.monotonic(), frame["d"]))
            if frame["t"] == "GUILD_CREATE":
                return seen


@pytest.mark.asyncio
async def test_guild_create_follows_ready_after_the_delay() -> None:
    async with FakeDiscord(guild_create_delay=1.0) as emu:
        guild = emu.add_guild("Team")
        seen = await identify(emu)
    (ready, ready_at, ready_data), (create, create_at, create_data) = seen
    assert (ready, create) == ("READY", "GUILD_CREATE")
    assert ready_data["guilds"] == [{"id": str(guild.id), "unavailable": True}]
    assert create_data["id"] == str(guild.id) and create_at - ready_at >= 0.95


@pytest.mark.asyncio
async def test_a_slow_guild_create_still_reaches_a_bot_whose_on_ready_came_first() -> None:
    async with FakeDiscord(guild_create_delay=1.5) as emu:
        guild = emu.add_guild("Team")
        bot = minimal_bot()
        unavailable_at_ready: list[bool] = []

        async def on_ready() -> None:
            unavailable_at_ready.extend(g.unavailable for g in bot.guilds)

        bot.add_listener(on_ready)
        async with running_bot(bot, emu):
            cached = bot.get_guild(guild.id)
            assert cached is not None and not cached.unavailable
    assert unavailable_at_ready == [True]


# --- discord.py against the real limits -----------------------------------------------------------


@pytest.mark.asyncio
async def test_discord_py_paces_itself_without_a_single_429() -> None:
    quick = RouteLimit("channel-messages", 5, 0.5)
    async with FakeDiscord(
        clock=ManualClock(), rate_limits=RateLimitRules(message_create=quick)
    ) as emu:
        guild = emu.add_guild("Team")
        channel = emu.add_channel(guild, "videos")
        async with running_bot(minimal_bot(), emu) as bot:
            target = bot.get_channel(channel.id)
            assert isinstance(target, discord.TextChannel)
            started = time.monotonic()
            await asyncio.gather(*(target.send(f"m{i}") for i in range(12)))
            took = time.monotonic() - started
    assert len(emu.channel_messages(channel)) == 12
    assert emu.rate_limited == {"user": 0, "global": 0, "shared": 0}
    assert took >= 0.9  # 12 messages at 5 per 0.5 s need two resets


# --- outages --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_outage_answers_503_then_recovers(fake_discord: FakeDiscord) -> None:
    emu = fake_discord
    emu.start_outage()
    status, body, _ = await call(emu, "GET", "/users/@me")
    assert status == 503 and body.startswith("upstream connect error")
    emu.end_outage()
    emu.start_outage(status=502)
    status, body, headers = await call(emu, "GET", "/users/@me")
    assert status == 502 and "502 Bad Gateway" in body and headers["Server"] == "cloudflare"
    emu.end_outage()
    assert (await call(emu, "GET", "/users/@me"))[0] == 200


@pytest.mark.asyncio
async def test_an_outage_drops_the_bot_which_resumes_afterwards(fake_discord: FakeDiscord) -> None:
    emu = fake_discord
    emu.add_guild("Team")
    async with running_bot(minimal_bot(), emu):
        resumes = emu.gateway_stats["resume"]
        emu.start_outage(1.0)
        await emu.wait_until(lambda: not emu.bot_connected, timeout=5)
        assert emu.in_outage
        await emu.wait_until(lambda: emu.gateway_stats["resume"] > resumes, timeout=20)
        assert not emu.in_outage and emu.bot_connected
    assert emu.gateway_stats["identify"] == 1
