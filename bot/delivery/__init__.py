"""Posting finished videos: the notifier protocol the Discord layer implements."""
