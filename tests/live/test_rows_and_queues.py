"""The list's rows and the queue held while paused (merged, bounded), rates, single-flight jobs."""

from __future__ import annotations

from ui import fixture_db

from lens_tui.live.feed import Delta
from lens_tui.live.jobs import SingleFlight
from lens_tui.live.paused import PausedQueue
from lens_tui.live.rates import RateMeter
from lens_tui.live.trace_rows import TraceRows
from lens_tui.store.filters import TraceFilter
from lens_tui.store.records import LogRow, TraceSummary


def summary(n: int, started: float, name: str = "GET /", status: str = "ok") -> TraceSummary:
    return TraceSummary(
        trace_id=fixture_db.trace_id(n),
        root_span_name=name,
        source=None,
        service=None,
        started_at=started,
        ended_at=started + 1,
        duration_ms=1.0,
        span_count=1,
        error_count=1 if status == "error" else 0,
        status=status,
    )


def test_the_paused_queue_merges_and_stays_bounded() -> None:
    pending = PausedQueue(trace_cap=2, log_cap=3)
    logs = tuple(
        LogRow(id=i, trace_id=None, span_id=None, level="info", message=str(i), timestamp=i)
        for i in range(1, 6)
    )
    pending.add(Delta(traces=(summary(1, 1), summary(2, 2)), logs=logs[:2]))
    pending.add(Delta(traces=(summary(1, 1, "renamed"), summary(3, 3)), logs=logs[2:]))
    assert pending and pending.count == 3 + 5
    delta = pending.take()
    assert {t.trace_id: t.root_span_name for t in delta.traces} == {
        fixture_db.trace_id(3): "GET /",
        fixture_db.trace_id(2): "GET /",
    }
    assert [log.id for log in delta.logs] == [3, 4, 5]
    assert not pending and pending.count == 0


def test_trace_rows_keep_order_update_in_place_and_cap() -> None:
    rows = TraceRows(cap=3)
    everything = TraceFilter()
    assert rows.upsert([summary(1, 10), summary(2, 30), summary(3, 20)], everything) == 3
    assert [rows[i].started_at for i in range(3)] == [30, 20, 10]
    assert rows.upsert([summary(3, 20, "renamed")], everything) == 0
    assert rows[1].root_span_name == "renamed" and rows.index(fixture_db.trace_id(3)) == 1
    assert rows.upsert([summary(4, 40)], everything) == 1
    assert len(rows) == 3 and fixture_db.trace_id(1) not in rows  # the oldest fell off
    errors = TraceFilter(errors_only=True)
    rows.upsert([summary(2, 30, status="error"), summary(4, 40)], errors)
    assert fixture_db.trace_id(4) not in rows  # no longer matches: removed
    assert TraceFilter("CHECK").matches(summary(9, 1, "POST /checkout"))


def test_rate_meter() -> None:
    meter = RateMeter(window_ms=5_000)
    meter.add(0, 100)
    assert meter.rate(100) is None
    meter.add(1_000, 150)
    meter.add(2_000, 300)
    assert meter.rate(2_000) == 100.0
    assert meter.rate(60_000) == 0.0  # idle: the rate decays to zero
    meter.add(61_000, 10)  # retention pruned rows: starts over instead of going negative
    assert meter.rate(61_000) is None


def test_single_flight_folds_requests() -> None:
    started: list[bool] = []
    flight = SingleFlight(started.append)
    flight.request()
    flight.request()
    flight.request(force=True)
    assert started == [False]
    flight.done()
    assert started == [False, True]
    flight.done()
    assert started == [False, True] and not flight.running
