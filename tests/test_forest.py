"""Span forests: deep chains, cycles, self-parents, orphans, duplicates, self time, critical
path."""

from __future__ import annotations

import sys

from lens_tui.forest import (
    CYCLE,
    ORPHAN,
    SELF_PARENT,
    SpanForest,
    below_threshold,
    build_forest,
    guides,
    visible_rows,
    visible_subtree,
)
from lens_tui.store.records import SpanRow


def span(
    span_id: str, parent: str | None, start: float, duration: float | None, name: str = ""
) -> SpanRow:
    return SpanRow(
        span_id=span_id,
        trace_id="t" * 32,
        parent_span_id=parent,
        name=name or span_id,
        started_at=start,
        duration_ms=duration,
        status="running" if duration is None else "ok",
    )


def names(forest: SpanForest, rows: list[int]) -> list[str]:
    return [forest.spans[i].span_id for i in rows]


def test_tree_order_depth_guides_and_sizes() -> None:
    forest = build_forest(
        [
            span("c", "a", 5, 3),
            span("a", None, 0, 100),
            span("b", "a", 1, 2),
            span("d", "c", 6, 1),
        ]
    )
    assert names(forest, forest.order) == ["a", "b", "c", "d"]
    assert [forest.depth[i] for i in forest.order] == [0, 1, 1, 2]
    a, b, c, d = (forest.index_of[x] for x in "abcd")
    assert forest.subtree_size[a] == 3 and forest.subtree_size[c] == 1
    assert guides(forest, b, 10) == ("├─", False)
    assert guides(forest, c, 10) == ("└─", False)
    assert guides(forest, d, 10) == ("  └─", False)
    assert forest.descendant_ids(c) == {"c", "d"}
    assert names(forest, visible_rows(forest, {c})) == ["a", "b", "c"]
    assert names(forest, visible_subtree(forest, a, {c})) == ["b", "c"]


def test_ten_thousand_deep_chain_needs_no_recursion() -> None:
    depth = 10_000
    spans = [span(f"s{i}", f"s{i - 1}" if i else None, i, depth - i) for i in range(depth)]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # prove nothing recurses per level
    try:
        forest = build_forest(spans)
        rows = visible_rows(forest, set())
        guide, elided = guides(forest, forest.index_of["s9999"], 8)
    finally:
        sys.setrecursionlimit(limit)
    assert len(rows) == depth
    assert forest.depth[forest.index_of["s9999"]] == depth - 1
    assert elided and guide.endswith("└─") and len(guide) == 16
    assert len(forest.critical) == depth
    assert forest.self_ms[forest.index_of["s0"]] == 1.0


def test_cycle_self_parent_orphan_and_duplicates_all_shown_once() -> None:
    forest = build_forest(
        [
            span("root", None, 0, 10),
            span("x", "y", 1, 1),
            span("y", "x", 2, 1),
            span("me", "me", 3, 1),
            span("lost", "nowhere", 4, 1),
            span("dup", "root", 5, 1, name="old"),
            span("dup", "root", 5, 2, name="new"),
        ]
    )
    assert sorted(names(forest, forest.order)) == ["dup", "lost", "me", "root", "x", "y"]
    marks = {forest.spans[i].span_id: mark for i, mark in forest.marks.items()}
    assert marks == {"x": CYCLE, "me": SELF_PARENT, "lost": ORPHAN}
    assert forest.spans[forest.index_of["dup"]].name == "new"
    x, y = forest.index_of["x"], forest.index_of["y"]
    assert forest.parent[x] == -1 and forest.parent[y] == x


def test_self_time_and_critical_path() -> None:
    # root 0..100: a 10..40 and b 30..90 overlap (union 10..90), c inside b 35..85.
    forest = build_forest(
        [
            span("root", None, 0, 100),
            span("a", "root", 10, 30),
            span("b", "root", 30, 60),
            span("c", "b", 35, 50),
            span("e", "a", 12, 5),
        ]
    )
    idx = forest.index_of
    assert forest.self_ms[idx["root"]] == 20
    assert forest.self_ms[idx["b"]] == 10
    assert forest.self_ms[idx["c"]] == 50
    on_path = {forest.spans[i].span_id for i in forest.critical}
    assert on_path == {"root", "b", "c", "a", "e"}


def test_running_spans_stretch_to_now() -> None:
    forest = build_forest([span("r", None, 0, None), span("k", "r", 5, 10)], now=1000)
    assert forest.running == 1
    assert forest.self_ms[forest.index_of["r"]] is None
    assert forest.axis_end(1000) == 1000 and forest.axis_end(None) == 15
    assert forest.end_of(forest.index_of["r"], 500) == 500


def test_threshold_and_empty() -> None:
    forest = build_forest([span("r", None, 0, 100), span("a", "r", 1, 2), span("b", "a", 1, 1)])
    assert {forest.spans[i].span_id for i in below_threshold(forest, 10)} == {"a"}
    empty = build_forest([])
    assert (
        len(empty) == 0 and empty.critical == frozenset() and len(visible_rows(empty, set())) == 0
    )


def test_hundred_thousand_spans_flatten() -> None:
    """The shape of a 100,000-span forest (its speed is measured in bench/)."""
    spans = [span("root", None, 0, 200_000)]
    spans += [span(f"p{i}", "root", i * 2, 1) for i in range(1000)]
    spans += [span(f"k{i}", f"p{i % 1000}", i * 2 + 0.5, 0.2) for i in range(99_000)]
    forest = build_forest(spans)
    rows = visible_rows(forest, set())
    assert len(rows) == 100_001
    assert max(forest.depth) == 2 and forest.subtree_size[forest.index_of["root"]] == 100_000
