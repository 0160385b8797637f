"""Benchmarks: run each with ``python -m bench.<name>`` from the repository root (see README)."""
