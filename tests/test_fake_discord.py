"""The Discord emulator, proven with the real discord.py client and a tiny test bot."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from bot.emulators.fake_discord import (
    DEFAULT_BOT_PERMISSIONS,
    CommandNotAvailable,
    FakeAttachment,
    FakeDiscord,
    InteractionFailed,
    ManualClock,
    Permission,
)
from bot.emulators.fake_discord.errors import FieldError, error_tree
from bot.emulators.fake_discord.rules import check_message, check_modal
from tests.discord_fixtures import FAST_READY, DiscordWorld, running_bot
from tests.discord_fixtures import discord_world as discord_world
from tests.discord_fixtures import fake_discord as fake_discord

# --- the tiny bot ---------------------------------------------------------------------------------


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
        label="Text", custom_id="feedback-text"
    )

    def __init__(self) -> None:
        super().__init__(custom_id="feedback-modal")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}", ephemeral=True)


class VoteView(discord.ui.View):
    @discord.ui.button(label="Up", custom_id="vote:up")
    async def up(
        self, interaction: discord.Interaction, button: discord.ui.Button[VoteView]
    ) -> None:
        await interaction.response.edit_message(content="votes: 1", view=None)


class TinyBot(commands.Bot):
    """Registers a handful of commands covering each interaction flow, synced to one guild."""

    def __init__(self, guild_id: int, *, clock: ManualClock | None = None) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned, intents=discord.Intents.default(), **FAST_READY
        )
        self.guild_id = guild_id
        self.saved: list[discord.Interaction] = []
        #: The emulator's clock, for handlers that let time pass on it.
        self.clock = clock
        self.unanswered: list[discord.Interaction] = []
        self.command_errors: list[BaseException] = []
        self.seen_message_ids: list[int] = []

    async def setup_hook(self) -> None:
        for command in (sora, slow, mute, later, feedback, vote, remix, upload, admin):
            self.tree.add_command(command)
        self.tree.error(self._record_error)
        guild = discord.Object(self.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)

    async def _record_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        self.command_errors.append(getattr(error, "original", error))

    async def on_message(self, message: discord.Message) -> None:
        self.seen_message_ids.append(message.id)


@app_commands.command(description="Render a video")
async def sora(interaction: discord.Interaction, prompt: str) -> None:
    await interaction.response.defer()
    await interaction.edit_original_response(content=f"rendered: {prompt}")
    await interaction.followup.send("queued", ephemeral=True)


@app_commands.command(description="Answers too late")
async def slow(interaction: discord.Interaction) -> None:
    clock = interaction.client.clock  # type: ignore[attr-defined]
    clock.advance(3.5)  # the handler "takes" 3.5 s on the emulator's clock
    await interaction.response.send_message("finally")


@app_commands.command(description="Does not answer; the test answers later")
async def mute(interaction: discord.Interaction) -> None:
    interaction.client.unanswered.append(interaction)  # type: ignore[attr-defined]


@app_commands.command(description="Defers and keeps the interaction")
async def later(interaction: discord.Interaction) -> None:
    await interaction.response.defer(ephemeral=True)
    interaction.client.saved.append(interaction)  # type: ignore[attr-defined]


@app_commands.command(description="Opens a modal")
async def feedback(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(FeedbackModal())


@app_commands.command(description="Posts a button")
async def vote(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("vote!", view=VoteView())


async def video_ids(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [
        app_commands.Choice(name=v, value=v) for v in ("k7a", "k7b", "zz") if v.startswith(current)
    ]


@app_commands.command(description="Remix a video")
@app_commands.autocomplete(video_id=video_ids)
async def remix(interaction: discord.Interaction, video_id: str) -> None:
    await interaction.response.send_message(f"remix {video_id}")


@app_commands.command(description="Reads an attachment")
async def upload(interaction: discord.Interaction, clip: discord.Attachment) -> None:
    await interaction.response.defer()
    data = await clip.read()
    await interaction.edit_original_response(
        content=f"{clip.filename}:{len(data)}:{clip.content_type}"
    )


admin = app_commands.Group(
    name="admin",
    description="Admin tools",
    default_permissions=discord.Permissions(manage_guild=True),
)


@admin.command(description="Show stats")
async def stats(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("stats: ok", ephemeral=True)


def text_channel(bot: commands.Bot, channel_id: int) -> discord.TextChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


# --- connecting and slash commands ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_bot_connects_gets_guilds_and_syncs_commands(discord_world: DiscordWorld) -> None:
    emu = discord_world.emu
    async with running_bot(TinyBot(discord_world.guild.id), emu) as bot:
        guild = bot.get_guild(discord_world.guild.id)
        assert guild is not None and guild.me is not None
        assert guild.get_channel(discord_world.channel.id) is not None
        assert bot.application_id == emu.application_id
        assert bot.user is not None and bot.user.id == emu.bot_user_id
        await asyncio.wait_for(bot.wait_until_ready(), 5)
    names = {c["name"] for c in emu.registered_commands}
    assert {"sora", "slow", "remix", "admin"} <= names
    assert all(c["guild_id"] == str(discord_world.guild.id) for c in emu.registered_commands)
    assert emu.command_writes == 1
    assert emu.contract_violations == [] and emu.response_violations == []
    assert emu.unimplemented == []


@pytest.mark.asyncio
async def test_slash_defer_edit_and_ephemeral_followup(discord_world: DiscordWorld) -> None:
    emu, channel = discord_world.emu, discord_world.channel
    async with running_bot(TinyBot(discord_world.guild.id), emu):
        ix = await emu.slash(discord_world.alice, channel, "sora", {"prompt": "a cat"})
        assert (await ix.initial_response())["type"] == 5
        original = await ix.original_message()
        followup = (await ix.wait_for_followups(1))[0]
    assert ix.responded_after is not None and ix.responded_after < 3
    assert original.content == "rendered: a cat" and original.edit_count == 1
    assert original.interaction_metadata is not None
    assert original.interaction_metadata["user"]["id"] == str(discord_world.alice.id)
    assert followup.content == "queued" and followup.ephemeral
    assert followup.visible_to == discord_world.alice.id
    assert emu.channel_messages(channel) == [original]
    assert emu.contract_violations == []


@pytest.mark.asyncio
async def test_attachment_option_is_downloadable_by_the_bot(discord_world: DiscordWorld) -> None:
    emu = discord_world.emu
    clip = FakeAttachment("cat.png", "image/png", b"\x89PNG fake", width=4, height=4)
    async with running_bot(TinyBot(discord_world.guild.id), emu):
        ix = await emu.slash(
            discord_world.alice, discord_world.channel, "upload", attachments=[clip]
        )
        message = await ix.original_message()
    resolved = ix.payload["data"]["resolved"]["attachments"]
    assert [a["filename"] for a in resolved.values()] == ["cat.png"]
    assert message.content == "cat.png:9:image/png"


@pytest.mark.asyncio
async def test_subcommand_respects_default_member_permissions(discord_world: DiscordWorld) -> None:
    emu = discord_world.emu
    async with running_bot(TinyBot(discord_world.guild.id), emu):
        with pytest.raises(CommandNotAvailable):
            await emu.slash(discord_world.alice, discord_world.channel, "admin stats")
        ix = await emu.slash(discord_world.admin, discord_world.channel, "admin stats")
        message = await ix.original_message()
    assert message.content == "stats: ok" and ix.is_ephemeral
    assert emu.channel_messages(discord_world.channel) == []


# --- components, modals, autocomplete -------------------------------------------------------------


@pytest.mark.asyncio
async def test_modal_button_and_autocomplete_flows(discord_world: DiscordWorld) -> None:
    emu, alice, channel = discord_world.emu, discord_world.alice, discord_world.channel
    async with running_bot(TinyBot(discord_world.guild.id), emu):
        opened = await emu.slash(alice, channel, "feedback")
        await opened.initial_response()
        assert opened.modal is not None and opened.modal["title"] == "Feedback"
        submitted = await emu.submit_modal(
            alice, channel, "feedback-modal", {"feedback-text": "love it"}
        )
        assert (await submitted.original_message()).content == "thanks: love it"

        posted = await emu.slash(alice, channel, "vote")
        card = await posted.original_message()
        clicked = await emu.click(alice, card, "vote:up")
        assert (await clicked.initial_response())["type"] == 7
        assert card.content == "votes: 1" and card.components == []

        choices = await emu.autocomplete(
            alice, channel, "remix", {"video_id": "k7"}, focused="video_id"
        )
        assert [c["value"] for c in choices] == ["k7a", "k7b"]
    assert emu.contract_violations == [] and emu.response_violations == []


# --- deadlines and tokens -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_late_initial_response_fails_the_interaction(discord_world: DiscordWorld) -> None:
    emu = discord_world.emu
    async with running_bot(TinyBot(discord_world.guild.id, clock=discord_world.clock), emu) as bot:
        ix = await emu.slash(discord_world.alice, discord_world.channel, "slow")
        with pytest.raises(InteractionFailed, match="did not respond"):
            await ix.initial_response(timeout=5)
        await emu.wait_until(lambda: ix.callback_errors, timeout=3)
        await emu.wait_until(lambda: bot.command_errors, timeout=3)
    assert ix.failed and ix.callback_errors == [10062]
    error = bot.command_errors[0]
    assert isinstance(error, discord.NotFound) and error.code == 10062


@pytest.mark.asyncio
async def test_response_window_closes_in_real_time_under_a_frozen_clock(
    discord_world: DiscordWorld,
) -> None:
    emu = discord_world.emu
    frozen_at = discord_world.clock.now
    async with running_bot(TinyBot(discord_world.guild.id), emu) as bot:
        ix = await emu.slash(discord_world.alice, discord_world.channel, "mute")
        with pytest.raises(InteractionFailed, match="did not respond"):
            await ix.initial_response(timeout=5)
        assert discord_world.clock.now == frozen_at and ix.elapsed() > 3.0
        await emu.wait_until(lambda: bot.unanswered, timeout=3)
        with pytest.raises(discord.NotFound) as late:
            await bot.unanswered[0].response.send_message("finally")
    assert ix.failed and ix.callback_errors == [10062] and late.value.code == 10062


@pytest.mark.asyncio
async def test_second_acknowledgement_is_rejected(discord_world: DiscordWorld) -> None:
    emu = discord_world.emu
    async with running_bot(TinyBot(discord_world.guild.id), emu):
        ix = await emu.slash(
            discord_world.alice, discord_world.channel, "remix", {"video_id": "k7a"}
        )
        await ix.original_message()
    url = f"{emu.rest_base}/api/v10/interactions/{ix.id}/{ix.token}/callback"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json={"type": 4, "data": {"content": "again"}}) as resp,
    ):
        assert resp.status == 400 and resp.headers["Content-Type"] == "application/json"
        assert (await resp.json())["code"] == 40060


@pytest.mark.asyncio
async def test_token_expires_after_fifteen_minutes(discord_world: DiscordWorld) -> None:
    emu = discord_world.emu
    async with running_bot(TinyBot(discord_world.guild.id), emu) as bot:
        ix = await emu.slash(discord_world.alice, discord_world.channel, "later")
        await ix.initial_response()
        saved = bot.saved[0]
        await saved.followup.send("in time")
        discord_world.clock.advance(901)
        with pytest.raises(discord.HTTPException) as raised:
            await saved.followup.send("too late")
    assert raised.value.status == 401 and raised.value.code == 50027
    assert [m.content for m in ix.followups] == ["in time"]


# --- channel messages as the bot ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_send_reply_upload_and_edit_interaction_message(discord_world: DiscordWorld) -> None:
    emu, channel = discord_world.emu, discord_world.channel
    async with running_bot(TinyBot(discord_world.guild.id), emu) as bot:
        ix = await emu.slash(discord_world.alice, channel, "remix", {"video_id": "k7a"})
        card = await ix.original_message()
        ch = text_channel(bot, channel.id)
        sent = await ch.send("hello", embed=discord.Embed(title="Card", description="a cat"))
        reply = await ch.get_partial_message(card.id).reply("done", mention_author=False)
        video = await ch.send(file=discord.File(io.BytesIO(b"\x00" * 2048), filename="clip.mp4"))
        await ch.get_partial_message(card.id).edit(content="remix k7a (done)")
        history = [m.id async for m in ch.history(limit=10)]
    stored_reply, stored_video = emu.get_message(reply.id), emu.get_message(video.id)
    assert emu.get_message(sent.id).embeds[0]["title"] == "Card"
    assert stored_reply.reply_to == card.id and reply.reference is not None
    assert [(a.filename, a.size, a.content_type) for a in stored_video.attachments] == [
        ("clip.mp4", 2048, "video/mp4")
    ]
    assert card.content == "remix k7a (done)" and card.edit_count == 1
    assert history == [video.id, reply.id, sent.id, card.id]
    assert emu.contract_violations == [] and emu.response_violations == []


@pytest.mark.asyncio
async def test_missing_permissions_are_enforced(discord_world: DiscordWorld) -> None:
    emu, channel = discord_world.emu, discord_world.channel
    async with running_bot(TinyBot(discord_world.guild.id), emu) as bot:
        ch = text_channel(bot, channel.id)
        emu.set_bot_permissions(
            channel, DEFAULT_BOT_PERMISSIONS & ~Permission.ATTACH_FILES & ~Permission.EMBED_LINKS
        )
        with pytest.raises(discord.Forbidden) as no_files:
            await ch.send(file=discord.File(io.BytesIO(b"x"), filename="a.txt"))
        plain = await ch.send("text", embed=discord.Embed(title="dropped"))
        emu.set_bot_permissions(channel, DEFAULT_BOT_PERMISSIONS & ~Permission.SEND_MESSAGES)
        with pytest.raises(discord.Forbidden) as no_send:
            await ch.send("nope")
        emu.set_bot_permissions(channel, 0)
        with pytest.raises(discord.Forbidden) as no_view:
            await ch.send("nope")
    assert no_files.value.code == 50013 and no_send.value.code == 50013
    assert no_view.value.code == 50001
    assert emu.get_message(plain.id).embeds == []


@pytest.mark.asyncio
async def test_reply_to_deleted_message(discord_world: DiscordWorld) -> None:
    emu, channel = discord_world.emu, discord_world.channel
    async with running_bot(TinyBot(discord_world.guild.id), emu) as bot:
        ch = text_channel(bot, channel.id)
        parent = await ch.send("parent")
        emu.delete_message(channel, parent.id)
        with pytest.raises(discord.HTTPException) as strict:
            await parent.reply("child")
        lenient = await ch.send(
            "child",
            reference=discord.MessageReference(
                message_id=parent.id, channel_id=ch.id, fail_if_not_exists=False
            ),
        )
        with pytest.raises(discord.NotFound) as gone:
            await ch.fetch_message(parent.id)
    assert strict.value.status == 400 and strict.value.code == 50035
    rejected = next(c for c in emu.rest_log if c.status == 400)
    assert rejected.error is not None
    assert (
        rejected.error["errors"]["message_reference"]["_errors"][0]["code"]
        == "MESSAGE_REFERENCE_UNKNOWN_MESSAGE"
    )
    assert lenient.reference is None and emu.get_message(lenient.id).reply_to is None
    assert gone.value.code == 10008
    assert emu.contract_violations == []


@pytest.mark.asyncio
async def test_oversized_attachment_nonce_and_content_limit(discord_world: DiscordWorld) -> None:
    emu, channel = discord_world.emu, discord_world.channel
    emu.set_upload_limit(discord_world.guild, 1024)
    async with running_bot(TinyBot(discord_world.guild.id), emu) as bot:
        ch = text_channel(bot, channel.id)
        with pytest.raises(discord.HTTPException) as too_big:
            await ch.send(file=discord.File(io.BytesIO(b"\x00" * 2048), filename="big.mp4"))
        first = await ch.send("final video", nonce="task-42")
        again = await ch.send("final video", nonce="task-42")
        assert emu.contract_violations == []
        with pytest.raises(discord.HTTPException) as too_long:
            await ch.send("x" * 2001)
    assert too_big.value.status == 413 and too_big.value.code == 40005
    assert first.id == again.id and len(emu.channel_messages(channel)) == 1
    assert too_long.value.code == 50035 and "Must be 2000 or fewer in length." in str(
        too_long.value
    )
    assert any("content" in v for v in emu.contract_violations)


@pytest.mark.asyncio
async def test_injected_429_is_retried_by_discord_py(discord_world: DiscordWorld) -> None:
    emu, channel = discord_world.emu, discord_world.channel
    async with running_bot(TinyBot(discord_world.guild.id), emu) as bot:
        fault = emu.inject("POST", r"^/channels/\d+/messages$", 429)
        sent = await text_channel(bot, channel.id).send("after a rate limit")
    posts = [
        c.status for c in emu.rest_log if c.method == "POST" and c.path.startswith("/channels/")
    ]
    assert posts == [429, 200] and fault.remaining == 0
    assert emu.get_message(sent.id).content == "after a rate limit"


@pytest.mark.asyncio
async def test_deleted_channel_and_removed_guild(discord_world: DiscordWorld) -> None:
    emu, guild = discord_world.emu, discord_world.guild
    other = emu.add_channel(guild, "other")
    async with running_bot(TinyBot(guild.id), emu) as bot:
        ch, gone_later = text_channel(bot, discord_world.channel.id), text_channel(bot, other.id)
        emu.delete_channel(other)
        with pytest.raises(discord.NotFound) as unknown:
            await gone_later.send("hello?")
        emu.remove_bot_from_guild(guild)
        with pytest.raises(discord.Forbidden) as kicked:
            await ch.send("hello?")
        await emu.wait_until(lambda: bot.get_guild(guild.id) is None, timeout=3)
    assert unknown.value.code == 10003 and kicked.value.code == 50001


@pytest.mark.asyncio
async def test_history_pages_newest_first(fake_discord: FakeDiscord) -> None:
    emu = fake_discord
    guild = emu.add_guild("Team")
    channel, alice = emu.add_channel(guild, "videos"), emu.add_member(guild, "alice")
    ids = [emu.user_message(alice, channel, f"m{i}").id for i in range(5)]
    base = f"{emu.rest_base}/api/v10/channels/{channel.id}/messages"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {emu.bot_token}"}) as http:
        pages = {}
        for name, query in {
            "before": f"?before={ids[3]}&limit=2",
            "after": f"?after={ids[1]}&limit=2",
        }.items():
            async with http.get(base + query) as resp:
                pages[name] = [int(m["id"]) for m in await resp.json()]
    assert pages == {"before": [ids[2], ids[1]], "after": [ids[3], ids[2]]}
    assert emu.contract_violations == [] and emu.response_violations == []


# --- gateway --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_bot_resumes_after_dropped_connection_and_keeps_working(
    discord_world: DiscordWorld,
) -> None:
    emu, channel = discord_world.emu, discord_world.channel
    async with running_bot(TinyBot(discord_world.guild.id), emu) as bot:
        await emu.drop_gateway(resume=True)
        message = emu.user_message(discord_world.alice, channel, "hi bot")
        await emu.wait_until(lambda: message.id in bot.seen_message_ids, timeout=3)
        ix = await emu.slash(discord_world.alice, channel, "remix", {"video_id": "zz"})
        assert (await ix.original_message()).content == "remix zz"
    assert emu.gateway_stats == {"identify": 1, "resume": 1}


@pytest.mark.asyncio
async def test_invalid_session_reidentifies_via_the_redirected_gateway(
    discord_world: DiscordWorld,
) -> None:
    emu = discord_world.emu
    async with running_bot(TinyBot(discord_world.guild.id), emu):
        await emu.drop_gateway(resume=False, timeout=15)
        ix = await emu.slash(
            discord_world.alice, discord_world.channel, "remix", {"video_id": "k7b"}
        )
        assert (await ix.original_message()).content == "remix k7b"
    assert emu.gateway_stats == {"identify": 2, "resume": 0}


# --- contract -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_invalid_raw_request_is_a_contract_violation(fake_discord: FakeDiscord) -> None:
    emu = fake_discord
    channel = emu.add_channel(emu.add_guild("Team"), "videos")
    url = f"{emu.rest_base}/api/v10/channels/{channel.id}/messages"
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(url, json={"content": 5, "tts": "yes"}) as resp:
            assert resp.status == 400
            body = await resp.json()
        async with http.get(f"{emu.rest_base}/api/v10/nope") as missing:
            assert missing.status == 404
    assert body["code"] == 50035 and {"content", "tts"} <= set(body["errors"])
    assert any("body.content" in v for v in emu.contract_violations)
    assert any("GET /nope" in v for v in emu.contract_violations)
    assert emu.unimplemented == ["GET /nope"]


@pytest.mark.asyncio
async def test_unauthorized_requests_get_401(fake_discord: FakeDiscord) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{fake_discord.rest_base}/api/v10/users/@me") as resp,
    ):
        assert resp.status == 401 and (await resp.json())["message"] == "401: Unauthorized"


# --- rules without a bot --------------------------------------------------------------------------


def test_error_tree_uses_string_codes_under_nested_keys() -> None:
    tree = error_tree(
        [
            FieldError(
                ("embeds", 0, "title"), "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length."
            )
        ]
    )
    assert tree == {
        "embeds": {
            "0": {
                "title": {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_MAX_LENGTH",
                            "message": "Must be 256 or fewer in length.",
                        }
                    ]
                }
            }
        }
    }


def button(custom_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": 2, "style": 1, "custom_id": custom_id, **extra}


def row(*items: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(items)}


MAX = "BASE_TYPE_MAX_LENGTH"
FIELD = {"name": "n", "value": "v"}
OVER_6000 = [{"description": "d" * 4096}, {"description": "d" * 2000}]
LIMIT_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"content": "x" * 2001}, "content", MAX),
    ({"embeds": [{"title": "t"}] * 11}, "embeds", MAX),
    ({"embeds": [{"title": "t" * 257}]}, "embeds.0.title", MAX),
    ({"embeds": OVER_6000}, "embeds", "MAX_EMBED_SIZE_EXCEEDED"),
    ({"embeds": [{"fields": [FIELD] * 26}]}, "embeds.0.fields", MAX),
    ({"embeds": [{"footer": {"text": "f" * 2049}}]}, "embeds.0.footer.text", MAX),
    ({"components": [row(*(button(str(i)) for i in range(6)))]}, "components.0.components", MAX),
    ({"components": [row(button(str(i))) for i in range(6)]}, "components", MAX),
    ({"components": [row(button("a", label="l" * 81))]}, "components.0.components.0.label", MAX),
    (
        {"components": [row(button("a"), button("a"))]},
        "components.0.components.1.custom_id",
        "COMPONENT_CUSTOM_ID_DUPLICATED",
    ),
    (
        {"components": [row(button("x" * 101))]},
        "components.0.components.0.custom_id",
        "BASE_TYPE_BAD_LENGTH",
    ),
]


@pytest.mark.parametrize(("payload", "path", "code"), LIMIT_CASES)
def test_message_limits(payload: dict[str, Any], path: str, code: str) -> None:
    found = {(".".join(map(str, e.path)), e.code) for e in check_message(payload)}
    assert (path, code) in found


def test_modal_limits() -> None:
    text_input = {"type": 4, "custom_id": "t", "style": 1, "label": "L", "max_length": 4001}
    modal = {
        "custom_id": "m",
        "title": "T" * 46,
        "components": [{"type": 1, "components": [text_input]}] * 6,
    }
    codes = {(e.path, e.code) for e in check_modal(modal)}
    assert (("title",), "BASE_TYPE_BAD_LENGTH") in codes
    assert (("components",), "BASE_TYPE_BAD_LENGTH") in codes
    assert (("components", 0, "components", 0, "max_length"), "NUMBER_TYPE_MAX") in codes


def test_manual_clock_only_moves_when_told() -> None:
    clock = ManualClock(start=100.0)
    assert clock() == 100.0 and clock.advance(5) == 105.0 and clock.now == 105.0
    with pytest.raises(ValueError):
        clock.advance(-1)


async def _frames_until(ws: aiohttp.ClientWebSocketResponse, event: str) -> list[dict[str, Any]]:
    frames = []
    while not frames or frames[-1].get("t") != event:
        frames.append(await ws.receive_json(timeout=3))
    return frames


@pytest.mark.asyncio
async def test_gateway_resume_replays_dispatches_missed_while_disconnected(
    fake_discord: FakeDiscord,
) -> None:
    emu = fake_discord
    guild = emu.add_guild("Team")
    channel, alice = emu.add_channel(guild, "videos"), emu.add_member(guild, "alice")
    identify = {"op": 2, "d": {"token": emu.bot_token, "intents": 1 | 1 << 9, "properties": {}}}
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(emu.gateway_url) as ws:
            assert (await ws.receive_json())["op"] == 10
            await ws.send_json(identify)
            ready, create = await _frames_until(ws, "GUILD_CREATE")
        missed = emu.user_message(alice, channel, "while you were away")
        resume = {
            "session_id": ready["d"]["session_id"],
            "seq": create["s"],
            "token": emu.bot_token,
        }
        async with http.ws_connect(ready["d"]["resume_gateway_url"]) as ws:
            await ws.receive_json()
            await ws.send_json({"op": 6, "d": resume})
            replayed, resumed = await _frames_until(ws, "RESUMED")
    assert replayed["t"] == "MESSAGE_CREATE" and replayed["d"]["id"] == str(missed.id)
    assert replayed["d"]["content"] == ""  # no MESSAGE_CONTENT intent
    assert (ready["s"], create["s"], replayed["s"], resumed["s"]) == (1, 2, 3, 4)
