"""Case 2: the database is deleted (or rotated away) and a new one is created under the same name.

An open SQLite connection keeps serving the old, unlinked file forever and its data_version never
moves (docs/findings.md), so the reader must notice the new inode and reopen; the ChangeWatcher must
fire for it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lens_tui.store.reader import TraceReader

from .conftest import Watched, write_spans

NOTICE_S = 1.0


def _names(reader: TraceReader) -> set[str]:
    return {t.root_span_name for t in reader.recent_traces(100)}


def _wait_for_new(reader: TraceReader, watched: Watched, started: float) -> float:
    """Seconds until the watcher fired AND changed() reported the new file; fails after 1 s."""
    assert watched.fired.wait(NOTICE_S), "ChangeWatcher did not fire within 1 s"
    while time.monotonic() - started < NOTICE_S:
        if reader.changed():
            return time.monotonic() - started
        time.sleep(0.01)
    pytest.fail("TraceReader.changed() did not notice the new database within 1 s")


@pytest.mark.parametrize("how", ["delete", "rotate"])
def test_02_database_replaced(tmp_path: Path, watched: Watched, how: str) -> None:
    """Delete (or rename away) db, -wal and -shm, create a new db under the same name: the
    watcher fires and changed() reports it within 1 s, then only the new data shows."""
    db = tmp_path / "traces.db"
    write_spans(db, ["old-1", "old-2"])
    reader = TraceReader(db)
    reader.open()
    try:
        assert _names(reader) == {"old-1", "old-2"}
        assert not reader.changed()
        for suffix in ("", "-wal", "-shm"):
            old = Path(f"{db}{suffix}")
            if not old.exists():
                continue
            if how == "delete":
                old.unlink()
            else:
                old.rename(f"{db}.1{suffix}")  # rotation keeps the set together
        watched.fired.clear()
        started = time.monotonic()
        write_spans(db, ["new-1"])
        took = _wait_for_new(reader, watched, started)
        print(f"case 2 ({how}): noticed after {took * 1000:.0f} ms")
        assert reader.take_replaced(), "the UI must be told to drop what it holds"
        assert _names(reader) == {"new-1"}
        assert reader.stats().traces == 1
        # And the replacement is tailed like any database from then on.
        watched.fired.clear()
        started = time.monotonic()
        write_spans(db, ["new-2"])
        _wait_for_new(reader, watched, started)
        assert _names(reader) == {"new-1", "new-2"}
        assert not reader.take_replaced()
    finally:
        reader.close()
    if how == "rotate":
        rotated = TraceReader(Path(f"{db}.1"))
        with rotated:
            assert _names(rotated) == {"old-1", "old-2"}


def test_02_database_deleted_then_recreated_later(tmp_path: Path, watched: Watched) -> None:
    """Deleted and gone for a while: the reader shows nothing (no error), then the new file."""
    db = tmp_path / "traces.db"
    write_spans(db, ["old"])
    reader = TraceReader(db)
    reader.open()
    try:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{db}{suffix}"):
                os.unlink(f"{db}{suffix}")
        assert reader.changed()  # the deletion itself is a change
        assert reader.take_replaced()
        assert reader.recent_traces() == []
        assert not reader.changed()
        watched.fired.clear()
        started = time.monotonic()
        write_spans(db, ["new"])
        _wait_for_new(reader, watched, started)
        assert _names(reader) == {"new"}
    finally:
        reader.close()
