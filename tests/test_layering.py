"""The layers hold: the tracing library, the read side and the dashboard's data side never load a
front end, and the dashboard reaches SQLite only through the store.

The import-linter contracts in pyproject.toml state the rules for the static import graph; this
test proves them for what actually loads at run time (a lazy import inside a function is not in
the static graph), importing every module of the core in a fresh interpreter.
"""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lens_tui

ROOT = Path(lens_tui.__file__).resolve().parent
FRONT_ENDS = ("lens_tui.ui", "lens_tui.cli", "lens_tui.demo", "lens_tui.__main__")
"""Modules allowed to load Textual: the dashboard, and the entry points that start it."""


def _core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(ROOT)], prefix="lens_tui."):
        if not info.name.startswith(FRONT_ENDS):
            names.append(info.name)
    return sorted(names)


def test_the_core_never_loads_a_front_end() -> None:
    modules = _core_modules()
    assert "lens_tui.tracing" in modules and "lens_tui.store.reader" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')\n"
        "             or m.startswith('lens_tui.ui'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_tracing_library_loads_no_read_side_either() -> None:
    """An application that only traces pays for the writer, not for peewee's query builder or
    the dashboard's data side."""
    code = (
        "import sys, lens_tui.tracing\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('lens_tui.store', 'lens_tui.live',"
        " 'lens_tui.ui', 'textual', 'rich')))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_are_kept() -> None:
    """The contracts in pyproject.toml (`lint-imports`), run here so a plain pytest run holds
    them too."""
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    result = subprocess.run([exe], capture_output=True, text=True, timeout=120, cwd=ROOT.parent)
    assert result.returncode == 0, result.stdout + result.stderr
