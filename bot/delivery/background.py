"""Deliveries that outlive their poll round (a long re-encode, a slow upload).

A poll round waits for its deliveries at most ``DeliverySettings.detach_after_seconds``;
the ones still running then go on in the background, here, so the next round (other
tasks' polls and posts) is not held up by a video being compressed. A detached task is
skipped by later rounds until it finishes: its claim may lapse while it runs, and it
must not be delivered twice by this process. After a crash nothing here survives; the
task is still ``delivering`` and the next process looks for its post before posting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


class DetachedDeliveries:
    """The deliveries of this process that went on after their round ended."""

    def __init__(self) -> None:
        self._jobs: dict[str, asyncio.Task[None]] = {}

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._jobs

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, task_id: str, job: asyncio.Task[None]) -> None:
        """Let ``job`` (the delivery of ``task_id``) finish on its own."""
        log.info("task %s: delivery still running after its round; continuing meanwhile", task_id)
        self._jobs[task_id] = job
        job.add_done_callback(lambda _: self._jobs.pop(task_id, None))

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` for every detached delivery, then cancel the rest.

        A cancelled one stays ``delivering`` (its encoder is killed); the next start looks
        for its post, then delivers it again.
        """
        jobs = list(self._jobs.values())
        if not jobs:
            return
        _, pending = await asyncio.wait(jobs, timeout=timeout)
        for job in pending:
            job.cancel()
        for job in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await job
