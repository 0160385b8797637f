"""The request budget (pure) and the rate headers it reads: how many requests the poller
may send, how a 429 shrinks and pauses it, how good answers grow it back."""

from __future__ import annotations

import pytest

from bot.core.request_budget import RateSignal, RequestBudget
from bot.upstream.rate_headers import parse_duration, rate_signal

OK = RateSignal(status=200)


def test_a_fresh_budget_allows_the_ceiling_per_window_and_refills():
    budget = RequestBudget(ceiling=10)
    assert budget.allowance(0.0) == 10
    for _ in range(10):
        budget.spend(0.0)
    assert budget.allowance(0.5) == 0
    assert budget.wait_time(0.5) == pytest.approx(0.55)  # one second plus the 5 % margin
    assert budget.allowance(1.1) == 10


def test_a_429_shrinks_the_rate_and_pauses_for_retry_after():
    budget = RequestBudget(ceiling=10)
    budget.observe(0.0, RateSignal(status=429, retry_after=3.0))
    assert budget.rate == pytest.approx(7) and budget.rate_limited_count == 1
    assert budget.allowance(2.9) == 0 and budget.wait_time(1.0) == pytest.approx(2.0)
    assert budget.allowance(3.0) == 7


def test_429s_answered_during_the_pause_count_as_one_episode():
    budget = RequestBudget(ceiling=20)
    for at in (0.0, 0.01, 0.02, 0.03):  # requests that were in flight together
        budget.observe(at, RateSignal(status=429))
    assert budget.rate == pytest.approx(14) and budget.paused_until == pytest.approx(1.0)
    assert budget.rate_limited_count == 4


def test_without_retry_after_the_pause_doubles_per_episode_up_to_a_cap():
    budget = RequestBudget(ceiling=100, max_pause=5.0)
    pauses = []
    now = 0.0
    for _ in range(5):
        budget.observe(now, RateSignal(status=429))
        pauses.append(budget.paused_until - now)
        now = budget.paused_until
    assert pauses == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert budget.rate >= budget.floor


def test_good_answers_give_the_rate_back_one_per_span_up_to_the_ceiling():
    budget = RequestBudget(ceiling=4, decrease=0.5)
    budget.observe(0.0, RateSignal(status=429, retry_after=1.0))
    assert budget.rate == 2
    now = 1.0
    rates = []
    for _ in range(4):
        now += 2.0
        budget.observe(now, OK)
        rates.append(budget.rate)
    assert rates == [3, 4, 4, 4]


def test_a_low_rate_still_sends_one_request_per_interval():
    budget = RequestBudget(ceiling=0.5)
    assert budget.capacity == 1 and budget.span == pytest.approx(2.1)
    budget.spend(0.0)
    assert budget.allowance(2.0) == 0 and budget.allowance(2.2) == 1


def test_remaining_zero_pauses_until_the_reset():
    budget = RequestBudget(ceiling=10)
    budget.observe(0.0, RateSignal(status=200, remaining=0, reset=0.4))
    assert budget.allowance(0.3) == 0 and budget.allowance(0.4) == 10


def test_rate_headers_are_read_as_openai_and_litellm_send_them():
    assert parse_duration("6m0s") == 360 and parse_duration("12ms") == pytest.approx(0.012)
    assert parse_duration("1s") == 1 and parse_duration("0.5") == 0.5
    assert parse_duration("soon") is None
    openai = rate_signal(
        200, {"x-ratelimit-remaining-requests": "7", "x-ratelimit-reset-requests": "1m30s"}
    )
    assert openai == RateSignal(status=200, remaining=7, reset=90.0)
    litellm = rate_signal(429, {"llm_provider-retry-after": "2", "retry-after": "60"})
    assert litellm.refused and litellm.retry_after == 60
    assert rate_signal(200, {}) == RateSignal(status=200)
