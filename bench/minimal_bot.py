"""The baseline for ``bench.latency``: a minimal bot that does only the core loop.

What a competent 200-line bot does, and nothing more: ``/sora`` defers at once, creates the
job at the Videos API (httpx), stores it in SQLite (``sqlite3``, on the event loop) and
shows "queued"; a loop polls every in-flight job (up to 50 every 2 s, 8 at once) and posts
the finished video's link as a reply; ``/remix`` defers and does the same with the parent's
upstream id; its ``video_id`` autocomplete reads the guild's last 25 finished videos from
SQLite. No quotas, no cards with buttons, no lineage, no outbox, no fair queue, no checks.

The benchmark runs it as its own process against the same emulators, in the same run as
the real bot, so every figure has a baseline measured on the same machine at the same time.
It is not part of the product and is never imported by it.

    python -m bench.minimal_bot --config PATH   # reads [discord] api_base/gateway_url
    # env: DISCORD_TOKEN, SORA_API_BASE, SORA_API_KEY, SORA_BOT_DB
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import time
import tomllib
from collections.abc import Iterable
from pathlib import Path

import discord
import httpx
from discord import app_commands

from bot.discord_ui.endpoint import use_discord_endpoint

SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
    id INTEGER PRIMARY KEY, guild_id INTEGER, channel_id INTEGER, user_id INTEGER,
    prompt TEXT, upstream_id TEXT, status TEXT, message_id INTEGER,
    created_at REAL, next_poll_at REAL
);
CREATE INDEX IF NOT EXISTS videos_due ON videos (status, next_poll_at);
CREATE INDEX IF NOT EXISTS videos_recent ON videos (guild_id, status, created_at);
"""
ACTIVE = ("queued", "in_progress")


def open_db(path: str | Path) -> sqlite3.Connection:
    """The baseline's one SQLite connection (WAL, like the real bot)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    return db


def seed(path: Path, rows: Iterable[tuple[int, int, int, str, str, str]]) -> None:
    """Rows of (guild_id, channel_id, user_id, prompt, upstream_id, status), all due now."""
    db = open_db(path)
    now = time.time()
    with db:
        db.executemany(
            "INSERT INTO videos (guild_id, channel_id, user_id, prompt, upstream_id, status,"
            " message_id, created_at, next_poll_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
            [(*row, now - 600, now) for row in rows],
        )
    db.close()


class MinimalBot(discord.Client):
    """The whole baseline bot."""

    def __init__(self, db: sqlite3.Connection, api: httpx.AsyncClient) -> None:
        super().__init__(intents=discord.Intents.none())
        self.db = db
        self.api = api
        self.tree = app_commands.CommandTree(self)
        self.tree.add_command(
            app_commands.Command(name="sora", description="Generate", callback=sora)
        )
        self.tree.add_command(remix_command())

    async def setup_hook(self) -> None:
        await self.tree.sync()
        self.loop.create_task(self.poll_forever())

    async def create(
        self, interaction: discord.Interaction, prompt: str, parent: str | None
    ) -> None:
        await interaction.response.defer(thinking=True)
        if parent:  # the spec: remix is JSON, create is multipart
            answer = await self.api.post(f"/videos/{parent}/remix", json={"prompt": prompt})
        else:
            fields = {"prompt": (None, prompt), "model": (None, "sora-2")}
            answer = await self.api.post("/videos", files=fields)
        job = answer.json()
        if "id" not in job:
            raise RuntimeError(f"create refused: {answer.status_code} {job}")
        self.db.execute(
            "INSERT INTO videos (guild_id, channel_id, user_id, prompt, upstream_id, status,"
            " message_id, created_at, next_poll_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                interaction.guild_id,
                interaction.channel_id,
                interaction.user.id,
                prompt,
                job["id"],
                job["status"],
                0,
                time.time(),
                time.time() + 10,
            ),
        )
        message = await interaction.edit_original_response(content=f"queued `{job['id']}`")
        self.db.execute(
            "UPDATE videos SET message_id = ? WHERE upstream_id = ?", (message.id, job["id"])
        )

    async def poll_forever(self) -> None:
        while True:
            due = self.db.execute(
                "SELECT id, channel_id, upstream_id, message_id FROM videos WHERE status IN"
                " (?, ?) AND next_poll_at <= ? ORDER BY next_poll_at LIMIT 50",
                (*ACTIVE, time.time()),
            ).fetchall()
            semaphore = asyncio.Semaphore(8)
            await asyncio.gather(*(self.poll_one(semaphore, *row) for row in due))
            await asyncio.sleep(2)

    async def poll_one(
        self,
        semaphore: asyncio.Semaphore,
        row_id: int,
        channel_id: int,
        upstream_id: str,
        message_id: int,
    ) -> None:
        async with semaphore:
            try:
                job = (await self.api.get(f"/videos/{upstream_id}")).json()
            except httpx.HTTPError:
                return
            self.db.execute(
                "UPDATE videos SET status = ?, next_poll_at = ? WHERE id = ?",
                (job.get("status", "queued"), time.time() + 5, row_id),
            )
            if job.get("status") == "completed" and message_id:
                channel = self.get_partial_messageable(channel_id)
                reference = channel.get_partial_message(message_id)
                try:
                    await channel.send(f"done: `{upstream_id}`", reference=reference)
                except discord.HTTPException:
                    pass


async def sora(interaction: discord.Interaction, prompt: str) -> None:
    """Generate a video from a prompt."""
    bot = interaction.client
    assert isinstance(bot, MinimalBot)
    await bot.create(interaction, prompt, None)


def remix_command() -> app_commands.Command[None, ..., None]:
    async def remix(interaction: discord.Interaction, video_id: str, prompt: str) -> None:
        bot = interaction.client
        assert isinstance(bot, MinimalBot)
        await bot.create(interaction, prompt, video_id)

    async def recent(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        bot = interaction.client
        assert isinstance(bot, MinimalBot)
        rows = bot.db.execute(
            "SELECT upstream_id, prompt FROM videos WHERE guild_id = ? AND status = 'completed'"
            " AND (upstream_id LIKE ? OR prompt LIKE ?) ORDER BY created_at DESC LIMIT 25",
            (interaction.guild_id, f"{current}%", f"%{current}%"),
        ).fetchall()
        return [app_commands.Choice(name=f"{uid} · {p[:80]}", value=uid) for uid, p in rows]

    command = app_commands.Command(name="remix", description="Remix", callback=remix)
    command.autocomplete("video_id")(recent)
    return command


async def main(settings: dict[str, str]) -> None:
    use_discord_endpoint(settings["api_base"], settings["gateway_url"])
    base = os.environ["SORA_API_BASE"].rstrip("/")  # ends in /v1, like OpenAI's
    headers = {"Authorization": f"Bearer {os.environ['SORA_API_KEY']}"}
    async with httpx.AsyncClient(base_url=base, headers=headers) as api:
        bot = MinimalBot(open_db(os.environ["SORA_BOT_DB"]), api)
        async with bot:
            await bot.start(os.environ["DISCORD_TOKEN"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m bench.minimal_bot", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--config", type=Path, required=True)
    config = parser.parse_args().config
    discord.utils.setup_logging(level=logging.WARNING)
    asyncio.run(main(tomllib.loads(config.read_text())["discord"]))
