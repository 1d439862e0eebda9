"""`DashboardScreen`: the dashboard's layout, and the routing between its panes: what one pane
asks for (a trace opened, a span chosen, a log line chosen) is handed to the others, what the
live feed brings goes to the pane it concerns, and the keys that work everywhere land here."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.reactive import var
from textual.screen import Screen

from lens_tui.live.feed import Delta
from lens_tui.live.readers import Readers
from lens_tui.store.filters import LogScope
from lens_tui.store.presence import Presence
from lens_tui.store.stats import RouteWhere
from lens_tui.text import visible
from lens_tui.trace_ids import short_id
from lens_tui.ui.focus import focus_now
from lens_tui.ui.keys import DASHBOARD_KEYS, bindings
from lens_tui.ui.panes.latency import LatencyPane
from lens_tui.ui.panes.live_feed import LiveFeed, OnScreen
from lens_tui.ui.panes.logs import LogsPane
from lens_tui.ui.panes.overview import OverviewPane
from lens_tui.ui.panes.trace_view import TraceView
from lens_tui.ui.panes.traces import TracesPane
from lens_tui.ui.widgets.filter_bar import FilterBar
from lens_tui.ui.widgets.footer import KeysFooter
from lens_tui.ui.widgets.latency_chart import LatencyChart
from lens_tui.ui.widgets.log_pane import LogPane
from lens_tui.ui.widgets.route_table import RouteTable
from lens_tui.ui.widgets.trace_list import RUNNING_TICK_MS, TraceList
from lens_tui.ui.workers import JobFailed

ERROR_REPEAT_S = 10.0
"""The same worker error is shown again only after this long."""


class DashboardScreen(Screen[None]):
    """The header, trace list, waterfall beside span detail, log pane, filter bar and footer."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*DASHBOARD_KEYS)

    trace_open = var(False)
    """A trace is open: the waterfall shows and the list and log pane make room for it."""

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float],
        *,
        poll: float,
        watch: bool,
        trace_cap: int,
        receiving: str | None = None,
    ) -> None:
        """`receiving`: where the OTLP receiver running in this process listens."""
        super().__init__(id="_default")
        self.path = path
        self.readers = Readers(path)
        """One reader per job (the command palette uses one too)."""
        # Kept as attributes, not queried: a query runs on the *active* screen, which is the
        # help screen or the command palette while those are open.
        self.traces = TracesPane(self.readers, clock, cap=trace_cap, id="traces-pane")
        self.feed = LiveFeed(
            path,
            clock,
            lambda: self.traces.filter,
            cap=trace_cap,
            poll=poll,
            watch=watch,
            on_screen=self._on_screen,
            listed=lambda trace_id: trace_id in self.traces.trace_list.rows,
            receiving=receiving,
            id="feed",
        )
        self.trace_view = TraceView(self.readers, clock, id="trace-view")
        self.logs = LogsPane(self.readers, clock, id="logs-pane")
        self.overview = OverviewPane(self.readers, clock, id="overview-pane")
        self.latency = LatencyPane(self.readers, clock, id="latency-pane")
        self.filter_bar = FilterBar(id="filter")
        self._last_error: tuple[str, float] = ("", 0.0)

    def compose(self) -> ComposeResult:
        """The panes, top to bottom."""
        yield self.feed
        yield self.overview
        yield self.latency
        yield self.traces
        yield self.trace_view
        yield self.logs
        yield self.filter_bar
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        """Focus on the list, then the live feed."""
        focus_now(self.traces.trace_list)
        name = self.path.name
        self.traces.trace_list.empty_message = f"opening {name}…"
        self.traces.update_titles()
        self.logs.clear(LogScope())
        self.feed.start()
        self.set_interval(1.0, self._each_second)
        self.set_interval(RUNNING_TICK_MS / 1000, self._tick)  # five times a second

    def on_unmount(self) -> None:
        """Close every reader (the executor waits for the threads still using one)."""
        self.readers.close_all()

    def watch_trace_open(self, is_open: bool) -> None:
        """The `-trace-open` class (app.tcss) on the panes it resizes, not on the screen: a
        screen-wide class change restyles every node, footer keys included."""
        for pane in (self.traces, self.trace_view, self.logs, self.latency):
            pane.set_class(is_open, "-trace-open")

    def _set_live(self, live: bool) -> None:
        for pane in (self.traces, self.trace_view, self.logs):
            pane.live = live

    def _tick(self) -> None:
        """Running traces and spans on screen move on even when nothing is written (from
        what the panes hold: a tick reads nothing)."""
        self.traces.tick()
        self.trace_view.tick()

    def _each_second(self) -> None:
        """Rates, ages and the overview's windows move on even when nothing is written."""
        self.feed.tick()
        self.overview.tick()

    # ------------------------------------------------------------------ the live feed

    def on_live_feed_waiting(self, message: LiveFeed.Waiting) -> None:
        """The file is not there yet: say so where the traces will be."""
        self.traces.waiting(message.reason)

    def on_live_feed_loaded(self, message: LiveFeed.Loaded) -> None:
        """The first picture: fill the list and logs; an open trace is read again."""
        self.traces.show(message.snapshot.traces)
        self._set_live(True)
        self.logs.reload(now=True)
        self.overview.start()
        trace_id = self.trace_view.trace_id
        if trace_id is not None:
            self.open_trace(trace_id)

    def on_live_feed_changed(self, message: LiveFeed.Changed) -> None:
        """New rows (or, the file replaced, none of the old ones any more)."""
        if message.delta.replaced:
            self._start_over()
        else:
            self._apply(message.delta)

    def _apply(self, delta: Delta) -> None:
        if delta.traces:
            self.overview.apply(delta.traces)
            self.latency.apply(delta.traces)
            self.traces.apply(delta.traces)
            trace_id = self.trace_view.trace_id
            if trace_id is not None:
                for trace in delta.traces:
                    if trace.trace_id == trace_id:
                        self.trace_view.follow(trace)
        if delta.logs:
            self.logs.append(delta.logs)
        if delta.presence is not None:
            self._drop_gone(delta.presence)

    def _on_screen(self) -> OnScreen:
        """The trace and log ids a refresh checks are still in the file: those on screen."""
        trace_ids = self.traces.trace_list.visible_ids()
        if self.trace_view.trace_id is not None:
            trace_ids.append(self.trace_view.trace_id)
        return trace_ids, self.logs.visible_ids()

    def _drop_gone(self, presence: Presence) -> None:
        """Rows deleted from the file (prune, a writer's retention) leave every pane."""
        self.traces.drop_gone(presence)
        self.logs.drop_gone(presence)
        if self.trace_view.gone(presence):
            self._open_trace_deleted()

    def _open_trace_deleted(self) -> None:
        view = self.trace_view
        summary = view.opened.summary if view.opened is not None else None
        name = f"“{visible(summary.root_span_name, 40)}”" if summary else view.short_id
        self.action_close_trace()
        self.notify(f"trace {name} was deleted from the file (prune or retention)", markup=False)

    def on_trace_view_trace_missing(self, message: TraceView.TraceMissing) -> None:
        """The trace opened is not in the file: nor in the list, then."""
        self.traces.drop_gone(Presence(missing_traces=frozenset({message.trace_id})))

    def _start_over(self) -> None:
        """The file was replaced or deleted: drop what is shown and read it anew."""
        self._set_live(False)
        self.traces.clear()
        self.overview.reset()
        self.readers.invalidate()
        self._close_trace()
        # The open trace is gone with the old file: back to all recent logs (filters kept), or
        # the pane would stay scoped to a trace the new file does not have
        # (tests/reliability/test_ui_replaced.py).
        old = self.logs.scope
        self.logs.clear(LogScope(min_level=old.min_level, text=old.text))
        self.notify(f"{visible(self.path.name)} was replaced: reloading", markup=False)
        self.feed.reload()

    def on_job_failed(self, message: JobFailed) -> None:
        """Worker errors surface here, each at most once per `ERROR_REPEAT_S`."""
        text = visible(f"{message.job}: {message.error}", 300)
        now = time.monotonic()
        if text != self._last_error[0] or now - self._last_error[1] > ERROR_REPEAT_S:
            self._last_error = (text, now)  # a failing live refresh must not flood the screen
            self.notify(text, title="lens", severity="error", markup=False)

    # ------------------------------------------------------------------ between the panes

    def open_trace(
        self, trace_id: str, select_span: str | None = None, name: str | None = None
    ) -> None:
        """Show a trace in the waterfall (loaded by a worker) and its logs below; `name`: its
        root span's, when the trace list does not hold it (the command palette knows it)."""
        name = self.traces.name_of(trace_id) or name
        length = self.traces.id_length(trace_id)
        self.trace_view.open(trace_id, name, select_span, id_length=length)
        self.trace_open = True
        self.traces.mark_open(trace_id)
        if name is not None:
            label = f"trace “{visible(name, 40)}”"
        else:
            label = f"trace {visible(short_id(trace_id, length))}"  # named once it is read
        self.logs.show(trace_id, None, label)
        if select_span is None:
            focus_now(self.trace_view.waterfall)

    def _close_trace(self) -> None:
        self.trace_view.close()
        self.trace_open = False
        self.traces.mark_open(None)

    def on_trace_list_opened(self, message: TraceList.Opened) -> None:
        """Enter (or a double click) on a trace."""
        self.open_trace(message.trace_id)

    def on_trace_list_new_count(self, message: TraceList.NewCount) -> None:
        """Traces arrived above the list's cursor: the header counts them."""
        self.feed.show_new(message.count)

    def on_trace_view_logs_wanted(self, message: TraceView.LogsWanted) -> None:
        """A span (or the whole trace) chosen in the waterfall: its logs."""
        self.logs.show(message.trace_id, message.span_ids, message.label)

    def on_trace_view_subtree_grew(self, message: TraceView.SubtreeGrew) -> None:
        """Spans arrived below the chosen one: their live logs are in scope too."""
        self.logs.grow_subtree(message.span_ids)

    def on_trace_view_trace_named(self, message: TraceView.TraceNamed) -> None:
        """The open trace was read: the log pane's title names it if it shows the whole trace."""
        self.logs.name_trace(message.trace_id, message.label)

    def on_trace_view_span_named(self, message: TraceView.SpanNamed) -> None:
        """The chosen span's row was read: the log pane's title names it."""
        self.logs.name_span(message.label)

    def on_log_pane_log_chosen(self, message: LogPane.LogChosen) -> None:
        """A log line selects its span; enter opens its trace first when needed."""
        log = message.log
        if log.trace_id is not None and log.trace_id == self.trace_view.trace_id:
            if log.span_id:
                self.trace_view.select_span(log.span_id)
        elif message.open and log.trace_id:
            self.open_trace(log.trace_id, select_span=log.span_id)

    @on(FilterBar.Applied)
    @on(FilterBar.Cleared)
    def _filter_set(self, message: FilterBar.Applied | FilterBar.Cleared) -> None:
        """Enter or escape in the filter bar."""
        text = message.text if isinstance(message, FilterBar.Applied) else ""
        if message.target == "query":
            if not self.traces.filter_by_query(text):
                self.filter_bar.open("query", text, back=self.traces.trace_list)
            elif not self.traces.scope_text:
                self.latency.select(None)
        elif message.target == "spans":
            self.trace_view.search_spans(text)
        elif message.target == "logs":
            self.logs.filter_text(text)
        else:
            self.traces.filter_by_name(text)

    # ------------------------------------------------------------------ actions

    def action_filter(self, target: str = "") -> None:
        """`/`: filter the log pane's text when it has focus, find spans in the waterfall of
        an open trace, else filter the trace names; `target` ("traces", "logs", "spans")
        whatever has focus (the command palette)."""
        focused = self.focused
        view = self.trace_view
        if not target:
            if isinstance(focused, LogPane):
                target = "logs"
            elif focused is view.waterfall and view.trace_id is not None:
                target = "spans"
            elif self.traces.scope_text:
                self.filter_bar.open("query", self.traces.scope_text, back=focused)
                return
            else:
                self.filter_bar.open("traces", self.traces.filter.name, back=focused)
                return
        if target == "traces":
            self.filter_bar.open("traces", self.traces.filter.name, back=self.traces.trace_list)
        elif target == "logs":
            self.filter_bar.open("logs", self.logs.scope.text, back=self.logs.log_pane)
        elif view.trace_id is None:
            self.notify("open a trace first (enter on the trace list)", timeout=2)
        else:
            self.filter_bar.open("spans", view.span_query, back=view.waterfall)

    def action_slower(self) -> None:
        """`d`: only traces at least 10 ms long, then 100 ms, 1 s, 10 s, then all again
        (a running one once it has run that long: it may be the slowest of all)."""
        self.traces.slower()

    def action_toggle_errors(self) -> None:
        """`e`: only traces with an error, or all again."""
        self.traces.toggle_errors()

    def action_cycle_level(self) -> None:
        """`l`: the log pane's minimum level moves debug → info → warn → error → debug."""
        self.logs.cycle_level()

    def action_toggle_pause(self) -> None:
        """`space`: hold still (rows queue up), or apply everything queued and go live."""
        held, overflowed = self.feed.toggle_pause()
        self.overview.paused = self.latency.paused = self.feed.paused
        if held is not None:
            self._apply(held)
            if overflowed:
                # More logs came than the pane keeps: its per-level counts are read again.
                self.logs.recount()

    def action_close_trace(self) -> None:
        """Close the open trace (the log pane shows all recent logs again)."""
        if self.trace_view.trace_id is not None:
            self._close_trace()
            self.logs.show(None, None, "all recent")
            focus_now(self.traces.trace_list)

    def action_back_to_list(self) -> None:
        """`escape`: to the trace list; there, close the open trace."""
        if self.overview.shown:
            self.action_overview()
        elif self.focused is self.traces.trace_list or self.focused is None:
            if self.trace_view.trace_id is None and self.latency.shown:
                self.latency.close()
            self.action_close_trace()
        else:
            focus_now(self.traces.trace_list)

    def action_log_detail(self) -> None:
        """`i`: the log pane's highlighted line in full beside it, or hidden again."""
        self.logs.toggle_detail()

    def action_copy(self) -> None:
        """`c`: copy what is selected in the focused pane (OSC 52 reaches the local terminal)."""
        focused = self.focused
        copy_text = getattr(focused, "copy_text", None)
        text = copy_text() if callable(copy_text) else None
        if not text:
            self.notify("nothing selected to copy", severity="warning", timeout=2)
            return
        # Placeholders on the clipboard too: a pasted ESC could end bracketed paste and run the
        # rest in the user's shell (tests/reliability/test_ui_injection.py).
        self.app.copy_to_clipboard(visible(text, keep_newlines=True))
        self.notify(f"copied: {visible(text, 60)}", timeout=2, markup=False)

    def action_copy_tree(self) -> None:
        """`y`: copy the open (else highlighted) trace as the text tree `lens-tui show` prints."""
        self.traces.copy_tree(self.trace_view.trace_id)

    # ------------------------------------------------------------------ many traces at once

    def action_overview(self) -> None:
        """`o`: the routes of the window, live, in place of the trace list and logs; again:
        back to them."""
        showing = not self.overview.shown
        for pane in (self.traces, self.trace_view, self.logs, self.latency):
            pane.set_class(showing, "-behind")
        if showing:
            self.overview.show()
            focus_now(self.overview.table)
        else:
            self.overview.hide()
            focus_now(self.latency.chart if self.latency.shown else self.traces.trace_list)

    def on_route_table_drilled(self, message: RouteTable.Drilled) -> None:
        """Enter on a route: its traces (the filter as a query the user can edit) and its
        latency chart over the window."""
        if self.trace_view.trace_id is not None:
            self._close_trace()
        self.action_overview()
        self.traces.scope_to(RouteWhere(message.key))
        self.latency.open(
            message.key, self.overview.window_since(self.feed.clock()), self.overview.window
        )
        focus_now(self.latency.chart)

    def on_latency_chart_selected(self, message: LatencyChart.Selected) -> None:
        """Cells chosen on the chart: exactly their traces."""
        self.traces.scope_to(message.region)
        self.latency.select(message.region, message.traces, message.failed)

    def on_latency_chart_cleared(self, _message: LatencyChart.Cleared) -> None:
        """The selection dropped: the whole route again."""
        key = self.latency.key
        self.traces.scope_to(RouteWhere(key) if key is not None else None)
        self.latency.select(None)
