"""SIGTERM ends ``python -m bot demo`` cleanly, as ``docker stop`` sends it to PID 1.

A container's PID 1 gets no default signal action: without a handler of its own, SIGTERM is
dropped and ``docker stop`` waits out its grace period. Outside a container the same missing
handler shows as death by signal (exit -15) with the demo's temporary folder left behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONNECTED = "The bot is connected"


def test_sigterm_mid_demo_cancels_the_scene_cleans_up_and_exits_143(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SORA_"))}
    env.update(PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(CONNECTED):
                break
        else:
            raise AssertionError("the demo ended before the bot connected")
        assert list(tmp_path.glob("sora-bot-demo-*")), "the demo works in a temporary folder"
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert time.monotonic() - sent < 10
    # (Work cut off mid-request may log its error, as with Ctrl-C; an uncaught one would
    # change the exit code.)
    assert "Stopped by SIGTERM: " in stdout
    assert not list(tmp_path.glob("sora-bot-demo-*")), "the scene's cleanup ran"


def test_sigterm_during_check_stops_it_at_once_with_143(tmp_path):
    silent = socket.socket()  # accepts connections (the backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SORA_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        SORA_API_KEY="sk-test",
        SORA_API_BASE=f"http://127.0.0.1:{silent.getsockname()[1]}/v1",
        SORA_BOT_DB=str(tmp_path / "bot.db"),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "check"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        silent.settimeout(20)
        held, _ = silent.accept()  # the check's upstream request: held open, never answered
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    finally:
        silent.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    held.close()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert time.monotonic() - sent < 5
    assert "sora-bot: stopped by SIGTERM" in stderr
    assert "Traceback" not in stderr
