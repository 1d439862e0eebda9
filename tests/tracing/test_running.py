"""Long spans show as running while they run; short spans cost exactly one write."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import apsw
import pytest

from lens_tui import tracing
from lens_tui.tracing import lens_fn, span
from lens_tui.tracing.writer import TraceWriter

from .conftest import FLUSH_INTERVAL, read, trace_row


def wait_for(predicate: Callable[[], Any], timeout: float = 3.0) -> Any:
    """Poll until `predicate()` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError("condition not met in time")


def row_writes(store: TraceWriter) -> list[tuple[int, str, int]]:
    """Record every row the writer's own connection inserts or updates: (op, table, rowid)."""
    with span("warm-up"):  # the writer opens its connection on its first batch
        pass
    assert tracing.flush()
    conn = store._conn
    assert conn is not None
    writes: list[tuple[int, str, int]] = []

    def hook(op: int, _db: str, table: str, rowid: int) -> None:
        writes.append((op, table, rowid))

    # APSW refuses (rather than waits) while the writer thread is inside a call: retry.
    wait_for(lambda: _try(conn.set_update_hook, hook))
    return writes


def _try(fn: Callable[..., Any], *args: Any) -> bool:
    try:
        fn(*args)
    except apsw.ThreadingViolationError:
        return False
    return True


def writes_of(db_path: Path, writes: list[tuple[int, str, int]], span_id: str) -> list[str]:
    rowid = read(db_path, "SELECT rowid FROM spans WHERE span_id = ?", (span_id,))[0]["rowid"]
    names = {
        apsw.SQLITE_INSERT: "insert",
        apsw.SQLITE_UPDATE: "update",
        apsw.SQLITE_DELETE: "delete",
    }
    return [names[op] for op, table, r in writes if table == "spans" and r == rowid]


def test_long_span_is_running_then_completed_in_place(store: TraceWriter, db_path: Path) -> None:
    writes = row_writes(store)
    with span("slow-root") as root:
        assert root is not None
        with span("quick") as quick:
            assert quick is not None
        running = wait_for(
            lambda: (
                db_path.exists()
                and read(db_path, "SELECT rowid, * FROM spans WHERE span_id = ?", (root.span_id,))
            )
        )[0]
        assert running["status"] == "running" and running["duration_ms"] is None
        trace = trace_row(db_path, root.trace_id)
        assert trace["status"] == "running" and trace["duration_ms"] is None
        assert trace["root_span_name"] == "slow-root"
        time.sleep(5 * FLUSH_INTERVAL)  # several more cycles: the running row is not rewritten
        assert writes_of(db_path, writes, root.span_id) == ["insert"]
        assert trace_row(db_path, root.trace_id)["span_count"] == 2
    assert tracing.flush()

    done = read(db_path, "SELECT rowid, * FROM spans WHERE span_id = ?", (root.span_id,))[0]
    assert done["rowid"] == running["rowid"]
    assert done["status"] == "ok" and done["duration_ms"] >= 5 * FLUSH_INTERVAL * 1000
    # Each batch re-derives wall time from perf_counter: microseconds of jitter, no more.
    assert done["started_at"] == pytest.approx(running["started_at"], abs=0.1)
    trace = trace_row(db_path, root.trace_id)
    assert trace["status"] == "ok" and trace["span_count"] == 2
    assert trace["duration_ms"] == pytest.approx(done["duration_ms"], abs=0.1)
    assert writes_of(db_path, writes, root.span_id) == ["insert", "update"]
    assert writes_of(db_path, writes, quick.span_id) == ["insert"]
    assert len(read(db_path, "SELECT * FROM spans WHERE trace_id = ?", (root.trace_id,))) == 2


def test_long_failing_span_counts_its_error_once(store: TraceWriter, db_path: Path) -> None:
    @lens_fn("slow-fail")
    def slow_fail() -> None:
        time.sleep(6 * FLUSH_INTERVAL)
        raise RuntimeError("late failure")

    with pytest.raises(RuntimeError):
        slow_fail()
    assert tracing.flush()
    rows = read(db_path, "SELECT * FROM spans WHERE name = 'slow-fail'")
    assert len(rows) == 1 and rows[0]["status"] == "error"
    trace = trace_row(db_path, rows[0]["trace_id"])
    assert trace["span_count"] == 1 and trace["error_count"] == 1 and trace["status"] == "error"


def test_short_spans_cost_one_write_each(store: TraceWriter, db_path: Path) -> None:
    writes = row_writes(store)

    @lens_fn("short")
    def short() -> None:
        pass

    for _ in range(50):
        short()
    with span("short-parent") as parent:
        assert parent is not None
        short()
    assert tracing.flush()
    rows = read(db_path, "SELECT rowid, span_id FROM spans WHERE name IN ('short', 'short-parent')")
    assert len(rows) == 52
    span_writes = [(op, rowid) for op, table, rowid in writes if table == "spans"]
    assert sorted(span_writes) == sorted((apsw.SQLITE_INSERT, r["rowid"]) for r in rows)
    assert read(db_path, "SELECT count(*) AS n FROM spans WHERE status = 'running'")[0]["n"] == 0
