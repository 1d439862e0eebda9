"""The dashboard's data side, no Textual: readers per worker group, tail marks, the open trace.

Everything here blocks and runs in worker threads; it hands back immutable records. One
`TraceReader` (one connection) per worker group, so a slow trace load never delays the live
tail and queries of different groups never interleave on a connection.
"""

from __future__ import annotations

import gc
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from lens_tui.store.reader import (
    TRACES_SINCE_LIMIT,
    OpenError,
    SpanColumns,
    TraceMark,
    TraceReader,
)
from lens_tui.store.records import Delta, LogRow, SpanRow, StoreStats, TraceSummary
from lens_tui.ui.flatten import SpanForest, SpanKey, build_forest_columns, build_forest_keys

TRACE_CAP = 5_000
"""Traces the list keeps in memory (the newest)."""
LOG_CAP = 10_000
"""Log lines the log pane keeps in memory."""
LOG_BATCH = 5_000
"""New logs read per refresh; a full batch asks for another refresh right away."""


class Readers:
    """One lazily opened `TraceReader` per worker group; `invalidate()` reopens them all."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._epoch = 0
        self._readers: dict[str, tuple[TraceReader, int]] = {}

    def get(self, group: str) -> TraceReader:
        """The group's reader (call from a worker thread: it may close a stale connection)."""
        stale: TraceReader | None = None
        with self._lock:
            entry = self._readers.get(group)
            if entry is not None and entry[1] != self._epoch:
                stale, entry = entry[0], None
            if entry is None:
                entry = (TraceReader(self._path), self._epoch)
                self._readers[group] = entry
        if stale is not None:
            stale.close()
        return entry[0]

    def invalidate(self) -> None:
        """The file was replaced: every reader reopens on its next use (cheap, any thread)."""
        with self._lock:
            self._epoch += 1

    def close_all(self) -> None:
        """Close every connection."""
        with self._lock:
            readers = [entry[0] for entry in self._readers.values()]
            self._readers.clear()
        for reader in readers:
            reader.close()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The first picture of the database: newest traces, log high-water mark, totals."""

    traces: tuple[TraceSummary, ...]
    stats: StoreStats
    log_mark: int


class Feed:
    """Tail marks and the live-refresh reader; only the single-flight refresh worker uses it."""

    def __init__(self, reader: TraceReader) -> None:
        self.reader = reader
        self.trace_mark = TraceMark()
        self.log_mark = 0

    def try_open(self) -> str | None:
        """Open the database; None on success, else why not yet ("waiting" reasons)."""
        if not self.reader.path.exists():
            return f"waiting for {self.reader.path.name}…"
        try:
            self.reader.open()
        except OpenError as exc:
            # A writer may be creating the file right now: empty, or no tables yet.
            return f"waiting for {self.reader.path.name}… ({exc})"
        self.reader.take_replaced()
        return None

    def snapshot(
        self, limit: int = TRACE_CAP, *, name_filter: str | None = None, errors_only: bool = False
    ) -> Snapshot:
        """Marks first, then the rows: whatever commits in between arrives again as a delta."""
        reader = self.reader
        reader.changed()  # consume the data_version move of whatever came before
        self.trace_mark = reader.current_trace_mark()
        self.log_mark = reader.max_log_id()
        traces = reader.recent_traces(limit, name_filter=name_filter, errors_only=errors_only)
        return Snapshot(tuple(traces), reader.stats(), self.log_mark)

    def poll(self, force: bool = False) -> Delta | None:
        """What changed since the marks (None when nothing did); `extra["more"]` when cut short."""
        reader = self.reader
        if not reader.changed() and not force:
            return None
        if reader.take_replaced():
            self.trace_mark = TraceMark()
            self.log_mark = 0
            return Delta(replaced=True)
        traces, self.trace_mark = reader.traces_since(self.trace_mark)
        logs: list[LogRow] = []
        if self.log_mark:
            logs = reader.logs(after_id=self.log_mark, limit=LOG_BATCH)
        else:
            logs = reader.logs(limit=LOG_BATCH)  # the newest, as the first load would show
        if logs:
            self.log_mark = max(self.log_mark, logs[-1].id)
        more = len(traces) >= TRACES_SINCE_LIMIT or len(logs) >= LOG_BATCH
        return Delta(
            traces=tuple(traces), logs=tuple(logs), stats=reader.stats(), extra={"more": more}
        )


ANALYSE_LATER_SPANS = 10_000
"""From this many spans, opening a trace shows the waterfall before the critical path and self
times are computed (about 100 ms for 100,000 spans)."""


class OpenTrace:
    """The spans of the trace on screen; merges live updates and rebuilds its forest."""

    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id
        self._lock = threading.Lock()
        self._spans: dict[str, SpanKey] = {}
        """Span id -> key; its payload is a raw row from the first load, or a SpanRow."""
        self._decode: Callable[[Any], SpanRow] = _as_span
        self._columns: SpanColumns | None = None
        """The first load's spans, until an update turns them into `_spans`."""
        self._mark: float | None = None
        self.summary: TraceSummary | None = None
        self.version = 0
        """Counts forests built: the UI ignores one older than what it shows."""

    def load(
        self, reader: TraceReader, now: float | None, lookup: TraceReader | None = None
    ) -> SpanForest:
        """Read the whole trace and build its forest (spans are decoded when first drawn).

        With `lookup` (a reader of its own: the UI thread uses it while `reader` may be busy)
        only the forest's columns are read now, and a span's other columns are read by rowid
        when it is first drawn or selected."""
        # held while reading: an update must not slip in before the load
        with self._lock, _CollectorPaused() as collector:
            if lookup is None:
                summary, columns = reader.trace_columns(self.trace_id)
                decode_raw = reader.decode_span
            else:
                summary, keys = reader.trace_keys(self.trace_id)
                # Payloads are indices into `keys` (ints: nothing for the collector to walk).
                # Each span is read once, then kept: an update compares the version on screen.
                cache: dict[int, SpanRow] = {}
                decode_raw = partial(_span_from_key, lookup, self.trace_id, keys, cache)
                columns = SpanColumns(
                    keys.span_ids, keys.parent_ids, keys.starts, keys.durations,
                    range(len(keys.span_ids)),
                )
            self.summary = summary
            self._mark = summary.updated_at if summary else None
            self._columns = columns
            self._spans = {}  # built from the columns by the first update, if one comes
            self._decode = lambda payload: (
                payload if type(payload) is SpanRow else decode_raw(payload)
            )
            self.version += 1
            huge = len(columns.span_ids) >= ANALYSE_LATER_SPANS
            forest = build_forest_columns(
                columns.span_ids, columns.parent_ids, columns.starts, columns.durations,
                columns.rows, self._decode, now,
                # A huge trace is drawn first; self times and the critical path follow.
                analyse=not huge,
            )
            if lookup is not None:
                # The first screen's spans in one query here, not one by one on the UI thread.
                first = [forest.order[k] for k in range(min(FIRST_SCREEN_ROWS, len(forest)))]
                _read_spans(reader, self.trace_id, keys, cache, first)
            collector.freeze = huge
            return forest

    def update(
        self, reader: TraceReader, summary: TraceSummary | None, now: float | None
    ) -> SpanForest | None:
        """Fetch spans written since the last look; a new forest, or None if nothing changed."""
        with self._lock:
            rows = reader.spans_since(self.trace_id, self._mark)
            if summary is not None:
                self.summary = summary
                if summary.updated_at is not None:
                    self._mark = summary.updated_at
            if self._columns is not None:
                c, self._columns = self._columns, None
                self._spans = {
                    key[0]: key
                    for key in zip(c.span_ids, c.parent_ids, c.starts, c.durations, c.rows)
                }
            changed = False
            for row in rows:
                old = self._spans.get(row.span_id)
                # A span read by rowid after the load may already be this newer version: the
                # forest's columns (from the load) still tell whether it changed.
                if (
                    old is None
                    or old[:4] != (row.span_id, row.parent_span_id, row.started_at, row.duration_ms)
                    or self._decode(old[4]) != row
                ):
                    self._spans[row.span_id] = (
                        row.span_id, row.parent_span_id, row.started_at, row.duration_ms, row
                    )
                    changed = True
            if not changed:
                return None
            self.version += 1
            return build_forest_keys(self._spans.values(), self._decode, now)


class _CollectorPaused:
    """The cyclic garbage collector off while a huge trace is read and built: its 100,000 rows
    set off full collections that walk every live object of the app (about 60 ms of a
    300 ms open). Nothing here makes cycles; whatever is due is collected once it is back on.
    Overlapping pauses leave it on at the end: only the one that turned it off turns it on.

    With `freeze` set, what was built is moved out of the collector's sight (`gc.freeze`)
    before it is turned back on: otherwise its first passes over the young generations walk
    every slot of the new forest's lists (10 to 20 ms each, twice, while the trace opens).
    The app hands everything back (`gc.unfreeze`, into the oldest generation) once the
    trace is on screen; nothing is lost meanwhile, only not collected yet."""

    def __init__(self) -> None:
        self.freeze = False
        self._was_enabled = False

    def __enter__(self) -> _CollectorPaused:
        self._was_enabled = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.freeze:
            gc.freeze()
        if self._was_enabled:
            gc.enable()


def _span_from_key(
    lookup: TraceReader,
    trace_id: str,
    keys: SpanColumns,
    cache: dict[int, SpanRow],
    index: int,
) -> SpanRow:
    """The SpanRow of span `index` of a `trace_keys` load, read by its rowid the first time;
    if that row is gone or holds another span now (the file was replaced), what the keys
    themselves say."""
    cached = cache.get(index)
    if cached is None:
        cached = cache[index] = _read_span(lookup, trace_id, keys, index)
    return cached


FIRST_SCREEN_ROWS = 100
"""Spans read with the forest, in one query: the rows a newly opened trace shows first."""


def _read_spans(
    reader: TraceReader,
    trace_id: str,
    keys: SpanColumns,
    cache: dict[int, SpanRow],
    indices: Sequence[int],
) -> None:
    """Read spans `indices` of a `trace_keys` load into `cache` at once (those whose row still
    holds them; `_span_from_key` deals with the others when they are drawn)."""
    try:
        found = reader.spans_at(keys.rows[i] for i in indices)
    except OpenError:
        return
    for i in indices:
        row = found.get(int(keys.rows[i]))
        if row is not None and row.span_id == keys.span_ids[i]:
            cache[i] = row


def _read_span(lookup: TraceReader, trace_id: str, keys: SpanColumns, index: int) -> SpanRow:
    span_id = keys.span_ids[index]
    try:
        row = lookup.span_at(keys.rows[index])
    except OpenError:
        row = None
    if row is not None and row.span_id == span_id:
        return row
    duration = keys.durations[index]
    return SpanRow(
        span_id=span_id,
        trace_id=trace_id,
        parent_span_id=keys.parent_ids[index],
        name="",
        started_at=keys.starts[index],
        duration_ms=duration,
        status="running" if duration is None else "ok",
    )


def _as_span(payload: Any) -> SpanRow:
    """The decoder before any load: payloads are SpanRows."""
    assert isinstance(payload, SpanRow)
    return payload


class PendingDeltas:
    """Deltas held back while paused, merged and bounded: nothing is lost, memory stays flat."""

    def __init__(self, trace_cap: int = TRACE_CAP, log_cap: int = LOG_CAP) -> None:
        self._traces: dict[str, TraceSummary] = {}
        self._trace_cap = trace_cap
        self._logs: deque[LogRow] = deque(maxlen=log_cap)
        self.count = 0
        """New traces and logs queued (for the header)."""

    def __bool__(self) -> bool:
        return bool(self._traces or self._logs)

    def add(self, delta: Delta) -> None:
        """Queue a delta's rows (later versions of a trace replace earlier ones)."""
        for trace in delta.traces:
            if trace.trace_id not in self._traces:
                self.count += 1
            self._traces[trace.trace_id] = trace
        if len(self._traces) > self._trace_cap:
            newest = sorted(self._traces.values(), key=lambda t: t.started_at, reverse=True)
            self._traces = {t.trace_id: t for t in newest[: self._trace_cap]}
        self._logs.extend(delta.logs)
        self.count += len(delta.logs)

    def take(self) -> Delta:
        """Everything queued as one delta, and an empty queue."""
        delta = Delta(traces=tuple(self._traces.values()), logs=tuple(self._logs))
        self._traces = {}
        self._logs.clear()
        self.count = 0
        return delta
