"""Discord permission bits and the channel-permission arithmetic the emulator needs.

Only the flags the bot's behaviour depends on are named; the rest are still carried as raw bits.
The implicit rules mirror Discord (and discord.py's ``_apply_implicit_permissions``): without
SEND_MESSAGES you cannot embed, attach or mention everyone; without VIEW_CHANNEL you have nothing.
"""

from __future__ import annotations

from enum import IntFlag


class Permission(IntFlag):
    """The subset of Discord permission flags the emulator checks or reports."""

    CREATE_INSTANT_INVITE = 1 << 0
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CONNECT = 1 << 20
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38


ALL_PERMISSIONS = (1 << 53) - 1
"""Every bit Discord currently defines fits below bit 53; administrators get all of them."""

DEFAULT_BOT_PERMISSIONS = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.SEND_MESSAGES_IN_THREADS
    | Permission.ADD_REACTIONS
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.USE_APPLICATION_COMMANDS
)
"""What a typical invite link grants a bot that posts videos."""

DEFAULT_EVERYONE_PERMISSIONS = (
    Permission.CREATE_INSTANT_INVITE
    | Permission.ADD_REACTIONS
    | Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.USE_EXTERNAL_EMOJIS
    | Permission.USE_APPLICATION_COMMANDS
    | Permission.CREATE_PUBLIC_THREADS
    | Permission.SEND_MESSAGES_IN_THREADS
)
"""The @everyone role of a freshly created server (roughly Discord's defaults)."""

_NEEDS_SEND = (
    Permission.SEND_TTS_MESSAGES
    | Permission.MENTION_EVERYONE
    | Permission.EMBED_LINKS
    | Permission.ATTACH_FILES
)


def effective_permissions(raw: int) -> int:
    """Apply Discord's implicit channel rules to a raw permission value."""
    if raw & Permission.ADMINISTRATOR:
        return ALL_PERMISSIONS
    if not raw & Permission.VIEW_CHANNEL:
        return 0
    if not raw & Permission.SEND_MESSAGES:
        raw &= ~_NEEDS_SEND
    return raw


def member_overwrite(base: int, wanted: int) -> tuple[int, int]:
    """Return the (allow, deny) member overwrite that turns ``base`` into exactly ``wanted``."""
    return wanted & ~base, base & ~wanted


def missing(perms: int, required: int) -> int:
    """Bits of ``required`` that ``perms`` lacks (0 when nothing is missing)."""
    return required & ~perms
