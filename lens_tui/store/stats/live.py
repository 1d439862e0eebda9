"""Live route statistics: per route and time bucket counts and latency sketches, kept up to date
from the new and changed trace rows a tail delivers, without SQL and without a recount.

A `RouteAggregator` starts from a `Seed` (read by `sql.read_seed` in a worker, in the same
order as the tail: take the tail's mark first, then read the seed) and then takes every batch
of new or changed `TraceSummary` rows with `apply`. Memory is bounded by the window, not by the
traffic: each route holds one `LogHistogram` per time bucket and one for the whole window, and
rows are remembered one by one only while they may still change (running, or changed within
`settle_ms`), so a change replaces what the row counted before instead of counting it twice.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from lens_tui.store.filters import TraceWhere, is_error
from lens_tui.store.records import TraceSummary
from lens_tui.store.stats.groups import (
    PERCENTILES,
    GroupBy,
    RouteKey,
    RouteStats,
    TraceLike,
    key_function,
    route_stats_row,
)
from lens_tui.store.stats.sketch import (
    LOG_GAMMA,
    ZERO_BELOW_MS,
    ZERO_BUCKET,
    LogHistogram,
)
from lens_tui.store.stats.sql import Seed

SETTLE_MS = 60_000.0
"""How long a finished row is remembered after its last change: a change after that (rare:
a span arriving a minute after its trace ended) is counted as a new trace, and `uncertain`
says so."""
MAX_TRACKED = 200_000
"""Most rows remembered at once (about 50 MB); past it the oldest finished ones are forgotten."""

WINDOWS: dict[str, tuple[float, int | None]] = {
    "5m": (5_000.0, 60),
    "15m": (15_000.0, 60),
    "1h": (60_000.0, 60),
    "24h": (1_440_000.0, 60),
    "all": (3_600_000.0, None),
}
"""The overview's windows: name -> (bucket_ms, window_buckets); "all" keeps hourly buckets
from the first trace on."""

_INV_LOG_GAMMA = 1.0 / LOG_GAMMA
_log = math.log
_ceil = math.ceil
_STALE = -1.0


class _Cell:
    """One route's traces of one time bucket."""

    __slots__ = ("hist", "count", "running", "errors", "p95")

    def __init__(self) -> None:
        self.hist = LogHistogram()
        self.count = 0
        self.running = 0
        self.errors = 0
        self.p95: float | None = _STALE


class _Route:
    """One route: its time buckets and their total over the window."""

    __slots__ = ("key", "cells", "total", "count", "running", "errors")

    def __init__(self, key: RouteKey) -> None:
        self.key = key
        self.cells: dict[int, _Cell] = {}
        self.total = LogHistogram()
        self.count = 0
        self.running = 0
        self.errors = 0


_Entry = tuple[_Route, int, int | None, bool, int]
"""What a remembered row counts: (route, time bucket, latency bucket or None while running,
failed, the tick that last changed it)."""


@dataclass(frozen=True, slots=True)
class RouteSeries:
    """One route over the window, oldest time bucket first: what its sparklines draw."""

    starts_ms: tuple[float, ...]
    """Start of each time bucket (epoch ms)."""
    rate_per_s: tuple[float, ...]
    """Traces started per second in each bucket (the newest one over its elapsed part)."""
    p95_ms: tuple[float, ...]
    """Estimated p95 of each bucket's finished traces, 0.0 where none finished."""
    errors: tuple[int, ...]


class RouteAggregator:
    """Per-route counts, errors, running traces and latency sketches over a sliding window of
    trace start times, fed new and changed trace rows (no SQL, no Textual; one thread)."""

    def __init__(
        self,
        *,
        bucket_ms: float,
        window_buckets: int | None = 60,
        by: GroupBy = "service,name",
        where: TraceWhere | None = None,
        settle_ms: float = SETTLE_MS,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        if not bucket_ms > 0:
            raise ValueError("bucket_ms must be above 0")
        self.bucket_ms = float(bucket_ms)
        self.window_buckets = window_buckets
        """How many time buckets the window holds (None: every bucket since the first row)."""
        self.by: GroupBy = by
        self.uncertain = 0
        """Rows counted as new traces although they started more than `settle_ms` ago: a
        change to a forgotten row would look like this. An exact reseed clears it."""
        self._where = where
        self._settle_ms = float(settle_ms)
        self._max_tracked = int(max_tracked)
        self._key = key_function(by)
        self._routes: dict[tuple[str | None, str | None], _Route] = {}
        self._tracked: dict[str, _Entry] = {}
        self._ticks: deque[tuple[float, int, list[str]]] = deque()
        self._running_at: dict[int, set[str]] = {}
        self._tick = 0
        self._first: int | None = None
        self._now_ms = 0.0
        self._earliest: float | None = None

    @classmethod
    def for_window(cls, name: str, **options: object) -> RouteAggregator:
        """An aggregator for one of WINDOWS ("5m", "15m", "1h", "24h", "all")."""
        bucket_ms, buckets = WINDOWS[name]
        return cls(bucket_ms=bucket_ms, window_buckets=buckets, **options)  # type: ignore[arg-type]

    # ---- feeding

    @property
    def window_ms(self) -> float | None:
        """The window's length (None: all)."""
        return None if self.window_buckets is None else self.window_buckets * self.bucket_ms

    def window_start_ms(self, now_ms: float) -> float | None:
        """Where the window opens at `now_ms`: the first time bucket's start (None: all)."""
        if self.window_buckets is None:
            return None
        return (int(now_ms / self.bucket_ms) - self.window_buckets + 1) * self.bucket_ms

    def seed(self, seed: Seed, now_ms: float) -> None:
        """Start from counts read by `sql.read_seed` (with this aggregator's `bucket_ms` and
        `by`, since `window_start_ms(now_ms)`); its tracked rows are remembered, not counted
        again."""
        self.advance(now_ms)
        first = self._first
        for cell in seed.cells:
            if first is not None and cell.time_bucket < first:
                continue
            route = self._route(cell.key)
            self._count(route, cell.time_bucket, cell.bucket, False, cell.count)
            if cell.errors:
                self._count_errors(route, cell.time_bucket, cell.errors)
            self._note_earliest(cell.time_bucket * self.bucket_ms)
        self._tick += 1
        ids: list[str] = []
        for row in seed.tracked:
            route, tb, h, failed = self._contribution(row)
            if first is not None and tb < first:
                continue
            self._remember(row.trace_id, (route, tb, h, failed, self._tick))
            ids.append(row.trace_id)
        self._ticks.append((now_ms, self._tick, ids))

    def apply(self, rows: Iterable[TraceSummary], now_ms: float) -> None:
        """Count new rows, and replace what changed rows counted before; a row the filter no
        longer keeps is taken out."""
        self.advance(now_ms)
        self._tick += 1
        tick = self._tick
        tracked = self._tracked
        where = self._where
        first = self._first
        settled = now_ms - self._settle_ms
        touched: list[str] = []
        for row in rows:
            trace_id = row.trace_id
            old = tracked.get(trace_id)
            if where is not None and not where.matches(row, now_ms):
                if old is not None:
                    self._forget(trace_id, old)
                continue
            route, tb, h, failed = self._contribution(row)
            if first is not None and tb < first:
                if old is not None:
                    self._forget(trace_id, old)
                continue
            if old is not None:
                if old[0] is route and old[1] == tb and old[2] == h and old[3] == failed:
                    tracked[trace_id] = (route, tb, h, failed, tick)
                    touched.append(trace_id)
                    continue
                self._forget(trace_id, old)
            elif row.started_at < settled:
                self.uncertain += 1
            self._count(route, tb, h, failed, 1)
            self._note_earliest(row.started_at)
            self._remember(trace_id, (route, tb, h, failed, tick))
            touched.append(trace_id)
        if touched:
            self._ticks.append((now_ms, tick, touched))

    def advance(self, now_ms: float) -> None:
        """Slide the window to `now_ms`: time buckets that left it are subtracted."""
        self._now_ms = max(self._now_ms, float(now_ms))
        self._settle(self._now_ms)
        if self.window_buckets is None:
            return
        first = int(self._now_ms / self.bucket_ms) - self.window_buckets + 1
        if self._first is not None and first <= self._first:
            return
        self._first = first
        for route in self._routes.values():
            for tb in [tb for tb in route.cells if tb < first]:
                cell = route.cells.pop(tb)
                route.total.merge(cell.hist, -1)
                route.count -= cell.count
                route.running -= cell.running
                route.errors -= cell.errors
        for tb in [tb for tb in self._running_at if tb < first]:
            for trace_id in self._running_at.pop(tb):
                entry = self._tracked.get(trace_id)
                if entry is not None and entry[1] == tb and entry[2] is None:
                    del self._tracked[trace_id]
        self._routes = {k: r for k, r in self._routes.items() if r.count > 0}

    # ---- reading

    def rows(self, now_ms: float | None = None) -> list[RouteStats]:
        """Every route with traces in the window, most traces first; percentiles estimated
        within the sketch's relative error (sketch.RELATIVE_ERROR)."""
        if now_ms is not None:
            self.advance(now_ms)
        window_s = self._window_s()
        out = [
            route_stats_row(
                route.key,
                route.count,
                route.running,
                route.errors,
                window_s,
                route.total.quantiles(PERCENTILES),
                route.total.max_value(),
            )
            for route in self._routes.values()
            if route.count > 0
        ]
        out.sort(key=lambda r: (-r.count, r.key.sort_key()))
        return out

    def series(self, key: RouteKey) -> RouteSeries:
        """The route's rate and p95 per time bucket over the window, oldest first."""
        route = self._routes.get(self._tuple(key))
        now_tb = int(self._now_ms / self.bucket_ms)
        if self._first is not None:
            first = self._first
        elif route is not None and route.cells:
            first = min(route.cells)
        else:
            first = now_tb
        starts, rates, p95s, errors = [], [], [], []
        bucket_s = self.bucket_ms / 1000.0
        for tb in range(first, max(now_tb, first) + 1):
            cell = route.cells.get(tb) if route is not None else None
            start = tb * self.bucket_ms
            span_s = bucket_s if tb < now_tb else max((self._now_ms - start) / 1000.0, 1e-3)
            starts.append(start)
            if cell is None:
                rates.append(0.0)
                p95s.append(0.0)
                errors.append(0)
                continue
            if cell.p95 == _STALE:
                cell.p95 = cell.hist.quantiles((0.95,))[0]
            rates.append(cell.count / span_s)
            p95s.append(cell.p95 or 0.0)
            errors.append(cell.errors)
        return RouteSeries(tuple(starts), tuple(rates), tuple(p95s), tuple(errors))

    def keys(self) -> list[RouteKey]:
        """The routes with traces in the window."""
        return [route.key for route in self._routes.values() if route.count > 0]

    @property
    def tracked(self) -> int:
        """How many rows are remembered one by one now."""
        return len(self._tracked)

    def footprint(self) -> dict[str, int]:
        """What the aggregator holds: routes, time buckets, histogram slots (8 bytes each),
        rows remembered one by one."""
        cells = [cell for route in self._routes.values() for cell in route.cells.values()]
        return {
            "routes": len(self._routes),
            "time_buckets": len(cells),
            "histogram_slots": sum(cell.hist.buckets() for cell in cells)
            + sum(route.total.buckets() for route in self._routes.values()),
            "tracked": len(self._tracked),
        }

    # ---- internals

    def _tuple(self, key: RouteKey) -> tuple[str | None, str | None]:
        return (key.service, key.name)

    def _route(self, key: tuple[str | None, str | None]) -> _Route:
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = _Route(RouteKey(self.by, key[0], key[1]))
        return route

    def _contribution(self, row: TraceLike) -> tuple[_Route, int, int | None, bool]:
        """What `row` counts as: its route, time bucket, latency bucket, failed."""
        duration = row.duration_ms
        if duration is None:
            h = None
        elif duration <= ZERO_BELOW_MS:
            h = ZERO_BUCKET
        else:
            h = _ceil(_log(duration) * _INV_LOG_GAMMA)
        tb = int(row.started_at / self.bucket_ms)
        return self._route(self._key(row)), tb, h, is_error(row)  # type: ignore[arg-type]

    def _count(self, route: _Route, tb: int, h: int | None, failed: bool, n: int) -> None:
        cell = route.cells.get(tb)
        if cell is None:
            cell = route.cells[tb] = _Cell()
        cell.count += n
        route.count += n
        if h is None:
            cell.running += n
            route.running += n
        else:
            cell.hist.add(h, n)
            route.total.add(h, n)
            cell.p95 = _STALE
        if failed:
            cell.errors += n
            route.errors += n

    def _count_errors(self, route: _Route, tb: int, n: int) -> None:
        cell = route.cells[tb]
        cell.errors += n
        route.errors += n

    def _forget(self, trace_id: str, entry: _Entry) -> None:
        """Take back what a remembered row counted (unless its bucket left the window)."""
        del self._tracked[trace_id]
        route, tb, h, failed, _tick = entry
        if h is None:
            self._running_at.get(tb, set()).discard(trace_id)
        if tb in route.cells:
            self._count(route, tb, h, failed, -1)

    def _remember(self, trace_id: str, entry: _Entry) -> None:
        self._tracked[trace_id] = entry
        if entry[2] is None:
            self._running_at.setdefault(entry[1], set()).add(trace_id)

    def _settle(self, now_ms: float) -> None:
        """Forget finished rows unchanged for `settle_ms` (or the oldest, past MAX_TRACKED)."""
        tracked, ticks = self._tracked, self._ticks
        settled = now_ms - self._settle_ms
        while ticks and (ticks[0][0] < settled or len(tracked) > self._max_tracked):
            _at, tick, ids = ticks.popleft()
            for trace_id in ids:
                entry = tracked.get(trace_id)
                if entry is not None and entry[4] == tick and entry[2] is not None:
                    del tracked[trace_id]

    def _note_earliest(self, started_at: float) -> None:
        if self._earliest is None or started_at < self._earliest:
            self._earliest = started_at

    def _window_s(self) -> float:
        opened = self.window_start_ms(self._now_ms)
        if opened is None:
            opened = self._earliest
        if opened is None:
            return 0.0
        return max(self._now_ms - opened, 0.0) / 1000.0
