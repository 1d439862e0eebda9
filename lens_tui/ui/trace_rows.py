"""The trace list's rows: newest first, keyed by trace id, updated in place, capped (pure)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from lens_tui.store.reader import name_matches
from lens_tui.store.records import TraceSummary


def _key(trace: TraceSummary) -> tuple[float, str]:
    return (-trace.started_at, trace.trace_id)


SLOW_STEPS_MS: tuple[float | None, ...] = (None, 10.0, 100.0, 1_000.0, 10_000.0)
"""The trace list's minimum durations, in the order `d` goes through them."""
SLOW_LABELS = {10.0: "10ms", 100.0: "100ms", 1_000.0: "1s", 10_000.0: "10s"}
"""How the trace list's title names them."""


@dataclass(frozen=True, slots=True)
class TraceFilter:
    """Which traces the list shows: a root-name substring, errors only, a minimum duration."""

    name: str = ""
    errors_only: bool = False
    min_duration_ms: float | None = None
    """Traces that took at least this long, or that have been running that long by `now`
    (their duration will be at least that)."""

    def matches(self, trace: TraceSummary, now: float | None = None) -> bool:
        """Same rule as the reader's query (`name_matches`: a literal substring, Unicode case
        folded), error status or count, duration: a live row is kept exactly when a reload
        would list it."""
        if self.errors_only and not is_error(trace):
            return False
        least = self.min_duration_ms
        if least is not None:
            took = trace.duration_ms
            if took is None:  # running: for how long so far
                took = None if now is None else now - trace.started_at
            if took is not None and took < least:
                return False
        return not self.name or name_matches(trace.root_span_name, self.name)

    def query(self, now: float | None = None) -> dict[str, Any]:
        """The same filter as `TraceReader.recent_traces` arguments."""
        return {
            "name_filter": self.name or None,
            "errors_only": self.errors_only,
            "min_duration_ms": self.min_duration_ms,
            "now_ms": now,
        }

    def slower(self) -> TraceFilter:
        """The next minimum duration of `SLOW_STEPS_MS` (after the last: none)."""
        least = self.min_duration_ms
        at = SLOW_STEPS_MS.index(least) if least in SLOW_STEPS_MS else 0
        return replace(self, min_duration_ms=SLOW_STEPS_MS[(at + 1) % len(SLOW_STEPS_MS)])


def is_error(trace: TraceSummary) -> bool:
    """Whether a trace failed anywhere."""
    return trace.status == "error" or bool(trace.error_count)


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
        self, traces: Iterable[TraceSummary], keep: TraceFilter, now: float | None = None
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
