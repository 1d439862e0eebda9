"""The live route aggregator against exact answers (SQL and independent computation), within
the sketch's stated relative error: seeded, fed by the tail, with rows that change, a sliding
window, filters, and a real writer adding traces while it runs."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from lens_tui import tracing
from lens_tui.store.filters import TraceFilter
from lens_tui.store.reader import TraceMark, TraceReader
from lens_tui.store.stats import (
    RELATIVE_ERROR,
    RouteAggregator,
    RouteKey,
    read_seed,
    route_stats,
)

from . import stats_fixture as fx
from .conftest import TraceDb, tid

BUCKET_MS = 10_000.0
NOW = fx.W1 - 1.0
"""A clock inside the window's last 10 s bucket: a 60-bucket window then opens at W0."""
PCT_FIELDS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")


def _aggregator(**options: object) -> RouteAggregator:
    return RouteAggregator(bucket_ms=BUCKET_MS, window_buckets=60, **options)  # type: ignore[arg-type]


def _compare(live: list, exact: list) -> None:
    """Counts equal, rates equal, percentiles within the sketch's relative error."""
    got = {(r.key.service, r.key.name): r for r in live}
    want = {(r.key.service, r.key.name): r for r in exact}
    assert set(got) == set(want)
    for key, e in want.items():
        g = got[key]
        assert (g.count, g.running, g.errors) == (e.count, e.running, e.errors), key
        assert g.rate_per_s == pytest.approx(e.rate_per_s, rel=1e-5)  # window ends 1 ms apart
        for field in PCT_FIELDS:
            exact_value = getattr(e, field)
            if exact_value is None:
                assert getattr(g, field) is None
            else:
                assert getattr(g, field) == pytest.approx(exact_value, rel=RELATIVE_ERROR, abs=1e-3)


def _tail_all(reader: TraceReader, mark: TraceMark) -> tuple[list, TraceMark]:
    rows: list = []
    while True:
        batch, mark = reader.traces_since(mark)
        if not batch:
            return rows, mark
        rows.extend(batch)


def _exact(reader: TraceReader, **kw: object) -> list:
    return route_stats(reader, since_ms=fx.W0, until_ms=fx.W1, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("by", ["service,name", "service", "name"])
def test_seeded_aggregator_matches_the_exact_stats(db: TraceDb, by: str) -> None:
    rows = fx.random_rows(4_000, seed=21) + fx.known_rows()
    fx.write(db, [r for r in rows if r.start < fx.W1])
    agg = _aggregator(by=by)
    with TraceReader(db.path) as reader:
        seed = read_seed(
            reader,
            by=by,
            bucket_ms=BUCKET_MS,
            since_ms=agg.window_start_ms(NOW),
            changed_since_ms=NOW - 60_000,
        )
        agg.seed(seed, NOW)
        _compare(agg.rows(NOW), _exact(reader, by=by))


def test_aggregator_fed_by_the_tail_matches_the_exact_stats(db: TraceDb) -> None:
    """Rows arrive in start order, a tick's worth at a time, as from a live writer."""
    rows = [r for r in fx.random_rows(3_000, seed=4) + fx.known_rows() if r.start < fx.W1]
    rows.sort(key=lambda r: r.start)
    agg = _aggregator()
    with TraceReader(db.path) as reader:
        mark = reader.current_trace_mark()
        for at in range(0, len(rows), 50):
            chunk = rows[at : at + 50]
            fx.write(db, chunk, updated_at=chunk[-1].start + 1.0)
            batch, mark = _tail_all(reader, mark)
            agg.apply(batch, chunk[-1].start + 1.0)
        _compare(agg.rows(NOW), _exact(reader))
    assert agg.uncertain == 0


def _update(
    db: TraceDb, n: int, *, duration: float | None, status: str, errors: int, stamp: float
) -> None:
    db.conn.execute(
        "UPDATE traces SET duration_ms = ?, status = ?, error_count = ?, updated_at = ?"
        " WHERE trace_id = ?",
        (duration, status, errors, stamp, tid(n)),
    )


def test_a_running_trace_that_finishes_and_then_fails_is_counted_once(db: TraceDb) -> None:
    fx.write(
        db,
        [
            fx.Row(1, "shop", "GET /a", fx.W0 + 5.0, None),
            fx.Row(2, "shop", "GET /a", fx.W0 + 6.0, 30.0),
        ],
        updated_at=fx.W0 + 10,
    )
    agg = _aggregator()
    key = RouteKey("service,name", "shop", "GET /a")
    with TraceReader(db.path) as reader:
        mark = TraceMark()
        batch, mark = _tail_all(reader, mark)
        agg.apply(batch, NOW)
        (row,) = agg.rows(NOW)
        assert (row.key, row.count, row.running, row.errors, row.max_ms) == (
            key,
            2,
            1,
            0,
            pytest.approx(30.0, rel=RELATIVE_ERROR),
        )
        _update(db, 1, duration=500.0, status="ok", errors=0, stamp=fx.W0 + 20)
        batch, mark = _tail_all(reader, mark)
        assert [t.trace_id for t in batch] == [tid(1)]
        agg.apply(batch, NOW)
        (row,) = agg.rows(NOW)
        assert (row.count, row.running, row.errors) == (2, 0, 0)
        assert row.max_ms == pytest.approx(500.0, rel=RELATIVE_ERROR)
        _update(db, 1, duration=520.0, status="error", errors=1, stamp=fx.W0 + 30)
        batch, mark = _tail_all(reader, mark)
        agg.apply(batch, NOW)
        agg.apply(batch, NOW)  # the same change delivered twice
        (row,) = agg.rows(NOW)
        assert (row.count, row.running, row.errors) == (2, 0, 1)
        _compare(agg.rows(NOW), _exact(reader))
        series = agg.series(key)
        assert sum(series.errors) == 1 and len(series.starts_ms) == 60


def test_rows_leave_as_the_window_slides(db: TraceDb) -> None:
    rows = fx.random_rows(2_000, seed=9)
    fx.write(db, rows)
    agg = _aggregator()
    with TraceReader(db.path) as reader:
        batch, _mark = _tail_all(reader, TraceMark())
        agg.apply(batch, NOW)
        later = NOW + 120_000.0  # 12 buckets on: the window opens at W0 + 120 s
        agg.advance(later)
        exact = route_stats(reader, since_ms=fx.W0 + 120_000.0, until_ms=later)
    assert agg.window_start_ms(later) == fx.W0 + 120_000.0
    _compare(agg.rows(later), exact)
    agg.advance(fx.W1 + 3_600_000.0)
    assert agg.rows() == [] and agg.tracked == 0


def test_a_row_the_filter_stops_keeping_is_taken_out(db: TraceDb) -> None:
    """At least 100 ms: a trace running for 200 ms is kept; finished at 50 ms it is not."""
    slow = TraceFilter(min_duration_ms=100.0)
    agg = _aggregator(where=slow)
    clock = fx.W0 + 205.0
    fx.write(
        db,
        [
            fx.Row(1, "shop", "GET /a", fx.W0 + 5.0, None),
            fx.Row(2, "shop", "GET /a", fx.W0 + 6.0, 150.0),
            fx.Row(3, "shop", "GET /a", fx.W0 + 7.0, 20.0),
        ],
        updated_at=fx.W0 + 1,
    )
    with TraceReader(db.path) as reader:
        batch, mark = _tail_all(reader, TraceMark())
        agg.apply(batch, clock)
        assert [(r.count, r.running) for r in agg.rows(clock)] == [(2, 1)]
        _update(db, 1, duration=50.0, status="ok", errors=0, stamp=fx.W0 + 2)
        batch, mark = _tail_all(reader, mark)
        agg.apply(batch, clock)
        assert [(r.count, r.running) for r in agg.rows(clock)] == [(1, 0)]
        exact = route_stats(
            reader,
            since_ms=agg.window_start_ms(clock),
            until_ms=clock + 1,
            where=slow,
            now_ms=clock,
        )
    assert [(r.count, r.running) for r in exact] == [(1, 0)]


def test_a_change_after_the_settle_time_is_flagged(db: TraceDb) -> None:
    agg = _aggregator(settle_ms=1_000.0)
    fx.write(db, [fx.Row(1, "shop", "GET /a", fx.W0, 10.0)], updated_at=fx.W0)
    with TraceReader(db.path) as reader:
        batch, mark = _tail_all(reader, TraceMark())
        agg.apply(batch, fx.W0 + 100.0)
        assert agg.tracked == 1
        agg.apply([], fx.W0 + 5_000.0)  # settled: forgotten
        assert agg.tracked == 0 and agg.uncertain == 0
        _update(db, 1, duration=12.0, status="ok", errors=0, stamp=fx.W0 + 6_000)
        batch, mark = _tail_all(reader, mark)
        agg.apply(batch, fx.W0 + 6_000.0)
    assert agg.uncertain == 1  # counted again, and said so


def test_series_per_bucket_rates_and_p95(db: TraceDb) -> None:
    rows = [r for r in fx.random_rows(3_000, seed=13) if r.service == "shop" and r.name == "GET /a"]
    fx.write(db, rows)
    agg = _aggregator()
    key = RouteKey("service,name", "shop", "GET /a")
    with TraceReader(db.path) as reader:
        batch, _ = _tail_all(reader, TraceMark())
    agg.apply(batch, NOW)
    series = agg.series(key)
    assert series.starts_ms[0] == fx.W0 and len(series.starts_ms) == 60
    for i, start in enumerate(series.starts_ms):
        inside = [r for r in rows if start <= r.start < start + BUCKET_MS]
        span_s = BUCKET_MS / 1000.0 if i < 59 else (NOW - start) / 1000.0
        assert series.rate_per_s[i] == pytest.approx(len(inside) / span_s)
        exact = fx.nearest_rank([r.duration for r in inside if not r.running], 95)
        assert series.p95_ms[i] == pytest.approx(exact or 0.0, rel=RELATIVE_ERROR, abs=1e-3)


def test_rows_ahead_of_the_clock_count_in_the_live_window(db: TraceDb) -> None:
    agg = _aggregator()
    fx.write(db, [fx.Row(1, "shop", "GET /a", NOW + 30_000.0, 10.0)])
    with TraceReader(db.path) as reader:
        batch, _ = _tail_all(reader, TraceMark())
    agg.apply(batch, NOW)
    assert [r.count for r in agg.rows(NOW)] == [1]


def test_memory_stays_bounded_under_a_long_stream() -> None:
    """Three hours of rows through a 15-minute window: what is held depends on the window and
    the settle time, never on how many traces went through."""
    from lens_tui.store.records import TraceSummary

    agg = RouteAggregator(bucket_ms=15_000.0, window_buckets=60, settle_ms=5_000.0)
    start = 1_800_000_000_000.0
    n = 0
    starts: list[float] = []
    for tick in range(0, 3 * 3600, 60):  # one batch a minute of 1,000 rows
        now = start + tick * 1000.0
        batch = []
        for i in range(1_000):
            n += 1
            batch.append(
                TraceSummary(
                    trace_id=f"{n:032x}",
                    root_span_name=f"GET /{n % 7}",
                    source=None,
                    service="s",
                    started_at=now - 60_000.0 + i * 60.0,
                    ended_at=None,
                    duration_ms=1.0 + n % 500,
                    span_count=1,
                    error_count=0,
                    status="ok",
                )
            )
        agg.apply(batch, now)
        starts = [*starts[-60_000:], *(t.started_at for t in batch)]
    assert n == 180_000
    assert agg.tracked <= 1_000  # only the last tick's rows are still settling
    assert len(agg.keys()) == 7
    series = agg.series(agg.keys()[0])
    assert len(series.starts_ms) == 60
    opened = agg.window_start_ms(now)
    assert sum(r.count for r in agg.rows()) == sum(1 for t in starts if t >= opened)


def test_a_real_writer_adding_traces_while_tailing(tmp_path: Path) -> None:
    """lens_tui.tracing writes traces (some running across flushes, some failing late); the
    aggregator fed by the tail ends equal to a recount, with the seed read after the mark."""
    db = tmp_path / "traces.db"
    tracing.configure(db, service="shop", flush_interval=0.02)
    try:
        with tracing.span("GET /warm"):
            pass
        tracing.flush()
        reader = TraceReader(db)
        reader.open()
        now = time.time() * 1000.0
        agg = RouteAggregator(bucket_ms=1_000.0, window_buckets=600)
        mark = reader.current_trace_mark()
        agg.seed(
            read_seed(
                reader,
                by="service,name",
                bucket_ms=1_000.0,
                since_ms=agg.window_start_ms(now),
                changed_since_ms=now - 60_000,
            ),
            now,
        )
        for round_ in range(4):
            with tracing.span("GET /slow"):
                time.sleep(0.08)  # written as running first
                tracing.flush()
                batch, mark = reader.traces_since(mark)
                agg.apply(batch, time.time() * 1000.0)
                if round_ % 2:
                    try:
                        with tracing.span("db.query"):
                            raise RuntimeError("boom")
                    except RuntimeError:
                        pass
            for _ in range(5):
                with tracing.span("GET /fast"):
                    pass
            tracing.flush()
            batch, mark = reader.traces_since(mark)
            agg.apply(batch, time.time() * 1000.0)
        now = time.time() * 1000.0
        live = agg.rows(now)
        exact = route_stats(reader, since_ms=agg.window_start_ms(now), until_ms=now + 1)
        reader.close()
    finally:
        tracing.shutdown()
    got = {r.key.name: (r.count, r.running, r.errors) for r in live}
    assert got == {r.key.name: (r.count, r.running, r.errors) for r in exact}
    assert got == {"GET /warm": (1, 0, 0), "GET /slow": (4, 0, 2), "GET /fast": (20, 0, 0)}
    for r, e in zip(
        sorted(live, key=lambda r: r.key.name), sorted(exact, key=lambda r: r.key.name), strict=True
    ):
        assert r.p99_ms == pytest.approx(e.p99_ms, rel=RELATIVE_ERROR, abs=1e-3)
    assert math.isfinite(live[0].rate_per_s)


def test_the_overview_windows() -> None:
    assert RouteAggregator.for_window("15m").window_ms == 900_000.0
    assert RouteAggregator.for_window("24h").window_ms == 86_400_000.0
    every = RouteAggregator.for_window("all")
    assert every.window_ms is None and every.window_start_ms(fx.W1) is None
    with pytest.raises(KeyError):
        RouteAggregator.for_window("3 weeks")
