"""The emulated world for ``scripts/container-check``; runs inside the sora-bot image.

``world``: serve the bundled Discord and Videos API emulators on 127.0.0.1 (the check runs
this container and the bot's with ``--network host``), wait for the bot in the other
container to connect, run one ``/sora`` as a member, and wait for the bot's reply carrying
the ``.mp4``. Prints one line per stage (``world ready``, ``bot connected``,
``delivered task=ID file=NAME bytes=N``) and then keeps the emulators up, so the bot stays
connected for the health and stop checks, until SIGTERM.

``task DB ID``: print the task row's ``status`` and ``delivery_state`` (after the bot stopped).

Only the network edge is emulated: the bot is the image's unchanged ``python -m bot run``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from bot.discord_ui.render import footer_marker
from bot.emulators.fake_discord import FakeDiscord, FakeMessage
from bot.emulators.fake_upstream import FakeUpstream
from bot.storage.connection import open_database
from bot.storage.store import TaskStore

PROMPT = "a lighthouse in a storm, seen from a container"
FOOTER_PREFIX = footer_marker("")


def say(line: str) -> None:
    """One stage line on stdout (the check reads them from the container's log)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def is_result(message: FakeMessage, bot_user_id: int) -> bool:
    """The bot's own post with an MP4 attached."""
    return message.author_id == bot_user_id and any(
        a.filename.endswith(".mp4") for a in message.attachments
    )


def task_id_of(message: FakeMessage) -> str:
    """The task id in the post's embed footer (``sora-bot · k7q2mx``)."""
    for embed in message.embeds:
        text = (embed.get("footer") or {}).get("text") or ""
        if text.startswith(FOOTER_PREFIX):
            return text.removeprefix(FOOTER_PREFIX)
    return "?"


async def world(args: argparse.Namespace) -> int:
    """Serve the emulators, drive one /sora, report, wait for SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    upstream = FakeUpstream(
        api_key=args.api_key, job_seconds=args.job_seconds, port=args.upstream_port
    )
    discord = FakeDiscord(bot_token=args.token)
    await upstream.start()
    await discord.start(port=args.discord_port)
    try:
        guild = discord.add_guild("Container Check")
        channel = discord.add_channel(guild, "videos")
        alice = discord.add_member(guild, "alice")
        say(f"world ready discord={discord.rest_base} upstream={upstream.base_url}")
        await discord.wait_for_bot_ready(timeout=args.timeout)
        await discord.wait_until(
            lambda: any(c["name"] == "sora" for c in discord.registered_commands),
            timeout=args.timeout,
        )
        say("bot connected")
        await discord.slash(alice, channel, "sora", {"prompt": PROMPT})
        result = await discord.wait_for_message(
            lambda m: is_result(m, discord.bot_user_id), timeout=args.timeout
        )
        video = next(a for a in result.attachments if a.filename.endswith(".mp4"))
        say(f"delivered task={task_id_of(result)} file={video.filename} bytes={len(video.data)}")
        await stop.wait()
        return 0
    except TimeoutError as exc:
        say(f"world FAILED: {exc}")
        return 1
    finally:
        await discord.stop()
        await upstream.stop()


def task_row(args: argparse.Namespace) -> int:
    """Print the task's status and delivery state."""
    db = open_database(args.db)
    try:
        task = TaskStore(db).get(args.task_id)
    finally:
        db.close()
    if task is None:
        say(f"task {args.task_id}: no row")
        return 1
    say(f"task {task.id}: status={task.status.value} delivery_state={task.delivery_state.value}")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("world", help="serve the emulators and drive one /sora")
    w.add_argument("--discord-port", type=int, required=True)
    w.add_argument("--upstream-port", type=int, required=True)
    w.add_argument("--token", required=True, help="the bot token the fake Discord accepts")
    w.add_argument("--api-key", required=True, help="the key the fake Videos API accepts")
    w.add_argument("--job-seconds", type=float, default=1.0)
    w.add_argument("--timeout", type=float, default=60.0)
    t = sub.add_parser("task", help="print a task row")
    t.add_argument("db")
    t.add_argument("task_id")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "world":
        return asyncio.run(world(args))
    return task_row(args)


if __name__ == "__main__":
    sys.exit(main())
