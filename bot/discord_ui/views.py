"""The Remix button and its form, and the buttons under results and re-posted cards.

The Remix form behaves exactly like ``/remix``. ``DYNAMIC_ITEMS`` lists every
persistent component the bot registers, the page buttons included.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.core.models import TaskStatus, VideoTask
from bot.core.video_spec import PROMPT_MAX_CHARS
from bot.discord_ui.buttons import (
    REMIX_ID,
    DetailsButton,
    LineageButton,
    VideoButton,
    card_view,
)
from bot.discord_ui.context import context_of
from bot.discord_ui.flows import origin_of, submit_with_card
from bot.discord_ui.pagination import DYNAMIC_ITEMS as PAGE_ITEMS
from bot.discord_ui.replies import report_error

MODAL_TITLE_LIMIT = 45


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
        await interaction.response.send_modal(RemixModal(parent))


class RemixModal(discord.ui.Modal):
    """The remix prompt, prefilled with the parent's."""

    def __init__(self, parent: VideoTask) -> None:
        super().__init__(title=f"Remix {parent.id}"[:MODAL_TITLE_LIMIT], timeout=None)
        self.parent = parent
        self.prompt: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
            label="Prompt for the remix",
            custom_id="remix_prompt",
            style=discord.TextStyle.paragraph,
            default=parent.prompt[:PROMPT_MAX_CHARS],
            max_length=PROMPT_MAX_CHARS,
            required=True,
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Behave exactly like ``/remix <parent> <prompt>``."""
        bot = context_of(interaction)
        prompt = self.prompt.value
        await submit_with_card(
            interaction,
            check=lambda: bot.service.check_remix(origin_of(interaction), self.parent.id, prompt),
            submit=lambda origin: bot.service.remix(origin, self.parent.id, prompt),
        )

    async def on_error(  # type: ignore[override]  # Modal narrows BaseView.on_error (no item)
        self, interaction: discord.Interaction, error: Exception, /
    ) -> None:
        """The form's errors take the one error path too."""
        await report_error(interaction, error)


def result_view(video_id: str) -> discord.ui.View:
    """The buttons under a result post."""
    view = discord.ui.View(timeout=None)
    view.add_item(RemixButton(video_id))
    view.add_item(LineageButton(video_id))
    view.add_item(DetailsButton(video_id))
    return view


def video_view(task: VideoTask) -> discord.ui.View:
    """The buttons under a re-posted card: Remix only once the video is finished."""
    if task.status is TaskStatus.COMPLETED:
        return result_view(task.id)
    return card_view(task.id)


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    RemixButton,
    LineageButton,
    DetailsButton,
    *PAGE_ITEMS,
)
