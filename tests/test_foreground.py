"""``Foreground``: background steps wait while an interaction waits for its first response."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.foreground import Foreground

pytestmark = pytest.mark.asyncio


class Answer:
    """Stands in for ``interaction.response.is_done``."""

    def __init__(self) -> None:
        self.sent = False

    def __call__(self) -> bool:
        return self.sent


async def test_idle_returns_at_once_when_nobody_waits() -> None:
    foreground = Foreground(max_wait=5)
    await asyncio.wait_for(foreground.idle(), 0.05)
    assert foreground.unanswered() == 0


async def test_background_steps_wait_until_every_interaction_is_answered() -> None:
    foreground = Foreground(max_wait=5)
    first, second = Answer(), Answer()
    foreground.arrived(first)
    foreground.arrived(second)
    steps = [asyncio.create_task(foreground.idle()) for _ in range(20)]
    await asyncio.sleep(0.02)
    assert not any(step.done() for step in steps)
    first.sent = True
    await asyncio.sleep(0.02)
    assert not any(step.done() for step in steps) and foreground.unanswered() == 1
    second.sent = True
    await asyncio.wait_for(asyncio.gather(*steps), 0.5)
    assert foreground.unanswered() == 0


async def test_a_never_answered_interaction_holds_a_step_only_max_wait() -> None:
    foreground = Foreground(max_wait=0.05)
    foreground.arrived(Answer())
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(foreground.idle(), 1)
    assert 0.04 <= loop.time() - started < 0.5
    assert foreground.unanswered() == 1  # still unanswered, but no longer waited for


async def test_an_interaction_past_discords_deadline_no_longer_counts() -> None:
    foreground = Foreground(deadline=0.05, max_wait=5)
    foreground.arrived(Answer())
    assert foreground.unanswered() == 1
    await asyncio.sleep(0.08)
    assert foreground.unanswered() == 0
    await asyncio.wait_for(foreground.idle(), 0.05)


async def test_a_new_arrival_after_all_were_answered_is_waited_for_again() -> None:
    foreground = Foreground(max_wait=5)
    early = Answer()
    foreground.arrived(early)
    step = asyncio.create_task(foreground.idle())
    early.sent = True
    await asyncio.wait_for(step, 0.5)
    late = Answer()
    foreground.arrived(late)
    again = asyncio.create_task(foreground.idle())
    await asyncio.sleep(0.02)
    assert not again.done()
    late.sent = True
    await asyncio.wait_for(again, 0.5)
