"""The PNG picture of a remix tree: valid, proportional to the tree, guarded against size."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image

from bot.core.lineage import build_tree
from bot.core.models import TaskStatus
from bot.discord_ui.lineage_image import (
    HIGHLIGHT,
    INDENT,
    MARGIN,
    MAX_INDENT_LEVELS,
    ROW_HEIGHT,
    STATUS_COLOURS,
    render_tree_png,
)
from tests.store_fixtures import T0, video_task


def family(children_per_node: int, depth: int):
    """A full tree: every node up to ``depth`` has ``children_per_node`` remixes."""
    tasks = [video_task("root00")]
    frontier = ["root00"]
    for level in range(1, depth + 1):
        nxt = []
        for parent in frontier:
            for n in range(children_per_node):
                tid = f"{parent[:3]}{level}{n}{len(tasks):02d}"[:8]
                tasks.append(
                    video_task(
                        tid,
                        parent,
                        root_id="root00",
                        depth=level,
                        created_at=T0 + timedelta(seconds=len(tasks)),
                    )
                )
                nxt.append(tid)
        frontier = nxt
    return tasks


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image.convert("RGB")


def label(task):
    return f"{task.id} {task.status.value}"


def test_picture_is_a_png_with_one_row_per_video():
    tasks = family(2, 2)
    png = render_tree_png(build_tree(tasks), highlight_id=None, label=label)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = decode(png)
    assert image.height == len(tasks) * ROW_HEIGHT + 2 * MARGIN
    bigger = decode(render_tree_png(build_tree(family(3, 2)), highlight_id=None, label=label))
    assert bigger.height > image.height


def test_highlighted_video_sits_on_a_band_and_dots_show_status():
    tasks = family(2, 1)
    tasks[2] = tasks[2].replace(status=TaskStatus.FAILED)
    image = decode(render_tree_png(build_tree(tasks), highlight_id=tasks[1].id, label=label))
    row_top = MARGIN + 1 * ROW_HEIGHT
    assert image.getpixel((image.width - 2, row_top + 2)) == HIGHLIGHT
    other_row = MARGIN + 2 * ROW_HEIGHT
    assert image.getpixel((image.width - 2, other_row + 2)) != HIGHLIGHT
    dot_x = MARGIN + INDENT + 5
    assert image.getpixel((dot_x, other_row + ROW_HEIGHT // 2)) == STATUS_COLOURS[TaskStatus.FAILED]
    assert (
        image.getpixel((MARGIN + 5, MARGIN + ROW_HEIGHT // 2))
        == STATUS_COLOURS[TaskStatus.COMPLETED]
    )


def test_large_tree_is_cut_at_max_nodes_with_a_closing_row():
    tasks = family(3, 3)
    assert len(tasks) == 40
    image = decode(render_tree_png(build_tree(tasks), highlight_id=None, label=label, max_nodes=10))
    assert image.height == (10 + 1) * ROW_HEIGHT + 2 * MARGIN


def test_very_deep_chain_stops_indenting():
    chain = [video_task("c0000")]
    for n in range(1, 200):
        chain.append(video_task(f"c{n:04d}", chain[-1].id, root_id="c0000", depth=n))
    image = decode(render_tree_png(build_tree(chain), highlight_id="c0199", label=lambda t: t.id))
    assert image.width < MARGIN * 2 + (MAX_INDENT_LEVELS + 2) * INDENT + 200
    assert image.height == 200 * ROW_HEIGHT + 2 * MARGIN


def test_long_labels_are_cut_and_max_nodes_is_checked():
    tasks = family(1, 1)
    image = decode(
        render_tree_png(build_tree(tasks), highlight_id=None, label=lambda t: "w" * 5000)
    )
    assert image.width < 1200
    with pytest.raises(ValueError):
        render_tree_png(build_tree(tasks), highlight_id=None, label=label, max_nodes=0)
