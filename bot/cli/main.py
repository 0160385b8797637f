"""``python -m bot``: start the bot (default), or ``check`` the setup, or run the offline ``demo``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from bot.config import ConfigError, load_config
from bot.core.dialects import Dialect
from bot.ops.logs import setup_logging


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("command", nargs="?", default="run", choices=["run", "check", "demo"])
    parser.add_argument(
        "--config", help="path to config.toml (default: $SORA_BOT_CONFIG or ./config.toml)"
    )
    parser.add_argument("--keep-running", action="store_true", help="demo: leave the channel open")
    parser.add_argument(
        "--dialect",
        default="openai",
        choices=[d.value for d in Dialect],
        help="demo: the relay dialect the emulated upstream speaks (default openai)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "demo":
        from bot.cli.demo import run_demo

        # The demo handles SIGINT and SIGTERM in its own loop (``bot.cli.demo_input``).
        return asyncio.run(run_demo(keep_running=args.keep_running, dialect=args.dialect))
    try:
        # `check` reports missing secrets as FAIL lines of its own, next to everything else.
        config = load_config(args.config, require_secrets=args.command != "check")
    except ConfigError as exc:
        if args.command == "check":
            from bot.cli.check import config_failure

            print(config_failure(exc).render())
            return 2
        print(f"sora-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(
        level=config.logging.level,
        json_lines=config.logging.json,
        secrets=(
            config.discord.token.reveal(),
            config.upstream.api_key.reveal(),
            config.media.secret.reveal(),
        ),
    )
    if args.command == "check":
        from bot.cli.check import run_check

        return asyncio.run(_until_sigterm(run_check(config)))
    from bot.cli.runner import run_bot

    return asyncio.run(run_bot(config))


#: The exit code of a ``demo`` or ``check`` cut short by SIGTERM: 128 + 15, the shell's and
#: Docker's convention for "terminated by SIGTERM".
EXIT_SIGTERM = 128 + signal.SIGTERM


async def _until_sigterm(work: Coroutine[Any, Any, int]) -> int:
    """Run ``work``; SIGTERM cancels it (its cleanup runs) and gives ``EXIT_SIGTERM``.

    Python installs no SIGTERM handler, and as PID 1 of a container (``docker run`` without
    ``--init``) the kernel drops signals a process does not handle: ``docker stop`` would wait
    out its grace period and SIGKILL. ``run`` has its own handler (``bot.cli.runner``), which
    closes the bot and exits 0, and so has ``demo``; this one covers ``check``.
    """
    if sys.platform == "win32":
        return await work
    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    assert main_task is not None
    terminated = False

    def on_sigterm() -> None:
        nonlocal terminated
        terminated = True
        main_task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        result = await work
    except asyncio.CancelledError:
        if not terminated:
            raise
        result = EXIT_SIGTERM
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
    if terminated:  # also when the cancellation landed in cleanup code that swallowed it
        print("sora-bot: stopped by SIGTERM", file=sys.stderr)
        return EXIT_SIGTERM
    return result
