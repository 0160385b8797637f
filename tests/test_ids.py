"""Short video ids: generation and normalisation of what users type."""

from __future__ import annotations

import random

import pytest

from bot.core.ids import ALPHABET, ID_LENGTH, new_video_id, normalize_video_id


def test_alphabet_has_no_look_alikes() -> None:
    assert not set("0o1li") & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET) == 31
    assert ALPHABET == ALPHABET.lower()


def test_new_ids_are_six_characters_from_the_alphabet() -> None:
    generated = {new_video_id() for _ in range(500)}
    assert all(len(i) == ID_LENGTH and set(i) <= set(ALPHABET) for i in generated)
    assert len(generated) > 490  # 31**6 ids: collisions in 500 draws are very unlikely
    assert all(normalize_video_id(i) == i for i in generated)


def test_a_seeded_rng_gives_reproducible_ids() -> None:
    assert new_video_id(random.Random(7)) == new_video_id(random.Random(7))
    assert new_video_id(random.Random(7)) != new_video_id(random.Random(8))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("k7q2mx", "k7q2mx"),
        ("K7Q2MX", "k7q2mx"),
        ("  k7q2mx\n", "k7q2mx"),
        ("#k7q2mx", "k7q2mx"),
        ("`k7q2mx`", "k7q2mx"),
        ("`#K7Q2MX`", "k7q2mx"),
        ("# k7q2mx", "k7q2mx"),
        ("k7q2mxab", "k7q2mxab"),  # up to 8 characters accepted
        ("k7q2m", None),  # too short
        ("k7q2mxabc", None),  # too long
        ("k7q2m0", None),  # zero is not in the alphabet
        ("k7q2mo", None),
        ("k7q2m1", None),
        ("k7q2ml", None),
        ("k7q2mi", None),
        ("k7 q2mx", None),
        ("k7q2mx;drop", None),
        ("%%%%%%", None),
        ("", None),
        ("##k7q2mx", None),
        ("ｋ7q2mx", None),  # full-width letter
    ],
)
def test_normalize_video_id(typed: str, expected: str | None) -> None:
    assert normalize_video_id(typed) == expected
