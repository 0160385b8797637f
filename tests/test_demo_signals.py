"""``python -m bot demo`` as a process: Ctrl-C and SIGTERM end it in one line, no warnings.

The demo runs as a child process with its stdin a pipe that stays open (a terminal
that nobody types in); the signal comes once the awaited text has been printed.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 90.0


def demo_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SORA_"))}
    env.update(extra)
    return env


def start_demo(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env or demo_env(),
        cwd=ROOT,
    )


def read_until(process: subprocess.Popen[bytes], text: str) -> str:
    """Stdout up to (and including) ``text``; fails if the demo ends or stalls first."""
    assert process.stdout is not None
    seen = b""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while text.encode() not in seen:
        assert time.monotonic() < deadline, f"{text!r} never appeared in {seen.decode()!r}"
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            chunk = os.read(process.stdout.fileno(), 65536)
            assert chunk, f"the demo ended before printing {text!r}: {seen.decode()!r}"
            seen += chunk
    return seen.decode()


def stop_with(process: subprocess.Popen[bytes], signum: signal.Signals) -> tuple[int, str, str]:
    """Send ``signum`` with stdin still open; (exit code, rest of stdout, stderr)."""
    assert process.stdout is not None and process.stderr is not None
    process.send_signal(signum)
    try:
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    out, err = process.stdout.read().decode(), process.stderr.read().decode()
    assert process.stdin is not None
    process.stdin.close()
    return code, out, err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_at_the_prompt_ends_the_demo_in_one_line(signum: signal.Signals) -> None:
    process = start_demo("--keep-running")
    before = read_until(process, "alice> ")
    code, after, err = stop_with(process, signum)
    assert "demo OK" in before
    assert code == 0, after + err  # the scene went as scripted; leaving the prompt is ordinary
    assert after.strip() == f"Stopped by {signum.name}: the bot and both emulators are shut down."
    assert "Traceback" not in err and "ERROR" not in err, err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_during_the_scene_stops_the_bot_cleanly(signum: signal.Signals) -> None:
    process = start_demo("--keep-running")
    read_until(process, "Scene:")
    code, after, err = stop_with(process, signum)
    assert code == 128 + signum, after + err  # as a shell reports a process ended by a signal
    assert after.splitlines()[-1] == (
        f"Stopped by {signum.name}: the bot and both emulators are shut down."
    )
    assert "demo OK" not in after
    assert "Traceback" not in err and "ERROR" not in err, err


def test_a_run_without_the_test_extras_says_nothing_about_jsonschema(tmp_path: Path) -> None:
    """An installed package has no test extras: ``jsonschema`` cannot be imported."""
    shadow = tmp_path / "jsonschema"
    shadow.mkdir()
    (shadow / "__init__.py").write_text('raise ImportError("jsonschema is not installed")\n')
    python_path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", str(ROOT))])
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        capture_output=True,
        text=True,
        env=demo_env(PYTHONPATH=python_path),
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo OK" in result.stdout.splitlines()[-1]
    assert "jsonschema" not in result.stdout + result.stderr
    assert "contract validation" not in result.stdout + result.stderr
