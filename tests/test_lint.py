"""The code lints clean: pyflakes, import order, bugbear, pyupgrade and simplify (ruff, configured in pyproject)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "core", "bot", "tests", "bench"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_nothing_names_a_file_outside_the_project():
    """A user's clone is all there is: no code, data, doc or answer may point at the steering repository's files."""
    outside = ("../shared", "/work/shared", "DOMAIN.md", "DESIGN.md", "RELIABILITY.md", "TESTING.md", "CHAIN.md", "SCALE.md",
               "MINING.md")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    found = []
    for name in tracked:
        path = ROOT / name
        if path.suffix in (".py", ".md", ".json", ".toml", ".txt", ".cfg", "") and path.is_file():
            text = path.read_text(errors="ignore")
            found += [f"{name}: {word}" for word in outside if word in text and name != "tests/test_lint.py"]
    assert found == []


def test_mypy_finds_nothing_in_core():
    """core/ type-checks, strictly for the modules pyproject's [tool.mypy] overrides name (the lending math)."""
    mypy = Path(sys.executable).parent / "mypy"
    result = subprocess.run([str(mypy)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

