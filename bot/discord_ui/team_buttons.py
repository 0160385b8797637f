"""The Reroll and ⭐ (pick) buttons under results.

Reroll makes a new root video from the result's prompt, model, size and seconds; its card
is a reply to the result, so the channel reads result → card → new result. ⭐ toggles the
presser's pick and shows the count on the button. Both look the video up in the pressing
guild only, like every other button (``buttons.VideoButton``).
"""

from __future__ import annotations

import discord

from bot.core.models import VideoTask
from bot.discord_ui import render
from bot.discord_ui.buttons import VideoButton
from bot.discord_ui.context import context_of, guild_id_of
from bot.discord_ui.flows import origin_of, submit_reply_card
from bot.services import team
from bot.services.submission import Origin

REROLL_ID = "sora:reroll:{id}"
PICK_ID = "sora:pick:{id}"
#: The ⭐ button's label when the count is not known (a re-posted card).
PICK_LABEL = "Pick"


class RerollButton(VideoButton, template=r"sora:reroll:(?P<id>[a-z0-9]{6,8})"):
    """A new root video with the same prompt and options; anyone in the guild may press it.

    The new video is the presser's, counted against the presser's quotas.
    """

    label = "Reroll"
    emoji = "🎲"
    style = discord.ButtonStyle.secondary
    custom_id_format = REROLL_ID

    async def press(self, interaction: discord.Interaction) -> None:
        bot = context_of(interaction)
        found: list[VideoTask] = []

        async def check() -> None:
            found.append(
                await team.check_reroll(bot.service, origin_of(interaction), self.video_id)
            )

        async def submit(origin: Origin) -> VideoTask:
            return await team.reroll(bot.service, origin, found[0])

        task = await submit_reply_card(interaction, check=check, submit=submit)
        if task is not None:
            link = render.id_link(task)
            await interaction.edit_original_response(
                content=f"🎲 Rerolling `{found[0].id}` as {link}: its card is a reply to the video.",
                allowed_mentions=render.NO_MENTIONS,
            )


class PickButton(VideoButton, template=r"sora:pick:(?P<id>[a-z0-9]{6,8})"):
    """⭐ with the video's pick count; a press adds or takes back the presser's pick."""

    label = PICK_LABEL
    emoji = "⭐"
    style = discord.ButtonStyle.secondary
    custom_id_format = PICK_ID

    def __init__(self, video_id: str, count: int | None = None) -> None:
        super().__init__(video_id)
        self.item.label = pick_label(count)

    async def press(self, interaction: discord.Interaction) -> None:
        """Toggle the pick, show the new count on the pressed post, tell the presser privately."""
        bot = context_of(interaction)
        toggle = await team.toggle_pick(
            bot.service, guild_id_of(interaction), self.video_id, interaction.user.id
        )
        view = _with_count(interaction.message, self.item.custom_id, toggle.count)
        if view is None:
            await interaction.response.defer(ephemeral=True, thinking=True)
        else:
            await interaction.response.edit_message(view=view)
        await interaction.followup.send(
            pick_answer(self.video_id, picked=toggle.picked, count=toggle.count),
            ephemeral=True,
            allowed_mentions=render.NO_MENTIONS,
        )


def pick_label(count: int | None) -> str:
    """The ⭐ button's label: the count, or ``Pick`` when it is not known."""
    return PICK_LABEL if count is None else str(count)


def pick_answer(video_id: str, *, picked: bool, count: int) -> str:
    """The private answer to a press on ⭐."""
    total = f"{count} pick" + ("" if count == 1 else "s")
    if picked:
        return f"⭐ You picked `{video_id}` ({total}). Press ⭐ again to take it back."
    return f"You took back your pick of `{video_id}` ({total})."


def _with_count(
    message: discord.Message | None, custom_id: str | None, count: int
) -> discord.ui.View | None:
    """The pressed post's own buttons with the new count on ⭐ (None: nothing to edit).

    Rebuilt from the message, so every other button it carries stays as it is.
    """
    if message is None or custom_id is None:
        return None
    view = discord.ui.View.from_message(message, timeout=None)
    for item in view.children:
        if isinstance(item, discord.ui.Button) and item.custom_id == custom_id:
            item.label = pick_label(count)
            return view
    return None
