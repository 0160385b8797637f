"""The author's display name: its shape when stored, its round trip, its lookups and labels.

The end-to-end behaviour (what members see) is in ``tests/test_e2e_names.py``.
"""

from __future__ import annotations

from datetime import timedelta

from bot.core.clock import ManualClock
from bot.core.models import AUTHOR_NAME_CHARS, clean_author_name
from bot.discord_ui import render
from bot.discord_ui.pages import picture_labels
from tests.store_fixtures import GUILD, OTHER_GUILD, T0, USER, make_task, open_store, video_task


def test_a_name_is_kept_on_one_line_capped_and_blank_means_none() -> None:
    assert clean_author_name("  Captain \n Dora\t") == "Captain Dora"
    assert clean_author_name("x" * 100) == "x" * AUTHOR_NAME_CHARS
    assert clean_author_name(" \n ") is None and clean_author_name(None) is None
    assert clean_author_name("**x** @everyone") == "**x** @everyone"  # escaped when shown


def test_the_store_keeps_the_name_and_reads_it_back() -> None:
    db, store = open_store()
    named = make_task(store, author_name="  Captain   Dora ")
    long = make_task(store, author_name="y" * 100)
    nameless = make_task(store)
    assert named.author_name == "Captain Dora" and store.get(named.id) == named
    assert store.get(long.id).author_name == "y" * AUTHOR_NAME_CHARS
    assert store.get(nameless.id).author_name is None
    stored = dict(db.execute("SELECT id, author_name FROM tasks").fetchall())
    assert stored == {named.id: "Captain Dora", long.id: "y" * 64, nameless.id: None}


def test_author_names_are_each_members_latest_name_in_the_window() -> None:
    clock = ManualClock(T0)
    _, store = open_store(clock=clock)
    other = USER + 1

    def at(minutes: int, **fields: object) -> None:
        clock.set(T0 + timedelta(minutes=minutes))
        make_task(store, **fields)

    at(0, author_name="Dora")
    at(1, author_name="Admiral Dora")
    at(2)  # a row without a name does not hide the latest name
    at(3, user_id=other, author_name="Bob")
    at(4, user_id=other + 1)  # never named: absent
    at(5, guild_id=OTHER_GUILD, author_name="Elsewhere")
    assert store.author_names(GUILD) == {USER: "Admiral Dora", other: "Bob"}
    window = {"since": T0, "until": T0 + timedelta(minutes=1)}
    assert store.author_names(GUILD, **window) == {USER: "Dora"}
    assert store.author_names(OTHER_GUILD) == {USER: "Elsewhere"}


def test_render_shows_the_escaped_name_or_the_mention_for_old_rows() -> None:
    named = video_task("abc123", author_name="**Cap** @everyone")
    old = video_task("old123")
    assert render.author_label(named) == r"\*\*Cap\*\* \@everyone"  # a literal @everyone
    assert render.author_label(old) == f"<@{USER}>"
    assert render.result_content(old, attached=True, link=None, upload_limit=None).startswith(
        f"<@{USER}> your video"
    )  # content that pings keeps the mention
    assert render.result_content(named, attached=True, link=None, upload_limit=None).startswith(
        f"<@{USER}> your video"
    )


def test_picture_labels_use_the_stored_name_else_the_id() -> None:
    root = video_task("root00", author_name="Captain Dora")
    old = video_task("old111", "root00", root_id="root00", depth=1, user_id=USER + 7)
    labels = picture_labels(None, [root, old])
    assert labels["root00"].split("  ")[:3] == ["root00", "completed", "Captain Dora"]
    assert labels["old111"].split("  ")[:3] == ["old111", "completed", str(USER + 7)]
