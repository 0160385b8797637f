"""The demo's prompt (``--keep-running``) against the real bot: typed lines, refusals, /admin, help.

The prompt reads an ``io.StringIO`` here; everything behind it is the harness (the production
bot against the Discord and Videos API emulators).
"""

from __future__ import annotations

import io
import re

import pytest

from bot.cli.demo import PromptChannel, run_demo
from bot.cli.demo_repl import Repl
from bot.emulators.harness import BotHarness


async def typed(h: BotHarness, lines: list[str]) -> tuple[str, str]:
    """Run the prompt over ``lines`` (then the end of input); (output, why it ended)."""
    out = io.StringIO()
    ended = await Repl(PromptChannel(h), io.StringIO("".join(f"{x}\n" for x in lines)), out).run()
    return out.getvalue(), ended


def prompts(output: str) -> list[str]:
    """What followed each prompt, up to the next one (the answer to one typed line)."""
    return re.split(r"^(?:alice|bob|boss)> ", output, flags=re.MULTILINE)[1:]


@pytest.mark.asyncio
async def test_a_member_without_manage_server_is_refused_admin_and_the_prompt_goes_on(tmp_path):
    async with BotHarness(tmp_path, job_seconds=0.5) as h:
        output, ended = await typed(h, ["/admin stats", "/admin", "/history"])
        interactions = [ix.data.get("name") for ix in h.discord.interactions]
    refusal = (
        "! /admin is not available to alice: Discord shows it only to members with "
        "Manage Server (try: as boss)"
    )
    answers = prompts(output)
    assert answers[0].strip() == refusal
    assert answers[1].strip() == refusal
    assert "alice › /history" in answers[2]
    assert interactions == ["history"]  # the emulator let no /admin through
    assert ended == "end of input"


@pytest.mark.asyncio
async def test_the_admin_runs_admin_subcommands_with_named_options(tmp_path):
    async with BotHarness(tmp_path, job_seconds=0.5) as h:
        lines = ["as boss", "/admin stats", "/admin limits max_concurrent:2", "/admin history"]
        output, _ = await typed(h, lines)
        assert h.store is not None
        limits = await h.store.get_limits(h.guild.id)
    answers = prompts(output)
    assert answers[0].strip() == "now acting as boss"
    assert answers[1].startswith("#1 boss › /admin stats\n   sora-bot (only boss can see this):")
    assert "▌ Video stats" in answers[1]
    assert answers[2].startswith("#2 boss › /admin limits max_concurrent: 2\n")
    assert "Videos in progress per member: 2 (server setting)" in answers[2]
    assert limits is not None and limits.max_concurrent_per_user == 2
    assert answers[3].startswith("#3 boss › /admin history\n")
    assert "!" not in output


@pytest.mark.asyncio
async def test_a_line_that_cannot_be_carried_out_is_one_line_and_the_prompt_goes_on(tmp_path):
    async with BotHarness(tmp_path, job_seconds=0.5) as h:
        lines = [
            "/sora",
            "/nope x",
            "click #9",
            "as nobody",
            "as admin",
            "/admin limits max_concurrent:lots",
            "/admin limits max_concurrent:1000",
            "/admin",
            "dance",
            "/admin history user:carol",
            "/sora a cat seconds:9",
        ]
        output, ended = await typed(h, lines)
    answers = [a.strip() for a in prompts(output)]
    assert answers[:10] == [
        "! required options missing: ['prompt']",
        "! the bot has no /nope command (it has /sora, /remix, /extend, /lineage, /video, /history, /admin, /settings, /queue)",
        "! no message #9",
        "! no member called 'nobody'; try alice, bob, boss",
        "now acting as boss",
        "! max_concurrent must be a whole number, not 'lots'",
        answers[6],  # the bot's own refusal, checked below
        "! /admin needs a subcommand: history | task | export | stats | cancel | retry | limits "
        "(none given)",
        "! unknown command 'dance'; type help",
        "! no member called 'carol'; try alice, bob, boss",
    ]
    assert answers[6].startswith("#1 boss › /admin limits max_concurrent: 1000")
    assert answers[10].startswith("! ") and "seconds" in answers[10]
    assert ended == "end of input"


@pytest.mark.asyncio
async def test_help_lists_the_registered_commands_with_options_members_and_keywords(tmp_path):
    async with BotHarness(tmp_path, job_seconds=0.5) as h:
        output, _ = await typed(h, ["help", "as boss", "help"])
        registered = [c["name"] for c in h.discord.registered_commands if c.get("type", 1) == 1]
    as_alice, as_boss = (a for a in prompts(output) if a.startswith("Type a command"))
    for name in registered:
        assert f"  /{name}" in as_alice
    assert "  /sora <prompt> [model:sora-2|sora-2-pro] [seconds:4s|8s|12s]" in as_alice
    assert "  /remix <video_id> <prompt> [variants:whole number]" in as_alice
    assert "  /admin … (hidden from alice: needs Manage Server; try: as boss)" in as_alice
    assert "  /admin stats [since:text] [until:text]" in as_alice
    assert "  /admin limits [max_concurrent:whole number]" in as_alice
    assert "act as another member: alice, bob, boss (Manage Server; also: as admin)" in as_alice
    for keyword in ("click <#n> [button]", "show ", "help ", "quit "):
        assert f"  {keyword}" in as_alice
    assert "hidden from" not in as_boss and as_boss.startswith("Type a command (acting as boss)")


@pytest.mark.asyncio
async def test_the_end_of_input_stops_the_demo_in_one_line():
    out = io.StringIO()
    code = await run_demo(keep_running=True, out=out, inp=io.StringIO(""), quiet_logs=False)
    lines = out.getvalue().splitlines()
    assert code == 0, out.getvalue()
    assert lines[-1] == "Stopped (end of input): the bot and both emulators are shut down."
    assert lines[-2] == "alice> "
