"""Span trees for the analysis tests: as in-memory rows, and as a real database written by the
real writer (`TraceWriter.record_span`), plus brute-force references computed without a forest."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lens_tui.analysis.columns import SpanLabels
from lens_tui.forest import SpanForest, build_forest
from lens_tui.store.records import SpanRow
from lens_tui.tracing.external import ExternalSpan
from lens_tui.tracing.writer import TraceWriter

T0 = 1_700_000_000_000.0
"""Epoch ms the in-memory traces start at."""


@dataclass(frozen=True)
class Sp:
    """A span to build: times in ms from T0 (or from the trace's start when written)."""

    id: str
    parent: str | None
    name: str
    start: float
    duration: float | None
    service: str | None = "svc"


def rows(spans: Iterable[Sp], trace_id: str = "t" * 32) -> list[SpanRow]:
    """`SpanRow`s of the specs, as the reader would hand them over."""
    return [
        SpanRow(
            span_id=s.id,
            trace_id=trace_id,
            parent_span_id=s.parent,
            name=s.name,
            started_at=T0 + s.start,
            duration_ms=s.duration,
            status="running" if s.duration is None else "ok",
            service=s.service,
        )
        for s in spans
    ]


def forest_of(spans: Iterable[Sp], now: float | None = None) -> tuple[SpanForest, SpanLabels]:
    """The forest of the specs and its labels (`now` in ms from T0)."""
    forest = build_forest(rows(spans), None if now is None else T0 + now)
    return forest, SpanLabels.from_forest(forest)


def write_traces(
    path: Path,
    traces: dict[str, Sequence[Sp]],
    *,
    base: float | None = None,
    events: dict[str, list[dict[str, object]]] | None = None,
    links: dict[str, list[dict[str, object]]] | None = None,
) -> float:
    """Write each trace through the real writer, span ids prefixed by nothing (they must be
    unique across the file); returns the epoch ms the offsets count from."""
    start = time.time() * 1000.0 - 60_000.0 if base is None else base
    store = TraceWriter(path, service="writer", flush_interval=0.01, retention_days=None)
    try:
        for trace_id, spans in traces.items():
            for s in spans:
                store.record_span(
                    ExternalSpan(
                        span_id=s.id,
                        trace_id=trace_id,
                        parent_span_id=s.parent,
                        name=s.name,
                        started_at=start + s.start,
                        duration_ms=s.duration,
                        service=s.service,
                        events=(events or {}).get(s.id),
                        links=(links or {}).get(s.id),
                    )
                )
        assert store.flush(10.0)
    finally:
        store.shutdown()
    return start


# ----------------------------------------------------------------- brute-force references


def brute_end(s: Sp, now: float) -> float:
    """The span's end, a running one at `now` (the tests keep `now` past every end)."""
    return s.start + s.duration if s.duration is not None else max(now, s.start)


def union_length(intervals: Sequence[tuple[float, float]]) -> float:
    """Length of the union of intervals, by elementary segments: every boundary is cut at, and
    a segment counts if any interval contains it (quadratic, and independent of any merging)."""
    points = sorted({p for interval in intervals for p in interval})
    total = 0.0
    for lo, hi in zip(points, points[1:], strict=False):
        if any(a <= lo and hi <= b for a, b in intervals):
            total += hi - lo
    return total


def brute_parents(spans: Sequence[Sp]) -> dict[str, str | None]:
    """Span id -> its parent's id when that parent is in the trace and is not itself, else None."""
    ids = {s.id for s in spans}
    return {s.id: s.parent if s.parent in ids and s.parent != s.id else None for s in spans}


def brute_self_times(spans: Sequence[Sp], now: float) -> dict[str, float]:
    """Span id -> duration minus the union of its children's intervals clipped to it."""
    parents = brute_parents(spans)
    out = {}
    for s in spans:
        lo, hi = s.start, brute_end(s, now)
        clipped = []
        for c in spans:
            if parents[c.id] == s.id:
                a, b = max(c.start, lo), min(brute_end(c, now), hi)
                if b > a:
                    clipped.append((a, b))
        out[s.id] = max(hi - lo - union_length(clipped), 0.0)
    return out


def brute_keys(spans: Sequence[Sp]) -> dict[tuple[tuple[str, int], ...], Sp]:
    """Key (the (name, occurrence) path from the top) -> span, computed per span by walking its
    ancestors and ranking it among its same-named siblings by (start, id)."""
    parents = brute_parents(spans)
    by_id = {s.id: s for s in spans}

    def occurrence(s: Sp) -> int:
        twins = [t for t in spans if parents[t.id] == parents[s.id] and t.name == s.name]
        return sorted(twins, key=lambda t: (t.start, t.id)).index(s)

    keys = {}
    for s in spans:
        path = []
        node: Sp | None = s
        while node is not None:
            path.append((node.name, occurrence(node)))
            up = parents[node.id]
            node = by_id[up] if up is not None else None
        keys[tuple(reversed(path))] = s
    return keys


def chain(depth: int, name: str = "level") -> list[Sp]:
    """A chain `depth` spans deep, each 1 ms shorter than its parent and starting 0.5 ms later."""
    return [
        Sp(f"c{i}", f"c{i - 1}" if i else None, name, i * 0.5, float(2 * depth - i))
        for i in range(depth)
    ]
