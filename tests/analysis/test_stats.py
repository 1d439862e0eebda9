"""Trace statistics and self time against a brute-force reference computed without a forest."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lens_tui.analysis.columns import SpanLabels, span_ends
from lens_tui.analysis.stats import SORT_KEYS, self_times_at, sort_rows, trace_statistics

from .spans import T0, Sp, brute_end, brute_self_times, chain, forest_of

NAMES = ("db", "cache", "http", "render")
SERVICES = ("api", "worker", None)


@st.composite
def traces(draw: st.DrawFn) -> tuple[list[Sp], float]:
    """A random trace: overlapping and repeated children, children starting before their
    parent or outliving it, running spans, orphans (a parent id not in the trace)."""
    count = draw(st.integers(1, 30))
    spans: list[Sp] = []
    for i in range(count):
        kind = draw(st.sampled_from(("child", "child", "child", "root", "orphan"))) if i else "root"
        if kind == "child":
            parent = spans[draw(st.integers(0, i - 1))]
            reach = parent.duration if parent.duration is not None else 40.0
            start = parent.start + draw(st.integers(-3, int(reach) + 10))
            parent_id: str | None = parent.id
        else:
            start = float(draw(st.integers(0, 100)))
            parent_id = None if kind == "root" else f"missing{i}"
        duration = draw(st.one_of(st.none(), st.integers(0, 60).map(float)))
        spans.append(
            Sp(
                f"s{i:03d}",
                parent_id,
                draw(st.sampled_from(NAMES)),
                float(start),
                duration,
                draw(st.sampled_from(SERVICES)),
            )
        )
    latest = max(brute_end(s, 0.0) for s in spans)
    now = latest + draw(st.integers(0, 50))
    return spans, float(now)


@settings(max_examples=300, deadline=None)
@given(traces())
def test_self_times_match_the_brute_force_union(case: tuple[list[Sp], float]) -> None:
    spans, now = case
    forest, _labels = forest_of(spans, now)
    own = self_times_at(forest, span_ends(forest, T0 + now))
    expected = brute_self_times(spans, now)
    for node, span_id in enumerate(forest.span_ids):
        assert own[node] == pytest.approx(expected[span_id], abs=1e-6), span_id


@settings(max_examples=200, deadline=None)
@given(traces())
def test_statistics_match_a_brute_force_grouping(case: tuple[list[Sp], float]) -> None:
    spans, now = case
    forest, labels = forest_of(spans, now)
    stats = trace_statistics(forest, labels, T0 + now)
    own = brute_self_times(spans, now)
    groups: dict[tuple[str | None, str], list[Sp]] = defaultdict(list)
    for s in spans:
        groups[(s.service, s.name)].append(s)
    trace_ms = max(brute_end(s, now) for s in spans) - min(s.start for s in spans)
    assert stats.trace_ms == pytest.approx(trace_ms)
    assert stats.span_count == len(spans)
    assert {(r.service, r.name) for r in stats.rows} == set(groups)
    for row in stats.rows:
        members = groups[(row.service, row.name)]
        lengths = [brute_end(s, now) - s.start for s in members]
        assert row.count == len(members)
        assert row.total_ms == pytest.approx(sum(lengths))
        assert row.min_ms == pytest.approx(min(lengths))
        assert row.max_ms == pytest.approx(max(lengths))
        assert row.avg_ms == pytest.approx(sum(lengths) / len(members))
        assert row.self_ms == pytest.approx(sum(own[s.id] for s in members), abs=1e-6)
        assert row.running == sum(1 for s in members if s.duration is None)
        assert row.share == pytest.approx(row.self_ms / trace_ms if trace_ms else 0.0)
        assert sorted(forest.span_ids[n] for n in row.nodes) == sorted(s.id for s in members)
    selfs = [row.self_ms for row in stats.rows]
    assert selfs == sorted(selfs, reverse=True)


def test_overlapping_children_are_counted_once() -> None:
    forest, labels = forest_of(
        [
            Sp("r", None, "root", 0, 100),
            Sp("a", "r", "db", 10, 40),  # 10..50
            Sp("b", "r", "db", 20, 20),  # 20..40, inside a
            Sp("c", "r", "db", 45, 15),  # 45..60, overlaps a's end
        ]
    )
    stats = trace_statistics(forest, labels)
    by_name = {row.name: row for row in stats.rows}
    assert by_name["root"].self_ms == pytest.approx(100 - 50)  # covered 10..60
    assert by_name["db"].count == 3
    assert by_name["db"].total_ms == pytest.approx(75)
    assert by_name["db"].self_ms == pytest.approx(75)  # leaves own all their time
    assert stats.rows[0].name == "db"  # sorted by self time


def test_async_children_outliving_the_parent_are_clipped() -> None:
    forest, labels = forest_of(
        [
            Sp("r", None, "request", 0, 50),
            Sp("q", "r", "enqueue", 40, 200),  # runs on long after the request answered
            Sp("e", "r", "early", -5, 10),  # clock skew: starts before its parent
        ]
    )
    stats = trace_statistics(forest, labels)
    by_name = {row.name: row for row in stats.rows}
    assert by_name["request"].self_ms == pytest.approx(50 - 10 - 5)  # 0..5 and 40..50 covered
    assert by_name["enqueue"].self_ms == pytest.approx(200)
    assert stats.trace_ms == pytest.approx(245)  # -5 .. 240


def test_running_spans_count_until_now() -> None:
    spans = [
        Sp("r", None, "job", 0, None),
        Sp("a", "r", "step", 10, 20),
        Sp("b", "r", "step", 50, None),
    ]
    forest, labels = forest_of(spans, now=100)
    stats = trace_statistics(forest, labels, T0 + 100)
    by_name = {row.name: row for row in stats.rows}
    assert by_name["job"].total_ms == pytest.approx(100)
    assert by_name["job"].self_ms == pytest.approx(100 - 20 - 50)
    assert by_name["job"].running == 1
    assert by_name["step"].total_ms == pytest.approx(20 + 50)
    assert by_name["step"].running == 1
    later = trace_statistics(forest, labels, T0 + 200)
    assert {row.name: row.total_ms for row in later.rows}["job"] == pytest.approx(200)


def test_orphans_are_roots_with_all_their_own_time() -> None:
    forest, labels = forest_of(
        [
            Sp("r", None, "root", 0, 100),
            Sp("o", "gone", "orphan", 10, 30),
            Sp("k", "o", "kid", 15, 10),
        ]
    )
    stats = trace_statistics(forest, labels)
    by_name = {row.name: row for row in stats.rows}
    assert by_name["root"].self_ms == pytest.approx(100)  # the orphan is not its child
    assert by_name["orphan"].self_ms == pytest.approx(20)
    assert sum(row.share for row in stats.rows) == pytest.approx(130 / 100)


def test_a_chain_ten_thousand_deep() -> None:
    forest, labels = forest_of(chain(10_000))
    stats = trace_statistics(forest, labels)
    (row,) = stats.rows
    assert row.count == 10_000
    assert row.self_ms == pytest.approx(9_999 * 1.0 + 10_001)
    assert row.max_ms == pytest.approx(20_000)


def test_groups_keep_service_and_name_apart() -> None:
    forest, labels = forest_of(
        [
            Sp("r", None, "GET /", 0, 10, "edge"),
            Sp("a", "r", "GET /", 1, 5, "api"),
            Sp("b", "r", "query", 2, 1, "api"),
        ]
    )
    stats = trace_statistics(forest, labels)
    assert sorted((row.service or "", row.name) for row in stats.rows) == [
        ("api", "GET /"),
        ("api", "query"),
        ("edge", "GET /"),
    ]


def test_every_sort_key_orders_the_rows() -> None:
    forest, labels = forest_of(
        [
            Sp("r", None, "root", 0, 100, "b-svc"),
            Sp("a", "r", "alpha", 0, 10, "a-svc"),
            Sp("b", "r", "beta", 10, 30, "c-svc"),
            Sp("c", "r", "beta", 40, 5, "c-svc"),
            Sp("d", "r", "gamma", 50, 20, "a-svc"),
        ]
    )
    rows = trace_statistics(forest, labels).rows
    columns = {
        "self": "self_ms",
        "share": "self_ms",
        "total": "total_ms",
        "count": "count",
        "avg": "avg_ms",
        "min": "min_ms",
        "max": "max_ms",
    }
    for key in SORT_KEYS:
        ordered = sort_rows(rows, key)
        if key in columns:
            values = [getattr(r, columns[key]) for r in ordered]
            assert values == sorted(values, reverse=True), key
            ascending = [getattr(r, columns[key]) for r in sort_rows(rows, key, descending=False)]
            assert ascending == sorted(values), key
        else:
            values = [getattr(r, key) for r in ordered]
            assert values == sorted(values), key
    assert [r.name for r in sort_rows(rows, "total")] == ["root", "beta", "gamma", "alpha"]
    with pytest.raises(ValueError, match="cannot sort"):
        sort_rows(rows, "colour")


def test_labels_must_fit_the_forest() -> None:
    forest, _labels = forest_of([Sp("r", None, "root", 0, 1)])
    with pytest.raises(ValueError, match="labels"):
        trace_statistics(forest, SpanLabels([], []))


def test_an_empty_trace_has_no_rows() -> None:
    forest, labels = forest_of([])
    stats = trace_statistics(forest, labels)
    assert stats.rows == () and stats.trace_ms == 0.0 and stats.span_count == 0
