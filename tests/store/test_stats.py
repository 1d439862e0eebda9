"""Route statistics from SQL, the latency sketch and the latency chart data, on real database
files, against answers computed independently in the test (sorted lists, nearest rank)."""

from __future__ import annotations

import math
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lens_tui.query import compile_trace_query
from lens_tui.store.filters import TraceFilter
from lens_tui.store.reader import TraceReader
from lens_tui.store.stats import (
    RELATIVE_ERROR,
    LogHistogram,
    RouteKey,
    RouteWhere,
    latency_heatmap,
    latency_points,
    region_of_points,
    route_stats,
)
from lens_tui.store.stats import sql as stats_sql
from lens_tui.store.stats.latency import duration_edges
from lens_tui.store.stats.sketch import bucket_of, nearest_rank

from . import stats_fixture as fx
from .conftest import TraceDb, make_original_layout

FIELDS = ("count", "running", "errors", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")


def _by_key(rows: list) -> dict[tuple, dict]:
    return {(r.key.service, r.key.name): r.as_dict() for r in rows}


def _check_exact(got: dict[tuple, dict], want: dict[tuple, dict]) -> None:
    assert set(got) == set(want)
    for key, expected in want.items():
        for field in FIELDS:
            assert got[key][field] == expected[field], (key, field)
        assert got[key]["rate_per_s"] == pytest.approx(expected["rate_per_s"], rel=1e-12)
        assert got[key]["error_rate"] == pytest.approx(expected["error_rate"], rel=1e-12)


@pytest.fixture
def known(db: TraceDb) -> TraceReader:
    """The known-durations database, opened by a reader."""
    fx.write(db, fx.known_rows())
    reader = TraceReader(db.path)
    reader.open()
    yield reader
    reader.close()


@pytest.fixture(params=["joined", "windowed"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways to the ranks: joined to a list of them, or one windowed statement (the way
    taken past RANKS_JOIN_MAX_GROUPS groups)."""
    if request.param == "windowed":
        monkeypatch.setattr(stats_sql, "RANKS_JOIN_MAX_GROUPS", 0)
    return request.param


@pytest.mark.parametrize("by", ["service,name", "service", "name"])
def test_exact_percentiles_counts_and_rates(known: TraceReader, by: str, plan: str) -> None:
    rows = route_stats(known, since_ms=fx.W0, until_ms=fx.W1, by=by)
    _check_exact(_by_key(rows), fx.expected(fx.known_rows(), by, fx.W0, fx.W1))
    assert [r.count for r in rows] == sorted((r.count for r in rows), reverse=True)


def test_known_answers_spelled_out(known: TraceReader) -> None:
    """The fixture's main route by hand: ten durations with ties, two running (one failed)."""
    got = _by_key(route_stats(known, since_ms=fx.W0, until_ms=fx.W1))
    a = got[("shop", "GET /a")]
    assert (a["count"], a["running"], a["errors"]) == (12, 2, 3)
    # 5 5 5 10 10 20 40 80 80 160: ranks 5, 9, 10, 10
    assert (a["p50_ms"], a["p90_ms"], a["p95_ms"], a["p99_ms"], a["max_ms"]) == (
        10,
        80,
        160,
        160,
        160,
    )
    one = got[("shop", "GET /b")]  # one finished trace and one of infinite duration
    assert (one["count"], one["running"], one["p50_ms"], one["p99_ms"]) == (2, 1, 7.0, 7.0)
    assert got[(None, "GET /a")]["p50_ms"] == 2.5
    assert got[("shop", "")]["max_ms"] == 0.0
    assert a["rate_per_s"] == pytest.approx(12 / 600)


def test_all_opens_at_the_first_matching_trace(known: TraceReader) -> None:
    rows = route_stats(known, since_ms=None, until_ms=fx.W1, by="name")
    _check_exact(_by_key(rows), fx.expected(fx.known_rows(), "name", None, fx.W1))


def test_a_filter_keeps_only_its_traces(known: TraceReader) -> None:
    rows = route_stats(known, since_ms=fx.W0, until_ms=fx.W1, where=TraceFilter(name="get /A"))
    kept = [r for r in fx.known_rows() if "get /a" in (r.name or "").casefold()]
    _check_exact(_by_key(rows), fx.expected(kept, "service,name", fx.W0, fx.W1))


def test_random_traces_against_an_independent_computation(db: TraceDb, plan: str) -> None:
    rows = fx.random_rows(3_000, seed=7)
    fx.write(db, rows)
    with TraceReader(db.path) as reader:
        for by in ("service,name", "service", "name"):
            got = route_stats(reader, since_ms=fx.W0 + 60_000, until_ms=fx.W1 - 60_000, by=by)
            _check_exact(_by_key(got), fx.expected(rows, by, fx.W0 + 60_000, fx.W1 - 60_000))


def test_an_empty_window_and_a_missing_file(known: TraceReader, tmp_path: Path) -> None:
    assert route_stats(known, since_ms=fx.W1 + 1, until_ms=fx.W1 + 2) == []
    path = tmp_path / "gone.db"
    make_original_layout(path, wal=False)
    reader = TraceReader(path)
    reader.open()
    path.unlink()
    reader.changed()  # notices the file is gone
    assert route_stats(reader, since_ms=None, until_ms=math.inf) == []
    reader.close()


def test_the_original_layout(tmp_path: Path) -> None:
    """No service, status or error count: errors come from the spans, running from NULL."""
    path = tmp_path / "lens.db"
    make_original_layout(path, wal=True)
    with TraceReader(path) as reader:
        rows = route_stats(reader, since_ms=None, until_ms=10_000.0, by="service")
    assert len(rows) == 1
    row = rows[0]
    assert (row.key.service, row.count, row.running, row.errors) == (None, 4, 1, 1)
    assert (row.p50_ms, row.max_ms) == (50.0, 50.0)


# --------------------------------------------------------------------------- the sketch


def test_nearest_rank_is_integer_exact() -> None:
    assert nearest_rank(0.95, 20) == 19  # 0.95 * 20 is 19.000000000000004 in floating point
    assert nearest_rank(0.99, 1) == 1
    assert nearest_rank(0.5, 10) == 5
    assert nearest_rank(0.9, 11) == 10


def test_sketch_quantiles_are_within_the_relative_error() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(2.0, 2.0) for _ in range(20_000)] + [0.0] * 50 + [7.5] * 300
    hist = LogHistogram()
    for v in values:
        hist.add(bucket_of(v))
    qs = (0.001, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0)
    for q, got in zip(qs, hist.quantiles(qs), strict=True):
        exact = (
            sorted(values)[math.ceil(q * len(values)) - 1] if q * len(values) >= 1 else min(values)
        )
        assert got == pytest.approx(exact, rel=RELATIVE_ERROR, abs=1e-3), q
    assert hist.max_value() == pytest.approx(max(values), rel=RELATIVE_ERROR)


def test_sketch_removal_and_subtraction_are_exact() -> None:
    rng = random.Random(5)
    kept = [rng.uniform(0.5, 5_000.0) for _ in range(2_000)]
    dropped = [rng.uniform(0.001, 90_000.0) for _ in range(500)]
    reference, edited, other = LogHistogram(), LogHistogram(), LogHistogram()
    for v in kept:
        reference.add(bucket_of(v))
        edited.add(bucket_of(v))
    for v in dropped:
        edited.add(bucket_of(v))
        other.add(bucket_of(v))
    merged = LogHistogram()
    merged.merge(edited)
    merged.merge(other, -1)
    for v in dropped:
        edited.add(bucket_of(v), -1)
    qs = (0.1, 0.5, 0.99)
    assert edited.quantiles(qs) == reference.quantiles(qs) == merged.quantiles(qs)
    assert edited.total == merged.total == len(kept)
    assert LogHistogram().quantiles(qs) == [None, None, None]


# --------------------------------------------------------------------------- chart data


def _latency_rows() -> list[fx.Row]:
    """One route whose durations span four decades, some failed, a few running."""
    rng = random.Random(11)
    rows = []
    for n in range(1, 801):
        duration = None if n % 97 == 0 else round(10 ** rng.uniform(0, 4), 3)
        rows.append(
            fx.Row(
                n,
                "shop",
                "GET /a",
                fx.W0 + rng.random() * 600_000.0,
                duration,
                "error" if rng.random() < 0.1 else "ok",
            )
        )
    rows += [fx.Row(900 + i, "shop", "GET /b", fx.W0 + i, 1.0) for i in range(5)]
    return rows


@pytest.fixture
def latency(db: TraceDb) -> TraceReader:
    """The one-route latency database (root spans too), opened by a reader."""
    fx.write(db, _latency_rows(), spans=True)
    reader = TraceReader(db.path)
    reader.open()
    yield reader
    reader.close()


KEY = RouteKey("service,name", "shop", "GET /a")


def test_heatmap_buckets_and_their_filters_select_exactly_the_same_traces(
    latency: TraceReader,
) -> None:
    heat = latency_heatmap(latency, KEY, since_ms=fx.W0, until_ms=fx.W1, columns=12, rows=8)
    rows = [r for r in _latency_rows() if r.name == "GET /a"]
    finished = [r for r in rows if not r.running]
    assert heat.log_scale and heat.running == len(rows) - len(finished)
    assert sum(map(sum, heat.counts)) == len(finished)
    listed = latency.recent_traces(100_000)
    by_id = {t.trace_id: t for t in listed}
    for row in range(8):
        for column in range(12):
            region = heat.cell(column, row)
            # The bucket, computed here from its edges.
            mine = {
                fx.tid(r.n)
                for r in finished
                if heat.time_edges[column] <= r.start < heat.time_edges[column + 1]
                and heat.duration_edges[row] <= r.duration < heat.duration_edges[row + 1]
            }
            assert heat.counts[row][column] == len(mine)
            assert heat.errors[row][column] == sum(
                1 for r in finished if fx.tid(r.n) in mine and r.failed
            )
            selected = {t.trace_id for t in latency.recent_traces(100_000, where=region)}
            assert selected == mine
            assert {i for i, t in by_id.items() if region.matches(t)} == mine


def test_a_region_of_many_buckets(latency: TraceReader) -> None:
    heat = latency_heatmap(latency, KEY, since_ms=fx.W0, until_ms=fx.W1, columns=10, rows=6)
    region = heat.region(7, 2, 4, 1)  # corners in either order
    want = sum(heat.counts[r][c] for r in range(1, 5) for c in range(2, 8))
    assert len(latency.recent_traces(100_000, where=region)) == want
    with pytest.raises(IndexError):
        heat.region(0, 10, 0, 0)


def test_scatter_points_oldest_first_newest_kept(latency: TraceReader) -> None:
    rows = sorted(
        (r for r in _latency_rows() if r.name == "GET /a" and not r.running), key=lambda r: r.start
    )
    points = latency_points(latency, KEY, since_ms=fx.W0, until_ms=fx.W1)
    assert points.starts_ms == tuple(r.start for r in rows)
    assert points.durations_ms == tuple(r.duration for r in rows)
    assert points.errors == tuple(r.failed for r in rows)
    assert not points.truncated and points.running == 8
    few = latency_points(latency, KEY, since_ms=fx.W0, until_ms=fx.W1, limit=10)
    assert few.truncated and few.starts_ms == tuple(r.start for r in rows[-10:])
    box = region_of_points(KEY, rows[20].start, rows[10].start, 5_000.0, 50.0)
    picked = {t.trace_id for t in latency.recent_traces(1000, where=box)}
    assert picked == {fx.tid(r.n) for r in rows[10:20] if 50.0 <= r.duration < 5_000.0}


def test_duration_edges_are_linear_within_two_decades() -> None:
    edges, log_scale = duration_edges(10.0, 90.0, 4)
    assert not log_scale and edges[0] == 10.0 and edges[-1] > 90.0
    assert edges[1] - edges[0] == pytest.approx(edges[-1] - edges[-2])
    edges, log_scale = duration_edges(0.0, 5_000.0, 5)
    assert log_scale and edges[0] == 0.0 and edges[-1] > 5_000.0
    assert all(b > a for a, b in zip(edges, edges[1:], strict=False))


def test_a_route_without_finished_traces_has_an_empty_heatmap(known: TraceReader) -> None:
    key = RouteKey("service,name", "nobody", "nothing")
    heat = latency_heatmap(known, key, since_ms=fx.W0, until_ms=fx.W1)
    assert heat.counts == () and heat.running == 0


@pytest.mark.parametrize(
    "key",
    [
        RouteKey("service,name", "shop", "GET /a"),
        RouteKey("service", None, None),
        RouteKey("name", None, ""),
        RouteKey("service,name", "pay", "GET /a"),
    ],
)
def test_a_route_as_the_trace_list_filter(known: TraceReader, key: RouteKey) -> None:
    """Drilling into a row: the route's traces, in SQL and on live rows alike."""
    where = RouteWhere(key)
    listed = known.recent_traces(100_000)
    selected = {t.trace_id for t in known.recent_traces(100_000, where=where)}
    assert selected == {t.trace_id for t in listed if where.matches(t)}
    want = {
        fx.tid(r.n)
        for r in fx.known_rows()
        if ("service" not in key.by or r.service == key.service)
        and (key.by == "service" or (r.name or "") == key.name)
    }
    assert selected == want and want


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["GET /a", "GET /b", "POST /c"]),
            st.one_of(st.none(), st.integers(0, 40).map(float), st.floats(0.0, 5_000.0)),
            st.booleans(),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_any_durations_against_nearest_rank(traces: list[tuple[str, float | None, bool]]) -> None:
    """Random small groups (many ties, single traces, only running ones): exact stats, and
    the sketch within its error of them."""
    rows = [
        fx.Row(n, "shop", name, fx.W0 + n, duration, "error" if failed else "ok")
        for n, (name, duration, failed) in enumerate(traces, start=1)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        db = TraceDb(Path(tmp) / "traces.db")
        fx.write(db, rows)
        with TraceReader(db.path) as reader:
            got = route_stats(reader, since_ms=fx.W0, until_ms=fx.W1)
        db.close()
    _check_exact(_by_key(got), fx.expected(rows, "service,name", fx.W0, fx.W1))
    for stats in got:
        hist = LogHistogram()
        for r in rows:
            if r.name == stats.key.name and not r.running:
                hist.add(bucket_of(r.duration))
        for estimate, exact in zip(
            hist.quantiles((0.5, 0.9, 0.95, 0.99)),
            (stats.p50_ms, stats.p90_ms, stats.p95_ms, stats.p99_ms),
            strict=True,
        ):
            if exact is None:
                assert estimate is None
            else:
                assert estimate == pytest.approx(exact, rel=RELATIVE_ERROR, abs=1e-3)


def test_a_region_and_a_route_as_query_text(latency: TraceReader) -> None:
    """The text a user can edit selects the same traces as the filter it stands for."""
    heat = latency_heatmap(
        latency, KEY, since_ms=fx.W0 + 0.4, until_ms=fx.W1 - 0.3, columns=9, rows=5
    )
    assert all(edge == int(edge) for edge in heat.time_edges)
    for region in (heat.cell(4, 2), heat.region(1, 7, 0, 3), heat.region(0, 8, 0, 4)):
        text = region.query_text()
        assert text.startswith('name = "GET /a" and service = "shop" and since ')
        query = compile_trace_query(text)
        by_query = {t.trace_id for t in latency.recent_traces(100_000, where=query)}
        by_region = {t.trace_id for t in latency.recent_traces(100_000, where=region)}
        assert by_query == by_region and by_region
    route = RouteWhere(KEY)
    assert route.query_text() == 'name = "GET /a" and service = "shop"'
    by_query = {
        t.trace_id
        for t in latency.recent_traces(100_000, where=compile_trace_query(route.query_text()))
    }
    assert by_query == {t.trace_id for t in latency.recent_traces(100_000, where=route)}
    assert RouteWhere(RouteKey("name", None, 'say "hi"')).query_text() == 'name = "say \\"hi\\""'
