"""The Remix button and its form, and the buttons under results and re-posted cards.

Reroll and ⭐ (pick) live in ``team_buttons``.

The Remix form behaves exactly like ``/remix``. ``DYNAMIC_ITEMS`` lists every
persistent component the bot registers, the page buttons included.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import discord

from bot.core.models import TaskStatus, VideoTask
from bot.core.video_spec import PROMPT_MAX_CHARS
from bot.discord_ui.buttons import (
    REMIX_ID,
    CancelButton,
    DeleteButton,
    DetailsButton,
    LineageButton,
    VideoButton,
    card_view,
)
from bot.discord_ui.context import context_of
from bot.discord_ui.flows import origin_of, submit_with_card
from bot.discord_ui.pagination import DYNAMIC_ITEMS as PAGE_ITEMS
from bot.discord_ui.replies import answer_errors
from bot.discord_ui.team_buttons import PickButton, RerollButton

MODAL_TITLE_LIMIT = 45
REMIX_FORM_ID = "sora:remix-form:{id}"
REMIX_FORM_PATTERN = re.compile(r"sora:remix-form:(?P<id>[a-z0-9]{6,8})")
PROMPT_INPUT_ID = "remix_prompt"
#: The statuses whose card offers Cancel (SUBMITTING lasts a moment; its press is refused).
CANCELLABLE = frozenset(
    {TaskStatus.WAITING, TaskStatus.SUBMITTING, TaskStatus.QUEUED, TaskStatus.IN_PROGRESS}
)


class RemixButton(VideoButton, template=r"sora:remix:(?P<id>[a-z0-9]{6,8})"):
    """Opens a modal prefilled with the video's prompt; submitting it remixes the video."""

    label = "Remix"
    emoji = "🔁"
    style = discord.ButtonStyle.primary
    custom_id_format = REMIX_ID

    async def press(self, interaction: discord.Interaction) -> None:
        """Look up the parent (fast, SQLite) and open the form as the first response."""
        assert interaction.guild_id is not None
        bot = context_of(interaction)
        parent = await bot.service.find_remix_parent(interaction.guild_id, self.video_id)
        await interaction.response.send_modal(remix_form(parent))


def remix_form(parent: VideoTask) -> discord.ui.Modal:
    """The remix prompt, prefilled with the parent's; the parent's id is in its custom id.

    The form is stopped before it is sent, so discord.py keeps nothing of it in memory:
    every submit, before or after a restart and however long the member took, reaches
    ``answer_remix_form`` through the ``on_interaction`` event, with all it needs in
    the submit itself. Nothing accumulates, and no open form is lost to a restart.
    """
    form = discord.ui.Modal(
        title=f"Remix {parent.id}"[:MODAL_TITLE_LIMIT], custom_id=REMIX_FORM_ID.format(id=parent.id)
    )
    form.add_item(
        discord.ui.TextInput(
            label="Prompt for the remix",
            custom_id=PROMPT_INPUT_ID,
            style=discord.TextStyle.paragraph,
            default=parent.prompt[:PROMPT_MAX_CHARS],
            max_length=PROMPT_MAX_CHARS,
            required=True,
        )
    )
    form.stop()
    return form


async def answer_remix_form(interaction: discord.Interaction) -> None:
    """``on_interaction``: a submitted Remix form behaves exactly like ``/remix``."""
    if interaction.type is not discord.InteractionType.modal_submit or interaction.data is None:
        return
    match = REMIX_FORM_PATTERN.fullmatch(str(interaction.data.get("custom_id", "")))
    if match is None:
        return
    parent_id = match["id"]
    prompt = form_values(interaction.data).get(PROMPT_INPUT_ID, "")
    bot = context_of(interaction)
    await answer_errors(
        interaction,
        lambda: submit_with_card(
            interaction,
            check=lambda: bot.service.check_remix(origin_of(interaction), parent_id, prompt),
            submit=lambda origin: bot.service.remix(origin, parent_id, prompt),
        ),
    )


def form_values(data: Mapping[str, Any]) -> dict[str, str]:
    """``{custom_id: value}`` of a modal submit's text inputs, in rows or in labels."""
    values: dict[str, str] = {}
    for outer in data.get("components") or []:
        inner = outer.get("components") or [outer.get("component") or {}]
        for component in inner:
            if "custom_id" in component and isinstance(component.get("value"), str):
                values[component["custom_id"]] = component["value"]
    return values


def result_view(
    video_id: str, *, remix: bool = True, delete: bool = True, picks: int | None = None
) -> discord.ui.View:
    """The buttons under a result post (Remix only where the relay can remix).

    ``delete``: the Delete button, on the result post itself only (cards and re-posts
    that show the same buttons leave it out: it deletes the result post). ``picks`` is
    the ⭐ count shown (None: not known here; the button says "Pick").
    """
    view = discord.ui.View(timeout=None)
    if remix:
        view.add_item(RemixButton(video_id))
    view.add_item(RerollButton(video_id))
    view.add_item(PickButton(video_id, picks))
    view.add_item(LineageButton(video_id))
    view.add_item(DetailsButton(video_id))
    if delete:
        view.add_item(DeleteButton(video_id))
    return view


def video_view(task: VideoTask, *, remix: bool = True, picks: int | None = None) -> discord.ui.View:
    """The buttons under a status card or re-posted card: Remix, Reroll and ⭐ once finished."""
    if task.status is TaskStatus.COMPLETED:
        return result_view(task.id, remix=remix, delete=False, picks=picks)
    return card_view(task.id, cancel=task.status in CANCELLABLE)


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    RemixButton,
    RerollButton,
    PickButton,
    LineageButton,
    DetailsButton,
    DeleteButton,
    *PAGE_ITEMS,
    CancelButton,
)
