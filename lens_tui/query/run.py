"""Asking a trace database a compiled query, through a TraceReader: read-only, one short read
transaction per call, newest first with a LIMIT, keyset paging for new rows, interruptible.

Every function blocks (call it from a worker thread in a UI). `TraceReader.interrupt()` from
another thread stops a long one: it raises `lens_tui.store.reader.Interrupted`. A UI that
cancels reads should give them a reader of their own, so an interrupt meant for a stale query
cannot stop the live tail's read instead.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from lens_tui.query.compiled import LogQuery, OnlyTraces, TraceQuery
from lens_tui.store.filters import TraceWhere
from lens_tui.store.reader import TRACES_SINCE_LIMIT, TraceMark, TraceReader
from lens_tui.store.records import LogRow, TraceSummary

ID_CHUNK = 500
"""Trace ids per `IN (...)` list (well under SQLite's variable limit)."""
LOG_PAGE = 1000
"""Logs read per step while following."""
SEEN_TRACES = 100_000
"""How many printed trace ids a follower remembers (a trace is reported once)."""


def find_traces(
    reader: TraceReader, query: TraceQuery, *, limit: int = 50, before: float | None = None
) -> list[TraceSummary]:
    """The newest `limit` traces the query selects, newest first; `before` (a started_at)
    continues below the last page."""
    return reader.recent_traces(limit, where=query, before=before)


def matching_trace_ids(
    reader: TraceReader, where: TraceWhere, trace_ids: Iterable[str]
) -> set[str]:
    """Which of these traces a filter keeps, asked of the store: how live rows are judged when
    it is a query about spans (`needs_spans(where)`) and only their summaries arrived."""
    wanted = list(dict.fromkeys(trace_ids))
    found: set[str] = set()
    for at in range(0, len(wanted), ID_CHUNK):
        chunk = tuple(wanted[at : at + ID_CHUNK])
        found.update(
            t.trace_id for t in reader.recent_traces(len(chunk), where=OnlyTraces(where, chunk))
        )
    return found


def find_logs(
    reader: TraceReader, query: LogQuery, *, limit: int = 50, before_id: int | None = None
) -> list[LogRow]:
    """The newest `limit` logs the query selects, oldest of them first (like `tail`);
    `before_id` continues above the last page."""
    return reader.logs(scope=query, limit=limit, before_id=before_id)


class TraceFollower:
    """New matches of a trace query as writers commit them (`poll`), each trace once: when it
    first matches (a trace that matches only once it ends is reported then)."""

    def __init__(self, reader: TraceReader, query: TraceQuery) -> None:
        self.reader = reader
        self.query = query
        self.mark: TraceMark = reader.current_trace_mark()
        self._seen: OrderedDict[str, None] = OrderedDict()

    def remember(self, trace_ids: Iterable[str]) -> None:
        """Traces already reported (a first page): not reported again."""
        for trace_id in trace_ids:
            self._seen[trace_id] = None

    def poll(self) -> list[TraceSummary]:
        """Traces that newly match since the last poll, by start time; [] when nothing was
        committed (`PRAGMA data_version`). No read transaction is held between polls."""
        if not self.reader.changed():
            return []
        if self.reader.take_replaced():  # another file now: follow it from its present
            self.mark = self.reader.current_trace_mark()
            return []
        changed: dict[str, TraceSummary] = {}
        while True:
            traces, self.mark = self.reader.traces_since(self.mark)
            changed.update((t.trace_id, t) for t in traces if t.trace_id not in self._seen)
            if len(traces) < TRACES_SINCE_LIMIT:
                break
        if self.query.needs_spans:
            hits = matching_trace_ids(self.reader, self.query, changed)
            matched = [t for t in changed.values() if t.trace_id in hits]
        else:
            matched = [t for t in changed.values() if self.query.matches(t)]
        self.remember(t.trace_id for t in matched)
        while len(self._seen) > SEEN_TRACES:
            self._seen.popitem(last=False)
        return sorted(matched, key=lambda t: (t.started_at, t.trace_id))


class LogFollower:
    """New logs a query selects as writers commit them (`poll`), in id (commit) order."""

    def __init__(self, reader: TraceReader, query: LogQuery, after_id: int | None = None) -> None:
        self.reader = reader
        self.query = query
        self.after_id = reader.max_log_id() if after_id is None else after_id

    def poll(self) -> list[LogRow]:
        """Logs above the last one seen that match; [] when nothing was committed."""
        if not self.reader.changed():
            return []
        if self.reader.take_replaced():
            self.after_id = self.reader.max_log_id()
            return []
        # Up to the newest id now: the range is then done with, matches or not (ids grow in
        # commit order), so a rare query never rescans it.
        top = self.reader.max_log_id()
        found: list[LogRow] = []
        while self.after_id < top:
            # after_id 0 would mean "the newest"; -1 reads from the first id up, in order.
            page = self.reader.logs(
                scope=self.query, after_id=self.after_id or -1, before_id=top + 1, limit=LOG_PAGE
            )
            found.extend(page)
            if len(page) < LOG_PAGE:
                break
            self.after_id = page[-1].id
        self.after_id = max(self.after_id, top)
        return found
