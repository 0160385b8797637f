"""The Discord implementation of ``bot.delivery.notifier.Notifier``.

Everything here uses channel messages and the bot token, never an interaction
token: results can arrive hours after the command, and interaction tokens die
after 15 minutes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import discord

from bot.core.errors import (
    AttachmentRejected,
    CardGone,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from bot.core.foreground import Foreground
from bot.core.models import DeliveryState, TaskStatus, VideoTask
from bot.core.network import network_cause
from bot.delivery.notifier import Delivery, FitNote, OriginalLink
from bot.discord_ui import render
from bot.discord_ui.card_hooks import CardHooks
from bot.discord_ui.upload_limit import guild_upload_limit
from bot.discord_ui.views import result_view, video_view
from bot.services.queue import ahead_of
from bot.storage.async_store import AsyncTaskStore

log = logging.getLogger(__name__)

#: Discord error codes after which retrying a post cannot help.
PERMANENT_CODES = {
    10003: "the channel no longer exists",
    10004: "the bot is no longer in the server",
    50001: "the bot cannot see the channel",
    50013: "the bot lacks a permission in the channel",
    50083: "the thread is archived",
    160005: "the thread is locked",
}
#: Discord error codes after which a status card can never be edited again.
DEAD_CARD_CODES = {
    10003: "the card's channel no longer exists",
    10008: "the card was deleted",
    50001: "the bot cannot see the card's channel",
    50013: "the bot lacks a permission to edit the card",
}
#: How many messages ``find_delivery`` reads, newest first, before giving up (10 requests).
HISTORY_SCAN_LIMIT = 1000


class DiscordNotifier:
    """Edits status cards and posts results as replies."""

    def __init__(
        self,
        client: discord.Client,
        store: AsyncTaskStore,
        *,
        mention_author: bool = True,
        can_remix: bool = True,
        foreground: Foreground | None = None,
    ) -> None:
        self.client = client
        self.store = store
        #: Card edits and posts wait while an interaction waits for its first response.
        self.foreground = foreground or Foreground()
        self.mention_author = mention_author
        #: Whether results get a Remix button (the relay's dialect can remix).
        self.can_remix = can_remix
        #: Interactions whose tokens may still edit their cards (in memory, 15 minutes).
        self.card_hooks = CardHooks()

    def _channel(self, task: VideoTask) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(task.channel_id, guild_id=task.guild_id)

    async def update_card(self, task: VideoTask) -> None:
        """Edit the task's status card (after any first response now owed).

        A finished video that could not be posted gets a note above the card instead: only
        the text changes, because without Send Messages Discord drops a re-sent embed.
        """
        await self.foreground.idle()
        if task.card_message_id is None or task.card_dead_reason is not None:
            return
        fields: dict[str, Any]
        if task.status is TaskStatus.COMPLETED and task.delivery_state is (
            DeliveryState.UNDELIVERABLE
        ):
            reason = task.delivery_error or "unknown reason"
            fields = {"content": f"⚠️ The video is ready but could not be posted here: {reason}."}
        else:
            fields = {
                "embed": render.card_embed(task, ahead=await ahead_of(self.store, task)),
                "view": video_view(task, remix=self.can_remix, picks=await self._picks(task)),
            }
        try:
            with _delivery_errors():
                if await self.card_hooks.edit(task.id, task.card_message_id, **fields):
                    return
                message = self._channel(task).get_partial_message(task.card_message_id)
                await message.edit(**fields)
        except PermanentDeliveryError as exc:
            cause = exc.__cause__
            if isinstance(cause, discord.HTTPException) and cause.code in DEAD_CARD_CODES:
                raise CardGone(DEAD_CARD_CODES[cause.code]) from cause
            raise

    async def _picks(self, task: VideoTask) -> int | None:
        """The ⭐ count a finished video's buttons show (None before it is finished)."""
        if task.status is not TaskStatus.COMPLETED:
            return None
        return await self.store.pick_count(task.id, guild_id=task.guild_id)

    def edits_card_via_channel(self, task: VideoTask) -> bool:
        """False while the card's interaction token may edit it (a bucket of its own)."""
        return not self.card_hooks.is_live(task.id, task.card_message_id)

    def upload_limit(self, task: VideoTask) -> int | None:
        """The guild's attachment limit now; None until its data arrived (see ``guild_upload_limit``)."""
        return guild_upload_limit(self.client.get_guild(task.guild_id))

    async def find_delivery(self, task: VideoTask) -> int | None:
        """Look for an earlier post of this task's outcome after its card.

        Newest first: a post lost in a crash was sent by the last attempt, so it is recent,
        while a busy channel may hold hundreds of messages between the card and the result.
        """
        if self.client.user is None:
            return None
        after = discord.Object(id=task.card_message_id) if task.card_message_id else task.created_at
        marker = render.footer_marker(task.id)
        channel = self._channel(task)
        with _delivery_errors():
            async for message in channel.history(
                after=after, limit=HISTORY_SCAN_LIMIT, oldest_first=False
            ):
                if message.author.id == self.client.user.id and _has_marker(message, marker):
                    return message.id
        return None

    async def deliver(
        self,
        task: VideoTask,
        video: Path | None,
        *,
        too_large: bool = False,
        fit: FitNote | None = None,
        original: OriginalLink | None = None,
        thumbnail: Path | None = None,
    ) -> Delivery:
        """Post the result (or failure notice) as a reply to the right message.

        A remix replies to its parent's result only when both are in the same channel:
        Discord refuses a reply to another channel (400 50035 on ``message_reference``).
        Elsewhere it replies to its own card, and the result links to the parent's post.
        """
        await self.foreground.idle()
        parent, parent_message = await self._parent_message(task)
        same_channel = parent is not None and parent.channel_id == task.channel_id
        target = (parent_message if same_channel else None) or task.card_message_id
        if task.status is TaskStatus.COMPLETED:
            parent_link = (
                render.jump_url(parent.guild_id, parent.channel_id, parent_message)
                if parent is not None and parent_message
                else None
            )
            extras = _Extras(fit=fit, original=original, thumbnail=thumbnail)
            return await self._post_result(task, video, target, parent_link, too_large, extras)
        kwargs = {"content": render.failure_content(task), "embed": render.failure_embed(task)}
        return Delivery(await self._post(task, target, kwargs), attached=False)

    async def _post_result(
        self,
        task: VideoTask,
        video: Path | None,
        target: int | None,
        parent_link: str | None,
        too_large: bool,
        extras: _Extras,
    ) -> Delivery:
        limit = task.upload_limit or self.upload_limit(task)
        kwargs: dict[str, Any] = {
            "content": render.result_content(
                task,
                attached=video is not None,
                link=task.result_url,
                upload_limit=limit,
                too_large=too_large,
                fit=extras.fit,
                original=extras.original,
            ),
            "embed": render.result_embed(
                task, parent_link=parent_link, image=extras.image_name(task, video)
            ),
            "view": result_view(task.id, remix=self.can_remix, picks=await self._picks(task)),
        }
        if video is None:
            files = extras.thumbnail_file(task)
            return Delivery(await self._post(task, target, kwargs, files), attached=False)
        try:
            files = [(video, f"{task.id}.mp4")]
            return Delivery(await self._post(task, target, kwargs, files), attached=True)
        except AttachmentRejected:
            log.info("task %s: Discord refused the file as too large; posting a link", task.id)
            kwargs["content"] = render.result_content(
                task,
                attached=False,
                link=task.result_url,
                upload_limit=limit,
                too_large=True,
                original=extras.original,
            )
            return Delivery(await self._post(task, target, kwargs), attached=False)

    async def _post(
        self,
        task: VideoTask,
        target: int | None,
        kwargs: dict[str, Any],
        files: list[tuple[Path, str]] | None = None,
    ) -> int:
        """Send one message; a deleted reply target falls back to a plain post.

        ``files`` are (path, name) pairs. Each send gets fresh ``discord.File`` objects:
        discord.py closes the files after a send, even a refused one.
        """

        def file() -> dict[str, Any]:
            return {"files": [discord.File(path, name) for path, name in files]} if files else {}

        channel = self._channel(task)
        mentions = (
            render.author_only_mentions(task.user_id) if self.mention_author else render.NO_MENTIONS
        )
        nonce = f"sora-{task.id}"
        reference = (
            discord.MessageReference(
                message_id=target, channel_id=task.channel_id, fail_if_not_exists=True
            )
            if target
            else None
        )
        with _delivery_errors():
            try:
                replying: dict[str, Any] = {} if reference is None else {"reference": reference}
                message = await channel.send(
                    **kwargs, **file(), **replying, allowed_mentions=mentions, nonce=nonce
                )
            except discord.HTTPException as exc:
                if reference is None or not _is_unknown_reference(exc):
                    raise
                log.info("task %s: reply target %s is gone; posting without it", task.id, target)
                kwargs = await self._without_reference(task, kwargs)
                message = await channel.send(
                    **kwargs, **file(), allowed_mentions=mentions, nonce=nonce
                )
        return message.id

    async def _without_reference(self, task: VideoTask, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Add a jump link to the parent's card when the reply target was deleted."""
        parent = await self.store.get(task.parent_id) if task.parent_id else None
        if parent is None or parent.card_message_id is None:
            return kwargs
        link = render.jump_url(parent.guild_id, parent.channel_id, parent.card_message_id)
        return {**kwargs, "content": f"{kwargs['content']}\nRemix of `{parent.id}`: {link}"}

    async def _parent_message(self, task: VideoTask) -> tuple[VideoTask | None, int | None]:
        """A remix's parent and the message a remix replies to: its result, else its card.

        A parent caught by a crash between its post and the record of it is still
        ``delivering`` without a message id; its post is looked up in the channel so the
        remix still replies to the result, not to the card.
        """
        parent = await self.store.get(task.parent_id) if task.parent_id else None
        if parent is None:
            return None, None
        if parent.deleted:  # its result post was deleted (Delete button): reply to the card
            return parent, parent.card_message_id
        posted = parent.result_message_id
        if posted is None and parent.delivery_state is DeliveryState.DELIVERING:
            posted = await self.find_delivery(parent)
        return parent, posted or parent.card_message_id


class _Extras:
    """What a result post may carry besides its file: how it was fitted, the kept original's
    link, and the upstream's thumbnail (shown, as the embed's image, only without a file)."""

    def __init__(
        self, *, fit: FitNote | None, original: OriginalLink | None, thumbnail: Path | None
    ) -> None:
        self.fit = fit
        self.original = original
        self.thumbnail = thumbnail

    def image_name(self, task: VideoTask, video: Path | None) -> str | None:
        """The attachment name of the thumbnail when the post shows it, else None."""
        if video is not None or self.thumbnail is None:
            return None
        return f"{task.id}-thumbnail{self.thumbnail.suffix}"

    def thumbnail_file(self, task: VideoTask) -> list[tuple[Path, str]]:
        """The thumbnail as the post's one file (for a post without the video)."""
        name = self.image_name(task, None)
        return [(self.thumbnail, name)] if self.thumbnail is not None and name else []


def _is_unknown_reference(exc: discord.HTTPException) -> bool:
    """Discord answers a reply to a deleted message with 400 50035 on ``message_reference``."""
    return exc.status == 400 and exc.code == 50035 and "message_reference" in (exc.text or "")


def _has_marker(message: discord.Message, marker: str) -> bool:
    return any(embed.footer and embed.footer.text == marker for embed in message.embeds)


class _delivery_errors:
    """Translate discord.py and network errors into delivery errors."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or isinstance(exc, PermanentDeliveryError | TransientDeliveryError):
            return None
        if isinstance(exc, discord.HTTPException):
            raise _classify(exc) from exc
        if isinstance(exc, discord.RateLimited):  # refused before sending: nothing posted
            raise TransientDeliveryError(
                f"rate limited by Discord for {exc.retry_after:.0f}s", may_have_posted=False
            ) from exc
        if isinstance(exc, aiohttp.ClientConnectorError):  # no connection: nothing was sent
            raise TransientDeliveryError(
                f"network error: {_network_cause(exc)}", may_have_posted=False
            ) from exc
        if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
            raise TransientDeliveryError(f"network error: {_network_cause(exc)}") from exc
        return None


def _network_cause(exc: BaseException) -> str:
    return network_cause(exc) or type(exc).__name__


def _classify(exc: discord.HTTPException) -> Exception:
    if exc.code in PERMANENT_CODES:
        return PermanentDeliveryError(PERMANENT_CODES[exc.code])
    if exc.status == 413 or exc.code == 40005:
        return AttachmentRejected("the file is too large for this server")
    if exc.status in (401, 403, 404):
        return PermanentDeliveryError(f"Discord refused the post ({exc.status} {exc.code})")
    if exc.status == 429:  # refused before it was processed: nothing was posted
        return TransientDeliveryError("Discord error 429 (rate limited)", may_have_posted=False)
    if exc.status >= 500:
        return TransientDeliveryError(f"Discord error {exc.status}")
    return PermanentDeliveryError(f"Discord rejected the post ({exc.status} {exc.code})")
