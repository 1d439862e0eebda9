"""Helpers for the command-line tests: the real CLI in a subprocess, and read-only checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import apsw

ROOT = Path(__file__).resolve().parents[2]


def user_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell gives `lens-tui`: this checkout's code, no LENS_DB of ours."""
    env = {k: v for k, v in os.environ.items() if k != "LENS_DB"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m lens_tui ARGS` as a user would (no terminal), capturing both streams."""
    return subprocess.run(
        [sys.executable, "-m", "lens_tui", *args], check=False, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout, cwd=cwd, env=user_env(**(env or {})),
    )


def read_only(db: Path) -> apsw.Connection:
    """A second, read-only connection on a database (the dashboard's way)."""
    return apsw.Connection(f"file:{db}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)


def rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """All rows of one query through a fresh read-only connection."""
    conn = read_only(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, needle: str) -> str:
    """The run ended with `code` and one stderr line containing `needle`; that line."""
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]
