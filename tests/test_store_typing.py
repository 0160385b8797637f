"""The async store is typed from the sync declarations: mypy sees every operation, awaited.

Runs mypy (the project's checker) on a generated snippet that reveals the type of every
``TaskStore`` operation on the sync store and on ``AsyncTaskStore``: each async type
must be the sync one with its result wrapped in a coroutine. A second snippet passes
wrong arguments, which mypy must reject, so the ParamSpec really checks call sites.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.storage.access import store_ops
from bot.storage.store import TaskStore

mypy_api = pytest.importorskip("mypy.api")
ROOT = Path(__file__).resolve().parent.parent
REVEALED = re.compile(r'snippet\.py:(\d+): note: Revealed type is "(.*)"')


def run_mypy(source: str, tmp: Path) -> tuple[str, int]:
    """mypy --strict on ``source`` (as a file in ``tmp``), importing this checkout's ``bot``."""
    program = tmp / "snippet.py"
    program.write_text(source)
    args = ["--strict", "--no-error-summary", "--cache-dir", str(tmp / "cache"), str(program)]
    out, err, status = mypy_api.run(args)
    assert not err, err
    return out, status


def snippet(lines: list[str]) -> str:
    head = [
        "from bot.storage.async_store import AsyncTaskStore",
        "from bot.storage.store import TaskStore",
        "def check(store: TaskStore, astore: AsyncTaskStore) -> None:",
    ]
    return "\n".join(head + [f"    {line}" for line in lines]) + "\n"


def test_every_async_operation_has_the_sync_signature_with_an_awaitable_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    names = sorted(store_ops(TaskStore))
    lines = []
    for name in names:
        lines += [f"reveal_type(store.{name})", f"reveal_type(astore.{name})"]
    out, _ = run_mypy(snippet(lines), tmp_path)
    revealed = [m.group(2) for m in REVEALED.finditer(out)]
    assert len(revealed) == 2 * len(names), out
    for name, sync, awaited in zip(names, revealed[::2], revealed[1::2], strict=True):
        # mypy leaves out "-> None"
        params, result = sync.rsplit(" -> ", 1) if " -> " in sync else (sync, "None")
        assert params.startswith("def ("), (name, sync)
        assert awaited == f"{params} -> typing.Coroutine[Any, Any, {result}]", name


def test_wrong_arguments_to_an_async_operation_are_type_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    lines = [
        "async def go() -> None:",
        "    task = await astore.get(42)",
        "    await astore.tree('abcdef')",
        "    await astore.create_task(guild_id=1)",
        "    reveal_type(task)",
    ]
    out, status = run_mypy(snippet(lines), tmp_path)
    assert status == 1
    assert 'Argument 1 has incompatible type "int"; expected "str"' in out, out
    assert 'Missing named argument "guild_id"' in out, out
    assert 'Missing named argument "channel_id"' in out, out
    assert 'Revealed type is "bot.core.models.VideoTask | None"' in out, out
