"""``python -m bot demo --keep-running``: the channel stays open for commands typed at a prompt.

Each line is one action as the current member: a slash command (``/sora a cat``,
``/admin limits max_concurrent:2``), ``click #3 Remix``, ``as bob``, ``show``, ``help`` or
``quit``. After an action the prompt waits until the bot has answered and no video is
still being made or posted, then prints the messages that are new or changed.

A line that cannot be carried out (a command the member may not use, a typo, an option
the bot rejects, anything the emulators refuse) prints one ``! …`` line and the prompt
goes on. This module only talks to ``DemoChannel``; that class drives the emulators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from bot.cli.demo_commands import Refused, TypedCommandError, usage_lines
from bot.cli.demo_input import LineSource

if TYPE_CHECKING:
    from bot.cli.demo import PromptChannel

QUIT_WORDS = ("quit", "exit")
REMIX_FORM_PROMPT = "Remix form, new prompt (Enter keeps the old one): "
#: Errors whose message alone says what went wrong (no exception name needed).
PLAIN_ERRORS = (Refused, LookupError, ValueError, PermissionError, AssertionError)


class Repl:
    """Reads commands until ``quit`` or the end of input; prints what changed after each."""

    def __init__(self, channel: PromptChannel, inp: TextIO, out: TextIO) -> None:
        self.channel = channel
        self.lines = LineSource(inp)
        self.out = out
        self.user = channel.member_names()[0]
        channel.mark_shown()

    def say(self, text: str) -> None:
        """Print a line."""
        self.out.write(text + "\n")
        self.out.flush()

    async def ask(self, prompt: str) -> str:
        """Show ``prompt`` and read one line (``""`` at the end of input)."""
        self.out.write(prompt)
        self.out.flush()
        return await self.lines.readline()

    async def run(self) -> str:
        """Read and run commands; returns why it stopped (``quit``, ``end of input``)."""
        self.say("")
        self.say(self.help_text())
        while True:
            line = await self.ask(f"{self.user}> ")
            if not line:
                self.say("")
                return "end of input"
            command = line.strip()
            if command in QUIT_WORDS:
                return command
            if command:
                await self.handle(command)

    async def handle(self, command: str) -> None:
        """Run one typed command; an error is one ``!`` line, never the end of the prompt."""
        try:
            await self._dispatch(command)
        except PLAIN_ERRORS as exc:
            self.say(f"! {_first_line(exc)}")
        except Exception as exc:  # one broken command must not end the demo
            self.say(f"! {type(exc).__name__}: {_first_line(exc)}")
        self.channel.print_unseen(self.say)

    async def _dispatch(self, command: str) -> None:
        word, _, rest = command.partition(" ")
        if command == "show":
            self.say(self.channel.transcript())
            self.channel.mark_shown()
        elif command == "help":
            self.say(self.help_text())
        elif word == "as":
            self.user = self.channel.member(rest.strip()).name
            self.say(f"now acting as {self.user}")
        elif word == "click":
            await self._click(rest.split())
            await self.channel.settle()
        elif command.startswith("/"):
            await self.channel.typed_command(self.user, command[1:])
            await self.channel.settle()
        else:
            raise TypedCommandError(f"unknown command {word!r}; type help")

    async def _click(self, args: list[str]) -> None:
        if not args:
            raise TypedCommandError("which message? e.g. click #2 Remix")
        label = args[0] if args[0].startswith("#") else f"#{args[0]}"
        wanted = " ".join(args[1:]) or "Remix"
        if self.channel.is_remix_button(label, wanted):
            prompt = (await self.ask(REMIX_FORM_PROMPT)).strip()
            await self.channel.press_remix(self.user, label, prompt or None)
        else:
            await self.channel.press(self.user, label, wanted)

    def help_text(self) -> str:
        """Everything that can be typed, for the member acting now."""
        lines = [f"Type a command (acting as {self.user}):"]
        for definition in self.channel.commands():
            hidden = self.channel.hidden_note(self.user, definition)
            usages = usage_lines(definition)
            if hidden and len(usages) > 1:
                lines.append(f"  /{definition['name']} … ({hidden})")
            elif hidden:
                usages = [(f"{usages[0][0]} ({hidden})", usages[0][1])]
            for usage, description in usages:
                lines.append(f"  {usage}")
                if description:
                    lines.append(f"      {description}")
        members = ", ".join(
            name + (f" ({needed})" if needed else "")
            for name, needed in self.channel.member_notes().items()
        )
        lines += [
            "  Options are name:value (/admin limits max_concurrent:2); text without a name",
            "  fills the required options in order (/remix <video id> <prompt>).",
            "  click <#n> [button]   press a button under message #n (default Remix)",
            f"  as <member>           act as another member: {members}",
            "  show                  print the whole channel again",
            "  help                  this list",
            "  quit                  stop the bot and leave (Ctrl-D and Ctrl-C too)",
        ]
        return "\n".join(lines)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
