"""Case 11: pathological traces through the reader, `export.span_order` and `render_tree`.

A 10,000-deep chain, a parent cycle, a self-parent, orphans, duplicate span ids, end before
start, absurd timestamps: no RecursionError, no endless loop (every call runs under a timeout),
and every span shown exactly once.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import apsw
import pytest

from lens_tui import export, schema
from lens_tui.store.reader import TraceReader
from lens_tui.store.records import SpanRow, TraceDetail, TraceSummary

from .conftest import child_env, run_with_timeout

TRACE = "0" * 31 + "1"
DEPTH = 10_000


def sid(n: int) -> str:
    """A 16-hex span id."""
    return f"{n:016x}"


def row(
    n: int,
    parent: int | None,
    *,
    start: float = 1_000.0,
    duration: float | None = 1.0,
    name: str | None = None,
) -> SpanRow:
    """A SpanRow of the test trace (parent given by number)."""
    return SpanRow(
        span_id=sid(n),
        trace_id=TRACE,
        parent_span_id=None if parent is None else sid(parent),
        name=name or f"s{n}",
        started_at=start,
        duration_ms=duration,
        status="running" if duration is None else "ok",
    )


def _order(spans: list[SpanRow]) -> list[tuple[SpanRow, int]]:
    return run_with_timeout(lambda: export.span_order(spans), 10.0)


def _once(order: list[tuple[SpanRow, int]], spans: list[SpanRow]) -> None:
    shown = [s.span_id for s, _ in order]
    assert len(shown) == len(set(shown)), "a span was shown twice"
    assert set(shown) == {s.span_id for s in spans}, "a span was lost"


def chain(depth: int) -> list[SpanRow]:
    """Span n is the child of span n - 1; listed deepest first (worst case for a naive walk)."""
    return [row(n, n - 1 if n else None, start=1_000.0 + n) for n in reversed(range(depth))]


def test_11_deep_chain_span_order() -> None:
    """10,000 deep: depth-first order, depth n for span n, with a low recursion limit."""
    spans = chain(DEPTH)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # a recursive walk would fail at once; an iterative one does not
    try:
        order = _order(spans)
    finally:
        sys.setrecursionlimit(old)
    _once(order, spans)
    assert [depth for _, depth in order] == list(range(DEPTH))


def test_11_deep_chain_render_tree() -> None:
    """render_tree of the 10,000-deep chain finishes and lists every span once."""
    spans = chain(DEPTH)
    text = run_with_timeout(lambda: export.render_tree(TraceDetail(None, tuple(spans))), 30.0)
    names = [
        line.strip().split("┆ ")[-1].split("  ")[0] for line in text.splitlines() if line.strip()
    ]
    assert sorted(names) == sorted(s.name for s in spans)
    # Indentation stops growing past export.MAX_INDENT_DEPTH (the depth is printed instead):
    # unbounded, this chain rendered as 100 MB of spaces.
    assert len(text) < 2_000_000
    assert f"┆{DEPTH - 1}┆ " in text


@pytest.mark.parametrize(
    "case",
    [
        "cycle",
        "long-cycle",
        "self-parent",
        "orphans",
        "duplicates",
        "cycle-below-root",
        "everything",
    ],
)
def test_11_malformed_parents(case: str) -> None:
    """Cycles, self-parents, orphans and duplicate ids: each span once, and the walk ends."""
    spans = {
        "cycle": [row(1, 2), row(2, 1)],
        "long-cycle": [row(n, (n + 1) % 500) for n in range(500)],
        "self-parent": [row(1, 1), row(2, 1)],
        "orphans": [row(1, None), row(2, 99), row(3, 98), row(4, 2)],
        "duplicates": [row(1, None), row(2, 1), row(2, 1, name="dup"), row(1, 2, name="dup-root")],
        "cycle-below-root": [row(0, None), row(1, 0), row(2, 3), row(3, 2), row(4, 3)],
        "everything": [
            row(0, None),
            row(1, 1),
            row(2, 3),
            row(3, 2),
            row(4, 77),
            row(4, 0, name="dup"),
            *chain(300),
        ],
    }[case]
    order = _order(spans)
    shown = [s.span_id for s, _ in order]
    assert len(shown) == len(set(shown))
    assert set(shown) == {s.span_id for s in spans}
    text = run_with_timeout(lambda: export.render_tree(TraceDetail(None, tuple(spans))), 10.0)
    assert len([line for line in text.splitlines() if line.strip()]) == len(set(shown))


TIMES = [0.0, -1.0, 1e18, -1e18, math.inf, -math.inf, math.nan]


def _db_with_pathological_trace(path: Path, *, depth: int) -> None:
    """Real rows written by raw SQL on a second connection: what a buggy writer could leave."""
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode = WAL").fetchall()
    schema.migrate(conn)
    insert_span = schema.placeholders_insert(
        schema.Span,
        ("span_id", "trace_id", "parent_span_id", "name", "started_at", "duration_ms", "status"),
    )
    with conn:
        conn.execute(
            "INSERT INTO traces (trace_id, root_span_name, started_at, ended_at, duration_ms, "
            "span_count, status) VALUES (?, 'weird', ?, ?, ?, ?, 'ok')",
            (TRACE, math.inf, math.nan, -5.0, depth + 10),
        )
        rows = [
            (sid(n), TRACE, sid(n - 1) if n else None, f"s{n}", 1_000.0 + n, 1.0, "ok")
            for n in range(depth)
        ]
        rows += [
            (sid(10**6 + 1), TRACE, sid(10**6 + 2), "cycle-a", 5.0, 1.0, "ok"),
            (sid(10**6 + 2), TRACE, sid(10**6 + 1), "cycle-b", 6.0, 1.0, "ok"),
            (sid(10**6 + 3), TRACE, sid(10**6 + 3), "self", 7.0, 1.0, "ok"),
            (sid(10**6 + 4), TRACE, sid(10**9), "orphan", 8.0, 1.0, "ok"),
            (sid(10**6 + 5), TRACE, None, "end-before-start", 9.0, -250.0, "ok"),
        ]
        rows += [  # absurd start times and durations; NaN is stored as NULL by SQLite
            (sid(2 * 10**6 + i), TRACE, sid(0), f"time-{i}", t, t, "ok")
            for i, t in enumerate(TIMES[:-1])
        ]
        rows.append((sid(3 * 10**6), TRACE, sid(0), "nan-duration", 10.0, math.nan, "ok"))
        conn.executemany(insert_span, rows)
    conn.close()


def test_11_pathological_trace_from_the_database(tmp_path: Path) -> None:
    """Through TraceReader.trace() and render_tree: every stored span exactly once, no crash on
    infinite, negative or huge times, NaN (NULL) durations shown as running."""
    db = tmp_path / "traces.db"
    _db_with_pathological_trace(db, depth=DEPTH)
    with TraceReader(db) as reader:
        detail = run_with_timeout(lambda: reader.trace(TRACE), 20.0)
        [summary] = reader.recent_traces()
    stored = DEPTH + 5 + len(TIMES)
    assert len(detail.spans) == stored
    for value in (summary.started_at, summary.ended_at, summary.duration_ms):
        assert value is None or math.isfinite(value), summary  # never inf or NaN out of the reader
    assert all(math.isfinite(s.started_at) for s in detail.spans)
    assert all(s.duration_ms is None or math.isfinite(s.duration_ms) for s in detail.spans)
    by_name = {s.name: s for s in detail.spans}
    assert by_name["nan-duration"].duration_ms is None and by_name["nan-duration"].status == "ok"
    order = _order(list(detail.spans))
    _once(order, list(detail.spans))
    text = run_with_timeout(lambda: export.render_tree(detail), 30.0)
    assert "end-before-start" in text and "cycle-a" in text and "self" in text
    payload = run_with_timeout(lambda: export.to_json(detail), 30.0)
    assert len(payload["spans"]) == stored


def test_11_show_command_on_pathological_trace(tmp_path: Path) -> None:
    """`lens-tui show` on the same database: exit 0 within the timeout, every span printed."""
    db = tmp_path / "traces.db"
    _db_with_pathological_trace(db, depth=2_000)
    done = subprocess.run(
        [sys.executable, "-m", "lens_tui", "show", TRACE, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stdout.splitlines()[1:] if line.strip()]
    assert len(lines) == 2_000 + 5 + len(TIMES)


@pytest.mark.parametrize("value", [1e300, -1e300])
def test_11_export_times_beyond_time_t(value: float) -> None:
    """render_tree with a finite trace start time beyond what the C library can format."""
    span = row(1, None, start=value)
    trace = TraceSummary(TRACE, "root", None, None, value, None, None, 1, 0, "ok")
    text = run_with_timeout(lambda: export.render_tree(TraceDetail(trace, (span,))), 5.0)
    assert "root" in text
    assert f"?({value:g})" in text
