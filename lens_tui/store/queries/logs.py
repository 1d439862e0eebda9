"""Log queries: the pages a `LogWhere` keeps (all logs, a trace's, a span subtree's), the
newest id, and per-level counts (all logs incrementally, a trace's, up to an id)."""

from __future__ import annotations

import time
from typing import Any

from peewee import SQL, Node

from lens_tui.levels import LEVELS, normalise_level
from lens_tui.schema import Log, Span
from lens_tui.store.connection import Database, Read
from lens_tui.store.decode import LOG_COLUMNS, as_text, log_row
from lens_tui.store.filters import LogWhere
from lens_tui.store.queries import bounded
from lens_tui.store.records import LogRow

LEVEL_RECOUNT_S = 60.0
"""How long incremental level counts are trusted before a full recount (rows deleted in the
middle, e.g. a prune by time of rows with skewed clocks, would otherwise stay counted)."""


def _page(
    tx: Read,
    scope: LogWhere,
    *,
    after_id: int,
    before_id: int | None,
    newest: bool,
    limit: int,
) -> list[tuple[Any, ...]]:
    """Raw log rows `scope` keeps (but for its span subtree): the first or newest `limit` in
    (after, before)."""
    bounds: list[Node] = []
    if after_id:
        bounds.append(Log.id > int(after_id))
    if before_id is not None:
        bounds.append(Log.id < int(before_id))
    order = Log.id.desc() if newest else Log.id.asc()
    shown = scope.level_spellings()
    if shown is None or scope.trace_id is not None or tx.layout.record_store:
        # By trace, the (trace_id, id) index bounds the scan; filter levels on the way. A
        # record store has no level index: one scan back from the newest, not one per spelling.
        where = [*scope.sql_where(tx.layout), *bounds]
        query = tx.select(Log, LOG_COLUMNS)
        if where:
            query = query.where(*where)
        return tx.fetch(query.order_by(order).limit(limit))
    # Across all logs, one (level, id) index range per stored spelling, merged here: an IN
    # list would make SQLite either sort every match or scan the table for rare levels.
    rows: list[tuple[Any, ...]] = []
    base = [*scope.sql_where(tx.layout, levels=False), *bounds]
    for spelling in shown:
        query = tx.select(Log, LOG_COLUMNS).where(Log.level == spelling, *base)
        rows.extend(tx.fetch(query.order_by(order).limit(limit)))
    rows.sort(key=lambda r: r[0], reverse=newest)
    return rows[:limit]


def _traces_of(tx: Read, trace_id: str | None, span_ids: frozenset[str]) -> list[str]:
    """The traces to read for logs of `span_ids`: `trace_id`, or those the spans belong to."""
    if trace_id is not None:
        return [trace_id]
    trace_ids: list[str] = []
    ids = sorted(span_ids)
    for start in range(0, len(ids), 500):
        query = Span.select(Span.trace).where(Span.span_id.in_(ids[start : start + 500]))
        trace_ids.extend(as_text(r[0]) for r in tx.fetch(query.distinct()))
    return list(dict.fromkeys(trace_ids))


def _of_spans(
    tx: Read,
    scope: LogWhere,
    span_ids: frozenset[str],
    after_id: int,
    before_id: int | None,
    newest: bool,
    limit: int,
) -> list[tuple[Any, ...]]:
    """Logs of some spans: the trace's logs (by index) paged and filtered here."""
    if not span_ids:
        return []
    page_size = max(limit, 1000)
    found: list[tuple[Any, ...]] = []
    for one_trace in _traces_of(tx, scope.trace_id, span_ids):
        # Each trace contributes at most `limit` rows: the overall first/newest `limit`
        # rows are among those.
        in_trace = scope.for_trace(one_trace)
        matched = 0
        low, high = after_id, before_id
        while matched < limit:
            page = _page(tx, in_trace, after_id=low, before_id=high, newest=newest, limit=page_size)
            hits = [r for r in page if as_text(r[2]) in span_ids]  # bytes: see Read.fetch
            found.extend(hits)
            matched += len(hits)
            if len(page) < page_size:
                break
            if newest:
                high = int(page[-1][0])
            else:
                low = int(page[-1][0])
    found.sort(key=lambda r: r[0], reverse=newest)
    return found[:limit]


def logs(
    db: Database, scope: LogWhere, *, after_id: int, before_id: int | None, limit: int
) -> list[LogRow]:
    """The logs `scope` keeps, ascending by id; with after_id == 0, the NEWEST `limit` matches
    (ascending), below `before_id` if given."""
    limit = bounded(limit)
    newest = not after_id
    with db.read() as tx:
        if tx is None:
            return []
        span_ids = scope.span_ids
        if span_ids is None:
            rows = _page(
                tx, scope, after_id=after_id, before_id=before_id, newest=newest, limit=limit
            )
        else:
            rows = _of_spans(tx, scope, span_ids, after_id, before_id, newest, limit)
    rows.sort(key=lambda r: r[0])
    return [log_row(r) for r in rows]


def max_id(db: Database) -> int:
    """The highest log id (0 when there are none)."""
    with db.read() as tx:
        if tx is None:
            return 0
        # Not max(id): that would scan a record store's view (see `Read.rowid_range`).
        rows = tx.conn.execute("SELECT id FROM logs ORDER BY id DESC LIMIT 1").fetchall()
        return int(rows[0][0] or 0) if rows else 0


class LevelCounts:
    """Log counts per normalised level, of one trace or of all logs; those of all logs are kept
    between calls (for one `Database`) and brought up to date incrementally."""

    def __init__(self) -> None:
        self._cached: tuple[int, int, int, float, dict[str, int]] | None = None
        """(connection generation, min rowid, max rowid, when counted, counts)."""

    def count(self, db: Database, trace_id: str | None) -> dict[str, int]:
        """Counts for one trace or all logs. All logs are counted incrementally: later calls
        only count ids above the last call's maximum; a full count is redone when old logs
        were pruned, the file changed, or every LEVEL_RECOUNT_S."""
        counts = dict.fromkeys(LEVELS, 0)
        with db.read() as tx:
            if tx is None:
                return counts
            if trace_id is not None:
                query = (
                    Log.select(Log.level, SQL("count(*)"))
                    .where(Log.trace_id == trace_id)
                    .group_by(Log.level)
                )
                for level, count in tx.fetch(query):
                    counts[normalise_level(level)] += int(count)
                return counts
            low, high = tx.rowid_range("logs")
            now = time.monotonic()
            generation = db.generation
            cached = self._cached
            if (
                cached is not None
                and cached[0] == generation
                and cached[1] == low
                and cached[2] <= high
                and now - cached[3] < LEVEL_RECOUNT_S
            ):
                counts.update(cached[4])
                counted_at = cached[3]
                # NOT INDEXED: a rowid range over the new rows, not a scan of the level index.
                sql = (
                    "SELECT CAST(level AS BLOB), count(*) FROM logs NOT INDEXED WHERE id > ?"
                    " GROUP BY level"
                )
                rows = tx.conn.execute(sql, (cached[2],)).fetchall()
            else:
                counted_at = now
                # One pass over the narrow (level, id) index when there is one.
                # Levels as bytes: one invalid-UTF-8 level (another program wrote it) would
                # fail the whole count; `normalise_level` decodes it as the rows show it.
                rows = tx.conn.execute(
                    "SELECT CAST(level AS BLOB), count(*) FROM logs GROUP BY level"
                ).fetchall()
            for level, count in rows:
                counts[normalise_level(level)] += int(count)
            self._cached = (generation, low, high, counted_at, dict(counts))
            return counts


def level_counts_upto(
    db: Database, upto: int, trace_id: str | None, span_ids: frozenset[str] | None
) -> dict[str, int]:
    """Log counts per normalised level up to log id `upto`: of all logs, one trace's, or (with
    `span_ids`) those of some spans of a trace. Exact and uncapped."""
    counts = dict.fromkeys(LEVELS, 0)
    with db.read() as tx:
        if tx is None:
            return counts
        if span_ids is not None:
            if not span_ids:
                return counts
            for one_trace in _traces_of(tx, trace_id, span_ids):
                query = Log.select(Log.level, Log.span_id).where(
                    (Log.trace_id == one_trace) & (Log.id <= upto)
                )
                for level, span_id in tx.fetch(query):
                    if as_text(span_id) in span_ids:
                        counts[normalise_level(level)] += 1
            return counts
        query = Log.select(Log.level, SQL("count(*)")).where(Log.id <= upto)
        if trace_id is not None:
            query = query.where(Log.trace_id == trace_id)
        for level, count in tx.fetch(query.group_by(Log.level)):
            counts[normalise_level(level)] += int(count)
    return counts
