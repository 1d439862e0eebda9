"""`Feed`: the live tail. The first picture of the database, then everything past its marks.

Only the dashboard's single-flight refresh job uses a `Feed` (tail marks must advance one
refresh at a time); it has a `TraceReader` of its own.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from lens_tui.live.limits import LOG_BATCH, TRACE_CAP
from lens_tui.store import presence
from lens_tui.store.presence import Presence
from lens_tui.store.reader import TRACES_SINCE_LIMIT, OpenError, TraceMark, TraceReader
from lens_tui.store.records import LogRow, StoreStats, TraceSummary


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The first picture of the database: newest traces, log high-water mark, totals."""

    traces: tuple[TraceSummary, ...]
    stats: StoreStats
    log_mark: int


@dataclass(frozen=True, slots=True)
class Delta:
    """What changed since the last refresh: new and updated traces, new logs, totals."""

    traces: tuple[TraceSummary, ...] = ()
    logs: tuple[LogRow, ...] = ()
    stats: StoreStats | None = None
    replaced: bool = False
    """The database file was replaced: the UI drops what it holds and starts over."""
    more: bool = False
    """A batch was cut at its limit: more rows are waiting, refresh again at once."""
    presence: Presence | None = None
    """What of the rows the panes hold is still in the file (deleted rows leave them)."""


class Feed:
    """Tail marks over a reader: `snapshot()` sets them, each `poll()` reads past them."""

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

    def snapshot(self, limit: int = TRACE_CAP, **filters: Any) -> Snapshot:
        """Marks first, then the rows (the newest `limit` traces, `recent_traces` filters):
        whatever commits in between arrives again as a delta."""
        reader = self.reader
        reader.changed()  # consume the data_version move of whatever came before
        self.trace_mark = reader.current_trace_mark()
        self.log_mark = reader.max_log_id()
        traces = reader.recent_traces(limit, **filters)
        return Snapshot(tuple(traces), reader.stats(), self.log_mark)

    def poll(
        self,
        force: bool = False,
        trace_ids: Collection[str] = (),
        log_ids: Collection[int] = (),
    ) -> Delta | None:
        """What changed since the marks (None when nothing did; `force`: look anyway), and
        whether the rows held are still there: the oldest trace and log left, and which of
        `trace_ids` and `log_ids` (those on screen) are not (`lens_tui.store.presence`)."""
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
        # After the rows: one that came and went meanwhile is then known to be gone.
        found = presence.check(reader, trace_ids, log_ids)
        return Delta(
            traces=tuple(traces),
            logs=tuple(logs),
            stats=reader.stats(),
            more=len(traces) >= TRACES_SINCE_LIMIT or len(logs) >= LOG_BATCH,
            presence=found if found.anything else None,
        )
