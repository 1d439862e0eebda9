"""`RouteTable`: the overview's table, one row per route with its counts, percentiles and two
sparklines (traces per second and p95 over the window), drawn with the line API."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import ClassVar

from rich.color import Color
from rich.color_triplet import ColorTriplet
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import BindingType
from textual.message import Message
from textual.renderables.sparkline import Sparkline
from textual.strip import Strip

from lens_tui.live.routes import COLUMNS, Column, SortOrder, sort_rows, step_column
from lens_tui.store.stats import RouteKey, RouteSeries, RouteStats
from lens_tui.text import visible
from lens_tui.ui.cells import Piece, fit, strip
from lens_tui.ui.keys import ROUTE_TABLE_KEYS, bindings
from lens_tui.ui.widgets.line_list import LineList

SPARK_W = 10
"""Cells of each sparkline column."""
NAME_MIN_W = 10
"""The route name's narrowest column; below it the sparklines go first."""
_GAP = 1
_TITLES = {"rate_spark": "traces/s", "p95_spark": "p95"}
BARS = Sparkline.BARS
"""Textual's sparkline glyphs, lowest first."""


def spark_levels(data: Sequence[float], width: int) -> list[int]:
    """Each of `width` cells' bar (an index into BARS) for `data`: the cell's share of the
    data summarised by its largest value, scaled from the data's least to its largest value,
    as Textual's `Sparkline` does."""
    count = len(data)
    if count == 0 or width <= 0:
        return [0] * max(width, 0)
    least, most = min(data), max(data)
    extent = (most - least) or 1.0
    top = len(BARS) - 1
    out = []
    for cell in range(width):
        first = cell * count // width
        last = max((cell + 1) * count // width, first + 1)
        value = max(data[first:last])
        out.append(min(top, int((value - least) / extent * top)))
    return out


def _merged(runs: list[tuple[str, Style | None]]) -> list[Segment]:
    """Segments of the runs, neighbours of one style joined (fewer segments to style)."""
    out: list[Segment] = []
    text, style = runs[0]
    for next_text, next_style in runs[1:]:
        if next_style is style:
            text += next_text
        else:
            out.append(Segment(text, style))
            text, style = next_text, next_style
    out.append(Segment(text, style))
    return out


def blend_colors_rgb(a: ColorTriplet, b: ColorTriplet, ratio: float) -> ColorTriplet:
    """The colour `ratio` of the way from `a` to `b`."""
    return ColorTriplet(*(round(x + (y - x) * ratio) for x, y in zip(a, b, strict=True)))


def layout(width: int) -> tuple[list[tuple[Column, int]], int]:
    """The columns and their widths at `width` cells, and the width of each sparkline column
    (0: none shown)."""
    fixed = sum(c.width + _GAP for c in COLUMNS if c.width)
    spark = SPARK_W
    name_w = width - fixed - 2 * (spark + _GAP) - _GAP
    if name_w < NAME_MIN_W:
        spark = 0
        name_w = width - fixed - _GAP
    cols = [(c, c.width or max(name_w, 4)) for c in COLUMNS]
    return cols, spark


class RouteTable(LineList):
    """Routes in the chosen order; the cursor stays on its route as rows move and update."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*ROUTE_TABLE_KEYS)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "route-table--error",
        "route-table--muted",
        "route-table--sorted",
        "route-table--spark-low",
        "route-table--spark-high",
        "route-table--spark-error",
    }

    DEFAULT_CSS = """
    RouteTable {
        & > .route-table--error { color: $error; }
        & > .route-table--muted { color: $text-muted; }
        & > .route-table--sorted { color: $accent; text-style: bold; }
        & > .route-table--spark-low { color: $primary 40%; }
        & > .route-table--spark-high { color: $primary; }
        & > .route-table--spark-error { color: $error; }
    }
    """

    header_lines: ClassVar[int] = 1

    class Drilled(Message):
        """Enter (or a double click) on a route: show its traces and latency chart."""

        def __init__(self, key: RouteKey) -> None:
            super().__init__()
            self.key = key

    class SortChanged(Message):
        """The user chose another order (a key or a click on a column's title)."""

        def __init__(self, order: SortOrder) -> None:
            super().__init__()
            self.order = order

    class Highlighted(Message):
        """The cursor moved to another route (None: the table is empty)."""

        def __init__(self, key: RouteKey | None) -> None:
            super().__init__()
            self.key = key

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.order = SortOrder()
        """The rows' order."""
        self.rows: list[RouteStats] = []
        """The routes shown, in `order`."""
        self._series_of: Callable[[RouteKey], RouteSeries] | None = None
        self._series: dict[RouteKey, RouteSeries] = {}
        self._unsorted: Sequence[RouteStats] = ()
        self._bar_style_cache: dict[object, list[Style]] = {}
        self._component_cache: dict[str, Style] = {}

    # ---- data in

    @property
    def row_count(self) -> int:
        """How many routes are shown."""
        return len(self.rows)

    @property
    def highlighted(self) -> RouteStats | None:
        """The route under the cursor."""
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def show(
        self,
        rows: Sequence[RouteStats],
        series_of: Callable[[RouteKey], RouteSeries] | None = None,
    ) -> None:
        """Show these routes (in the table's order); the cursor stays on its route.
        `series_of` gives a route's sparkline data, asked only for the rows drawn."""
        self._unsorted = rows
        self._series_of = series_of
        self._series = {}
        self._arrange()

    def series_for(self, key: RouteKey) -> RouteSeries | None:
        """A route's sparkline data as of the last `show` (None without any)."""
        series = self._series.get(key)
        if series is None and self._series_of is not None:
            series = self._series[key] = self._series_of(key)
        return series

    def sort(self, order: SortOrder) -> None:
        """Show the rows in another order."""
        self.order = order
        self._arrange()
        self.post_message(self.SortChanged(order))

    def _arrange(self) -> None:
        current = self.highlighted
        self.rows = sort_rows(self._unsorted, self.order)
        index = 0 if self.rows else -1
        if current is not None:
            index = next((i for i, r in enumerate(self.rows) if r.key == current.key), index)
        self.rows_changed()
        if index != self.cursor or current is None:
            self.move_cursor(index)
        else:
            self.refresh()

    def cursor_moved(self, user: bool) -> None:
        """Tell the pane which route is highlighted (its sparklines show below)."""
        row = self.highlighted
        self.post_message(self.Highlighted(row.key if row is not None else None))

    # ---- drawing

    def row_key(self, index: int) -> Hashable:
        """A row looks different when its numbers, its sparklines or the order change."""
        row = self.rows[index]
        return (row, self.series_for(row.key), self.order)

    def render_header(self, line: int, width: int) -> Strip:
        """Column titles; the sorted one marked with its direction."""
        muted = self.style_of("line-list--header")
        sorted_style = self.style_of("route-table--sorted")
        cols, spark = layout(width)
        pieces: list[Piece] = [(" ", None)]
        for col, w in cols:
            title = col.title
            style = muted
            if col.name == self.order.column:
                title = ("▼" if self.order.descending else "▲") + title
                style = sorted_style
            pieces += [(fit(title, w, align="right" if col.numeric else "left"), style)]
            pieces += [(" " * _GAP, None)]
        if spark:
            for name in ("rate_spark", "p95_spark"):
                pieces += [(fit(_TITLES[name], spark), muted), (" " * _GAP, None)]
        return strip(pieces, width)

    def render_row(self, index: int, width: int) -> Strip:
        """One route: its cells, then its two sparklines (runs of one style, one segment)."""
        row = self.rows[index]
        cols, spark = layout(width)
        muted = self._component("route-table--muted")
        error = self._component("route-table--error")
        runs: list[tuple[str, Style | None]] = [(" ", None)]
        for col, w in cols:
            text = col.text(row)
            if not col.numeric:  # names come from the database; numbers are ours
                text = visible(text, 200)
            style: Style | None = None
            if col.name in ("errors", "error_rate") and row.errors:
                style = error
            elif col.name == "service" or (col.name == "running" and not row.running):
                style = muted
            runs.append((fit(text, w, align="right" if col.numeric else "left"), style))
            runs.append((" " * _GAP, None))
        series = self.series_for(row.key) if spark else None
        if series is not None:
            runs += self._spark(series.rate_per_s, spark, "route-table--spark-high")
            runs.append((" " * _GAP, None))
            high = "route-table--spark-error" if row.errors else "route-table--spark-high"
            runs += self._spark(series.p95_ms, spark, high)
        return Strip(_merged(runs)).adjust_cell_length(width)

    def _component(self, name: str) -> Style:
        """A component style, looked up once per theme or focus change (a row asks six)."""
        style = self._component_cache.get(name)
        if style is None:
            style = self._component_cache[name] = self.style_of(name)
        return style

    def notify_style_update(self) -> None:
        """Theme or focus changed: the styles looked up are stale."""
        super().notify_style_update()
        self._component_cache = {}
        self._bar_style_cache = {}

    def _spark(self, data: Sequence[float], width: int, high: str) -> list[tuple[str, Style]]:
        """The series as Textual's sparkline bars (`Sparkline.BARS`, coloured from the low to
        the high colour by height), one line of `width` cells. Drawn here from styles made
        once per colour pair: Textual's renderable takes 0.28 ms a line (fractions and a
        colour blend per bar), forty lines a refresh (bench/bench_overview.py part b)."""
        styles = self._bar_styles(self._component("route-table--spark-low"), self._component(high))
        return [(BARS[level], styles[level]) for level in spark_levels(data, width)]

    def _bar_styles(self, low: Style, high: Style) -> list[Style]:
        key = (low.color, high.color)
        styles = self._bar_style_cache.get(key)
        if styles is None:
            a = (low.color or Color.default()).get_truecolor()
            b = (high.color or Color.default()).get_truecolor()
            styles = [
                Style(color=Color.from_triplet(blend_colors_rgb(a, b, level / (len(BARS) - 1))))
                for level in range(len(BARS))
            ]
            self._bar_style_cache[key] = styles
        return styles

    # ---- keys and mouse

    def action_select(self) -> None:
        """Enter: drill into the highlighted route."""
        row = self.highlighted
        if row is not None:
            self.post_message(self.Drilled(row.key))

    def action_sort_next(self) -> None:
        """Sort by the next column to the right."""
        self.sort(SortOrder.by(step_column(self.order.column, 1)))

    def action_sort_previous(self) -> None:
        """Sort by the next column to the left."""
        self.sort(SortOrder.by(step_column(self.order.column, -1)))

    def action_sort_reverse(self) -> None:
        """The same column, the other way."""
        self.sort(self.order.reversed())

    def column_at(self, x: int) -> str | None:
        """The column whose title is at cell `x` of the header."""
        cols, _spark = layout(self.content_width)
        at = 1
        for col, w in cols:
            if at <= x < at + w + _GAP:
                return col.name
            at += w + _GAP
        return None

    def on_click(self, event: events.Click) -> None:
        """A click on a column's title sorts by it (again: the other way); on a row, as any
        list."""
        offset = event.get_content_offset(self)
        if offset is not None and offset.y < self.header_lines:
            name = self.column_at(offset.x)
            if name is not None:
                event.stop()
                self.sort(self.order.clicked(name))
            return
        super().on_click(event)
