"""Registered application commands and the slash/autocomplete ``data`` a user's client would send.

Bulk overwrites keep a command's id when its name and type survive (as Discord does). Building a
slash invocation follows the registered definition: subcommand nesting, option types, required
options, choices, ``resolved`` users/roles/channels/attachments, and ``default_member_permissions``
(the Discord client hides a command from members who lack them, so the driver refuses too).
"""

from __future__ import annotations

import builtins
import copy
from dataclasses import dataclass, field
from typing import Any

from .models import FakeAttachment, FakeChannel, FakeGuild, FakeRole, FakeUser
from .permissions import Permission
from .state import EmulatorState


class OptionType:
    """Application command option types."""

    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


class CommandNotAvailable(PermissionError):
    """The user's Discord client would not offer this command to them."""


class CommandRegistry:
    """Commands per scope (``None`` = global, else a guild id) plus write statistics."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self.writes = 0

    def list(self, guild_id: int | None) -> builtins.list[dict[str, Any]]:
        """Commands registered in one scope."""
        return self._state.commands.get(guild_id, [])

    def all(self) -> builtins.list[dict[str, Any]]:
        """Every registered command (guild ones carry ``guild_id``)."""
        return [cmd for scope in self._state.commands.values() for cmd in scope]

    def overwrite(
        self, guild_id: int | None, definitions: builtins.list[dict[str, Any]]
    ) -> builtins.list[dict[str, Any]]:
        """Bulk overwrite one scope; returns the stored commands."""
        self.writes += 1
        previous = {(c["name"], c.get("type", 1)): c for c in self.list(guild_id)}
        stored = [
            self._store(guild_id, d, previous.get((d.get("name"), d.get("type", 1))))
            for d in definitions
        ]
        self._state.commands[guild_id] = stored
        return stored

    def upsert(self, guild_id: int | None, definition: dict[str, Any]) -> dict[str, Any]:
        """Create or replace one command by name and type."""
        self.writes += 1
        commands = self.list(guild_id)
        key = (definition.get("name"), definition.get("type", 1))
        old = next((c for c in commands if (c["name"], c.get("type", 1)) == key), None)
        stored = self._store(guild_id, definition, old)
        self._state.commands[guild_id] = [c for c in commands if c is not old] + [stored]
        return stored

    def delete(self, guild_id: int | None, command_id: int) -> bool:
        """Remove one command; False if it did not exist."""
        commands = self.list(guild_id)
        kept = [c for c in commands if int(c["id"]) != command_id]
        if len(kept) == len(commands):
            return False
        self.writes += 1
        self._state.commands[guild_id] = kept
        return True

    def _store(
        self, guild_id: int | None, definition: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        command = copy.deepcopy(definition)
        command["id"] = old["id"] if old else str(self._state.new_id())
        command["application_id"] = str(self._state.application_id)
        command["version"] = str(self._state.new_id())
        command.setdefault("type", 1)
        command.setdefault("description", "")
        permissions = command.get("default_member_permissions")
        command["default_member_permissions"] = None if permissions is None else str(permissions)
        command.setdefault("nsfw", False)
        command.setdefault("contexts", None)
        if command.get("integration_types") is None:
            command["integration_types"] = [0]
        if guild_id is not None:
            command["guild_id"] = str(guild_id)
        return command

    def find(self, guild: FakeGuild, name: str, command_type: int = 1) -> dict[str, Any]:
        """The command a user in ``guild`` would get for ``name`` (guild scope wins)."""
        for scope in (guild.id, None):
            for command in self.list(scope):
                if command["name"] == name and command.get("type", 1) == command_type:
                    return command
        known = sorted({c["name"] for c in self.list(guild.id) + self.list(None)})
        raise LookupError(
            f"/{name} is not registered for guild {guild.name!r}; registered: {known}"
        )


def check_available(
    state: EmulatorState, guild: FakeGuild, user: FakeUser, command: dict[str, Any]
) -> None:
    """Refuse like the Discord client does when ``default_member_permissions`` hides the command."""
    required = command.get("default_member_permissions")
    if required is None:
        return
    perms = state.member_permissions(guild, user.id)
    if perms & Permission.ADMINISTRATOR:
        return
    needed = int(required)
    if needed == 0 or perms & needed != needed:
        raise CommandNotAvailable(
            f"{user.name} cannot see /{command['name']} (needs permissions {needed})"
        )


@dataclass
class InvocationBuilder:
    """Builds ``data`` for a slash command or autocomplete from driver-friendly values."""

    state: EmulatorState
    guild: FakeGuild
    channel: FakeChannel
    user: FakeUser
    resolved: dict[str, dict[str, Any]] = field(default_factory=dict)

    def build(
        self,
        command: dict[str, Any],
        path: list[str],
        values: dict[str, Any],
        attachments: list[FakeAttachment],
        focused: str | None = None,
    ) -> dict[str, Any]:
        """The interaction ``data`` object, including ``resolved`` when options reference objects."""
        definitions = command.get("options") or []
        leaf_defs, wrap = self._descend(definitions, path, command["name"])
        options = self._options(leaf_defs, dict(values), list(attachments), focused)
        data: dict[str, Any] = {
            "id": command["id"],
            "name": command["name"],
            "type": command.get("type", 1),
            "options": wrap(options),
        }
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        if self.resolved:
            data["resolved"] = self.resolved
        return data

    def _descend(
        self, definitions: list[dict[str, Any]], path: list[str], name: str
    ) -> tuple[list[dict[str, Any]], Any]:
        """Follow subcommand groups/subcommands; returns leaf option defs and a wrapper."""
        wrappers = []
        for part in path:
            sub = next((d for d in definitions if d["name"] == part and d["type"] in (1, 2)), None)
            if sub is None:
                raise LookupError(f"/{name} has no subcommand {part!r}")
            wrappers.append(sub)
            definitions = sub.get("options") or []
        if any(d.get("type") in (1, 2) for d in definitions):
            raise LookupError(f"/{name} {' '.join(path)} needs a subcommand")

        def wrap(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
            for sub in reversed(wrappers):
                options = [{"name": sub["name"], "type": sub["type"], "options": options}]
            return options

        return definitions, wrap

    def _options(
        self,
        definitions: list[dict[str, Any]],
        values: dict[str, Any],
        attachments: list[FakeAttachment],
        focused: str | None,
    ) -> list[dict[str, Any]]:
        by_name = {d["name"]: d for d in definitions}
        for definition in definitions:
            if (
                definition["type"] == OptionType.ATTACHMENT
                and definition["name"] not in values
                and attachments
            ):
                values[definition["name"]] = attachments.pop(0)
        unknown = set(values) - set(by_name)
        if unknown or attachments:
            raise LookupError(
                f"unknown options {sorted(unknown)} or unused attachments; options are {sorted(by_name)}"
            )
        missing = [d["name"] for d in definitions if d.get("required") and d["name"] not in values]
        if missing and focused is None:
            raise ValueError(f"required options missing: {missing}")
        return [
            self._option(by_name[name], value, name == focused) for name, value in values.items()
        ]

    def _option(self, definition: dict[str, Any], value: Any, focused: bool) -> dict[str, Any]:
        option = {"name": definition["name"], "type": definition["type"]}
        if focused:
            option.update(value=str(value), focused=True)
            return option
        option["value"] = self._convert(definition, value)
        choices = definition.get("choices")
        if choices and option["value"] not in [c["value"] for c in choices]:
            raise ValueError(f"{value!r} is not a choice of option {definition['name']!r}")
        return option

    def _convert(self, definition: dict[str, Any], value: Any) -> Any:
        kind = definition["type"]
        if kind == OptionType.STRING:
            return str(value)
        if kind == OptionType.INTEGER:
            return int(value)
        if kind == OptionType.NUMBER:
            return float(value)
        if kind == OptionType.BOOLEAN:
            return bool(value)
        return self._resolve(kind, value)

    def _resolve(self, kind: int, value: Any) -> str:
        """Put a referenced object into ``resolved`` and return its id as the option value."""
        if isinstance(value, FakeAttachment):
            stored = self.state.store_attachment(self.channel.id, value, ephemeral=True)
            self.resolved.setdefault("attachments", {})[str(stored.id)] = stored.payload()
            return str(stored.id)
        if isinstance(value, FakeUser):
            self.resolved.setdefault("users", {})[str(value.id)] = value.payload()
            if value.id in self.guild.members:
                member = self.state.member_payload(self.guild, value.id, with_permissions=True)
                member.pop("user")
                self.resolved.setdefault("members", {})[str(value.id)] = member
            return str(value.id)
        if isinstance(value, FakeRole):
            self.resolved.setdefault("roles", {})[str(value.id)] = value.payload()
            return str(value.id)
        if isinstance(value, FakeChannel):
            channel = self.state.channel_payload(value)
            channel["permissions"] = str(self.state.member_permissions(self.guild, self.user.id))
            self.resolved.setdefault("channels", {})[str(value.id)] = channel
            return str(value.id)
        raise TypeError(
            f"option of type {kind} needs a FakeUser/FakeRole/FakeChannel/FakeAttachment, got {value!r}"
        )
