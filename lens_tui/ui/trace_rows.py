"""Which traces the list shows (`TraceFilter`) and its `d` steps (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lens_tui.store.reader import name_matches
from lens_tui.store.records import TraceSummary


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
