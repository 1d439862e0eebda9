"""`TraceReader.trace_keys` and `spans_at`: a trace's forest columns now, each span in full later."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lens_tui.store.connection import Read
from lens_tui.store.queries import spans as span_queries
from lens_tui.store.reader import TraceReader

from .conftest import TraceDb, make_original_layout, sid, tid


def test_trace_keys_match_trace_and_span_at_reads_each_span(db: TraceDb) -> None:
    db.trace(1, spans=4, errors=1)
    db.span(1, 2, name="late", started_at=30.0, parent=0)
    db.span(
        1,
        0,
        name="root",
        started_at=10.0,
        duration_ms=50.0,
        status="ok",
        attributes=json.dumps({"n": 3}),
    )
    db.span(1, 1, name="failing", started_at=20.0, parent=0, status="error", error_message="boom")
    db.span(1, 3, name="running", started_at=25.0, duration_ms=None, parent=0, status="running")
    db.span(2, 0, name="other trace")
    with TraceReader(db.path) as reader:
        detail = reader.trace(tid(1))
        summary, keys = reader.trace_keys(tid(1))
        assert summary == detail.summary
        assert keys.span_ids == [s.span_id for s in detail.spans]
        assert keys.parent_ids == [s.parent_span_id for s in detail.spans]
        assert list(keys.starts) == [s.started_at for s in detail.spans]
        assert keys.durations == [s.duration_ms for s in detail.spans]
        assert [int(r) for r in keys.rows] == [
            db.conn.execute("SELECT rowid FROM spans WHERE span_id = ?", (s.span_id,)).fetchall()[
                0
            ][0]
            for s in detail.spans
        ]
        # The same as the full read, span by span.
        read = reader.spans_at(keys.rows)
        assert [read[int(rowid)] for rowid in keys.rows] == list(detail.spans)
        # A later version of a span is what spans_at reads (checked through a second connection).
        db.conn.execute(
            "UPDATE spans SET duration_ms = 7.0, status = 'ok' WHERE span_id = ?", (sid(1, 3),)
        )
        rowid = keys.rows[keys.span_ids.index(sid(1, 3))]
        running = reader.spans_at([rowid])[int(rowid)]
        assert running is not None and (running.duration_ms, running.status) == (7.0, "ok")
        assert reader.spans_at([10_000]) == {}
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
        assert list(keys.starts) == [2000.0, 2005.0] and type(keys.starts[0]) is float
        read = reader.spans_at(keys.rows)
        assert [read[int(rowid)] for rowid in keys.rows] == list(detail.spans)
        _running, running_keys = reader.trace_keys(tid(4))
        assert running_keys.durations == [None]


def _row_path(reader: TraceReader, trace_id: str) -> tuple[object, ...]:
    """`trace_keys` through the row-per-span path (what `packed_keys` must agree with)."""
    packed = span_queries.packed_keys
    span_queries.packed_keys = lambda tx, trace_id: None  # type: ignore[assignment]
    try:
        return _packed_path(reader, trace_id)
    finally:
        span_queries.packed_keys = packed


def _packed_path(reader: TraceReader, trace_id: str) -> tuple[object, ...]:
    """`trace_keys` as plain values (rowids as ints), to compare the two paths."""
    summary, keys = reader.trace_keys(trace_id)
    return (
        summary,
        keys.span_ids,
        keys.parent_ids,
        list(keys.starts),
        keys.durations,
        [int(r) for r in keys.rows],
    )


def test_packed_keys_read_exactly_what_rows_do(
    db: TraceDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-row read of a trace's keys gives the very values the row-per-span read gives:
    full-precision epoch starts (offsets from the first, added back), integers as floats,
    NULL parents and running spans as None."""
    db.trace(1, spans=5)
    base = 1_795_310_547_744.7422
    db.span(1, 0, name="root", started_at=base, duration_ms=60_000.123456789)
    db.span(1, 1, started_at=base + 0.1, duration_ms=None, parent=0)
    db.span(1, 2, started_at=base + 1 / 3, duration_ms=0.30000000000000004, parent=1)
    db.span(1, 3, started_at=base + 1 / 3, duration_ms=5e-324, parent=1)  # a tie
    db.conn.execute(
        "UPDATE spans SET started_at = ?, duration_ms = 7 WHERE span_id = ?",
        (int(base) + 3, sid(1, 3)),
    )
    db.span(1, 4, started_at=base + 2, duration_ms=1.0, parent=99)  # an orphan
    with TraceReader(db.path) as reader:
        packed = span_queries.packed_keys
        calls: list[object] = []

        def spy(tx: Read, trace_id: str) -> object:
            calls.append(result := packed(tx, trace_id))
            return result

        monkeypatch.setattr(span_queries, "packed_keys", spy)
        assert _packed_path(reader, tid(1)) == _row_path(reader, tid(1))
        assert calls and calls[0] is not None  # the packed path did the read
        keys = reader.trace_keys(tid(1))[1]
        assert keys.starts[0] == base and keys.durations[1] is None and keys.parent_ids[0] is None


def test_odd_cells_fall_back_to_reading_rows(db: TraceDb) -> None:
    """Ids holding the separator, NULL and empty parents together, unparsable or infinite
    numbers, starts far apart: each gives the row path's values."""
    cases = {
        2: "UPDATE spans SET span_id = span_id || char(31) || 'x' WHERE span_id = :s1",
        3: "UPDATE spans SET parent_span_id = '' WHERE span_id = :s1",
        4: "UPDATE spans SET duration_ms = 'soon' WHERE span_id = :s1",
        5: "UPDATE spans SET duration_ms = 9e999 WHERE span_id = :s1",
        6: "UPDATE spans SET started_at = 9e999 WHERE span_id = :s1",
        7: "UPDATE spans SET started_at = 'nan' WHERE span_id = :s1",
        8: "UPDATE spans SET started_at = 0.5 WHERE span_id = :s1",
        9: "UPDATE spans SET span_id = 12345 WHERE span_id = :s1",
    }
    for n, statement in cases.items():
        db.trace(n, spans=3)
        db.span(n, 0, name="root", started_at=1_700_000_000_000.25, duration_ms=10.0)
        db.span(n, 1, started_at=1_700_000_000_001.5, duration_ms=2.0, parent=0)
        db.span(n, 2, started_at=1_700_000_000_002.75, duration_ms=None, parent=0)
        db.conn.execute(statement, {"s1": sid(n, 1)})
    with TraceReader(db.path) as reader:
        for n in cases:
            assert _packed_path(reader, tid(n)) == _row_path(reader, tid(n)), cases[n]
