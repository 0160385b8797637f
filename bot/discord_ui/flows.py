"""The shared shape of every submission: check, answer publicly, submit, show the card.

/sora, /remix and the Remix modal all go through ``submit_with_card`` (the Reroll
button through ``submit_reply_card``, whose card is a reply to the pressed result) so
that they answer inside Discord's 3 seconds the same way:

1. cheap checks (input, permissions, quotas: local and SQLite only) — a refusal
   is an ephemeral error and nothing is written;
2. ``defer`` publicly, which creates the status card;
3. the upstream call (may take seconds) — a refusal deletes the card and
   explains privately;
4. the card shows the task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from bot.core.errors import BotError
from bot.core.models import VideoTask, clean_author_name
from bot.discord_ui import render
from bot.discord_ui.buttons import card_view
from bot.discord_ui.context import context_of
from bot.discord_ui.permissions import check_bot_permissions
from bot.discord_ui.replies import report_error, retract_card
from bot.discord_ui.upload_limit import guild_upload_limit
from bot.services.queue import ahead_of
from bot.services.submission import Origin


def origin_of(interaction: discord.Interaction, card_message_id: int | None = None) -> Origin:
    """The plain ids the core needs, and the member's display name as of this interaction.

    ``interaction.user`` is the member from the interaction payload (server nickname,
    else global name, else username), so no member cache or intent is needed. The upload
    limit is the cached guild's (the bot's own posts), not the interaction's
    ``attachment_size_limit``, which includes the invoker's Nitro.
    """
    assert interaction.guild_id is not None and interaction.channel_id is not None
    return Origin(
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        user_id=interaction.user.id,
        card_message_id=card_message_id,
        author_name=clean_author_name(interaction.user.display_name),
        upload_limit=guild_upload_limit(interaction.client.get_guild(interaction.guild_id)),
    )


async def submit_with_card(
    interaction: discord.Interaction,
    *,
    check: Callable[[], Awaitable[object]],
    submit: Callable[[Origin], Awaitable[VideoTask]],
) -> VideoTask | None:
    """Run one submission; returns the task, or None when it was refused (already answered)."""
    try:
        check_bot_permissions(interaction)
        await check()
    except BotError as exc:
        await report_error(interaction, exc)
        return None
    await interaction.response.defer(thinking=True)
    await context_of(interaction).foreground.idle()
    card = await interaction.original_response()
    return await _submit_and_show(interaction, card.id, submit)


async def submit_reply_card(
    interaction: discord.Interaction,
    *,
    check: Callable[[], Awaitable[object]],
    submit: Callable[[Origin], Awaitable[VideoTask]],
) -> VideoTask | None:
    """A submission from a button on a post (Reroll): the card is a reply to that post.

    The press is answered privately; the card is a channel message replying to the
    pressed post (an interaction's own response cannot be a reply), edited through the
    channel from then on. Returns the task, or None when it was refused (already answered).
    """
    try:
        check_bot_permissions(interaction)
        await check()
    except BotError as exc:
        await report_error(interaction, exc)
        return None
    assert interaction.message is not None, "a button press always carries its message"
    await interaction.response.defer(ephemeral=True, thinking=True)
    card = await interaction.message.reply(
        "Sending to the video service…", mention_author=False, allowed_mentions=render.NO_MENTIONS
    )
    try:
        task = await submit(origin_of(interaction, card.id))
    except BotError as exc:
        await card.delete()
        await report_error(interaction, exc)
        return None
    await card.edit(content=None, embed=render.card_embed(task), view=card_view(task.id))
    await context_of(interaction).store.record_card_edit(
        task.id, status=task.status, progress=task.progress
    )
    return task


async def submit_followup_card(
    interaction: discord.Interaction, submit: Callable[[Origin], Awaitable[VideoTask]]
) -> VideoTask | None:
    """A further card for the same interaction (batch remixes): a public followup message."""
    card = await interaction.followup.send(
        content="Sending to the video service…", wait=True, allowed_mentions=render.NO_MENTIONS
    )
    try:
        task = await submit(origin_of(interaction, card.id))
    except BotError as exc:
        await card.delete()
        await report_error(interaction, exc)
        return None
    bot = context_of(interaction)
    embed = render.card_embed(task, ahead=await ahead_of(bot.store, task))
    await card.edit(content=None, embed=embed, view=card_view(task.id))
    bot.card_hooks.remember(task.id, interaction, card.id, original=False)
    await bot.store.record_card_edit(task.id, status=task.status, progress=task.progress)
    return task


async def _submit_and_show(
    interaction: discord.Interaction, card_id: int, submit: Callable[[Origin], Awaitable[VideoTask]]
) -> VideoTask | None:
    bot = context_of(interaction)
    await bot.foreground.idle()
    try:
        task = await submit(origin_of(interaction, card_id))
    except BotError as exc:
        await retract_card(interaction, exc)
        return None
    await bot.foreground.idle()
    await interaction.edit_original_response(
        content=None,
        embed=render.card_embed(task, ahead=await ahead_of(bot.store, task)),
        view=card_view(task.id),
        allowed_mentions=render.NO_MENTIONS,
    )
    bot.card_hooks.remember(task.id, interaction, card_id, original=True)
    await bot.store.record_card_edit(task.id, status=task.status, progress=task.progress)
    return task
