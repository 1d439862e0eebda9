"""The dashboard's data side on real SQLite files: tail marks, queued deltas, list rows, rates."""

from __future__ import annotations

from pathlib import Path

from lens_tui.store.filters import TraceFilter
from lens_tui.store.reader import TraceReader
from lens_tui.store.records import Delta, LogRow, TraceSummary
from lens_tui.ui.feed import Feed, OpenTrace, PendingDeltas, Readers
from lens_tui.ui.jobs import SingleFlight
from lens_tui.ui.rates import RateMeter
from lens_tui.ui.trace_rows import TraceRows

from . import fixture_db


def summary(n: int, started: float, name: str = "GET /", status: str = "ok") -> TraceSummary:
    return TraceSummary(
        trace_id=fixture_db.trace_id(n), root_span_name=name, source=None, service=None,
        started_at=started, ended_at=started + 1, duration_ms=1.0, span_count=1,
        error_count=1 if status == "error" else 0, status=status,
    )


def test_feed_snapshot_then_only_new_rows(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    feed = Feed(TraceReader(path))
    assert feed.try_open() is None
    snapshot = feed.snapshot()
    assert len(snapshot.traces) == 8 and snapshot.stats.dropped == 3
    assert feed.poll() is None  # nothing committed since
    new_id = fixture_db.add_trace(path, 60, "GET /new")
    delta = feed.poll()
    assert delta is not None
    assert [t.trace_id for t in delta.traces] == [new_id]
    assert [log.message for log in delta.logs] == ["GET /new handled"]
    assert delta.stats is not None and delta.stats.traces == 9
    assert feed.poll() is None
    feed.reader.close()


def test_feed_sees_a_replaced_file_and_waits_for_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    feed = Feed(TraceReader(path))
    assert feed.try_open() == "waiting for t.db…"
    fixture_db.build(path)
    assert feed.try_open() is None
    feed.snapshot()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"t.db{suffix}").unlink(missing_ok=True)
    conn = fixture_db.connect(path)
    fixture_db.insert_trace(conn, 70, fixture_db.T0, [fixture_db.S(0, None, "fresh", 0, 1)])
    conn.close()
    delta = feed.poll()
    assert delta is not None and delta.replaced
    snapshot = feed.snapshot()
    assert [t.root_span_name for t in snapshot.traces] == ["fresh"]
    feed.reader.close()


def test_open_trace_merges_live_spans(tmp_path: Path) -> None:
    path = fixture_db.build(tmp_path / "t.db")
    readers = Readers(path)
    opened = OpenTrace(fixture_db.trace_id(4))
    forest = opened.load(readers.get("trace"), fixture_db.NOW)
    assert len(forest) == 3 and forest.running == 2 and opened.version == 1
    assert opened.update(readers.get("trace"), None, fixture_db.NOW) is None
    conn = fixture_db.connect(path)
    conn.execute(
        "UPDATE spans SET duration_ms = 2000, status = 'ok', updated_at = ? WHERE span_id = ?",
        (fixture_db.NOW + 1, fixture_db.span_id(4, 2)),
    )
    conn.close()
    updated = opened.update(readers.get("trace"), None, fixture_db.NOW)
    assert updated is not None and updated.running == 1 and opened.version == 2
    readers.invalidate()
    assert opened.load(readers.get("trace"), fixture_db.NOW).running == 1
    readers.close_all()


def test_pending_deltas_merge_and_stay_bounded() -> None:
    pending = PendingDeltas(trace_cap=2, log_cap=3)
    logs = tuple(
        LogRow(id=i, trace_id=None, span_id=None, level="info", message=str(i), timestamp=i)
        for i in range(1, 6)
    )
    pending.add(Delta(traces=(summary(1, 1), summary(2, 2)), logs=logs[:2]))
    pending.add(Delta(traces=(summary(1, 1, "renamed"), summary(3, 3)), logs=logs[2:]))
    assert pending and pending.count == 3 + 5
    delta = pending.take()
    assert {t.trace_id: t.root_span_name for t in delta.traces} == {
        fixture_db.trace_id(3): "GET /", fixture_db.trace_id(2): "GET /",
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


def test_data_side_of_the_ui_does_not_import_textual() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import lens_tui.ui.feed, lens_tui.ui.flatten, lens_tui.humanize, lens_tui.ui.jobs\n"
        "import lens_tui.ui.rates, lens_tui.ui.trace_rows\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')], 'ui'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
