"""Typed slash commands read against registered definitions: groups, subcommands, options."""

from __future__ import annotations

from typing import Any

import pytest

from bot.cli.demo_commands import (
    CHANNEL,
    USER,
    TypedCommandError,
    convert_options,
    needed_permissions,
    parse_typed,
    usage_lines,
)

CONFIG = {
    "name": "config",
    "description": "Settings",
    "default_member_permissions": "32",
    "options": [
        {
            "type": 2,
            "name": "quota",
            "description": "Quotas",
            "options": [
                {
                    "type": 1,
                    "name": "set",
                    "description": "Set one",
                    "options": [
                        {"type": 6, "name": "member", "required": True},
                        {"type": 4, "name": "videos", "required": True},
                        {"type": 5, "name": "notify"},
                        {"type": 10, "name": "budget"},
                        {"type": 7, "name": "where"},
                        {
                            "type": 4,
                            "name": "seconds",
                            "choices": [{"name": "4s", "value": 4}, {"name": "8s", "value": 8}],
                        },
                    ],
                }
            ],
        },
        {"type": 1, "name": "show", "description": "Show all", "options": []},
    ],
}
REMIX = {
    "name": "remix",
    "options": [
        {"type": 3, "name": "video_id", "required": True},
        {"type": 3, "name": "prompt", "required": True},
        {"type": 4, "name": "variants"},
    ],
}


def lookup(kind: int, name: str) -> Any:
    if kind == USER and name == "bob":
        return ("member", name)
    if kind == CHANNEL and name == "videos":
        return ("channel", name)
    raise LookupError(f"no {name}")


def test_groups_and_subcommands_are_leading_words_and_options_are_typed_by_kind():
    typed = parse_typed(
        CONFIG, "quota set member:@bob videos: 3 notify:yes budget:2.5 where:#videos seconds:8s"
    )
    assert typed.path == ["config", "quota", "set"] and typed.name == "config quota set"
    assert convert_options(typed, lookup) == {
        "member": ("member", "bob"),
        "videos": 3,
        "notify": True,
        "budget": 2.5,
        "where": ("channel", "videos"),
        "seconds": 8,
    }


def test_unnamed_text_fills_the_required_options_in_order():
    typed = parse_typed(REMIX, "k7q2mx the boat: on fire variants:2")
    assert typed.options == {"video_id": "k7q2mx", "prompt": "the boat: on fire", "variants": "2"}
    assert parse_typed(CONFIG, "show").options == {}


@pytest.mark.parametrize(
    ("rest", "error"),
    [
        ("", "/config needs a subcommand: quota | show (none given)"),
        ("quota nope", "/config quota needs a subcommand: set ('nope' is not one of them)"),
        ("show extra", "'extra' is not an option; name it like key:value"),
    ],
)
def test_what_does_not_fit_the_definition_says_how(rest: str, error: str):
    with pytest.raises(TypedCommandError) as raised:
        parse_typed(CONFIG, rest)
    assert str(raised.value) == error


def test_values_of_the_wrong_kind_are_refused_in_one_line():
    typed = parse_typed(CONFIG, "quota set bob many")
    with pytest.raises(TypedCommandError, match="videos must be a whole number, not 'many'"):
        convert_options(typed, lookup)
    typed = parse_typed(CONFIG, "quota set bob 1 notify:maybe")
    with pytest.raises(TypedCommandError, match="notify must be true or false"):
        convert_options(typed, lookup)


def test_permissions_are_named_as_in_server_settings():
    assert needed_permissions(CONFIG) == "Manage Server"
    assert needed_permissions({"default_member_permissions": "0"}) == "Administrator"
    assert needed_permissions({"default_member_permissions": str(1 << 5 | 1 << 13)}) == (
        "Manage Server and Manage Messages"
    )
    assert needed_permissions(REMIX) is None


def test_usage_has_one_line_per_leaf():
    assert usage_lines(CONFIG) == [
        (
            "/config quota set <member> <videos> [notify:true|false] [budget:number] "
            "[where:channel] [seconds:4s|8s]",
            "Set one",
        ),
        ("/config show", "Show all"),
    ]
