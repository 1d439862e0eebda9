"""A latency chart as a grid of terminal cells: columns over start time, rows over duration
(row 0 the fastest), each cell counting the traces in it, and for a scatter plot which of its
2 x 4 braille dots are lit.

A cell's traces are decided by comparisons against its edges (`edge_i <= value < edge_i+1`,
`bisect`), the same comparisons a `LatencyRegion` makes in SQL and on live rows, so selecting
cells filters the trace list to exactly the traces counted in them. Dots only place a trace
inside its cell: they never move it to another one.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from typing import Literal

from lens_tui.store.stats import (
    Heatmap,
    LatencyPoints,
    LatencyRegion,
    RouteKey,
)
from lens_tui.store.stats.latency import duration_edges, time_edges

Mode = Literal["scatter", "heatmap"]
MODES: tuple[Mode, ...] = ("scatter", "heatmap")

DOT_BITS = ((0x40, 0x04, 0x02, 0x01), (0x80, 0x20, 0x10, 0x08))
"""Unicode braille dot bits by (dot column, dot row from the bottom)."""
BRAILLE_BASE = 0x2800


@dataclass(frozen=True, slots=True)
class Grid:
    """The cells of a latency chart; `counts[row][column]`, row 0 the fastest."""

    key: RouteKey | None
    mode: Mode
    time_edges: tuple[float, ...]
    """`columns + 1` ascending start-time edges (epoch ms, whole milliseconds)."""
    duration_edges: tuple[float, ...]
    """`rows + 1` ascending duration edges (ms); geometric when `log_scale`."""
    log_scale: bool
    counts: tuple[tuple[int, ...], ...]
    errors: tuple[tuple[int, ...], ...]
    dots: tuple[tuple[int, ...], ...] | None
    """Braille dot bits per cell (scatter), None for a heatmap."""
    error_dots: tuple[tuple[int, ...], ...] | None
    """The dots of failed traces (drawn in the error colour)."""
    running: int
    """Traces of the window still running (not plotted)."""
    truncated: bool
    """A scatter plot of the newest traces only (more matched than one read returns)."""

    @property
    def columns(self) -> int:
        """Cells across."""
        return max(len(self.time_edges) - 1, 0)

    @property
    def rows(self) -> int:
        """Cells down."""
        return max(len(self.duration_edges) - 1, 0)

    @property
    def total(self) -> int:
        """Traces plotted."""
        return sum(map(sum, self.counts))

    @property
    def max_count(self) -> int:
        """The fullest cell's count."""
        return max((max(row) for row in self.counts if row), default=0)

    def region(
        self, first_column: int, last_column: int, first_row: int, last_row: int
    ) -> LatencyRegion:
        """The filter of the cells from (first_column, first_row) to (last_column, last_row),
        inclusive, in either order: exactly the traces they count."""
        c0, c1 = sorted((first_column, last_column))
        r0, r1 = sorted((first_row, last_row))
        if not (0 <= c0 and c1 < self.columns and 0 <= r0 and r1 < self.rows):
            raise IndexError(
                f"no cell ({c0}..{c1}, {r0}..{r1}) in a {self.columns}x{self.rows} grid"
            )
        return LatencyRegion(
            self.key,
            self.time_edges[c0],
            self.time_edges[c1 + 1],
            self.duration_edges[r0],
            self.duration_edges[r1 + 1],
        )

    def count_in(
        self, first_column: int, last_column: int, first_row: int, last_row: int
    ) -> tuple[int, int]:
        """(traces, failed ones) in the cells of a selection."""
        c0, c1 = sorted((first_column, last_column))
        r0, r1 = sorted((first_row, last_row))
        traces = sum(sum(self.counts[r][c0 : c1 + 1]) for r in range(r0, r1 + 1))
        failed = sum(sum(self.errors[r][c0 : c1 + 1]) for r in range(r0, r1 + 1))
        return traces, failed


def empty_grid(key: RouteKey | None, mode: Mode, running: int = 0) -> Grid:
    """A chart with nothing to plot."""
    return Grid(key, mode, (), (), False, (), (), None, None, running, False)


def scatter_grid(
    points: LatencyPoints,
    key: RouteKey | None,
    *,
    since_ms: float | None,
    until_ms: float,
    columns: int,
    rows: int,
) -> Grid:
    """Each trace's duration against its start time in `columns` x `rows` cells of 2 x 4
    braille dots; time from the first point at or after `since_ms` to `until_ms`, duration over
    the points' range (a log axis when it spans two decades or more)."""
    columns, rows = max(1, columns), max(1, rows)
    starts, durations, failed = points.starts_ms, points.durations_ms, points.errors
    if not starts:
        return empty_grid(key, "scatter", points.running)
    # The axis starts at the first point (the window's start when none is older): a young
    # file, or the newest points of a truncated read, fill the plot instead of its right edge.
    opened = starts[0] if since_ms is None else max(since_ms, starts[0])
    t_edges = time_edges(min(opened, starts[0]), max(until_ms, starts[-1] + 1.0), columns)
    d_edges, log_scale = duration_edges(min(durations), max(durations), rows)
    counts = [[0] * columns for _ in range(rows)]
    errors = [[0] * columns for _ in range(rows)]
    dots = [[0] * columns for _ in range(rows)]
    error_dots = [[0] * columns for _ in range(rows)]
    # Where each dot sits inside its cell: linear in time, linear or log in duration.
    d_pos = _log_position if log_scale else _linear_position
    left, right = DOT_BITS
    for start, duration, bad in zip(starts, durations, failed, strict=True):
        c = bisect_right(t_edges, start) - 1
        r = bisect_right(d_edges, duration) - 1
        if not (0 <= c < columns and 0 <= r < rows):
            continue  # outside the window asked for (a row stamped ahead of the clock)
        t0, t1 = t_edges[c], t_edges[c + 1]
        dot_column = right if (start - t0) * 2 >= (t1 - t0) else left
        dot_row = min(3, max(0, int(d_pos(duration, d_edges[r], d_edges[r + 1]) * 4)))
        bit = dot_column[dot_row]
        counts[r][c] += 1
        dots[r][c] |= bit
        if bad:
            errors[r][c] += 1
            error_dots[r][c] |= bit
    return Grid(
        key,
        "scatter",
        tuple(t_edges),
        d_edges,
        log_scale,
        _frozen(counts),
        _frozen(errors),
        _frozen(dots),
        _frozen(error_dots),
        points.running,
        points.truncated,
    )


def _linear_position(value: float, low: float, high: float) -> float:
    return (value - low) / (high - low) if high > low else 0.0


def _log_position(value: float, low: float, high: float) -> float:
    if low <= 0 or value <= 0:
        return _linear_position(value, low, high)
    return math.log(value / low) / math.log(high / low) if high > low else 0.0


def _frozen(cells: list[list[int]]) -> tuple[tuple[int, ...], ...]:
    return tuple(map(tuple, cells))


def heatmap_grid(heatmap: Heatmap) -> Grid:
    """A heatmap read by `latency_heatmap` as a grid (its buckets are the cells)."""
    if not heatmap.counts:
        return empty_grid(heatmap.key, "heatmap", heatmap.running)
    return Grid(
        heatmap.key,
        "heatmap",
        heatmap.time_edges,
        heatmap.duration_edges,
        heatmap.log_scale,
        heatmap.counts,
        heatmap.errors,
        None,
        None,
        heatmap.running,
        False,
    )


def braille(bits: int) -> str:
    """The braille character with these dots lit (a blank for none)."""
    return chr(BRAILLE_BASE + bits) if bits else " "
