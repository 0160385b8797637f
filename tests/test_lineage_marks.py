"""How picks, the most-picked path and rerolls look in a lineage line and in the picture."""

from __future__ import annotations

from bot.core.lineage import build_tree, most_picked_path
from bot.discord_ui import render
from bot.discord_ui.pages import TeamMarks, path_text, picture_labels
from tests.store_fixtures import video_task


def test_a_line_on_the_most_picked_path_is_underlined_and_the_asked_one_bold() -> None:
    task = video_task("abc123", author_name="ana")
    plain = render.lineage_line(task, "+at dusk", highlight=False)
    assert plain == "`abc123` ana ✅ completed · +at dusk"
    assert render.lineage_line(task, "+at dusk", highlight=False, on_path=True, note="⭐ 2") == (
        "__`abc123` ana ✅ completed · +at dusk · ⭐ 2__"
    )
    assert render.lineage_line(task, "+at dusk", highlight=True, on_path=True) == (
        "**__`abc123` ana ✅ completed · +at dusk__**"
    )


def test_marks_note_picks_and_rerolls_both_ways() -> None:
    source = video_task("src000")
    reroll = video_task(
        "new111", root_id="new111", metadata={"type": "generate", "rerolled_from": "src000"}
    )
    marks = TeamMarks(picks={"src000": 3}, rerolls={"src000": ["new111", "b", "c", "d"]})
    assert marks.note(source) == "⭐ 3 · 🎲 rerolled as `new111`, `b`, `c` +1"
    assert marks.note(reroll) == "🎲 reroll of `src000`"
    assert TeamMarks().note(source) == ""


def test_the_picture_marks_the_most_picked_path_and_counts() -> None:
    root = video_task("root00", author_name="ana")
    left = video_task("left11", "root00", root_id="root00", depth=1, author_name="ben")
    right = video_task("right2", "root00", root_id="root00", depth=1, author_name="ana")
    tasks = [root, left, right]
    picks = {"left11": 2, "right2": 1}
    marks = TeamMarks(picks=picks, path=most_picked_path(build_tree(tasks), picks))
    labels = picture_labels(None, tasks, marks)
    assert labels["root00"].startswith("★ root00")
    assert labels["left11"].startswith("★ left11") and labels["left11"].endswith("  ⭐2")
    assert labels["right2"].startswith("right2") and labels["right2"].endswith("  ⭐1")


def test_a_long_path_is_named_by_its_root_and_its_end() -> None:
    assert path_text(["a", "b", "c", "d", "e"]) == "a → b → c → d → e"
    path = [f"n{i}" for i in range(40)]
    assert path_text(path) == "n0 → …36 more… → n37 → n38 → n39"
