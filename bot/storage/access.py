"""``@reader`` / ``@writer``: the one declaration of every store operation and its thread.

Each public ``TaskStore`` operation is a method decorated ``@reader`` (it only reads, and
may answer people from the read-only connection), ``@quick_reader`` (a bounded read that
answers a person before their first response, run on the event loop's own read-only
connection) or ``@writer`` (it changes rows, or
must see the writer's own uncommitted state, and runs on the one thread that owns the
read-write connection). The decorator turns the method into a ``StoreOp`` descriptor:

* on the synchronous side (any ``SyncSide`` instance, i.e. ``TaskStore`` and the mixins
  it is made of) it is the plain bound method, so ``store.get(task_id)`` is a call;
* on the asynchronous side (``AsyncSide``, i.e. ``AsyncTaskStore``) it is a coroutine
  function with the same parameters that runs the method on the reader or the writer
  thread, so ``await astore.get(task_id)`` is the same call, awaited.

The descriptor's ``__get__`` is overloaded on the owner's type and generic in the
method's ``ParamSpec``, so a type checker sees ``store.get: (task_id: str) -> VideoTask |
None`` and ``astore.get: (task_id: str) -> Coroutine[..., VideoTask | None]`` from the
one definition: no list of async proxies to keep in step.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from types import MethodType
from typing import Any, Concatenate, Generic, Literal, ParamSpec, TypeVar, overload

P = ParamSpec("P")
R = TypeVar("R")

Role = Literal["reader", "writer", "quick"]


class SyncSide:
    """Base of the classes whose ``StoreOp`` attributes are plain synchronous methods."""

    __slots__ = ()


class AsyncSide:
    """Base of the classes whose ``StoreOp`` attributes are coroutine functions."""

    __slots__ = ()

    def _run_op(
        self, op: StoreOp[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> Coroutine[Any, Any, R]:
        """Run ``op`` for this async facade (on the reader or the writer thread)."""
        raise NotImplementedError


class StoreOp(Generic[P, R]):
    """A store operation: a synchronous method plus the thread role it runs under."""

    def __init__(self, fn: Callable[Concatenate[Any, P], R], role: Role) -> None:
        self.fn = fn
        self.role: Role = role
        self.name = fn.__name__
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> StoreOp[P, R]: ...

    @overload
    def __get__(
        self, obj: AsyncSide, owner: type[Any] | None = None
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...

    @overload
    def __get__(self, obj: SyncSide, owner: type[Any] | None = None) -> Callable[P, R]: ...

    def __get__(self, obj: object, owner: type[Any] | None = None) -> Any:
        if obj is None:
            return self
        if isinstance(obj, AsyncSide):
            return self._bind_async(obj)
        return MethodType(self.fn, obj)

    def _bind_async(self, facade: AsyncSide) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(self.fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R:
            return await facade._run_op(self, *args, **kwargs)

        run.__signature__ = self.signature()  # type: ignore[attr-defined]  # read by inspect
        return run

    def signature(self) -> inspect.Signature:
        """The method's signature without ``self`` (what callers on either side pass)."""
        return self._signature

    @functools.cached_property
    def _signature(self) -> inspect.Signature:
        # Computed once: the async side binds a fresh coroutine function on every access.
        sig = inspect.signature(self.fn)
        return sig.replace(parameters=list(sig.parameters.values())[1:])


def reader(fn: Callable[Concatenate[Any, P], R]) -> StoreOp[P, R]:
    """Mark a store method as read-only: the async facade runs it on the reader thread."""
    return StoreOp(fn, "reader")


def quick_reader(fn: Callable[Concatenate[Any, P], R]) -> StoreOp[P, R]:
    """Mark a short, indexed read that answers a person before their first response.

    The async facade runs it on the event loop's own read-only connection, with no
    thread hop: a hop costs more than such a query (an executor hand-off, then the
    GIL hand-over back to the loop, which under load waits up to the interpreter's
    switch interval, 5 ms), and a burst of commands queues its hops one behind another.
    Only for reads whose cost is bounded by an index (a row by key, a member's counts
    of today), never for scans, reports or exports.
    """
    return StoreOp(fn, "quick")


def writer(fn: Callable[Concatenate[Any, P], R]) -> StoreOp[P, R]:
    """Mark a store method as one that writes: the async facade runs it on the writer."""
    return StoreOp(fn, "writer")


def store_ops(cls: type[Any]) -> dict[str, StoreOp[Any, Any]]:
    """Every ``StoreOp`` of ``cls`` (including those it inherits), by name."""
    found: dict[str, StoreOp[Any, Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, StoreOp):
                found[name] = value
    return found
