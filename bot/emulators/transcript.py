"""An emulated Discord channel as a readable text transcript (pure functions, no I/O).

Used by ``python -m bot demo`` and its tests. Every message gets a short label (``#1``,
``#2``, ... in channel order) so replies can say what they reply to. A message an
interaction created is headed by what the user did (``alice › /sora prompt: a cat``);
the bot's answer follows indented: content and embeds (title, description, fields) as a
member reads them (``markdown_text``: mentions as ``@name``, timestamps as dates, no
``**`` markers, links as ``text (#4)`` when they jump to a message of the transcript),
attached files with their sizes, and buttons::

    #1 alice › /sora prompt: a paper boat
       sora-bot (edited 3×):
         ▌ Video `k7q2mx`
         ▌ a paper boat
         ▌ Status: Done
    #2 sora-bot, replying to #1:
         @alice your video `k7q2mx` is ready.
         📎 k7q2mx.mp4 · video/mp4 · 4.0 KiB (4,096 bytes)
         [🔁 Remix]
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.emulators.fake_discord.interactions import FakeInteraction, InteractionType
from bot.emulators.fake_discord.models import FakeMessage, iter_components
from bot.emulators.markdown_text import MarkupContext, render_markdown

INDENT = "   "
BODY_INDENT = INDENT + "  "
EMBED_BAR = "▌ "
FIELD_INDENT = "  "
_JUMP_URL = re.compile(r"https://(?:\w+\.)?discord(?:app)?\.com/channels/[\d@me]+/\d+/(\d+)")

#: Interaction types as Discord numbers them (see ``fake_discord.interactions``).
COMMAND, COMPONENT, MODAL_SUBMIT = 2, 3, 5


def message_labels(messages: Iterable[FakeMessage]) -> dict[int, str]:
    """``{message id: "#n"}`` in the given (channel) order, starting at ``#1``."""
    return {message.id: f"#{index}" for index, message in enumerate(messages, start=1)}


def human_size(size: int) -> str:
    """``4.0 KiB (4,096 bytes)``: readable and exact."""
    value, unit = float(size), "bytes"
    for next_unit in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    if unit == "bytes":
        return f"{size:,} bytes"
    return f"{value:.1f} {unit} ({size:,} bytes)"


def describe_command(name: str, options: Mapping[str, Any]) -> str:
    """``/sora prompt: a cat seconds: 8`` as the user typed it."""
    parts = [f"/{name}"] + [f"{key}: {value}" for key, value in options.items()]
    return " ".join(parts)


def describe_click(button: str, message_label: str) -> str:
    """``clicked [🔁 Remix] on #2``."""
    return f"clicked [{button}] on {message_label}"


def describe_modal(title: str, values: Mapping[str, str], via: str | None = None) -> str:
    """``clicked [🔁 Remix] on #2, submitted "Remix k7q2mx" with Prompt: …``."""
    fields = "; ".join(f"{label}: {value}" for label, value in values.items())
    submitted = f'submitted "{title}"' + (f" with {fields}" if fields else "")
    return f"{via}, {submitted}" if via else submitted


def render_transcript(
    messages: Sequence[FakeMessage],
    *,
    names: Mapping[int, str],
    invocations: Mapping[int, str] | None = None,
    title: str | None = None,
    channels: Mapping[int, str] | None = None,
    now: float | None = None,
) -> str:
    """The whole channel: an optional title line, then every message in order.

    ``names`` maps user ids to display names, ``channels`` channel ids to names;
    ``invocations`` maps interaction ids to what the user did (``describe_command`` and
    friends, without the user's name). Messages of an interaction without an entry fall
    back to the interaction metadata. ``now`` (Unix time, default the current time) is
    what relative timestamps (``<t:…:R>``) are shown against.
    """
    labels = message_labels(messages)
    markup = markup_context(labels, names, channels, now)
    lines = [title] if title else []
    for message in messages:
        lines.extend(
            render_message(
                message, labels=labels, names=names, invocations=invocations or {}, markup=markup
            )
        )
    return "\n".join(lines)


def markup_context(
    labels: Mapping[int, str],
    names: Mapping[int, str],
    channels: Mapping[int, str] | None = None,
    now: float | None = None,
) -> MarkupContext:
    """What the reader knows: names, channels, the time, and the labels links jump to."""

    def link_label(url: str) -> str | None:
        jump = _JUMP_URL.fullmatch(url)
        return labels.get(int(jump.group(1))) if jump else None

    return MarkupContext(
        users=names,
        channels=channels or {},
        now=time.time() if now is None else now,
        link_label=link_label,
    )


def render_message(
    message: FakeMessage,
    *,
    labels: Mapping[int, str],
    names: Mapping[int, str],
    invocations: Mapping[int, str],
    markup: MarkupContext | None = None,
) -> list[str]:
    """One message: a header line, then its body indented (``markup``: see ``markup_context``)."""
    label = labels.get(message.id, "#?")
    author = _name(names, message.author_id)
    notes = _notes(message, names)
    invocation = _invocation(message, labels, names, invocations)
    if invocation:
        lines = [f"{label} {invocation}", f"{INDENT}{author}{_reply_note(message, labels)}{notes}:"]
    else:
        lines = [f"{label} {author}{_reply_note(message, labels)}{notes}:"]
    if message.loading:
        lines.append(f"{BODY_INDENT}{author} is thinking…")
    markup = markup or markup_context(labels, names)
    lines.extend(BODY_INDENT + line for line in _body(message, markup))
    return lines


# --- header -------------------------------------------------------------------------------


def _name(names: Mapping[int, str], user_id: int | None) -> str:
    if user_id is None:
        return "someone"
    return names.get(user_id, f"user {user_id}")


def _notes(message: FakeMessage, names: Mapping[int, str]) -> str:
    notes = []
    if message.edit_count:
        notes.append(f"edited {message.edit_count}×")
    if message.ephemeral:
        notes.append(f"only {_name(names, message.visible_to)} can see this")
    if message.deleted:
        notes.append("deleted")
    return f" ({', '.join(notes)})" if notes else ""


def _reply_note(message: FakeMessage, labels: Mapping[int, str]) -> str:
    target = message.reply_to
    if target is None:
        return ""
    return f", replying to {labels.get(target, f'message {target} (not shown)')}"


def _invocation(
    message: FakeMessage,
    labels: Mapping[int, str],
    names: Mapping[int, str],
    invocations: Mapping[int, str],
) -> str | None:
    """``alice › /sora prompt: …`` for messages an interaction created, else None."""
    meta = message.interaction_metadata
    if not meta:
        return None
    user = meta.get("user") or {}
    who = user.get("username") or "someone"
    if user.get("id"):
        who = names.get(int(user["id"]), who)
    did = invocations.get(int(meta["id"])) if meta.get("id") else None
    if did is None:
        did = _fallback_description(meta, labels)
    followup_of = meta.get("original_response_message_id")
    if followup_of:
        did += f" (followup to {labels.get(int(followup_of), 'an earlier answer')})"
    return f"{who} › {did}"


def _fallback_description(meta: Mapping[str, Any], labels: Mapping[int, str]) -> str:
    kind = meta.get("type")
    if kind == COMMAND:
        return f"/{meta.get('name', '?')}"
    if kind == COMPONENT:
        clicked = meta.get("interacted_message_id")
        where = labels.get(int(clicked), "a message") if clicked else "a message"
        return f"clicked a button on {where}"
    if kind == MODAL_SUBMIT:
        trigger = meta.get("triggering_interaction_metadata") or {}
        via = _fallback_description(trigger, labels) if trigger else None
        return describe_modal("a form", {}, via)
    return "used the app"


# --- body ---------------------------------------------------------------------------------


def _body(message: FakeMessage, markup: MarkupContext) -> list[str]:
    lines = render_markdown(message.content, markup).splitlines()
    lines.extend(
        f"📎 {a.filename} · {a.content_type} · {human_size(a.size)}" for a in message.attachments
    )
    for embed in message.embeds:
        lines.extend(_embed(embed, markup))
    buttons = _buttons(message.components)
    if buttons:
        lines.append(" ".join(buttons))
    return lines


def _embed(embed: Mapping[str, Any], markup: MarkupContext) -> list[str]:
    def shown(text: Any) -> str:
        return render_markdown(str(text), markup)

    lines: list[str] = []
    if embed.get("title"):
        lines.append(shown(embed["title"]))
    if embed.get("description"):
        lines.extend(shown(embed["description"]).splitlines())
    inline: list[str] = []
    for field in embed.get("fields") or []:
        name = shown(field.get("name", ""))
        value = shown(field.get("value", "")).splitlines() or [""]
        if field.get("inline"):  # side by side in Discord: one line here
            inline.append(f"{name}: {', '.join(value)}")
            continue
        if inline:
            lines.append(" · ".join(inline))
            inline = []
        lines.append(f"{name}: {value[0]}")
        lines.extend(FIELD_INDENT + line for line in value[1:])
    if inline:
        lines.append(" · ".join(inline))
    return [EMBED_BAR + line for line in lines]


def _buttons(components: list[dict[str, Any]]) -> list[str]:
    found = []
    for component in iter_components(components):
        if component.get("type") != 2:
            continue
        found.append(f"[{button_label(component)}]")
    return found


def button_label(component: Mapping[str, Any]) -> str:
    """A button as users see it: emoji and label (``🔁 Remix``)."""
    emoji = (component.get("emoji") or {}).get("name") or ""
    label = component.get("label") or ""
    text = " ".join(part for part in (emoji, label) if part)
    if component.get("disabled"):
        text += " (disabled)"
    return text or "button"


# --- what a member did --------------------------------------------------------------------

#: Discord's application command option types for a member and a channel.
USER_OPTION, CHANNEL_OPTION = 6, 7


def describe_interaction(ix: FakeInteraction, labels: dict[int, str]) -> str:
    """What the user did in ``ix``, using the transcript's message labels."""
    if ix.type is InteractionType.APPLICATION_COMMAND:
        path, options = _command_path(ix.data)
        return describe_command(" ".join(path), options)
    if ix.type is InteractionType.MESSAGE_COMPONENT and ix.message is not None:
        component = ix.message.find_component(str(ix.data.get("custom_id", "")))
        label = button_label(component) if component else "a button"
        return describe_click(label, labels.get(ix.message.id, "a message"))
    if ix.type is InteractionType.MODAL_SUBMIT:
        opened = ix.triggered_by
        modal = opened.modal if opened is not None else None
        via = describe_interaction(opened, labels) if opened is not None else None
        title = str((modal or {}).get("title", "a form"))
        return describe_modal(title, _modal_values(ix.data, modal), via)
    return ix.describe()


def _command_path(data: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """``(["admin", "limits"], {"max_concurrent": 2})``: subcommands and the options typed.

    Members and channels are shown by name (``@bob``, ``#videos``) from ``resolved``.
    """
    path = [str(data.get("name", "?"))]
    options: list[dict[str, Any]] = data.get("options") or []
    while len(options) == 1 and options[0].get("type") in (1, 2):
        path.append(str(options[0]["name"]))
        options = options[0].get("options") or []
    resolved = data.get("resolved") or {}
    shown: dict[str, Any] = {}
    for option in options:
        if "value" not in option:
            continue
        value = option["value"]
        if option.get("type") == USER_OPTION:
            user = (resolved.get("users") or {}).get(str(value)) or {}
            value = "@" + str(user.get("username", value))
        elif option.get("type") == CHANNEL_OPTION:
            channel = (resolved.get("channels") or {}).get(str(value)) or {}
            value = "#" + str(channel.get("name", value))
        shown[option["name"]] = value
    return path, shown


def _modal_values(data: dict[str, Any], modal: dict[str, Any] | None) -> dict[str, str]:
    """``{field label: submitted value}`` of a modal submit."""
    labels: dict[str, str] = {}
    for component in iter_components((modal or {}).get("components") or []):
        inner = component.get("component")
        if component.get("type") == 18 and isinstance(inner, dict):
            labels[inner.get("custom_id", "")] = component.get("label", "")
        elif component.get("type") == 4 and component.get("label"):
            labels[component["custom_id"]] = component["label"]
    return {
        labels.get(c["custom_id"], c["custom_id"]): str(c.get("value", ""))
        for c in iter_components(data.get("components") or [])
        if c.get("type") == 4 and "custom_id" in c
    }
