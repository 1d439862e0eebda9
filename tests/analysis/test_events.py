"""Span events and links as stored by the real writer and read back by the real reader."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lens_tui.analysis.events import History, Place, link_targets, span_events, span_links
from lens_tui.store.reader import TraceReader

from .spans import Sp, rows, write_traces

A = "a1" * 16
B = "b2" * 16
MISSING = "c3" * 16


@pytest.fixture()
def linked_db(tmp_path: Path) -> tuple[Path, float]:
    """Two traces; A's `consume` span carries events and links into A, into B and elsewhere."""
    path = tmp_path / "traces.db"
    base = 1_700_000_000_000.0
    traces = {
        A: [
            Sp("a000000000000001", None, "batch", 0, 100),
            Sp("a000000000000002", "a000000000000001", "consume", 10, 50),
        ],
        B: [Sp("b000000000000001", None, "produce", 0, 5)],
    }
    events = {
        "a000000000000002": [
            {
                "name": "retry",
                "time": base + 40,
                "attributes": {"attempt": 2, "why": "[b]timeout[/b]"},
            },
            {"name": "received", "time": base + 12, "attributes": {"bytes": 512}},
            {"name": "late", "time": base + 75},
        ]
    }
    links = {
        "a000000000000002": [
            {"trace_id": B, "span_id": "b000000000000001", "attributes": {"kind": "producer"}},
            {"trace_id": A, "span_id": "a000000000000001"},
            {"trace_id": B, "span_id": "bbbbbbbbbbbbbbbb"},
            {"trace_id": MISSING, "span_id": "c000000000000001"},
        ]
    }
    write_traces(path, traces, base=base, events=events, links=links)
    return path, base


def test_events_come_in_time_order_with_offsets_and_attributes(
    linked_db: tuple[Path, float],
) -> None:
    path, base = linked_db
    with TraceReader(path) as reader:
        span = next(s for s in reader.trace(A).spans if s.name == "consume")
    events = span_events(span)
    assert [(e.name, e.offset_ms) for e in events] == [("received", 2), ("retry", 30), ("late", 65)]
    assert events[0].time == base + 12
    assert events[1].attributes == {"attempt": 2, "why": "[b]timeout[/b]"}
    assert events[2].attributes == {}  # 65 ms: past the span's 50 ms, as recorded


def test_links_are_resolved_against_the_file(linked_db: tuple[Path, float]) -> None:
    path, _base = linked_db
    with TraceReader(path) as reader:
        detail = reader.trace(A)
        span = next(s for s in detail.spans if s.name == "consume")
        resolved = span_links(span, reader)
        again = span_links(span, reader, known_span_ids=[s.span_id for s in detail.spans])
    assert [
        (k.trace_id, k.span_id, k.same_trace, k.trace_exists, k.span_exists) for k in resolved
    ] == [
        (B, "b000000000000001", False, True, True),
        (A, "a000000000000001", True, True, True),
        (B, "bbbbbbbbbbbbbbbb", False, True, False),
        (MISSING, "c000000000000001", False, False, False),
    ]
    assert resolved[0].attributes == {"kind": "producer"}
    assert again == resolved


def test_broken_event_and_link_columns_yield_nothing() -> None:
    (span,) = rows([Sp("s", None, "x", 0, 1)])
    for text in (None, "", "not json", "{}", "[1, 2]", '"text"', "[" * 100_000):
        broken = replace(span, events=text, links=text)
        assert span_events(broken) == [] and link_targets(broken) == []
    odd = replace(
        span,
        events='[{"name": null, "time": "soon"}, {"timestamp": 1e400}, {"time": true, "attributes": [1]}]',
        links='[{"trace_id": " ABCD ", "span_id": "EF"}, {"span_id": "no trace"}]',
    )
    assert [(e.name, e.time, e.attributes) for e in span_events(odd)] == [
        ("event", None, {}),
        ("event", None, {}),
        ("event", None, {}),
    ]
    assert link_targets(odd) == [("abcd", "ef", {})]


def test_history_goes_back_and_forward_like_a_browser() -> None:
    history = History(limit=3)
    assert history.current is None and history.back() is None
    first, second, third = Place(A, "s1"), Place(B, "s2"), Place(A, "s3")
    for place in (first, second, second, third):
        history.visit(place)
    assert history.back() == second and history.back() == first and history.back() is None
    assert history.forward() == second
    history.visit(Place(B))  # going somewhere new drops what was ahead
    assert history.forward() is None and history.current == Place(B)
    history.visit(Place(MISSING))
    assert (
        history.back() == Place(B) and history.back() == second and history.back() is None
    )  # limit 3
