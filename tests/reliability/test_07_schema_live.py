"""Case 7: the schema changes under a running reader.

The reader is open on a database in the original LENS layout (schema version 0: no status,
span_count, service, updated_at, no writers table) when `lens_tui.tracing` opens it, migrates it
to version 1 and writes. The reader must pick up the new columns and tables (its column cache
follows the schema) and show the new rows with their counts, service and the writer.
"""

from __future__ import annotations

import time
from pathlib import Path

import apsw
import pytest

from lens_tui import tracing
from lens_tui.schema import SCHEMA_VERSION
from lens_tui.store.reader import OpenError, TraceReader
from lens_tui.tracing import span

from .conftest import scalar

ORIGINAL_LAYOUT_SQL = """
CREATE TABLE traces (
    trace_id TEXT PRIMARY KEY NOT NULL, root_span_name TEXT NOT NULL, source TEXT,
    started_at INTEGER NOT NULL, ended_at INTEGER, duration_ms INTEGER
);
CREATE TABLE spans (
    span_id TEXT PRIMARY KEY NOT NULL,
    trace_id TEXT NOT NULL REFERENCES traces(trace_id) ON DELETE CASCADE,
    parent_span_id TEXT, name TEXT NOT NULL, started_at INTEGER NOT NULL, duration_ms INTEGER,
    error_message TEXT, input_size INTEGER, output_size INTEGER
);
CREATE TABLE logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, trace_id TEXT, span_id TEXT, level TEXT NOT NULL,
    message TEXT NOT NULL, timestamp INTEGER NOT NULL
);
"""


def make_v0(path: Path, journal_mode: str) -> None:
    """An original-layout database with one finished trace of two spans."""
    conn = apsw.Connection(str(path))
    conn.execute(f"PRAGMA journal_mode = {journal_mode}").fetchall()
    conn.execute(ORIGINAL_LAYOUT_SQL)
    now = int(time.time() * 1000) - 60_000
    with conn:
        conn.execute(
            "INSERT INTO traces VALUES ('0' || hex(randomblob(15)) || '0', 'legacy', 'web', ?, ?, 5)",
            (now, now + 5),
        )
        tid = conn.execute("SELECT trace_id FROM traces").fetchall()[0][0]
        conn.execute(
            "INSERT INTO spans VALUES ('aaaaaaaaaaaaaaaa', ?, NULL, 'legacy', ?, 5, NULL, NULL, NULL)",
            (tid, now),
        )
        conn.execute(
            "INSERT INTO spans VALUES ('bbbbbbbbbbbbbbbb', ?, 'aaaaaaaaaaaaaaaa', 'q', ?, 2, NULL, NULL, NULL)",
            (tid, now + 1),
        )
        conn.execute(
            "INSERT INTO logs (trace_id, level, message, timestamp) VALUES (?, 'INFO', 'old log', ?)",
            (tid, now),
        )
    conn.close()


def _wait_changed(reader: TraceReader) -> None:
    deadline = time.monotonic() + 5
    while not reader.changed():
        assert time.monotonic() < deadline, "the migration and writes were never noticed"
        time.sleep(0.01)


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_07_migration_while_reader_open(tmp_path: Path, journal_mode: str) -> None:
    """v0 -> v1 by a writer while the reader is open: counts, service, writer and tailing work."""
    db = tmp_path / "traces.db"
    make_v0(db, journal_mode)
    reader = TraceReader(db)
    reader.open()
    try:
        [legacy] = reader.recent_traces()
        assert legacy.span_count == 2 and legacy.service is None and legacy.updated_at is None
        mark = reader.current_trace_mark()
        assert reader.stats().writers == ()

        store = tracing.configure(db, service="migrated", flush_interval=0.01, retention_days=None)
        try:
            with span("fresh"):
                with span("child"):
                    pass
                # The child's batch has no root yet: the trace row is written without a root
                # name, which the original layout declares NOT NULL.
                assert tracing.flush(10)
            assert tracing.flush(10)
            assert store.errors == 0 and store.dropped == 0, store.last_error
            assert scalar(db, "PRAGMA user_version") == SCHEMA_VERSION
            _wait_changed(reader)

            new, mark = reader.traces_since(mark)
            assert [t.root_span_name for t in new] == ["fresh"]
            [fresh] = new
            # New columns are read, not NULL-filled from a stale column cache.
            assert fresh.service == "migrated" and fresh.span_count == 2 and fresh.status == "ok"
            assert fresh.updated_at is not None
            stats = reader.stats()
            assert [w.service for w in stats.writers] == ["migrated"]
            assert stats.writers[0].spans_written == 2
            detail = reader.trace(fresh.trace_id)
            assert {s.name: s.service for s in detail.spans} == {
                "fresh": "migrated",
                "child": "migrated",
            }
            # The old rows are still shown, with the columns they do not have as None.
            names = {t.root_span_name: t for t in reader.recent_traces()}
            assert set(names) == {"legacy", "fresh"} and names["legacy"].service is None

            # Tailing by updated_at now works: a span added to the fresh trace updates it.
            with span("fresh-2"):
                pass
            assert tracing.flush(10)
            _wait_changed(reader)
            again, mark = reader.traces_since(mark)
            assert [t.root_span_name for t in again] == ["fresh-2"]
        finally:
            tracing.shutdown()
            store.shutdown()
    finally:
        reader.close()


def test_07_newer_writer_while_reader_open(tmp_path: Path) -> None:
    """A newer lens_tui migrates beyond what this reader knows: it says so in one line (no
    crash, no wrong data) on its next refresh."""
    db = tmp_path / "traces.db"
    make_v0(db, "wal")
    reader = TraceReader(db)
    reader.open()
    try:
        assert len(reader.recent_traces()) == 1
        conn = apsw.Connection(str(db))
        conn.execute(
            f"PRAGMA user_version = {SCHEMA_VERSION + 1}; ALTER TABLE traces ADD COLUMN future TEXT"
        )
        conn.close()
        with pytest.raises(OpenError, match="newer"):
            reader.changed()
            reader.recent_traces()
    finally:
        reader.close()
