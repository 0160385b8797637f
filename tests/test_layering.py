"""The package layering and size rules, read from the source with ``ast``.

Nothing is imported: every module under ``bot/`` is parsed and its ``import``
statements (including ones inside functions and ``TYPE_CHECKING`` blocks, which
are dependencies too) are compared with the table below.

Known violations and oversize definitions are listed explicitly. Each list is
also checked for accuracy: an entry that no longer applies fails the test, so
the lists can only shrink as the code is fixed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"

#: Which parts of ``bot`` each part may import (itself always allowed). A part is a
#: subpackage (``bot.core``) or a top-level module (``bot.config``). ``bot.emulators``
#: stands in for the network edge in tests and is not held to the table.
ALLOWED: dict[str, frozenset[str]] = {
    "bot": frozenset(),
    "bot.__main__": frozenset({"bot.cli"}),
    "bot.config": frozenset({"bot.core"}),
    "bot.core": frozenset(),
    "bot.storage": frozenset({"bot.core"}),
    "bot.upstream": frozenset({"bot.core"}),
    "bot.services": frozenset({"bot.config", "bot.core", "bot.storage", "bot.upstream"}),
    "bot.delivery": frozenset({"bot.config", "bot.core", "bot.storage", "bot.upstream"}),
    "bot.polling": frozenset(
        {"bot.config", "bot.core", "bot.storage", "bot.upstream", "bot.delivery"}
    ),
    "bot.ops": frozenset(
        {"bot.config", "bot.core", "bot.storage", "bot.upstream", "bot.polling", "bot.delivery"}
    ),
    "bot.discord_ui": frozenset(
        {
            "bot.config",
            "bot.core",
            "bot.storage",
            "bot.upstream",
            "bot.polling",
            "bot.delivery",
            "bot.ops",
            "bot.services",
        }
    ),
    "bot.cli": frozenset(
        {
            "bot.config",
            "bot.core",
            "bot.storage",
            "bot.upstream",
            "bot.polling",
            "bot.delivery",
            "bot.ops",
            "bot.discord_ui",
            "bot.services",
        }
    ),
}

#: Test and benchmark code; production modules never import it.
TEST_ONLY = frozenset({"bot.emulators", "tests", "bench"})
#: The one production module that may import it: the offline demo drives the emulators.
TEST_ONLY_USERS = frozenset({"bot.cli.demo"})

#: Imports that break the table today, as (module, imported part). Fix the code, then
#: delete the entry.
KNOWN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()

CLASS_LIMIT = 400
FUNCTION_LIMIT = 60

#: Definitions over the size limits today, as (file, qualified name). Split them,
#: then delete the entry.
KNOWN_OVERSIZE: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Module:
    """One parsed source file under ``bot/``."""

    name: str
    path: Path
    tree: ast.Module

    @property
    def part(self) -> str:
        """The table entry this module belongs to."""
        parts = self.name.split(".")
        if len(parts) == 1:
            return "bot"
        return ".".join(parts[:2])

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"

    @property
    def relative(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


@cache
def bot_modules() -> tuple[Module, ...]:
    modules = []
    for path in sorted(BOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        modules.append(Module(".".join(parts), path, tree))
    return tuple(modules)


def imported_names(module: Module) -> Iterator[str]:
    """Every absolute module name the file imports (``from x import y`` gives x.y too)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node.module, node.level)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names if alias.name != "*")


def _resolve(module: Module, target: str | None, level: int) -> str:
    if level == 0:
        assert target is not None
        return target
    package = module.name.split(".")
    if not module.is_package:
        package.pop()
    anchor = package[: len(package) - (level - 1)]
    return ".".join([*anchor, target] if target else anchor)


def part_of(name: str) -> str:
    """The table entry (or outside top-level name) an imported module belongs to."""
    parts = name.split(".")
    if parts[0] != "bot":
        return parts[0]
    if len(parts) == 1:
        return "bot"
    return ".".join(parts[:2])


def imported_parts(module: Module) -> set[str]:
    """What the module depends on: parts of ``bot`` and outside top-level packages.

    ``from bot import config`` names ``bot.config``, so the bare ``bot`` it also
    yields is dropped when a more precise part is there.
    """
    parts = {part_of(name) for name in imported_names(module)}
    if any(part.startswith("bot.") for part in parts):
        parts.discard("bot")
    return parts


def dependencies() -> set[tuple[str, str]]:
    """(module, part) for every import in ``bot/`` of another part of ``bot`` or beyond."""
    return {
        (module.name, part)
        for module in bot_modules()
        for part in imported_parts(module)
        if part != module.part
    }


def is_bot(part: str) -> bool:
    return part == "bot" or part.startswith("bot.")


def is_violation(module_name: str, part: str) -> bool:
    """Whether one dependency breaks a layering rule (before known violations)."""
    module_part = part_of(module_name)
    if part == "discord":
        return module_part != "bot.discord_ui"
    if part in TEST_ONLY:
        return module_part != "bot.emulators" and module_name not in TEST_ONLY_USERS
    if module_part == "bot.emulators" or not is_bot(part):
        return False
    return part not in ALLOWED[module_part]


def test_every_part_of_bot_has_a_row_in_the_table() -> None:
    parts = {module.part for module in bot_modules()} - {"bot.emulators"}
    missing = parts - ALLOWED.keys()
    assert not missing, f"decide what these may import and add them to ALLOWED: {missing}"
    stale = ALLOWED.keys() - parts
    assert not stale, f"ALLOWED names parts that no longer exist: {stale}"


def test_the_parser_sees_relative_and_from_imports() -> None:
    """The checks below are only as good as the import reader; prove it on known files."""
    by_name = {module.name: module for module in bot_modules()}
    routes = imported_parts(by_name["bot.emulators.fake_discord.routes_core"])
    assert "bot.emulators" in routes  # written as ``from . import errors``
    assert ("bot.polling.poller", "bot.delivery") in dependencies()
    assert ("bot.discord_ui.app", "discord") in dependencies()


def broken(kind: set[str] | None) -> list[str]:
    """Violations (beyond the known ones) of imports of ``kind`` parts; None: parts of bot."""

    def applies(part: str) -> bool:
        if kind is None:
            return is_bot(part) and part not in TEST_ONLY
        return part in kind

    found = {dep for dep in dependencies() if applies(dep[1]) and is_violation(*dep)}
    return [f"{module} imports {part}" for module, part in sorted(found - KNOWN_VIOLATIONS)]


def test_only_the_discord_layer_imports_discord() -> None:
    assert not broken({"discord"}), "\n".join(broken({"discord"}))


def test_production_code_imports_no_emulator_test_or_bench_code() -> None:
    assert not broken(set(TEST_ONLY)), "\n".join(broken(set(TEST_ONLY)))


def test_parts_of_bot_import_only_what_the_table_allows() -> None:
    assert not broken(None), "\n".join(broken(None))


def test_storage_knows_nothing_of_upstream_polling_delivery_or_discord() -> None:
    forbidden = {"bot.upstream", "bot.polling", "bot.delivery", "bot.discord_ui", "discord"}
    found = {(m, p) for m, p in dependencies() if part_of(m) == "bot.storage" and p in forbidden}
    assert not found, found


def test_known_violations_are_still_real() -> None:
    """A fixed violation must leave the list, so the list only shrinks."""
    current = {dep for dep in dependencies() if is_violation(*dep)}
    fixed = KNOWN_VIOLATIONS - current
    assert not fixed, f"no longer violations; delete them from KNOWN_VIOLATIONS: {sorted(fixed)}"


# --- size -------------------------------------------------------------------------------------


def definitions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST, int]]:
    """(qualified name, node, lines) for every class and function, nested ones included."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{child.name}"
            assert child.end_lineno is not None
            yield name, child, child.end_lineno - child.lineno + 1
            yield from definitions(child, f"{name}.")
        else:
            yield from definitions(child, prefix)


def oversize() -> dict[tuple[str, str], int]:
    """Classes over ``CLASS_LIMIT`` and functions over ``FUNCTION_LIMIT`` lines, by location."""
    found: dict[tuple[str, str], int] = {}
    for module in bot_modules():
        if module.part == "bot.emulators":
            continue
        for name, node, lines in definitions(module.tree):
            limit = CLASS_LIMIT if isinstance(node, ast.ClassDef) else FUNCTION_LIMIT
            if lines > limit:
                found[(module.relative, name)] = lines
    return found


def test_no_class_or_function_is_over_the_size_limits() -> None:
    new = {key: lines for key, lines in oversize().items() if key not in KNOWN_OVERSIZE}
    assert not new, "\n".join(
        f"{path}: {name} is {lines} lines" for (path, name), lines in sorted(new.items())
    )


def test_known_oversize_definitions_are_still_oversize() -> None:
    """A definition split below the limit must leave the list, so the list only shrinks."""
    fixed = KNOWN_OVERSIZE - oversize().keys()
    assert not fixed, f"within the limits now; delete them from KNOWN_OVERSIZE: {sorted(fixed)}"


def test_the_size_check_counts_whole_definitions() -> None:
    tree = ast.parse("class A:\n    def f(self):\n        x = 1\n\n        return x\n")
    assert [(name, lines) for name, _, lines in definitions(tree)] == [("A", 5), ("A.f", 4)]


# --- the Discord layer ---------------------------------------------------------------------

COGS = frozenset(
    {
        "bot.discord_ui.video_cog",
        "bot.discord_ui.extend_cog",
        "bot.discord_ui.chains_cog",
        "bot.discord_ui.admin_cog",
        "bot.discord_ui.settings_cog",
        "bot.discord_ui.queue_cog",
    }
)
#: Who may import the bot class: the runner starts it, the harness runs it in tests.
APP_USERS = frozenset({"bot.cli.runner", "bot.emulators.harness"})


def test_no_cog_imports_another_cog() -> None:
    found = [
        f"{m.name} imports {name}"
        for m in bot_modules()
        if m.name in COGS
        for name in set(imported_names(m))
        if name in COGS
    ]
    assert not found, "\n".join(found)


def test_only_the_runner_and_the_harness_import_the_bot_class() -> None:
    found = [
        m.name
        for m in bot_modules()
        if m.name not in APP_USERS | {"bot.discord_ui.app"}
        and "bot.discord_ui.app" in set(imported_names(m))
    ]
    assert not found, f"import bot.discord_ui.context instead: {found}"


def test_every_cog_is_loaded_as_an_extension() -> None:
    from bot.discord_ui.app import EXTENSIONS

    assert set(EXTENSIONS) == COGS
    for module in (m for m in bot_modules() if m.name in COGS):
        setups = [
            node
            for node in module.tree.body
            if isinstance(node, ast.AsyncFunctionDef) and node.name == "setup"
        ]
        assert setups, f"{module.name} has no async setup(bot)"
