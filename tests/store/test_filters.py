"""A filter's SQL and its rule for live rows keep the same rows, on real files of both layouts.

Each case reads every row, keeps those `matches` accepts, and compares with what the reader's
query (built from `sql_where`) returns for the same filter object.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lens_tui.levels import LEVELS
from lens_tui.store.filters import LogScope, TraceFilter
from lens_tui.store.reader import TraceReader

from .conftest import TraceDb, make_original_layout, sid, tid

NOW = 1_000_000.0 + 20 * 100.0
TRACE_FILTERS = [
    TraceFilter(),
    TraceFilter(name="get"),
    TraceFilter(name="50%_"),
    TraceFilter(errors_only=True),
    TraceFilter(min_duration_ms=10.0),
    TraceFilter(min_duration_ms=250.0),
    TraceFilter(name="POST", errors_only=True, min_duration_ms=5.0),
]


@pytest.fixture
def traces_db(db: TraceDb) -> TraceDb:
    """Finished, failed and running traces of several names and durations."""
    names = ["GET /a", "get /b", "POST /pay", "cache 50%_off", "cache 50 off", "POST /slow"]
    for n, name in enumerate(names, 1):
        db.trace(
            n,
            name=name,
            duration_ms=n * 60.0,
            status="error" if n % 3 == 0 else "ok",
            errors=1 if n % 3 == 0 else 0,
        )
    db.trace(7, name="GET /running", duration_ms=None, status="running")
    db.trace(
        8, name="POST /just-started", started_at=NOW - 20.0, duration_ms=None, status="running"
    )
    db.trace(9, name="get /counted", errors=2)  # failed by its count, status ok
    return db


@pytest.mark.parametrize("keep", TRACE_FILTERS, ids=repr)
@pytest.mark.parametrize("now", [None, NOW])
def test_trace_filter_sql_and_live_rule_agree(
    traces_db: TraceDb, keep: TraceFilter, now: float | None
) -> None:
    with TraceReader(traces_db.path) as reader:
        every = reader.recent_traces(100)
        listed = reader.recent_traces(100, **keep.query(now))
    assert len(every) == 9
    assert [t.trace_id for t in listed] == [t.trace_id for t in every if keep.matches(t, now)]


@pytest.mark.parametrize("keep", TRACE_FILTERS, ids=repr)
def test_trace_filter_agrees_on_the_original_layout(tmp_path: Path, keep: TraceFilter) -> None:
    """No status or counts there: errors come from the spans' error messages."""
    path = tmp_path / "lens.db"
    make_original_layout(path, wal=True)
    with TraceReader(path) as reader:
        every = reader.recent_traces(100)
        listed = reader.recent_traces(100, where=keep, now_ms=5_000.0)
    assert [t.trace_id for t in listed] == [t.trace_id for t in every if keep.matches(t, 5_000.0)]
    if keep.errors_only and not keep.name:
        assert [t.trace_id for t in listed] == [tid(2)]


def test_loose_arguments_make_the_same_filter(traces_db: TraceDb) -> None:
    with TraceReader(traces_db.path) as reader:
        assert reader.recent_traces(name_filter="get", errors_only=True) == reader.recent_traces(
            where=TraceFilter("get", errors_only=True)
        )
        assert reader.logs(min_level="WARN", text="x") == reader.logs(
            scope=LogScope(min_level="warn", text="x")
        )
        with pytest.raises(TypeError):
            reader.recent_traces(where=TraceFilter(), errors_only=True)
        with pytest.raises(TypeError):
            reader.logs(scope=LogScope(), min_level="error")


@pytest.fixture
def logs_db(db: TraceDb) -> TraceDb:
    """Logs of two traces (three spans in the first), loose logs, every level in several of
    its stored spellings, messages differing in ASCII case and in LIKE metacharacters."""
    db.trace(1)
    db.trace(2)
    for trace, n in ((1, 0), (1, 1), (1, 2), (2, 0)):
        db.span(trace, n)
    spellings = ["debug", "DEBUG", "info", "Info", "warn", "WARNING", "error", "CRITICAL"]
    messages = ["Disk full", "disk FULL at 100%", "user_id=7", "userXid=8", "ok"]
    spans = [sid(1, 0), sid(1, 1), sid(1, 2)]
    for n in range(60):
        trace = (1, 2, None)[n % 3]
        span = spans[n % len(spans)] if trace == 1 else (sid(2, 0) if trace == 2 else None)
        db.log(
            messages[n % len(messages)], level=spellings[n % len(spellings)], trace=trace, span=span
        )
    return db


LOG_SCOPES = [
    LogScope(trace_id=trace, span_ids=span_ids, min_level=level, text=text)
    for trace, span_ids in [
        (None, None),
        (tid(1), None),
        (tid(1), frozenset({sid(1, 1), sid(1, 2)})),
        (None, frozenset({sid(2, 0)})),
    ]
    for level in LEVELS
    for text in ["", "disk full", "100%", "_id"]
]


@pytest.mark.parametrize(
    "scope",
    LOG_SCOPES,
    ids=lambda s: (
        f"{s.trace_id and s.trace_id[-1]}-{s.span_ids and len(s.span_ids)}-{s.min_level}-{s.text}"
    ),
)
def test_log_scope_sql_and_live_rule_agree(logs_db: TraceDb, scope: LogScope) -> None:
    with TraceReader(logs_db.path) as reader:
        every = reader.logs(limit=1000)
        shown = reader.logs(scope=scope, limit=1000)
        newest = reader.logs(scope=scope, limit=3)
    assert len(every) == 60
    expected = [log.id for log in every if scope.matches(log)]
    assert [log.id for log in shown] == expected
    assert [log.id for log in newest] == expected[-3:]


def test_level_counts_of_a_scope(logs_db: TraceDb) -> None:
    """Counts ignore the scope's level and text; a span scope is counted through `upto`, a
    trace or all logs as they are now unless exactly through `upto` is asked."""
    with TraceReader(logs_db.path) as reader:
        every = reader.logs(limit=1000)
        upto = every[29].id

        def counted(scope: LogScope, through: int | None) -> dict[str, int]:
            counts = dict.fromkeys(LEVELS, 0)
            for log in every:
                if scope.in_scope(log) and (through is None or log.id <= through):
                    counts[log.level] += 1
            return counts

        spans = LogScope(tid(1), frozenset({sid(1, 1)}), min_level="error", text="disk")
        trace = LogScope(tid(1), min_level="warn", text="nothing like this")
        everything = LogScope(min_level="error")
        assert reader.level_counts_of(spans, upto) == counted(spans, upto)
        assert reader.level_counts_of(trace, upto) == counted(trace, None)
        assert reader.level_counts_of(everything, upto) == counted(everything, None)
        assert reader.level_counts_of(trace, upto, exact=True) == counted(trace, upto)
        assert reader.level_counts_of(everything, upto, exact=True) == counted(everything, upto)
        assert counted(everything, upto) != counted(everything, None)
