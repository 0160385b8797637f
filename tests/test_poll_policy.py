"""The poll backoff policy, as tables of inputs and expected delays (no jitter)."""

from __future__ import annotations

import pytest

from bot.core.models import TaskStatus
from bot.core.poll_policy import PollPolicy

POLICY = PollPolicy(
    first_poll=10,
    min_interval=3,
    max_interval=30,
    queued_growth=1.5,
    error_base=5,
    error_cap=300,
    jitter=0,
)


@pytest.mark.parametrize(
    ("status", "progress", "elapsed", "queued_polls", "hint", "expected"),
    [
        (TaskStatus.QUEUED, 0, 10, 0, None, 10),
        (TaskStatus.QUEUED, 0, 25, 1, None, 15),
        (TaskStatus.QUEUED, 0, 40, 2, None, 22.5),
        (TaskStatus.QUEUED, 0, 90, 5, None, 30),
        (TaskStatus.IN_PROGRESS, 50, 40, 0, None, 30),
        (TaskStatus.IN_PROGRESS, 80, 40, 0, None, 10),
        (TaskStatus.IN_PROGRESS, 95, 40, 0, None, 3),
        (TaskStatus.IN_PROGRESS, 10, 40, 0, None, 30),
        (TaskStatus.IN_PROGRESS, 0, 40, 0, None, 10),
        (TaskStatus.IN_PROGRESS, 95, 40, 0, 12.0, 12),
    ],
)
def test_next_delay(status, progress, elapsed, queued_polls, hint, expected):
    delay = POLICY.next_delay(
        status=status, progress=progress, elapsed=elapsed, queued_polls=queued_polls, hint=hint
    )
    assert delay == pytest.approx(expected)


@pytest.mark.parametrize(
    ("failures", "retry_after", "expected"),
    [
        (1, None, 5),
        (2, None, 10),
        (3, None, 20),
        (7, None, 300),
        (20, None, 300),
        (1, 42.0, 42),
        (3, 1.0, 20),
    ],
)
def test_after_error(failures, retry_after, expected):
    assert POLICY.after_error(failures, retry_after=retry_after) == pytest.approx(expected)


def test_jitter_spreads_within_bounds():
    values = iter([0.0, 1.0, 0.5])
    policy = PollPolicy(first_poll=10, jitter=0.1, rng=lambda: next(values))
    assert [policy.after_submit() for _ in range(3)] == pytest.approx([9.0, 11.0, 10.0])
