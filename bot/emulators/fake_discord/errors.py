"""Discord's error responses: JSON codes, messages and the nested ``errors`` tree of 50035.

Field-level codes are strings (e.g. ``"BASE_TYPE_MAX_LENGTH"``) as the real API returns them; the
official OpenAPI spec wrongly types them as integers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

PathPart = str | int


@dataclass(frozen=True)
class FieldError:
    """One entry of a 50035 ``errors`` tree: where it is, its string code, its message."""

    path: tuple[PathPart, ...]
    code: str
    message: str


@dataclass
class DiscordError(Exception):
    """An HTTP error the emulator answers with, shaped like Discord's JSON error body."""

    status: int
    code: int
    message: str
    errors: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.code} {self.message}")

    def body(self) -> dict[str, Any]:
        """The JSON body Discord sends for this error."""
        payload: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            payload["errors"] = self.errors
        return payload


def error_tree(errors: Iterable[FieldError], prefix: Sequence[PathPart] = ()) -> dict[str, Any]:
    """Nest field errors the way Discord does: ``{"embeds": {"0": {"title": {"_errors": [...]}}}}``."""
    tree: dict[str, Any] = {}
    for err in errors:
        node = tree
        for part in (*prefix, *err.path):
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": err.code, "message": err.message})
    return tree


def invalid_form_body(
    errors: Sequence[FieldError], prefix: Sequence[PathPart] = ()
) -> DiscordError:
    """400 / 50035 "Invalid Form Body" with the nested tree of field errors."""
    return DiscordError(400, 50035, "Invalid Form Body", errors=error_tree(errors, prefix))


def unknown_channel() -> DiscordError:
    return DiscordError(404, 10003, "Unknown Channel")


def unknown_guild() -> DiscordError:
    return DiscordError(404, 10004, "Unknown Guild")


def unknown_member() -> DiscordError:
    return DiscordError(404, 10007, "Unknown Member")


def unknown_message() -> DiscordError:
    return DiscordError(404, 10008, "Unknown Message")


def unknown_user() -> DiscordError:
    return DiscordError(404, 10013, "Unknown User")


def unknown_webhook() -> DiscordError:
    return DiscordError(404, 10015, "Unknown Webhook")


def unknown_interaction() -> DiscordError:
    return DiscordError(404, 10062, "Unknown interaction")


def unknown_command() -> DiscordError:
    return DiscordError(404, 10063, "Unknown application command")


def unauthorized() -> DiscordError:
    return DiscordError(401, 0, "401: Unauthorized")


def invalid_webhook_token() -> DiscordError:
    return DiscordError(401, 50027, "Invalid Webhook Token")


def missing_access() -> DiscordError:
    return DiscordError(403, 50001, "Missing Access")


def missing_permissions() -> DiscordError:
    return DiscordError(403, 50013, "Missing Permissions")


def cannot_edit_other_users_message() -> DiscordError:
    return DiscordError(403, 50005, "Cannot edit a message authored by another user")


def thread_locked() -> DiscordError:
    return DiscordError(403, 160005, "Thread is locked")


def empty_message() -> DiscordError:
    return DiscordError(400, 50006, "Cannot send an empty message")


def already_acknowledged() -> DiscordError:
    return DiscordError(400, 40060, "Interaction has already been acknowledged")


def entity_too_large() -> DiscordError:
    return DiscordError(413, 40005, "Request entity too large")


def invalid_json() -> DiscordError:
    return DiscordError(400, 50109, "The request body contains invalid JSON.")


def not_found_route() -> DiscordError:
    return DiscordError(404, 0, "404: Not Found")


def method_not_allowed() -> DiscordError:
    return DiscordError(405, 0, "405: Method Not Allowed")
