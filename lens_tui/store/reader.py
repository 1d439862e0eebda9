"""`TraceReader`: the read side's one front door, read-only and bounded, over one database file.

Every public method is blocking (call it from a worker thread), takes the reader's lock, and
fully consumes every cursor inside at most one short BEGIN/COMMIT, so no read transaction ever
outlives a call and a writer can always checkpoint (docs/findings.md: checkpoint starvation).

Where each job lives: opening, validation and change detection in `store/connection.py`;
decoding cells in `store/decode.py`; what a filter keeps, in SQL and for live rows, in
`store/filters.py`; the queries by table in `store/queries/`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw

from lens_tui.levels import normalise_level
from lens_tui.store.connection import Database, Interrupted, OpenError, Read, check_path
from lens_tui.store.decode import span_row
from lens_tui.store.filters import LogScope, LogWhere, TraceFilter, TraceWhere, name_matches
from lens_tui.store.queries import MAX_LIST_LIMIT, logs, spans, totals, traces
from lens_tui.store.queries.logs import LevelCounts
from lens_tui.store.queries.spans import MAX_TRACE_SPANS, SpanColumns
from lens_tui.store.queries.traces import TRACES_SINCE_LIMIT, TraceMark
from lens_tui.store.records import LogRow, SpanRow, StoreStats, TraceDetail, TraceSummary

__all__ = [
    "MAX_LIST_LIMIT",
    "MAX_TRACE_SPANS",
    "TRACES_SINCE_LIMIT",
    "Interrupted",
    "OpenError",
    "SpanColumns",
    "TraceDetail",
    "TraceMark",
    "TraceReader",
    "check_path",
    "name_matches",
]


class TraceReader:
    """Read-only access to one trace database file (thread safe; one call at a time)."""

    def __init__(self, path: str | Path) -> None:
        self._db = Database(path)
        self._lock = self._db.lock
        self._level_counts = LevelCounts()
        self._record_totals = totals.RecordTotals()

    # ---- lifecycle

    @property
    def path(self) -> Path:
        """The database file this reader shows."""
        return self._db.path

    def open(self) -> None:
        """Open (or reopen) the database read-only; raises OpenError with a one-line reason."""
        self._db.open()

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._db.close()

    def __enter__(self) -> TraceReader:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def immutable(self) -> bool:
        """True when opened as an immutable snapshot (a WAL file in a read-only directory)."""
        return self._db.immutable

    @property
    def columns(self) -> dict[str, frozenset[str]]:
        """Table -> columns present in the open database (empty tables dict when closed)."""
        return dict(self._db.layout.columns)

    @property
    def _conn(self) -> apsw.Connection | None:
        """The open connection: the reliability tests check no transaction stays open on it."""
        return self._db.current

    def changed(self) -> bool:
        """True when another connection committed, or the file was replaced, deleted or created
        (then the reader reopens and `take_replaced()` is set)."""
        return self._db.changed()

    def take_replaced(self) -> bool:
        """True once after the file was replaced or deleted (the UI drops what it holds)."""
        return self._db.take_replaced()

    def interrupt(self) -> None:
        """Stop the read running on this reader now, from any thread (it raises `Interrupted`);
        without one running, nothing happens, and later reads are not affected."""
        self._db.interrupt()

    @contextmanager
    def read(self) -> Iterator[Read | None]:
        """One short read transaction, its connection and the file's layout (None while the
        file is missing), for queries built by other store modules (store/stats): consume
        every cursor inside."""
        with self._db.read() as read:
            yield read

    # ---- traces

    def recent_traces(
        self,
        limit: int = 500,
        *,
        where: TraceWhere | None = None,
        name_filter: str | None = None,
        errors_only: bool = False,
        min_duration_ms: float | None = None,
        now_ms: float | None = None,
        before: float | None = None,
    ) -> list[TraceSummary]:
        """The traces `where` keeps at `now_ms`, newest first by started_at; `before` pages on
        (started_at < before). Without `where`, the `TraceFilter` of `name_filter`,
        `errors_only` and `min_duration_ms`."""
        if where is None:
            where = TraceFilter(name_filter or "", errors_only, min_duration_ms)
        elif name_filter or errors_only or min_duration_ms is not None:
            raise TypeError("recent_traces: pass `where` or the loose filters, not both")
        return traces.recent(self._db, limit, where, now_ms, before)

    def current_trace_mark(self) -> TraceMark:
        """The mark at "now": tail from here after an initial `recent_traces` load."""
        return traces.current_mark(self._db)

    def traces_since(self, mark: TraceMark) -> tuple[list[TraceSummary], TraceMark]:
        """New or updated traces since `mark` (at most TRACES_SINCE_LIMIT), and the next mark."""
        return traces.since(self._db, mark)

    def find_trace_ids(self, part: str, limit: int = 20, *, tail: bool = False) -> list[str]:
        """Trace ids starting with `part` (by the primary key index), in order; with `tail`,
        ending in it (as given, or lowercase; this reads every id)."""
        if tail:
            return traces.find_ids_ending(self._db, part, limit)
        return traces.find_ids(self._db, part, limit)

    def summaries(self, trace_ids: Sequence[str]) -> list[TraceSummary]:
        """The summaries of those of `trace_ids` that have a trace row, by start time."""
        return traces.summaries(self._db, trace_ids)

    # ---- spans

    def trace(self, trace_id: str) -> TraceDetail:
        """One trace's summary (None if it has no trace row) and all its spans by start time."""
        return spans.trace(self._db, trace_id)

    def trace_columns(self, trace_id: str) -> tuple[TraceSummary | None, SpanColumns]:
        """`trace()` without a SpanRow per span: the summary and the spans by start time as
        columns; `decode_span(columns.rows[i])` makes a span's SpanRow when it is needed.
        Building every SpanRow (and parsing every span's attributes) up front was most of the
        time to open a 100,000-span trace."""
        return spans.trace_columns(self._db, trace_id, narrow=False)

    def trace_keys(self, trace_id: str) -> tuple[TraceSummary | None, SpanColumns]:
        """`trace_columns()` reading only what a forest is built from: `rows[i]` is the span's
        rowid, and `spans_at(rowids)` reads the rest when they are drawn or selected. Reading
        all 20 columns of 100,000 spans was about half the time to open such a trace (and a
        row tuple per span kept alive makes the garbage collector walk them all)."""
        return spans.trace_columns(self._db, trace_id, narrow=True)

    def find_spans(self, trace_id: str, text: str) -> list[str]:
        """Ids of the trace's spans whose name contains `text` (the trace list's rule,
        `name_matches`), in no particular order."""
        return spans.find(self._db, trace_id, text)

    def spans_at(self, rowids: Iterable[int | str]) -> dict[int, SpanRow]:
        """The spans stored at `rowids` (from `trace_keys`, as ints or text), as they are now,
        in one query per 500: rowid -> span, for the rows that exist."""
        return spans.at_rowids(self._db, rowids)

    def decode_span(self, row: tuple[Any, ...]) -> SpanRow:
        """The SpanRow of a raw row from `trace_columns` (pure: any thread may call it)."""
        return span_row(row)

    def spans_since(self, trace_id: str, updated_after: float | None) -> list[SpanRow]:
        """Spans of a trace written after `updated_after` (all of them when it is None or the
        database does not record updated_at), by start time."""
        return spans.since(self._db, trace_id, updated_after)

    def body(self, body_hash: str) -> str | None:
        """A captured body as text (gunzipped; invalid UTF-8 as U+FFFD); None when absent."""
        return spans.body(self._db, body_hash)

    # ---- logs

    def logs(
        self,
        *,
        scope: LogWhere | None = None,
        trace_id: str | None = None,
        span_ids: frozenset[str] | None = None,
        min_level: str = "debug",
        text: str | None = None,
        after_id: int = 0,
        before_id: int | None = None,
        limit: int = 2000,
    ) -> list[LogRow]:
        """The logs `scope` keeps, ascending by id; with after_id == 0, the NEWEST `limit`
        matches (ascending), below `before_id` if given (the page before the oldest one
        shown). Without `scope`, the `LogScope` of `trace_id`, `span_ids`, `min_level` and
        `text`."""
        if scope is None:
            scope = LogScope(
                trace_id, span_ids, min_level=normalise_level(min_level), text=text or ""
            )
        elif trace_id is not None or span_ids is not None or min_level != "debug" or text:
            raise TypeError("logs: pass `scope` or the loose filters, not both")
        return logs.logs(self._db, scope, after_id=after_id, before_id=before_id, limit=limit)

    def max_log_id(self) -> int:
        """The highest log id (0 when there are none)."""
        return logs.max_id(self._db)

    def level_counts(self, *, trace_id: str | None = None) -> dict[str, int]:
        """Log counts per normalised level, for one trace or all logs (all logs counted
        incrementally, recounted in full now and then: `LevelCounts`)."""
        return self._level_counts.count(self._db, trace_id)

    def level_counts_upto(
        self,
        upto: int,
        *,
        trace_id: str | None = None,
        span_ids: frozenset[str] | None = None,
    ) -> dict[str, int]:
        """Log counts per normalised level up to log id `upto`: of all logs, one trace's, or
        (with `span_ids`) those of some spans of a trace. Exact and uncapped, for a pane whose
        own tally missed lines (the live tail counts those above `upto`)."""
        return logs.level_counts_upto(self._db, upto, trace_id, span_ids)

    def level_counts_of(self, scope: LogWhere, upto: int, *, exact: bool = False) -> dict[str, int]:
        """Log counts per normalised level of the logs in `scope` (its trace or spans, whatever
        its level and text) through log id `upto`. A span scope, or any scope when `exact`, is
        counted exactly (`level_counts_upto`); a trace or all logs otherwise by the cheaper
        whole count (`level_counts`: all logs incrementally), which may include logs past
        `upto`."""
        if exact or scope.span_ids is not None:
            return self.level_counts_upto(upto, trace_id=scope.trace_id, span_ids=scope.span_ids)
        return self.level_counts(trace_id=scope.trace_id)

    # ---- totals

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of one read-only query, in one short read transaction ([] while the file
        is missing): for readers of their own, such as the service map."""
        with self._db.read() as tx:
            if tx is None:
                return []
            return tx.conn.execute(sql, tuple(params)).fetchall()

    def stats(self) -> StoreStats:
        """Approximate totals (rowid ranges: O(log n)) and the writers table when present."""
        return totals.stats(self._db, self._record_totals)
