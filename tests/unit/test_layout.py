"""What the runtime image holds: services/ and streams/ run without tools/ and without scikit-learn.

The image (deploy/container/Containerfile) copies streams/ and services/ only. tools/ (the local
stack, the process group, the benchmarks, the training code) is offline tooling: the CLI names its
commands by module in a string table and leaves out any whose module is not installed.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from services import cli

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PACKAGES = ("services", "streams")
#: Top-level packages the runtime code must never import.
OFFLINE_ONLY = ("tools", "sklearn")


def _runtime_sources() -> Iterator[Path]:
    for package in RUNTIME_PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def _imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module an import statement names, at any depth (functions, TYPE_CHECKING blocks)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def _dynamic_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """String literals handed to importlib.import_module(...) or __import__(...)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        first = node.args[0]
        if name in ("import_module", "__import__") and isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield node.lineno, first.value


def _is_offline_only(module: str) -> bool:
    return module.split(".")[0] in OFFLINE_ONLY


def _commands_table(tree: ast.AST) -> ast.AST | None:
    for node in ast.walk(tree):
        target = (
            node.target
            if isinstance(node, ast.AnnAssign)
            else node.targets[0]
            if isinstance(node, ast.Assign)
            else None
        )
        if isinstance(target, ast.Name) and target.id == "COMMANDS":
            return node
    return None


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_the_runtime_packages_are_there() -> None:
    sources = list(_runtime_sources())
    assert any(p.name == "cli.py" for p in sources) and any(p.parent.name == "streams" for p in sources)


def test_no_runtime_module_imports_tools_or_sklearn() -> None:
    found = []
    for path in _runtime_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for lineno, module in [*_imported_modules(tree), *_dynamic_imports(tree)]:
            if _is_offline_only(module):
                found.append(f"{path.relative_to(ROOT)}:{lineno}: {module}")
    assert found == [], "services/ and streams/ run in the image, which has neither tools/ nor scikit-learn"


def test_tools_appear_in_services_only_as_names_in_the_cli_command_table() -> None:
    """The one allowed mention: module names in `services.cli.COMMANDS`, loaded lazily by name."""
    mentions = []
    for path in _runtime_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        allowed: set[int] = set()
        table = _commands_table(tree) if path == ROOT / "services" / "cli.py" else None
        if table is not None:
            allowed = {id(n) for n in ast.walk(table)}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in allowed
                and (node.value == "tools" or node.value.startswith("tools."))
            ):
                mentions.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert mentions == []


def test_the_cli_works_without_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in the image: the tools' commands are left out, every runtime command stays."""
    for name in [m for m in sys.modules if m == "tools" or m.startswith("tools.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tools", None)  # import tools -> ModuleNotFoundError
    commands = _subcommands(cli.build_parser())
    runtime = {path[0] for path, module, _ in cli.COMMANDS if not _is_offline_only(module)}
    offline = {path[0] for path, module, _ in cli.COMMANDS if _is_offline_only(module)} - runtime
    assert runtime <= set(commands)
    assert not offline & set(commands)


def test_every_cli_command_loads_in_a_checkout() -> None:
    """From a development install nothing is left out: every module of the table imports."""
    commands = _subcommands(cli.build_parser())
    assert {path[0] for path, _, _ in cli.COMMANDS} == set(commands)
    bench = _subcommands(commands["bench"])
    assert {path[1] for path, _, _ in cli.COMMANDS if path[0] == "bench"} == set(bench)


def test_the_image_and_the_runtime_dependencies_leave_tools_and_training_out() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = [d.split(">")[0].split("=")[0].split("<")[0].strip() for d in project["project"]["dependencies"]]
    assert "scikit-learn" not in runtime
    extras = project["project"]["optional-dependencies"]
    assert any(d.startswith("scikit-learn") for d in extras["training"])
    assert "haven[training]" in extras["dev"]
    assert "tools*" in project["tool"]["setuptools"]["packages"]["find"]["include"]
    containerfile = (ROOT / "deploy" / "container" / "Containerfile").read_text(encoding="utf-8")
    copied = [line.split()[1] for line in containerfile.splitlines() if line.startswith("COPY ")]
    assert "tools" not in copied and {"streams", "services"} <= set(copied)
