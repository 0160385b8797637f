"""The Videos API emulator in a process of its own, for benchmarks that time Discord answers.

Why: in ``bench.latency`` the Discord emulator stamps each first response when its HTTP
handler runs, in the benchmark's event loop. With the Videos API emulator in that loop
too, every create and poll the bots send is parsed there, ahead of the callbacks being
timed: the figure then measures the emulators' queue as much as the bot. A real relay
is on another machine; here it gets its own process (both still share the 2 cores).

``RemoteUpstream`` has the parts of ``FakeUpstream`` that ``ProcessWorld`` and the
benchmark use: ``start``, ``stop``, ``base_url``, ``count`` and ``add_jobs`` (which
registers jobs directly, like ``bench.common.add_upstream_job``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from bench.common import add_upstream_job, quiet_logging
from bot.emulators.fake_upstream import FakeUpstream


@dataclass(frozen=True)
class JobSpec:
    """A job to register: ``add_upstream_job``'s arguments."""

    upstream_id: str
    duration: float
    completed: bool = False
    started_ago: float = 0.0
    prompt: str = "seeded"


def _serve(conn: Connection, options: dict[str, Any]) -> None:
    """The child: run the emulator and answer the parent's requests until "stop"."""
    quiet_logging()

    async def serve() -> None:
        upstream = FakeUpstream(**options)
        async with upstream:
            conn.send(upstream.base_url)
            loop = asyncio.get_running_loop()
            while True:
                kind, payload = await loop.run_in_executor(None, conn.recv)
                if kind == "stop":
                    conn.send(None)
                    return
                if kind == "add":
                    for spec in payload:
                        add_upstream_job(
                            upstream,
                            spec.upstream_id,
                            duration=spec.duration,
                            completed=spec.completed,
                            started_ago=spec.started_ago,
                            prompt=spec.prompt,
                        )
                    conn.send(len(payload))
                elif kind == "count":
                    conn.send(upstream.count(payload))

    asyncio.run(serve())


class RemoteUpstream:
    """``FakeUpstream`` running in a child process (spawned, so no state is shared)."""

    def __init__(self, **options: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, options), daemon=True)
        self._base_url = ""

    @property
    def base_url(self) -> str:
        """The emulator's ``.../v1`` address."""
        return self._base_url

    async def start(self) -> None:
        self._process.start()
        self._base_url = await asyncio.to_thread(self._conn.recv)

    async def stop(self) -> None:
        if self._process.is_alive():
            self._conn.send(("stop", None))
            await asyncio.to_thread(self._conn.recv)
            await asyncio.to_thread(self._process.join, 10)
        if self._process.is_alive():
            self._process.kill()

    def add_jobs(self, specs: list[JobSpec]) -> None:
        """Register jobs directly (blocks until the child has them)."""
        self._conn.send(("add", specs))
        self._conn.recv()

    def count(self, op: str) -> int:
        """How many requests of ``op`` ("create", "retrieve", ...) the emulator served."""
        self._conn.send(("count", op))
        return int(self._conn.recv())
