"""/sora and /remix: thin translations of interactions into ``VideoService`` calls."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.errors import InvalidInput
from bot.core.images import check_declared_image
from bot.core.models import VideoTask
from bot.core.video_spec import PROMPT_MAX_CHARS
from bot.discord_ui.choices import offer_video_options, recent_video_choices
from bot.discord_ui.context import BotContext, require_context
from bot.discord_ui.flows import origin_of, submit_followup_card, submit_with_card
from bot.discord_ui.replies import guard_autocomplete
from bot.services.submission import MAX_VARIANTS, GenerateOptions, Origin, VideoService
from bot.upstream import ReferenceImage

log = logging.getLogger(__name__)


class VideoCog(commands.Cog):
    """Make videos and remix them."""

    def __init__(self, bot: BotContext) -> None:
        self.bot = bot
        offer_video_options(self.sora, bot.service.options)

    @app_commands.command(name="sora", description="Generate a video from a prompt")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What the video should show",
        model="Video model (default: yours from /settings, else the server's)",
        seconds="Length of the video (default: yours from /settings, else the server's)",
        size="Width x height (default: yours from /settings, else the server's)",
        image="Optional first frame; must match the size exactly (PNG, JPEG or WebP)",
    )
    async def sora(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, PROMPT_MAX_CHARS],
        model: str | None = None,
        seconds: int | None = None,
        size: str | None = None,
        image: discord.Attachment | None = None,
    ) -> None:
        service = self.bot.service
        options = GenerateOptions(model=model, seconds=seconds, size=size)

        async def check() -> None:
            origin = origin_of(interaction)
            await service.check_generate(origin, prompt, options)
            if image is not None:
                _model, _seconds, size = await service.resolve_for(origin, options)
                _check_attachment(image, size, service.max_reference_bytes)

        async def submit(origin: Origin) -> VideoTask:
            reference = await _download_reference(image) if image is not None else None
            chosen = GenerateOptions(model=model, seconds=seconds, size=size, reference=reference)
            return await service.generate(origin, prompt, chosen)

        if await submit_with_card(interaction, check=check, submit=submit) is not None:
            await _note_ignored_defaults(interaction, service, options)

    @app_commands.command(name="remix", description="Make a variant of a finished video")
    @app_commands.guild_only()
    @app_commands.describe(
        video_id="The video to remix (its id, e.g. k7q2mx)",
        prompt="What to change",
        variants=f"How many sibling remixes to make (1-{MAX_VARIANTS})",
    )
    async def remix(
        self,
        interaction: discord.Interaction,
        video_id: str,
        prompt: app_commands.Range[str, 1, PROMPT_MAX_CHARS],
        variants: app_commands.Range[int, 1, MAX_VARIANTS] = 1,
    ) -> None:
        service = self.bot.service
        parents = []

        async def check() -> None:
            parents.append(
                await service.check_remix(
                    origin_of(interaction), video_id, prompt, variants=variants
                )
            )

        task = await submit_with_card(
            interaction,
            check=check,
            submit=lambda origin: service.remix_of(origin, parents[0], prompt),
        )
        for _ in range(variants - 1):
            if task is None:
                return
            task = await submit_followup_card(
                interaction, lambda origin: service.remix_of(origin, parents[0], prompt)
            )

    @remix.autocomplete("video_id")
    @guard_autocomplete
    async def remix_video_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Recent completed videos of this guild, answered from SQLite."""
        return await recent_video_choices(self.bot.store, interaction, current)


async def _note_ignored_defaults(
    interaction: discord.Interaction, service: VideoService, options: GenerateOptions
) -> None:
    """Tell the member, privately, that a saved default of theirs was not used (no longer
    offered); only for the options they left out, which is when it mattered."""
    assert interaction.guild_id is not None
    mine = await service.defaults_for(interaction.guild_id, interaction.user.id)
    notes = [note for key, note in mine.ignored.items() if getattr(options, key) is None]
    if notes:
        await interaction.followup.send(
            "\n".join(notes), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


def _check_attachment(image: discord.Attachment, size: str, max_bytes: int) -> None:
    check_declared_image(
        content_type=image.content_type,
        byte_size=image.size,
        width=image.width,
        height=image.height,
        size=size,
        max_bytes=max_bytes,
    )


async def _download_reference(image: discord.Attachment) -> ReferenceImage:
    try:
        data = await image.read()
    except discord.HTTPException as exc:
        raise InvalidInput(
            "image", "The image could not be downloaded from Discord. Try again."
        ) from exc
    return ReferenceImage(
        filename=image.filename,
        content_type=image.content_type or "application/octet-stream",
        data=data,
    )


async def setup(bot: commands.Bot) -> None:
    """Extension entry point (``bot.load_extension``)."""
    await bot.add_cog(VideoCog(require_context(bot)))
