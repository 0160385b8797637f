"""Remix lineage: trees, paths and prompt diffs over ``VideoTask`` lists.

Pure functions with no I/O: the store loads rows (``TaskStore.tree``,
``TaskStore.ancestors``), these functions shape them. Every walk has a depth guard, so a
corrupted ``parent_id`` cycle can neither hang the bot nor overflow the stack (walks are
iterative). Trees mark where they were cut; flat paths raise ``LineageError``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypedDict

from bot.core.errors import NotFound, ParentNotReady
from bot.core.models import TaskStatus, VideoTask

DEFAULT_MAX_DEPTH = 1000
HIGHLIGHT_MARK = "  ◀"
SAME_PROMPT = "(same prompt)"

CutReason = Literal["cycle", "depth"]


class LineageError(Exception):
    """Lineage data is inconsistent (a parent cycle) or deeper than the guard allows."""


@dataclass(slots=True, eq=False)
class LineageNode:
    """One task in a lineage tree; ``cut`` says why some descendants are not shown."""

    task: VideoTask
    children: list[LineageNode] = field(default_factory=list)
    cut: CutReason | None = None

    def walk(self) -> Iterator[tuple[LineageNode, int]]:
        """Yield ``(node, level)`` in pre-order (parents before their children)."""
        stack: list[tuple[LineageNode, int]] = [(self, 0)]
        while stack:
            node, level = stack.pop()
            yield node, level
            stack.extend((child, level + 1) for child in reversed(node.children))

    def find(self, task_id: str) -> LineageNode | None:
        """Return the node for ``task_id`` in this subtree, or None."""
        return next((node for node, _ in self.walk() if node.task.id == task_id), None)


def _order_key(task: VideoTask) -> tuple[object, str]:
    return (task.created_at, task.id)


def _pick_root(by_id: dict[str, VideoTask], root_id: str | None) -> VideoTask:
    if root_id is not None:
        if root_id not in by_id:
            raise ValueError(f"root {root_id} is not among the tasks")
        return by_id[root_id]
    tops = [t for t in by_id.values() if t.parent_id is None or t.parent_id not in by_id]
    if len(tops) != 1:
        raise ValueError(f"expected exactly one root, found {len(tops)}; pass root_id")
    return tops[0]


def build_tree(
    tasks: Iterable[VideoTask],
    *,
    root_id: str | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> LineageNode:
    """Arrange ``tasks`` under their root, children ordered by ``created_at``.

    The root is ``root_id`` when given, else the one task whose parent is absent from
    ``tasks``. Tasks not reachable from the root are left out. A node is not expanded
    past ``max_depth`` levels (``cut="depth"``), and a child that was already placed
    (a ``parent_id`` cycle through the root) is skipped with ``cut="cycle"``.
    """
    by_id = {t.id: t for t in tasks}
    root = LineageNode(_pick_root(by_id, root_id))
    children: dict[str, list[VideoTask]] = {}
    for task in by_id.values():
        if task.parent_id is not None:
            children.setdefault(task.parent_id, []).append(task)
    placed = {root.task.id}
    stack: list[tuple[LineageNode, int]] = [(root, 0)]
    while stack:
        node, level = stack.pop()
        kids = sorted(children.get(node.task.id, []), key=_order_key)
        if kids and level >= max_depth:
            node.cut = "depth"
            continue
        for kid in kids:
            if kid.id in placed:
                node.cut = "cycle"
                continue
            placed.add(kid.id)
            child = LineageNode(kid)
            node.children.append(child)
            stack.append((child, level + 1))
    return root


def path_to_root(
    tasks: Iterable[VideoTask], task_id: str, *, max_depth: int = DEFAULT_MAX_DEPTH
) -> list[VideoTask]:
    """Return ``[task, parent, ..., root]``; stops early if a parent is not in ``tasks``.

    Raises ``KeyError`` for an unknown ``task_id`` and ``LineageError`` on a cycle or a
    path longer than ``max_depth`` steps.
    """
    by_id = {t.id: t for t in tasks}
    current = by_id[task_id]
    path = [current]
    seen = {current.id}
    while current.parent_id is not None and current.parent_id in by_id:
        if len(path) > max_depth:
            raise LineageError(f"lineage of {task_id} is deeper than {max_depth}")
        current = by_id[current.parent_id]
        if current.id in seen:
            raise LineageError(f"parent cycle through {current.id}")
        seen.add(current.id)
        path.append(current)
    return path


def _tree_lines(
    root: LineageNode, highlight_id: str | None, describe: Callable[[VideoTask], str]
) -> Iterator[tuple[str, bool]]:
    """Yield ``(line, is_highlighted)`` for every node and cut marker, pre-order."""
    # Stack items: (node or cut reason, own prefix, prefix for its children).
    stack: list[tuple[LineageNode | str, str, str]] = [(root, "", "")]
    while stack:
        item, prefix, child_prefix = stack.pop()
        if isinstance(item, str):
            yield f"{prefix}… ({item}: not shown)", False
            continue
        hit = item.task.id == highlight_id
        yield f"{prefix}{describe(item.task)}{HIGHLIGHT_MARK if hit else ''}", hit
        entries: list[LineageNode | str] = [*item.children]
        if item.cut is not None:
            entries.append("too deep" if item.cut == "depth" else "cycle")
        pushed = []
        for index, entry in enumerate(entries):
            last = index == len(entries) - 1
            pushed.append(
                (
                    entry,
                    child_prefix + ("└─ " if last else "├─ "),
                    child_prefix + ("   " if last else "│  "),
                )
            )
        stack.extend(reversed(pushed))


def render_text_tree(
    root: LineageNode,
    *,
    highlight_id: str | None,
    describe: Callable[[VideoTask], str],
    max_lines: int | None = None,
) -> list[str]:
    """Draw the tree with box-drawing characters, marking ``highlight_id`` with ◀.

    With ``max_lines``, the output is cut to that many lines, ending in an
    ``… N more`` line; if the highlighted line would fall in the cut part (and
    ``max_lines >= 3``), it is kept, between two such markers.
    """
    if max_lines is not None and max_lines < 1:
        raise ValueError("max_lines must be at least 1")
    rendered = list(_tree_lines(root, highlight_id, describe))
    lines = [line for line, _ in rendered]
    if max_lines is None or len(lines) <= max_lines:
        return lines
    hit = next((i for i, (_, is_hit) in enumerate(rendered) if is_hit), None)
    if hit is None or hit < max_lines - 1 or max_lines < 3:
        keep = max_lines - 1
        return [*lines[:keep], f"… {len(lines) - keep} more"]
    tail = len(lines) - hit - 1
    head = max_lines - (3 if tail else 2)
    out = [*lines[:head], f"… {hit - head} more", lines[hit]]
    if tail:
        out.append(f"… {tail} more")
    return out


def _trim(text: str, max_len: int) -> str:
    if len(text) <= max_len:
        return text
    cut = text[: max_len - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


def prompt_change(parent_prompt: str, child_prompt: str, max_len: int = 60) -> str:
    """Summarise a remix's prompt edit word by word, e.g. ``"noon→sunset, +birds"``.

    Words are compared case-insensitively. Each changed run reads ``old→new``, an added
    run ``+words`` and a removed one ``-words``; runs are joined with ``", "``. The
    summary is cut at a word boundary to ``max_len`` characters with a trailing ``…``.
    """
    old, new = parent_prompt.split(), child_prompt.split()
    matcher = difflib.SequenceMatcher(
        None, [w.lower() for w in old], [w.lower() for w in new], autojunk=False
    )
    parts = [
        _describe_edit(op, " ".join(old[i1:i2]), " ".join(new[j1:j2]))
        for op, i1, i2, j1, j2 in matcher.get_opcodes()
        if op != "equal"
    ]
    return _trim(", ".join(parts), max_len) if parts else SAME_PROMPT


def _describe_edit(op: str, removed: str, added: str) -> str:
    if op == "replace":
        return f"{removed}→{added}"
    return f"+{added}" if op == "insert" else f"-{removed}"


class InheritedParameters(TypedDict):
    """What a remix keeps of its parent."""

    model: str
    seconds: int
    size: str


def inherit_parameters(parent: VideoTask) -> InheritedParameters:
    """Return the generation parameters a remix takes from its parent."""
    return {"model": parent.model, "seconds": parent.seconds, "size": parent.size}


_NOT_READY_WORDING = {
    TaskStatus.WAITING: "is still waiting in the queue",
    TaskStatus.SUBMITTING: "is still being submitted",
    TaskStatus.QUEUED: "is still queued",
    TaskStatus.IN_PROGRESS: "is still being generated",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELLED: "was cancelled",
}


def check_remixable(parent: VideoTask, guild_id: int, *, verb: str = "remixed") -> None:
    """Raise unless ``parent`` may be remixed (or ``verb``: extended) from ``guild_id``.

    ``NotFound`` if it belongs to another guild (same answer as an unknown id),
    ``ParentNotReady`` unless it is completed with an upstream video.
    """
    if parent.guild_id != guild_id:
        raise NotFound(parent.id)
    if parent.status is not TaskStatus.COMPLETED:
        state = _NOT_READY_WORDING.get(parent.status, parent.status.value)
        raise ParentNotReady(f"Video `{parent.id}` {state}; only a finished video can be {verb}.")
    if parent.upstream_id is None:
        raise ParentNotReady(f"Video `{parent.id}` has no stored upstream video to work on.")
