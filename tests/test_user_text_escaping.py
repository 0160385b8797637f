"""Text that cannot impersonate: member-typed text shows as typed on every surface.

One table: each surface the bot shows member text on × each nasty input. The real bot
posts through the fake Discord, which stores what was sent; each stored text is read
back as the Discord client shows it (``render_markdown``, the transcript's model of the
client) and must show the member's text literally — a masked link, header, list, quote,
spoiler, code block or emphasis would change what is shown. ``live_markup`` is a second,
simpler check on the stored text itself: no unescaped link, mention or line marker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from bot.core.lineage import prompt_change
from bot.discord_ui.markup import escape_markdown
from bot.emulators.fake_discord import FakeInteraction, FakeMessage, FakeUser
from bot.emulators.harness import BotHarness
from bot.emulators.markdown_text import MarkupContext, render_markdown
from tests.e2e_helpers import delivered, result_post, submit, video_id_of
from tests.e2e_helpers import harness as harness

NASTY = {
    "masked link": "look [here](https://evil.example/x)",
    "header": "# FREE NITRO",
    "subtext": "-# from the moderators",
    "list": "- step one",
    "numbered list": "1. step one",
    "quote": "> quoted text",
    "block quote": ">>> all of it",
    "spoiler": "a ||hidden|| twist",
    "code fence": "```js\nalert(1)\n```",
    "emphasis": "**bold** *it* __under__ ~~gone~~ _it_",
    "mentions": "@everyone @here <@123456789012345678> <@&42> <#43>",
    "timestamp": "ends <t:1700000000:R>",
    "emoji and command": "<:party:44> </sora:45>",
    "bare link": "https://evil.example/login",
}
ROOT_PROMPT = "a calm river"
FAILING_PROMPT = "[fault:moderation] " + "\n".join(NASTY.values())
CLIENT = MarkupContext(users={123456789012345678: "someone"})
_LIVE = [
    re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\("),  # masked link
    re.compile(r"(?m)^\s*(?:#{1,3} |-# |> |>>> |[-*] |\d+\. )"),  # line markers
    re.compile(r"(?<!\\)@(?:everyone|here)"),
    re.compile(r"(?<!\\)<(?:@|#|t:|a?:|/)"),  # mentions, timestamps, emoji, commands
    re.compile(r"(?<!\\)(?:\|\||```|\*\*|__|~~)"),
    re.compile(r"https?://"),
]


def shown(text: str) -> str:
    """The stored text as the Discord client shows it."""
    return render_markdown(text, CLIENT)


def folded(text: str) -> str:
    return " ".join(text.split())


def live_markup(stored: str) -> list[str]:
    """Markup in member text that Discord would still interpret."""
    return [m.group(0) for pattern in _LIVE for m in pattern.finditer(stored)]


@dataclass
class Row:
    """One video made by a member whose display name and remix prompt are the nasty input."""

    name: str
    typed: str
    member: FakeUser
    video_id: str
    card: FakeMessage
    result: FakeMessage


class Table:
    """Collects every (surface, input) that shows the member's text wrongly."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.checked = 0

    def exact(self, surface: str, row: str, stored: str | None, typed: str) -> None:
        """The whole stored text is member text: it must show exactly as typed."""
        self.checked += 1
        if stored is None or shown(stored) != typed or live_markup(stored):
            self.failures.append(f"{surface} × {row}: stored {stored!r}")

    def within(self, surface: str, row: str, stored: str | None, typed: str) -> None:
        """Member text inside the bot's own line: it must appear there literally, escaped."""
        self.checked += 1
        escaped = escape_markdown(typed, one_line=True)
        if stored is None or escaped not in stored or folded(typed) not in shown(stored):
            self.failures.append(f"{surface} × {row}: stored {stored!r}")


def fields(message: FakeMessage, index: int = 0) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[index].get("fields", [])}


async def answer(ix: FakeInteraction) -> FakeMessage:
    return await ix.original_message(timeout=10)


async def make_rows(h: BotHarness, root_id: str) -> list[Row]:
    started = []
    for name, typed in NASTY.items():
        member = h.discord.add_member(h.guild, folded(typed))
        _, card = await submit(h, member, "remix", {"video_id": root_id, "prompt": typed})
        started.append((name, typed, member, video_id_of(card), card))
    rows = []
    for name, typed, member, video_id, card in started:
        result = await result_post(h, video_id, timeout=30)
        await delivered(h, video_id)
        rows.append(Row(name, typed, member, video_id, card, result))
    return rows


def check_posts(table: Table, rows: list[Row]) -> None:
    for row in rows:
        table.exact("remix card", row.name, row.card.embeds[0].get("description"), row.typed)
        table.exact("card author", row.name, fields(row.card).get("Author"), folded(row.typed))
        table.exact("result", row.name, row.result.embeds[0].get("description"), row.typed)
        table.exact("result author", row.name, fields(row.result).get("Author"), folded(row.typed))


async def check_views(h: BotHarness, table: Table, rows: list[Row]) -> None:
    for row in rows:
        pressed = await h.discord.click(h.alice, row.result, f"sora:details:{row.video_id}")
        details = await answer(pressed)
        table.exact("details", row.name, details.embeds[0].get("description"), row.typed)
        table.exact("details author", row.name, fields(details).get("Author"), folded(row.typed))
        video = await answer(
            await h.discord.slash(h.alice, h.channel, "video", {"video_id": row.video_id})
        )
        table.exact("/video", row.name, video.embeds[0].get("description"), row.typed)
        history = await answer(await h.discord.slash(row.member, h.channel, "history"))
        table.within("history", row.name, history.embeds[0].get("description"), folded(row.typed))
        admin = await answer(
            await h.discord.slash(h.admin, h.channel, "admin task", {"video_id": row.video_id})
        )
        table.exact("admin task", row.name, admin.embeds[0].get("description"), row.typed)
        table.exact("admin author", row.name, fields(admin).get("Author"), folded(row.typed))


def line_of(text: str, video_id: str) -> str | None:
    return next((line for line in text.splitlines() if f"`{video_id}`" in line), None)


async def check_lists(h: BotHarness, table: Table, rows: list[Row], root_id: str) -> None:
    lineage = await answer(
        await h.discord.slash(h.alice, h.channel, "lineage", {"video_id": root_id})
    )
    tree = lineage.embeds[0]["description"]
    for row in rows:
        line = line_of(tree, row.video_id)
        table.within("lineage author", row.name, line, folded(row.typed))
        change = prompt_change(ROOT_PROMPT, row.typed)
        table.within("lineage change", row.name, line, change)
    admin_history = await answer(await h.discord.slash(h.admin, h.channel, "admin history"))
    listed = admin_history.embeds[0]["description"]
    for row in rows:
        line = line_of(listed, row.video_id)
        if line is not None:  # the first page holds the newest ten
            table.within("admin history", row.name, line, folded(row.typed))
    stats = await answer(await h.discord.slash(h.admin, h.channel, "admin stats"))
    names = {folded(t) for t in NASTY.values()} | {"alice"}
    by_user = next(v for k, v in fields(stats).items() if k.startswith("By user"))
    for line in by_user.splitlines():
        table.checked += 1
        who = shown(line).rsplit(": ", 1)[0]
        if who not in names or live_markup(line.rsplit(": ", 1)[0]):
            table.failures.append(f"admin stats × {who!r}: stored {line!r}")


@pytest.mark.asyncio
async def test_member_text_shows_as_typed_on_every_surface(harness):
    h = harness
    _, root_card = await submit(h, h.alice, "sora", {"prompt": ROOT_PROMPT})
    root_id = video_id_of(root_card)
    await result_post(h, root_id)
    await delivered(h, root_id)
    _, failing_card = await submit(h, h.alice, "sora", {"prompt": FAILING_PROMPT})
    rows = await make_rows(h, root_id)
    table = Table()
    check_posts(table, rows)
    await check_views(h, table, rows)
    await check_lists(h, table, rows, root_id)

    notice = await result_post(h, video_id_of(failing_card), timeout=30)
    table.exact("failure notice", "all inputs", notice.embeds[0].get("description"), FAILING_PROMPT)

    banned = [t for t in NASTY.values() if "`" not in t and len(t) <= 40]
    for word in banned:
        await answer(await h.discord.slash(h.admin, h.channel, "admin limits", {"ban_word": word}))
    limits = await answer(await h.discord.slash(h.admin, h.channel, "admin limits"))
    words = next(v for k, v in fields(limits).items() if k.startswith("Banned words"))
    for word in banned:
        table.checked += 1
        if f"`{folded(word)}`" not in shown(words):
            table.failures.append(f"banned words × {word!r}: stored {words!r}")

    assert not table.failures, "\n".join(table.failures)
    assert table.checked >= len(NASTY) * 13


@pytest.mark.parametrize(("name", "typed"), list(NASTY.items()))
def test_the_escape_shows_each_input_literally(name: str, typed: str) -> None:
    escaped = escape_markdown(typed)
    assert shown(escaped) == typed and live_markup(escaped) == [], escaped
    assert shown(escape_markdown(typed, one_line=True)) == folded(typed)


def test_a_cut_never_splits_an_escape_and_keeps_the_limit() -> None:
    text = "**" * 50
    for limit in range(1, 30):
        cut = escape_markdown(text, limit=limit)
        assert len(cut) <= limit and cut.endswith("…")
        assert cut[:-1] == "\\*" * ((len(cut) - 1) // 2)
