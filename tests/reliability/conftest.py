"""Helpers for the reliability suite: real files, real processes, a probe connection, a user switch.

Every subprocess runs this checkout's `lens_tui` (PYTHONPATH is the repository this file lives
in), so the suite can be run from a copy of the tree with a guard broken on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import apsw
import pytest

from lens_tui.store.tail import ChangeWatcher
from lens_tui.tracing.context import SpanRecord
from lens_tui.tracing.writer import TraceWriter

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python: this checkout first on the path, no LENS_DB, no
    COLUMNS or LINES."""
    # COLUMNS and LINES would override a pseudo-terminal's size in Textual (pytest-xdist's
    # workers set them to 80x24).
    env = {k: v for k, v in os.environ.items() if k not in ("LENS_DB", "COLUMNS", "LINES")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def write_script(directory: Path, name: str, source: str) -> Path:
    """A dedented Python script file in `directory`."""
    path = directory / name
    path.write_text(textwrap.dedent(source))
    return path


def popen_python(script: Path, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """Start `python script args` with pipes for stdin/stdout/stderr (text mode)."""
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        **kwargs,
    )


def connect_ro(path: Path) -> apsw.Connection:
    """A second, read-only connection (the dashboard's way of opening)."""
    conn = apsw.Connection(
        f"file:{path}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    )
    conn.set_busy_timeout(2000)
    return conn


def query(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on a fresh read-only connection, fully consumed, and close it."""
    conn = connect_ro(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def scalar(path: Path, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """The first column of the first row."""
    rows = query(path, sql, params)
    return rows[0][0] if rows else None


SPAN_COUNT_MISMATCH_SQL = (
    "SELECT count(*) FROM traces t WHERE coalesce(t.span_count, 0) != "
    "(SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id)"
)
"""Traces whose stored span_count differs from their spans rows, in ONE statement (one snapshot)."""


def probe_checkpoint(path: Path) -> tuple[int, int, int]:
    """`PRAGMA wal_checkpoint(PASSIVE)` from a fresh writable probe: (busy, log, checkpointed)."""
    conn = apsw.Connection(str(path))
    try:
        conn.set_busy_timeout(2000)
        busy, log, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
        return int(busy), int(log), int(done)
    finally:
        conn.close()


def file_size(path: Path | str) -> int:
    """Size in bytes, 0 when the file does not exist."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def snapshot_dir(directory: Path) -> dict[str, tuple[str, int, int, int]]:
    """name -> (sha256, mode, uid, mtime_ns) of every file: proves nothing was written or added."""
    out: dict[str, tuple[str, int, int, int]] = {}
    for entry in sorted(directory.iterdir()):
        st = entry.lstat()
        digest = hashlib.sha256(entry.read_bytes()).hexdigest() if entry.is_file() else "-"
        out[entry.name] = (digest, st.st_mode, st.st_uid, st.st_mtime_ns)
    return out


def run_with_timeout(fn: Callable[[], Any], timeout: float) -> Any:
    """Run `fn` in a daemon thread; fail the test (instead of hanging) if it does not return."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # handed back to the test thread
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(
            f"{getattr(fn, '__name__', fn)} did not return within {timeout} s (endless loop?)"
        )
    if "error" in result:
        raise result["error"]
    return result.get("value")


def can_switch_user() -> bool:
    """True when this process may setuid (root, as the tests run here)."""
    return hasattr(os, "fork") and hasattr(os, "setuid") and os.geteuid() == 0


def as_user(fn: Callable[[], Any], uid: int = NOBODY, timeout: float = 30.0) -> Any:
    """Run `fn` in a forked child that dropped to `uid` (no groups); its JSON result or error.

    A forked child needs no access to the Python installation (under /root here, unreadable to
    `nobody`): every module is already imported. Returns {"error": "..."} if `fn` raised.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            try:
                out: Any = {"value": fn()}
            except BaseException as exc:
                out = {"error": f"{type(exc).__name__}: {exc}"}
            data = json.dumps(out).encode()
            while data:
                data = data[os.write(write_fd, data) :]
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks: list[bytes] = []
    done = threading.Event()

    def drain() -> None:
        while chunk := os.read(read_fd, 65536):
            chunks.append(chunk)
        done.set()

    threading.Thread(target=drain, daemon=True).start()
    if not done.wait(timeout):
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail(f"child running as uid {uid} did not finish within {timeout} s")
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "child could not switch user or report"
    result = json.loads(b"".join(chunks))
    if "error" in result:
        return result
    return result["value"]


def rss_bytes() -> int:
    """This process's resident set size (Linux)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def write_spans(db: Path, names: list[str]) -> None:
    """One writer session that records a root span per name, commits and closes."""
    store = TraceWriter(db, service="svc", flush_interval=0.01, retention_days=None)
    for name in names:
        record = SpanRecord(name, None, None)
        store.begin(record)
        store.end(record)
    assert store.flush(10)
    assert store.shutdown()


class Watched:
    """A ChangeWatcher in its own thread, counting on_change calls."""

    def __init__(self, db: Path) -> None:
        self.fired = threading.Event()
        self.calls = 0
        self.watcher = ChangeWatcher(db, self._on_change, fallback_s=5.0)
        self.thread = threading.Thread(target=self.watcher.run, daemon=True)

    def _on_change(self) -> None:
        self.calls += 1
        self.fired.set()

    def stop(self) -> None:
        self.watcher.stop()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    """A watcher on tmp_path/traces.db, started (and given time to install its watch)."""
    w = Watched(tmp_path / "traces.db")
    w.thread.start()
    time.sleep(0.2)
    yield w
    w.stop()


def signal_inside_transaction(db: Path, pid: int, sig: int, within_s: float = 3.0) -> bool:
    """Send `sig` to `pid` right after a probe found the write lock taken (it is inside a
    batch); True if it was seen taken (else the signal is sent anyway after `within_s`)."""
    probe = apsw.Connection(str(db))
    probe.set_busy_timeout(0)
    deadline = time.monotonic() + within_s
    seen = False
    try:
        while time.monotonic() < deadline:
            try:
                probe.execute("BEGIN IMMEDIATE")
            except apsw.BusyError:
                seen = True
                break
            probe.execute("ROLLBACK")
            time.sleep(0.0005)
    finally:
        os.kill(pid, sig)
        probe.close()
    return seen
