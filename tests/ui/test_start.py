"""Starting the dashboard from the command line: the default database, a missing directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lens_tui import cli

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m lens_tui ARGS` as a user runs it, without any LENS_DB of ours."""
    full_env = {k: v for k, v in os.environ.items() if k != "LENS_DB"}
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lens_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
        cwd=cwd,
    )


def test_dashboard_on_a_path_in_a_missing_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "traces.db"
    result = run_cli(str(target))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(target) in lines[0] and "does not exist" in lines[0]
    assert "Traceback" not in result.stderr
    assert "\x1b[" not in result.stdout + result.stderr  # refused before any screen
    assert not (tmp_path / "nowhere").exists()


def test_default_db_is_lens_db_else_traces_db(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LENS_DB", str(tmp_path / "mine.db"))
    assert cli.default_db() == tmp_path / "mine.db"
    monkeypatch.setenv("LENS_DB", "")
    assert cli.default_db() == Path("traces.db")
    monkeypatch.delenv("LENS_DB")
    assert cli.default_db() == Path("traces.db")


def test_dashboard_without_an_argument_opens_lens_db(tmp_path: Path) -> None:
    from_env = tmp_path / "env-dir" / "from-env.db"
    result = run_cli(env={"LENS_DB": str(from_env)}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(from_env) in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    # An argument wins over the environment.
    argument = tmp_path / "arg-dir" / "arg.db"
    result = run_cli(str(argument), env={"LENS_DB": str(from_env)}, cwd=tmp_path)
    assert result.returncode == 2
    assert str(argument) in result.stderr and str(from_env) not in result.stderr
