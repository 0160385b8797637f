"""``python -m bot`` as an operator runs it: clear one-line errors and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bot(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SORA_"))}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=cwd or ROOT,
        timeout=60,
    )


def test_missing_token_is_one_clear_line_and_exit_2(tmp_path):
    result = run_bot(cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "sora-bot: configuration error: DISCORD_TOKEN is not set (the Discord bot token)"
    ]


def test_invalid_config_file_names_the_key(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[poller]\ntick_seconds = -1\n")
    result = run_bot(
        "--config",
        str(config),
        env={"DISCORD_TOKEN": "t", "SORA_API_KEY": "k", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2
    assert (
        "sora-bot: configuration error: [poller] tick_seconds: must be greater than 0, got -1\n"
        == result.stderr
    )
    assert "Traceback" not in result.stderr


def test_config_path_from_environment_is_used(tmp_path):
    config = tmp_path / "elsewhere.toml"
    config.write_text("[upstream]\nseconds = [0]\n")
    env = {
        "DISCORD_TOKEN": "t",
        "SORA_API_KEY": "k",
        "SORA_BOT_CONFIG": str(config),
        "PYTHONPATH": str(ROOT),
    }
    result = run_bot(env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "[upstream] seconds[0]: must be greater than 0, got 0" in result.stderr
