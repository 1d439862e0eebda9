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
from pathlib import Path
from typing import Any

from lens_tui.store.reader import (
    TRACES_SINCE_LIMIT,
    OpenError,
    SpanColumns,
    TraceMark,
    TraceReader,
)
from lens_tui.store.records import (
    Delta,
    LogRow,
    PendingSpan,
    SpanRow,
    StoreStats,
    TraceSummary,
)
from lens_tui.forest import SpanForest, SpanKey, build_forest_columns, build_forest_keys

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
        self, limit: int = TRACE_CAP, **filters: Any
    ) -> Snapshot:
        """Marks first, then the rows: whatever commits in between arrives again as a delta."""
        reader = self.reader
        reader.changed()  # consume the data_version move of whatever came before
        self.trace_mark = reader.current_trace_mark()
        self.log_mark = reader.max_log_id()
        traces = reader.recent_traces(limit, **filters)  # `TraceFilter.query()`
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
        self.rows: SpanRows | None = None
        """The rows of a keys-only load, read as they are drawn."""
        self._columns: SpanColumns | None = None
        """The first load's spans, until an update turns them into `_spans`."""
        self._mark: float | None = None
        self.summary: TraceSummary | None = None
        self.version = 0
        """Counts forests built: the UI ignores one older than what it shows."""

    def load(
        self,
        reader: TraceReader,
        now: float | None,
        *,
        keys_only: bool = False,
        on_missing: Callable[[], None] | None = None,
    ) -> SpanForest:
        """Read the whole trace and build its forest (spans are decoded when first drawn).

        With `keys_only` only the forest's columns are read now, with the rows of the first
        screen; the others are read by a worker when first drawn (`self.rows`, whose
        `on_missing` says when one is wanted): the UI thread never waits on the database."""
        # held while reading: an update must not slip in before the load
        with self._lock, _CollectorPaused() as collector:
            if not keys_only:
                summary, columns = reader.trace_columns(self.trace_id)
                decode_raw = reader.decode_span
                self.rows = None
            else:
                summary, keys = reader.trace_keys(self.trace_id)
                # Payloads are indices into `keys` (ints: nothing for the collector to walk).
                rows = self.rows = SpanRows(self.trace_id, keys, on_missing)
                decode_raw = rows.get
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
            if self.rows is not None:
                # The first screen's spans in one query here, not one by one on the UI thread.
                first = [forest.order[k] for k in range(min(FIRST_SCREEN_ROWS, len(forest)))]
                try:
                    self.rows.read(reader, first)
                except OpenError:
                    pass  # placeholders first, read when drawn
            collector.freeze = huge
            return forest

    def _known(self, payload: Any) -> SpanRow | None:
        """The row a payload stands for, if known without reading the database."""
        if type(payload) is SpanRow:
            return payload
        if self.rows is not None and type(payload) is int:
            return self.rows.peek(payload)
        return self._decode(payload)  # a raw row: decoding it reads nothing

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
                key = (row.span_id, row.parent_span_id, row.started_at, row.duration_ms)
                # A span read by rowid after the load may already be this newer version: the
                # forest's columns (from the load) still tell whether it changed.
                known = None if old is None else self._known(old[4])
                if old is not None and old[:4] == key and known is None:
                    assert self.rows is not None
                    self.rows.put(old[4], row)  # never read yet: ready for when it is drawn
                elif old is None or old[:4] != key or known != row:
                    self._spans[row.span_id] = (*key, row)
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


FIRST_SCREEN_ROWS = 100
"""Spans read with the forest, in one query: the rows a newly opened trace shows first."""
WANTED_CAP = 2_000
"""Spans queued to be read at most: scrolling fast through a huge trace asks for many that
are long off screen again; the latest asked are the ones on screen."""
READ_BATCH = 500
"""Spans read per query (and per redraw) while drawn spans wait for their rows."""


class SpanRows:
    """The full rows of a trace opened from its keys (`TraceReader.trace_keys`), read by a
    worker and never on the UI thread.

    `get(index)` is the row once read; before that, a `PendingSpan` made of what the keys
    tell, and the index is queued. When the queue stops being empty `on_missing` is called
    (from whichever thread asked): the app then runs `read` in a worker until it returns False.
    A row gone from the file, or holding another span now (the file was replaced), reads as
    what the keys say, under an empty name."""

    def __init__(
        self, trace_id: str, keys: SpanColumns, on_missing: Callable[[], None] | None
    ) -> None:
        self.trace_id = trace_id
        self.keys = keys
        self._on_missing = on_missing
        self._lock = threading.Lock()
        self._rows: dict[int, SpanRow] = {}
        self._wanted: dict[int, None] = {}
        """Indices asked for, oldest first (a dict as an ordered set)."""
        self._asked = False
        """`on_missing` was called and `read` has not yet found the queue empty."""
        self._put: set[int] = set()
        """Indices given a newer row by `put` while a `read` of them was under way."""
        self._closed = False

    def get(self, index: int) -> SpanRow:
        """Span `index`: its row, or (queued to be read) a `PendingSpan`."""
        row = self._rows.get(index)
        if row is not None:
            return row
        with self._lock:
            row = self._rows.get(index)
            if row is not None:
                return row
            ask = False
            if not self._closed:
                self._wanted.pop(index, None)
                self._wanted[index] = None
                if len(self._wanted) > WANTED_CAP:
                    del self._wanted[next(iter(self._wanted))]
                ask, self._asked = not self._asked, True
        if ask and self._on_missing is not None:
            self._on_missing()
        return self._from_keys(index, PendingSpan)

    def peek(self, index: int) -> SpanRow | None:
        """Span `index`'s row if it was read (nothing is queued)."""
        return self._rows.get(index)

    def put(self, index: int, row: SpanRow) -> None:
        """A newer row of span `index`, read elsewhere (a live update): a read of the older
        one that is under way does not overwrite it."""
        with self._lock:
            self._rows[index] = row
            self._put.add(index)

    def release(self) -> None:
        """Reading stopped with spans still queued: the next `get` asks again."""
        with self._lock:
            self._asked = False

    def close(self) -> None:
        """The trace is no longer shown: forget what is queued, read nothing more."""
        with self._lock:
            self._closed = True
            self._wanted.clear()

    def read(self, reader: TraceReader, indices: Sequence[int] | None = None) -> bool:
        """Read `indices`, or else the latest queued (up to `READ_BATCH`), in one query;
        False when the queue was empty or closed (the next `get` of an unread span asks
        again). An `OpenError` (the file busy or gone just now) puts what was taken back in
        the queue and is raised: retry, or give up with `release`."""
        with self._lock:
            if indices is not None:
                take = [index for index in indices if index not in self._rows]
            elif self._closed or not self._wanted:
                self._asked = False
                return False
            else:
                take = list(self._wanted)[-READ_BATCH:]
                for index in take:
                    del self._wanted[index]
            self._put.difference_update(take)
        keys = self.keys
        try:
            found = reader.spans_at(keys.rows[i] for i in take)
        except BaseException as exc:
            if indices is None:
                with self._lock:  # back in the queue, behind what was asked for since
                    for index in take:
                        self._wanted.setdefault(index, None)
                    # An OpenError is retried by the caller (who then calls `release`);
                    # anything else ends its reading: the next `get` asks again.
                    self._asked = isinstance(exc, OpenError)
            raise
        with self._lock:
            for index in take:
                if index in self._put:
                    continue  # a live update brought a newer row meanwhile
                row = found.get(int(keys.rows[index]))
                if row is None or row.span_id != keys.span_ids[index]:
                    row = self._from_keys(index, SpanRow)  # gone, or the file was replaced
                self._rows[index] = row
        return True

    def _from_keys(self, index: int, kind: type[SpanRow]) -> SpanRow:
        keys = self.keys
        duration = keys.durations[index]
        return kind(
            span_id=keys.span_ids[index],
            trace_id=self.trace_id,
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
    """Deltas held back while paused, merged and bounded: memory stays flat and nothing the
    panes would have kept is lost (they keep the newest `TRACE_CAP` traces, older ones page in
    from the file, and the newest `LOG_CAP` logs). Logs beyond the cap are counted in
    `logs_overflowed`: the log pane's per-level counts must then be read again."""

    def __init__(self, trace_cap: int = TRACE_CAP, log_cap: int = LOG_CAP) -> None:
        self._traces: dict[str, TraceSummary] = {}
        self._trace_cap = trace_cap
        self._logs: deque[LogRow] = deque(maxlen=log_cap)
        self.count = 0
        """New traces and logs queued (for the header)."""
        self.logs_overflowed = 0
        """Queued logs pushed out by newer ones since the last `take`."""

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
        cap = self._logs.maxlen or 0
        self.logs_overflowed += max(len(self._logs) + len(delta.logs) - cap, 0)
        self._logs.extend(delta.logs)
        self.count += len(delta.logs)

    def take(self) -> Delta:
        """Everything queued as one delta, and an empty queue."""
        delta = Delta(traces=tuple(self._traces.values()), logs=tuple(self._logs))
        self._traces = {}
        self._logs.clear()
        self.count = 0
        self.logs_overflowed = 0
        return delta
