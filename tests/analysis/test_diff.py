"""The diff of two traces: added, removed, reordered and repeated spans, against a per-span
brute-force key computed without the diff's pairing walk."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from lens_tui.analysis.diff import TraceDiff, diff_traces

from .spans import T0, Sp, brute_end, brute_keys, chain, forest_of
from .test_stats import traces

BASE = [
    Sp("r", None, "GET /", 0, 100),
    Sp("q1", "r", "query", 10, 20),
    Sp("q2", "r", "query", 40, 10),
    Sp("c", "r", "cache", 55, 5),
    Sp("x", "c", "redis", 56, 3),
]


def diff_of(a: list[Sp], b: list[Sp], now: float | None = None) -> TraceDiff:
    fa, la = forest_of(a, now)
    fb, lb = forest_of(b, now)
    return diff_traces(fa, la, fb, lb, None if now is None else T0 + now)


def rows_by_key(diff: TraceDiff) -> dict[tuple[tuple[str, int], ...], int]:
    return {tuple(diff.key(i)): i for i in range(len(diff))}


@settings(max_examples=200, deadline=None)
@given(traces(), traces())
def test_rows_are_the_union_of_both_traces_keys(
    case_a: tuple[list[Sp], float], case_b: tuple[list[Sp], float]
) -> None:
    (a, now_a), (b, now_b) = case_a, case_b
    now = max(now_a, now_b)
    b = [
        Sp(
            "b" + s.id,
            None if s.parent is None else "b" + s.parent,
            s.name,
            s.start,
            s.duration,
            s.service,
        )
        for s in b
    ]
    diff = diff_of(a, b, now)
    keys_a, keys_b = brute_keys(a), brute_keys(b)
    found = rows_by_key(diff)
    assert set(found) == set(keys_a) | set(keys_b)
    assert len(found) == len(diff)  # no key twice
    for key, index in found.items():
        row = diff.rows[index]
        span_a, span_b = keys_a.get(key), keys_b.get(key)
        assert row.only_in == (None if span_a and span_b else ("a" if span_a else "b"))
        assert row.a_ms == (
            None if span_a is None else pytest.approx(brute_end(span_a, now) - span_a.start)
        )
        assert row.b_ms == (
            None if span_b is None else pytest.approx(brute_end(span_b, now) - span_b.start)
        )
        expected = (row.b_ms or 0.0) - (row.a_ms or 0.0)
        assert row.delta_ms == pytest.approx(expected)
        assert row.depth == len(key) - 1
        # Pre-order: a row's parent row holds the key one shorter, and comes before it.
        if row.parent >= 0:
            assert row.parent < index and tuple(diff.key(row.parent)) == key[:-1]
        else:
            assert len(key) == 1


def test_identical_traces_pair_every_span() -> None:
    diff = diff_of(BASE, BASE)
    assert diff.counts() == (5, 0, 0)
    assert all(row.delta_ms == 0 and row.only_in is None for row in diff.rows)
    assert [diff.path(i) for i in range(len(diff))] == [
        ["GET /"],
        ["GET /", "query"],
        ["GET /", "query"],
        ["GET /", "cache"],
        ["GET /", "cache", "redis"],
    ]
    assert [row.occurrence for row in diff.rows] == [0, 0, 1, 0, 0]


def test_added_and_removed_spans_are_marked_with_their_subtrees() -> None:
    b = [s for s in BASE if s.id not in ("c", "x")] + [
        Sp("h", "r", "http", 60, 30),
        Sp("h1", "h", "dns", 60, 2),
    ]
    diff = diff_of(BASE, b)
    marks = {" > ".join(diff.path(i)): diff.rows[i].only_in for i in range(len(diff))}
    assert marks == {
        "GET /": None,
        "GET / > query": None,
        "GET / > cache": "a",
        "GET / > cache > redis": "a",
        "GET / > http": "b",
        "GET / > http > dns": "b",
    }
    assert diff.counts() == (3, 2, 2)
    http = next(r for r in diff.rows if r.name == "http")
    assert http.a_ms is None and http.b_ms == 30 and http.delta_ms == 30
    cache = next(r for r in diff.rows if r.name == "cache")
    assert cache.b_ms is None and cache.delta_ms == -5


def test_reordered_siblings_pair_by_name_not_position() -> None:
    b = [
        Sp("r", None, "GET /", 0, 100),
        Sp("c", "r", "cache", 5, 8),  # now first
        Sp("x", "c", "redis", 6, 3),
        Sp("q1", "r", "query", 20, 25),
        Sp("q2", "r", "query", 50, 10),
    ]
    diff = diff_of(BASE, b)
    assert diff.counts() == (5, 0, 0)
    cache = next(r for r in diff.rows if r.name == "cache")
    assert (cache.a_ms, cache.b_ms, cache.delta_ms) == (5, 8, 3)
    # The merged tree lists children by their earliest start on either side (the same order
    # whichever trace is A).
    assert [r.name for r in diff.rows] == ["GET /", "cache", "redis", "query", "query"]
    assert [r.name for r in diff_of(b, BASE).rows] == ["GET /", "cache", "redis", "query", "query"]


def test_repeated_spans_pair_in_start_order_and_extra_ones_stand_alone() -> None:
    b = BASE + [Sp("q3", "r", "query", 70, 12)]
    diff = diff_of(BASE, b)
    queries = [r for r in diff.rows if r.name == "query"]
    assert [(r.occurrence, r.a_ms, r.b_ms, r.only_in) for r in queries] == [
        (0, 20, 20, None),
        (1, 10, 10, None),
        (2, None, 12, "b"),
    ]
    fewer = diff_of(b, BASE)
    assert [r.only_in for r in fewer.rows if r.name == "query"] == [None, None, "a"]


def test_regressions_first_on_request() -> None:
    b = [
        Sp("r", None, "GET /", 0, 180),
        Sp("q1", "r", "query", 10, 120),  # +100
        Sp("q2", "r", "query", 140, 10),
        Sp("c", "r", "cache", 155, 1),  # -4
        Sp("x", "c", "redis", 155, 1),  # -2
    ]
    diff = diff_of(BASE, b)
    by_delta = [(diff.path(i)[-1], diff.rows[i].delta_ms) for i in diff.order("delta")]
    assert by_delta[:2] == [("query", 100), ("GET /", 80)]
    assert by_delta[-1] == ("cache", -4)
    by_self = [diff.rows[i].name for i in diff.order("self")]
    assert by_self[0] == "query"
    assert diff.order("tree") == list(range(len(diff)))
    with pytest.raises(ValueError, match="cannot sort"):
        diff.order("size")


def test_orphans_pair_at_the_top_level() -> None:
    a = [Sp("r", None, "main", 0, 10), Sp("o", "lost", "callback", 20, 5)]
    b = [Sp("r", None, "main", 0, 12), Sp("o", "gone", "callback", 25, 7)]
    diff = diff_of(a, b)
    assert [(r.name, r.depth, r.delta_ms) for r in diff.rows] == [
        ("main", 0, 2),
        ("callback", 0, 2),
    ]


def test_running_spans_are_measured_until_now() -> None:
    a = [Sp("r", None, "job", 0, 40)]
    b = [Sp("r", None, "job", 0, None)]
    diff = diff_of(a, b, now=100)
    assert diff.rows[0].b_ms == pytest.approx(100) and diff.rows[0].delta_ms == pytest.approx(60)


def test_chains_ten_thousand_deep() -> None:
    a = chain(10_000)
    b = chain(10_000)[:9_000]
    diff = diff_of(a, b)
    assert diff.counts() == (9_000, 1_000, 0)
    assert diff.rows[-1].depth == 9_999 and diff.rows[-1].only_in == "a"
    assert len(diff.path(len(diff) - 1)) == 10_000
    assert diff.path(len(diff) - 1, 3) == ["level"] * 3
