"""`TraceReader.trace_keys` and `span_at`: a trace's forest columns now, each span in full later."""

from __future__ import annotations

import json
from pathlib import Path

from lens_tui.store.reader import TraceReader

from .conftest import TraceDb, make_original_layout, sid, tid


def test_trace_keys_match_trace_and_span_at_reads_each_span(db: TraceDb) -> None:
    db.trace(1, spans=4, errors=1)
    db.span(1, 2, name="late", started_at=30.0, parent=0)
    db.span(1, 0, name="root", started_at=10.0, duration_ms=50.0, status="ok",
            attributes=json.dumps({"n": 3}))
    db.span(1, 1, name="failing", started_at=20.0, parent=0, status="error",
            error_message="boom")
    db.span(1, 3, name="running", started_at=25.0, duration_ms=None, parent=0,
            status="running")
    db.span(2, 0, name="other trace")
    with TraceReader(db.path) as reader:
        detail = reader.trace(tid(1))
        summary, keys = reader.trace_keys(tid(1))
        assert summary == detail.summary
        assert keys.span_ids == [s.span_id for s in detail.spans]
        assert keys.parent_ids == [s.parent_span_id for s in detail.spans]
        assert keys.starts == [s.started_at for s in detail.spans]
        assert keys.durations == [s.duration_ms for s in detail.spans]
        assert all(type(rowid) is int for rowid in keys.rows)
        # The same as the full read, span by span.
        assert [reader.span_at(rowid) for rowid in keys.rows] == list(detail.spans)
        # A later version of a span is what span_at reads (checked through a second connection).
        db.conn.execute(
            "UPDATE spans SET duration_ms = 7.0, status = 'ok' WHERE span_id = ?", (sid(1, 3),)
        )
        running = reader.span_at(keys.rows[keys.span_ids.index(sid(1, 3))])
        assert running is not None and (running.duration_ms, running.status) == (7.0, "ok")
        assert reader.span_at(10_000) is None
        assert reader.trace_keys(tid(99)) == (None, reader.trace_keys(tid(98))[1])
        assert reader.trace_keys(tid(99))[1].span_ids == []


def test_trace_keys_on_the_original_layout(tmp_path: Path) -> None:
    path = tmp_path / "lens.db"
    make_original_layout(path, wal=True)
    with TraceReader(path) as reader:
        detail = reader.trace(tid(2))
        summary, keys = reader.trace_keys(tid(2))
        # Counts computed from the spans, integer times read as floats.
        assert summary == detail.summary
        assert summary is not None and (summary.span_count, summary.error_count) == (2, 1)
        assert keys.starts == [2000.0, 2005.0] and type(keys.starts[0]) is float
        assert [reader.span_at(rowid) for rowid in keys.rows] == list(detail.spans)
        _running, running_keys = reader.trace_keys(tid(4))
        assert running_keys.durations == [None]
