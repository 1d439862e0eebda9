"""Running compiled queries through TraceReader: paging, judging live rows by the store,
composing with the list's and the log pane's filters, following a writer, interrupting a long
read, and files in the original LENS layout."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from lens_tui import schema
from lens_tui.query import compile_log_query, compile_trace_query
from lens_tui.query.compiled import AllTraces
from lens_tui.query.run import (
    LogFollower,
    TraceFollower,
    find_logs,
    find_traces,
    matching_trace_ids,
)
from lens_tui.store.filters import LogScope, TraceFilter
from lens_tui.store.reader import Interrupted, TraceReader

from . import fixture
from .examples import trace_examples


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return fixture.write(tmp_path / "traces.db")


@pytest.fixture
def reader(db: Path) -> Iterator[TraceReader]:
    with TraceReader(db) as opened:
        yield opened


def test_paging_newest_first_covers_every_match_once(reader: TraceReader) -> None:
    query = compile_trace_query("not checkout")
    pages: list[list[str]] = []
    before = None
    while True:
        page = find_traces(reader, query, limit=2, before=before)
        if not page:
            break
        pages.append([t.trace_id for t in page])
        before = page[-1].started_at
    flat = [trace_id for page in pages for trace_id in page]
    expected = sorted(
        (t for t in fixture.TRACES if "checkout" not in t.name.casefold()), key=lambda t: t.ago
    )
    assert flat == [t.trace_id for t in expected]


def test_live_rows_of_a_span_query_are_judged_by_the_store(reader: TraceReader) -> None:
    query = compile_trace_query('{ name = "db.query" and duration > 50ms }')
    every = [t.trace_id for t in fixture.TRACES]
    expected = dict(trace_examples(fixture.NOW))['{ name = "db.query" and duration > 50ms }']
    assert matching_trace_ids(reader, query, every) == expected
    assert matching_trace_ids(reader, query, every[:2]) == expected & set(every[:2])
    assert matching_trace_ids(reader, query, []) == set()


def test_a_query_composes_with_the_lists_filter(reader: TraceReader) -> None:
    """`e` (errors only) and `d` (slow) keep working beside a query."""
    both = AllTraces(
        (TraceFilter(errors_only=True, min_duration_ms=100.0), compile_trace_query("GET"))
    )
    found = {t.trace_id for t in reader.recent_traces(100, where=both, now_ms=fixture.NOW)}
    assert found == {
        t.trace_id
        for t in fixture.TRACES
        if t.status == "error" and "get" in t.name.casefold() and (t.duration or 0) >= 100
    }
    assert found and all(
        both.matches(t, fixture.NOW) for t in reader.recent_traces(100, where=both)
    )
    assert not both.needs_spans
    about_spans = AllTraces(
        (TraceFilter(errors_only=True), compile_trace_query('{ service = "payments" }'))
    )
    assert about_spans.needs_spans
    every = [t.trace_id for t in fixture.TRACES]
    assert matching_trace_ids(reader, about_spans, every) == {
        t.trace_id
        for t in fixture.TRACES
        if t.status == "error" and any(s.service == "payments" for s in t.spans)
    }


def test_a_log_query_within_the_panes_scope(reader: TraceReader) -> None:
    trace = fixture.TRACES[0]
    query = compile_log_query('attr.request_id = "r-17"')
    scoped = query.within(LogScope(trace_id=trace.trace_id, min_level="warn"))
    assert [g.message for g in reader.logs(scope=scoped)] == ["db timeout after 50 ms"]
    # Across all logs the scope's level spellings plan the read (one index range each).
    everywhere = query.within(LogScope(min_level="warn"))
    assert [g.message for g in reader.logs(scope=everywhere)] == [
        "db timeout after 50 ms",
        "disk 91% full",
    ]
    every = reader.logs(limit=1000)
    assert [g.message for g in every if everywhere.matches(g)] == [
        "db timeout after 50 ms",
        "disk 91% full",
    ]
    subtree = query.within(
        LogScope(trace_id=trace.trace_id, span_ids=frozenset({fixture.span_id(0, 0)}))
    )
    assert [g.message for g in reader.logs(scope=subtree)] == [
        "checkout started",
        "db timeout after 50 ms",
    ]
    assert [g.message for g in find_logs(reader, query, limit=1)] == ["disk 91% full"]


def _writer(db: Path) -> apsw.Connection:
    conn = apsw.Connection(str(db))
    conn.set_busy_timeout(2000)
    return conn


def test_the_trace_follower_reports_each_new_match_once(db: Path, reader: TraceReader) -> None:
    follower = TraceFollower(reader, compile_trace_query("duration > 100ms"))
    assert follower.poll() == []
    writer = _writer(db)
    late = fixture.Tr(fixture._id("0f", 1), 0, [fixture.Sp("slow one", None, None)])
    fast = fixture.Tr(fixture._id("0f", 2), 0, [fixture.Sp("fast one", 5.0, None)])
    with writer:
        fixture.insert_trace(writer, late, fixture.NOW, 50)
        fixture.insert_trace(writer, fast, fixture.NOW, 51)
    assert follower.poll() == []  # running: no duration yet; fast: too fast
    with writer:  # the slow one ends
        writer.execute(
            "UPDATE traces SET duration_ms = 500, status = 'ok', updated_at = ? WHERE trace_id = ?",
            (fixture.NOW + 1, late.trace_id),
        )
    assert [t.trace_id for t in follower.poll()] == [late.trace_id]
    with writer:
        writer.execute(
            "UPDATE traces SET updated_at = ? WHERE trace_id = ?", (fixture.NOW + 2, late.trace_id)
        )
    assert follower.poll() == []  # reported once
    writer.close()


def test_the_log_follower_reads_each_range_once(db: Path, reader: TraceReader) -> None:
    follower = LogFollower(reader, compile_log_query("level >= error"))
    writer = _writer(db)
    with writer:
        for n in range(3000):
            fixture.insert_log(writer, fixture.Lg("info", f"noise {n}", 0), fixture.NOW)
        fixture.insert_log(writer, fixture.Lg("error", "the one", 0), fixture.NOW)
    assert [g.message for g in follower.poll()] == ["the one"]
    top = follower.after_id
    with writer:
        fixture.insert_log(writer, fixture.Lg("info", "more noise", 0), fixture.NOW)
    assert follower.poll() == [] and follower.after_id == top + 1
    writer.close()


def test_interrupt_stops_a_long_read(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    schema.migrate(conn)
    with conn:
        conn.executemany(
            "INSERT INTO traces (trace_id, root_span_name, started_at, status) VALUES (?, 'big', ?, 'ok')",
            [(f"{n:032x}", float(n)) for n in range(2_000)],
        )
        conn.executemany(
            "INSERT INTO spans (span_id, trace_id, name, started_at, attributes) VALUES (?, ?, 's', ?, ?)",
            [
                (f"{n:016x}", f"{n % 2_000:032x}", float(n), json.dumps({"k": n, "pad": "x" * 200}))
                for n in range(200_000)
            ],
        )
    conn.close()
    query = compile_trace_query('{ attr.k = "never" } or { attr.pad ~ "never" }')
    outcome: list[BaseException | int] = []
    with TraceReader(path) as reader:
        reader.interrupt()  # nothing runs: no effect on what comes next
        assert reader.recent_traces(5, where=compile_trace_query("big"))

        def work() -> None:
            try:
                outcome.append(len(reader.recent_traces(10, where=query)))
            except BaseException as exc:  # noqa: BLE001 - the outcome is the assertion
                outcome.append(exc)

        thread = threading.Thread(target=work)
        thread.start()
        while thread.is_alive():
            reader.interrupt()
            time.sleep(0.002)
        thread.join()
        assert len(outcome) == 1 and isinstance(outcome[0], Interrupted), outcome
        assert len(reader.recent_traces(5, where=compile_trace_query("big"))) == 5  # usable again


ORIGINAL = """
CREATE TABLE traces (trace_id TEXT PRIMARY KEY NOT NULL, root_span_name TEXT NOT NULL, source TEXT,
    started_at INTEGER NOT NULL, ended_at INTEGER, duration_ms INTEGER);
CREATE TABLE spans (span_id TEXT PRIMARY KEY NOT NULL, trace_id TEXT NOT NULL, parent_span_id TEXT,
    name TEXT NOT NULL, started_at INTEGER NOT NULL, duration_ms INTEGER, error_message TEXT,
    input_size INTEGER, output_size INTEGER);
CREATE TABLE logs (id INTEGER PRIMARY KEY AUTOINCREMENT, trace_id TEXT, span_id TEXT,
    level TEXT NOT NULL, message TEXT NOT NULL, timestamp INTEGER NOT NULL);
"""


def test_the_original_layout(tmp_path: Path) -> None:
    """A file of the TypeScript LENS core: no status, counts, services or attributes. Every
    example compiles for it, and SQL and predicate still agree."""
    path = tmp_path / "lens.db"
    conn = apsw.Connection(str(path))
    conn.execute(ORIGINAL)
    with conn:
        for n, trace in enumerate(fixture.TRACES):
            start = trace.start(fixture.NOW)
            conn.execute(
                "INSERT INTO traces VALUES (?, ?, 'web', ?, ?, ?)",
                (
                    trace.trace_id,
                    trace.name,
                    start,
                    None if trace.duration is None else start + trace.duration,
                    trace.duration,
                ),
            )
            for k, span in enumerate(trace.spans):
                conn.execute(
                    "INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                    (
                        fixture.span_id(n, k),
                        trace.trace_id,
                        None if span.parent is None else fixture.span_id(n, span.parent),
                        span.name,
                        start + k,
                        span.duration,
                        "failed" if span.failed else None,
                    ),
                )
        conn.execute(
            "INSERT INTO logs (trace_id, level, message, timestamp) VALUES (?, 'WARNING', 'slow', 1)",
            (fixture.TRACES[0].trace_id,),
        )
    conn.close()
    with TraceReader(path) as reader:
        every = reader.recent_traces(1000)
        for text, expected in trace_examples(fixture.NOW):
            query = compile_trace_query(text, now_ms=fixture.NOW)
            by_sql = {t.trace_id for t in reader.recent_traces(1000, where=query)}
            live = {
                t.trace_id for t in every if query.matches(t, spans=reader.trace(t.trace_id).spans)
            }
            assert by_sql == live, text
            if "attr" not in text and "service" not in text:
                assert by_sql == expected, text  # what this layout can tell, it tells the same
        errors = {
            t.trace_id
            for t in reader.recent_traces(1000, where=compile_trace_query("status = error"))
        }
        assert errors == {t.trace_id for t in fixture.TRACES if t.errors}
        assert [g.message for g in reader.logs(scope=compile_log_query("level = warn"))] == ["slow"]
