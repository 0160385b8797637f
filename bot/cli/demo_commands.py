"""Slash commands typed at the demo's prompt, read against the bot's registered definitions.

``/admin limits max_concurrent:2`` becomes the command path ``["admin", "limits"]`` and the
options ``{"max_concurrent": 2}``, as Discord's client would send them: subcommand groups and
subcommands are the leading words that name one, ``name:value`` pairs set options, and text
without a name fills the required options in order (the last one takes the rest of the line,
so ``/remix k7q2mx the boat is on fire`` works). Values are converted by the option's type;
members and channels are looked up by name through the caller's ``lookup``.

Pure: definitions are the JSON dicts Discord stores; nothing here talks to the emulators.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)
TYPE_WORDS = {
    STRING: "text",
    INTEGER: "whole number",
    BOOLEAN: "true|false",
    USER: "member",
    CHANNEL: "channel",
    ROLE: "role",
    MENTIONABLE: "member or role",
    NUMBER: "number",
    ATTACHMENT: "file",
}
#: Permission bits as Discord's server settings name them (the ones commands usually ask for).
PERMISSION_NAMES = {
    1 << 3: "Administrator",
    1 << 4: "Manage Channels",
    1 << 5: "Manage Server",
    1 << 13: "Manage Messages",
    1 << 28: "Manage Roles",
    1 << 34: "Manage Threads",
}
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")

#: Finds a member, channel or role by the name typed (``USER``/``CHANNEL``/``ROLE``, name).
Lookup = Callable[[int, str], Any]


class Refused(Exception):
    """An action the demo could not carry out; the message says why, for the person typing."""


class TypedCommandError(Refused, ValueError):
    """What was typed does not fit the command; the message says how, in one line."""


@dataclass(frozen=True)
class TypedCommand:
    """A typed slash command: its path (``["admin", "stats"]``) and raw option texts."""

    path: list[str]
    options: dict[str, str]
    leaf: list[dict[str, Any]]

    @property
    def name(self) -> str:
        """``admin stats``, the form ``FakeDiscord.slash`` takes."""
        return " ".join(self.path)


def find_command(definitions: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The registered chat-input command called ``name``."""
    for definition in definitions:
        if definition.get("name") == name and definition.get("type", 1) == 1:
            return definition
    known = ", ".join(f"/{d['name']}" for d in definitions if d.get("type", 1) == 1)
    raise TypedCommandError(f"the bot has no /{name} command (it has {known})")


def parse_typed(definition: dict[str, Any], rest: str) -> TypedCommand:
    """Split ``rest`` (what follows ``/name``) into subcommands and raw option texts."""
    path = [definition["name"]]
    options: list[dict[str, Any]] = definition.get("options") or []
    while any(o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in options):
        word, _, rest = rest.strip().partition(" ")
        subs = {o["name"]: o for o in options if o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP)}
        if word not in subs:
            said = f"{word!r} is not one of them" if word else "none given"
            raise TypedCommandError(
                f"/{' '.join(path)} needs a subcommand: {' | '.join(subs)} ({said})"
            )
        path.append(word)
        options = subs[word].get("options") or []
    return TypedCommand(path, _option_texts(options, rest.strip()), options)


def _option_texts(options: list[dict[str, Any]], text: str) -> dict[str, str]:
    """``name:value`` pairs, then the unnamed text spread over the required options."""
    names = [o["name"] for o in options]
    found: dict[str, str] = {}
    free = text
    if names:
        pattern = re.compile(r"(?:^|\s)(" + "|".join(map(re.escape, names)) + r"):\s*")
        pieces = pattern.split(text)
        free = pieces[0].strip()
        for key, value in zip(pieces[1::2], pieces[2::2], strict=True):
            found[key] = value.strip()
    if free:
        targets = [o["name"] for o in options if o.get("required") and o["name"] not in found]
        if not targets:
            targets = [o["name"] for o in options if o["name"] not in found][:1]
        if not targets:
            raise TypedCommandError(f"{free!r} is not an option; name it like key:value")
        words = free.split(maxsplit=len(targets) - 1)
        found.update(zip(targets, words, strict=False))
    return found


def convert_options(typed: TypedCommand, lookup: Lookup) -> dict[str, Any]:
    """The options with values of their declared types (choices by name or value)."""
    by_name = {o["name"]: o for o in typed.leaf}
    return {name: convert(by_name[name], text, lookup) for name, text in typed.options.items()}


def convert(option: dict[str, Any], text: str, lookup: Lookup) -> Any:
    """One option's typed text as the value Discord's client would send."""
    name, kind = option["name"], int(option.get("type", STRING))
    for choice in option.get("choices") or []:
        if text in (choice["name"], str(choice["value"])):
            return choice["value"]
    try:
        if kind == INTEGER:
            return int(text)
        if kind == NUMBER:
            return float(text)
    except ValueError:
        raise TypedCommandError(f"{name} must be a {TYPE_WORDS[kind]}, not {text!r}") from None
    if kind == BOOLEAN:
        if text.lower() not in _TRUE + _FALSE:
            raise TypedCommandError(f"{name} must be true or false, not {text!r}")
        return text.lower() in _TRUE
    if kind in (USER, CHANNEL, ROLE, MENTIONABLE):
        return lookup(USER if kind == MENTIONABLE else kind, text.lstrip("@#"))
    if kind == ATTACHMENT:
        raise TypedCommandError(f"{name} takes a file, which cannot be typed here")
    return text


def needed_permissions(definition: Mapping[str, Any]) -> str | None:
    """``Manage Server`` for a command Discord hides from members without it, else None."""
    raw = definition.get("default_member_permissions")
    if raw is None:
        return None
    bits = int(raw)
    if bits == 0:
        return "Administrator"
    names = [label for bit, label in PERMISSION_NAMES.items() if bits & bit]
    unknown = bits & ~sum(PERMISSION_NAMES)
    names += [f"permission bit {b}" for b in range(64) if unknown >> b & 1]
    return " and ".join(names)


# --- help --------------------------------------------------------------------------------------


def usage_lines(definition: dict[str, Any]) -> list[tuple[str, str]]:
    """``(usage, description)`` per leaf: ``/admin limits [max_concurrent:whole number] …``."""
    lines: list[tuple[str, str]] = []

    def walk(path: list[str], options: list[dict[str, Any]], description: str) -> None:
        subs = [o for o in options if o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        if not subs:
            usage = " ".join(["/" + " ".join(path), *filter(None, map(_usage, options))])
            lines.append((usage, description))
        for sub in subs:
            walk([*path, sub["name"]], sub.get("options") or [], sub.get("description", ""))

    walk([definition["name"]], definition.get("options") or [], definition.get("description", ""))
    return lines


def _usage(option: dict[str, Any]) -> str:
    if option.get("type") == ATTACHMENT:
        return ""  # a file cannot be typed at this prompt
    choices = [str(c["name"]) for c in option.get("choices") or []]
    kind = "|".join(choices[:4] + ["…"] * (len(choices) > 4)) or TYPE_WORDS.get(
        option.get("type", STRING), "text"
    )
    if option.get("required"):
        return f"<{option['name']}>"
    return f"[{option['name']}:{kind}]"
