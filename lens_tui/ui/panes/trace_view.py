"""`TraceView`: the open trace: the waterfall beside the span detail, the workers that load and
update the trace's forest, read the rows of spans drawn before they were read, find spans by
name and fetch captured bodies; each result of an older trace (or search) is dropped."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.worker import Worker

from lens_tui.forest import MatchOrder, SpanForest, analyse_forest, match_order, needs_analysis
from lens_tui.live.collector import thaw
from lens_tui.live.jobs import SingleFlight
from lens_tui.live.open_trace import OpenTrace
from lens_tui.live.readers import Readers
from lens_tui.store.presence import Presence
from lens_tui.store.reader import OpenError
from lens_tui.store.records import PendingSpan, SpanRow, TraceSummary
from lens_tui.text import visible
from lens_tui.trace_ids import SHORT_ID_LENGTH, short_id
from lens_tui.ui.focus import focus_now
from lens_tui.ui.keys import TRACE_VIEW_KEYS, bindings
from lens_tui.ui.widgets.span_detail import SpanDetail
from lens_tui.ui.widgets.waterfall import Waterfall
from lens_tui.ui.workers import Generation, Job, in_thread, job_ended

TRACE_UPDATE_INTERVAL_S = 0.2
"""A live trace's waterfall is rebuilt at most this often."""
SPAN_RETRY_FIRST_S = 0.1
SPAN_RETRY_LAST_S = 1.6
"""Rows of drawn spans that could not be read are tried again after 0.1, 0.2, … 1.6 s."""


def trace_label(summary: TraceSummary) -> str:
    """Whose logs the log pane shows when a whole trace is chosen, for its title."""
    return f"trace “{visible(summary.root_span_name, 40)}”"


def span_label(span: SpanRow) -> str:
    """Whose logs the log pane shows when a span is chosen, for its title."""
    name = "…" if type(span) is PendingSpan else visible(span.name, 40)
    return f"span “{name}” and below"


class TraceView(Horizontal):
    """The waterfall and the detail panel of the open trace, and everything read for them."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*TRACE_VIEW_KEYS)

    class LogsWanted(Message):
        """The user chose a span (or the trace): the log pane shows its logs."""

        def __init__(self, trace_id: str, span_ids: frozenset[str] | None, label: str) -> None:
            super().__init__()
            self.trace_id = trace_id
            self.span_ids = span_ids
            """The span and those below it; None for the whole trace."""
            self.label = label

    class SubtreeGrew(Message):
        """New spans arrived below the chosen span: its logs are theirs too."""

        def __init__(self, span_ids: frozenset[str]) -> None:
            super().__init__()
            self.span_ids = span_ids

    class SpanNamed(Message):
        """The chosen span's row was read since: the log pane's title can name it."""

        def __init__(self, label: str) -> None:
            super().__init__()
            self.label = label

    class TraceNamed(Message):
        """The open trace was read: `label` names it for the log pane's title."""

        def __init__(self, trace_id: str, label: str) -> None:
            super().__init__()
            self.trace_id = trace_id
            self.label = label

    class TraceMissing(Message):
        """The trace opened is not in the file (deleted since it was listed)."""

        def __init__(self, trace_id: str) -> None:
            super().__init__()
            self.trace_id = trace_id

    class TraceRead(Message, bubble=False):
        """A (new version of the) open trace's forest."""

        def __init__(
            self,
            summary: TraceSummary | None,
            forest: SpanForest,
            generation: int,
            version: int,
            fresh: bool,
        ) -> None:
            super().__init__()
            self.summary = summary
            self.forest = forest
            self.generation = generation
            self.fresh = fresh
            """Built by the first load (not a live update)."""
            self.version = version
            """Grows with every forest built for the trace: an older one arriving late is
            ignored."""

    class SpansRead(Message, bubble=False):
        """Rows of spans drawn as placeholders have been read."""

        def __init__(self, generation: int) -> None:
            super().__init__()
            self.generation = generation

        def can_replace(self, message: Message) -> bool:
            """One redraw covers every batch read before it."""
            return isinstance(message, TraceView.SpansRead) and (
                message.generation == self.generation
            )

    class SpansFound(Message, bubble=False):
        """Spans of the open trace whose name contains `query`, and their nodes of `forest`
        in display order (`match_order`)."""

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
            """Which search this answers (all but the latest are dropped)."""
            self.jump = jump
            """A new search: go to its first match (not a live update's new spans)."""

    class BodyRead(Message, bubble=False):
        """A captured body read from the `bodies` table."""

        def __init__(self, body_hash: str, body: str | None) -> None:
            super().__init__()
            self.body_hash = body_hash
            self.body = body

    def __init__(
        self, readers: Readers, clock: Callable[[], float], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.readers = readers
        self.clock = clock
        self.waterfall = Waterfall(clock, id="waterfall")
        self.detail = SpanDetail(id="detail")
        self.live = False
        """The first picture is shown: loads may run."""
        self.opened: OpenTrace | None = None
        """The trace shown (None: none is open)."""
        self._trace = Generation()
        """Counts traces opened (and closed): a result for another one is dropped."""
        self._shown_version = -1
        """The version of the forest shown (-1: none yet)."""
        self._summary: TraceSummary | None = None
        """The open trace's newest row from the tail (its spans are fetched past it)."""
        self._last_update = 0.0
        self._flight = SingleFlight(lambda _force: self._start_update())
        self._select_after_load: str | None = None
        self.span_query = ""
        """The span search asked for ("" when none)."""
        self._search = Generation()
        """Counts span searches: a result of an older one is dropped."""
        self._unnamed: str | None = None
        """The chosen span whose row was not read yet: the log pane's title names it later."""
        self._id_length = SHORT_ID_LENGTH
        """How much of the open trace's id its title shows."""

    def compose(self) -> ComposeResult:
        """The waterfall beside the detail panel."""
        yield self.waterfall
        yield self.detail

    def on_mount(self) -> None:
        """Empty titles until a trace opens."""
        self.detail.clear()
        self.detail.border_title = Content.styled("Detail", "bold")
        self.waterfall.border_title = Content.styled("Waterfall", "bold")

    @property
    def trace_id(self) -> str | None:
        """The open trace's id."""
        return self.opened.trace_id if self.opened is not None else None

    @property
    def generation(self) -> int:
        """Counts traces opened and closed: what was read for an earlier one is dropped."""
        return self._trace.current

    # ------------------------------------------------------------------ open and close

    def open(
        self,
        trace_id: str,
        name: str | None,
        select_span: str | None = None,
        *,
        id_length: int = SHORT_ID_LENGTH,
    ) -> None:
        """Show a trace (loaded by a worker), named `name` until it is read (None: not known
        yet); `select_span` is highlighted once it is shown; the title shows the last
        `id_length` characters of its id."""
        generation = self._trace.next()
        self._shown_version = -1
        self._forget()
        self.opened = OpenTrace(trace_id)
        self._summary = None
        self._select_after_load = select_span
        self._id_length = id_length
        if self.live:
            # First: a huge trace takes a while to read, and the reading need not wait for
            # the restyling that follows.
            self._load_trace(self.opened, generation)
        self.waterfall.clear()
        self.waterfall.empty_message = "loading…"
        self.detail.clear("loading…")
        self._set_title(name)
        self._update_subtitle()

    @property
    def short_id(self) -> str:
        """The open trace's id as its title shows it ("" when none is open)."""
        return short_id(self.opened.trace_id, self._id_length) if self.opened else ""

    def _set_title(self, name: str | None) -> None:
        """ "Waterfall · tail of the id · name" (the name "…" until it is known): the id
        first, so a long name cut at the border's end leaves it readable."""
        self.waterfall.border_title = Content.assemble(
            ("Waterfall", "bold"),
            " · ",
            (visible(self.short_id), "dim"),
            " · ",
            visible(name, 60) if name is not None else "…",
        )

    def close(self) -> None:
        """Show no trace."""
        self._forget()
        self.opened = None
        self._trace.next()
        self._select_after_load = None
        self.waterfall.clear()
        self.waterfall.empty_message = "enter on a trace opens its waterfall"
        self.waterfall.border_title = Content.styled("Waterfall", "bold")
        self.waterfall.border_subtitle = None
        self.detail.clear()

    def _forget(self) -> None:
        """Its placeholders' rows need not be read any more; its span search ends."""
        if self.opened is not None and self.opened.rows is not None:
            self.opened.rows.close()
        self._unnamed = None
        self.span_query = ""
        self._search.next()

    def follow(self, summary: TraceSummary) -> None:
        """The open trace's row changed in the tail: its new spans are fetched."""
        self._summary = summary
        self._flight.request()

    def gone(self, presence: Presence) -> bool:
        """Whether the open trace was deleted from the file."""
        opened = self.opened
        if opened is None:
            return False
        start = opened.summary.started_at if opened.summary is not None else 0.0
        return presence.trace_gone(opened.trace_id, start)

    def action_on_waterfall(self, action: str) -> None:
        """A waterfall key typed in the detail panel: the waterfall acts on its span."""
        getattr(self.waterfall, f"action_{action}")()

    def select_span(self, span_id: str) -> None:
        """Highlight a span (once the trace is shown, if it is still loading)."""
        if self.waterfall.forest is not None:
            self.waterfall.select_span(span_id)
        else:
            self._select_after_load = span_id

    def tick(self) -> None:
        """Running spans grow, and a running span's "… so far" goes on."""
        self.waterfall.tick()
        self.detail.tick(self.clock())

    # ------------------------------------------------------------------ loading

    @in_thread(Job.TRACE)
    def _load_trace(self, opened: OpenTrace, generation: int) -> None:
        """All spans of a newly opened trace, built into a forest off the event loop."""
        # Only the forest's columns and the first screen's rows now; the rows of spans drawn
        # later are read in full by rowid, by `_read_spans`, while the UI draws placeholders.
        forest = opened.load(
            self.readers.get(Job.TRACE),
            self.clock(),
            keys_only=True,
            on_missing=lambda: self.call_later(self._read_spans, opened, generation),
        )
        self.post_message(
            self.TraceRead(opened.summary, forest, generation, opened.version, fresh=True)
        )

    @in_thread(Job.SPANS, exclusive=False)
    def _read_spans(self, opened: OpenTrace, generation: int) -> None:
        """Rows of spans drawn as placeholders, on a reader of their own, until none is
        waiting (`SpanRows` asks again for the next one drawn)."""
        rows = opened.rows
        if rows is None:
            return
        delay = SPAN_RETRY_FIRST_S
        while True:
            try:
                if not rows.read(self.readers.get(Job.SPANS)):
                    return
            except OpenError:
                # Busy or being replaced just now: try again a little later, then leave the
                # placeholders to ask again when next drawn.
                if delay > SPAN_RETRY_LAST_S or self.readers.closed.wait(delay):
                    rows.release()
                    return
                delay *= 2
                continue
            self.post_message(self.SpansRead(generation))
            delay = SPAN_RETRY_FIRST_S

    @in_thread(Job.ANALYSE)
    def _analyse_trace(self, forest: SpanForest, generation: int) -> None:
        """Self times and the critical path of a huge trace, once its first screen is drawn."""
        analyse_forest(forest, self.clock())
        self.app.call_from_thread(self.forest_analysed, forest, generation)

    def forest_analysed(self, forest: SpanForest, generation: int) -> None:
        """Self times and the critical path arrived for the forest on screen: redraw with them."""
        waterfall = self.waterfall
        if self._trace.stale(generation) or waterfall.forest is not forest:
            return
        waterfall.rows_changed(clear_cache=True)
        span = waterfall.selected_span
        if span is not None:
            self._show_span(forest, span)

    def _start_update(self) -> None:
        opened = self.opened
        if opened is None or not self.live:
            self._flight.abandon()
            return
        wait = self._last_update + TRACE_UPDATE_INTERVAL_S - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self._start_update)
            return
        self._last_update = time.monotonic()
        self._update_trace(opened, self._summary, self._trace.current)

    @in_thread(Job.TRACE_UPDATE, exclusive=False)
    def _update_trace(
        self, opened: OpenTrace, summary: TraceSummary | None, generation: int
    ) -> None:
        """Spans written since the last look, merged into a new forest."""
        forest = opened.update(self.readers.get(Job.TRACE), summary, self.clock())
        if forest is not None:
            self.post_message(
                self.TraceRead(opened.summary, forest, generation, opened.version, fresh=False)
            )

    @in_thread(Job.BODY)
    def _load_body(self, body_hash: str) -> None:
        """A captured body (gunzipped by the reader)."""
        self.post_message(self.BodyRead(body_hash, self.readers.get(Job.BODY).body(body_hash)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """An update that ended lets the next one start."""
        if job_ended(self, event) is Job.TRACE_UPDATE:
            self._flight.done()

    # ------------------------------------------------------------------ what was read

    def on_trace_view_trace_read(self, message: TraceView.TraceRead) -> None:
        """A (new version of the) open trace's forest."""
        # A huge forest was built out of the collector's sight (`CollectorPaused`): once
        # it is on screen, hand it (and anything else frozen with it) back.
        self.call_after_refresh(thaw)
        if self._trace.stale(message.generation) or message.version <= self._shown_version:
            return
        fresh = self._shown_version < 0
        self._shown_version = message.version
        waterfall = self.waterfall
        waterfall.empty_message = "this trace has no spans (yet)"
        opened = self.opened
        if fresh and opened is not None and message.summary is None and not len(message.forest):
            # No trace row and no span: deleted (a prune, a writer's retention) since it was
            # listed, or an id not written (yet).
            waterfall.empty_message = f"trace {self.short_id} is not in the file (deleted?)"
            waterfall.set_forest(message.forest, fresh=True)
            self.detail.clear("no such trace in the file: pruned, or not written yet")
            self.post_message(self.TraceMissing(opened.trace_id))
            return
        waterfall.set_forest(message.forest, fresh=fresh)
        if self.span_query:
            # New spans may match the search (or it was asked for while the trace loaded).
            self._search.next()
            self._search_again(jump=fresh)
        if needs_analysis(message.forest):
            # Not while the first screen is drawn: both would compete for the interpreter.
            self.call_after_refresh(self._analyse_trace, message.forest, message.generation)
        if fresh:
            if opened is not None and message.summary is not None:
                # Opened before its row was known (a jump from the command palette): now
                # its name, not its id, titles the waterfall and the log pane.
                self._set_title(message.summary.root_span_name)
                self.post_message(self.TraceNamed(opened.trace_id, trace_label(message.summary)))
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
                self.post_message(self.SubtreeGrew(message.forest.descendant_ids(node)))
        else:
            self.detail.show_trace(message.summary, message.forest)

    def on_trace_view_spans_read(self, message: TraceView.SpansRead) -> None:
        """Spans drawn as placeholders have their rows: draw them again, and the selected
        one in full if the detail panel was waiting for it."""
        waterfall = self.waterfall
        forest = waterfall.forest
        if self._trace.stale(message.generation) or forest is None:
            return
        waterfall.rows_changed(clear_cache=True)
        span, shown = waterfall.selected_span, self.detail.span
        if type(shown) is PendingSpan and span is not None and span.span_id == shown.span_id:
            self._show_span(forest, span)

    def on_trace_view_body_read(self, message: TraceView.BodyRead) -> None:
        """A captured body arrived."""
        forest = self.waterfall.forest
        if forest is not None:
            self.detail.set_body(forest, message.body_hash, message.body, self.clock())

    def on_waterfall_span_highlighted(self, message: Waterfall.SpanHighlighted) -> None:
        """Detail follows the cursor; logs follow it when the user moved it."""
        waterfall = self.waterfall
        forest = waterfall.forest
        span = message.span
        opened = self.opened
        if forest is None or opened is None:
            return
        if waterfall.match_query:
            self._update_subtitle()  # "3/17": which match the cursor is on
        if type(span) is PendingSpan and span.span_id in forest.index_of:
            # Its row may have been read since the message was posted (and its `SpansRead`
            # handled before this): ask again, or else that redraw is still to come.
            span = forest.spans[forest.index_of[span.span_id]]
        if span is None:
            self.detail.show_trace(opened.summary, forest)
        else:
            self._show_span(forest, span)
        if not message.user:
            return
        node = waterfall.selected_node
        self._unnamed = None
        # The trace's root stands for the whole trace: its logs include those tied to no span.
        if span is None or node is None or span.parent_span_id is None:
            label = trace_label(opened.summary) if opened.summary else f"trace {self.short_id}"
            self.post_message(self.LogsWanted(opened.trace_id, None, label))
            return
        self.post_message(
            self.LogsWanted(opened.trace_id, forest.descendant_ids(node), span_label(span))
        )
        if type(span) is PendingSpan:
            self._unnamed = span.span_id  # named once its row is read

    def _show_span(self, forest: SpanForest, span: SpanRow) -> None:
        """The span in the detail panel, with its captured bodies read when not there yet;
        the log pane's title names it if it was chosen while its row was being read."""
        self.detail.show_span(forest, span, self.clock())
        if type(span) is PendingSpan:
            return
        for body_hash in (span.input_body_hash, span.output_body_hash):
            if body_hash and not self.detail.has_body(body_hash):
                self._load_body(body_hash)
        if self._unnamed == span.span_id:
            self._unnamed = None
            self.post_message(self.SpanNamed(span_label(span)))

    # ------------------------------------------------------------------ the span search

    def search_spans(self, query: str) -> None:
        """Find spans of the open trace by name (an empty query ends the search)."""
        self.span_query = query
        self._search.next()  # whatever an earlier search still finds is dropped
        if not query:
            self.waterfall.set_matches("", ())
            self._update_subtitle()
        else:
            self._search_again(jump=True)

    def _search_again(self, *, jump: bool) -> None:
        """Run the span search on the forest shown (again, after a live update)."""
        forest = self.waterfall.forest
        if self.opened is None or forest is None or not self.span_query or not self.live:
            return  # a trace still loading is searched once its forest is shown
        self._find_spans(self.opened.trace_id, self.span_query, forest, self._search.current, jump)

    @in_thread(Job.FIND, exclusive=False)
    def _find_spans(
        self, trace_id: str, query: str, forest: SpanForest, search: int, jump: bool
    ) -> None:
        """The open trace's spans whose name contains `query`, found in the file (unread
        spans count), with their nodes of `forest` in display order: a broad search over a
        huge trace must not sort 100,000 nodes on the event loop."""
        found = self.readers.get(Job.FIND).find_spans(trace_id, query)
        order = match_order(forest, found)
        self.post_message(self.SpansFound(query, tuple(found), forest, order, search, jump))

    def on_trace_view_spans_found(self, message: TraceView.SpansFound) -> None:
        """Highlight what the span search found; a new search goes to its first match."""
        waterfall = self.waterfall
        if self._search.stale(message.search) or waterfall.forest is not message.forest:
            return  # a newer search, or a newer forest (searched again with it)
        waterfall.set_matches(message.query, message.span_ids, message.order)
        if message.jump:
            node = waterfall.selected_node
            if node is None or waterfall.forest.span_ids[node] not in waterfall.matches:
                waterfall.action_next_match()
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        label = self.waterfall.match_label()
        critical = "┃ critical path"
        # A Content, never a string: a string title is parsed as markup, and the query is
        # the user's text (`[/]` would raise, `[@click=…]` would make a link).
        self.waterfall.border_subtitle = Content(
            critical if label is None else f"{label} · {critical}"
        )
