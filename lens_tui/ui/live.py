"""`LiveApp`: the dashboard's data plumbing: workers that read the store off the event loop,
and the handlers that apply their immutable results to the widgets incrementally.

`LensApp` (app.py) adds the layout, keys and actions on top of it.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App
from textual.content import Content
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from lens_tui.store.filters import LogScope, LogTally, TraceFilter
from lens_tui.store.reader import OpenError, TraceReader
from lens_tui.store.records import Delta, PendingSpan, SpanRow, TraceSummary
from lens_tui.store.tail import ChangeWatcher
from lens_tui.text import visible
from lens_tui import humanize as fmt
from lens_tui.ui.feed import TRACE_CAP, Feed, OpenTrace, PendingDeltas, Readers
from lens_tui.ui.flatten import SpanForest, analyse_forest, match_order, needs_analysis
from lens_tui.ui.focus import focus_now
from lens_tui.ui.jobs import SingleFlight
from lens_tui.ui.messages import (
    BodyLoaded,
    ChangeHint,
    DeltaReady,
    LogsCounted,
    LogsLoaded,
    OlderLogsLoaded,
    SnapshotReady,
    SpansFound,
    SpansRead,
    StoreWaiting,
    TraceLoaded,
    TracesLoaded,
)
from lens_tui.ui.trace_rows import SLOW_LABELS
from lens_tui.ui.widgets.filter_bar import FilterBar
from lens_tui.ui.widgets.header_bar import HeaderBar
from lens_tui.ui.widgets.log_pane import LogPane
from lens_tui.ui.widgets.span_detail import SpanDetail
from lens_tui.ui.widgets.trace_list import TraceList
from lens_tui.ui.widgets.waterfall import Waterfall

Clock = Callable[[], float]
"""Returns "now" in epoch milliseconds."""

OLDER_PAGE = 500
"""Traces paged in when the cursor reaches the bottom of the list."""
LOG_LOAD_LIMIT = 2_000
"""Log lines loaded when the log pane's scope changes (live lines add up to its cap)."""
OLDER_LOG_PAGE = 2_000
"""Older log lines paged in when the user reaches the oldest line held (up to its cap)."""
TRACE_UPDATE_INTERVAL_S = 0.2
"""A live trace's waterfall is rebuilt at most this often."""
LOG_SCOPE_DEBOUNCE_S = 0.08
"""Moving through spans quickly reloads the log pane once, when the cursor rests."""
SNAPSHOT_RETRY_S = 1.0
"""A failed first load is retried after this long."""
ERROR_REPEAT_S = 10.0
"""The same worker error is shown again only after this long."""
WATCH_STEP_MS = 3
"""watchfiles' grouping step: a commit is noticed within about this long (10 ms made commit
to applied 19 ms at the median, 3 ms made it 8 ms; idle CPU stayed at ~1 %, bench part a)."""


SPAN_RETRY_FIRST_S = 0.1
SPAN_RETRY_LAST_S = 1.6
"""Rows of drawn spans that could not be read are tried again after 0.1, 0.2, … 1.6 s."""


def wall_clock() -> float:
    """The real clock in epoch milliseconds."""
    return time.time() * 1000.0


def in_thread(group: str, *, exclusive: bool = True) -> Any:
    """`@work` for a thread worker of `group`, named after its group.

    Without a `description` Textual `repr()`s every argument on the event loop to make one: for a
    100,000-span forest or the span ids under a root that froze the UI for a quarter second."""
    return work(
        thread=True, exclusive=exclusive, group=group, description=group, exit_on_error=False
    )


class LiveApp(App[int]):
    """Reads the trace database in thread workers and keeps the widgets up to date."""

    def __init__(
        self,
        db_path: Path,
        *,
        clock: Clock = wall_clock,
        poll: float = 1.0,
        watch: bool = True,
        trace_cap: int = TRACE_CAP,
    ) -> None:
        """`clock` gives "now" for ages and running spans (tests freeze it); `poll` is the
        fallback poll period in seconds; `watch=False` relies on polling alone; `trace_cap`
        bounds the traces held (older ones page in at the bottom of the list)."""
        super().__init__()
        self.db_path = Path(db_path)
        self.clock = clock
        self.poll_seconds = poll
        self.watch_files = watch
        self.readers = Readers(self.db_path)
        """One reader per worker group (the command palette uses one too)."""
        self._feed = Feed(TraceReader(self.db_path))
        self._stopping = threading.Event()
        self._watcher: ChangeWatcher | None = None
        self._live = False
        self._paused = False
        self._pending = PendingDeltas()
        self._refresh_flight = SingleFlight(self._start_refresh)
        self._trace_flight = SingleFlight(lambda _force: self._start_trace_update())
        self._trace_filter = TraceFilter()
        self._list_generation = 0
        self._list_buffer: dict[str, TraceSummary] | None = None
        self._older_asked: float | None = None
        self._older_exhausted: float | None = None
        self._open: OpenTrace | None = None
        self._trace_generation = 0
        self._forest_version = -1
        self._trace_summary: TraceSummary | None = None
        self._last_trace_update = 0.0
        self._select_after_load: str | None = None
        self._span_query = ""
        """The span search asked for in the open trace ("" when none)."""
        self._span_search = 0
        """Counts span searches asked for: a result of an older one is dropped."""
        self._label_waits_for: str | None = None
        """The span whose row the log pane's title waits for (chosen as a placeholder)."""
        self._log_generation = 0
        self._log_timer: Timer | None = None
        self._last_error: tuple[str, float] = ("", 0.0)
        # Kept as attributes, not queried: a query runs on the *active* screen, which is the
        # help screen or the command palette while those are open.
        self.header = HeaderBar(str(self.db_path), self.clock, id="header")
        self.trace_list = TraceList(self.clock, cap=trace_cap, id="traces")
        self.waterfall = Waterfall(self.clock, id="waterfall")
        self.detail = SpanDetail(id="detail")
        self.log_pane = LogPane(self.clock, id="logs")
        self.filter_bar = FilterBar(id="filter")

    def start_live(self) -> None:
        """Start watching and loading (from on_mount); nothing here touches the file."""
        name = self.db_path.name
        self.header.waiting = f"opening {name}…"
        self.trace_list.empty_message = f"opening {name}…"
        self._update_list_titles()
        self.log_pane.clear(LogScope())
        if self.watch_files:
            self._watch()
        self._load_snapshot(self._trace_filter)
        self.set_interval(self.poll_seconds, self._on_poll_timer)
        self.set_interval(1.0, self._on_tick)

    def on_unmount(self) -> None:
        """Stop the watcher thread and close connections (the executor waits for threads)."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.stop()
        self._feed.reader.close()
        self.readers.close_all()

    # ------------------------------------------------------------------ workers

    @in_thread("watch")
    def _watch(self) -> None:
        """Run the file watcher; it posts a hint on every change of the db or its WAL."""
        watcher = ChangeWatcher(
            self.db_path, self._hint, fallback_s=self.poll_seconds, step_ms=WATCH_STEP_MS
        )
        self._watcher = watcher
        if not self._stopping.is_set():
            watcher.run()

    def _hint(self) -> None:
        """Called on the watcher's thread: post_message is thread safe."""
        self.post_message(ChangeHint())

    @in_thread("snapshot")
    def _load_snapshot(self, keep: TraceFilter) -> None:
        """Wait for the file to be a trace database, then read the first picture."""
        worker = get_current_worker()
        said: str | None = None
        while True:
            if worker.is_cancelled or self._stopping.is_set():
                return
            reason = self._feed.try_open()
            if reason is None:
                break
            if reason != said:
                self.post_message(StoreWaiting(reason))
                said = reason
            self._stopping.wait(0.1)
        snapshot = self._feed.snapshot(self.trace_list.rows.cap, **keep.query(self.clock()))
        if not worker.is_cancelled:
            self.post_message(SnapshotReady(snapshot))

    def _start_refresh(self, force: bool) -> None:
        if not self._live or self._stopping.is_set():
            self._refresh_flight.abandon()  # the next snapshot starts tailing again
            return
        self._refresh(force)

    @in_thread("refresh")
    def _refresh(self, force: bool) -> None:
        """Confirm a change and read everything past the marks as one delta."""
        delta = self._feed.poll(force)
        if delta is not None:
            self.post_message(DeltaReady(delta))

    @in_thread("list")
    def _load_traces(self, keep: TraceFilter, generation: int) -> None:
        """The trace list for a new filter."""
        reader = self.readers.get("list")
        traces = reader.recent_traces(self.trace_list.rows.cap, **keep.query(self.clock()))
        self.post_message(TracesLoaded(tuple(traces), generation))

    @in_thread("older")
    def _load_older(self, keep: TraceFilter, before: float, generation: int) -> None:
        """A page of traces older than the oldest one listed (keyset paging)."""
        traces = self.readers.get("list").recent_traces(
            OLDER_PAGE, before=before, **keep.query(self.clock())
        )
        self.post_message(TracesLoaded(tuple(traces), generation, before=before))

    @in_thread("trace")
    def _load_trace(self, opened: OpenTrace, generation: int) -> None:
        """All spans of a newly opened trace, flattened off the event loop."""
        # Only the forest's columns and the first screen's rows now; the rows of spans drawn
        # later are read in full by rowid, by `_read_spans`, while the UI draws placeholders.
        forest = opened.load(
            self.readers.get("trace"), self.clock(), keys_only=True,
            on_missing=lambda: self.call_later(self._read_spans, opened, generation),
        )
        self.post_message(
            TraceLoaded(opened.trace_id, opened.summary, forest, True, generation, opened.version)
        )

    @in_thread("spans", exclusive=False)
    def _read_spans(self, opened: OpenTrace, generation: int) -> None:
        """Rows of spans drawn as placeholders, on a reader of their own ("spans"), until none
        is waiting (`SpanRows` asks again for the next one drawn)."""
        rows = opened.rows
        if rows is None:
            return
        delay = SPAN_RETRY_FIRST_S
        while True:
            try:
                if not rows.read(self.readers.get("spans")):
                    return
            except OpenError:
                # Busy or being replaced just now: try again a little later, then leave the
                # placeholders to ask again when next drawn.
                if delay > SPAN_RETRY_LAST_S or self._stopping.wait(delay):
                    rows.release()
                    return
                delay *= 2
                continue
            self.post_message(SpansRead(generation))
            delay = SPAN_RETRY_FIRST_S

    @in_thread("analyse")
    def _analyse_trace(self, forest: SpanForest, generation: int) -> None:
        """Self times and the critical path of a huge trace, once its first screen is drawn."""
        analyse_forest(forest, self.clock())
        self.call_from_thread(self._forest_analysed, forest, generation)

    def _forest_analysed(self, forest: SpanForest, generation: int) -> None:
        """Self times and the critical path arrived for the forest on screen: redraw with them."""
        waterfall = self.waterfall
        if generation != self._trace_generation or waterfall.forest is not forest:
            return
        waterfall.rows_changed(clear_cache=True)
        span = waterfall.selected_span
        if span is not None:
            self._show_span(forest, span)

    def _start_trace_update(self) -> None:
        opened = self._open
        if opened is None or not self._live:
            self._trace_flight.abandon()
            return
        wait = self._last_trace_update + TRACE_UPDATE_INTERVAL_S - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self._start_trace_update)
            return
        self._last_trace_update = time.monotonic()
        self._update_trace(opened, self._trace_summary, self._trace_generation)

    @in_thread("trace-update", exclusive=False)
    def _update_trace(
        self, opened: OpenTrace, summary: TraceSummary | None, generation: int
    ) -> None:
        """Spans written since the last look, merged into a new forest."""
        forest = opened.update(self.readers.get("trace"), summary, self.clock())
        if forest is not None:
            self.post_message(
                TraceLoaded(
                    opened.trace_id, opened.summary, forest, False, generation, opened.version
                )
            )

    @in_thread("find", exclusive=False)
    def _find_spans(
        self, trace_id: str, query: str, forest: SpanForest, search: int, jump: bool
    ) -> None:
        """The open trace's spans whose name contains `query`, found in the file (unread
        spans count), with their nodes of `forest` in display order: a broad search over a
        huge trace must not sort 100,000 nodes on the event loop."""
        found = self.readers.get("find").find_spans(trace_id, query)
        order = match_order(forest, found)
        self.post_message(SpansFound(query, tuple(found), forest, order, search, jump))

    def search_spans(self, query: str) -> None:
        """Find spans of the open trace by name (an empty query ends the search)."""
        self._span_query = query
        self._span_search += 1  # whatever an earlier search still finds is dropped
        if not query:
            self.waterfall.set_matches("", ())
            self._update_waterfall_subtitle()
        else:
            self._search_again(jump=True)

    def _search_again(self, *, jump: bool) -> None:
        """Run the span search on the forest shown (again, after a live update)."""
        forest = self.waterfall.forest
        if self._open is None or forest is None or not self._span_query or not self._live:
            return  # a trace still loading is searched once its forest is shown
        self._find_spans(self._open.trace_id, self._span_query, forest, self._span_search, jump)

    def on_spans_found(self, message: SpansFound) -> None:
        """Highlight what the span search found; a new search goes to its first match."""
        waterfall = self.waterfall
        if message.search != self._span_search or waterfall.forest is not message.forest:
            return  # a newer search, or a newer forest (searched again with it)
        waterfall.set_matches(message.query, message.span_ids, message.order)
        if message.jump:
            node = waterfall.selected_node
            if node is None or waterfall.forest.span_ids[node] not in waterfall.matches:
                waterfall.action_next_match()
        self._update_waterfall_subtitle()

    def _update_waterfall_subtitle(self) -> None:
        label = self.waterfall.match_label()
        critical = "┃ critical path"
        # A Content, never a string: a string title is parsed as markup, and the query is
        # the user's text (`[/]` would raise, `[@click=…]` would make a link).
        self.waterfall.border_subtitle = Content(
            critical if label is None else f"{label} · {critical}"
        )

    @in_thread("logs")
    def _load_logs(self, scope: LogScope, generation: int) -> None:
        """The log pane's rows and level counts for a scope."""
        reader = self.readers.get("logs")
        mark = reader.max_log_id()  # rows above it arrive through the live tail
        rows = reader.logs(scope=scope, limit=LOG_LOAD_LIMIT)
        counts = reader.level_counts_of(scope, mark)
        older = len(rows) >= LOG_LOAD_LIMIT
        rows = [row for row in rows if row.id <= mark]
        self.post_message(LogsLoaded(scope, tuple(rows), counts, generation, mark, older))

    @in_thread("older-logs")
    def _load_older_logs(
        self, scope: LogScope, before_id: int, limit: int, generation: int
    ) -> None:
        """The page of the log pane's scope before its oldest line (its own reader: a span
        scope may scan a long trace, and must not hold up the next scope's load)."""
        rows = self.readers.get("older-logs").logs(
            scope=scope, before_id=before_id, limit=limit
        )
        older = len(rows) >= limit
        self.post_message(OlderLogsLoaded(tuple(rows), before_id, older, generation))

    def on_log_pane_need_older(self, message: LogPane.NeedOlder) -> None:
        """The user reached the oldest line held: the page before it."""
        if not self._live:
            self.log_pane.page_failed()
            return
        limit = min(OLDER_LOG_PAGE, message.room)
        self._load_older_logs(
            self.log_pane.scope, message.before_id, limit, self._log_generation
        )

    def on_older_logs_loaded(self, message: OlderLogsLoaded) -> None:
        """Older lines of the scope shown, above its oldest."""
        if message.generation == self._log_generation:
            self.log_pane.prepend(message.rows, message.before_id, message.older)

    def _recount_logs(self) -> None:
        """Read the log pane's per-level counts again (more lines came than it keeps)."""
        pane = self.log_pane
        self._count_logs(pane.scope, self._log_generation, pane.tally())

    @in_thread("log-counts")
    def _count_logs(self, scope: LogScope, generation: int, tally: LogTally) -> None:
        """Exact per-level counts of a scope up to the last log the pane took."""
        counts = self.readers.get("logs").level_counts_of(scope, tally.upto, exact=True)
        self.post_message(LogsCounted(counts, generation, tally))

    @in_thread("body")
    def _load_body(self, body_hash: str) -> None:
        """A captured body (gunzipped by the reader)."""
        self.post_message(BodyLoaded(body_hash, self.readers.get("body").body(body_hash)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Worker errors surface in one place; finished runs release their single flight."""
        worker = event.worker
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        if worker.group == "refresh":
            self._refresh_flight.done()
        elif worker.group == "trace-update":
            self._trace_flight.done()
        elif worker.group == "older-logs" and event.state != WorkerState.SUCCESS:
            self.log_pane.page_failed()  # the next visit to the top asks again
        if event.state != WorkerState.ERROR or self._stopping.is_set():
            return
        if worker.group == "snapshot":
            # E.g. the file was swapped while being read: try again shortly.
            self.set_timer(SNAPSHOT_RETRY_S, lambda: self._load_snapshot(self._trace_filter))
        text = visible(f"{worker.group}: {worker.error}", 300)
        now = time.monotonic()
        if text != self._last_error[0] or now - self._last_error[1] > ERROR_REPEAT_S:
            self._last_error = (text, now)  # a failing live refresh must not flood the screen
            self.notify(text, title="lens", severity="error", markup=False)

    # ------------------------------------------------------------------ live data in

    def on_change_hint(self, _message: ChangeHint) -> None:
        """The file changed: refresh (folded into the running one if any)."""
        if self._live:
            self._refresh_flight.request()

    def _on_poll_timer(self) -> None:
        if self._live:
            self._refresh_flight.request()

    def _on_tick(self) -> None:
        """Ages and running spans move on even when nothing is written."""
        self.header.refresh()
        self.trace_list.refresh()
        self.waterfall.tick()
        self.detail.tick(self.clock())  # a running span's "… so far" goes on

    def on_store_waiting(self, message: StoreWaiting) -> None:
        """The file is not there yet: say so where the traces will be."""
        self.header.waiting = message.reason
        self.header.refresh()
        self.trace_list.empty_message = message.reason
        self.trace_list.rows_changed()

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        """The first picture: fill the list and logs, then tail from its marks."""
        snapshot = message.snapshot
        self.header.waiting = None
        self.header.set_stats(snapshot.stats)
        self.trace_list.empty_message = "no traces yet"
        self.trace_list.replace(snapshot.traces)
        self._update_list_titles()
        self._live = True
        self._reload_logs(now=True)
        if self._open is not None:
            self.open_trace(self._open.trace_id)
        self._refresh_flight.request()

    def on_delta_ready(self, message: DeltaReady) -> None:
        """New rows: applied at once, or queued while paused."""
        delta = message.delta
        if delta.replaced:
            self._reload_everything()
            return
        if delta.stats is not None:
            self.header.set_stats(delta.stats)
        if self._paused:
            self._pending.add(delta)
            self.header.queued = self._pending.count
            self.header.refresh()
        else:
            self._apply(delta)
        if delta.extra.get("more"):
            self._refresh_flight.request(force=True)

    def _apply(self, delta: Delta) -> None:
        if delta.traces:
            if self._list_buffer is not None:
                self._list_buffer.update((t.trace_id, t) for t in delta.traces)
            self.trace_list.apply(delta.traces)
            self._update_list_titles()
            if self._open is not None:
                for trace in delta.traces:
                    if trace.trace_id == self._open.trace_id:
                        self._trace_summary = trace
                        self._trace_flight.request()
        if delta.logs:
            self.log_pane.append(delta.logs)

    def _reload_everything(self) -> None:
        """The file was replaced or deleted: drop what is shown and start over."""
        self._live = False
        self._list_generation += 1
        self._older_asked = self._older_exhausted = None
        self.readers.invalidate()
        self._pending = PendingDeltas()
        self.header.reset()
        self.header.queued = 0
        self.trace_list.replace(())
        self._close_trace()
        # The open trace is gone with the old file: back to all recent logs (filters kept), or
        # the pane would stay scoped to a trace the new file does not have
        # (tests/reliability/test_ui_replaced.py).
        old = self.log_pane.scope
        self.log_pane.clear(LogScope(min_level=old.min_level, text=old.text))
        self.notify(f"{visible(self.db_path.name)} was replaced: reloading", markup=False)
        self._load_snapshot(self._trace_filter)

    def on_traces_loaded(self, message: TracesLoaded) -> None:
        """The list for a new filter (rows that arrived meanwhile go on top), or an older page."""
        if message.generation != self._list_generation:
            return
        if message.before is not None:
            self._older_asked = None
            if message.traces:
                self.trace_list.add_older(list(message.traces))
                self._update_list_titles()
            else:
                self._older_exhausted = message.before
            return
        self.trace_list.replace(message.traces)
        if self._list_buffer:
            self.trace_list.apply(self._list_buffer.values())
        self._list_buffer = None
        self._update_list_titles()

    # ------------------------------------------------------------------ the open trace

    def open_trace(self, trace_id: str, select_span: str | None = None) -> None:
        """Show a trace in the waterfall (loaded by a worker) and its logs below."""
        self._trace_generation += 1
        self._forest_version = -1
        self._forget_open_trace()
        self._open = OpenTrace(trace_id)
        self._trace_summary = None
        self._select_after_load = select_span
        if self._live:
            # First: a huge trace takes a while to read, and the reading need not wait for
            # the restyling below.
            self._load_trace(self._open, self._trace_generation)
        self._mark_trace_open(True)
        self.trace_list.opened_id = trace_id
        self.trace_list.refresh()
        self.waterfall.clear()
        self.waterfall.empty_message = "loading…"
        self.detail.clear("loading…")
        summary = self.trace_list.rows.get(trace_id)
        name = summary.root_span_name if summary else trace_id
        self.waterfall.border_title = Content.assemble(
            ("Waterfall", "bold"), " · ", visible(name, 60), " · ", (visible(trace_id[:8]), "dim")
        )
        self._update_waterfall_subtitle()
        self._set_log_scope(trace_id=trace_id, span_ids=None, label=f"trace “{visible(name, 40)}”")
        if select_span is None:
            focus_now(self.waterfall)

    def _mark_trace_open(self, is_open: bool) -> None:
        """The `-trace-open` class (app.tcss) on the widgets it resizes, not on the app: an
        app-level class change restyles every node, footer keys included."""
        for widget in (self.trace_list, self.log_pane, *self.query("#trace-view")):
            widget.set_class(is_open, "-trace-open")

    def _forget_open_trace(self) -> None:
        """Its placeholders' rows need not be read any more; its span search ends."""
        if self._open is not None and self._open.rows is not None:
            self._open.rows.close()
        self._label_waits_for = None
        self._span_query = ""
        self._span_search += 1

    def _close_trace(self) -> None:
        self._forget_open_trace()
        self._open = None
        self._trace_generation += 1
        self._select_after_load = None
        self._mark_trace_open(False)
        self.trace_list.opened_id = None
        self.trace_list.refresh()
        self.waterfall.clear()
        self.waterfall.empty_message = "enter on a trace opens its waterfall"
        self.waterfall.border_title = Content.styled("Waterfall", "bold")
        self.waterfall.border_subtitle = None
        self.detail.clear()

    def on_trace_loaded(self, message: TraceLoaded) -> None:
        """A (new version of the) open trace's forest."""
        # A huge forest was built out of the collector's sight (feed._CollectorPaused): once
        # it is on screen, hand it (and anything else frozen with it) back.
        self.call_after_refresh(gc.unfreeze)
        if message.generation != self._trace_generation or message.version <= self._forest_version:
            return
        fresh = self._forest_version < 0
        self._forest_version = message.version
        waterfall = self.waterfall
        waterfall.empty_message = "this trace has no spans (yet)"
        waterfall.set_forest(message.forest, fresh=fresh)
        if self._span_query:
            # New spans may match the search (or it was asked for while the trace loaded).
            self._span_search += 1
            self._search_again(jump=fresh)
        if needs_analysis(message.forest):
            # Not while the first screen is drawn: both would compete for the interpreter.
            self.call_after_refresh(self._analyse_trace, message.forest, message.generation)
        if fresh:
            self.detail.show_trace(message.summary, message.forest)
            if self._select_after_load is not None:
                span_id, self._select_after_load = self._select_after_load, None
                if waterfall.select_span(span_id):
                    focus_now(waterfall)
            return
        span = waterfall.selected_span
        if span is not None:
            self._show_span(message.forest, span)
            node = waterfall.selected_node
            if node is not None:
                self.log_pane.set_span_ids(message.forest.descendant_ids(node))
        else:
            self.detail.show_trace(message.summary, message.forest)

    def _show_span(self, forest: SpanForest, span: SpanRow) -> None:
        """The span in the detail panel, with its captured bodies read when not there yet;
        the log pane's title names it if it was chosen while its row was being read."""
        self.detail.show_span(forest, span, self.clock())
        if type(span) is PendingSpan:
            return
        for body_hash in (span.input_body_hash, span.output_body_hash):
            if body_hash and not self.detail.has_body(body_hash):
                self._load_body(body_hash)
        if self._label_waits_for == span.span_id:
            self._label_waits_for = None
            if self.log_pane.scope.span_ids is not None:
                self.log_pane.relabel(span_label(span))

    def on_body_loaded(self, message: BodyLoaded) -> None:
        """A captured body arrived."""
        forest = self.waterfall.forest
        if forest is not None:
            self.detail.set_body(forest, message.body_hash, message.body, self.clock())

    # ------------------------------------------------------------------ logs

    def _set_log_scope(
        self, *, trace_id: str | None, span_ids: frozenset[str] | None, label: str
    ) -> None:
        self._label_waits_for = None
        old = self.log_pane.scope
        self.log_pane.scope = LogScope(
            trace_id=trace_id, span_ids=span_ids, label=label,
            min_level=old.min_level, text=old.text,
        )
        self._reload_logs()

    def _reload_logs(self, now: bool = False) -> None:
        """Reload the log pane for its scope, once the cursor rests."""
        self._log_generation += 1
        if self._log_timer is not None:
            self._log_timer.stop()
            self._log_timer = None
        if not self._live:
            return
        if now:
            self._load_logs(self.log_pane.scope, self._log_generation)
        else:
            generation = self._log_generation
            self._log_timer = self.set_timer(
                LOG_SCOPE_DEBOUNCE_S,
                lambda: self._load_logs(self.log_pane.scope, generation),
            )

    def on_logs_loaded(self, message: LogsLoaded) -> None:
        """Fresh rows for the log pane's scope."""
        if message.generation != self._log_generation:
            return
        self.log_pane.reset(
            message.scope, message.rows, message.counts, message.mark, message.older
        )

    def on_logs_counted(self, message: LogsCounted) -> None:
        """Per-level counts read again for the log pane's scope."""
        if message.generation == self._log_generation:
            self.log_pane.recount(message.counts, message.tally)

    # ------------------------------------------------------------------ trace list

    def _update_list_titles(self) -> None:
        trace_list = self.trace_list
        keep = self._trace_filter
        parts: list[str | tuple[str, str] | Content] = [("Traces", "bold")]
        if keep.errors_only:
            parts += [" · ", ("errors only", "bold")]
        if keep.min_duration_ms is not None:
            least = keep.min_duration_ms
            parts += [" · ", (f"≥ {SLOW_LABELS.get(least) or fmt.duration(least)}", "bold")]
        if keep.name:
            parts += [" · “", visible(keep.name, 60), "”"]
        trace_list.border_title = Content.assemble(*parts)
        subtitle = f"{fmt.count(len(trace_list.rows))} shown"
        if trace_list.new_count:
            subtitle = f"↑ {trace_list.new_count} new · " + subtitle
        trace_list.border_subtitle = subtitle

    def _reload_traces(self) -> None:
        self._list_generation += 1
        self._older_asked = self._older_exhausted = None
        self.trace_list.filter = self._trace_filter
        self._update_list_titles()
        if self._live:
            self._list_buffer = {}
            self._load_traces(self._trace_filter, self._list_generation)


def span_label(span: SpanRow) -> str:
    """Whose logs the log pane shows when a span is chosen, for its title."""
    name = "…" if type(span) is PendingSpan else visible(span.name, 40)
    return f"span “{name}” and below"
