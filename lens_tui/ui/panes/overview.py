"""`OverviewPane`: every route's rate, errors and latency percentiles over a window, live.

The numbers come from a `RouteAggregator` (lens_tui/store/stats/live.py): seeded once per
window by a thread worker (`read_seed`, SQL), then fed the rows the live tail delivers, so a
refresh costs what arrived and never runs SQL on the event loop. Rows that arrive while a seed
is read are kept aside and applied to it when it lands: a row the seed already counted is
recent, so the aggregator remembers it and replaces it instead of counting it twice
(docs/stats.md, "Seeding").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Label, Sparkline
from textual.worker import Worker

from lens_tui import humanize as fmt
from lens_tui.live.readers import Readers
from lens_tui.live.routes import DEFAULT_WINDOW, next_window
from lens_tui.store.records import TraceSummary
from lens_tui.store.stats import RouteAggregator, RouteKey, RouteSeries, read_seed
from lens_tui.store.stats.live import SETTLE_MS
from lens_tui.text import visible
from lens_tui.ui.keys import OVERVIEW_KEYS, bindings
from lens_tui.ui.widgets.route_table import RouteTable
from lens_tui.ui.workers import Generation, Job, in_thread, job_ended

REFRESH_S = 0.5
"""Most often the table is drawn again while rows arrive (the target is once a second)."""
CHECK_S = 0.25
"""How often the pane looks whether rows arrived since it last drew."""


class OverviewPane(Vertical):
    """The route table and, below it, the highlighted route's rate and p95 over the window."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*OVERVIEW_KEYS)

    class Seeded(Message, bubble=False):
        """A window's aggregator, seeded from the file by a worker."""

        def __init__(self, aggregator: RouteAggregator, window: str, generation: int) -> None:
            super().__init__()
            self.aggregator = aggregator
            self.window = window
            self.generation = generation

    def __init__(
        self, readers: Readers, clock: Callable[[], float], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.readers = readers
        self.clock = clock
        self.table = RouteTable(id="routes")
        self.window = DEFAULT_WINDOW
        """The window shown (one of lens_tui.live.routes.WINDOW_NAMES)."""
        self.aggregator: RouteAggregator | None = None
        """The live numbers of `window`, once seeded."""
        self.live = False
        """The dashboard's first picture is shown: seeds may be read."""
        self.paused = False
        """Held still: nothing is drawn again until resumed (rows still count)."""
        self.shown = False
        self._pending: list[TraceSummary] | None = None
        """Rows that arrived while a seed was read (None: no seed is being read)."""
        self._generation = Generation()
        self._dirty = False
        self._drawn_at = 0.0
        self._rate = Sparkline([], id="route-rate")
        self._p95 = Sparkline([], id="route-p95")
        self._rate_label = Label("", id="route-rate-label")
        self._p95_label = Label("", id="route-p95-label")

    def compose(self) -> ComposeResult:
        """The table, then the highlighted route's two sparklines side by side."""
        yield self.table
        with Horizontal(id="route-lines"):
            with Vertical():
                yield self._rate_label
                yield self._rate
            with Vertical():
                yield self._p95_label
                yield self._p95

    def on_mount(self) -> None:
        """Look for new rows a few times a second (drawn at most every REFRESH_S)."""
        self.table.empty_message = "reading the routes…"
        self.update_titles()
        self.set_interval(CHECK_S, self._check)

    # ------------------------------------------------------------------ set from above

    def show(self) -> None:
        """The pane is on screen: read its window the first time."""
        self.shown = True
        self.set_class(True, "-shown")
        if self.aggregator is None and self._pending is None and self.live:
            self._start_seed()
        else:
            self.draw()

    def hide(self) -> None:
        """Off screen: rows still count, nothing is drawn."""
        self.shown = False
        self.set_class(False, "-shown")

    def start(self) -> None:
        """The first picture is shown: a pane on screen reads its window now."""
        self.live = True
        if self.shown and self.aggregator is None and self._pending is None:
            self._start_seed()

    def reset(self) -> None:
        """The file was replaced: nothing counted still holds; read again once live."""
        self._generation.next()
        self.aggregator = None
        self._pending = None
        self.live = False
        self.table.empty_message = "reading the routes…"
        self.table.show([])
        self.update_titles()

    def apply(self, traces: Iterable[TraceSummary]) -> None:
        """New and changed rows from the live tail."""
        if self._pending is not None:
            self._pending.extend(traces)
        elif self.aggregator is not None:
            self.aggregator.apply(traces, self.clock())
            self._dirty = True

    def tick(self) -> None:
        """The clock moved: the window slides even when nothing is written."""
        if self.shown and not self.paused and self.aggregator is not None:
            self.draw()

    def window_since(self, now_ms: float) -> float | None:
        """Where the window shown opens at `now_ms` (None: all)."""
        if self.aggregator is None:
            return RouteAggregator.for_window(self.window).window_start_ms(now_ms)
        return self.aggregator.window_start_ms(now_ms)

    def action_cycle_window(self) -> None:
        """`w`: the next window (5m, 15m, 1h, 24h, all), read anew."""
        self.window = next_window(self.window)
        self.update_titles()
        if self.live:
            self._start_seed()

    # ------------------------------------------------------------------ the seed

    def _start_seed(self) -> None:
        if self._pending is None:
            self._pending = []
        self.update_titles()
        self._seed(self.window, self._generation.next())

    @in_thread(Job.ROUTES)
    def _seed(self, window: str, generation: int) -> None:
        """Read the window's counts and recent rows; the aggregator is built here too, off the
        event loop, and handed over whole."""
        reader = self.readers.get(Job.ROUTES)
        now = self.clock()
        aggregator = RouteAggregator.for_window(window)
        seed = read_seed(
            reader,
            by=aggregator.by,
            bucket_ms=aggregator.bucket_ms,
            since_ms=aggregator.window_start_ms(now),
            changed_since_ms=now - SETTLE_MS,
        )
        aggregator.seed(seed, now)
        self.post_message(self.Seeded(aggregator, window, generation))

    def on_overview_pane_seeded(self, message: OverviewPane.Seeded) -> None:
        """A window's aggregator: the rows that arrived meanwhile go into it, then it shows."""
        if self._generation.stale(message.generation):
            return
        aggregator = message.aggregator
        if self._pending:
            aggregator.apply(self._pending, self.clock())
        self._pending = None
        self.aggregator = aggregator
        self.table.empty_message = f"no traces in the last {message.window}"
        self.draw()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure goes up to the screen."""
        job_ended(self, event)

    # ------------------------------------------------------------------ drawing

    def _check(self) -> None:
        if (
            self._dirty
            and self.shown
            and not self.paused
            and time.monotonic() - self._drawn_at >= REFRESH_S
        ):
            self.draw()

    def draw(self) -> None:
        """The table from the aggregator now, and the highlighted route's sparklines."""
        aggregator = self.aggregator
        if aggregator is None:
            return
        self._dirty = False
        self._drawn_at = time.monotonic()
        self.table.show(aggregator.rows(self.clock()), aggregator.series)
        self.update_titles()
        self._draw_lines()

    def on_route_table_highlighted(self, message: RouteTable.Highlighted) -> None:
        """Another route under the cursor: its sparklines below."""
        message.stop()
        self._draw_lines()

    def _draw_lines(self) -> None:
        row = self.table.highlighted
        series: RouteSeries | None = self.table.series_for(row.key) if row is not None else None
        if row is None or series is None:
            self._rate.data = []
            self._p95.data = []
            self._rate_label.update("")
            self._p95_label.update("")
            return
        name = _route_label(row.key)
        self._rate.data = list(series.rate_per_s)
        self._p95.data = list(series.p95_ms)
        peak = max(series.rate_per_s, default=0.0)
        slowest = max(series.p95_ms, default=0.0)
        self._rate_label.update(
            Content.assemble(
                ("traces/s ", "bold"), name, f" · peak {fmt.rate(peak)}/s over {self.window}"
            )
        )
        self._p95_label.update(
            Content.assemble(("p95 ", "bold"), name, f" · peak {fmt.duration(slowest)}")
        )

    def update_titles(self) -> None:
        """The window and the order in the title; what the keys do below."""
        table = self.table
        reading = self._pending is not None
        parts: list[str | tuple[str, str] | Content] = [
            ("Routes", "bold"),
            f" · last {self.window}" if self.window != "all" else " · all",
        ]
        if reading:
            parts.append(" · reading…")
        table.border_title = Content.assemble(*parts)
        table.border_subtitle = (
            f"{fmt.count(len(table.rows))} routes · w window · > sort · enter traces"
        )


def _route_label(key: RouteKey) -> Content:
    """A route as its service and name, as data."""
    name = visible(key.name or "–", 60)
    if key.service is None:
        return Content(name)
    return Content.assemble((visible(key.service, 30), "dim"), " ", name)
