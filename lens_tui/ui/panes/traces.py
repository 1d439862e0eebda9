"""`TracesPane`: the trace list and what it shows: its filter, the reload a new filter starts,
the pages of older traces and its titles; and a trace copied as a text tree."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import var
from textual.worker import Worker

from lens_tui import export
from lens_tui import humanize as fmt
from lens_tui.live.limits import OLDER_PAGE
from lens_tui.live.readers import Readers
from lens_tui.live.scoped_filter import NoTraces, Scope, ScopedFilter, query_scope, scoped
from lens_tui.query import QueryError
from lens_tui.query.run import matching_trace_ids
from lens_tui.store.filters import TraceFilter
from lens_tui.store.presence import Presence
from lens_tui.store.records import TraceSummary
from lens_tui.text import visible
from lens_tui.trace_ids import short_id, short_id_length
from lens_tui.ui.focus import focus_now
from lens_tui.ui.widgets.trace_list import TraceList
from lens_tui.ui.workers import Generation, Job, in_thread, job_ended

COPY_TREE_MAX_LINES = 5_000
"""Lines of a trace's text tree put on the clipboard (terminals cap OSC 52 payloads)."""
SLOW_LABELS = {10.0: "10ms", 100.0: "100ms", 1_000.0: "1s", 10_000.0: "10s"}
"""How the title names the minimum durations `TraceFilter.slower` steps through."""


def empty_message(keep: TraceFilter) -> str:
    """What an empty list says: that nothing is written yet, or that nothing written matches
    the filter, and which key clears each part of it."""
    parts: list[str] = []
    hints: list[str] = []
    if keep.name:
        parts.append(f"“{visible(keep.name, 40)}”")
        hints.append("/ then esc clears it")
    if keep.errors_only:
        parts.append("errors only")
        hints.append("e shows all")
    least = keep.min_duration_ms
    if least is not None:
        parts.append(f"≥ {SLOW_LABELS.get(least) or fmt.duration(least)}")
        hints.append(f"d steps to {', '.join(_slower_steps(keep))}")
    if not parts:
        return "no traces yet"
    return f"no traces match {' · '.join(parts)} ({'; '.join(hints)})"


def _slower_steps(keep: TraceFilter) -> list[str]:
    """What `d` steps through from `keep` until all traces show again."""
    steps: list[str] = []
    while (keep := keep.slower()).min_duration_ms is not None:
        least = keep.min_duration_ms
        steps.append(SLOW_LABELS.get(least) or fmt.duration(least))
    return [*steps, "all"]


class TracesPane(Vertical):
    """Owns the trace list's filter and reloads: a result asked for under an older filter (or
    before the file was replaced) is dropped."""

    filter: var[TraceFilter] = var(TraceFilter(), init=False)
    """Which traces are listed; a new one reloads the list."""

    class TracesRead(Message, bubble=False):
        """The list for a new filter, or a page of older traces (`before` set)."""

        def __init__(
            self, traces: tuple[TraceSummary, ...], generation: int, before: float | None = None
        ) -> None:
            super().__init__()
            self.traces = traces
            self.generation = generation
            self.before = before

    class Judged(Message, bubble=False):
        """Which of some arriving traces the list's scope keeps, by the store."""

        def __init__(
            self, traces: tuple[TraceSummary, ...], kept: frozenset[str], generation: int
        ) -> None:
            super().__init__()
            self.traces = traces
            self.kept = kept
            self.generation = generation

    def __init__(
        self,
        readers: Readers,
        clock: Callable[[], float],
        *,
        cap: int,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.readers = readers
        self.clock = clock
        self.trace_list = TraceList(clock, cap=cap, id="traces")
        self.live = False
        """The first picture is shown: reloads may run."""
        self._generation = Generation()
        self._arrived: dict[str, TraceSummary] | None = None
        """Live rows that came while the list for a new filter was read (they go on top)."""
        self._older_asked: float | None = None
        self._older_exhausted: float | None = None

    def compose(self) -> ComposeResult:
        """The list."""
        yield self.trace_list

    # ------------------------------------------------------------------ set from above

    def waiting(self, reason: str) -> None:
        """Nothing to list yet: say why where the traces will be."""
        self.trace_list.empty_message = reason
        self.trace_list.rows_changed()

    def show(self, traces: Iterable[TraceSummary]) -> None:
        """The first picture's traces."""
        self.trace_list.empty_message = empty_message(self.filter)
        self.trace_list.replace(traces)
        self.update_titles()

    def apply(self, traces: tuple[TraceSummary, ...]) -> None:
        """New and updated traces from the tail (first judged by the store when the list's
        scope is a query about spans)."""
        keep = self.filter
        if isinstance(keep, ScopedFilter) and keep.judged_by_store:
            self._judge(traces, keep, self._generation.current)
            return
        self._apply_rows(traces)

    @in_thread(Job.JUDGE, exclusive=False)
    def _judge(self, traces: tuple[TraceSummary, ...], keep: ScopedFilter, generation: int) -> None:
        """Which of the arriving traces the scope keeps, asked of the store."""
        kept = matching_trace_ids(self.readers.get(Job.JUDGE), keep, [t.trace_id for t in traces])
        self.post_message(self.Judged(traces, frozenset(kept), generation))

    def on_traces_pane_judged(self, message: TracesPane.Judged) -> None:
        """The store's answer: kept rows go on as live rows, the others leave the list."""
        if self._generation.stale(message.generation):
            return
        rows = self.trace_list.rows
        gone = [t for t in message.traces if t.trace_id not in message.kept and t.trace_id in rows]
        if gone:
            rows.upsert(gone, NoTraces())
            self.trace_list.rows_changed()
        self._apply_rows(tuple(t for t in message.traces if t.trace_id in message.kept))

    def _apply_rows(self, traces: tuple[TraceSummary, ...]) -> None:
        if self._arrived is not None:
            self._arrived.update((t.trace_id, t) for t in traces)
        self.trace_list.apply(traces)
        self.update_titles()

    def drop_gone(self, presence: Presence) -> None:
        """Traces deleted from the file (prune, retention) leave the list."""
        if self._arrived:
            for trace_id, trace in list(self._arrived.items()):
                if presence.trace_gone(trace_id, trace.started_at):
                    del self._arrived[trace_id]
        if self.trace_list.drop_gone(presence):
            self.update_titles()

    def clear(self) -> None:
        """The file was replaced: nothing listed, nothing asked for still counts."""
        self._generation.next()
        self._older_asked = self._older_exhausted = None
        self.trace_list.replace(())

    def mark_open(self, trace_id: str | None) -> None:
        """Mark the trace open in the waterfall (None: none is)."""
        self.trace_list.opened_id = trace_id
        self.trace_list.refresh()

    def name_of(self, trace_id: str) -> str | None:
        """The trace's root span name as listed (None when it is not listed)."""
        summary = self.trace_list.rows.get(trace_id)
        return summary.root_span_name if summary else None

    def id_length(self, *trace_ids: str) -> int:
        """How much of an id's tail tells `trace_ids` and the traces on screen apart."""
        return short_id_length([*self.trace_list.visible_ids(), *trace_ids])

    @property
    def highlighted_id(self) -> str | None:
        """The trace under the cursor."""
        trace = self.trace_list.highlighted
        return trace.trace_id if trace is not None else None

    def filter_by_name(self, text: str) -> None:
        """Only traces whose root span name contains `text` ("" for all)."""
        if text != self.filter.name:
            self.filter = replace(self.filter, name=text)

    @property
    def scope_text(self) -> str:
        """The list's scope as a query ("" when it has none)."""
        keep = self.filter
        return keep.scope_text if isinstance(keep, ScopedFilter) else ""

    def scope_to(self, scope: Scope | None) -> None:
        """Only the traces of `scope` (a route, a chart selection, a query; None: all), with
        the list's other rules kept."""
        keep = scoped(self.filter, scope)
        if keep != self.filter:
            self.filter = keep

    def filter_by_query(self, text: str) -> bool:
        """The scope's query as the user edited it ("" drops the scope); False, and said,
        when it is not a query the list can follow."""
        if text == self.scope_text:
            return True
        if not text:
            self.scope_to(None)
            return True
        try:
            scope = query_scope(text, self.clock())
        except QueryError as exc:
            self.notify(visible(str(exc), 300), title="query", severity="error", markup=False)
            return False
        self.scope_to(scope)
        return True

    def toggle_errors(self) -> None:
        """Only traces with an error, or all again."""
        self.filter = replace(self.filter, errors_only=not self.filter.errors_only)

    def slower(self) -> None:
        """The next minimum duration."""
        self.filter = self.filter.slower()

    def tick(self) -> None:
        """Running traces on screen move on (drawn from the rows held: nothing is read)."""
        if self.trace_list.running_on_screen():
            self.trace_list.refresh()

    def action_live_top(self) -> None:
        """Back to the newest trace (from the command palette: the list takes the focus)."""
        focus_now(self.trace_list)
        self.trace_list.action_live_top()

    # ------------------------------------------------------------------ a trace as text

    def copy_tree(self, open_id: str | None) -> None:
        """Copy the open trace (`open_id`), else the highlighted one, as the text tree
        `lens-tui show` prints."""
        trace_id = open_id if open_id is not None else self.highlighted_id
        if trace_id is None:
            self.notify("no trace selected to copy", severity="warning", timeout=2)
            return
        self._copy_tree(trace_id)

    @in_thread(Job.COPY)
    def _copy_tree(self, trace_id: str) -> None:
        """Read and render the tree off the event loop; the copy itself happens on it."""
        reader = self.readers.get(Job.COPY)
        text = export.render_tree(
            reader.trace(trace_id), reader.logs(trace_id=trace_id, limit=10_000)
        )
        lines = text.splitlines()
        if len(lines) > COPY_TREE_MAX_LINES:  # `lens-tui show` prints them all
            more = len(lines) - COPY_TREE_MAX_LINES
            lines = [*lines[:COPY_TREE_MAX_LINES], f"… {more} more lines: lens-tui show {trace_id}"]
        self.app.call_from_thread(self._copied, "\n".join(lines) + "\n", trace_id)

    def _copied(self, text: str, trace_id: str) -> None:
        self.app.copy_to_clipboard(text)  # render_tree already made every character visible
        lines = text.count("\n")
        shown = short_id(trace_id, self.id_length(trace_id))
        self.notify(f"copied trace {visible(shown)} as a tree ({lines} lines)", timeout=2)

    # ------------------------------------------------------------------ reloads

    def watch_filter(self) -> None:
        """A new filter: list what it keeps (live rows meanwhile are kept aside)."""
        self._generation.next()
        self._older_asked = self._older_exhausted = None
        self.trace_list.filter = self.filter
        self.update_titles()
        if self.live:
            self.trace_list.empty_message = empty_message(self.filter)
            self._arrived = {}
            self._load_traces(self.filter, self._generation.current)

    @in_thread(Job.LIST)
    def _load_traces(self, keep: TraceFilter, generation: int) -> None:
        """The trace list for a new filter."""
        reader = self.readers.get(Job.LIST)
        traces = reader.recent_traces(self.trace_list.rows.cap, **keep.query(self.clock()))
        self.post_message(self.TracesRead(tuple(traces), generation))

    @in_thread(Job.OLDER)
    def _load_older(self, keep: TraceFilter, before: float, generation: int) -> None:
        """A page of traces older than the oldest one listed (keyset paging)."""
        traces = self.readers.get(Job.LIST).recent_traces(
            OLDER_PAGE, before=before, **keep.query(self.clock())
        )
        self.post_message(self.TracesRead(tuple(traces), generation, before=before))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure goes up to the screen."""
        job_ended(self, event)

    def on_traces_pane_traces_read(self, message: TracesPane.TracesRead) -> None:
        """The list for a new filter (rows that arrived meanwhile go on top), or an older page."""
        if self._generation.stale(message.generation):
            return
        if message.before is not None:
            self._older_asked = None
            if message.traces:
                self.trace_list.add_older(list(message.traces))
                self.update_titles()
            else:
                self._older_exhausted = message.before
            return
        self.trace_list.replace(message.traces)
        if self._arrived:
            self.trace_list.apply(self._arrived.values())
        self._arrived = None
        self.update_titles()

    def on_trace_list_need_older(self, message: TraceList.NeedOlder) -> None:
        """The cursor reached the oldest row held: the page before it, once."""
        message.stop()
        if not self.live or message.before in (self._older_asked, self._older_exhausted):
            return
        self._older_asked = message.before
        self._load_older(self.filter, message.before, self._generation.current)

    def on_trace_list_new_count(self, _message: TraceList.NewCount) -> None:
        """Rows arrived above the cursor: the subtitle counts them (the header does too)."""
        self.update_titles()

    def update_titles(self) -> None:
        """The filter in the title, the rows shown (and new above the cursor) below."""
        trace_list = self.trace_list
        keep = self.filter
        parts: list[str | tuple[str, str] | Content] = [("Traces", "bold")]
        if keep.errors_only:
            parts += [" · ", ("errors only", "bold")]
        if keep.min_duration_ms is not None:
            least = keep.min_duration_ms
            parts += [" · ", (f"≥ {SLOW_LABELS.get(least) or fmt.duration(least)}", "bold")]
        if keep.name:
            parts += [" · “", visible(keep.name, 60), "”"]
        if self.scope_text:
            parts += [" · ", (visible(self.scope_text, 100), "italic")]
        trace_list.border_title = Content.assemble(*parts)
        subtitle = f"{fmt.count(len(trace_list.rows))} shown"
        if trace_list.new_count:
            subtitle = f"↑ {trace_list.new_count} new · " + subtitle
        trace_list.border_subtitle = subtitle
