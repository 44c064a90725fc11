"""core/ never imports bot/, telegram or discord (the dependency rule of docs/architecture.md)."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import core

FORBIDDEN = {"bot", "telegram", "discord"}
CORE = Path(core.__file__).parent


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_core_module_names_an_adapter_or_platform():
    offenders = {
        str(path.relative_to(CORE.parent)): sorted(imported_roots(path) & FORBIDDEN)
        for path in CORE.rglob("*.py")
        if imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}


def test_importing_all_of_core_loads_no_adapter_or_platform():
    names = [m.name for m in pkgutil.walk_packages(core.__path__, "core.")]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ---------------------------------------------------------------- the rooms' directions (core/__init__.py)

ROOMS = ("lending", "market", "storage", "chain", "watch", "chat")
ALLOWED = {
    "lending": set(),
    "market": {"lending"},
    "storage": {"lending"},
    "chain": {"lending", "storage"},
    "watch": {"lending", "market", "storage", "chain"},
    "chat": {"lending", "market", "storage", "chain", "watch"},
    "": {"lending"},  # the shared modules at the top name only lending's value objects
}


def room_of(module: str) -> str | None:
    """'core.watch.monitor' -> 'watch'; 'core.config' -> '' (shared); anything else None."""
    parts = module.split(".")
    if parts[0] != "core":
        return None
    return parts[1] if len(parts) > 2 and parts[1] in ROOMS else ""


def core_imports(path: Path) -> set[str]:
    """Every core module this file imports, however it is written (annotations-only imports included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("core"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)  # `from core.lending import risk`
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; core names its rooms in full")
    return found


def test_each_room_imports_only_the_rooms_below_it():
    offenders = {}
    for path in CORE.rglob("*.py"):
        module = ".".join(path.relative_to(CORE.parent).with_suffix("").parts).removesuffix(".__init__")
        mine = room_of(module)
        bad = sorted({room_of(m) for m in core_imports(path)} - {None, "", mine} - ALLOWED[mine])
        if bad:
            offenders[module] = bad
    assert offenders == {}


def test_every_room_says_what_it_owns_and_may_import():
    for room in ROOMS:
        doc = ast.get_docstring(ast.parse((CORE / room / "__init__.py").read_text())) or ""
        assert len(doc.split()) > 20 and "import" in doc, room
