"""``python -m bot``: start the bot (default), or ``check`` the setup, or run the offline ``demo``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.config import ConfigError, load_config
from bot.ops.logs import setup_logging


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("command", nargs="?", default="run", choices=["run", "check", "demo"])
    parser.add_argument(
        "--config", help="path to config.toml (default: $SORA_BOT_CONFIG or ./config.toml)"
    )
    parser.add_argument("--keep-running", action="store_true", help="demo: leave the channel open")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "demo":
        from bot.cli.demo import run_demo

        return asyncio.run(run_demo(keep_running=args.keep_running))
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
        secrets=(config.discord.token.reveal(), config.upstream.api_key.reveal()),
    )
    if args.command == "check":
        from bot.cli.check import run_check

        return asyncio.run(run_check(config))
    from bot.cli.runner import run_bot

    return asyncio.run(run_bot(config))
