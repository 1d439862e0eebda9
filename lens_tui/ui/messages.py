"""Messages worker threads post to the app: each carries immutable records, never a cursor."""

from __future__ import annotations

from textual.message import Message

from lens_tui.store.filters import LogScope, LogTally
from lens_tui.store.records import Delta, LogRow, TraceSummary
from lens_tui.ui.feed import Snapshot
from lens_tui.ui.flatten import MatchOrder, SpanForest


class ChangeHint(Message):
    """The watcher saw the database or its WAL change (a hint: the refresh confirms it)."""

    def can_replace(self, message: Message) -> bool:
        """A queued hint says nothing a newer one does not."""
        return isinstance(message, ChangeHint)


class StoreWaiting(Message):
    """The file is not there (or not a trace database) yet."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class SnapshotReady(Message):
    """The first picture of the database is loaded."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class DeltaReady(Message):
    """What changed since the last refresh."""

    def __init__(self, delta: Delta) -> None:
        super().__init__()
        self.delta = delta


class TracesLoaded(Message):
    """The trace list reloaded for a new filter, or a page of older traces (`before` set)."""

    def __init__(
        self, traces: tuple[TraceSummary, ...], generation: int, before: float | None = None
    ) -> None:
        super().__init__()
        self.traces = traces
        self.generation = generation
        self.before = before


class SpansRead(Message):
    """Rows of the open trace's spans that were drawn as placeholders have been read."""

    def __init__(self, generation: int) -> None:
        super().__init__()
        self.generation = generation

    def can_replace(self, message: Message) -> bool:
        """One redraw covers every batch read before it."""
        return isinstance(message, SpansRead) and message.generation == self.generation


class TraceLoaded(Message):
    """A trace's spans as a forest: freshly opened (`fresh`) or updated while live."""

    def __init__(
        self,
        trace_id: str,
        summary: TraceSummary | None,
        forest: SpanForest,
        fresh: bool,
        generation: int,
        version: int,
    ) -> None:
        super().__init__()
        self.version = version
        """Grows with every forest built for the trace: an older one arriving late is ignored."""
        self.trace_id = trace_id
        self.summary = summary
        self.forest = forest
        self.fresh = fresh
        self.generation = generation


class LogsLoaded(Message):
    """The log pane's rows and per-level counts for a scope."""

    def __init__(
        self,
        scope: LogScope,
        rows: tuple[LogRow, ...],
        counts: dict[str, int],
        generation: int,
        mark: int,
        older: bool = False,
    ) -> None:
        super().__init__()
        self.mark = mark
        """The highest log id the load saw: the live tail brings everything above it."""
        self.scope = scope
        self.rows = rows
        self.counts = counts
        self.generation = generation
        self.older = older
        """Older lines of the scope exist than these (paged in at the top)."""


class OlderLogsLoaded(Message):
    """A page of the log pane's scope older than its oldest line."""

    def __init__(
        self, rows: tuple[LogRow, ...], before_id: int, older: bool, generation: int
    ) -> None:
        super().__init__()
        self.rows = rows
        self.before_id = before_id
        self.older = older
        self.generation = generation


class BodyLoaded(Message):
    """A captured body read from the `bodies` table."""

    def __init__(self, body_hash: str, body: str | None) -> None:
        super().__init__()
        self.body_hash = body_hash
        self.body = body


class LogsCounted(Message):
    """The log pane's per-level counts read again, up to `tally.upto`."""

    def __init__(self, counts: dict[str, int], generation: int, tally: LogTally) -> None:
        super().__init__()
        self.counts = counts
        self.generation = generation
        self.tally = tally


class SpansFound(Message):
    """Ids of the open trace's spans whose name contains `query`, and their nodes of
    `forest` in display order (`flatten.match_order`)."""

    def __init__(
        self,
        query: str,
        span_ids: tuple[str, ...],
        forest: SpanForest,
        order: MatchOrder,
        search: int,
        jump: bool,
    ) -> None:
        super().__init__()
        self.query = query
        self.span_ids = span_ids
        self.forest = forest
        self.order = order
        self.search = search
        """Which search this answers (the app drops all but the latest)."""
        self.jump = jump
        """A new search: go to its first match (not a live update's new spans)."""
