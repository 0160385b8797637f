"""A local Discord emulator that the real, unmodified discord.py client connects to.

Start it, point discord.py at it with ``bot.discord_ui.endpoint.use_discord_endpoint``, build a
world, and drive the bot as users would::

    async with FakeDiscord(clock=ManualClock()) as emu:
        guild = emu.add_guild("Team")
        channel = emu.add_channel(guild, "videos")
        alice = emu.add_member(guild, "alice")
        use_discord_endpoint(emu.rest_base, emu.gateway_url)
        ...start the bot with emu.bot_token...
        await emu.wait_for_bot_ready()
        ix = await emu.slash(alice, channel, "sora", {"prompt": "a cat"})
        message = await ix.original_message()

See ``emulator.FakeDiscord`` for the driver API.

Enforced like Discord: the initial response deadline (3 s: late callbacks get 404 10062 and the
interaction is marked failed), one initial response (40060), callback types that fit the
interaction, the 15-minute token (401 50027), message/embed/component/modal/choice/command limits
(400 50035 with string codes), empty messages (50006), the bot's channel permissions (50001 /
50013, embeds dropped without EMBED_LINKS, 50005 for editing others' messages, locked threads),
replies to unknown messages (MESSAGE_REFERENCE_UNKNOWN_MESSAGE unless ``fail_if_not_exists`` is
false), replies naming another channel (400 50035 REPLIES_CANNOT_REFERENCE_OTHER_CHANNEL on
``message_reference``, as seen in https://github.com/Rapptz/discord.py/pull/6061 and
https://github.com/aoijs/aoi.js/issues/209), private threads hidden from a bot that has not
joined them and lacks MANAGE_THREADS (50001; joined threads carry the bot's thread ``member``),
a voice channel's text chat unreadable without CONNECT
(https://github.com/discord/discord-api-docs/pull/5111), deleted messages (10008) and channels
(10003), the guild upload limit (413 40005),
``enforce_nonce`` dedupe, ephemeral visibility, the first followup after a defer filling the
"thinking" message, bot-token auth, gateway intents (member lists, message content) and the
OpenAPI contract of every request.

Rate limits are enforced as Discord does (each rule with its source in ``ratelimits``): per-route
buckets keyed by channel or interaction token (message create and edit 5 per 5 s per channel,
deletes 5 per 1 s, interaction followups and edits 5 per 2 s per token), the global 50 requests/s
per bot token with interaction endpoints exempt, real 429 bodies with ``Retry-After``,
``X-RateLimit-*`` (also on successes) and ``Via`` headers, and the invalid-request count (401, 403,
non-shared 429; ``emu.invalid_requests``, ``emu.rate_limited``), with the Cloudflare ban at 10,000
per 10 minutes. Uploads are limited per file by the guild's boost tier (10 MiB at tiers 0-1, 50 MiB
at 2, 100 MiB at 3: ``add_guild(..., premium_tier=2)``), sent as ``premium_tier`` in GUILD_CREATE and
as every interaction's ``attachment_size_limit``. GUILD_CREATE follows READY after
``guild_create_delay`` seconds (0.2 by default), each guild unavailable until
then. ``emu.start_outage(seconds)`` simulates an outage (``outage``: REST 503/502 pages, the
gateway drops the bot and refuses it until the end, then it resumes).

Not enforced: sub-limits Discord does not announce (channel renames 2 per 10 min, old-message edits
30046, 30 followups per minute per guild), DMs,
reactions, pins, non-interaction webhooks, thread creation, polls, stickers, voice, member-level
channel overwrites, the daily command-creation quota, gateway send limits and heartbeat timeouts.
"""

from .clock import ManualClock
from .commands import CommandNotAvailable
from .core import Injection, RestCall
from .emulator import FakeDiscord
from .errors import DiscordError
from .interactions import CallbackType, FakeInteraction, InteractionFailed, InteractionType
from .models import (
    DEFAULT_UPLOAD_LIMIT,
    UPLOAD_LIMIT_BY_TIER,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMessage,
    FakeRole,
    FakeUser,
    MessageFlag,
    StoredAttachment,
)
from .permissions import DEFAULT_BOT_PERMISSIONS, DEFAULT_EVERYONE_PERMISSIONS, Permission
from .ratelimits import RateLimitRules, RouteLimit

__all__ = [
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "DEFAULT_UPLOAD_LIMIT",
    "CallbackType",
    "CommandNotAvailable",
    "DiscordError",
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "Injection",
    "InteractionFailed",
    "InteractionType",
    "ManualClock",
    "MessageFlag",
    "Permission",
    "RateLimitRules",
    "RestCall",
    "RouteLimit",
    "StoredAttachment",
    "UPLOAD_LIMIT_BY_TIER",
]
