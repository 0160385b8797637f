"""What /sora offers: the relay's dialect narrowed by config (``bot.core.options``)."""

from __future__ import annotations

import pytest

from bot.core.errors import InvalidInput
from bot.core.options import OptionsUnavailable, VideoOptions, Wanted, offer

OPENAI = {
    "models": ("sora-2", "sora-2-pro"),
    "seconds": (4, 8, 12),
    "sizes": ("720x1280", "1280x720", "1024x1792", "1792x1024"),
}
CHAT = {"models": ("sora-2",), "seconds": (15, 10), "sizes": ("704x1280", "1280x704")}


def test_nothing_named_offers_everything_with_sensible_defaults() -> None:
    options = offer(**OPENAI, wanted=Wanted(), relay="the openai dialect")
    assert options == VideoOptions(
        models=("sora-2", "sora-2-pro"),
        seconds=(4, 8, 12),
        sizes=OPENAI["sizes"],
        default_model="sora-2",
        default_seconds=4,
        default_size="1280x720",  # landscape preferred, though not listed first
    )


def test_a_dialect_without_the_preferred_size_defaults_to_its_first() -> None:
    options = offer(**CHAT, wanted=Wanted(), relay="the chat dialect")
    assert (options.seconds, options.default_seconds) == ((10, 15), 10)
    assert options.default_size == "704x1280"


def test_config_narrows_and_keeps_its_own_order() -> None:
    wanted = Wanted(models=("sora-2-pro", "sora-2"), seconds=(8,), default_model="sora-2")
    options = offer(**OPENAI, wanted=wanted, relay="the openai dialect")
    assert options.models == ("sora-2-pro", "sora-2") and options.default_model == "sora-2"
    assert options.seconds == (8,) and options.default_seconds == 8


def test_values_the_relay_lacks_are_dropped_and_none_left_is_one_clear_line() -> None:
    kept = offer(**CHAT, wanted=Wanted(seconds=(4, 10)), relay="the chat dialect")
    assert kept.seconds == (10,)
    with pytest.raises(OptionsUnavailable) as caught:
        offer(**CHAT, wanted=Wanted(seconds=(4, 8, 12)), relay="the chat dialect")
    assert str(caught.value) == (
        "[upstream] seconds: none of 4, 8, 12 is offered by the relay "
        "(the chat dialect offers 15, 10)"
    )


def test_a_named_default_must_be_offered() -> None:
    with pytest.raises(OptionsUnavailable, match=r"default_size: 1280x720 is not offered"):
        offer(**CHAT, wanted=Wanted(default_size="1280x720"), relay="the chat dialect")


def test_a_relay_offering_no_models_is_refused() -> None:
    with pytest.raises(OptionsUnavailable, match="offers no models"):
        offer(models=(), seconds=(4,), sizes=("1x1",), wanted=Wanted(), relay="x")


def test_resolve_fills_defaults_and_names_what_is_not_offered() -> None:
    options = offer(**OPENAI, wanted=Wanted(), relay="r")
    assert options.resolve(None, None, None) == ("sora-2", 4, "1280x720")
    assert options.resolve("sora-2-pro", 12, "720x1280") == ("sora-2-pro", 12, "720x1280")
    with pytest.raises(InvalidInput) as caught:
        options.resolve(None, 10, None)
    assert (caught.value.field, caught.value.user_message) == (
        "seconds",
        "Seconds must be one of: 4, 8, 12.",
    )


def test_at_most_25_choices_are_offered() -> None:
    many = tuple(f"m{i}" for i in range(40))
    options = offer(models=many, seconds=(4,), sizes=("1x1",), wanted=Wanted(), relay="r")
    assert len(options.models) == 25
