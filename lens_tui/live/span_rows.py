"""`SpanRows`: the rows of a trace opened from its keys, read by a worker as they are drawn."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from lens_tui.store.reader import OpenError, SpanColumns, TraceReader
from lens_tui.store.records import PendingSpan, SpanRow

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
