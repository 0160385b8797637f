"""The emulators on their own, as the README tells a developer to run them.

``python -m bot.emulators.fake_discord`` in one process, the real ``python -m bot`` in
another, pointed at it with the config file it writes, the Videos API emulator in this
test: a ``/sora`` typed at the fake Discord's prompt ends with the MP4 posted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.emulators.fake_upstream import FakeUpstream

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 40.0


async def spawn(*args: str, cwd: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


class Output:
    """Everything a process prints, read in the background, line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read(process))

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            self.lines.append(line.decode())

    @property
    def text(self) -> str:
        return "".join(self.lines)

    async def wait_for(self, text: str, *, nudge: asyncio.StreamWriter | None = None) -> None:
        """Until ``text`` was printed; ``nudge`` gets an empty line now and then (prints changes)."""
        async with asyncio.timeout(DEADLINE):
            while text not in self.text:
                if self._reader.done():
                    raise AssertionError(f"ended before {text!r}:\n{self.text}")
                if nudge is not None:
                    nudge.write(b"\n")
                await asyncio.sleep(0.3)

    async def finish(self) -> str:
        await asyncio.wait_for(self._reader, DEADLINE)
        return self.text


@pytest.mark.asyncio
async def test_a_bot_run_by_hand_against_the_fake_discord_posts_the_video(tmp_path: Path):
    async with FakeUpstream(api_key="sk-test", job_seconds=1.0) as upstream:
        config = tmp_path / "emulator.toml"
        discord = await spawn(
            "-m",
            "bot.emulators.fake_discord",
            "--port",
            "0",
            "--config-out",
            str(config),
            cwd=tmp_path,
            env={},
        )
        console = Output(discord)
        await console.wait_for("then type:")
        assert f"the config is in {config}" in console.text
        bot = await spawn(
            "-m",
            "bot",
            "--config",
            str(config),
            cwd=tmp_path,
            env={
                "DISCORD_TOKEN": "fake-discord-token",
                "SORA_API_KEY": "sk-test",
                "SORA_API_BASE": upstream.base_url,
            },
        )
        bot_output = Output(bot)
        assert discord.stdin is not None
        try:
            await console.wait_for("the bot is connected")
            discord.stdin.write(b"/sora a cat on a skateboard\n")
            await console.wait_for(".mp4 · video/mp4", nudge=discord.stdin)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot_text = await bot_output.finish()
            await bot.wait()
        assert bot.returncode == 0, bot_text
        discord.stdin.write(b"quit\n")
        transcript = await console.finish()
        assert await discord.wait() == 0
        assert "fake Discord stopped" in transcript
        assert "alice › /sora prompt: a cat on a skateboard" in transcript
        assert "sora-bot, replying to #1:" in transcript
        assert upstream.count("create") == 1
