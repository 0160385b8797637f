"""Discord markup shown as a member reads it: one table of sent text → shown text."""

from __future__ import annotations

import pytest

from bot.emulators.markdown_text import (
    MarkupContext,
    format_timestamp,
    relative_time,
    render_markdown,
)

NOW = 1_700_000_000  # Tuesday, November 14, 2023 10:13:20 PM UTC
CONTEXT = MarkupContext(
    users={201: "alice"},
    channels={301: "videos"},
    roles={401: "Video Admin"},
    now=NOW,
    link_label=lambda url: "#4" if url.endswith("/1/2/3") else None,
)
S = "\u0336"

CASES = [
    ("plain text", "plain text"),
    ("**bold** and *italic* and _italic_", "bold and italic and italic"),
    ("__underline__, ***both***", "underline, both"),
    ("~~old~~ new", f"o{S}l{S}d{S} new"),
    ("the end is ||a twist||", "the end is [spoiler: a twist]"),
    ("video `k7q2mx` ready", "video `k7q2mx` ready"),
    ("`**not bold** <@201>` stays", "`**not bold** <@201>` stays"),
    ("```py\nprint('**x**')\n```", "print('**x**')"),
    ("[`k7q2mx`](https://discord.com/channels/1/2/3)", "`k7q2mx` (#4)"),
    ("[docs](https://example.com/a)", "docs (https://example.com/a)"),
    ("<@201> and <@!201> and <@999>", "@alice and @alice and @Unknown User"),
    ("<@&401> in <#301> or <#9>", "@Video Admin in #videos or #unknown"),
    ("try </sora:123> :) <:party:55>", "try /sora :) :party:"),
    (r"\*not italic\* and 2\*3 and \_x\_", "*not italic* and 2*3 and _x_"),
    (r"\<@201>", "<@201>"),
    ("2 * 3 * 4 and snake_case_name", "2 * 3 * 4 and snake_case_name"),
    ("# Title\n-# small print\n> quoted\n- item", "Title\nsmall print\n▎ quoted\n• item"),
    ("<t:1700000000>", "November 14, 2023 10:13 PM UTC"),
    ("<t:1700000000:t>", "10:13 PM UTC"),
    ("<t:1700000000:T>", "10:13:20 PM UTC"),
    ("<t:1700000000:d>", "11/14/2023 UTC"),
    ("<t:1700000000:D>", "November 14, 2023 UTC"),
    ("<t:1700000000:f>", "November 14, 2023 10:13 PM UTC"),
    ("<t:1700000000:F>", "Tuesday, November 14, 2023 10:13 PM UTC"),
    ("resets <t:1700000120:R>", "resets in 2 minutes"),
    ("**since <t:1699999820:R>**", "since 3 minutes ago"),
]


@pytest.mark.parametrize(("sent", "shown"), CASES)
def test_markup_is_shown_as_the_client_shows_it(sent: str, shown: str) -> None:
    assert render_markdown(sent, CONTEXT) == shown


@pytest.mark.parametrize(
    ("offset", "shown"),
    [
        (10, "in a few seconds"),
        (-10, "a few seconds ago"),
        (-60, "a minute ago"),
        (3 * 3600, "in 3 hours"),
        (-86400, "a day ago"),
        (5 * 86400, "in 5 days"),
        (-60 * 86400, "2 months ago"),
        (3 * 365 * 86400, "in 3 years"),
    ],
)
def test_relative_times_read_like_discord(offset: int, shown: str) -> None:
    assert relative_time(offset) == shown


def test_afternoon_times_use_a_twelve_hour_clock() -> None:
    assert format_timestamp(1_700_000_000 - 10 * 3600, "t", NOW) == "12:13 PM UTC"
    assert format_timestamp(1_700_000_000 - 22 * 3600, "t", NOW) == "12:13 AM UTC"
