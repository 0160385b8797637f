"""Domain objects into Discord embeds and text. Pure functions, easy to test.

Prompts are user text: they go into embed descriptions (which never ping) with
every markdown construct escaped (``bot.discord_ui.markup``), so a prompt shows
exactly as typed and cannot pose as the bot's own links, headers or mentions; every
post also passes ``allowed_mentions`` that can only reach the task's author.

Authors: embeds show the display name stored with the task (``author_label``), as
escaped text; a ``<@id>`` in an embed never pings and shows as a raw id to a client
that has not cached the user. Message content that is meant to ping the author (the
result and failure notices) keeps the mention.
"""

from __future__ import annotations

from datetime import datetime

import discord

from bot.core.lineage import ShownTask
from bot.core.models import TaskStatus, VideoTask
from bot.delivery.notifier import FitNote, OriginalLink
from bot.discord_ui.markup import escape_markdown
from bot.services.admin import Timings, format_duration

BRAND = "sora-bot"
COLOURS = {
    TaskStatus.WAITING: discord.Colour.light_grey(),
    TaskStatus.SUBMITTING: discord.Colour.light_grey(),
    TaskStatus.QUEUED: discord.Colour.light_grey(),
    TaskStatus.IN_PROGRESS: discord.Colour.blurple(),
    TaskStatus.COMPLETED: discord.Colour.green(),
    TaskStatus.FAILED: discord.Colour.red(),
    TaskStatus.CANCELLED: discord.Colour.dark_grey(),
}
STATUS_LABELS = {
    TaskStatus.WAITING: "Waiting for a free slot",
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


def waiting_line(ahead: int) -> str:
    """Where a waiting task stands, as its card says."""
    return f"Waiting — {ahead} ahead of you"


def status_line(task: VideoTask, *, ahead: int | None = None) -> str:
    """The status as shown on a card (``ahead``: queue position of a waiting task)."""
    label = STATUS_LABELS[task.status]
    if task.status is TaskStatus.WAITING and ahead is not None:
        return waiting_line(ahead)
    if task.status is TaskStatus.IN_PROGRESS:
        return f"{label} {progress_bar(task.progress)}"
    if task.status is TaskStatus.FAILED and task.error_message:
        return f"{label}: {task.error_message}"
    return label


def _task_embed(task: VideoTask, *, ahead: int | None = None) -> discord.Embed:
    """Title, prompt, status, author and options: what every card of a task shows."""
    title = "Remix" if task.parent_id else "Video"
    embed = discord.Embed(
        title=f"{title} `{task.id}`",
        description=prompt_text(task.prompt, DESCRIPTION_LIMIT),
        colour=COLOURS[task.status],
    )
    status = status_line(task, ahead=ahead)
    embed.add_field(name="Status", value=truncate(status, 1024), inline=False)
    embed.add_field(name="Author", value=author_label(task))
    embed.add_field(name="Options", value=f"{task.model} · {task.seconds}s · {task.size}")
    return embed


def card_embed(task: VideoTask, *, ahead: int | None = None) -> discord.Embed:
    """The status card of a task, edited as it progresses."""
    embed = _task_embed(task, ahead=ahead)
    if task.parent_id:
        embed.add_field(name="Remix of", value=f"`{task.parent_id}`")
    if task.deleted:
        embed.add_field(name="Result", value=deleted_line(task))
    if task.rerolled_from:
        embed.add_field(name="Reroll of", value=f"`{task.rerolled_from}`")
    embed.set_footer(text=footer_marker(task.id))
    return embed


def result_content(
    task: VideoTask,
    *,
    attached: bool,
    link: str | None,
    upload_limit: int | None,
    too_large: bool = False,
    fit: FitNote | None = None,
    original: OriginalLink | None = None,
) -> str:
    """The text of a result post: pings the author, says where the video is.

    ``fit`` says the attached file was compressed to fit the limit (and from what size),
    or why a video over the limit could not be. ``original`` (a kept original's signed
    link) is shown when the post does not carry the original as it is: compressed, or
    not attached; it replaces the upstream's link then.
    """
    lines = [f"<@{task.user_id}> your video `{task.id}` is ready."]
    compressed = fit is not None and fit.compressed
    if attached:
        if fit is not None and fit.compressed and fit.source_bytes is not None:
            lines.append(
                f"Compressed from {_mb(fit.source_bytes)} to fit this server's"
                f" {_mb(fit.limit, 0)} upload limit."
            )
        if compressed and original is not None:
            lines.append(original_line(original))
        return "\n".join(lines)
    why = "It is too large to attach here" if too_large else "It could not be attached here"
    limit = f" (limit {upload_limit / 1048576:.0f} MB)" if upload_limit else ""
    if fit is not None and fit.reason:
        size = f"{_mb(fit.source_bytes)}, " if fit.source_bytes is not None else ""
        why = (
            f"It is too large to attach here ({size}limit {_mb(fit.limit, 0)})"
            f" and could not be compressed to fit: {fit.reason}"
        )
        limit = ""
    if original is not None:
        lines.append(f"{why}{limit}.")
        lines.append(original_line(original))
    elif link:
        lines.append(f"{why}; watch it at {link}")
    else:
        lines.append(f"{why}{limit}, and the video service gives no public link.")
    return "\n".join(lines)


def original_line(original: OriginalLink) -> str:
    """The kept original's link, its size, and until when it answers."""
    return (
        f"Original ({_mb(original.size)}): {original.url}"
        f" (until {timestamp(original.expires_at, 'f')})"
    )


def _mb(size: int, decimals: int = 1) -> str:
    """Bytes as Discord counts upload limits: MiB, written "MB"."""
    return f"{size / 1048576:.{decimals}f} MB"


def result_embed(
    task: VideoTask, *, parent_link: str | None = None, image: str | None = None
) -> discord.Embed:
    """The embed under a finished video; ``image`` names an attached picture to show in it
    (the upstream's thumbnail, for a post that can only link its video)."""
    embed = discord.Embed(
        title=f"`{task.id}`" + _relation(task),
        description=prompt_text(task.prompt, DESCRIPTION_LIMIT),
        colour=COLOURS[TaskStatus.COMPLETED],
    )
    embed.add_field(name="Author", value=author_label(task))
    embed.add_field(name="Options", value=f"{task.model} · {task.seconds}s · {task.size}")
    if parent_link:
        embed.add_field(name="Parent", value=f"[`{task.parent_id}`]({parent_link})")
    if image:
        embed.set_image(url=f"attachment://{image}")
    embed.set_footer(text=footer_marker(task.id))
    return embed


def _relation(task: VideoTask) -> str:
    """`` · remix of `p` `` or `` · reroll of `s` `` for a result's title (else nothing)."""
    if task.parent_id:
        return f" · remix of `{task.parent_id}`"
    return f" · reroll of `{task.rerolled_from}`" if task.rerolled_from else ""


def failure_content(task: VideoTask) -> str:
    """The text of a failure notice: pings the author with the reason."""
    reason = task.error_message or "The video service could not make this video."
    return f"<@{task.user_id}> your video `{task.id}` failed. {truncate(reason, 1500)}"


def failure_embed(task: VideoTask) -> discord.Embed:
    """The embed of a failure notice (carries the marker used to find it again)."""
    embed = discord.Embed(
        description=prompt_text(task.prompt, 500), colour=COLOURS[TaskStatus.FAILED]
    )
    embed.set_footer(text=footer_marker(task.id))
    return embed


def author_only_mentions(user_id: int) -> discord.AllowedMentions:
    """Mentions that can reach the task's author and nobody else (no @everyone, no roles)."""
    return discord.AllowedMentions(
        everyone=False, roles=False, users=[discord.Object(id=user_id)], replied_user=False
    )


NO_MENTIONS = discord.AllowedMentions.none()


# --- chains, history and admin views (appended for /lineage, /video, /history, /admin) ------

STATUS_EMOJI = {
    TaskStatus.WAITING: "🕒",
    TaskStatus.SUBMITTING: "⏳",
    TaskStatus.QUEUED: "⏳",
    TaskStatus.IN_PROGRESS: "🔄",
    TaskStatus.COMPLETED: "✅",
    TaskStatus.FAILED: "❌",
    TaskStatus.CANCELLED: "🚫",
}


def escape_user_text(text: str, limit: int | None = None) -> str:
    """User text shown inline in markdown: no formatting, no mention syntax, one line."""
    return escape_markdown(text, limit=limit, one_line=True)


def prompt_text(prompt: str, limit: int) -> str:
    """A prompt as an embed description: its lines kept, its markdown escaped."""
    return escape_markdown(prompt, limit=limit)


def name_label(name: str | None, user_id: int) -> str:
    """A member as embed text: their stored name, escaped; a mention when none is stored."""
    return escape_user_text(name) if name else f"<@{user_id}>"


def author_label(task: ShownTask) -> str:
    """The task's author as embed text (the display name they submitted with)."""
    return name_label(task.author_name, task.user_id)


def snapshot_footer(task_id: str, what: str) -> str:
    """A footer that names the task but is *not* ``footer_marker``.

    ``DiscordNotifier.find_delivery`` takes a bot post carrying the exact marker as the
    task's result; re-posted cards and detail views must never look like one.
    """
    return f"{BRAND} · {task_id} · {what}"


def timestamp(moment: datetime | None, style: str = "R") -> str:
    """Discord's localised timestamp markup, or a dash."""
    return "—" if moment is None else f"<t:{int(moment.timestamp())}:{style}>"


def message_link(task: ShownTask, message_id: int) -> str:
    """A link to one of the task's messages (its card or its result)."""
    return jump_url(task.guild_id, task.channel_id, message_id)


def best_link(task: ShownTask) -> str | None:
    """The result post if there is one (not deleted), else the status card, else None."""
    result = None if task.deleted else task.result_message_id
    message_id = result or task.card_message_id
    return message_link(task, message_id) if message_id else None


DELETED_MARK = "🗑️ result deleted"


def deleted_line(task: VideoTask) -> str:
    """When (and by whom) the result post was deleted, as embed text."""
    by = f" by <@{task.deleted_by}>" if task.deleted_by else ""
    return f"{DELETED_MARK} {timestamp(task.deleted_at)}{by}"


def id_link(task: ShownTask) -> str:
    """The task id as a masked link to its best message (plain when it has none)."""
    link = best_link(task)
    return f"[`{task.id}`]({link})" if link else f"`{task.id}`"


def status_word(task: ShownTask) -> str:
    """Emoji plus status, e.g. ``✅ completed``."""
    return f"{STATUS_EMOJI[task.status]} {task.status.value.replace('_', ' ')}"


def lineage_line(
    task: ShownTask, change: str, *, highlight: bool, on_path: bool = False, note: str = ""
) -> str:
    """One node of a lineage tree: id (linked), author, status, what changed, then ``note``.

    ``highlight`` (the video asked about) is bold; ``on_path`` (the most-picked path) is
    underlined. ``note`` is the bot's own text (picks, rerolls), not escaped.
    """
    text = f"{id_link(task)} {author_label(task)} {status_word(task)} · {escape_user_text(change)}"
    if note:
        text += f" · {note}"
    if on_path:
        text = f"__{text}__"
    return f"**{text}**" if highlight else text


def history_line(task: VideoTask, *, show_author: bool, prompt_chars: int = 50) -> str:
    """One entry of a history list."""
    parts = [id_link(task), status_word(task), timestamp(task.created_at)]
    if task.deleted:
        parts.insert(2, DELETED_MARK)
    if show_author:
        parts.append(f"{author_label(task)} in <#{task.channel_id}>")
    parts.append(f"{task.seconds}s {task.model}")
    if task.parent_id:
        parts.append(f"remix of `{task.parent_id}`")
    parts.append(escape_user_text(snippet(task.prompt, prompt_chars)))
    return " · ".join(parts)


def _parent_value(parent: VideoTask | None, parent_id: str) -> str:
    return id_link(parent) if parent is not None else f"`{parent_id}`"


def video_embed(task: VideoTask, *, parent: VideoTask | None, children: int) -> discord.Embed:
    """A re-posted card (``/video``): what the task is and where its result is."""
    embed = _task_embed(task)
    if task.parent_id:
        embed.add_field(name="Remix of", value=_parent_value(parent, task.parent_id))
    embed.add_field(name="Remixes", value=str(children))
    embed.add_field(name="Created", value=timestamp(task.created_at, "f"))
    if task.deleted:
        embed.add_field(name="Result", value=deleted_line(task))
    elif task.result_message_id:
        embed.add_field(
            name="Result",
            value=f"[jump to the video]({message_link(task, task.result_message_id)})",
        )
    elif task.card_message_id:
        embed.add_field(
            name="Card", value=f"[jump to the card]({message_link(task, task.card_message_id)})"
        )
    embed.set_footer(text=snapshot_footer(task.id, "re-posted"))
    return embed


def _when(moment: datetime | None, since: datetime | None = None) -> str:
    text = timestamp(moment, "T") if moment else "—"
    if moment is not None and since is not None:
        text += f" (+{format_duration(moment - since)})"
    return text


def timing_lines(times: Timings) -> str:
    """Each stage's time, with how long it took after the one before."""
    return "\n".join(
        [
            f"created {_when(times.created)}",
            f"submitted {_when(times.submitted, times.created)}",
            f"started {_when(times.started, times.submitted)}",
            f"finished {_when(times.finished, times.started or times.submitted)}",
            f"delivered {_when(times.delivered, times.finished)}",
        ]
    )
