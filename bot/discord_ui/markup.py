r"""Member-typed text made inert in Discord markdown, so it shows exactly as typed.

Prompts, display names and every other text a member typed is shown by the bot, under
the bot's name. Left as is, ``look [here](https://evil.example/x)`` would become a masked
link, ``# WINNER`` a header, ``||…||`` a spoiler, ``<@&id>`` a role mention and so on.
``discord.utils.escape_markdown`` leaves headers after spaces, numbered lists, mentions,
timestamps, custom emoji, slash-command mentions and bare links alone.

The escape: Discord's client parses messages with simple-markdown, whose escape rule makes
a backslash before any character that is not a letter, digit or whitespace a literal
character (https://github.com/ariabuckles/simple-markdown, ``escape`` rule:
``^\\([^0-9A-Za-z\s])``). So a backslash goes before

* every ``\\ * _ ~ | ` [ ] < > @`` (emphasis, spoilers, code, masked links, mentions,
  ``<t:…>`` timestamps, ``<:x:id>`` emoji, ``</x:id>`` commands, ``<#id>`` channels,
  block quotes, ``@everyone``);
* ``#`` and ``-`` opening a line (``#`` headers, ``-#`` subtext, ``-`` list items), and the
  ``.`` of a numbered list item (``1.``);
* the ``:`` of ``://``, so no bare link is made either.

Where markdown renders: message content, embed descriptions and field values (field values
do not render headers — https://github.com/discord/discord-api-docs/issues/7167). Footers
render none (https://github.com/Pycord-Development/pycord/issues/96); embed titles and field
names render inline styles but not links
(https://github.com/discord/discord-api-docs/issues/1089), and the bot puts only its own
text there.
"""

from __future__ import annotations

import re

#: Escaped wherever they appear.
ALWAYS = frozenset("\\*_~|`[]<>@")
#: Escaped when they open a line (after any spaces).
LINE_OPENERS = frozenset("#-")
_NUMBERED_ITEM = re.compile(r"\d+\.(?=\s|$)")
ELLIPSIS = "…"


def escape_markdown(text: str, *, limit: int | None = None, one_line: bool = False) -> str:
    """``text`` with every markdown construct escaped; at most ``limit`` characters.

    ``one_line`` folds all whitespace (newlines too) into single spaces, for inline use.
    The cut never splits an escape from its character.
    """
    if one_line:
        text = " ".join(text.split())
    units: list[str] = []
    for index, line in enumerate(text.split("\n")):
        if index:
            units.append("\n")
        units.extend(_escape_line(line))
    return _fit(units, limit)


def _escape_line(line: str) -> list[str]:
    """One line as escaped units (a character, or a backslash and its character)."""
    units: list[str] = []
    body = line.lstrip()
    units.extend(line[: len(line) - len(body)])
    numbered = _NUMBERED_ITEM.match(body)
    dot_at = numbered.end() - 1 if numbered else -1
    for position, char in enumerate(body):
        opener = position == 0 and char in LINE_OPENERS
        scheme = char == ":" and body.startswith("//", position + 1)
        if char in ALWAYS or opener or scheme or position == dot_at:
            units.append("\\" + char)
        else:
            units.append(char)
    return units


def _fit(units: list[str], limit: int | None) -> str:
    """Join the units, cut to ``limit`` characters (with an ellipsis) if it is over."""
    total = sum(len(u) for u in units)
    if limit is None or total <= limit:
        return "".join(units)
    kept: list[str] = []
    size = 0
    for unit in units:
        if size + len(unit) > limit - len(ELLIPSIS):
            break
        kept.append(unit)
        size += len(unit)
    return "".join(kept) + ELLIPSIS
