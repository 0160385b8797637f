"""Pure lineage functions, mostly as tables of (input, expected) tuples."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.errors import NotFound, ParentNotReady
from bot.core.lineage import (
    HIGHLIGHT_MARK,
    SAME_PROMPT,
    LineageError,
    build_tree,
    check_remixable,
    inherit_parameters,
    is_instruction,
    most_picked_path,
    path_to_root,
    prompt_change,
    render_text_tree,
)
from bot.core.models import TaskStatus, VideoTask
from tests.store_fixtures import GUILD, OTHER_GUILD, T0, video_task


def family(*edges: tuple[str, str | None]) -> list[VideoTask]:
    """Tasks from ``(id, parent_id)`` pairs, created one second apart in list order."""
    return [
        video_task(task_id, parent, created_at=T0 + timedelta(seconds=i))
        for i, (task_id, parent) in enumerate(edges)
    ]


def ids_of(task: VideoTask) -> str:
    return task.id


SMALL_TREE = family(("a", None), ("b", "a"), ("c", "b"), ("d", "a"), ("e", "b"), ("f", "d"))


def test_render_small_tree_with_highlight() -> None:
    lines = render_text_tree(build_tree(SMALL_TREE), highlight_id="e", describe=ids_of)
    assert lines == [
        "a",
        "├─ b",
        "│  ├─ c",
        f"│  └─ e{HIGHLIGHT_MARK}",
        "└─ d",
        "   └─ f",
    ]


def test_children_are_ordered_by_creation_time_not_input_order() -> None:
    shuffled = [SMALL_TREE[i] for i in (4, 0, 3, 5, 2, 1)]
    root = build_tree(shuffled)
    assert [[c.task.id for c in n.children] for n, _ in root.walk()] == [
        ["b", "d"],
        ["c", "e"],
        [],
        [],
        ["f"],
        [],
    ]


@pytest.mark.parametrize(
    ("edges", "root_id", "expected_root"),
    [
        ((("a", None), ("b", "a")), None, "a"),
        ((("b", "a"), ("c", "b")), None, "b"),  # parent outside the list: b is the top
        ((("a", None), ("b", "a"), ("c", "b")), "b", "b"),  # explicit root: a subtree
    ],
)
def test_build_tree_picks_the_root(
    edges: tuple[tuple[str, str | None], ...], root_id: str | None, expected_root: str
) -> None:
    assert build_tree(family(*edges), root_id=root_id).task.id == expected_root


@pytest.mark.parametrize(
    ("edges", "root_id", "message"),
    [
        ((("a", None), ("x", None)), None, "exactly one root"),
        ((), None, "exactly one root"),
        ((("a", None),), "zzz", "not among"),
    ],
)
def test_build_tree_refuses_an_ambiguous_root(
    edges: tuple[tuple[str, str | None], ...], root_id: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_tree(family(*edges), root_id=root_id)


def test_a_cycle_through_the_root_is_cut_with_a_marker() -> None:
    tasks = family(("a", "c"), ("b", "a"), ("c", "b"))
    root = build_tree(tasks, root_id="a")
    assert [n.task.id for n, _ in root.walk()] == ["a", "b", "c"]
    assert root.find("c").cut == "cycle"
    assert render_text_tree(root, highlight_id=None, describe=ids_of) == [
        "a",
        "└─ b",
        "   └─ c",
        "      └─ … (cycle: not shown)",
    ]


def test_the_depth_guard_cuts_long_chains() -> None:
    chain = family(*[(f"n{i}", f"n{i - 1}" if i else None) for i in range(6)])
    root = build_tree(chain, max_depth=2)
    assert [(n.task.id, level) for n, level in root.walk()] == [("n0", 0), ("n1", 1), ("n2", 2)]
    assert root.find("n2").cut == "depth"
    assert render_text_tree(root, highlight_id="n1", describe=ids_of)[-1] == (
        "      └─ … (too deep: not shown)"
    )


def test_very_deep_chains_need_no_recursion() -> None:
    chain = family(*[(f"n{i}", f"n{i - 1}" if i else None) for i in range(1500)])
    root = build_tree(chain, max_depth=5000)
    lines = render_text_tree(root, highlight_id="n1499", describe=ids_of)
    assert len(lines) == 1500 and lines[-1].endswith(f"n1499{HIGHLIGHT_MARK}")
    path = path_to_root(chain, "n1499", max_depth=5000)
    assert [t.id for t in path[:2]] == ["n1499", "n1498"] and path[-1].id == "n0"


def test_wide_tree_with_grandchildren_renders_every_node_once() -> None:
    edges: list[tuple[str, str | None]] = [("r", None)]
    edges += [(f"c{i:02}", "r") for i in range(30)]
    edges += [(f"g{i:02}", f"c{i:02}") for i in range(0, 30, 10)]
    lines = render_text_tree(build_tree(family(*edges)), highlight_id="g10", describe=ids_of)
    assert len(lines) == 34
    assert lines[1:3] == ["├─ c00", "│  └─ g00"]
    assert f"│  └─ g10{HIGHLIGHT_MARK}" in lines
    assert lines[-1] == "└─ c29"


@pytest.mark.parametrize(
    ("max_lines", "highlight", "expected"),
    [
        (10, "f", ["a", "├─ b", "│  ├─ c", "│  └─ e", "└─ d", f"   └─ f{HIGHLIGHT_MARK}"]),
        (4, "b", ["a", f"├─ b{HIGHLIGHT_MARK}", "│  ├─ c", "… 3 more"]),
        (4, "f", ["a", "├─ b", "… 3 more", f"   └─ f{HIGHLIGHT_MARK}"]),
        (4, "e", ["a", "… 2 more", f"│  └─ e{HIGHLIGHT_MARK}", "… 2 more"]),
        (5, "e", ["a", "├─ b", "│  ├─ c", f"│  └─ e{HIGHLIGHT_MARK}", "… 2 more"]),
        (2, "f", ["a", "… 5 more"]),
        (1, None, ["… 6 more"]),
    ],
)
def test_max_lines_truncates_but_keeps_the_highlight(
    max_lines: int, highlight: str | None, expected: list[str]
) -> None:
    root = build_tree(SMALL_TREE)
    lines = render_text_tree(root, highlight_id=highlight, describe=ids_of, max_lines=max_lines)
    assert lines == expected
    assert len(lines) <= max_lines


def test_describe_controls_the_label() -> None:
    lines = render_text_tree(
        build_tree(SMALL_TREE[:2]), highlight_id=None, describe=lambda t: f"{t.id}: {t.prompt}"
    )
    assert lines == ["a: prompt of a", "└─ b: prompt of b"]


@pytest.mark.parametrize(
    ("edges", "start", "expected"),
    [
        ((("a", None),), "a", ["a"]),
        ((("a", None), ("b", "a"), ("c", "b")), "c", ["c", "b", "a"]),
        ((("b", "a"), ("c", "b")), "c", ["c", "b"]),  # stops where the list ends
        (SMALL_TREE, "f", ["f", "d", "a"]),
    ],
)
def test_path_to_root(edges: object, start: str, expected: list[str]) -> None:
    tasks = edges if isinstance(edges, list) else family(*edges)
    assert [t.id for t in path_to_root(tasks, start)] == expected


def test_path_to_root_raises_on_cycles_and_excess_depth() -> None:
    with pytest.raises(LineageError, match="cycle"):
        path_to_root(family(("a", "c"), ("b", "a"), ("c", "b")), "c")
    chain = family(*[(f"n{i}", f"n{i - 1}" if i else None) for i in range(10)])
    with pytest.raises(LineageError, match="deeper than 3"):
        path_to_root(chain, "n9", max_depth=3)
    with pytest.raises(KeyError):
        path_to_root(chain, "nope")


@pytest.mark.parametrize(
    ("parent", "child", "max_len", "expected"),
    [
        ("a city at noon", "a city at sunset", 60, "noon→sunset"),
        ("a city at noon", "a city at noon", 60, SAME_PROMPT),
        ("A City", "a city", 60, SAME_PROMPT),
        ("a cat", "a cat on a roof", 60, "+on a roof"),
        ("a cat on a roof", "a cat", 60, "-on a roof"),
        ("a dog in rain", "a wet dog in heavy rain", 60, "+wet, +heavy"),
        ("a dog at noon", "a wet dog at dusk", 60, "+wet, noon→dusk"),
        ("", "fresh start", 60, "+fresh start"),
        ("one two three", "four five six", 20, "“four five six”"),
        ("x", "supercalifragilistic", 10, "“superca…”"),
    ],
)
def test_prompt_change(parent: str, child: str, max_len: int, expected: str) -> None:
    summary = prompt_change(parent, child, max_len=max_len)
    assert summary == expected
    assert len(summary) <= max_len


def test_inherit_parameters_copies_model_seconds_and_size() -> None:
    parent = video_task("p", model="sora-2-pro", seconds=12, size="1792x1024")
    assert inherit_parameters(parent) == {"model": "sora-2-pro", "seconds": 12, "size": "1792x1024"}


@pytest.mark.parametrize(
    ("status", "wording"),
    [
        (TaskStatus.SUBMITTING, "still being submitted"),
        (TaskStatus.QUEUED, "still queued"),
        (TaskStatus.IN_PROGRESS, "still being generated"),
        (TaskStatus.FAILED, "failed"),
        (TaskStatus.CANCELLED, "cancelled"),
    ],
)
def test_only_completed_parents_are_remixable(status: TaskStatus, wording: str) -> None:
    with pytest.raises(ParentNotReady) as raised:
        check_remixable(video_task("p", status=status), GUILD)
    assert wording in raised.value.user_message and "`p`" in raised.value.user_message


def test_remixable_parent_passes_and_other_guilds_look_unknown() -> None:
    check_remixable(video_task("p"), GUILD)
    with pytest.raises(NotFound) as raised:
        check_remixable(video_task("p", guild_id=OTHER_GUILD), GUILD)
    assert raised.value.video_id == "p"
    with pytest.raises(ParentNotReady, match="no stored upstream"):
        check_remixable(video_task("p", upstream_id=None), GUILD)


# --- readable changes (issue 15, item 9) -------------------------------------------------------

FOX = "a red fox trotting through fresh snow"


@pytest.mark.parametrize(
    ("child", "expected"),
    [
        # Instructions are shown whole: before, the diff led with the parent's words and the
        # new ones were cut (`+add, red fox trotting through fresh snow→glowing paper…`).
        ("add a glowing paper lantern", "“add a glowing paper lantern”"),
        ("turn it into a watercolor painting", "“turn it into a watercolor painting”"),
        # Edits lead with what was added or replaced; punctuation next to a word is no change.
        (FOX + ", add a glowing paper lantern", "+add a glowing paper lantern"),
        ("a grey fox trotting through fresh snow", "red→grey"),
        ("a fox trotting through snow at dusk", "+at dusk, -red, -fresh"),
    ],
)
def test_prompt_change_keeps_what_the_remix_added(child: str, expected: str) -> None:
    assert prompt_change(FOX, child) == expected


def test_a_long_replacement_shortens_the_old_words_before_the_new_ones() -> None:
    parent = "a red fox trotting through fresh snow under tall dark pines at dawn"
    child = "a grey wolf pack running through fresh snow under tall dark pines at dusk"
    assert prompt_change(parent, child) == "red fox trotting→grey wolf pack running, dawn→dusk"
    assert prompt_change(parent, child, max_len=40) == "red…→grey wolf pack running, dawn→dusk"


def test_a_cut_summary_ends_at_a_word_boundary() -> None:
    parent = "one two three four five six seven eight"
    child = parent + " nine ten eleven twelve thirteen fourteen fifteen sixteen"
    summary = prompt_change(parent, child, max_len=30)
    assert summary == "+nine ten eleven twelve…"


def test_instructions_are_told_apart_from_rewrites() -> None:
    assert is_instruction(FOX, "make it night")
    assert not is_instruction(FOX, FOX + " at night")
    assert not is_instruction("a cat on a roof", "a cat")  # most of the child is the parent's
    assert not is_instruction("", "fresh start")


# --- most-picked path ---------------------------------------------------------------------------


def test_most_picked_path_follows_the_branch_with_the_most_picks() -> None:
    root = build_tree(SMALL_TREE)  # a → (b → (c, e), d → f)
    assert most_picked_path(root, {}) == []
    assert most_picked_path(root, {"f": 1}) == ["a", "d", "f"]
    # b and e together (3) beat the single most-picked video f (2).
    assert most_picked_path(root, {"b": 1, "e": 2, "f": 2}) == ["a", "b", "e"]
    # The path ends at the last picked video, not at a leaf below it.
    assert most_picked_path(root, {"b": 2}) == ["a", "b"]
    # A tie goes to the longer path, then to the later video.
    assert most_picked_path(root, {"b": 1, "c": 1, "d": 2}) == ["a", "b", "c"]
    assert most_picked_path(root, {"c": 1, "e": 1}) == ["a", "b", "e"]
