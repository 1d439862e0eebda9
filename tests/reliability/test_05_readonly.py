"""Case 5: read-only places. The reader runs as `nobody` (a forked child that dropped root: root
ignores permissions) on databases it cannot write: it shows them, or says in one line why not,
and it never writes, creates or removes a file (every file is hashed before and after).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lens_tui import export
from lens_tui.store.reader import OpenError, TraceReader, check_path
from lens_tui.tracing.context import SpanRecord
from lens_tui.tracing.writer import TraceWriter

from .conftest import (
    NOBODY,
    as_user,
    can_switch_user,
    popen_python,
    snapshot_dir,
    write_script,
    write_spans,
)

APP_UID = 1000
"""The application's own (non-root) user in the shared-directory case."""

pytestmark = pytest.mark.skipif(
    not can_switch_user(), reason="needs root to fork a child that drops to uid nobody"
)


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A directory under /tmp that `nobody` can traverse (pytest's tmp_path is 0700)."""
    base = Path(tempfile.mkdtemp(prefix="lens-ro-", dir="/tmp"))
    base.chmod(0o755)
    yield base
    for path in [base, *base.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(base, ignore_errors=True)


def show(db: Path) -> dict[str, Any]:
    """What the dashboard and `show` would do; runs in the child as nobody."""
    try:
        assert check_path(db) == "ok"
        with TraceReader(db) as reader:
            traces = reader.recent_traces(100)
            tree = export.render_tree(reader.trace(traces[0].trace_id)) if traces else ""
            return {
                "names": sorted(t.root_span_name for t in traces),
                "immutable": reader.immutable,
                "tree": tree,
                "writers": len(reader.stats().writers),
            }
    except OpenError as exc:
        return {"open_error": str(exc)}


def follow(db: Path) -> dict[str, Any]:
    """Open, count traces, then poll like the dashboard until more appear (10 s at most)."""
    with TraceReader(db) as reader:
        first = len(reader.recent_traces())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if reader.changed() and len(reader.recent_traces()) > first:
                return {"first": first, "then": len(reader.recent_traces())}
            time.sleep(0.02)
        return {"first": first, "then": None}


def _shows(result: dict[str, Any], names: list[str]) -> None:
    assert "error" not in result, result
    assert "open_error" not in result, result
    assert result["names"] == names
    assert names[-1] in result["tree"] or names[0] in result["tree"]


@pytest.mark.parametrize("file_mode", [0o644, 0o666], ids=["file-read-only", "file-writable"])
def test_05_readonly_directory(world_dir: Path, file_mode: int) -> None:
    """Directory 0755 owned by root, cleanly closed db (no -wal/-shm): shown, nothing written;
    also when the file itself is writable (SQLite then fails on the -shm it cannot create)."""
    d = world_dir / "ro"
    d.mkdir()
    db = d / "traces.db"
    write_spans(db, ["a", "b"])
    db.chmod(file_mode)
    d.chmod(0o755)
    before = snapshot_dir(d)
    result = as_user(lambda: show(db))
    _shows(result, ["a", "b"])
    assert result["immutable"]  # cannot create the -shm: read as an immutable snapshot
    assert snapshot_dir(d) == before


LIVE_WRITER = """
    import sys
    from lens_tui.tracing.context import SpanRecord
    from lens_tui.tracing.writer import TraceWriter

    store = TraceWriter(sys.argv[1], service="svc", flush_interval=0.01, retention_days=None)
    for line in sys.stdin:  # one root span per line, committed before answering
        record = SpanRecord(line.strip(), None, None)
        store.begin(record)
        store.end(record)
        assert store.flush(10)
        print("ok", flush=True)
    store.shutdown()
"""


def test_05_readonly_directory_live_writer(world_dir: Path, tmp_path: Path) -> None:
    """Read-only directory while a writer process holds the db with its -wal/-shm: rows that
    are only in the -wal are shown, new commits are noticed, and the reader writes nothing.

    The writer is another process on purpose: a forked child must not inherit a connection
    (and its writable -shm mapping) to the same file.
    """
    d = world_dir / "live"
    d.mkdir()
    db = d / "traces.db"
    writer = popen_python(write_script(tmp_path, "writer.py", LIVE_WRITER), str(db))

    def commit(name: str) -> None:
        writer.stdin.write(name + "\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "ok", writer.stderr.read()

    try:
        commit("a")
        commit("b")
        assert os.path.getsize(f"{db}-wal") > 0  # the rows are in the WAL, not the main file
        before = snapshot_dir(d)
        _shows(as_user(lambda: show(db)), ["a", "b"])
        assert snapshot_dir(d) == before

        out: dict[str, Any] = {}
        child = threading.Thread(target=lambda: out.update(r=as_user(lambda: follow(db))))
        child.start()
        time.sleep(0.5)
        commit("c")
        child.join(20)
        assert out["r"] == {"first": 2, "then": 3}
    finally:
        writer.stdin.close()
        try:
            writer.wait(20)
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait(10)
    assert writer.returncode == 0


def test_05_readonly_directory_crashed_writer_leftovers(world_dir: Path) -> None:
    """A -wal and -shm left by a dead writer in a read-only directory: still shown (SQLite reads
    a read-only -shm), or refused in one line; never repaired or written."""
    src = world_dir / "src"
    src.mkdir()
    store = TraceWriter(src / "traces.db", flush_interval=0.01, retention_days=None)
    record = SpanRecord("only-in-wal", None, None)
    store.begin(record)
    store.end(record)
    assert store.flush(10)
    d = world_dir / "crashed"
    d.mkdir()
    for suffix in ("", "-wal", "-shm"):  # copied while the writer is idle: a crash image
        shutil.copyfile(f"{src}/traces.db{suffix}", f"{d}/traces.db{suffix}")
    store.shutdown()
    for f in d.iterdir():
        f.chmod(0o644)
    before = snapshot_dir(d)
    result = as_user(lambda: show(d / "traces.db"))
    assert snapshot_dir(d) == before
    if "open_error" in result:
        assert "\n" not in result["open_error"] and str(d) in result["open_error"]
    else:
        _shows(result, ["only-in-wal"])


def test_05_file_not_writable_in_shared_directory(world_dir: Path) -> None:
    """A db owned by the application's user in a shared sticky directory (like /tmp): viewing it
    as another user must leave no -wal/-shm behind, or the application can no longer write."""
    d = world_dir / "shared"
    d.mkdir()
    d.chmod(0o1777)
    db = d / "traces.db"

    def app_writes(name: str) -> dict[str, Any]:
        err = io.StringIO()
        store = TraceWriter(db, service="app", flush_interval=0.01, retention_days=None, stderr=err)
        record = SpanRecord(name, None, None)
        store.begin(record)
        store.end(record)
        store.flush(10)
        store.shutdown()
        return {"errors": store.errors, "dropped": store.dropped, "stderr": err.getvalue()}

    assert as_user(lambda: app_writes("a"), uid=APP_UID) == {
        "errors": 0,
        "dropped": 0,
        "stderr": "",
    }
    assert {f.name for f in d.iterdir()} == {"traces.db"}
    before = snapshot_dir(d)
    _shows(as_user(lambda: show(db)), ["a"])
    assert snapshot_dir(d) == before, "the reader created or changed files"
    # The application, started again while the dashboard watches, writes as before, and the
    # dashboard follows it.
    ok = {"errors": 0, "dropped": 0, "stderr": ""}
    out: dict[str, Any] = {}
    child = threading.Thread(target=lambda: out.update(r=as_user(lambda: follow(db))))
    child.start()
    time.sleep(0.5)
    assert as_user(lambda: app_writes("b"), uid=APP_UID) == ok
    child.join(20)
    assert out["r"] == {"first": 1, "then": 2}
    assert {f.stat().st_uid for f in d.iterdir()} == {APP_UID}  # nothing of ours left behind
    assert as_user(lambda: app_writes("c"), uid=APP_UID) == ok
    _shows(as_user(lambda: show(db)), ["a", "b", "c"])


def test_05_file_not_readable(world_dir: Path) -> None:
    """A db the user cannot read: one clear line naming the file and the reason."""
    d = world_dir / "private"
    d.mkdir()
    db = d / "traces.db"
    write_spans(db, ["secret"])
    db.chmod(0o600)
    before = snapshot_dir(d)
    result = as_user(lambda: show(db))
    assert snapshot_dir(d) == before
    message = result["open_error"]
    assert str(db) in message and "Permission denied" in message and "\n" not in message


def _chattr(flag: str, path: Path) -> bool:
    try:
        done = subprocess.run(["chattr", flag, str(path)], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def test_05_immutable_directory_as_root(world_dir: Path) -> None:
    """`chattr +i` on the directory: even root cannot create the -shm; shown, nothing written."""
    d = world_dir / "immutable"
    d.mkdir()
    db = d / "traces.db"
    write_spans(db, ["frozen"])
    if not _chattr("+i", d):
        pytest.skip("chattr +i is not supported here (filesystem or missing CAP_LINUX_IMMUTABLE)")
    try:
        before = snapshot_dir(d)
        result = show(db)
        assert snapshot_dir(d) == before
    finally:
        _chattr("-i", d)
    _shows(result, ["frozen"])
    assert result["immutable"]


def test_05_nobody_really_cannot_write(world_dir: Path) -> None:
    """The premise: the forked child really runs without root's powers."""

    def try_write() -> str:
        try:
            (world_dir / "x").write_text("x")
        except PermissionError:
            return "denied"
        return "written"

    assert as_user(try_write, uid=NOBODY) == "denied"
