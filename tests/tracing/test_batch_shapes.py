"""The shapes a batch takes on its way to rows: a root alone in its trace, its late children, a
root ended after it was written as running, spans and logs in one bounded queue, retries."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import apsw

from lens_tui.tracing import LogHandler
from lens_tui.tracing.context import SpanRecord
from lens_tui.tracing.writer import TraceWriter

from .conftest import read, scalar, trace_row


def _writer(db_path: Path, **options: object) -> TraceWriter:
    return TraceWriter(
        db_path, service="shapes", flush_interval=0.02, retention_days=None, **options
    )


def _hex(record: SpanRecord) -> tuple[str, str]:
    return f"{record.trace_id:032x}", f"{record.span_id:016x}"


def test_a_root_alone_in_its_batch_names_its_trace_from_its_own_row(db_path: Path) -> None:
    writer = _writer(db_path)
    try:
        roots = []
        for i in range(300):  # one-span traces, as a job runner makes them
            record = SpanRecord(f"job {i}", None, {"i": i} if i % 2 else None)
            writer.begin(record)
            writer.end(record)
            roots.append(record)
        assert writer.flush()
    finally:
        writer.shutdown()
    assert scalar(db_path, "SELECT count(*) FROM traces") == 300
    for record in (roots[0], roots[1], roots[-1]):
        trace_id, span_id = _hex(record)
        span = read(db_path, "SELECT * FROM spans WHERE span_id = ?", (span_id,))[0]
        trace = trace_row(db_path, trace_id)
        assert (trace["root_span_name"], trace["root_span_id"]) == (record.name, span_id)
        assert (trace["span_count"], trace["error_count"], trace["status"]) == (1, 0, "ok")
        assert (trace["service"], span["service"]) == ("shapes", "shapes")
        assert trace["started_at"] == span["started_at"]
        assert trace["duration_ms"] == span["duration_ms"]
        assert abs(trace["ended_at"] - (span["started_at"] + span["duration_ms"])) < 1e-3
        assert trace["updated_at"] == span["updated_at"]
    assert scalar(db_path, "PRAGMA foreign_key_check") is None


def test_children_ending_after_their_root_in_the_same_batch_join_its_trace(db_path: Path) -> None:
    writer = _writer(db_path, start=False)  # one batch: everything is queued before the thread runs
    root = SpanRecord("root", None, None)
    late = SpanRecord("late child", root, None)
    later = SpanRecord("later grandchild", late, None)
    for record in (root, late, later):
        writer.begin(record)
    time.sleep(0.002)
    writer.end(root)  # the root first: its trace row comes from its span row
    writer.end(later)
    writer.end(late)
    writer.start()
    try:
        assert writer.flush()
    finally:
        writer.shutdown()
    trace_id, root_id = _hex(root)
    trace = trace_row(db_path, trace_id)
    assert (trace["root_span_name"], trace["root_span_id"]) == ("root", root_id)
    assert (trace["span_count"], trace["status"]) == (3, "ok")
    spans = read(db_path, "SELECT * FROM spans WHERE trace_id = ? ORDER BY started_at", (trace_id,))
    assert [s["name"] for s in spans] == ["root", "late child", "later grandchild"]
    assert trace["started_at"] == spans[0]["started_at"]
    ends = [s["started_at"] + s["duration_ms"] for s in spans]
    assert abs(trace["ended_at"] - max(ends)) < 1e-3 and max(ends) > ends[0]
    assert abs(trace["duration_ms"] - (trace["ended_at"] - trace["started_at"])) < 1e-6


def test_a_root_ending_in_a_later_batch_than_its_children_completes_the_trace(
    db_path: Path,
) -> None:
    writer = _writer(db_path)
    try:
        root = SpanRecord("request", None, None)
        writer.begin(root)
        child = SpanRecord("query", root, None)
        writer.begin(child)
        writer.end(child)
        assert writer.flush()  # the child alone: the trace row is named after the open root
        trace_id, root_id = _hex(root)
        first = trace_row(db_path, trace_id)
        assert (first["root_span_name"], first["status"], first["span_count"]) == (
            "request",
            "running",
            1,
        )
        writer.end(root)  # now the root is the first of its trace in its batch
        assert writer.flush()
    finally:
        writer.shutdown()
    trace = trace_row(db_path, trace_id)
    assert (trace["root_span_id"], trace["status"], trace["span_count"]) == (root_id, "ok", 2)
    span = read(db_path, "SELECT * FROM spans WHERE span_id = ?", (root_id,))[0]
    # Merged into the stored row, whose start the first batch derived from perf_counter (each
    # batch does: microseconds of jitter), and end - start of epoch milliseconds.
    assert abs(trace["started_at"] - span["started_at"]) < 0.1
    assert abs(trace["duration_ms"] - span["duration_ms"]) < 0.1


def test_a_root_written_as_running_is_counted_once_when_it_ends(db_path: Path) -> None:
    writer = _writer(db_path)
    try:
        root = SpanRecord("long job", None, None)
        writer.begin(root)
        trace_id, root_id = _hex(root)
        deadline = time.monotonic() + 5
        rows: list[dict[str, object]] = []
        while not rows and time.monotonic() < deadline:
            time.sleep(0.01)
            try:
                rows = read(db_path, "SELECT status FROM spans WHERE span_id = ?", (root_id,))
            except apsw.Error:  # not created, or not migrated, yet
                pass
        assert rows and rows[0]["status"] == "running"
        writer.end(root)
        assert writer.flush()
    finally:
        writer.shutdown()
    trace = trace_row(db_path, trace_id)
    assert (trace["span_count"], trace["status"]) == (1, "ok")
    assert (
        read(db_path, "SELECT status FROM spans WHERE span_id = ?", (root_id,))[0]["status"] == "ok"
    )


def test_the_queue_bound_counts_spans_and_logs_alike(db_path: Path) -> None:
    writer = _writer(db_path, max_queue=50, start=False)
    try:
        logger = logging.getLogger("lens_test.shapes")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.addHandler(LogHandler(store=writer))
        for i in range(40):
            record = SpanRecord(f"s{i}", None, None)
            writer.begin(record)
            writer.end(record)
            logger.info("log %d", i)
        assert (writer.queued, writer.dropped) == (50, 30)
        writer.start()
        assert writer.flush()
        logger.handlers.clear()
    finally:
        writer.shutdown()
    spans = scalar(db_path, "SELECT count(*) FROM spans")
    logs = scalar(db_path, "SELECT count(*) FROM logs")
    assert spans + logs == 50 and (spans, logs) == (25, 25)  # alternating, the first 50 kept
    assert read(db_path, "SELECT dropped FROM writers")[0]["dropped"] == 30


def test_a_batch_kept_through_a_lock_keeps_its_order_and_its_flush(db_path: Path) -> None:
    writer = _writer(db_path, busy_timeout_ms=20)
    try:
        warm = SpanRecord("warm", None, None)
        writer.begin(warm)
        writer.end(warm)
        assert writer.flush()
        blocker = apsw.Connection(str(db_path))
        blocker.execute("BEGIN EXCLUSIVE")
        released: list[bool] = []
        try:
            for i in range(20):
                record = SpanRecord(f"during {i}", None, None)
                writer.begin(record)
                writer.end(record)
                writer.log("info", f"during {i}")
            done = threading.Event()
            threading.Thread(target=lambda: (released.append(writer.flush(10)), done.set())).start()
            time.sleep(0.2)  # several locked cycles: the batch is kept, the flush waits on it
            assert not done.is_set() and writer.retrying == 40
        finally:
            blocker.execute("COMMIT")
            blocker.close()
        assert done.wait(10) and released == [True]
    finally:
        writer.shutdown()
    names = [r["name"] for r in read(db_path, "SELECT name FROM spans ORDER BY rowid")]
    assert names == ["warm", *(f"during {i}" for i in range(20))]
    assert [r["message"] for r in read(db_path, "SELECT message FROM logs ORDER BY id")] == [
        f"during {i}" for i in range(20)
    ]
    assert writer.dropped == 0
