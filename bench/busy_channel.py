"""A busy channel: many videos finishing together in one channel, under Discord's real limits.

The real bot (discord.py, the two poller jobs, the card outbox, SQLite, httpx) runs
against the bundled emulators over loopback; the Discord emulator enforces Discord's
per-channel buckets (message create 5 per 5 s, edits 5 per 5 s) and the global 50/s
(``bot.emulators.fake_discord.ratelimits``). ``--videos`` videos are made in one channel;
their jobs are held until all are submitted and then finish at the same instant.

Measured, in the same run:

* **the floor**: the bucket allows 5 posts per 5 s in one channel, so the k-th of n
  posts cannot leave before ``5 * floor((k - 1) / 5)`` seconds; its p95 is the best any
  bot could do;
* **the baseline**: the same number of plain messages with an MP4 attached, sent all at
  once through the same discord.py client into the same kind of channel: what discord.py's
  own rate limiter achieves there, with nothing else going on;
* **the bot**: completion (the emulator's job finished) -> result post, per video; the
  429s Discord answered (by scope, and as a share of all REST requests), the status-card
  edits, and the invalid requests that count toward Discord's ban.

Targets (issue 12): no global 429, 429s under 2 % of requests, completion -> post p95 at
most 1.3 x the floor + 5 s. ``--reencode`` also times compressing the emulator's real
18 MB, 12-s, 1280x720 clip to a 10 MiB limit (a few seconds of CPU per run).

    python -m bench.busy_channel                 # 40 videos
    python -m bench.busy_channel --videos 10 --no-reencode
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from pathlib import Path

import discord

from bench.common import percentile, print_header, print_ratio, print_table, quiet_logging
from bot.core.models import DeliveryState
from bot.discord_ui.render import BRAND
from bot.emulators.fake_discord import FakeMessage
from bot.emulators.harness import BotHarness

#: Discord's observed per-channel bucket for message creates.
BUCKET = 5
BUCKET_SECONDS = 5.0
FLOOR_FACTOR, FLOOR_SLACK = 1.3, 5.0
MAX_429_SHARE = 0.02


def floor_p95(count: int) -> float:
    """p95 of the earliest times ``count`` posts can leave one channel's bucket."""
    earliest = [BUCKET_SECONDS * ((k - 1) // BUCKET) for k in range(1, count + 1)]
    return percentile(earliest, 95)


def footer(message: FakeMessage) -> str:
    """The embed footer, which names the task a card or post belongs to."""
    return str((message.embeds[0].get("footer") or {}).get("text", "")) if message.embeds else ""


async def make_videos(h: BotHarness, count: int) -> list[str]:
    """``count`` /sora in the channel, from three members in turn; their jobs held."""
    members = [h.alice, h.bob, h.admin]
    ids = []
    for n in range(count):
        ix = await h.discord.slash(
            members[n % 3], h.channel, "sora", {"prompt": f"busy channel take {n}"}
        )
        await ix.initial_response()
        card = await h.discord.wait_until(
            lambda ix=ix: ix.original if ix.original and footer(ix.original) else None,
            timeout=10,
        )
        ids.append(footer(card).removeprefix(f"{BRAND} · "))
    return ids


async def finish_together(h: BotHarness, ids: list[str]) -> float:
    """Finish every held job at once; the wall-clock time they finished."""
    assert h.store is not None
    tasks = [await h.store.get(video_id) for video_id in ids]
    finished_at = time.time()
    for task in tasks:
        assert task is not None and task.upstream_id is not None
        h.upstream.finish(task.upstream_id)
    return finished_at


async def wait_posted(h: BotHarness, ids: list[str], timeout: float) -> dict[str, FakeMessage]:
    """Every video's result post, once the store recorded all of them."""
    assert h.store is not None
    store = h.store

    async def all_delivered() -> bool:
        states = [(await store.get(v)).delivery_state for v in ids]  # type: ignore[union-attr]
        return all(s is DeliveryState.DELIVERED for s in states)

    await h.wait_for(all_delivered, timeout=timeout, what="every result post")
    marker = {f"{BRAND} · {v}": v for v in ids}
    posts = {}
    for message in h.discord.channel_messages(h.channel):
        video_id = marker.get(footer(message))
        if video_id and message.interaction_id is None:
            posts[video_id] = message
    return posts


async def run_bot(count: int, workdir: Path) -> dict[str, float]:
    """The scene with the bot; its figures."""
    (workdir / "bot").mkdir()
    async with BotHarness(workdir / "bot", job_seconds=3600.0) as h:
        ids = await make_videos(h, count)
        before_requests = len(h.discord.rest_log)
        before_429 = dict(h.discord.rate_limited)
        edits_before = _edits(h)
        finished_at = await finish_together(h, ids)
        posts = await wait_posted(h, ids, timeout=60 + 3 * count)
        delays = [posts[v].created_at - finished_at for v in ids]
        requests = len(h.discord.rest_log) - before_requests
        limited = {k: v - before_429.get(k, 0) for k, v in h.discord.rate_limited.items()}
        return {
            "p50": percentile(delays, 50),
            "p95": percentile(delays, 95),
            "max": max(delays),
            "requests": requests,
            "429 user": limited.get("user", 0),
            "429 global": limited.get("global", 0),
            "429 shared": limited.get("shared", 0),
            "card edits": _edits(h) - edits_before,
            "invalid": h.discord.invalid_requests,
        }


def _edits(h: BotHarness) -> int:
    return sum(1 for c in h.discord.rest_log if c.method == "PATCH" and "/messages/" in c.path)


async def run_baseline(count: int, workdir: Path) -> dict[str, float]:
    """The same number of posts with a file, all at once, through discord.py alone."""
    (workdir / "baseline").mkdir()
    async with BotHarness(workdir / "baseline", job_seconds=3600.0) as h:
        assert h.bot is not None
        channel = h.bot.get_partial_messageable(h.channel.id, guild_id=h.guild.id)
        clip = workdir / "baseline.mp4"
        clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(4096))
        started = time.time()

        async def post(n: int) -> float:
            await channel.send(f"post {n}", file=discord.File(clip, f"{n}.mp4"))
            return time.time() - started

        delays = await asyncio.gather(*(post(n) for n in range(count)))
        return {"p50": percentile(delays, 50), "p95": percentile(delays, 95), "max": max(delays)}


async def time_reencode(workdir: Path) -> float:
    """Seconds to compress the emulator's real 18 MB clip to 10 MiB with the bundled ffmpeg."""
    from bot.delivery.media import bundled_ffmpeg
    from bot.delivery.transcode import Transcoder
    from bot.emulators.mp4 import real_clip

    source = await asyncio.to_thread(real_clip)
    transcoder = Transcoder(ffmpeg=bundled_ffmpeg())
    started = time.perf_counter()
    await transcoder.fit(source, workdir / "fit.mp4", 10 * 1048576)
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    quiet_logging()
    print_header("bench.busy_channel", {"videos": args.videos, "reencode": args.reencode})
    with tempfile.TemporaryDirectory(prefix="bench-busy-") as folder:
        workdir = Path(folder)
        baseline = await run_baseline(args.videos, workdir)
        bot = await run_bot(args.videos, workdir)
        reencode = await time_reencode(workdir) if args.reencode else math.nan
    floor = floor_p95(args.videos)
    target = FLOOR_FACTOR * floor + FLOOR_SLACK
    share = (bot["429 user"] + bot["429 global"]) / max(bot["requests"], 1)
    print_table(
        "completion -> post (s)",
        ["run", "p50", "p95", "max"],
        [
            ["floor (bucket 5 per 5 s)", "", f"{floor:.1f}", ""],
            ["baseline: discord.py alone", *(f"{baseline[k]:.1f}" for k in ("p50", "p95", "max"))],
            ["the bot", *(f"{bot[k]:.1f}" for k in ("p50", "p95", "max"))],
        ],
    )
    print_table(
        "Discord requests during delivery",
        ["requests", "429 user", "429 global", "429 shared", "429 share", "card edits", "invalid"],
        [
            [
                int(bot["requests"]),
                int(bot["429 user"]),
                int(bot["429 global"]),
                int(bot["429 shared"]),
                f"{100 * share:.1f} %",
                int(bot["card edits"]),
                int(bot["invalid"]),
            ]
        ],
    )
    if args.reencode:
        print_table(
            "re-encode",
            ["clip", "seconds"],
            [["18.6 MB, 12 s, 1280x720 -> 10 MiB", f"{reencode:.1f}"]],
        )
    met = bot["p95"] <= target and bot["429 global"] == 0 and share < MAX_429_SHARE
    print_ratio(
        "busy_channel_p95_over_floor",
        bot["p95"] / max(floor, 1e-9),
        f"p95 {bot['p95']:.1f} s vs floor {floor:.1f} s; target p95 <= {target:.1f} s, "
        f"no global 429, 429s < 2 %: {'met' if met else 'MISSED'}",
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.busy_channel", description=__doc__)
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--reencode", action=argparse.BooleanOptionalAction, default=True)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
