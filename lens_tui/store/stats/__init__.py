"""Statistics across many traces: per-route rate, errors and latency percentiles over a window
of trace start times, exact from SQL (`route_stats`) or live from a stream of trace rows
(`RouteAggregator`), and the data of one route's latency chart (docs/stats.md)."""

from lens_tui.store.stats.groups import (
    GROUP_BYS,
    PERCENTILES,
    GroupBy,
    RouteKey,
    RouteStats,
    is_running,
)
from lens_tui.store.stats.latency import (
    Heatmap,
    LatencyPoints,
    LatencyRegion,
    RouteWhere,
    latency_heatmap,
    latency_points,
    region_of_points,
)
from lens_tui.store.stats.live import WINDOWS, RouteAggregator, RouteSeries
from lens_tui.store.stats.sketch import RELATIVE_ERROR, LogHistogram
from lens_tui.store.stats.sql import Seed, read_seed, route_stats

__all__ = [
    "GROUP_BYS",
    "PERCENTILES",
    "RELATIVE_ERROR",
    "GroupBy",
    "Heatmap",
    "LatencyPoints",
    "LatencyRegion",
    "LogHistogram",
    "RouteAggregator",
    "RouteKey",
    "RouteSeries",
    "RouteStats",
    "RouteWhere",
    "Seed",
    "WINDOWS",
    "is_running",
    "latency_heatmap",
    "latency_points",
    "read_seed",
    "region_of_points",
    "route_stats",
]
