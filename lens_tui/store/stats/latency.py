"""Latency chart data of one route: each trace's (start, duration, failed) for a scatter plot,
a heatmap of counts in time x duration buckets, and the filter a selected region or bucket
becomes (`LatencyRegion`: a time range and a duration range the trace list can apply).

The heatmap's buckets and a region's filter are the same comparisons against the same edges
(`edge_i <= value < edge_i+1`, in SQLite and in Python), so the traces a bucket counts are
exactly the traces its filter selects. Blocking functions: call them from a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from peewee import SQL, Node, fn

from lens_tui.query.ast import And, Compare
from lens_tui.query.render import render
from lens_tui.schema import Trace
from lens_tui.store.filters import TraceWhere
from lens_tui.store.layout import Layout
from lens_tui.store.reader import TraceReader
from lens_tui.store.stats.groups import RouteKey, TraceLike
from lens_tui.store.stats.sql import (
    base_select,
    filter_conditions,
    finite_duration,
)

POINTS_LIMIT = 20_000
"""Most points one scatter read returns (the newest ones)."""
LOG_SCALE_RATIO = 100.0
"""Durations spanning at least this factor (two decades) get a logarithmic axis."""
_LOG_FLOOR_MS = 1e-3


def key_condition(key: RouteKey | None, layout: Layout) -> Node | None:
    """SQL condition on `traces` for the traces of a route (None: every trace)."""
    if key is None:
        return None
    conditions: list[Node] = []
    if "service" in key.by:
        if layout.has("traces", "service"):
            conditions.append(
                Trace.service.is_null() if key.service is None else Trace.service == key.service
            )
        elif key.service is not None:
            conditions.append(SQL("0"))
    if key.by != "service":
        conditions.append(fn.coalesce(Trace.root_span_name, "") == (key.name or ""))
    if not conditions:
        return None
    out = conditions[0]
    for condition in conditions[1:]:
        out = out & condition
    return out


def _route_terms(key: RouteKey | None) -> list[Compare]:
    """The route as query terms: `name = …` for its root name, `service = …` for its service."""
    if key is None:
        return []
    terms: list[Compare] = []
    if key.by != "service":
        terms.append(Compare("name", "=", key.name or ""))
    if "service" in key.by and key.service is not None:
        terms.append(Compare("service", "=", key.service))
    return terms


def _query(terms: list[Compare]) -> str:
    return render(And(tuple(terms))) if terms else ""


@dataclass(frozen=True, slots=True)
class RouteWhere:
    """The traces of one route, as a `filters.TraceWhere` (the trace list a row drills into)."""

    key: RouteKey

    def sql_where(self, layout: Layout, now: float | None = None) -> list[Node]:
        """The route's condition on `traces`."""
        condition = key_condition(self.key, layout)
        return [] if condition is None else [condition]

    def matches(self, trace: TraceLike, now: float | None = None) -> bool:
        """Whether a live trace belongs to the route."""
        return self.key.matches(trace)

    def query_text(self) -> str:
        """The route as a trace query for the user to edit (docs/query.md). Its `service = …`
        keeps traces in which some span has the service, where the route means the root's:
        the same traces while a trace stays in one service; a route without a service has no
        service term."""
        return _query(_route_terms(self.key))


@dataclass(frozen=True, slots=True)
class LatencyRegion:
    """A selection on a latency chart: the traces of `key` that started in
    `[since_ms, until_ms)` and took `[min_duration_ms, max_duration_ms)`."""

    key: RouteKey | None
    since_ms: float
    until_ms: float
    min_duration_ms: float
    max_duration_ms: float

    def matches(self, trace: TraceLike, now: float | None = None) -> bool:
        """The region's rule on a live row (what `sql_where` says in SQL)."""
        duration = trace.duration_ms
        return (
            duration is not None
            and self.since_ms <= trace.started_at < self.until_ms
            and self.min_duration_ms <= duration < self.max_duration_ms
            and (self.key is None or self.key.matches(trace))
        )

    def query_text(self) -> str:
        """The region as a trace query (`since`, `until`, two `duration` bounds and the route's
        terms, as `RouteWhere.query_text`): the same traces as `sql_where` for a heatmap's
        region, whose time edges are whole milliseconds."""
        return _query(
            [
                *_route_terms(self.key),
                Compare("start", ">=", self.since_ms),
                Compare("start", "<", self.until_ms),
                Compare("duration", ">=", self.min_duration_ms),
                Compare("duration", "<", self.max_duration_ms),
            ]
        )

    def sql_where(self, layout: Layout, now: float | None = None) -> list[Node]:
        """The region as conditions on `traces` (a `filters.TraceWhere`, with `matches`)."""
        duration = finite_duration()
        out: Node = (
            (Trace.started_at >= self.since_ms)
            & (Trace.started_at < self.until_ms)
            & (duration >= self.min_duration_ms)
            & (duration < self.max_duration_ms)
        )
        route = key_condition(self.key, layout)
        return [out] if route is None else [out, route]


@dataclass(frozen=True, slots=True)
class LatencyPoints:
    """The finished traces of a route in a window, oldest first, for a scatter plot."""

    starts_ms: tuple[float, ...]
    durations_ms: tuple[float, ...]
    errors: tuple[bool, ...]
    running: int
    """Traces of the window still running (not plotted)."""
    truncated: bool
    """More traces matched than the limit: these are the newest."""


def _conditions(
    layout: Layout,
    key: RouteKey | None,
    since_ms: float | None,
    until_ms: float | None,
    where: TraceWhere | None,
    now_ms: float | None,
) -> list[Node]:
    conditions = filter_conditions(layout, since_ms, until_ms, where, now_ms)
    route = key_condition(key, layout)
    if route is not None:
        conditions.append(route)
    return conditions


def latency_points(
    reader: TraceReader,
    key: RouteKey | None,
    *,
    since_ms: float | None,
    until_ms: float | None,
    where: TraceWhere | None = None,
    now_ms: float | None = None,
    limit: int = POINTS_LIMIT,
) -> LatencyPoints:
    """(start, duration, failed) of the route's finished traces in `[since_ms, until_ms)`:
    the newest `limit`, oldest first."""
    limit = max(1, int(limit))
    with reader.read() as read:
        if read is None:
            return LatencyPoints((), (), (), 0, False)
        conn, layout = read.conn, read.layout
        conditions = _conditions(layout, key, since_ms, until_ms, where, now_ms)
        query = base_select(layout, [*conditions, finite_duration().is_null(False)])
        sql, params = query.order_by(Trace.started_at.desc()).limit(limit + 1).sql()
        rows = conn.execute(f"SELECT st, d, e FROM ({sql})", params).fetchall()
        count_sql, count_params = base_select(layout, conditions).sql()
        running = conn.execute(
            f"SELECT count(*) - count(d) FROM ({count_sql})", count_params
        ).fetchall()[0][0]
    truncated = len(rows) > limit
    rows = rows[:limit][::-1]
    return LatencyPoints(
        tuple(float(r[0]) for r in rows),
        tuple(float(r[1]) for r in rows),
        tuple(bool(r[2]) for r in rows),
        int(running or 0),
        truncated,
    )


@dataclass(frozen=True, slots=True)
class Heatmap:
    """Counts of a route's finished traces per (duration bucket, time bucket).

    `counts[row][column]`: row i holds durations in `[duration_edges[i], duration_edges[i+1])`
    (row 0 the fastest), column j starts in `[time_edges[j], time_edges[j+1])`."""

    key: RouteKey | None
    time_edges: tuple[float, ...]
    duration_edges: tuple[float, ...]
    log_scale: bool
    """Duration edges grow geometrically (the durations span two decades or more)."""
    counts: tuple[tuple[int, ...], ...]
    errors: tuple[tuple[int, ...], ...]
    running: int

    def region(
        self, first_column: int, last_column: int, first_row: int, last_row: int
    ) -> LatencyRegion:
        """The filter of the buckets from (first_column, first_row) to (last_column, last_row),
        inclusive, in either order: exactly the traces those buckets count."""
        c0, c1 = sorted((first_column, last_column))
        r0, r1 = sorted((first_row, last_row))
        columns, rows = len(self.time_edges) - 1, len(self.duration_edges) - 1
        if not (0 <= c0 and c1 < columns and 0 <= r0 and r1 < rows):
            raise IndexError(f"no bucket ({c0}..{c1}, {r0}..{r1}) in a {columns}x{rows} heatmap")
        return LatencyRegion(
            self.key,
            self.time_edges[c0],
            self.time_edges[c1 + 1],
            self.duration_edges[r0],
            self.duration_edges[r1 + 1],
        )

    def cell(self, column: int, row: int) -> LatencyRegion:
        """The filter of one bucket."""
        return self.region(column, column, row, row)


def duration_edges(low: float, high: float, rows: int) -> tuple[tuple[float, ...], bool]:
    """`rows + 1` ascending edges whose half-open buckets hold every value in [low, high]:
    geometric when high / low >= LOG_SCALE_RATIO, else linear. Returns (edges, log_scale)."""
    top = math.nextafter(high, math.inf)
    floor = max(low, _LOG_FLOOR_MS)
    log_scale = high / floor >= LOG_SCALE_RATIO if high > 0 else False
    if log_scale:
        ratio = top / floor
        edges = [floor * ratio ** (i / rows) for i in range(rows + 1)]
        edges[0] = min(low, floor)
    else:
        edges = [low + (top - low) * i / rows for i in range(rows + 1)]
        edges[0] = low
    edges[-1] = top
    for i in range(1, len(edges)):  # rounding must never make an edge go backwards
        edges[i] = max(edges[i], math.nextafter(edges[i - 1], math.inf))
    return tuple(edges), log_scale


def _bucket_sql(
    column: str, edges: Sequence[float], low: int, high: int, params: list[float]
) -> str:
    """SQL for the index i in [low, high) with edges[i] <= column < edges[i + 1] (for a value
    known to lie in [edges[low], edges[high])): a balanced CASE, log2(n) comparisons a row."""
    if high - low == 1:
        return str(low)
    mid = (low + high) // 2
    params.append(edges[mid])
    below = _bucket_sql(column, edges, low, mid, params)
    above = _bucket_sql(column, edges, mid, high, params)
    return f"CASE WHEN {column} < ? THEN {below} ELSE {above} END"


def time_edges(opened_ms: float, until_ms: float, columns: int) -> list[float]:
    """`columns + 1` ascending edges on whole milliseconds covering `[opened_ms, until_ms)`
    (widened to at least a millisecond a column): whole milliseconds survive the round trip
    through a query's `since`/`until` text exactly."""
    low = math.floor(opened_ms)
    high = max(math.ceil(until_ms), low + columns)
    step = (high - low) / columns
    return [float(low + math.floor(step * i)) for i in range(columns)] + [float(high)]


def latency_heatmap(
    reader: TraceReader,
    key: RouteKey | None,
    *,
    since_ms: float | None,
    until_ms: float,
    columns: int = 60,
    rows: int = 16,
    where: TraceWhere | None = None,
    now_ms: float | None = None,
) -> Heatmap:
    """The route's heatmap over `[since_ms, until_ms)` (None: from its first trace) in
    `columns` equal time buckets (edges on whole milliseconds: `time_edges`) and `rows`
    duration buckets spanning its durations there."""
    columns, rows = max(1, int(columns)), max(1, int(rows))
    with reader.read() as read:
        if read is None:
            return Heatmap(key, (), (), False, (), (), 0)
        conn, layout = read.conn, read.layout
        opened = since_ms
        if opened is None:
            first_sql, first_params = base_select(
                layout, _conditions(layout, key, None, until_ms, where, now_ms)
            ).sql()
            opened = conn.execute(f"SELECT min(st) FROM ({first_sql})", first_params).fetchall()[0][
                0
            ]
            if opened is None:
                return Heatmap(key, (), (), False, (), (), 0)
        edges = time_edges(float(opened), float(until_ms), columns)
        conditions = _conditions(layout, key, edges[0], edges[-1], where, now_ms)
        base_sql, params = base_select(layout, conditions).sql()
        low, high, running = conn.execute(
            f"SELECT min(d), max(d), count(*) - count(d) FROM ({base_sql})", params
        ).fetchall()[0]
        if low is None:
            return Heatmap(key, tuple(edges), (), False, (), (), int(running or 0))
        d_edges, log_scale = duration_edges(float(low), float(high), rows)
        case_params: list[float] = []
        time_case = _bucket_sql("st", edges, 0, columns, case_params)
        duration_case = _bucket_sql("d", d_edges, 0, rows, case_params)
        sql = (
            f"SELECT {time_case} AS ti, {duration_case} AS di, count(*), coalesce(sum(e), 0)"
            f" FROM ({base_sql}) WHERE d IS NOT NULL GROUP BY ti, di"
        )
        cells = conn.execute(sql, [*case_params, *params]).fetchall()
    counts = [[0] * columns for _ in range(rows)]
    errors = [[0] * columns for _ in range(rows)]
    for ti, di, count, failed in cells:
        counts[int(di)][int(ti)] = int(count)
        errors[int(di)][int(ti)] = int(failed)
    return Heatmap(
        key,
        tuple(edges),
        d_edges,
        log_scale,
        tuple(map(tuple, counts)),
        tuple(map(tuple, errors)),
        int(running or 0),
    )


def region_of_points(
    key: RouteKey | None, since_ms: float, until_ms: float, low_ms: float, high_ms: float
) -> LatencyRegion:
    """The filter of a rectangle drawn on a scatter plot: both ranges half-open, given in
    either order."""
    t0, t1 = sorted((since_ms, until_ms))
    d0, d1 = sorted((low_ms, high_ms))
    return LatencyRegion(key, t0, t1, d0, d1)
