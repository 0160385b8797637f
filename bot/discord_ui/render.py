"""Domain objects into Discord embeds and text. Pure functions, easy to test.

Prompts are user text: they go into embed descriptions (which never ping) and
are escaped of markdown where shown inline; every post also passes
``allowed_mentions`` that can only reach the task's author.
"""

from __future__ import annotations

import discord

from bot.models import TaskStatus, VideoTask

BRAND = "sora-bot"
COLOURS = {
    TaskStatus.SUBMITTING: discord.Colour.light_grey(),
    TaskStatus.QUEUED: discord.Colour.light_grey(),
    TaskStatus.IN_PROGRESS: discord.Colour.blurple(),
    TaskStatus.COMPLETED: discord.Colour.green(),
    TaskStatus.FAILED: discord.Colour.red(),
    TaskStatus.CANCELLED: discord.Colour.dark_grey(),
}
STATUS_LABELS = {
    TaskStatus.SUBMITTING: "Sending to the video service…",
    TaskStatus.QUEUED: "Queued",
    TaskStatus.IN_PROGRESS: "Generating",
    TaskStatus.COMPLETED: "Done",
    TaskStatus.FAILED: "Failed",
    TaskStatus.CANCELLED: "Cancelled",
}
DESCRIPTION_LIMIT = 4000
PROMPT_SNIPPET = 60


def footer_marker(task_id: str) -> str:
    """The footer text that identifies a post as this task's (used to find earlier posts)."""
    return f"{BRAND} · {task_id}"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def snippet(prompt: str, limit: int = PROMPT_SNIPPET) -> str:
    """A one-line prompt excerpt for lists and autocomplete."""
    return truncate(" ".join(prompt.split()), limit)


def progress_bar(progress: int, width: int = 10) -> str:
    """A text bar such as ``▰▰▰▱▱▱▱▱▱▱ 30%``."""
    filled = max(0, min(width, round(progress * width / 100)))
    return "▰" * filled + "▱" * (width - filled) + f" {progress}%"


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    """A link to a message."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def status_line(task: VideoTask) -> str:
    """The status as shown on a card."""
    label = STATUS_LABELS[task.status]
    if task.status is TaskStatus.IN_PROGRESS:
        return f"{label} {progress_bar(task.progress)}"
    if task.status is TaskStatus.FAILED and task.error_message:
        return f"{label}: {task.error_message}"
    return label


def card_embed(task: VideoTask) -> discord.Embed:
    """The status card of a task, edited as it progresses."""
    title = "Remix" if task.parent_id else "Video"
    embed = discord.Embed(
        title=f"{title} `{task.id}`",
        description=truncate(task.prompt, DESCRIPTION_LIMIT),
        colour=COLOURS[task.status],
    )
    embed.add_field(name="Status", value=truncate(status_line(task), 1024), inline=False)
    embed.add_field(name="Author", value=f"<@{task.user_id}>")
    embed.add_field(name="Options", value=f"{task.model} · {task.seconds}s · {task.size}")
    if task.parent_id:
        embed.add_field(name="Remix of", value=f"`{task.parent_id}`")
    embed.set_footer(text=footer_marker(task.id))
    return embed


def result_content(
    task: VideoTask, *, attached: bool, link: str | None, upload_limit: int | None
) -> str:
    """The text of a result post: pings the author, says where the video is."""
    lines = [f"<@{task.user_id}> your video `{task.id}` is ready."]
    if not attached:
        if link:
            lines.append(f"It is too large to attach here; watch it at {link}")
        else:
            limit = f" ({upload_limit / 1048576:.0f} MB)" if upload_limit else ""
            lines.append(
                f"It could not be attached here{limit} and the video service gives no public link."
            )
    return "\n".join(lines)


def result_embed(task: VideoTask, *, parent_link: str | None = None) -> discord.Embed:
    """The embed under a finished video."""
    embed = discord.Embed(
        title=f"`{task.id}`" + (f" · remix of `{task.parent_id}`" if task.parent_id else ""),
        description=truncate(task.prompt, DESCRIPTION_LIMIT),
        colour=COLOURS[TaskStatus.COMPLETED],
    )
    embed.add_field(name="Author", value=f"<@{task.user_id}>")
    embed.add_field(name="Options", value=f"{task.model} · {task.seconds}s · {task.size}")
    if parent_link:
        embed.add_field(name="Parent", value=f"[`{task.parent_id}`]({parent_link})")
    embed.set_footer(text=footer_marker(task.id))
    return embed


def failure_content(task: VideoTask) -> str:
    """The text of a failure notice: pings the author with the reason."""
    reason = task.error_message or "The video service could not make this video."
    return f"<@{task.user_id}> your video `{task.id}` failed. {truncate(reason, 1500)}"


def failure_embed(task: VideoTask) -> discord.Embed:
    """The embed of a failure notice (carries the marker used to find it again)."""
    embed = discord.Embed(description=truncate(task.prompt, 500), colour=COLOURS[TaskStatus.FAILED])
    embed.set_footer(text=footer_marker(task.id))
    return embed


def author_only_mentions(user_id: int) -> discord.AllowedMentions:
    """Mentions that can reach the task's author and nobody else (no @everyone, no roles)."""
    return discord.AllowedMentions(
        everyone=False, roles=False, users=[discord.Object(id=user_id)], replied_user=False
    )


NO_MENTIONS = discord.AllowedMentions.none()
