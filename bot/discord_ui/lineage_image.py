"""A PNG picture of a remix tree, for chains too long to read as text in an embed.

One row per video in pre-order (parents above their children), indented by depth, with
connector lines, a dot in the status colour and a short label; the highlighted video
sits on a coloured band. Rows are simple to draw and the picture grows linearly with
the tree, so even a few hundred videos stay a small, readable image. Pillow's bundled
default font is used, so nothing is read from the system.

Guards: at most ``max_nodes`` rows are drawn (a final row says how many were left
out), indentation stops growing after ``MAX_INDENT_LEVELS`` (deeper rows show their
depth instead), and labels are cut to ``MAX_LABEL_CHARS``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from PIL import Image, ImageDraw, ImageFont

from bot.core.lineage import LineageNode, ShownTask
from bot.core.models import TaskStatus

ROW_HEIGHT = 22
INDENT = 18
MARGIN = 12
DOT_RADIUS = 5
FONT_SIZE = 13
MAX_INDENT_LEVELS = 40
MAX_LABEL_CHARS = 90
DEFAULT_MAX_NODES = 300

BACKGROUND = (255, 255, 255)
HIGHLIGHT = (255, 236, 153)
LINE = (170, 170, 170)
TEXT = (32, 32, 32)
MUTED = (120, 120, 120)
STATUS_COLOURS: dict[TaskStatus, tuple[int, int, int]] = {
    TaskStatus.WAITING: (160, 160, 160),
    TaskStatus.SUBMITTING: (160, 160, 160),
    TaskStatus.QUEUED: (160, 160, 160),
    TaskStatus.IN_PROGRESS: (88, 101, 242),
    TaskStatus.COMPLETED: (59, 165, 93),
    TaskStatus.FAILED: (237, 66, 69),
    TaskStatus.CANCELLED: (90, 90, 90),
}


T = TypeVar("T", bound=ShownTask)


@dataclass(frozen=True, slots=True)
class _Row(Generic[T]):
    task: T
    level: int
    parent_row: int | None


def _rows(root: LineageNode[T], max_nodes: int) -> tuple[list[_Row[T]], int]:
    """Pre-order rows with the index of each row's parent row; also how many were left out."""
    rows: list[_Row[T]] = []
    skipped = 0
    stack: list[tuple[LineageNode[T], int, int | None]] = [(root, 0, None)]
    while stack:
        node, level, parent_row = stack.pop()
        if len(rows) >= max_nodes:
            skipped += sum(1 for _ in node.walk())
            continue
        rows.append(_Row(node.task, level, parent_row))
        me = len(rows) - 1
        stack.extend((child, level + 1, me) for child in reversed(node.children))
    return rows, skipped


def _x(level: int) -> int:
    return MARGIN + min(level, MAX_INDENT_LEVELS) * INDENT + DOT_RADIUS


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def render_tree_png(
    root: LineageNode[T],
    *,
    highlight_id: str | None,
    label: Callable[[T], str],
    max_nodes: int = DEFAULT_MAX_NODES,
) -> bytes:
    """Draw the tree under ``root`` and return PNG bytes."""
    if max_nodes < 1:
        raise ValueError("max_nodes must be at least 1")
    rows, skipped = _rows(root, max_nodes)
    font = ImageFont.load_default(size=FONT_SIZE)
    texts = []
    for row in rows:
        deep = f"[{row.level}] " if row.level > MAX_INDENT_LEVELS else ""
        texts.append(_cut(deep + label(row.task)))
    footer = f"… {skipped} more not drawn" if skipped else None
    widths = [
        _x(r.level) + DOT_RADIUS + 6 + font.getlength(t) for r, t in zip(rows, texts, strict=True)
    ]
    if footer:
        widths.append(MARGIN + font.getlength(footer))
    width = int(max(widths)) + MARGIN
    height = (len(rows) + (1 if footer else 0)) * ROW_HEIGHT + 2 * MARGIN
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)

    def centre_y(index: int) -> int:
        return MARGIN + index * ROW_HEIGHT + ROW_HEIGHT // 2

    for index, row in enumerate(rows):
        if row.task.id == highlight_id:
            top = MARGIN + index * ROW_HEIGHT
            draw.rectangle([0, top, width, top + ROW_HEIGHT - 1], fill=HIGHLIGHT)
    for index, row in enumerate(rows):
        if row.parent_row is None:
            continue
        px, py = _x(rows[row.parent_row].level), centre_y(row.parent_row)
        cx, cy = _x(row.level), centre_y(index)
        draw.line([(px, py + DOT_RADIUS), (px, cy)], fill=LINE, width=1)
        draw.line([(px, cy), (cx - DOT_RADIUS, cy)], fill=LINE, width=1)
    for index, (row, text) in enumerate(zip(rows, texts, strict=True)):
        cx, cy = _x(row.level), centre_y(index)
        colour = STATUS_COLOURS.get(row.task.status, MUTED)
        draw.ellipse(
            [cx - DOT_RADIUS, cy - DOT_RADIUS, cx + DOT_RADIUS, cy + DOT_RADIUS], fill=colour
        )
        draw.text((cx + DOT_RADIUS + 6, cy), text, fill=TEXT, font=font, anchor="lm")
    if footer:
        draw.text((MARGIN, centre_y(len(rows))), footer, fill=MUTED, font=font, anchor="lm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
