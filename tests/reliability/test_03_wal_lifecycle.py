"""Case 3: the WAL lifecycle. The dashboard starts before the database exists; a writer creates it
and closes (the -wal and -shm are removed with the last connection); a writer comes back.

Watching the `-wal` alone stops working once it is deleted, and watching a missing path raises
(docs/findings.md); the reader must go from "no file" to "open" on its own.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lens_tui.store.reader import TraceReader

from .conftest import Watched, write_spans

NOTICE_S = 0.5
"""Well under the watcher's fallback poll (5 s in the fixture): only a real event is this fast."""


def _notice(reader: TraceReader, watched: Watched, started: float) -> None:
    assert watched.fired.wait(NOTICE_S), "ChangeWatcher did not fire"
    deadline = started + NOTICE_S
    while time.monotonic() < deadline:
        if reader.changed():
            return
        time.sleep(0.01)
    raise AssertionError("TraceReader.changed() did not report the write")


def _names(reader: TraceReader) -> list[str]:
    return sorted(t.root_span_name for t in reader.recent_traces(100))


def test_03_wal_lifecycle(tmp_path: Path, watched: Watched) -> None:
    """No file -> created and closed (no -wal/-shm left) -> writer returns, twice: every step is
    noticed by the watcher and by changed(), and the reader shows all rows."""
    db = tmp_path / "traces.db"
    reader = TraceReader(db)  # started before the file exists: no open(), no error
    try:
        assert not reader.changed()
        assert reader.recent_traces() == [] and reader.stats().traces == 0

        # A writer creates the file, writes, and is the last connection to close.
        watched.fired.clear()
        started = time.monotonic()
        write_spans(db, ["first"])
        assert db.exists()
        assert not os.path.exists(f"{db}-wal") and not os.path.exists(f"{db}-shm")
        _notice(reader, watched, started)
        assert _names(reader) == ["first"]

        # The writer comes back (the reader is connected now, so the -wal stays after it).
        for round_ in ("second", "third"):
            watched.fired.clear()
            started = time.monotonic()
            write_spans(db, [round_])
            _notice(reader, watched, started)
            assert round_ in _names(reader)
        assert _names(reader) == ["first", "second", "third"]
        assert not reader.changed()
        assert not reader.take_replaced()  # the same file all along: nothing to drop
    finally:
        reader.close()

    # With no reader holding it, the last writer removes the -wal and -shm again, and a reader
    # that was closed meanwhile reopens cleanly on the next query.
    write_spans(db, ["fourth"])
    assert not os.path.exists(f"{db}-wal") and not os.path.exists(f"{db}-shm")
    watched.fired.clear()
    started = time.monotonic()
    write_spans(db, ["fifth"])
    assert watched.fired.wait(NOTICE_S)
    assert _names(reader) == ["fifth", "first", "fourth", "second", "third"]
    reader.close()
