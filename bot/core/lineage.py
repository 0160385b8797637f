"""Remix lineage: trees, paths and prompt diffs over lists of tasks.

Pure functions with no I/O: the store loads rows (``TaskStore.lineage``,
``TaskStore.tree``, ``TaskStore.ancestors``), these functions shape them. Every walk has
a depth guard, so a corrupted ``parent_id`` cycle can neither hang the bot nor overflow
the stack (walks are iterative). Trees mark where they were cut; flat paths raise
``LineageError``.

The walks take any task that has an id, a parent id and a creation time (``Linked``):
a full ``VideoTask``, or the lean ``LineageTask`` the /lineage view loads (the columns a
tree line shows, nothing else), which is several times cheaper to read for a family of
a thousand videos.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, Protocol, TypedDict, TypeVar

from bot.core.errors import NotFound, ParentNotReady
from bot.core.models import TaskKind, TaskStatus, VideoTask

DEFAULT_MAX_DEPTH = 1000
HIGHLIGHT_MARK = "  ◀"
SAME_PROMPT = "(same prompt)"

CutReason = Literal["cycle", "depth"]


class LineageError(Exception):
    """Lineage data is inconsistent (a parent cycle) or deeper than the guard allows."""


class Linked(Protocol):
    """What a tree walk needs of a task: its id, its parent's id and when it was made."""

    @property
    def id(self) -> str: ...
    @property
    def parent_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...


class ShownTask(Linked, Protocol):
    """What a lineage view shows of a task (``VideoTask`` and ``LineageTask`` are both one)."""

    @property
    def guild_id(self) -> int: ...
    @property
    def channel_id(self) -> int: ...
    @property
    def user_id(self) -> int: ...
    @property
    def author_name(self) -> str | None: ...
    @property
    def prompt(self) -> str: ...
    @property
    def seconds(self) -> int: ...
    @property
    def status(self) -> TaskStatus: ...
    @property
    def root_id(self) -> str: ...
    @property
    def depth(self) -> int: ...
    @property
    def kind(self) -> TaskKind: ...
    @property
    def rerolled_from(self) -> str | None: ...
    @property
    def result_message_id(self) -> int | None: ...
    @property
    def card_message_id(self) -> int | None: ...
    @property
    def deleted(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class LineageTask:
    """A task as a lineage tree shows it: the ``VideoTask`` fields a tree line reads.

    ``kind`` and ``rerolled_from`` are read from the task's metadata, ``deleted`` from
    its deleted mark; every other field has the ``VideoTask`` field's name and value.
    """

    id: str
    guild_id: int
    channel_id: int
    user_id: int
    author_name: str | None
    prompt: str
    seconds: int
    status: TaskStatus
    parent_id: str | None
    root_id: str
    depth: int
    created_at: datetime
    kind: TaskKind
    rerolled_from: str | None
    result_message_id: int | None
    card_message_id: int | None
    deleted: bool


def lineage_task(task: VideoTask) -> LineageTask:
    """The lean view of a full task (what ``TaskStore.lineage`` reads for it)."""
    return LineageTask(
        id=task.id,
        guild_id=task.guild_id,
        channel_id=task.channel_id,
        user_id=task.user_id,
        author_name=task.author_name,
        prompt=task.prompt,
        seconds=task.seconds,
        status=task.status,
        parent_id=task.parent_id,
        root_id=task.root_id,
        depth=task.depth,
        created_at=task.created_at,
        kind=task.kind,
        rerolled_from=task.rerolled_from,
        result_message_id=task.result_message_id,
        card_message_id=task.card_message_id,
        deleted=task.deleted,
    )


T = TypeVar("T", bound=Linked)


@dataclass(slots=True, eq=False)
class LineageNode(Generic[T]):
    """One task in a lineage tree; ``cut`` says why some descendants are not shown."""

    task: T
    children: list[LineageNode[T]] = field(default_factory=list)
    cut: CutReason | None = None

    def walk(self) -> Iterator[tuple[LineageNode[T], int]]:
        """Yield ``(node, level)`` in pre-order (parents before their children)."""
        stack: list[tuple[LineageNode[T], int]] = [(self, 0)]
        while stack:
            node, level = stack.pop()
            yield node, level
            stack.extend((child, level + 1) for child in reversed(node.children))

    def find(self, task_id: str) -> LineageNode[T] | None:
        """Return the node for ``task_id`` in this subtree, or None."""
        return next((node for node, _ in self.walk() if node.task.id == task_id), None)


def _order_key(task: Linked) -> tuple[datetime, str]:
    return (task.created_at, task.id)


def _pick_root(by_id: dict[str, T], root_id: str | None) -> T:
    if root_id is not None:
        if root_id not in by_id:
            raise ValueError(f"root {root_id} is not among the tasks")
        return by_id[root_id]
    tops = [t for t in by_id.values() if t.parent_id is None or t.parent_id not in by_id]
    if len(tops) != 1:
        raise ValueError(f"expected exactly one root, found {len(tops)}; pass root_id")
    return tops[0]


def build_tree(
    tasks: Iterable[T],
    *,
    root_id: str | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> LineageNode[T]:
    """Arrange ``tasks`` under their root, children ordered by ``created_at``.

    The root is ``root_id`` when given, else the one task whose parent is absent from
    ``tasks``. Tasks not reachable from the root are left out. A node is not expanded
    past ``max_depth`` levels (``cut="depth"``), and a child that was already placed
    (a ``parent_id`` cycle through the root) is skipped with ``cut="cycle"``.
    """
    by_id = {t.id: t for t in tasks}
    root = LineageNode(_pick_root(by_id, root_id))
    children: dict[str, list[T]] = {}
    for task in by_id.values():
        if task.parent_id is not None:
            children.setdefault(task.parent_id, []).append(task)
    placed = {root.task.id}
    stack: list[tuple[LineageNode[T], int]] = [(root, 0)]
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
    tasks: Iterable[T], task_id: str, *, max_depth: int = DEFAULT_MAX_DEPTH
) -> list[T]:
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
    root: LineageNode[T], highlight_id: str | None, describe: Callable[[T], str]
) -> Iterator[tuple[str, bool]]:
    """Yield ``(line, is_highlighted)`` for every node and cut marker, pre-order."""
    # Stack items: (node or cut reason, own prefix, prefix for its children).
    stack: list[tuple[LineageNode[T] | str, str, str]] = [(root, "", "")]
    while stack:
        item, prefix, child_prefix = stack.pop()
        if isinstance(item, str):
            yield f"{prefix}… ({item}: not shown)", False
            continue
        hit = item.task.id == highlight_id
        yield f"{prefix}{describe(item.task)}{HIGHLIGHT_MARK if hit else ''}", hit
        entries: list[LineageNode[T] | str] = [*item.children]
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
    root: LineageNode[T],
    *,
    highlight_id: str | None,
    describe: Callable[[T], str],
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
    """``text`` cut at a word boundary to ``max_len`` characters, ending in ``…``."""
    if len(text) <= max_len:
        return text
    cut = text[: max_len - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;") + "…"


#: Below this share of words in common (of each prompt), a remix prompt is taken for an
#: instruction ("add a paper lantern") rather than a rewrite of its parent's prompt.
INSTRUCTION_SHARE = 0.5
_PUNCTUATION = ".,;:!?\"'()[]“”‘’«»…-—"


@dataclass(frozen=True, slots=True)
class _Edit:
    """One changed run of words: ``removed`` words of the parent, ``added`` in their place."""

    removed: list[str]
    added: list[str]

    def text(self, *, short_removed: bool) -> str:
        """``old→new``, ``+new`` or ``-old``; ``short_removed`` keeps only the first old word."""
        removed = " ".join(self.removed)
        if short_removed and len(self.removed) > 1:
            removed = self.removed[0] + "…"
        added = " ".join(self.added)
        if self.removed and self.added:
            return f"{removed}→{added}"
        return f"+{added}" if self.added else f"-{removed}"


def _word_key(word: str) -> str:
    """How words are compared: case and surrounding punctuation do not count."""
    lower = word.lower()
    return lower.strip(_PUNCTUATION) or lower


def _edits(old: list[str], new: list[str]) -> tuple[list[_Edit], int]:
    """The changed runs between two word lists, and how many words they have in common."""
    old_keys, new_keys = [_word_key(w) for w in old], [_word_key(w) for w in new]
    if old_keys == new_keys:  # what the matcher would find, without building it
        return [], len(old)
    matcher = difflib.SequenceMatcher(None, old_keys, new_keys, autojunk=False)
    edits: list[_Edit] = []
    shared = 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            shared += i2 - i1
        else:
            edits.append(_Edit(removed=old[i1:i2], added=new[j1:j2]))
    return edits, shared


def is_instruction(parent_prompt: str, child_prompt: str) -> bool:
    """Whether a remix prompt reads as an instruction rather than an edit of its parent's.

    An edit keeps most of the parent's words or most of its own come from the parent;
    an instruction ("turn it into a watercolor painting") shares little with either.
    """
    old, new = parent_prompt.split(), child_prompt.split()
    if not old or not new:
        return False
    _, shared = _edits(old, new)
    return _shares_little(old, new, shared)


def _shares_little(old: list[str], new: list[str], shared: int) -> bool:
    """``is_instruction``'s test, given the words the two prompts have in common."""
    if not old or not new:
        return False
    return shared < INSTRUCTION_SHARE * len(old) and shared < INSTRUCTION_SHARE * len(new)


def quoted(prompt: str, max_len: int) -> str:
    """A prompt in quotes, one line, cut at a word boundary to ``max_len`` in all."""
    return f"“{_trim(' '.join(prompt.split()), max(max_len - 2, 1))}”"


#: Remembered prompt changes: a tree's page buttons and its other videos' /lineage show
#: the same changes again (each a word diff); the bound keeps the memory small.
PROMPT_CHANGES_KEPT = 4096


def forget_prompt_changes() -> None:
    """Empty the remembered changes (for measuring a first render)."""
    prompt_change.cache_clear()


@functools.lru_cache(maxsize=PROMPT_CHANGES_KEPT)
def prompt_change(parent_prompt: str, child_prompt: str, max_len: int = 60) -> str:
    """Summarise a remix's prompt, e.g. ``"noon→sunset, +birds"``, within ``max_len``.

    An instruction (see ``is_instruction``) is shown whole, in quotes: a word diff of it
    against the parent says nothing. An edit is summarised word by word (case and
    punctuation around words do not count): a changed run reads ``old→new``, an added
    run ``+words`` and a removed one ``-words``. What was added or replaced leads, in
    prompt order, and removals follow. When that is too long, replaced and removed runs
    are shortened to their first word first, so the new words are what stays; whatever
    is still cut is cut at a word boundary with a trailing ``…``.
    """
    old, new = parent_prompt.split(), child_prompt.split()
    edits, shared = _edits(old, new)
    if not edits:
        return SAME_PROMPT
    if _shares_little(old, new, shared):  # is_instruction, without a second diff
        return quoted(child_prompt, max_len)
    ordered = [e for e in edits if e.added] + [e for e in edits if not e.added]
    for short in (False, True):
        summary = ", ".join(e.text(short_removed=short) for e in ordered)
        if len(summary) <= max_len:
            return summary
    return _trim(summary, max_len)


#: A path as a linked list from its last id back to the root's.
_Trail = tuple[str, "_Trail"] | None


def most_picked_path(root: LineageNode[T], picks: Mapping[str, int]) -> list[str]:
    """The ids from the root down the most-picked path; empty when nothing is picked.

    The path is the one from the root to a picked video with the most picks in total
    along it (so a branch the team kept picking beats a single popular side-shoot); a
    tie goes to the longer path, then to the later video. ``picks`` maps ids to counts.
    """
    best: tuple[int, int, tuple[datetime, str]] | None = None
    best_trail: _Trail = None
    # Each node carries its path as a linked trail (id, trail above), not a copied list:
    # a long chain would otherwise copy a path per node.
    stack: list[tuple[LineageNode[T], _Trail, int, int]] = [(root, None, 0, 0)]
    while stack:
        node, above, length, total = stack.pop()
        trail: _Trail = (node.task.id, above)
        length += 1
        count = picks.get(node.task.id, 0)
        total += count
        score = (total, length, _order_key(node.task))
        if count > 0 and (best is None or score > best):
            best, best_trail = score, trail
        stack.extend((child, trail, length, total) for child in node.children)
    path: list[str] = []
    while best_trail is not None:
        task_id, best_trail = best_trail
        path.append(task_id)
    return path[::-1]


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
