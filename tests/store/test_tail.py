"""ChangeWatcher on real files: notified by a second connection's commits, stops promptly."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import apsw

from lens_tui import schema
from lens_tui.store.tail import ChangeWatcher


class Calls:
    """Counts on_change calls and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.count = 0
        self._event = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self._event.set()

    def reset(self) -> None:
        self._event.clear()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


@contextmanager
def running(watcher: ChangeWatcher) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    time.sleep(0.15)  # let the watch start before the test changes files
    try:
        yield thread
    finally:
        watcher.stop()
        thread.join(2)
        assert not thread.is_alive()


def _writer(path: Path) -> apsw.Connection:
    conn = apsw.Connection(str(path))
    conn.set_busy_timeout(2000)
    conn.execute("PRAGMA journal_mode=WAL")
    schema.migrate(conn)
    return conn


def _commit_log(conn: apsw.Connection) -> None:
    conn.execute("INSERT INTO logs(level, message, timestamp) VALUES ('info', 'x', 0)")


def _latency(calls: Calls, action: Callable[[], None], timeout: float = 1.0) -> float | None:
    calls.reset()
    start = time.perf_counter()
    action()
    if not calls.wait(timeout):
        return None
    return time.perf_counter() - start


def test_commit_by_another_connection_notifies_quickly(tmp_path: Path) -> None:
    path = tmp_path / "traces.db"
    conn = _writer(path)
    calls = Calls()
    # A long fallback period: only filesystem events can explain a prompt call.
    with running(ChangeWatcher(path, calls, fallback_s=30)):
        for _ in range(3):
            latency = _latency(calls, lambda: _commit_log(conn))
            assert latency is not None and latency < 1.0
    conn.close()


def test_started_before_the_database_existed(tmp_path: Path) -> None:
    path = tmp_path / "traces.db"
    calls = Calls()
    with running(ChangeWatcher(path, calls, fallback_s=30)):
        assert calls.count == 0
        holder: list[apsw.Connection] = []
        assert _latency(calls, lambda: holder.append(_writer(path))) is not None
        conn = holder[0]
        # The last writer closes (the -wal goes away), then a writer comes back.
        conn.close()
        time.sleep(0.1)
        conn = _writer(path)
        assert _latency(calls, lambda: _commit_log(conn)) is not None
        conn.close()


def test_unrelated_files_do_not_notify(tmp_path: Path) -> None:
    path = tmp_path / "traces.db"
    conn = _writer(path)
    calls = Calls()
    with running(ChangeWatcher(path, calls, fallback_s=30)):
        calls.reset()
        for n in range(50):
            (tmp_path / f"other-{n}.log").write_text("noise")
        (tmp_path / "traces.db-shm-not").write_text("noise")
        assert not calls.wait(0.3)
        assert _latency(calls, lambda: _commit_log(conn)) is not None
    conn.close()


def test_stop_returns_promptly_while_waiting(tmp_path: Path) -> None:
    watcher = ChangeWatcher(tmp_path / "traces.db", Calls(), fallback_s=30)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    time.sleep(0.2)
    start = time.perf_counter()
    watcher.stop()
    thread.join(2)
    assert not thread.is_alive()
    assert time.perf_counter() - start < 0.5


def test_stop_returns_promptly_while_polling_a_missing_directory(tmp_path: Path) -> None:
    watcher = ChangeWatcher(tmp_path / "gone" / "traces.db", Calls(), fallback_s=30)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    time.sleep(0.2)
    start = time.perf_counter()
    watcher.stop()
    thread.join(2)
    assert time.perf_counter() - start < 0.5


def test_directory_missing_then_created_and_removed_again(tmp_path: Path) -> None:
    directory = tmp_path / "later"
    path = directory / "traces.db"
    calls = Calls()
    with running(ChangeWatcher(path, calls, fallback_s=0.1)) as thread:
        directory.mkdir()
        conn_box: list[apsw.Connection] = []
        assert _latency(calls, lambda: conn_box.append(_writer(path)), timeout=2) is not None
        conn_box[0].close()
        shutil.rmtree(directory)  # the watched directory vanishes: polling again, no exception
        time.sleep(0.4)
        assert thread.is_alive()
        directory.mkdir()
        assert _latency(calls, lambda: conn_box.append(_writer(path)), timeout=2) is not None
        # Back on filesystem events: a commit is seen.
        assert _latency(calls, lambda: _commit_log(conn_box[1])) is not None
        conn_box[1].close()


def test_failing_callback_does_not_stop_the_watcher(tmp_path: Path) -> None:
    path = tmp_path / "traces.db"
    conn = _writer(path)
    seen = Calls()

    def on_change() -> None:
        seen()
        raise RuntimeError("ui went away")

    with running(ChangeWatcher(path, on_change, fallback_s=30)) as thread:
        assert _latency(seen, lambda: _commit_log(conn)) is not None
        assert _latency(seen, lambda: _commit_log(conn)) is not None
        assert thread.is_alive()
    conn.close()


def test_fallback_poll_sees_changes_without_events(tmp_path: Path) -> None:
    path = tmp_path / "traces.db"
    conn = _writer(path)
    calls = Calls()
    watcher = ChangeWatcher(path, calls, fallback_s=0.2)
    # No filesystem events at all (as on some network filesystems): only the poll can notice.
    watcher._relevant = lambda _change, _path: False  # type: ignore[method-assign]
    with running(watcher):
        calls.reset()
        assert not calls.wait(0.5)  # nothing changed: the poll stays quiet
        assert _latency(calls, lambda: _commit_log(conn), timeout=2) is not None
    conn.close()
