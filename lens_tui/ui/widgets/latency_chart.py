"""`LatencyChart`: one route's latency as a scatter plot (braille dots, each trace's duration
against its start) or a heatmap (shaded cells), drawn with the line API from a `Grid`; a cell
cursor and a rectangular selection that becomes a `LatencyRegion` (docs/decisions.md)."""

from __future__ import annotations

import math
from typing import ClassVar

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import BindingType
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from lens_tui import humanize as fmt
from lens_tui.live.latency_grid import Grid, braille
from lens_tui.store.stats import LatencyRegion
from lens_tui.ui.cells import fit
from lens_tui.ui.focus import KeysFollowFocus, focus_now
from lens_tui.ui.keys import LATENCY_CHART_KEYS, bindings

AXIS_W = 8
"""Cells left of the plot for the duration axis."""
SHADES = "░▒▓█"
"""A heatmap cell's glyph by how full it is (log of its count against the fullest)."""

Cell = tuple[int, int]
"""(column, row) of the plot; row 0 the fastest (drawn at the bottom)."""


def _time_label(epoch_ms: float, span_ms: float) -> str:
    """A time on the axis: seconds shown unless the window spans more than an hour."""
    text = fmt.clock_time(epoch_ms)
    return text[:5] if span_ms > 3_600_000 else text[:8]


class LatencyChart(KeysFollowFocus, Widget, can_focus=True):
    """Draws a `Grid`; arrows move a cell cursor, shift+arrows extend a selection from where
    it started, enter (or a click, or a drag) selects."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*LATENCY_CHART_KEYS)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "latency-chart--ok",
        "latency-chart--error",
        "latency-chart--axis",
        "latency-chart--selected",
        "latency-chart--cursor",
    }

    DEFAULT_CSS = """
    LatencyChart {
        background: $surface;
        & > .latency-chart--ok { color: $primary; }
        & > .latency-chart--error { color: $error; }
        & > .latency-chart--axis { color: $text-muted; }
        & > .latency-chart--selected { background: $accent 35%; }
        & > .latency-chart--cursor { background: $accent 70%; }
    }
    """

    class Selected(Message):
        """Cells were selected: list exactly their traces."""

        def __init__(self, region: LatencyRegion, traces: int, failed: int) -> None:
            super().__init__()
            self.region = region
            self.traces = traces
            self.failed = failed

    class Cleared(Message):
        """The selection was dropped: the whole route again."""

    class ModeWanted(Message):
        """`v`: the other kind of chart."""

    class Resized(Message):
        """The plot area changed size: the chart is read again for it."""

        def __init__(self, columns: int, rows: int) -> None:
            super().__init__()
            self.columns = columns
            self.rows = rows

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.grid: Grid | None = None
        self.message = "reading…"
        """What an empty chart says."""
        self.cursor: Cell = (0, 0)
        self.anchor: Cell | None = None
        """Where a selection being extended started (None: just the cursor cell)."""
        self.selection: tuple[Cell, Cell] | None = None
        """The cells whose traces the list shows (two opposite corners)."""
        self._lines: list[Strip] = []
        self._drag: Cell | None = None

    # ---- size of the plot

    @property
    def plot_size(self) -> tuple[int, int]:
        """(columns, rows) of cells the plot has at the widget's size."""
        size = self.content_region.size
        return max(size.width - AXIS_W, 1), max(size.height - 1, 1)

    def on_resize(self, _event: events.Resize) -> None:
        """Tell the pane (it reads the chart for the new size) and draw what there is."""
        self.post_message(self.Resized(*self.plot_size))
        self._build()

    # ---- data in

    def show(self, grid: Grid | None, message: str = "") -> None:
        """Draw `grid` (None: `message` instead); the cursor stays on the plot."""
        old, self.grid = self.grid, grid
        self.message = message
        if grid is not None and grid.columns and grid.rows:
            resized = old is None or (old.columns, old.rows, old.mode) != (
                grid.columns,
                grid.rows,
                grid.mode,
            )
            if resized and self.selection is None:  # a new layout: start where the traces are
                self.cursor = self._busiest(grid)
        self._build()

    def clear_selection(self) -> None:
        """Nothing selected."""
        self.selection = None
        self.anchor = None
        self._build()

    @staticmethod
    def _busiest(grid: Grid) -> Cell:
        """The newest column's fullest cell: where a user starts looking."""
        for c in range(grid.columns - 1, -1, -1):
            best = max(range(grid.rows), key=lambda r: grid.counts[r][c])
            if grid.counts[best][c]:
                return (c, best)
        return (grid.columns - 1, 0)

    # ---- keys and mouse

    def action_move(self, dx: int, dy: int, extend: bool = False) -> None:
        """Move the cursor a cell; with `extend`, grow the selection from where it started."""
        grid = self.grid
        if grid is None or not grid.columns:
            return
        if extend and self.anchor is None:
            self.anchor = self.cursor
        elif not extend:
            self.anchor = None
        c, r = self.cursor
        self.cursor = (max(0, min(c + dx, grid.columns - 1)), max(0, min(r + dy, grid.rows - 1)))
        self._build()

    def action_apply(self) -> None:
        """Enter: list the traces of the selection being drawn (or of the cursor cell)."""
        self._select(self.anchor if self.anchor is not None else self.cursor, self.cursor)

    def action_clear(self) -> None:
        """Escape: drop the selection; with none, back to the trace list."""
        if self.selection is None and self.anchor is None:
            self.call_later(self.app.run_action, "screen.back_to_list")
            return
        self.clear_selection()
        self.post_message(self.Cleared())

    def action_toggle_mode(self) -> None:
        """`v`: scatter plot or heatmap."""
        self.post_message(self.ModeWanted())

    def _select(self, first: Cell, last: Cell) -> None:
        grid = self.grid
        if grid is None or not grid.columns:
            return
        self.selection = (first, last)
        self.anchor = None
        self.cursor = last
        self._build()
        (c0, r0), (c1, r1) = first, last
        traces, failed = grid.count_in(c0, c1, r0, r1)
        self.post_message(self.Selected(grid.region(c0, c1, r0, r1), traces, failed))

    def cell_at(self, x: int, y: int) -> Cell | None:
        """The plot cell at content offset (x, y), None off the plot."""
        grid = self.grid
        if grid is None or not grid.columns:
            return None
        c, line = x - AXIS_W, y
        if not (0 <= c < grid.columns and 0 <= line < grid.rows):
            return None
        return (c, grid.rows - 1 - line)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        """A press on a cell starts a selection (a drag grows it)."""
        offset = event.get_content_offset(self)
        cell = None if offset is None else self.cell_at(offset.x, offset.y)
        if cell is None:
            return
        focus_now(self)
        self._drag = cell
        self.anchor = cell
        self.cursor = cell
        self.capture_mouse()
        self._build()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Dragging: the selection follows the pointer."""
        if self._drag is None:
            return
        offset = event.get_content_offset(self)
        cell = None if offset is None else self.cell_at(offset.x, offset.y)
        if cell is not None and cell != self.cursor:
            self.cursor = cell
            self._build()

    def on_mouse_up(self, _event: events.MouseUp) -> None:
        """Released: the cells from the press to here are selected."""
        if self._drag is None:
            return
        start, self._drag = self._drag, None
        self.release_mouse()
        self._select(start, self.cursor)

    # ---- drawing

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component, partial=True)

    def _in(self, c: int, r: int, corners: tuple[Cell, Cell] | None) -> bool:
        if corners is None:
            return False
        (c0, r0), (c1, r1) = corners
        return min(c0, c1) <= c <= max(c0, c1) and min(r0, r1) <= r <= max(r0, r1)

    def _build(self) -> None:
        """Every line of the chart, made once per change (render_line only looks them up)."""
        width, height = self.content_region.size
        grid = self.grid
        base = self.rich_style
        axis = self._style("latency-chart--axis")
        if grid is None or not grid.columns or not grid.rows:
            blank = Strip.blank(width, base)
            text = Strip([Segment(fit("  " + self.message, width), axis)]).apply_style(base)
            self._lines = [text if y == height // 2 else blank for y in range(height)]
            self.refresh()
            return
        ok, bad = self._style("latency-chart--ok"), self._style("latency-chart--error")
        selected, cursor = (
            self._style("latency-chart--selected"),
            self._style("latency-chart--cursor"),
        )
        drawing = (self.anchor, self.cursor) if self.anchor is not None else None
        show_cursor = self.has_focus
        labels = self._duration_labels(grid)
        peak = math.log1p(grid.max_count) or 1.0
        lines: list[Strip] = []
        for line in range(min(grid.rows, max(height - 1, 0))):
            r = grid.rows - 1 - line
            segments = [Segment(fit(labels.get(line, ""), AXIS_W - 1, align="right") + "┤", axis)]
            counts, errors = grid.counts[r], grid.errors[r]
            for c in range(grid.columns):
                count = counts[c]
                if grid.dots is not None and grid.error_dots is not None:
                    bits = grid.dots[r][c]
                    glyph = braille(bits)
                    style = bad if grid.error_dots[r][c] else ok
                elif count:
                    shade = SHADES[
                        min(len(SHADES) - 1, int(math.log1p(count) / peak * len(SHADES)))
                    ]
                    glyph = shade
                    style = self._blend(ok, bad, errors[c] / count)
                else:
                    glyph, style = " ", ok
                if show_cursor and (c, r) == self.cursor:
                    style = style + cursor
                elif self._in(c, r, drawing) or self._in(c, r, self.selection):
                    style = style + selected
                segments.append(Segment(glyph, style))
            lines.append(Strip(segments).adjust_cell_length(width).apply_style(base))
        lines.append(self._time_axis(grid, width).apply_style(base))
        while len(lines) < height:
            lines.append(Strip.blank(width, base))
        self._lines = lines
        self.refresh()

    @staticmethod
    def _blend(ok: Style, bad: Style, share: float) -> Style:
        """A heatmap cell's colour: the error colour by the share of failed traces in it."""
        if share <= 0 or ok.color is None or bad.color is None:
            return ok
        a, b = ok.color.get_truecolor(), bad.color.get_truecolor()
        mix = min(1.0, 0.35 + share * 0.65)  # one failure among many still shows
        rgb = tuple(round(x + (y - x) * mix) for x, y in zip(a, b, strict=True))
        return Style(color=Color.from_rgb(*rgb))

    @staticmethod
    def _duration_labels(grid: Grid) -> dict[int, str]:
        """Axis labels by screen line: the top edge, the bottom edge, and one between."""
        rows = grid.rows
        edges = grid.duration_edges
        out = {0: fmt.duration(edges[-1]), rows - 1: fmt.duration(edges[0])}
        if rows >= 5:
            mid = rows // 2
            out[mid] = fmt.duration(edges[rows - mid])
        return out

    def _time_axis(self, grid: Grid, width: int) -> Strip:
        """The start-time axis: the window's first and last time, and its middle."""
        axis = self._style("latency-chart--axis")
        t = grid.time_edges
        span = t[-1] - t[0]
        first, last = _time_label(t[0], span), _time_label(t[-1], span)
        middle = _time_label(t[len(t) // 2], span)
        cells = [" "] * grid.columns
        for at, text in (
            (0, first),
            (grid.columns // 2 - len(middle) // 2, middle),
            (grid.columns - len(last), last),
        ):
            if 0 <= at and at + len(text) <= grid.columns:
                cells[at : at + len(text)] = list(text)
        scale = "log" if grid.log_scale else "lin"
        return Strip(
            [
                Segment(fit(scale, AXIS_W - 1, align="right") + "└", axis),
                Segment("".join(cells), axis),
            ]
        ).adjust_cell_length(width)

    def on_focus(self) -> None:
        """The cursor shows while the chart has focus."""
        self._build()

    def on_blur(self) -> None:
        """…and hides when it loses it."""
        self._build()

    def render_line(self, y: int) -> Strip:
        """Line `y`, made by `_build`."""
        if 0 <= y < len(self._lines):
            return self._lines[y]
        return Strip.blank(self.content_region.width, self.rich_style)
