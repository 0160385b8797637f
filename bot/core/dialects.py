"""The relay dialects the bot speaks: stored (config, detection memory), so typed.

OpenAI's own Videos API shut down on 2026-09-24; teams reach Sora through relays, and
relays speak one or more of these request families (see ``docs/dialects/``).
"""

from __future__ import annotations

from enum import StrEnum


class Dialect(StrEnum):
    """One family of requests for making a video. Values are stored: never rename one."""

    OPENAI = "openai"  # POST /v1/videos, GET /v1/videos/{id}, /content
    CHAT = "chat"  # POST /v1/chat/completions with stream: true
    GENERATIONS = "generations"  # new-api: POST /v1/video/generations
    VIDEO_CREATE = "video-create"  # POST /v1/video/create, GET /v1/video/query?id=


#: Richest first: when a relay speaks several, detection picks the first it speaks
#: (the one that can remix and list).
DIALECT_PREFERENCE: tuple[Dialect, ...] = (
    Dialect.OPENAI,
    Dialect.GENERATIONS,
    Dialect.VIDEO_CREATE,
    Dialect.CHAT,
)

#: How members and operators read each dialect's name.
DIALECT_LABELS: dict[str, str] = {
    Dialect.OPENAI: "OpenAI Videos API",
    Dialect.CHAT: "chat-completions",
    Dialect.GENERATIONS: "new-api video generations",
    Dialect.VIDEO_CREATE: "unified video/create",
}

#: What to do instead of an operation the relay lacks.
INSTEAD = {"remix": "make a new video with /sora instead", "extend": "make a longer one with /sora"}

#: How ``[upstream] dialect`` asks for detection.
AUTO = "auto"
