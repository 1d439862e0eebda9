"""`LensApp`: the dashboard's layout, keys and actions wired to `LiveApp`'s data plumbing;
`run_dashboard` starts it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import Screen

from lens_tui import export
from lens_tui.store.records import PendingSpan
from lens_tui.text import visible
from lens_tui.ui.commands import LensCommands
from lens_tui.ui.focus import focus_now, retype_if_focus_moved
from lens_tui.ui.live import LiveApp, in_thread, span_label
from lens_tui.ui.messages import SpansRead
from lens_tui.ui.screens.help import HelpScreen
from lens_tui.ui.widgets.filter_bar import FilterBar
from lens_tui.ui.widgets.footer import KeysFooter
from lens_tui.store.filters import LogScope
from lens_tui.ui.widgets.log_pane import LogPane, next_level
from lens_tui.ui.widgets.trace_list import TraceList
from lens_tui.ui.widgets.waterfall import Waterfall


FOOTER_PALETTE_MIN_WIDTH = 100
"""Columns from which the footer shows the command palette key."""


class DashboardScreen(Screen[None]):
    """Textual's default screen, with `tab` (next pane) shown in the footer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "app.focus_next", "Pane"),
        Binding("shift+tab", "app.focus_previous", "Previous pane", show=False),
    ]


class LensApp(LiveApp):
    """The live dashboard over one trace database."""

    CSS_PATH = "app.tcss"
    TITLE = "lens"
    COMMANDS = App.COMMANDS | {LensCommands}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("slash", "filter", "Filter"),
        # Shown in the footer by the trace list, which they act on; they work everywhere.
        Binding("e", "toggle_errors", "Errors", show=False),
        Binding("d", "slower", "Slow", show=False),
        Binding("l", "cycle_level", "Level"),
        Binding("space", "toggle_pause", "Pause"),
        Binding("c", "copy", "Copy"),
        Binding("y", "copy_tree", "Copy tree", show=False),
        Binding("escape", "back_to_list", "Back"),
    ]

    async def _on_key(self, event: events.Key) -> None:
        """A key bubbled up from where it was routed: if the focus has moved since (a burst of
        keys after `/`, `enter`, `tab`…), it goes on to the widget focused now instead of
        being looked up in that widget's bindings (`lens_tui.ui.focus`)."""
        await retype_if_focus_moved(self, event)

    async def _on_paste(self, event: events.Paste) -> None:
        """A paste bubbled up from where it was routed: as keys (`_on_key`)."""
        await retype_if_focus_moved(self, event)

    # ------------------------------------------------------------------ layout

    def on_resize(self, event: events.Resize) -> None:
        """Below 100 columns the footer's keys overflow, and Textual then draws them through
        the command palette key docked at its right: that key goes (ctrl+p still works)."""
        for footer in self.query(KeysFooter):
            footer.show_command_palette = event.size.width >= FOOTER_PALETTE_MIN_WIDTH

    def get_default_screen(self) -> Screen[None]:
        """The screen the layout below is composed into."""
        return DashboardScreen(id="_default")

    def compose(self) -> ComposeResult:
        """Header, trace list, waterfall beside span detail, log pane, filter bar, footer."""
        yield self.header
        yield self.trace_list
        with Horizontal(id="trace-view"):
            yield self.waterfall
            yield self.detail
        yield self.log_pane
        yield self.filter_bar
        yield KeysFooter(compact=True)

    def on_mount(self) -> None:
        """Titles, focus, then the live feed."""
        self.detail.clear()
        self.detail.border_title = Content.styled("Detail", "bold")
        self.waterfall.border_title = Content.styled("Waterfall", "bold")
        focus_now(self.trace_list)
        self.start_live()

    # ------------------------------------------------------------------ widgets

    @on(Waterfall.SpanHighlighted)
    def _span_highlighted(self, message: Waterfall.SpanHighlighted) -> None:
        """Detail follows the cursor; logs follow it when the user moved it."""
        waterfall = self.waterfall
        forest = waterfall.forest
        span = message.span
        if forest is None or self._open is None:
            return
        if waterfall.match_query:
            self._update_waterfall_subtitle()  # "3/17": which match the cursor is on
        if type(span) is PendingSpan and span.span_id in forest.index_of:
            # Its row may have been read since the message was posted (and its `SpansRead`
            # handled before this): ask again, or else that redraw is still to come.
            span = forest.spans[forest.index_of[span.span_id]]
        if span is None:
            self.detail.show_trace(self._open.summary, forest)
        else:
            self._show_span(forest, span)
        if not message.user:
            return
        node = waterfall.selected_node
        # The trace's root stands for the whole trace: its logs include those tied to no span.
        if span is None or node is None or span.parent_span_id is None:
            summary = self._open.summary
            name = summary.root_span_name if summary else self._open.trace_id
            self._set_log_scope(
                trace_id=self._open.trace_id, span_ids=None, label=f"trace “{visible(name, 40)}”"
            )
        else:
            self._set_log_scope(
                trace_id=self._open.trace_id,
                span_ids=forest.descendant_ids(node),
                label=span_label(span),
            )
            if type(span) is PendingSpan:
                self._label_waits_for = span.span_id  # named once its row is read

    def on_spans_read(self, message: SpansRead) -> None:
        """Spans drawn as placeholders have their rows: draw them again, and the selected
        one in full if the detail panel was waiting for it."""
        waterfall = self.waterfall
        forest = waterfall.forest
        if message.generation != self._trace_generation or forest is None:
            return
        waterfall.rows_changed(clear_cache=True)
        span, shown = waterfall.selected_span, self.detail.span
        if type(shown) is PendingSpan and span is not None and span.span_id == shown.span_id:
            self._show_span(forest, span)

    @on(LogPane.LogChosen)
    def _log_chosen(self, message: LogPane.LogChosen) -> None:
        """A log line selects its span; enter opens its trace first when needed."""
        log = message.log
        if self._open is not None and log.trace_id == self._open.trace_id:
            if log.span_id and self.waterfall.forest is not None:
                self.waterfall.select_span(log.span_id)
            elif log.span_id:
                self._select_after_load = log.span_id
        elif message.open and log.trace_id:
            self.open_trace(log.trace_id, select_span=log.span_id)

    # ------------------------------------------------------------------ trace list

    @on(TraceList.Opened)
    def _trace_opened(self, message: TraceList.Opened) -> None:
        self.open_trace(message.trace_id)

    @on(TraceList.NeedOlder)
    def _need_older(self, message: TraceList.NeedOlder) -> None:
        if not self._live or message.before in (self._older_asked, self._older_exhausted):
            return
        self._older_asked = message.before
        self._load_older(self._trace_filter, message.before, self._list_generation)

    @on(TraceList.NewCount)
    def _new_count(self, message: TraceList.NewCount) -> None:
        self.header.new_count = message.count
        self.header.refresh()
        self._update_list_titles()

    # ------------------------------------------------------------------ actions

    def action_help(self) -> None:
        """Show every key."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_filter(self) -> None:
        """`/`: filter the log pane's text when it has focus, find spans in the waterfall of
        an open trace, else filter the trace names."""
        focused = self.focused
        if isinstance(focused, LogPane):
            self.action_filter_logs()
        elif focused is self.waterfall and self._open is not None:
            self.action_find_spans()
        else:
            self.filter_bar.open("traces", self._trace_filter.name, back=focused)

    def action_filter_traces(self) -> None:
        """Open the filter on trace names."""
        self.filter_bar.open("traces", self._trace_filter.name, back=self.trace_list)

    def action_find_spans(self) -> None:
        """Find spans of the open trace by name."""
        if self._open is None:
            self.notify("open a trace first (enter on the trace list)", timeout=2)
            return
        self.filter_bar.open("spans", self._span_query, back=self.waterfall)

    def action_filter_logs(self) -> None:
        """Open the filter on log text."""
        self.filter_bar.open("logs", self.log_pane.scope.text, back=self.log_pane)

    @on(FilterBar.Applied)
    def _filter_applied(self, message: FilterBar.Applied) -> None:
        self._set_filter(message.target, message.text)

    @on(FilterBar.Cleared)
    def _filter_cleared(self, message: FilterBar.Cleared) -> None:
        self._set_filter(message.target, "")

    def _set_filter(self, target: str, text: str) -> None:
        if target == "spans":
            self.search_spans(text)
        elif target == "logs":
            scope = self.log_pane.scope
            if scope.text != text:
                self.log_pane.scope = LogScope(
                    scope.trace_id, scope.span_ids, scope.label, scope.min_level, text
                )
                self._reload_logs(now=True)
        elif text != self._trace_filter.name:
            self._trace_filter = replace(self._trace_filter, name=text)
            self._reload_traces()

    def action_slower(self) -> None:
        """`d`: only traces at least 10 ms long, then 100 ms, 1 s, 10 s, then all again
        (a running one once it has run that long: it may be the slowest of all)."""
        self._trace_filter = self._trace_filter.slower()
        self._reload_traces()

    def action_toggle_errors(self) -> None:
        """`e`: only traces with an error, or all again."""
        keep = self._trace_filter
        self._trace_filter = replace(keep, errors_only=not keep.errors_only)
        self._reload_traces()

    def action_cycle_level(self) -> None:
        """`l`: the log pane's minimum level moves debug → info → warn → error → debug."""
        scope = self.log_pane.scope
        self.log_pane.scope = scope.with_level(next_level(scope.min_level))
        self._reload_logs(now=True)

    def action_toggle_pause(self) -> None:
        """`space`: hold still (rows queue up), or apply everything queued and go live."""
        self._paused = not self._paused
        self.header.paused = self._paused
        if not self._paused and self._pending:
            overflowed = self._pending.logs_overflowed
            self._apply(self._pending.take())
            if overflowed:
                # More logs came than the pane keeps: its per-level counts are read again.
                self._recount_logs()
        self.header.queued = self._pending.count
        self.header.refresh()

    def action_live_top(self) -> None:
        """Back to the newest trace."""
        focus_now(self.trace_list)
        self.trace_list.action_live_top()

    def action_toggle_all(self) -> None:
        """Collapse or expand every span of the open trace."""
        self.waterfall.action_toggle_all()

    def action_threshold(self) -> None:
        """Cycle the collapse-below-duration threshold."""
        self.waterfall.action_threshold()

    def action_close_trace(self) -> None:
        """Close the open trace (the log pane shows all recent logs again)."""
        if self._open is not None:
            self._close_trace()
            self._set_log_scope(trace_id=None, span_ids=None, label="all recent")
            focus_now(self.trace_list)

    def action_back_to_list(self) -> None:
        """`escape`: to the trace list; there, close the open trace."""
        if self.focused is self.trace_list or self.focused is None:
            self.action_close_trace()
        else:
            focus_now(self.trace_list)

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
        self.copy_to_clipboard(visible(text, keep_newlines=True))
        preview = visible(text, 60)
        self.notify(f"copied: {preview}", timeout=2, markup=False)

    def action_copy_tree(self) -> None:
        """`y`: copy the open (else highlighted) trace as the text tree `lens-tui show` prints."""
        trace_id = self._open.trace_id if self._open is not None else None
        if trace_id is None:
            rows, cursor = self.trace_list.rows, self.trace_list.cursor
            trace_id = rows[cursor].trace_id if 0 <= cursor < len(rows) else None
        if trace_id is None:
            self.notify("no trace selected to copy", severity="warning", timeout=2)
            return
        self._copy_tree(trace_id)

    @in_thread("copy")
    def _copy_tree(self, trace_id: str) -> None:
        """Read and render the tree off the event loop; the copy itself happens on it."""
        reader = self.readers.get("copy")
        text = export.render_tree(reader.trace(trace_id), reader.logs(trace_id=trace_id, limit=10_000))
        lines = text.splitlines()
        if len(lines) > COPY_TREE_MAX_LINES:  # terminals cap OSC 52 payloads; show prints all
            more = len(lines) - COPY_TREE_MAX_LINES
            lines = [*lines[:COPY_TREE_MAX_LINES], f"… {more} more lines: lens-tui show {trace_id}"]
        self.call_from_thread(self._finish_copy_tree, "\n".join(lines) + "\n", trace_id)

    def _finish_copy_tree(self, text: str, trace_id: str) -> None:
        self.copy_to_clipboard(text)  # render_tree already made every character visible
        self.notify(f"copied trace {trace_id[:12]} as a tree ({text.count(chr(10))} lines)", timeout=2)


COPY_TREE_MAX_LINES = 5_000


def run_dashboard(db_path: Path) -> int:
    """Run the dashboard until the user quits; the exit code for the CLI."""
    app = LensApp(db_path)
    app.run()
    return app.return_code or 0
