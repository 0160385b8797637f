"""The demo's prompt input and its stop signals, both inside the demo's own event loop.

A thread blocked in ``readline`` cannot be interrupted: after Ctrl-C the process would wait
for it (``asyncio.run`` joins the default executor) until another line or EOF arrived. So a
terminal or pipe is read with ``loop.add_reader`` and ``os.read``: waiting for a line is an
ordinary await that a cancellation ends at once. Other streams (a file, ``io.StringIO`` in
tests) never block and are read directly.

``StopSignals`` turns the first SIGINT or SIGTERM into a cancellation of the scene or the
prompt (never of the task that starts or stops the harness), so the demo unwinds like any
cancelled task: the harness stops the bot and both emulators on the way out, and the demo
says which signal ended it instead of printing a traceback.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import stat
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, TextIO, TypeVar

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
T = TypeVar("T")
_SignalHandler = Any  # what signal.getsignal returns: a callable, an int constant or None


class LineSource:
    """Lines typed at the prompt; ``""`` at the end of input, like ``readline``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._fd = _pollable_fd(stream)
        self._buffer = ""
        self._eof = False
        self._decoder = codecs.getincrementaldecoder(getattr(stream, "encoding", None) or "utf-8")(
            errors="replace"
        )

    async def readline(self) -> str:
        """The next line with its newline; the last one may lack it; ``""`` at the end."""
        if self._fd is None:
            return self.stream.readline()
        while "\n" not in self._buffer and not self._eof:
            await self._readable(self._fd)
            chunk = os.read(self._fd, 65536)
            self._eof = not chunk
            self._buffer += self._decoder.decode(chunk, final=self._eof)
        line, newline, self._buffer = self._buffer.partition("\n")
        return line + newline

    @staticmethod
    async def _readable(fd: int) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(fd)


def _pollable_fd(stream: TextIO) -> int | None:
    """The stream's descriptor if it is a pipe, terminal or socket (what epoll can watch)."""
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError):  # io.StringIO, a closed stream
        return None
    return fd if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode) else None


class StopSignals:
    """While active, SIGINT and SIGTERM are recorded instead of killing the process.

    ``received`` is the first one. If a task is being ``guarded`` then, it is cancelled so
    it unwinds; otherwise (starting up, shutting down) the owner checks ``received`` when
    it can stop cleanly. Later signals are ignored. Where the loop cannot handle signals
    (not the main thread, no Unix signals) nothing is installed and the defaults stay.
    """

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._target: asyncio.Task[Any] | None = None
        self._previous: dict[signal.Signals, _SignalHandler] = {}

    def __enter__(self) -> StopSignals:
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            previous = signal.getsignal(signum)
            try:
                loop.add_signal_handler(signum, self._stop, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            self._previous[signum] = previous
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        for signum, previous in self._previous.items():
            loop.remove_signal_handler(signum)
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    async def guarded(self, work: Coroutine[Any, Any, T]) -> T | None:
        """Run ``work`` as a task a stop signal cancels; None if one did (or had already)."""
        if self.received is not None:
            work.close()
            return None
        task: asyncio.Task[T] = asyncio.create_task(work)
        self._target = task
        try:
            return await task
        except asyncio.CancelledError:
            if self.received is None or not task.cancelled():
                raise  # cancelled from outside, not by a signal
            return None
        finally:
            self._target = None

    def _stop(self, signum: signal.Signals) -> None:
        if self.received is not None:
            return
        self.received = signum
        if self._target is not None:
            self._target.cancel()
