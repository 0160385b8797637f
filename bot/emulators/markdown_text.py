"""Discord message markup as a person reads it, in plain text (pure functions, no I/O).

The transcript of an emulated channel would otherwise show what the bot *sent*
(``**bold**``, ``<t:1700000000:R>``, ``<@123>``) instead of what a member *sees*.
``render_markdown`` turns one message's text into what the Discord client shows:

* ``<t:unix:style>`` timestamps in Discord's (en-US) styles t T d D f F R, in UTC
  (``R`` relative to ``MarkupContext.now``: "in 2 minutes", "3 minutes ago");
* ``<@id>`` / ``<@!id>`` as ``@name``, ``<@&id>`` as ``@role``, ``<#id>`` as ``#channel``,
  ``</name:id>`` as ``/name``, custom emoji ``<:name:id>`` as ``:name:``;
* ``**bold**``, ``*italic*``, ``_italic_``, ``__underline__`` lose their markers (a terminal
  has no such styles), ``~~strike~~`` is struck through with U+0336, ``||spoiler||`` becomes
  ``[spoiler: …]``;
* masked links ``[text](url)`` become ``text (url)`` (or ``text (#4)`` when ``link_label``
  knows the message the link jumps to);
* inline code keeps its backticks (the usual plain-text sign of monospace) and nothing
  inside code is interpreted; code block fences are dropped;
* ``# headers`` and ``-# subtext`` lose their markers, ``> quotes`` get a bar, ``- items`` a
  bullet; ``\\*`` and friends show the literal character.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

#: Characters a backslash makes literal in Discord markdown.
_ESCAPABLE = r"\\\*_~|`>#\-\[\]()<:@/."
_ESCAPE = re.compile(rf"\\([{_ESCAPABLE}])")
_CODE_BLOCK = re.compile(r"```(?:([\w+-]+)\n)?\n?(.*?)\n?```", re.DOTALL)
_INLINE_CODE = re.compile(r"(``?)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
_TIMESTAMP = re.compile(r"<t:(-?\d+)(?::([tTdDfFR]))?>")
_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_CHANNEL = re.compile(r"<#(\d+)>")
_SLASH = re.compile(r"</([\w -]+):\d+>")
_EMOJI = re.compile(r"<a?:(\w+):\d+>")
_LINK = re.compile(r"\[([^\]]+)\]\(<?(https?://[^)\s>]+)>?\)")
_SPOILER = re.compile(r"\|\|(.+?)\|\|", re.DOTALL)
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_UNDERLINE = re.compile(r"__(.+?)__", re.DOTALL)
_STRIKE = re.compile(r"~~(.+?)~~", re.DOTALL)
_STAR_ITALIC = re.compile(r"\*(?![\s*])(.+?)(?<![\s*])\*", re.DOTALL)
_UNDERSCORE_ITALIC = re.compile(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])", re.DOTALL)
_HEADER = re.compile(r"^(?:#{1,3}|-#) +")
_QUOTE = re.compile(r"^> ?")
_BLOCK_QUOTE = re.compile(r"^>>> ?")
_ITEM = re.compile(r"^(\s*)[-*] +")
#: Placeholders live in Unicode's private use area (U+E000...).
_PLACEHOLDER = re.compile("[\ue000-\uf8ff]")
STRIKE_MARK = "\u0336"
QUOTE_BAR = "▎ "


@dataclass(frozen=True)
class MarkupContext:
    """What the reader's client knows: names behind ids, the current time, message labels."""

    users: Mapping[int, str] = field(default_factory=dict)
    channels: Mapping[int, str] = field(default_factory=dict)
    roles: Mapping[int, str] = field(default_factory=dict)
    #: Unix time that ``R`` timestamps are relative to.
    now: float = 0.0
    #: A short name for a link's target (``"#4"`` for a message in the transcript), or None.
    link_label: Callable[[str], str | None] = field(default=lambda url: None)


def render_markdown(text: str, context: MarkupContext) -> str:
    """``text`` as the Discord client shows it (see the module docstring)."""
    held: list[str] = []

    def hold(value: str) -> str:
        held.append(value)
        return chr(0xE000 + len(held) - 1)

    text = _PLACEHOLDER.sub("", text)
    text = _ESCAPE.sub(lambda m: hold(m.group(1)), text)
    text = _CODE_BLOCK.sub(lambda m: hold(m.group(2)), text)
    text = _INLINE_CODE.sub(lambda m: hold(f"`{m.group(2)}`"), text)
    text = _blocks(text)
    text = _references(text, context, hold)
    text = _emphasis(text)
    while _PLACEHOLDER.search(text):  # held values may hold others (an escape in a link text)
        text = _PLACEHOLDER.sub(lambda m: held[ord(m.group(0)) - 0xE000], text)
    return text


def _blocks(text: str) -> str:
    """Line-level markup: headers, subtext, quotes, list items."""
    lines = []
    quoting_rest = False
    for line in text.split("\n"):
        if not quoting_rest and _BLOCK_QUOTE.match(line):
            quoting_rest = True
            line = _BLOCK_QUOTE.sub("", line)
        quoted = quoting_rest or bool(_QUOTE.match(line))
        if quoted and not quoting_rest:
            line = _QUOTE.sub("", line)
        line = _HEADER.sub("", line)
        line = _ITEM.sub(lambda m: f"{m.group(1)}• ", line)
        lines.append(QUOTE_BAR + line if quoted else line)
    return "\n".join(lines)


def _references(text: str, context: MarkupContext, hold: Callable[[str], str]) -> str:
    """Timestamps, mentions, command mentions, custom emoji and masked links."""
    text = _TIMESTAMP.sub(
        lambda m: hold(format_timestamp(int(m.group(1)), m.group(2) or "f", context.now)), text
    )
    text = _USER.sub(lambda m: hold("@" + context.users.get(int(m.group(1)), "Unknown User")), text)
    text = _ROLE.sub(lambda m: hold("@" + context.roles.get(int(m.group(1)), "deleted-role")), text)
    text = _CHANNEL.sub(
        lambda m: hold("#" + context.channels.get(int(m.group(1)), "unknown")), text
    )
    text = _SLASH.sub(lambda m: hold("/" + m.group(1)), text)
    text = _EMOJI.sub(lambda m: hold(f":{m.group(1)}:"), text)

    def link(match: re.Match[str]) -> str:
        url = match.group(2)
        return f"{match.group(1)} ({hold(context.link_label(url) or url)})"

    return _LINK.sub(link, text)


def _emphasis(text: str) -> str:
    text = _SPOILER.sub(lambda m: f"[spoiler: {m.group(1)}]", text)
    text = _BOLD.sub(r"\1", text)
    text = _UNDERLINE.sub(r"\1", text)
    text = _STRIKE.sub(lambda m: "".join(c + STRIKE_MARK for c in m.group(1)), text)
    text = _STAR_ITALIC.sub(r"\1", text)
    return _UNDERSCORE_ITALIC.sub(r"\1", text)


# --- timestamps ----------------------------------------------------------------------------


def format_timestamp(unix: int, style: str, now: float) -> str:
    """One ``<t:unix:style>`` as Discord's en-US client shows it, in UTC."""
    if style == "R":
        return relative_time(unix - now)
    moment = datetime.fromtimestamp(unix, UTC)
    time_short = f"{moment.hour % 12 or 12}:{moment:%M} {moment:%p}"
    time_long = f"{moment.hour % 12 or 12}:{moment:%M:%S} {moment:%p}"
    date_long = f"{moment:%B} {moment.day}, {moment.year}"
    formats = {
        "t": time_short,
        "T": time_long,
        "d": f"{moment.month}/{moment.day}/{moment.year}",
        "D": date_long,
        "f": f"{date_long} {time_short}",
        "F": f"{moment:%A}, {date_long} {time_short}",
    }
    return f"{formats[style]} UTC"


#: (limit in seconds, unit seconds, singular, plural) — moment.js's thresholds, as Discord uses.
_RELATIVE_STEPS = (
    (45, 1, "a few seconds", "a few seconds"),
    (90, 60, "a minute", "a minute"),
    (45 * 60, 60, "a minute", "{n} minutes"),
    (90 * 60, 3600, "an hour", "an hour"),
    (22 * 3600, 3600, "an hour", "{n} hours"),
    (36 * 3600, 86400, "a day", "a day"),
    (26 * 86400, 86400, "a day", "{n} days"),
    (45 * 86400, 30 * 86400, "a month", "a month"),
    (320 * 86400, 30 * 86400, "a month", "{n} months"),
    (548 * 86400, 365 * 86400, "a year", "a year"),
)


def relative_time(seconds: float) -> str:
    """``in 2 minutes`` for a positive offset from now, ``3 minutes ago`` for a negative one."""
    span = abs(seconds)
    phrase = None
    for limit, unit, one, many in _RELATIVE_STEPS:
        if span < limit:
            n = max(1, round(span / unit))
            phrase = one if n == 1 else many.format(n=n)
            break
    if phrase is None:
        years = round(span / (365 * 86400))
        phrase = f"{years} years"
    return f"in {phrase}" if seconds > 0 else f"{phrase} ago"
