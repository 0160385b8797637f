"""Status-card edits through the interaction's own webhook while its token lives.

A card is the response to an interaction (or a follow-up of it). For 15 minutes the
interaction token may edit it through ``/webhooks/{app}/{token}/messages/...``, a route
with a rate-limit bucket of its own per token, instead of the channel's message-edit
bucket that every card and result in the channel share (Discord docs, "Receiving and
Responding": tokens are valid for 15 minutes; "Rate Limits": webhook routes have their own
buckets). The interactions are kept in memory only: they are credentials that die in 15
minutes, so they never go to the database; after a restart cards are edited through the
channel, as after the 15 minutes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import discord

log = logging.getLogger(__name__)

#: Discord's interaction token lifetime, less a margin so no edit races the expiry.
TOKEN_SECONDS = 15 * 60
MARGIN_SECONDS = 60
#: Seconds one edit through the webhook may take before the channel route takes over.
EDIT_TIMEOUT = 3.0
#: Answers that say the token no longer works: 401, or Discord's codes for an unknown
#: webhook (10015) and an invalid webhook token (50027). (A 404 with 10008, Unknown
#: Message, means the card itself is gone: that is for the caller to handle.)
DEAD_TOKEN_CODES = (10015, 50027)


@dataclass(frozen=True)
class _Hook:
    interaction: discord.Interaction
    message_id: int
    original: bool
    until: float


class CardHooks:
    """The live interaction of each card that has one, by task id."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._hooks: dict[str, _Hook] = {}

    def remember(
        self, task_id: str, interaction: discord.Interaction, message_id: int, *, original: bool
    ) -> None:
        """The card ``message_id`` of ``task_id`` is ``interaction``'s (original) response."""
        self._prune()
        until = self.clock() + TOKEN_SECONDS - MARGIN_SECONDS
        self._hooks[task_id] = _Hook(interaction, message_id, original, until)

    async def edit(self, task_id: str, message_id: int, **fields: Any) -> bool:
        """Edit the card through its interaction; False when there is no live one.

        A token Discord no longer accepts is forgotten and False returned, so the caller
        edits through the channel instead.
        """
        hook = self._hooks.get(task_id)
        if hook is None or hook.message_id != message_id or self.clock() >= hook.until:
            self._hooks.pop(task_id, None)
            return False
        try:
            async with asyncio.timeout(EDIT_TIMEOUT):
                if hook.original:
                    await hook.interaction.edit_original_response(**fields)
                else:
                    await hook.interaction.followup.edit_message(message_id, **fields)
        except (discord.HTTPException, TimeoutError) as exc:
            # Any failure ends the webhook route for this card: discord.py's webhook client
            # retries a 5xx five times (25 s) and sleeps through any 429, which an outbox
            # round must not wait for; the channel route takes over.
            self._hooks.pop(task_id, None)
            if isinstance(exc, discord.HTTPException) and _token_gone(exc):
                log.info("task %s: the card's token is gone; editing via the channel", task_id)
                return False
            raise
        return True

    def is_live(self, task_id: str, message_id: int | None) -> bool:
        """Whether ``edit`` would go through the interaction (its token still lives)."""
        hook = self._hooks.get(task_id)
        return hook is not None and hook.message_id == message_id and self.clock() < hook.until

    def __len__(self) -> int:
        return len(self._hooks)

    def _prune(self) -> None:
        now = self.clock()
        for task_id in [t for t, hook in self._hooks.items() if now >= hook.until]:
            del self._hooks[task_id]


def _token_gone(exc: discord.HTTPException) -> bool:
    return exc.status == 401 or exc.code in DEAD_TOKEN_CODES
