"""The Discord layer: the only package that imports ``discord``.

Cogs (loaded as extensions), components, embeds and the notifier that posts results.
"""
