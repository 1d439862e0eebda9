"""The writer never raises into, nor blocks, the application: bad paths, corrupt files, locks."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

import apsw
import pytest

from lens_tui import tracing
from lens_tui.tracing import lens_fn, span

from .conftest import read, scalar


def run_app(n: int = 20) -> int:
    """A small traced workload; returns the sum its functions computed."""

    @lens_fn("add")
    def add(a: int, b: int) -> int:
        return a + b

    total = 0
    with span("batch"):
        for i in range(n):
            total = add(total, i)
    return total


def lens_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("lens_tui:")]


def unusable_paths(tmp_path: Path) -> dict[str, Path]:
    """Database paths that fail even for root (who ignores permission bits)."""
    regular = tmp_path / "file"
    regular.write_text("not a directory")
    directory = tmp_path / "is-a-dir.db"
    directory.mkdir()
    return {
        "parent is a file": regular / "traces.db",  # the directory cannot be created
        "deep under a file": regular / "a" / "b" / "traces.db",
        "path is a directory": directory,
    }


@pytest.mark.parametrize("case", ["parent is a file", "deep under a file", "path is a directory"])
def test_unusable_path_is_reported_once_and_the_app_goes_on(
    tmp_path: Path, case: str, capfd: pytest.CaptureFixture[str]
) -> None:
    path = unusable_paths(tmp_path)[case]
    store = tracing.configure(path, service="test", flush_interval=0.02)
    try:
        for _ in range(3):
            assert run_app() == sum(range(20))
            assert tracing.flush()  # flush() returns: the records were dropped, not kept waiting
    finally:
        tracing.shutdown()
    out, err = capfd.readouterr()
    assert out == ""
    lines = lens_lines(err)
    assert len(lines) == 1, err
    assert str(path) in lines[0] and "the application goes on" in lines[0]
    assert store.errors >= 1
    assert store.dropped == 3 * 21
    assert store.last_error is not None


def test_corrupt_file_is_left_alone(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(os.urandom(8192))
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    store = tracing.configure(path, service="test", flush_interval=0.02)
    try:
        assert run_app() == sum(range(20))
        assert tracing.flush()
        assert run_app(5) == sum(range(5))
        assert tracing.flush()
    finally:
        tracing.shutdown()
    out, err = capfd.readouterr()
    assert out == ""
    assert len(lens_lines(err)) == 1, err
    assert store.errors >= 1 and store.dropped == 21 + 6
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.db"]


def test_newer_schema_is_refused_without_raising(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "future.db"
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    store = tracing.configure(path, service="test", flush_interval=0.02)
    try:
        assert run_app() == sum(range(20))
        assert tracing.flush()
    finally:
        tracing.shutdown()
    _, err = capfd.readouterr()
    lines = lens_lines(err)
    assert len(lines) == 1 and "SchemaTooNew" in lines[0]
    assert store.dropped == 21


def test_read_only_file_via_immutable_attribute(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """`chattr +i` refuses writes even to root (where the filesystem and capabilities allow it)."""
    path = tmp_path / "ro.db"
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode = DELETE; CREATE TABLE t(x)")
    conn.close()
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"chattr +i not possible here: {made.stderr.decode().strip()}")
    try:
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        store = tracing.configure(path, service="test", flush_interval=0.02)
        try:
            assert run_app() == sum(range(20))
            assert tracing.flush()
        finally:
            tracing.shutdown()
        _, err = capfd.readouterr()
        assert len(lens_lines(err)) == 1, err
        assert store.errors >= 1 and store.dropped == 21
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_missing_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "traces.db"
    tracing.configure(path, service="test", flush_interval=0.02)
    try:
        run_app(3)
        assert tracing.flush()
    finally:
        tracing.shutdown()
    assert scalar(path, "SELECT count(*) FROM spans") == 4


@pytest.mark.parametrize("busy_timeout_ms", [5000, 50], ids=["writer-waits", "writer-retries"])
def test_bounded_queue_drops_and_never_blocks(
    db_path: Path, busy_timeout_ms: int, capfd: pytest.CaptureFixture[str]
) -> None:
    store = tracing.configure(
        db_path, service="test", flush_interval=0.02, max_queue=100, busy_timeout_ms=busy_timeout_ms
    )
    try:
        run_app(0)
        assert tracing.flush()  # connected and migrated before the lock is taken
        blocker = apsw.Connection(str(db_path))
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            time.sleep(0.1)  # the writer is now stuck on the lock (waiting, or retrying)
            started = time.perf_counter()
            for _ in range(50):
                run_app(39)  # 40 spans per call
            elapsed = time.perf_counter() - started
            assert not tracing.flush(timeout=0.2)  # nothing can commit while the lock is held
        finally:
            blocker.execute("COMMIT")
            blocker.close()
        assert tracing.flush()
    finally:
        tracing.shutdown()
    recorded = 1 + 50 * 40
    assert elapsed < 0.5, f"2,000 spans took {elapsed:.3f}s with the writer blocked"
    assert store.dropped > 0
    assert scalar(db_path, "SELECT count(*) FROM spans") == recorded - store.dropped
    assert scalar(db_path, "SELECT sum(span_count) FROM traces") == recorded - store.dropped
    writer = read(db_path, "SELECT * FROM writers")[0]
    assert writer["spans_written"] == recorded - store.dropped
    out, err = capfd.readouterr()
    assert out == ""
    if busy_timeout_ms == 50:
        assert len(lens_lines(err)) == 1 and "locked" in err
    else:
        assert lens_lines(err) == []
