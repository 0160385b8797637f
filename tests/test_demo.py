"""``python -m bot demo``: the scripted scene runs the real bot and its transcript reads right."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.demo import DemoChannel, SceneReport, play_scene, run_demo
from bot.emulators.harness import BotHarness

ROOT = Path(__file__).resolve().parent.parent


def blocks(transcript: str) -> dict[str, list[str]]:
    """``{"#1": [header, body lines...], ...}`` from the printed transcript."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in transcript.splitlines():
        label = re.match(r"(#\d+) ", line)
        if label:
            current = found.setdefault(label.group(1), [])
        if current is not None:
            current.append(line)
    return found


def label_of(found: dict[str, list[str]], needle: str) -> str:
    matches = [label for label, lines in found.items() if any(needle in line for line in lines)]
    assert len(matches) == 1, f"{needle!r} in {matches}"
    return matches[0]


@pytest.mark.asyncio
async def test_demo_scene_goes_as_scripted_and_prints_a_threaded_transcript():
    out = io.StringIO()
    code = await run_demo(out=out, quiet_logs=False)
    text = out.getvalue()
    assert code == 0, text
    assert "demo OK" in text.splitlines()[-1]
    ids = re.findall(r"your video `([a-z0-9]+)` is ready", text)
    assert len(ids) == 3, text
    first, remix, button = ids
    found = blocks(text[text.index("#1 ") :])

    card = label_of(found, f"Video `{first}`")
    first_result = label_of(found, f"your video `{first}` is ready")
    assert found[card][0].startswith(f"{card} alice › /sora prompt: a paper boat")
    assert found[first_result][0] == f"{first_result} sora-bot, replying to {card}:"
    assert f"📎 {first}.mp4 · video/mp4 · 4.0 KiB (4,096 bytes)" in "\n".join(found[first_result])
    assert any("[🔁 Remix]" in line for line in found[first_result])

    remix_card = label_of(found, f"Remix `{remix}`")
    assert f"/remix video_id: {first} prompt: the boat is on fire" in found[remix_card][0]
    remix_result = label_of(found, f"your video `{remix}` is ready")
    assert found[remix_result][0] == f"{remix_result} sora-bot, replying to {first_result}:"

    button_card = label_of(found, f"Remix `{button}`")
    assert found[button_card][0].startswith(
        f'{button_card} alice › clicked [🔁 Remix] on {remix_result}, submitted "Remix {remix}"'
    )
    button_result = label_of(found, f"your video `{button}` is ready")
    assert found[button_result][0] == f"{button_result} sora-bot, replying to {remix_result}:"
    assert f"📎 {button}.mp4" in "\n".join(found[button_result])

    failed_id = re.search(r"your video `([a-z0-9]+)` failed\. The video service blocked", text)
    assert failed_id is not None, text
    failed_card = label_of(found, f"Video `{failed_id.group(1)}`")
    notice = label_of(found, f"your video `{failed_id.group(1)}` failed")
    assert found[notice][0] == f"{notice} sora-bot, replying to {failed_card}:"
    assert any("Status: Failed: The video service blocked" in line for line in found[failed_card])
    assert not any(line.startswith("📎") for line in found[notice])


@pytest.mark.asyncio
async def test_a_step_that_does_not_go_as_scripted_fails_the_scene(tmp_path):
    async with BotHarness(tmp_path, job_seconds=0.5) as h:
        h.upstream.inject("create", "moderation_submit", times=5)
        said: list[str] = []
        report = await play_scene(DemoChannel(h), said.append)
    assert isinstance(report, SceneReport) and not report.ok
    assert [step.name for step in report.steps] == ["alice runs /sora"]
    assert report.steps[0].detail.startswith("the bot refused:")
    assert said == [report.steps[0].line()] and said[0].startswith("  ✘ alice runs /sora")


def test_demo_command_keeps_the_channel_open_for_typed_commands():
    typed = "/sora a red kite over the sea\nshow\nas bob\nclick #2 Remix\nthe kite at night\nquit\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SORA_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--keep-running"],
        input=typed,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "demo OK" in out
    typed_part = out[out.index("Type a command") :]
    kite = re.search(r"your video `([a-z0-9]+)` is ready", typed_part)
    assert kite is not None, typed_part
    assert "alice › /sora prompt: a red kite over the sea" in typed_part
    assert "now acting as bob" in typed_part
    assert 'bob › clicked [🔁 Remix] on #2, submitted "Remix' in typed_part
    assert "the kite at night" in typed_part
    assert "Traceback" not in result.stderr
