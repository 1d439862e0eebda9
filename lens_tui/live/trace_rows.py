"""`TraceRows`: the trace list's rows, newest first, keyed by trace id, updated in place,
capped."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from lens_tui.store.filters import TraceWhere
from lens_tui.store.presence import Presence
from lens_tui.store.records import TraceSummary


def _key(trace: TraceSummary) -> tuple[float, str]:
    return (-trace.started_at, trace.trace_id)


class TraceRows:
    """Traces sorted newest first; upserts keep the order, the oldest fall off past the cap."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._keys: list[tuple[float, str]] = []
        self._by_id: dict[str, TraceSummary] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, index: int) -> TraceSummary:
        return self._by_id[self._keys[index][1]]

    def __contains__(self, trace_id: str) -> bool:
        return trace_id in self._by_id

    def get(self, trace_id: str) -> TraceSummary | None:
        """The row of a trace, if listed."""
        return self._by_id.get(trace_id)

    def index(self, trace_id: str) -> int | None:
        """Where a trace is listed (O(log n))."""
        trace = self._by_id.get(trace_id)
        if trace is None:
            return None
        return bisect_left(self._keys, _key(trace))

    def clear(self) -> None:
        """Drop every row."""
        self._keys.clear()
        self._by_id.clear()

    def upsert(
        self, traces: Iterable[TraceSummary], keep: TraceWhere, now: float | None = None
    ) -> int:
        """Add or replace rows (those `keep` rejects at `now` are removed); returns how many
        were new."""
        added = 0
        keys, by_id = self._keys, self._by_id
        for trace in traces:
            old = by_id.get(trace.trace_id)
            if old is not None:
                matches = keep.matches(trace, now)
                if old == trace and matches:
                    continue
                if not matches or _key(old) != _key(trace):
                    del keys[bisect_left(keys, _key(old))]
                    del by_id[trace.trace_id]
                else:
                    by_id[trace.trace_id] = trace  # same place: update in place
                    continue
            if not keep.matches(trace, now):
                continue
            key = _key(trace)
            keys.insert(bisect_left(keys, key), key)
            by_id[trace.trace_id] = trace
            if old is None:
                added += 1
        if len(keys) > self.cap:
            for _, trace_id in keys[self.cap :]:
                del by_id[trace_id]
            del keys[self.cap :]
        return added

    def drop_gone(self, presence: Presence) -> list[str]:
        """Remove the rows `presence` says are not in the file any more; their ids. Cheap when
        none is: the rows older than the oldest trace left are the last ones."""
        keys, by_id = self._keys, self._by_id
        gone: list[str] = []
        for index in range(len(keys) - 1, -1, -1):
            trace = by_id[keys[index][1]]
            if trace.started_at >= presence.oldest_trace:
                break
            if presence.trace_gone(trace.trace_id, trace.started_at):
                gone.append(trace.trace_id)
        gone += [i for i in presence.missing_traces if i in by_id and i not in gone]
        for trace_id in gone:
            del keys[bisect_left(keys, _key(by_id[trace_id]))]
            del by_id[trace_id]
        return gone
