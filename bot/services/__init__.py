"""Application services: what a command does, over the store, the upstream and config.

The Discord layer calls these with plain values; they hold no Discord types.
"""
