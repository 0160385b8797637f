"""sora-bot: generate Sora videos from Discord and iterate on them as remix chains."""

__version__ = "0.1.0"
