"""What the real command line does with a mistyped command, a receiver's missing directory, and
no terminal: one line on stderr and exit code 2, within seconds; and what still works."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from lens_tui import tracing
from lens_tui.tracing import lens_fn

from .support import assert_one_line, run_cli, run_in_pty, user_env


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("shwo", "show"), ("dmeo", "demo"), ("prun", "prune"), ("otpl", "otlp"), ("Show", "show")],
)
def test_a_mistyped_command_is_named_with_a_suggestion(
    tmp_path: Path, typed: str, meant: str
) -> None:
    result = run_cli(typed, "0123abcd", cwd=tmp_path)
    assert_one_line(result, 2, f"unknown command {typed!r} (did you mean {meant!r}?)")
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no database was created or waited for


def test_a_database_name_close_to_a_command_still_opens(tmp_path: Path) -> None:
    """An existing file of that name, or a name with a database suffix, is a database."""
    (tmp_path / "shows").write_bytes(b"")  # exists: it is what the user means
    result = run_cli("shows", cwd=tmp_path)
    assert result.returncode == 2 and "unknown command" not in result.stderr
    assert "empty" in result.stderr  # it was checked as a database
    for name in ("show.db", "demo.sqlite", "prune.sqlite3", "otlp.db3"):
        run = run_in_pty(name, wait_for=f"waiting for {name}".encode(), cwd=tmp_path, timeout=30)
        assert run.saw, (name, run.output[-2000:])
        assert run.returncode == 0, (name, run.output[-2000:])


def test_a_new_database_name_still_waits_for_the_file(tmp_path: Path) -> None:
    run = run_in_pty("new.db", wait_for=b"waiting for new.db", cwd=tmp_path, timeout=30)
    assert run.saw, run.output[-2000:]
    assert run.returncode == 0
    assert not (tmp_path / "new.db").exists()  # the dashboard never creates it


def test_otlp_refuses_a_missing_directory_without_creating_it(tmp_path: Path) -> None:
    target = tmp_path / "nonexistent" / "x.db"
    started = time.monotonic()
    result = run_cli("otlp", "--db", str(target), "--port", "0", timeout=30)
    line = assert_one_line(result, 2, "does not exist")
    assert str(target.parent) in line
    assert time.monotonic() - started < 20
    assert not target.parent.exists()


def test_otlp_refuses_a_file_that_is_not_a_trace_database(tmp_path: Path) -> None:
    target = tmp_path / "notes.db"
    target.write_text("not a database\n")
    result = run_cli("otlp", "--db", str(target), "--port", "0", timeout=30)
    assert_one_line(result, 2, "is not a SQLite database")
    assert target.read_text() == "not a database\n"


@pytest.fixture()
def trace_db(tmp_path: Path) -> Path:
    db = tmp_path / "traces.db"
    tracing.configure(db, service="cron", flush_interval=0.02)

    @lens_fn("nightly")
    def nightly() -> None:
        pass

    nightly()
    tracing.flush()
    tracing.shutdown()
    return db


def _without_terminal(
    args: list[str], stdin: int | None, out: Path, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    with open(out, "w") as stdout:
        return subprocess.run(
            [sys.executable, "-m", "lens_tui", *args],
            check=False,
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=20,
            cwd=tmp_path,
            env=user_env(),
        )


@pytest.mark.parametrize("extra", [[], ["--otlp", "0"]], ids=["dashboard", "with-receiver"])
def test_the_dashboard_without_a_terminal_says_so_and_exits_2(
    trace_db: Path, tmp_path: Path, extra: list[str]
) -> None:
    """`lens-tui traces.db </dev/null >out.txt`, as a script or a cron job runs it."""
    out = tmp_path / "out.txt"
    started = time.monotonic()
    result = _without_terminal([str(trace_db), *extra], subprocess.DEVNULL, out, tmp_path)
    line = assert_one_line(result, 2, "needs a terminal")
    assert "lens-tui show" in line
    assert time.monotonic() - started < 15
    assert out.read_text() == ""  # no escape codes written into the file


def test_the_dashboard_with_only_stdout_redirected_says_so(trace_db: Path, tmp_path: Path) -> None:
    """`lens-tui traces.db | head` from an interactive shell: stdin is a terminal, stdout not."""
    import os

    master, slave = os.openpty()
    try:
        out = tmp_path / "out.txt"
        result = _without_terminal([str(trace_db)], slave, out, tmp_path)
    finally:
        os.close(slave)
        os.close(master)
    assert_one_line(result, 2, "needs a terminal")
    assert out.read_text() == ""


def test_a_bad_database_is_still_named_before_the_terminal(tmp_path: Path) -> None:
    bad = tmp_path / "x.db"
    bad.write_text("hello\n")
    result = _without_terminal([str(bad)], subprocess.DEVNULL, tmp_path / "out.txt", tmp_path)
    assert_one_line(result, 2, "is not a SQLite database")
