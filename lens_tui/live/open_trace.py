"""`OpenTrace`: the spans of the trace on screen. Loads them (whole, or keys first with rows
read as they are drawn), merges live updates and builds a new `SpanForest` for each version."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from lens_tui.forest import SpanForest, SpanKey, build_forest_columns, build_forest_keys
from lens_tui.live.collector import CollectorPaused
from lens_tui.live.span_rows import SpanRows
from lens_tui.store.reader import OpenError, SpanColumns, TraceReader
from lens_tui.store.records import SpanRow, TraceSummary

FIRST_SCREEN_ROWS = 100
"""Spans read with the forest, in one query: the rows a newly opened trace shows first."""

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
        with self._lock, CollectorPaused() as collector:
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
                    keys.span_ids,
                    keys.parent_ids,
                    keys.starts,
                    keys.durations,
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
                columns.span_ids,
                columns.parent_ids,
                columns.starts,
                columns.durations,
                columns.rows,
                self._decode,
                now,
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
                    for key in zip(
                        c.span_ids, c.parent_ids, c.starts, c.durations, c.rows, strict=True
                    )
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


def _as_span(payload: Any) -> SpanRow:
    """The decoder before any load: payloads are SpanRows."""
    assert isinstance(payload, SpanRow)
    return payload
