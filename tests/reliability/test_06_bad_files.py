"""Case 6: foreign and broken files through the real command line.

`python -m lens_tui show X --db F` and `python -m lens_tui F` (the dashboard, which must refuse
BEFORE starting any screen) on files that are not usable trace databases: exactly one line on
stderr, exit code 2, no traceback, nothing on stdout, and no hang.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import apsw
import pytest

from lens_tui.store.reader import TraceReader, check_path

from .conftest import child_env, file_size, write_spans

TIMEOUT_S = 20.0


def _big_db(path: Path, traces: int = 400) -> list[str]:
    """A checkpointed database of several hundred pages; returns its trace names."""
    names = [f"req-{n:04d}-" + "x" * 200 for n in range(traces)]
    write_spans(path, names)
    return names


def zero_length(p: Path) -> None:
    p.write_bytes(b"")


def random_bytes(p: Path) -> None:
    p.write_bytes(random.Random(6).randbytes(64 * 1024))


def sqlite_header_then_garbage(p: Path) -> None:
    p.write_bytes(b"SQLite format 3\x00" + random.Random(7).randbytes(8192))


def truncated_database(p: Path) -> None:
    _big_db(p)
    size = p.stat().st_size
    with open(p, "r+b") as handle:
        handle.truncate(size // 2)


def truncated_to_one_page(p: Path) -> None:
    _big_db(p)
    with open(p, "r+b") as handle:
        handle.truncate(4096)


def other_application(p: Path) -> None:
    conn = apsw.Connection(str(p))
    conn.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO users VALUES (1, 'a@b')"
    )
    conn.close()


def same_table_names_other_columns(p: Path) -> None:
    conn = apsw.Connection(str(p))
    conn.execute("CREATE TABLE traces (x); CREATE TABLE spans (y); CREATE TABLE logs (z)")
    conn.close()


def newer_schema(p: Path) -> None:
    write_spans(p, ["from-the-future"])
    conn = apsw.Connection(str(p))
    conn.execute("PRAGMA user_version = 99")
    conn.close()


def text_file(p: Path) -> None:
    p.write_text("2024-01-01 12:00:00 INFO this is a log file, not a database\n" * 100)


def directory(p: Path) -> None:
    p.mkdir()


def fifo(p: Path) -> None:
    os.mkfifo(p)


BROKEN: dict[str, tuple[Callable[[Path], None], str]] = {
    # name: (make it, a word the one-line message must contain)
    "zero-length": (zero_length, "empty"),
    "random-bytes": (random_bytes, "not a SQLite database"),
    "sqlite-header-then-garbage": (sqlite_header_then_garbage, "traces.db"),
    "truncated-database": (truncated_database, "traces.db"),
    "truncated-to-one-page": (truncated_to_one_page, "traces.db"),
    "other-application": (other_application, "not a trace database"),
    "same-tables-other-columns": (same_table_names_other_columns, "not a trace database"),
    "newer-schema": (newer_schema, "newer"),
    "text-file": (text_file, "not a SQLite database"),
    "directory": (directory, "directory"),
    "fifo": (fifo, "FIFO"),
}


def _start(args: list[str], cwd: Path) -> tuple[subprocess.Popen[str], float]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lens_tui", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=child_env(TERM="xterm-256color"),
    )
    return proc, time.monotonic()


def _finish(proc: subprocess.Popen[str], started: float) -> tuple[int | None, str, str, float]:
    """(exit code or None if it hung, stdout, stderr, seconds)."""
    try:
        out, err = proc.communicate(timeout=max(0.1, started + TIMEOUT_S - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return None, out, err, time.monotonic() - started
    return proc.returncode, out, err, time.monotonic() - started


def _run(args: list[str], cwd: Path) -> tuple[int | None, str, str, float]:
    return _finish(*_start(args, cwd))


Outcome = tuple[int | None, str, str, float]


@pytest.fixture(scope="module")
def cli_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Outcome]:
    """Every broken file through both commands, all processes started at once (saves time)."""
    running: list[tuple[tuple[str, str], tuple[subprocess.Popen[str], float]]] = []
    try:
        for kind, (make, _word) in sorted(BROKEN.items()):
            directory = tmp_path_factory.mktemp(kind)
            db = directory / "traces.db"
            make(db)
            for command, args in (
                ("show", ["show", "0123abcd", "--db", str(db)]),
                ("dashboard", [str(db)]),
            ):
                running.append(((kind, command), _start(args, directory)))
        # _finish kills whatever hangs: no process outlives the fixture.
        return {key: _finish(*started) for key, started in running}
    finally:
        for _key, (proc, _started) in running:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_06_broken_file_through_cli(
    cli_outcomes: dict[tuple[str, str], Outcome], kind: str
) -> None:
    """show and the dashboard command: one stderr line, exit 2, no traceback, no screen."""
    word = BROKEN[kind][1]
    for command in ("show", "dashboard"):
        code, out, err, took = cli_outcomes[(kind, command)]
        where = f"{kind}: lens-tui {command}"
        assert code is not None, f"{where}: hung for {TIMEOUT_S} s (stderr {err!r})"
        assert "Traceback" not in err, f"{where}: {err}"
        assert code == 2, f"{where}: exit {code}, stderr {err!r}, stdout {out[:200]!r}"
        assert out == "", f"{where}: wrote to stdout (a screen started?): {out[:200]!r}"
        lines = err.splitlines()
        assert len(lines) == 1, f"{where}: {err!r}"
        assert word in lines[0], f"{where}: {lines[0]!r}"
        print(f"case 6 {kind} ({command}): {took:.2f}s: {lines[0]}")


def test_06_truncated_wal_shows_the_committed_prefix(tmp_path: Path) -> None:
    """A -wal cut in the middle of a frame is not an error for SQLite: it recovers the WAL up to
    the last complete commit. `show` prints a trace from that prefix, reports the lost one in
    one line, and the dashboard's pre-check accepts the file."""
    src = tmp_path / "src"
    src.mkdir()
    from lens_tui.tracing.context import SpanRecord
    from lens_tui.tracing.writer import TraceWriter

    store = TraceWriter(src / "traces.db", flush_interval=0.01, retention_days=None)
    ids: list[str] = []
    for name in ("first", "second"):
        record = SpanRecord(name, None, None)
        store.begin(record)
        store.end(record)
        assert store.flush(10)
        ids.append(f"{record.trace_id:032x}")
    db = tmp_path / "traces.db"
    for suffix in ("", "-wal"):  # copied while the writer is idle: a crash image without -shm
        shutil.copyfile(f"{src}/traces.db{suffix}", f"{db}{suffix}")
    store.shutdown()
    wal = Path(f"{db}-wal")
    page = 4096
    frames = (file_size(wal) - 32) // (24 + page)
    assert frames >= 2
    with open(wal, "r+b") as handle:  # cut the last commit's final frame in half
        handle.truncate(32 + (frames - 1) * (24 + page) + 24 + page // 2)

    assert check_path(db) == "ok"
    with TraceReader(db) as reader:
        names = [t.root_span_name for t in reader.recent_traces()]
    assert names == ["first"]
    code, out, err, _ = _run(["show", ids[0], "--db", str(db)], tmp_path)
    assert code == 0 and "first" in out and err == "", (code, out, err)
    code, out, err, _ = _run(["show", ids[1], "--db", str(db)], tmp_path)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and "no trace" in err, err
    assert "Traceback" not in err


def test_06_truncated_wal_header(tmp_path: Path) -> None:
    """A -wal shorter than its 32-byte header is ignored: the main file is shown as it is."""
    db = tmp_path / "traces.db"
    write_spans(db, ["checkpointed"])
    Path(f"{db}-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\x00" * 10)
    with TraceReader(db) as reader:
        assert [t.root_span_name for t in reader.recent_traces()] == ["checkpointed"]
