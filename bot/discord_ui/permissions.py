"""Permission checks: the bot's own (for the late result post) and admins'."""

from __future__ import annotations

import discord

from bot.core.errors import PermissionMissing

#: What the bot needs in a channel to post a result later, with readable names.
REQUIRED = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
    "read_message_history": "Read Message History",
}
THREAD_REQUIRED = {"send_messages_in_threads": "Send Messages in Threads"}


def missing_bot_permissions(permissions: discord.Permissions, *, in_thread: bool) -> list[str]:
    """Names of the permissions the bot lacks for posting results in this channel."""
    required = dict(REQUIRED)
    if in_thread:
        required.pop("send_messages")
        required.update(THREAD_REQUIRED)
    return [label for flag, label in required.items() if not getattr(permissions, flag)]


def check_bot_permissions(interaction: discord.Interaction) -> None:
    """Refuse early, naming the missing permission, if the result could not be posted here."""
    if interaction.guild_id is None:
        raise PermissionMissing("This command works in server channels only.")
    in_thread = isinstance(interaction.channel, discord.Thread)
    missing = missing_bot_permissions(interaction.app_permissions, in_thread=in_thread)
    if missing:
        raise PermissionMissing(
            "I can't post videos in this channel: I need the "
            + ", ".join(f"**{name}**" for name in missing)
            + " permission. Ask an admin to grant it, or use another channel."
        )
