"""`PausedQueue`: new rows held back while the dashboard is paused, merged and bounded."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from lens_tui.humanize import count
from lens_tui.live.feed import Delta
from lens_tui.live.limits import LOG_CAP, TRACE_CAP
from lens_tui.store.presence import Presence
from lens_tui.store.records import LogRow, TraceSummary


class PausedQueue:
    """Deltas held back while paused, merged and bounded: memory stays flat and nothing the
    panes would have kept is lost (they keep the newest `TRACE_CAP` traces, older ones page in
    from the file, and the newest `LOG_CAP` logs). Logs beyond the cap are counted in
    `logs_overflowed`: the log pane's per-level counts must then be read again."""

    def __init__(self, trace_cap: int = TRACE_CAP, log_cap: int = LOG_CAP) -> None:
        self._traces: dict[str, TraceSummary] = {}
        self._trace_cap = trace_cap
        self._logs: deque[LogRow] = deque(maxlen=log_cap)
        self.count = 0
        """Traces and logs queued."""
        self.new_traces = 0
        """Queued traces the trace list did not show when they came."""
        self.updated_traces = 0
        """Queued traces the trace list showed (a newer version of them)."""
        self.logs = 0
        """Queued log lines (beyond the cap included)."""
        self.logs_overflowed = 0
        """Queued logs pushed out by newer ones since the last `take`."""
        self._presence: Presence | None = None
        """What the checks while paused found gone (applied on resume, after the rows)."""

    def __bool__(self) -> bool:
        return bool(self._traces or self._logs or self._presence)

    def add(self, delta: Delta, listed: Callable[[str], bool] = lambda _id: False) -> None:
        """Queue a delta's rows (later versions of a trace replace earlier ones); `listed`
        tells a trace the list shows (an update) from a new one."""
        for trace in delta.traces:
            if trace.trace_id not in self._traces:
                self.count += 1
                if listed(trace.trace_id):
                    self.updated_traces += 1
                else:
                    self.new_traces += 1
            self._traces[trace.trace_id] = trace
        if len(self._traces) > self._trace_cap:
            newest = sorted(self._traces.values(), key=lambda t: t.started_at, reverse=True)
            self._traces = {t.trace_id: t for t in newest[: self._trace_cap]}
        if delta.presence is not None:
            old = self._presence
            self._presence = delta.presence if old is None else old.then(delta.presence)
        cap = self._logs.maxlen or 0
        self.logs_overflowed += max(len(self._logs) + len(delta.logs) - cap, 0)
        self._logs.extend(delta.logs)
        self.count += len(delta.logs)
        self.logs += len(delta.logs)

    def take(self) -> Delta:
        """Everything queued as one delta, and an empty queue."""
        delta = Delta(
            traces=tuple(self._traces.values()), logs=tuple(self._logs), presence=self._presence
        )
        self._presence = None
        self._traces = {}
        self._logs.clear()
        self.count = self.new_traces = self.updated_traces = self.logs = 0
        self.logs_overflowed = 0
        return delta


def held_text(queue: PausedQueue) -> str:
    """What the header says is held while paused: "67 new traces, 3 updated, 1,204 logs"."""
    parts: list[str] = []
    if queue.new_traces:
        plural = "" if queue.new_traces == 1 else "s"
        parts.append(f"{count(queue.new_traces)} new trace{plural}")
    if queue.updated_traces:
        parts.append(f"{count(queue.updated_traces)} updated")
    if queue.logs:
        parts.append(f"{count(queue.logs)} log{'' if queue.logs == 1 else 's'}")
    return ", ".join(parts)
