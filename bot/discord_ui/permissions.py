"""Permission checks: the bot's own (for the late result post) and admins'.

An admin (``is_bot_admin``) has Manage Server (Administrator implies it) or the role named
``discord.admin_role``; /admin, the Delete button and the admin-only parts of Details
all ask this one function.

Two places pass the permission bits yet cannot take a late post, so they are refused by
name before anything is written:

* a private thread the bot has not joined: only its members and those with Manage
  Threads can see it (Discord's threads topic), so every post there fails 50001;
* a voice channel's text chat without Connect: reading its messages needs CONNECT as well
  as Read Message History (https://github.com/discord/discord-api-docs/pull/5111), and the
  bot reads the channel to reply and to find an earlier post before it re-posts.

Forum posts and public threads are ordinary threads and need nothing more.
"""

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
VOICE_REQUIRED = {"connect": "Connect"}

PRIVATE_THREAD_REFUSAL = (
    "I can't post videos in this private thread: I'm not a member of it. Add me to the "
    "thread (mention me in it), give me the **Manage Threads** permission, or use another "
    "channel."
)


def missing_bot_permissions(
    permissions: discord.Permissions, *, in_thread: bool, in_voice: bool = False
) -> list[str]:
    """Names of the permissions the bot lacks for posting results in this channel."""
    required = dict(REQUIRED)
    if in_thread:
        required.pop("send_messages")
        required.update(THREAD_REQUIRED)
    if in_voice:
        required.update(VOICE_REQUIRED)
    return [label for flag, label in required.items() if not getattr(permissions, flag)]


def unjoined_private_thread(channel: object, permissions: discord.Permissions) -> bool:
    """Whether ``channel`` is a private thread the bot cannot see (not joined, no Manage Threads).

    discord.py fills ``Thread.me`` from the bot's thread member, which Discord sends with
    the threads the bot has joined (GUILD_CREATE, THREAD_CREATE when it is added).
    """
    return (
        isinstance(channel, discord.Thread)
        and channel.type is discord.ChannelType.private_thread
        and channel.me is None
        and not permissions.manage_threads
    )


def is_bot_admin(interaction: discord.Interaction, role_name: str) -> bool:
    """Manage Server (Administrator implies it) or the configured admin role (``/admin``,
    and who may cancel another member's video)."""
    permissions = interaction.permissions
    if permissions.manage_guild or permissions.administrator:
        return True
    roles = getattr(interaction.user, "roles", [])
    return bool(role_name) and any(role.name == role_name for role in roles)


def check_bot_permissions(interaction: discord.Interaction) -> None:
    """Refuse early, naming the missing permission, if the result could not be posted here."""
    if interaction.guild_id is None:
        raise PermissionMissing("This command works in server channels only.")
    channel = interaction.channel
    permissions = interaction.app_permissions
    in_thread = isinstance(channel, discord.Thread)
    in_voice = isinstance(channel, discord.VoiceChannel | discord.StageChannel)
    missing = missing_bot_permissions(permissions, in_thread=in_thread, in_voice=in_voice)
    if missing:
        raise PermissionMissing(
            "I can't post videos in this channel: I need the "
            + ", ".join(f"**{name}**" for name in missing)
            + " permission. Ask an admin to grant it, or use another channel."
        )
    if unjoined_private_thread(channel, permissions):
        raise PermissionMissing(PRIVATE_THREAD_REFUSAL)
