"""Flame layout invariants, in the time layout and merged, on random and pathological traces."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings

from lens_tui.analysis.flame import FlameLayout, flame_layout, frames_in

from .spans import T0, Sp, brute_end, brute_parents, chain, forest_of
from .test_stats import traces

EPS = 1e-6


def check_rows(layout: FlameLayout) -> None:
    """Every frame sits in exactly one row, the row of its depth, ordered by left edge."""
    seen = Counter(frame for row in layout.rows for frame in row)
    assert sorted(seen) == list(range(len(layout))) and set(seen.values()) <= {1}
    for depth, row in enumerate(layout.rows):
        assert all(layout.depths[f] == depth for f in row)
        lefts = [layout.starts[f] for f in row]
        assert lefts == sorted(lefts)


@settings(max_examples=200, deadline=None)
@given(traces())
def test_time_layout_nests_every_span_inside_its_parent(case: tuple[list[Sp], float]) -> None:
    spans, now = case
    forest, labels = forest_of(spans, now)
    layout = flame_layout(forest, labels, T0 + now)
    assert len(layout) == len(spans) and not layout.merged
    check_rows(layout)
    by_id = {s.id: s for s in spans}
    parents = brute_parents(spans)
    base = min(s.start for s in spans)
    for frame in range(len(layout)):
        span = by_id[forest.span_ids[layout.nodes[frame]]]
        record = layout.frame(frame)
        assert record.count == 1 and record.label == span.name and record.service == span.service
        assert record.total_ms == pytest.approx(brute_end(span, now) - span.start)
        assert record.width >= 0 and record.width <= record.total_ms + EPS
        parent = layout.parents[frame]
        if parents[span.id] is None:
            assert parent == -1 and record.depth == 0
            assert record.start == pytest.approx(span.start - base)  # top level: never clipped
        else:
            assert forest.span_ids[layout.nodes[parent]] == parents[span.id]
            assert record.depth == layout.depths[parent] + 1
            lo, hi = layout.starts[parent], layout.starts[parent] + layout.widths[parent]
            assert lo - EPS <= record.start and record.start + record.width <= hi + EPS
            # Clipping keeps exactly the part of the span inside its (clipped) parent.
            inside = min(brute_end(span, now) - base, hi) - max(span.start - base, lo)
            assert record.width == pytest.approx(max(inside, 0.0), abs=EPS)


@settings(max_examples=200, deadline=None)
@given(traces())
def test_merged_layout_sums_same_named_siblings(case: tuple[list[Sp], float]) -> None:
    spans, now = case
    forest, labels = forest_of(spans, now)
    layout = flame_layout(forest, labels, T0 + now, merged=True)
    check_rows(layout)
    assert sum(layout.counts) == len(spans)
    by_id = {s.id: s for s in spans}
    parents = brute_parents(spans)

    def label_path(span_id: str) -> tuple[tuple[str | None, str], ...]:
        path = []
        up: str | None = span_id
        while up is not None:
            path.append((by_id[up].service, by_id[up].name))
            up = parents[up]
        return tuple(reversed(path))

    # Merging is exactly "same (service, name) path from the top".
    frames_by_path: dict[tuple[tuple[str | None, str], ...], set[int]] = {}
    for node, span_id in enumerate(forest.span_ids):
        frames_by_path.setdefault(label_path(span_id), set()).add(layout.frame_of[node])
    assert all(len(frames) == 1 for frames in frames_by_path.values())
    assert len(frames_by_path) == len(layout)
    for frame in range(len(layout)):
        members = [by_id[forest.span_ids[n]] for n in layout.members(frame)]
        assert len(members) == layout.counts[frame]
        total = sum(brute_end(s, now) - s.start for s in members)
        assert layout.totals[frame] == pytest.approx(total)
        assert layout.widths[frame] >= layout.totals[frame] - EPS
        first = min(members, key=lambda s: (s.start, s.id))
        assert forest.span_ids[layout.nodes[frame]] == first.id
    for frame in range(len(layout)):
        kids = [f for f in range(len(layout)) if layout.parents[f] == frame]
        kids.sort(key=lambda f: layout.starts[f])
        # Children side by side from the parent's left edge, inside the parent.
        left = layout.starts[frame]
        for kid in kids:
            assert layout.starts[kid] == pytest.approx(left)
            left += layout.widths[kid]
        assert left <= layout.starts[frame] + layout.widths[frame] + EPS
    tops = layout.rows[0]
    assert layout.extent == pytest.approx(sum(layout.widths[f] for f in tops))


def test_merging_pools_the_children_of_merged_siblings() -> None:
    forest, labels = forest_of(
        [
            Sp("r", None, "GET /", 0, 100),
            Sp("a", "r", "query", 0, 30),
            Sp("a1", "a", "parse", 0, 5),
            Sp("b", "r", "query", 40, 20),
            Sp("b1", "b", "parse", 40, 3),
            Sp("b2", "b", "plan", 45, 4),
            Sp("c", "r", "render", 70, 10),
        ]
    )
    layout = flame_layout(forest, labels, merged=True)
    frames = {layout.labels[f]: layout.frame(f) for f in range(len(layout))}
    assert set(frames) == {"GET /", "query", "parse", "plan", "render"}
    assert frames["query"].count == 2 and frames["query"].width == pytest.approx(50)
    assert frames["parse"].count == 2 and frames["parse"].total_ms == pytest.approx(8)
    assert frames["parse"].start == pytest.approx(frames["query"].start)
    assert frames["plan"].start == pytest.approx(frames["parse"].start + 8)
    assert frames["render"].start == pytest.approx(50)
    assert [layout.labels[f] for f in layout.rows[1]] == ["query", "render"]


def test_merged_parent_widens_to_hold_overlapping_children() -> None:
    forest, labels = forest_of(
        [
            Sp("r", None, "fan-out", 0, 10),
            Sp("a", "r", "call", 0, 10),
            Sp("b", "r", "call", 0, 10),
            Sp("c", "r", "call", 0, 10),
        ]
    )
    layout = flame_layout(forest, labels, merged=True)
    root = layout.frame(layout.rows[0][0])
    assert root.total_ms == pytest.approx(10) and root.width == pytest.approx(30)
    assert layout.extent == pytest.approx(30)


def test_frame_at_and_viewport_queries() -> None:
    forest, labels = forest_of(
        [
            Sp("r", None, "root", 0, 100),
            Sp("a", "r", "a", 10, 30),
            Sp("b", "r", "b", 20, 50),  # overlaps a
            Sp("c", "r", "c", 80, 10),
        ]
    )
    layout = flame_layout(forest, labels)
    name = lambda f: None if f is None else layout.labels[f]  # noqa: E731
    assert name(layout.frame_at(0, 50)) == "root"
    assert name(layout.frame_at(1, 15)) == "a"
    assert name(layout.frame_at(1, 25)) == "b"  # the later-starting frame is drawn on top
    assert name(layout.frame_at(1, 60)) == "b"
    assert name(layout.frame_at(1, 75)) is None
    assert name(layout.frame_at(1, 85)) == "c"
    assert layout.frame_at(2, 10) is None and layout.frame_at(-1, 10) is None
    assert [layout.labels[f] for f in frames_in(layout, 1, 50, 85)] == ["b", "c"]
    assert list(frames_in(layout, 5, 0, 100)) == []


def test_a_chain_ten_thousand_deep_in_both_layouts() -> None:
    forest, labels = forest_of(chain(10_000))
    for merged in (False, True):
        layout = flame_layout(forest, labels, merged=merged)
        assert len(layout.rows) == 10_000 and len(layout) == 10_000
        deepest = layout.frame(layout.rows[-1][0])
        assert deepest.depth == 9_999 and deepest.width == pytest.approx(10_001)
