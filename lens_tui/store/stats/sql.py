"""Route statistics from SQL: exact nearest-rank percentiles by window functions, and the
bucketed counts that seed the live aggregator.

Every function takes a `TraceReader` and runs inside one short read transaction of it
(`TraceReader.read`), so it is blocking: call it from a worker thread. `where` is a trace
filter (`filters.TraceWhere`: a `TraceFilter` or a compiled trace query), ANDed with the
window; `now_ms` is its clock (how long a running trace has run so far).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from peewee import SQL, Case, Cast, Node, Select, fn

from lens_tui.schema import Trace
from lens_tui.store.decode import as_opt_text, as_text
from lens_tui.store.filters import TraceWhere, error_condition
from lens_tui.store.layout import Layout
from lens_tui.store.reader import TraceReader
from lens_tui.store.records import TraceSummary
from lens_tui.store.stats.groups import (
    PERCENTILES,
    GroupBy,
    RouteKey,
    RouteStats,
    route_stats_row,
)
from lens_tui.store.stats.sketch import LOG_GAMMA, ZERO_BELOW_MS, ZERO_BUCKET, nearest_rank

_MAX_FINITE = sys.float_info.max
_GROUP_COLUMNS: dict[str, str] = {"service": "s", "name": "n", "service,name": "s, n"}
SEED_TRACKED_LIMIT = 100_000
"""Most trace rows a seed reads one by one (running, or changed within the settle time):
what the aggregator can take updates of without counting them twice."""


def _column(layout: Layout, name: str) -> Node:
    field = Trace._meta.columns[name]
    return field if layout.has("traces", name) else SQL("NULL")


def finite_duration() -> Node:
    """The trace's duration, NULL while it runs: also for an infinite or non-numeric cell,
    which the reader shows as running too."""
    return Case(None, [(Trace.duration_ms.between(-_MAX_FINITE, _MAX_FINITE), Trace.duration_ms)])


def window_conditions(since_ms: float | None, until_ms: float | None) -> list[Node]:
    """`since <= started_at < until` (either side open when None)."""
    conditions: list[Node] = []
    if since_ms is not None:
        conditions.append(Trace.started_at >= float(since_ms))
    if until_ms is not None:
        conditions.append(Trace.started_at < float(until_ms))
    return conditions


def base_select(layout: Layout, conditions: Sequence[Node], *extra: Node) -> Select:
    """One row per trace: s (service), n (root name, '' when missing), st (start), d (finite
    duration or NULL), e (failed), then `extra`. Text comes as BLOBs, decoded by the caller:
    one cell of invalid UTF-8 must not fail the whole query."""
    query = Trace.select(
        Cast(_column(layout, "service"), "BLOB").alias("s"),
        Cast(fn.coalesce(Trace.root_span_name, ""), "BLOB").alias("n"),
        fn.coalesce(Trace.started_at, 0).alias("st"),
        finite_duration().alias("d"),
        error_condition(layout).alias("e"),
        *extra,
    )
    return query.where(*conditions) if conditions else query


def _key(by: GroupBy, row: Sequence[Any]) -> RouteKey:
    """The RouteKey of a result row that starts with the group columns of `by`."""
    if by == "service":
        return RouteKey(by, as_opt_text(row[0]), None)
    if by == "name":
        return RouteKey(by, None, as_text(row[0]))
    return RouteKey(by, as_opt_text(row[0]), as_text(row[1]))


def filter_conditions(
    layout: Layout,
    since_ms: float | None,
    until_ms: float | None,
    where: TraceWhere | None,
    now_ms: float | None,
) -> list[Node]:
    """The window's conditions and the filter's."""
    conditions = window_conditions(since_ms, until_ms)
    if where is not None:
        conditions.extend(where.sql_where(layout, now_ms))
    return conditions


def route_stats(
    reader: TraceReader,
    *,
    since_ms: float | None,
    until_ms: float,
    by: GroupBy = "service,name",
    where: TraceWhere | None = None,
    now_ms: float | None = None,
) -> list[RouteStats]:
    """Per-group statistics of the traces that started in `[since_ms, until_ms)`, most traces
    first. Percentiles are exact nearest rank over the finished traces: the value at rank
    ceil(p/100 * n) of the n durations in ascending order. The rate is count over the window;
    with `since_ms=None` (all) the window opens at the earliest matching start.

    Two statements in one read transaction: the counts per group, then one ordered pass
    (row_number over each group's durations) that keeps the rows at the groups' ranks, joined
    to a VALUES list of them; that is about twice as fast as one statement that also counts
    each partition in a window (docs/stats.md). Past RANKS_JOIN_MAX_GROUPS groups, that one
    statement."""
    columns = _GROUP_COLUMNS[by]
    width = 2 if by == "service,name" else 1
    with reader.read() as read:
        if read is None:
            return []
        conn, layout = read.conn, read.layout
        conditions = filter_conditions(
            layout, since_ms, until_ms, where, until_ms if now_ms is None else now_ms
        )
        base_sql, params = base_select(layout, conditions).sql()
        groups = conn.execute(
            f"SELECT {columns}, count(*), count(*) - count(d), coalesce(sum(e), 0), max(d),"
            f" min(st), count(d) FROM ({base_sql}) GROUP BY {columns}",
            params,
        ).fetchall()
        if len(groups) <= RANKS_JOIN_MAX_GROUPS:
            ranked = _ranks_joined(conn, columns, width, base_sql, params, groups)
        else:
            ranked = _ranks_windowed(conn, columns, width, base_sql, params)
    first = min((float(g[width + 4]) for g in groups if g[width + 4] is not None), default=None)
    opened = since_ms if since_ms is not None else first
    window_s = 0.0 if opened is None else max(float(until_ms) - float(opened), 0.0) / 1000.0
    out = [
        route_stats_row(
            _key(by, row),
            count=int(row[width]),
            running=int(row[width + 1]),
            errors=int(row[width + 2]),
            window_s=window_s,
            percentiles=ranked.get(tuple(row[:width]), [None] * len(PERCENTILES)),
            max_ms=_float(row[width + 3]),
        )
        for row in groups
    ]
    out.sort(key=lambda r: (-r.count, r.key.sort_key()))
    return out


RANKS_JOIN_MAX_GROUPS = 1_000
"""Most groups whose ranks travel as bound parameters (six a group, well under SQLite's limit)."""


def _ranks_joined(
    conn: Any,
    columns: str,
    width: int,
    base_sql: str,
    params: list[Any],
    groups: list[tuple[Any, ...]],
) -> dict[tuple[Any, ...], list[float | None]]:
    """Group key -> the durations at its ranks, by one ordered pass joined to the ranks."""
    wanted = [
        (*g[:width], *(nearest_rank(q, int(g[-1])) for q in PERCENTILES)) for g in groups if g[-1]
    ]
    if not wanted:
        return {}
    names = columns.split(", ")
    row_marks = "(" + ", ".join("?" * (width + len(PERCENTILES))) + ")"
    ranks = [f"r{i}" for i in range(len(PERCENTILES))]
    on = " AND ".join(f"r.{c} IS g.{c}" for c in names)
    picks = ", ".join(f"max(CASE WHEN rn = {r} THEN d END)" for r in ranks)
    sql = (
        f"WITH g({columns}, {', '.join(ranks)}) AS (VALUES {', '.join([row_marks] * len(wanted))})"
        f" SELECT {', '.join('r.' + c for c in names)}, {picks} FROM (SELECT {columns}, d,"
        f" row_number() OVER (PARTITION BY {columns} ORDER BY d) AS rn FROM ({base_sql})"
        f" WHERE d IS NOT NULL) r JOIN g ON {on} WHERE rn IN ({', '.join(ranks)})"
        f" GROUP BY {', '.join('r.' + c for c in names)}"
    )
    flat = [value for row in wanted for value in row]
    return {
        tuple(row[:width]): [_float(v) for v in row[width:]]
        for row in conn.execute(sql, [*flat, *params]).fetchall()
    }


def _ranks_windowed(
    conn: Any, columns: str, width: int, base_sql: str, params: list[Any]
) -> dict[tuple[Any, ...], list[float | None]]:
    """Group key -> the durations at its ranks, by one statement that also counts each
    partition (one shared window, so SQLite sorts once)."""
    picks = ", ".join(
        f"max(CASE WHEN rn = ({round(q * 100)} * m + 99) / 100 THEN d END)" for q in PERCENTILES
    )
    sql = (
        f"SELECT {columns}, {picks} FROM (SELECT {columns}, d, row_number() OVER w AS rn,"
        f" count(d) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS m"
        f" FROM ({base_sql}) WINDOW w AS (PARTITION BY {columns} ORDER BY d NULLS LAST))"
        f" GROUP BY {columns}"
    )
    return {
        tuple(row[:width]): [_float(v) for v in row[width:]]
        for row in conn.execute(sql, params).fetchall()
    }


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- live seeds


@dataclass(frozen=True, slots=True)
class SeedCell:
    """Traces of one group and time bucket in one latency bucket (`bucket` None: running)."""

    key: tuple[str | None, str | None]
    """(service, name) as `groups.key_function` makes it."""
    time_bucket: int
    bucket: int | None
    count: int
    errors: int


@dataclass(frozen=True, slots=True)
class Seed:
    """What the live aggregator starts from: every trace of the window as bucketed counts, and
    the ones that may still change (running, or changed lately) as rows, read in one snapshot."""

    cells: tuple[SeedCell, ...]
    tracked: tuple[TraceSummary, ...]


def read_seed(
    reader: TraceReader,
    *,
    by: GroupBy,
    bucket_ms: float,
    since_ms: float | None,
    changed_since_ms: float,
    where: TraceWhere | None = None,
    now_ms: float | None = None,
    tracked_limit: int = SEED_TRACKED_LIMIT,
) -> Seed:
    """The aggregator's seed: counts per (group, time bucket, latency bucket) of the traces
    started at or after `since_ms`, computed by SQLite with the sketch's own mapping
    (time bucket = int(start / bucket_ms), latency bucket = ceil(ln(d) / ln(gamma))), and the
    rows of those running or changed at or after `changed_since_ms` (at most `tracked_limit`,
    running ones first)."""
    with reader.read() as read:
        if read is None:
            return Seed((), ())
        conn, layout = read.conn, read.layout
        conditions = filter_conditions(layout, since_ms, None, where, now_ms)
        base_sql, params = base_select(layout, conditions).sql()
        bucket = (
            f"CASE WHEN d IS NULL THEN NULL WHEN d <= {ZERO_BELOW_MS!r} THEN {ZERO_BUCKET}"
            f" ELSE CAST(ceil(ln(d) * {1.0 / LOG_GAMMA!r}) AS INTEGER) END"
        )
        sql = (
            f"SELECT s, n, CAST(st / ? AS INTEGER) AS tb, {bucket} AS h, count(*),"
            f" coalesce(sum(e), 0) FROM ({base_sql}) GROUP BY s, n, tb, h"
        )
        rows = conn.execute(sql, [float(bucket_ms), *params]).fetchall()
        tracked = _tracked_rows(conn, layout, conditions, changed_since_ms, tracked_limit)
    cells = _merge_cells(by, rows)
    return Seed(cells, tracked)


def _merge_cells(by: GroupBy, rows: Iterable[Sequence[Any]]) -> tuple[SeedCell, ...]:
    """Seed rows regrouped by `by` (SQL groups by both keys: one statement for every `by`)."""
    merged: dict[tuple[Any, ...], list[int]] = {}
    for s, n, tb, h, count, errors in rows:
        service = as_opt_text(s) if by != "name" else None
        name = as_text(n) if by != "service" else None
        at = merged.setdefault((service, name, int(tb), None if h is None else int(h)), [0, 0])
        at[0] += int(count)
        at[1] += int(errors)
    return tuple(
        SeedCell((service, name), tb, h, count, errors)
        for (service, name, tb, h), (count, errors) in merged.items()
    )


def _tracked_rows(
    conn: Any,
    layout: Layout,
    conditions: list[Node],
    changed_since_ms: float,
    limit: int,
) -> tuple[TraceSummary, ...]:
    """Running traces, and those changed at or after `changed_since_ms`, as summaries whose
    status says what the SQL counted (error, running or ok)."""
    running = finite_duration().is_null(True)
    changed = running
    if layout.has("traces", "updated_at"):
        changed = running | (Trace.updated_at >= float(changed_since_ms))
    query = (
        base_select(
            layout,
            [*conditions, changed],
            Cast(Trace.trace_id, "BLOB").alias("id"),
            _column(layout, "updated_at").alias("updated_at"),
        )
        .order_by(running.desc(), Trace.started_at.desc())
        .limit(int(limit))
    )
    out: list[TraceSummary] = []
    for s, n, st, d, e, trace_id, updated in conn.execute(*query.sql()):
        out.append(
            TraceSummary(
                trace_id=as_text(trace_id),
                root_span_name=as_text(n),
                source=None,
                service=as_opt_text(s),
                started_at=float(st),
                ended_at=None,
                duration_ms=None if d is None else float(d),
                span_count=None,
                error_count=1 if e else 0,
                status="error" if e else ("running" if d is None else "ok"),
                updated_at=None if updated is None else float(updated),
            )
        )
    return tuple(out)
