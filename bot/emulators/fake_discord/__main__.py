"""``python -m bot.emulators.fake_discord``: the Discord emulator on its own, for a bot you run.

Serves a Discord (REST + gateway) on 127.0.0.1 with one server, "Video Team", a
``#videos`` channel and three members (alice, bob, and boss with Manage Server), prints
how to point ``python -m bot`` at it, then reads lines: slash commands typed as the
current member (``/sora a cat``, ``/remix k7q2mx at night``, ``/admin stats``: the
demo's syntax), ``click #2 Remix``, ``as bob``, ``show`` (the whole channel), ``quit``.
After each line it prints the messages that are new or changed since the last time; an
empty line just prints those. Pair it with ``python -m bot.emulators.fake_upstream``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

from bot.cli.demo_commands import Refused, convert_options, find_command, parse_typed
from bot.cli.demo_input import LineSource, StopSignals
from bot.emulators.fake_discord import FakeChannel, FakeDiscord, FakeMessage, FakeUser
from bot.emulators.fake_discord.commands import CommandNotAvailable
from bot.emulators.transcript import (
    button_label,
    describe_interaction,
    message_labels,
    render_transcript,
)

DEFAULT_PORT = 8091
DEFAULT_TOKEN = "fake-discord-token"
#: How long a typed command may wait for the bot's first answer before the prompt returns.
ANSWER_TIMEOUT = 5.0
#: Seconds to wait for the bot to connect: as long as the emulator runs (a year).
WAIT_FOREVER = 365 * 86400.0


class Console:
    """The seeded server, the member acting, and what has been printed already."""

    def __init__(self, discord: FakeDiscord, out: TextIO) -> None:
        self.discord = discord
        self.out = out
        self.guild = discord.add_guild("Video Team")
        self.channel: FakeChannel = discord.add_channel(self.guild, "videos")
        self.members = {
            name: discord.add_member(self.guild, name, manage_guild=name == "boss")
            for name in ("alice", "bob", "boss")
        }
        self.user: FakeUser = self.members["alice"]
        self._shown: dict[int, int] = {}

    async def handle(self, line: str) -> None:
        """Carry out one typed line; a problem is one ``!`` line."""
        word, _, rest = line.strip().partition(" ")
        try:
            if word == "as":
                self.user = self._member(rest.strip())
            elif word == "show":
                self._shown.clear()
            elif word == "click":
                await self._click(rest)
            elif word.startswith("/"):
                await self._slash(word[1:], rest)
            elif word:
                raise Refused("type /command …, click #N Label, as NAME, show or quit")
        except (Refused, LookupError, ValueError, CommandNotAvailable) as exc:
            self.out.write(f"! {exc}\n")
        self.print_changes()

    def _member(self, name: str) -> FakeUser:
        if name not in self.members:
            raise LookupError(f"no member {name!r}; try {', '.join(self.members)}")
        return self.members[name]

    async def _slash(self, name: str, rest: str) -> None:
        commands = [c for c in self.discord.registered_commands if c.get("type", 1) == 1]
        typed = parse_typed(find_command(commands, name), rest)
        options = convert_options(typed, self._lookup)
        ix = await self.discord.slash(self.user, self.channel, typed.name, options)
        await _answered(ix)

    def _lookup(self, _kind: int, name: str) -> Any:
        return self._member(name)

    async def _click(self, rest: str) -> None:
        label, _, button = rest.strip().partition(" ")
        messages = self.discord.channel_messages(self.channel)
        by_label = {v: k for k, v in message_labels(messages).items()}
        if label not in by_label:
            raise LookupError(f"no message {label!r}; messages are #1..#{len(messages)}")
        message = self.discord.get_message(by_label[label])
        custom_id = _button_id(message, button.strip())
        await _answered(await self.discord.click(self.user, message, custom_id))

    def print_changes(self) -> None:
        """Print the messages that are new or were edited since they were last printed."""
        messages = self.discord.channel_messages(self.channel)
        changed = [m for m in messages if self._shown.get(m.id) != _version(m)]
        if not changed:
            return
        users = (self.discord.bot_user, self.discord.owner, *self.members.values())
        labels = message_labels(messages)
        text = render_transcript(
            messages,
            names={user.id: user.name for user in users},
            invocations={
                ix.id: describe_interaction(ix, labels) for ix in self.discord.interactions
            },
            channels={self.channel.id: self.channel.name},
        )
        self.out.write(_only(text, messages, changed) + "\n")
        self._shown = {m.id: _version(m) for m in messages}
        self.out.flush()


def _version(message: FakeMessage) -> int:
    return hash((message.content, repr(message.embeds), repr(message.components)))


def _only(text: str, messages: list[FakeMessage], changed: list[FakeMessage]) -> str:
    """The transcript's blocks (one per message, each starting ``#n``) of ``changed``."""
    wanted = {
        label for mid, label in message_labels(messages).items() if mid in {m.id for m in changed}
    }
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("#"):
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    kept = [b for b in blocks if b[0].split(" ", 1)[0] in wanted]
    return "\n".join(line for block in kept for line in block)


def _button_id(message: FakeMessage, label: str) -> str:
    for row in message.components:
        for component in row.get("components", []):
            if button_label(component).lower().endswith(label.lower()) and "custom_id" in component:
                return str(component["custom_id"])
    raise LookupError(f"no button {label!r} under that message")


async def _answered(ix: Any) -> None:
    try:
        await asyncio.wait_for(ix.initial_response(), ANSWER_TIMEOUT)
    except TimeoutError:
        raise Refused(
            f"the bot did not answer within {ANSWER_TIMEOUT:g} s (is it running?)"
        ) from None


def instructions(discord: FakeDiscord, config_out: Path | None) -> str:
    """How to start the bot against this emulator."""
    toml = f'[discord]\napi_base = "{discord.rest_base}"\ngateway_url = "{discord.gateway_url}"\n'
    if config_out is not None:
        config_out.write_text(toml)
        where = f"the config is in {config_out}"
    else:
        where = "write this config to emulator.toml:\n" + toml
    return (
        f"fake Discord on {discord.rest_base} (gateway {discord.gateway_url}); "
        f"bot token {discord.bot_token}\n"
        'server "Video Team", channel #videos, members alice, bob, boss (Manage Server)\n'
        f"{where}\n"
        "start the bot (with python -m bot.emulators.fake_upstream on its default port):\n"
        f"  DISCORD_TOKEN={discord.bot_token} SORA_API_KEY=sk-test "
        f"SORA_API_BASE=http://127.0.0.1:8089/v1 python -m bot --config "
        f"{config_out or 'emulator.toml'}\n"
        "then type: /sora a cat · /remix <id> <prompt> · click #2 Remix · as bob · show · quit\n"
    )


async def _announce_bot(discord: FakeDiscord, out: TextIO) -> None:
    """Say once when the bot has connected, so the person typing knows to start."""
    await discord.wait_for_bot_ready(timeout=WAIT_FOREVER)
    commands = sorted(c["name"] for c in discord.registered_commands)
    out.write(f"the bot is connected; its commands: /{', /'.join(commands)}\n")
    out.flush()


async def serve(args: argparse.Namespace, inp: TextIO, out: TextIO) -> int:
    """Serve until ``quit``, the end of input, SIGINT or SIGTERM."""
    discord = FakeDiscord(bot_token=args.token)
    await discord.start(args.port)
    try:
        console = Console(discord, out)
        out.write(instructions(discord, args.config_out))
        out.flush()
        lines = LineSource(inp)
        announcer = asyncio.create_task(_announce_bot(discord, out))
        with StopSignals() as signals:
            while True:
                line = await signals.guarded(lines.readline())
                if line is None or not line or line.strip() in ("quit", "exit"):
                    break
                await console.handle(line)
    finally:
        announcer.cancel()
        await discord.stop()
    out.write("fake Discord stopped\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.emulators.fake_discord", description=__doc__
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bot token it accepts")
    parser.add_argument("--config-out", type=Path, help="write the bot's [discord] config here")
    return asyncio.run(serve(parser.parse_args(argv), sys.stdin, sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
