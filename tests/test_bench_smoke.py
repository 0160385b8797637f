"""Every benchmark still runs: each command in a tiny configuration, as a subprocess.

Only that it finishes, prints its tables and ends with the ratio line is checked;
speed is measured by the benchmarks themselves, never asserted in tests.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RATIO_LINE = re.compile(r"^ratio [a-z0-9_]+ = \d+\.\d{4}  \(.+: (met|MISSED)\)$")
TABLE_RULE = re.compile(r"^\| -+ (\| -+ )*\|$", re.MULTILINE)

TINY = {
    "bench.autocomplete": ["--videos", "60", "--in-flight", "40", "--burst", "10", "--rounds", "2"],
    "bench.store": ["--tasks", "200", "--chain", "30", "--repeat", "2"],
    "bench.scale": ["--tasks", "150", "--ticks", "2", "--paced-seconds", "1", "--big-batch", "80"],
    "bench.poller": ["--videos", "6", "--window", "30"],
    "bench.restart": ["--tasks", "30", "--strangers", "10", "--limit", "20", "--timeout", "8"],
    "bench.busy_channel": ["--videos", "4", "--no-reencode"],
    "bench.latency": [
        "--tasks",
        "60",
        "--history",
        "5",
        "--guilds",
        "3",
        "--burst",
        "3",
        "--rounds",
        "1",
        "--idle",
        "3",
        "--pause",
        "0.25",
    ],
}


@pytest.mark.parametrize("module", sorted(TINY))
def test_benchmark_runs_and_ends_with_its_ratio_line(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, *TINY[module]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.rstrip().splitlines()
    assert lines[0] == f"# {module}"
    assert TABLE_RULE.search(done.stdout), done.stdout
    assert RATIO_LINE.match(lines[-1]), lines[-1]
