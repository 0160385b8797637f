"""Discord's documented limits on messages, components, modals, choices and commands.

Each ``check_*`` function returns ``FieldError``s (empty when the payload is fine) with the string
codes Discord uses, so the caller can answer 400 / 50035 with a realistic ``errors`` tree. The
functions are defensive about types: the contract validator reports type errors separately.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .errors import FieldError, PathPart
from .models import MessageFlag, iter_components

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
ACTION_ROWS_MAX = 5
ROW_ITEMS_MAX = 5
V2_COMPONENTS_MAX = 40
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
MODAL_TITLE_MAX = 45
MODAL_COMPONENTS_MAX = 5
TEXT_INPUT_MAX = 4000
TEXT_INPUT_LABEL_MAX = 45
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_VALUE_MAX = 100
COMMAND_OPTIONS_MAX = 25
COMMAND_DESCRIPTION_MAX = 100
GLOBAL_CHAT_COMMANDS_MAX = 100

_BUTTON, _TEXT_INPUT = 2, 4
_SELECT_TYPES = {3, 5, 6, 7, 8}
_ACTION_ROW, _LABEL = 1, 18
_LINK_STYLE, _PREMIUM_STYLE = 5, 6
_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")


def too_long(path: tuple[PathPart, ...], limit: int) -> FieldError:
    """Discord's error for a string or list over its maximum."""
    return FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def bad_length(path: tuple[PathPart, ...], low: int, high: int) -> FieldError:
    """Discord's error for a string or list outside ``low..high``."""
    return FieldError(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def required(path: tuple[PathPart, ...]) -> FieldError:
    """Discord's error for a missing required field."""
    return FieldError(path, "BASE_TYPE_REQUIRED", "This field is required")


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list) else 0


def _max(path: tuple[PathPart, ...], value: Any, limit: int) -> Iterator[FieldError]:
    if _length(value) > limit:
        yield too_long(path, limit)


# --- messages -------------------------------------------------------------------------------


def check_message(payload: dict[str, Any]) -> list[FieldError]:
    """All limits of a message create/edit body (channel, webhook or interaction response)."""
    errors = list(_max(("content",), payload.get("content"), CONTENT_MAX))
    errors += check_embeds(payload.get("embeds") or [])
    raw_flags = payload.get("flags")
    flags = raw_flags if isinstance(raw_flags, int) else 0
    errors += check_components(
        payload.get("components") or [], v2=bool(flags & MessageFlag.IS_COMPONENTS_V2)
    )
    if flags & MessageFlag.IS_COMPONENTS_V2:
        errors += _legacy_fields_with_v2(payload)
    return errors


def _legacy_fields_with_v2(payload: dict[str, Any]) -> list[FieldError]:
    code, text = (
        "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
        (
            "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2"
        ),
    )
    return [FieldError((key,), code, text) for key in ("content", "embeds") if payload.get(key)]


def embed_size(embed: dict[str, Any]) -> int:
    """Characters that count towards the 6000 total: title, description, fields, footer, author."""
    size = _length(embed.get("title")) + _length(embed.get("description"))
    for fld in embed.get("fields") or []:
        if isinstance(fld, dict):
            size += _length(fld.get("name")) + _length(fld.get("value"))
    for key in ("footer", "author"):
        part = embed.get(key)
        if isinstance(part, dict):
            size += _length(part.get("text" if key == "footer" else "name"))
    return size


def check_embeds(embeds: list[Any]) -> list[FieldError]:
    """Per-embed limits, the count limit and the 6000-character total."""
    if not isinstance(embeds, list):
        return []
    errors = list(_max(("embeds",), embeds, EMBEDS_MAX))
    for index, embed in enumerate(embeds):
        if isinstance(embed, dict):
            errors += _check_embed(("embeds", index), embed)
    if sum(embed_size(e) for e in embeds if isinstance(e, dict)) > EMBED_TOTAL_MAX:
        errors.append(
            FieldError(
                ("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
            )
        )
    return errors


def _check_embed(path: tuple[PathPart, ...], embed: dict[str, Any]) -> list[FieldError]:
    errors = list(_max((*path, "title"), embed.get("title"), EMBED_TITLE_MAX))
    errors += _max((*path, "description"), embed.get("description"), EMBED_DESCRIPTION_MAX)
    footer, author = embed.get("footer"), embed.get("author")
    if isinstance(footer, dict):
        errors += _max((*path, "footer", "text"), footer.get("text"), EMBED_FOOTER_MAX)
    if isinstance(author, dict):
        errors += _max((*path, "author", "name"), author.get("name"), EMBED_AUTHOR_MAX)
    fields = embed.get("fields") or []
    errors += _max((*path, "fields"), fields, EMBED_FIELDS_MAX)
    for index, fld in enumerate(fields if isinstance(fields, list) else []):
        if isinstance(fld, dict):
            errors += _check_embed_field((*path, "fields", index), fld)
    return errors


def _check_embed_field(path: tuple[PathPart, ...], fld: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    for key, limit in (("name", EMBED_FIELD_NAME_MAX), ("value", EMBED_FIELD_VALUE_MAX)):
        if not fld.get(key):
            errors.append(required((*path, key)))
        errors += _max((*path, key), fld.get(key), limit)
    return errors


def check_components(components: list[Any], *, v2: bool = False) -> list[FieldError]:
    """Layout limits (rows, buttons per row, V2 total), item limits and custom_id uniqueness."""
    if not isinstance(components, list):
        return []
    if v2:
        errors = []
        if len(iter_components(components)) > V2_COMPONENTS_MAX:
            errors.append(too_long(("components",), V2_COMPONENTS_MAX))
    else:
        errors = _check_legacy_layout(components)
    errors += _check_items(components, ("components",))
    errors += _check_unique_custom_ids(components)
    return errors


def _check_legacy_layout(rows: list[Any]) -> list[FieldError]:
    errors = list(_max(("components",), rows, ACTION_ROWS_MAX))
    for index, row in enumerate(rows):
        path: tuple[PathPart, ...] = ("components", index)
        if not isinstance(row, dict) or row.get("type") != _ACTION_ROW:
            errors.append(
                FieldError(
                    (*path, "type"),
                    "COMPONENT_LAYOUT_V2_REQUIRED",
                    "Top-level components must be action rows unless the IS_COMPONENTS_V2 flag is set",
                )
            )
            continue
        children = row.get("components") or []
        if not children:
            errors.append(bad_length((*path, "components"), 1, ROW_ITEMS_MAX))
        errors += _max((*path, "components"), children, ROW_ITEMS_MAX)
        has_select = any(isinstance(c, dict) and c.get("type") in _SELECT_TYPES for c in children)
        if has_select and len(children) > 1:
            errors.append(
                FieldError(
                    (*path, "components"),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
            )
    return errors


def _walk_with_paths(
    components: list[Any], path: tuple[PathPart, ...]
) -> Iterator[tuple[tuple[PathPart, ...], dict[str, Any]]]:
    for index, comp in enumerate(components):
        if not isinstance(comp, dict):
            continue
        here = (*path, index)
        yield here, comp
        if isinstance(comp.get("components"), list):
            yield from _walk_with_paths(comp["components"], (*here, "components"))
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                yield (*here, key), comp[key]
                if isinstance(comp[key].get("components"), list):
                    yield from _walk_with_paths(comp[key]["components"], (*here, key, "components"))


def _check_items(components: list[Any], root: tuple[PathPart, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    for path, comp in _walk_with_paths(components, root):
        ctype = comp.get("type")
        if ctype == _BUTTON:
            errors += _check_button(path, comp)
        elif ctype in _SELECT_TYPES:
            errors += _check_custom_id(path, comp.get("custom_id"))
            errors += _max((*path, "options"), comp.get("options"), SELECT_OPTIONS_MAX)
        elif ctype == _TEXT_INPUT:
            errors += _check_text_input(path, comp)
        elif ctype == _LABEL:
            errors += _max((*path, "label"), comp.get("label"), TEXT_INPUT_LABEL_MAX)
    return errors


def _check_button(path: tuple[PathPart, ...], button: dict[str, Any]) -> list[FieldError]:
    errors = list(_max((*path, "label"), button.get("label"), BUTTON_LABEL_MAX))
    if button.get("style") not in (_LINK_STYLE, _PREMIUM_STYLE):
        errors += _check_custom_id(path, button.get("custom_id"))
    elif button.get("style") == _LINK_STYLE and not button.get("url"):
        errors.append(required((*path, "url")))
    return errors


def _check_custom_id(path: tuple[PathPart, ...], custom_id: Any) -> list[FieldError]:
    if custom_id is None:
        return [required((*path, "custom_id"))]
    if not 1 <= _length(custom_id) <= CUSTOM_ID_MAX:
        return [bad_length((*path, "custom_id"), 1, CUSTOM_ID_MAX)]
    return []


def _check_text_input(path: tuple[PathPart, ...], text_input: dict[str, Any]) -> list[FieldError]:
    errors = _check_custom_id(path, text_input.get("custom_id"))
    errors += _max((*path, "label"), text_input.get("label"), TEXT_INPUT_LABEL_MAX)
    errors += _max((*path, "value"), text_input.get("value"), TEXT_INPUT_MAX)
    for key in ("min_length", "max_length"):
        value = text_input.get(key)
        if isinstance(value, int) and value > TEXT_INPUT_MAX:
            errors.append(
                FieldError(
                    (*path, key),
                    "NUMBER_TYPE_MAX",
                    f"int value should be less than or equal to {TEXT_INPUT_MAX}.",
                )
            )
    return errors


def _check_unique_custom_ids(
    components: list[Any], root: tuple[PathPart, ...] = ("components",)
) -> list[FieldError]:
    seen: set[str] = set()
    errors: list[FieldError] = []
    for path, comp in _walk_with_paths(components, root):
        custom_id = comp.get("custom_id")
        if not isinstance(custom_id, str):
            continue
        if custom_id in seen:
            errors.append(
                FieldError(
                    (*path, "custom_id"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                )
            )
        seen.add(custom_id)
    return errors


# --- interaction callbacks ------------------------------------------------------------------


def check_modal(data: dict[str, Any]) -> list[FieldError]:
    """Modal limits: title 1..45, 1..5 components, custom ids, text inputs up to 4000."""
    title = data.get("title")
    errors = (
        []
        if 1 <= _length(title) <= MODAL_TITLE_MAX
        else [bad_length(("title",), 1, MODAL_TITLE_MAX)]
    )
    errors += _check_custom_id((), data.get("custom_id"))
    raw_components = data.get("components")
    components = raw_components if isinstance(raw_components, list) else []
    if not 1 <= len(components) <= MODAL_COMPONENTS_MAX:
        errors.append(bad_length(("components",), 1, MODAL_COMPONENTS_MAX))
    errors += _check_items(components, ("components",))
    errors += _check_unique_custom_ids(components)
    return errors


def check_choices(data: dict[str, Any]) -> list[FieldError]:
    """Autocomplete result limits: at most 25 choices, names 1..100, string values up to 100."""
    choices = data.get("choices") or []
    if not isinstance(choices, list):
        return []
    errors = list(_max(("choices",), choices, CHOICES_MAX))
    for index, choice in enumerate(choices):
        if not isinstance(choice, dict):
            continue
        if not 1 <= _length(choice.get("name")) <= CHOICE_NAME_MAX:
            errors.append(bad_length(("choices", index, "name"), 1, CHOICE_NAME_MAX))
        errors += _max(("choices", index, "value"), choice.get("value"), CHOICE_VALUE_MAX)
    return errors


# --- application commands -------------------------------------------------------------------


def check_commands(commands: list[Any], *, global_scope: bool) -> list[FieldError]:
    """Registration limits for a bulk overwrite: names, descriptions, option and choice counts."""
    errors: list[FieldError] = []
    chat_input = [c for c in commands if isinstance(c, dict) and c.get("type", 1) == 1]
    if global_scope and len(chat_input) > GLOBAL_CHAT_COMMANDS_MAX:
        errors.append(too_long((), GLOBAL_CHAT_COMMANDS_MAX))
    for index, command in enumerate(commands):
        if isinstance(command, dict):
            errors += check_command(command, (index,))
    return errors


def check_command(command: dict[str, Any], path: tuple[PathPart, ...] = ()) -> list[FieldError]:
    """One command's name, description and options."""
    errors: list[FieldError] = []
    chat_input = command.get("type", 1) == 1
    name = command.get("name")
    if (
        not isinstance(name, str)
        or not _COMMAND_NAME.match(name)
        or (chat_input and name != name.lower())
    ):
        errors.append(
            FieldError(
                (*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
            )
        )
    if chat_input:
        errors += _check_description(path, command.get("description"))
    errors += _check_options((*path, "options"), command.get("options") or [])
    return errors


def _check_description(path: tuple[PathPart, ...], description: Any) -> list[FieldError]:
    if not 1 <= _length(description) <= COMMAND_DESCRIPTION_MAX:
        return [bad_length((*path, "description"), 1, COMMAND_DESCRIPTION_MAX)]
    return []


def _check_options(path: tuple[PathPart, ...], options: list[Any]) -> list[FieldError]:
    if not isinstance(options, list):
        return []
    errors = list(_max(path, options, COMMAND_OPTIONS_MAX))
    for index, option in enumerate(options):
        if not isinstance(option, dict):
            continue
        here = (*path, index)
        errors += _check_description(here, option.get("description"))
        errors += _max((*here, "choices"), option.get("choices"), CHOICES_MAX)
        errors += _check_options((*here, "options"), option.get("options") or [])
    return errors


def check_reply_channel(reference: dict[str, Any], channel_id: int) -> FieldError | None:
    """A reply must be posted in its target's channel.

    A ``message_reference`` naming another ``channel_id`` is refused with this field error
    (400 50035), whatever ``fail_if_not_exists`` says; one naming no channel is looked up in
    the posting channel, so a target elsewhere is an unknown message instead. Seen against
    Discord: https://github.com/Rapptz/discord.py/pull/6061 (review: "cannot reply to a
    message from a different channel" with ``channel_id``, "unknown message" without) and
    https://github.com/aoijs/aoi.js/issues/209 ("Invalid Form Body / message_reference: Cannot
    reply to a message in a different channel").
    """
    named = reference.get("channel_id")
    try:
        other = named is not None and int(named) != channel_id
    except (TypeError, ValueError):
        other = False
    if not other:
        return None
    return FieldError(
        ("message_reference",),
        "REPLIES_CANNOT_REFERENCE_OTHER_CHANNEL",
        "Cannot reply to a message in a different channel",
    )
