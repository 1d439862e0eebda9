"""Case 15 (continued): the WAL-reset warning reaches the user from the CLI and from the writer."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import apsw
import pytest

from lens_tui import tracing
from lens_tui.tracing import sql as sql_module

AFFECTED = "3.40.1"


def test_15_cli_prints_the_warning_when_sqlite_is_affected() -> None:
    code = (
        "import apsw, sys; apsw.sqlite_lib_version = lambda: %r\n"
        "from lens_tui.cli import main; sys.exit(main(['--version']))" % AFFECTED
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert f"SQLite {AFFECTED} has the WAL-reset bug" in done.stderr


def test_15_cli_is_silent_on_a_fixed_sqlite() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lens_tui", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0
    assert "WAL-reset" not in done.stderr


def test_15_writer_warns_once_per_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apsw, "sqlite_lib_version", lambda: AFFECTED)
    monkeypatch.setattr(sql_module, "_sqlite_warned", False)
    stderr = io.StringIO()
    for name in ("a.db", "b.db"):
        tracing.configure(tmp_path / name, stderr=stderr, flush_interval=0.02)
        with tracing.span("x"):
            pass
        assert tracing.flush()
        tracing.shutdown()
    assert stderr.getvalue().count("WAL-reset bug") == 1
