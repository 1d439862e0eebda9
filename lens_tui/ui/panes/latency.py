"""`LatencyPane`: the latency chart of the route the overview drilled into, read by a thread
worker for the chart's size (points or a heatmap, lens_tui/store/stats/latency.py) and read
again while new traces of the route arrive, unless a selection holds it still."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.worker import Worker

from lens_tui import humanize as fmt
from lens_tui.live.latency_grid import MODES, Grid, Mode, heatmap_grid, scatter_grid
from lens_tui.live.readers import Readers
from lens_tui.store.records import TraceSummary
from lens_tui.store.stats import LatencyRegion, RouteKey, latency_heatmap, latency_points
from lens_tui.text import visible
from lens_tui.ui.widgets.latency_chart import LatencyChart
from lens_tui.ui.workers import Generation, Job, in_thread, job_ended

REREAD_S = 2.0
"""Most often the chart is read again while traces of its route arrive."""


class LatencyPane(Vertical):
    """One route's latency chart over the overview's window."""

    class ChartRead(Message, bubble=False):
        """The chart's cells, read for a size and a mode."""

        def __init__(self, grid: Grid, generation: int) -> None:
            super().__init__()
            self.grid = grid
            self.generation = generation

    def __init__(
        self, readers: Readers, clock: Callable[[], float], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.readers = readers
        self.clock = clock
        self.chart = LatencyChart(id="latency")
        self.key: RouteKey | None = None
        """The route charted (None: the pane is closed)."""
        self.since_ms: float | None = None
        self.window = ""
        self.mode: Mode = "scatter"
        self.paused = False
        self.selected: LatencyRegion | None = None
        """The selection the trace list shows."""
        self._generation = Generation()
        self._dirty = False
        self._read_at = 0.0
        self._selected_counts = (0, 0)

    def compose(self) -> ComposeResult:
        """The chart."""
        yield self.chart

    def on_mount(self) -> None:
        """Look once a second whether the route got new traces."""
        self.set_interval(1.0, self._check)

    @property
    def shown(self) -> bool:
        """A route is charted."""
        return self.key is not None

    def open(self, key: RouteKey, since_ms: float | None, window: str) -> None:
        """Chart `key` from `since_ms` (None: its first trace) to now."""
        self.key, self.since_ms, self.window = key, since_ms, window
        self.selected = None
        self.chart.clear_selection()
        self.chart.show(None, "reading…")
        self.set_class(True, "-shown")
        self.update_titles()
        self._read()

    def close(self) -> None:
        """No chart."""
        self.key = None
        self.selected = None
        self._generation.next()
        self.set_class(False, "-shown")

    def apply(self, traces: Iterable[TraceSummary]) -> None:
        """Rows from the live tail: one of the route's makes the chart due to be read again."""
        key = self.key
        if key is not None and not self._dirty:
            self._dirty = any(key.matches(trace) for trace in traces)

    def select(self, region: LatencyRegion | None, traces: int = 0, failed: int = 0) -> None:
        """What the trace list shows now (None: the whole route)."""
        self.selected = region
        self._selected_counts = (traces, failed)
        self.update_titles()

    # ------------------------------------------------------------------ reading

    def _check(self) -> None:
        if (
            self._dirty
            and self.shown
            and not self.paused
            and self.selected is None
            and self.chart.anchor is None
            and time.monotonic() - self._read_at >= REREAD_S
        ):
            self._read()

    def _read(self) -> None:
        if self.key is None:
            return
        self._dirty = False
        self._read_at = time.monotonic()
        columns, rows = self.chart.plot_size
        self._load(self.key, self.since_ms, self.mode, columns, rows, self._generation.next())

    @in_thread(Job.LATENCY)
    def _load(
        self,
        key: RouteKey,
        since_ms: float | None,
        mode: Mode,
        columns: int,
        rows: int,
        generation: int,
    ) -> None:
        """The route's points (binned into cells here, off the event loop) or its heatmap."""
        reader = self.readers.get(Job.LATENCY)
        now = self.clock()
        if mode == "scatter":
            points = latency_points(reader, key, since_ms=since_ms, until_ms=None, now_ms=now)
            grid = scatter_grid(
                points, key, since_ms=since_ms, until_ms=now, columns=columns, rows=rows
            )
        else:
            heatmap = latency_heatmap(
                reader,
                key,
                since_ms=since_ms,
                until_ms=now + 1,
                columns=columns,
                rows=rows,
                now_ms=now,
            )
            grid = heatmap_grid(heatmap)
        self.post_message(self.ChartRead(grid, generation))

    def on_latency_pane_chart_read(self, message: LatencyPane.ChartRead) -> None:
        """Draw what was read (unless something newer was asked for)."""
        if self._generation.stale(message.generation) or self.key is None:
            return
        grid = message.grid
        empty = f"no finished traces in the last {self.window}" if grid.running else "no traces"
        self.chart.show(grid, empty)
        self.update_titles()

    def on_latency_chart_resized(self, message: LatencyChart.Resized) -> None:
        """A new size: read the chart for it."""
        message.stop()
        if self.shown:
            self._read()

    def on_latency_chart_mode_wanted(self, message: LatencyChart.ModeWanted) -> None:
        """`v`: the other kind of chart; a selection is dropped (its cells were the old chart's)."""
        message.stop()
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        if self.selected is not None:
            self.chart.action_clear()
        self.chart.clear_selection()
        self._read()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failure goes up to the screen."""
        job_ended(self, event)

    # ------------------------------------------------------------------ titles

    def update_titles(self) -> None:
        """The route, window and kind of chart above; counts and the selection below."""
        chart = self.chart
        key = self.key
        grid = chart.grid
        parts: list[str | tuple[str, str] | Content] = [("Latency", "bold")]
        if key is not None:
            if key.service is not None:
                parts += [" · ", visible(key.service, 30)]
            parts += [" ", (visible(key.name or "–", 60), "bold")]
        parts.append(f" · last {self.window}" if self.window != "all" else " · all")
        log = grid is not None and grid.log_scale
        parts.append(f" · {self.mode}{' (log)' if log else ''}")
        chart.border_title = Content.assemble(*parts)
        below: list[str] = []
        if self.selected is not None:
            traces, failed = self._selected_counts
            region = self.selected
            below.append(
                f"selected {fmt.count(traces)} ({fmt.count(failed)} failed):"
                f" {fmt.duration(region.min_duration_ms)}–{fmt.duration(region.max_duration_ms)}"
            )
        elif grid is not None:
            errors = sum(map(sum, grid.errors))
            below.append(f"{fmt.count(grid.total)} traces · {fmt.count(errors)} failed")
            if grid.running:
                below.append(f"{fmt.count(grid.running)} running")
            if grid.truncated:
                below.append("newest only")
        below.append("v " + ("heatmap" if self.mode == "scatter" else "scatter"))
        chart.border_subtitle = " · ".join(below)
