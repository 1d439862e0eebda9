"""Case 15: event storms beside the database, and the warning for a SQLite with the WAL-reset bug.

Thousands of unrelated files created, written, renamed and deleted in the database's directory
(a log directory, a build output) must not wake the dashboard, and a real commit right after
must still be noticed at once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from lens_tui import sqlite_check
from lens_tui.store.reader import TraceReader
from lens_tui.store.tail import ChangeWatcher

from .conftest import write_spans

STORM_FILES = 3_000


def test_15_file_storm_beside_the_database(tmp_path: Path) -> None:
    """3,000 files created, appended, renamed and deleted, plus the -shm touched: at most a few
    on_change calls and no reader work; then a real write is noticed within 0.5 s."""
    db = tmp_path / "traces.db"
    write_spans(db, ["before"])
    reader = TraceReader(db)
    reader.open()
    calls = 0
    reader_work = 0
    fired = threading.Event()

    def on_change() -> None:
        nonlocal calls, reader_work
        calls += 1
        if reader.changed():  # what the dashboard does on a hint
            reader_work += 1
            fired.set()

    watcher = ChangeWatcher(db, on_change, fallback_s=1.0)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)
        started = time.monotonic()
        for n in range(STORM_FILES):
            other = tmp_path / f"app-{n}.log"
            other.write_text("line\n")
            with open(other, "a") as handle:
                handle.write("more\n")
            if n % 3 == 0:
                other.rename(tmp_path / f"app-{n}.log.1")
            elif n % 3 == 1:
                other.unlink()
        # Names that merely look like ours must not count either.
        for name in ("traces.db.1", "traces.db-journal.bak", "xtraces.db"):
            (tmp_path / name).touch()
        os.utime(f"{db}-shm")  # readers touch the -shm: never a change
        storm_s = time.monotonic() - started
        time.sleep(1.5)  # longer than the fallback poll: it must not fire either
        storm_calls, storm_work = calls, reader_work
        print(
            f"case 15: {STORM_FILES} files in {storm_s:.2f}s -> {storm_calls} on_change calls, "
            f"{storm_work} reader refreshes"
        )
        assert storm_calls <= 3, f"the storm woke the dashboard {storm_calls} times"
        assert storm_work == 0

        started = time.monotonic()
        write_spans(db, ["after"])
        assert fired.wait(0.5), "a real commit after the storm was not noticed"
        print(f"case 15: real write noticed after {(time.monotonic() - started) * 1000:.0f} ms")
        assert {t.root_span_name for t in reader.recent_traces()} == {"before", "after"}
    finally:
        watcher.stop()
        thread.join(5)
        reader.close()
    assert not thread.is_alive()


@pytest.mark.parametrize(
    ("version", "warned"),
    [
        ("3.6.23", False),
        ("3.7.0", True),
        ("3.40.1", True),
        ("3.51.1", True),
        ("3.51.2", True),
        ("3.51.3", False),
        ("3.54.1", False),
        ("4.0.0", False),
        ("3.51", True),
        ("not a version", False),
        ("", False),
    ],
)
def test_15_wal_reset_warning_by_version(version: str, warned: bool) -> None:
    """Inside 3.7.0 <= v < 3.51.3: one line naming the version; outside: None."""
    warning = sqlite_check.wal_reset_warning(version)
    if not warned:
        assert warning is None
        return
    assert warning is not None and "\n" not in warning
    assert f"SQLite {version} " in warning and "WAL-reset" in warning and "3.51.3" in warning


def test_15_linked_sqlite_checked() -> None:
    """APSW's SQLite (3.54.1 here) gives no warning; this machine's stdlib sqlite3 (3.40.1, the
    reason lens_tui uses APSW) would."""
    import apsw

    assert sqlite_check.check_linked() == sqlite_check.wal_reset_warning(apsw.sqlite_lib_version())
    assert sqlite_check.check_linked() is None
    if sqlite_check.parse_version(sqlite3.sqlite_version) < sqlite_check.FIRST_FIXED:
        assert sqlite3.sqlite_version in sqlite_check.wal_reset_warning(sqlite3.sqlite_version)
