"""Crash-restart chaos: the real bot as a subprocess, SIGKILLed at random moments, restarted.

    python bench/chaos.py                     # 200 tasks, 10 kills
    python bench/chaos.py --tasks 20 --kills 4 --seed 7 --keep /tmp/chaos

Prints the counts and every broken guarantee; exits 1 if any guarantee broke.
See ``bench.chaos_world`` for what is checked.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from bench.chaos_world import run_chaos


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200, help="commands to send (default 200)")
    parser.add_argument("--kills", type=int, default=10, help="SIGKILLs (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--job-seconds", type=float, default=1.5, help="emulated job length")
    parser.add_argument("--gap", type=float, default=0.15, help="mean seconds between commands")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (DB, bot.log)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the driver's steps")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="sora-chaos-"))
    try:
        report = asyncio.run(
            run_chaos(
                workdir,
                tasks=args.tasks,
                kills=args.kills,
                seed=args.seed,
                job_seconds=args.job_seconds,
                mean_gap=args.gap,
            )
        )
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(report.lines()))
    if args.keep is not None:
        print(f"database and bot log kept in {workdir}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
