"""Discord's answers as the bot counts them: 429s by scope, invalid requests in 10 minutes."""

from __future__ import annotations

import pytest

from bot.ops.discord_requests import INVALID_WINDOW_SECONDS, DiscordRequestStats
from tests.e2e_helpers import harness as harness
from tests.e2e_helpers import result_post, submit, video_id_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_invalid_requests_are_401_403_and_429_except_shared_scope_in_a_sliding_window():
    clock = Clock()
    stats = DiscordRequestStats(clock)
    for status, scope in [(200, None), (401, None), (403, None), (429, "user"), (429, "shared")]:
        stats.record(status, scope)
    stats.record(429, None)  # Cloudflare's, no scope header
    assert stats.invalid_last_10_minutes() == 4
    assert dict(stats.rate_limited) == {"user": 1, "shared": 1, "cloudflare": 1}
    clock.now += INVALID_WINDOW_SECONDS + 1
    stats.record(404, None)
    assert stats.invalid_last_10_minutes() == 0
    assert stats.answered[429] == 3


@pytest.mark.asyncio
async def test_the_bots_discord_answers_are_counted_through_discord_py(harness):
    h = harness
    h.discord.inject("POST", r"^/channels/\d+/messages$", 429, times=1)
    _, card = await submit(h, h.alice, "sora", {"prompt": "a counted request"})
    await result_post(h, video_id_of(card))
    stats = h.observability.metrics.discord
    assert stats.rate_limited["user"] + stats.rate_limited["global"] == 1
    assert stats.invalid_last_10_minutes() == 1
    assert stats.answered[200] > 0
    text = h.observability.metrics.render().decode()
    assert "sora_bot_discord_invalid_requests_10m" in text
