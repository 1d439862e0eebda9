"""`lens-tui demo` without `--db` writes into a temporary directory and removes it when it ends
(quit, a timed run, Ctrl+C, no terminal); with `--db` the file stays. Real runs, with the
dashboard on a pseudo-terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .support import rows, run_in_pty, user_env


@pytest.fixture()
def tmpdir_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A TMPDIR of the test's own, so what the demo leaves in it can be seen."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    return temp, {"TMPDIR": str(temp)}


def test_quitting_the_dashboard_removes_the_temporary_directory(
    tmpdir_env: tuple[Path, dict[str, str]],
) -> None:
    temp, env = tmpdir_env
    run = run_in_pty("demo", "--rate", "20", wait_for=b"GET /", keys=b"q", env=env, timeout=60)
    assert run.saw, run.output[-3000:]  # the dashboard showed the workload's traces
    assert run.returncode == 0, run.output[-3000:]
    assert list(temp.iterdir()) == []


def test_a_timed_run_removes_it(tmpdir_env: tuple[Path, dict[str, str]]) -> None:
    temp, env = tmpdir_env
    result = subprocess.run(
        [sys.executable, "-m", "lens_tui", "demo", "--no-ui", "--duration", "1", "--rate", "20"],
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=user_env(**env),
    )
    assert result.returncode == 0, result.stderr
    assert f"demo writing to {temp}" in result.stderr and "removed" in result.stderr
    assert list(temp.iterdir()) == []


def test_ctrl_c_removes_it(tmpdir_env: tuple[Path, dict[str, str]]) -> None:
    temp, env = tmpdir_env
    proc = subprocess.Popen(
        [sys.executable, "-m", "lens_tui", "demo", "--no-ui", "--rate", "20"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=user_env(**env),
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "demo writing to" in line, line
        db = Path(line.split("demo writing to ", 1)[1].split(" (", 1)[0])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not rows(db, "SELECT count(*) FROM traces")[0][0]:
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl+C in a terminal sends: the whole group
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert list(temp.iterdir()) == []


def test_no_terminal_is_one_line_and_removes_it(
    tmpdir_env: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    temp, env = tmpdir_env
    result = subprocess.run(
        [sys.executable, "-m", "lens_tui", "demo"],
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env=user_env(**env),
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs a terminal" in lines[0], result.stderr
    assert result.stdout == ""
    assert list(temp.iterdir()) == []


def test_a_named_database_stays(tmpdir_env: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    temp, env = tmpdir_env
    db = tmp_path / "kept" / "traces.db"
    run = run_in_pty(
        "demo", "--db", str(db), "--rate", "20", wait_for=b"GET /", keys=b"q", env=env, timeout=60
    )
    assert run.saw and run.returncode == 0, run.output[-3000:]
    assert rows(db, "SELECT count(*) FROM traces WHERE service = 'shop-api'")[0][0] >= 1
    assert Path(f"{db}.demo.log").exists()
    assert list(temp.iterdir()) == []  # nothing temporary was made
