"""Trace queries: the trace list (filtered, newest first, keyset pages), tailing by mark, id
lookup by prefix or tail, summaries by id; the original layout's missing span and error counts
computed where that is cheap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from peewee import SQL, Node, fn

from lens_tui.schema import Span, Trace
from lens_tui.store import record_layout
from lens_tui.store.connection import ROWID, Database, Read
from lens_tui.store.decode import TRACE_COLUMNS, as_ms, as_text, trace_summary
from lens_tui.store.filters import TraceWhere
from lens_tui.store.queries import MAX_LIST_LIMIT, bounded
from lens_tui.store.records import TraceSummary

TRACES_SINCE_LIMIT = 5000
"""Most traces one `since` call returns; the next call continues from the mark."""
ORIGINAL_COUNTS_MAX_SPANS = 50_000
"""Without an index on spans.trace_id, per-trace span/error counts are computed only below this."""


@dataclass(frozen=True, slots=True)
class TraceMark:
    """Where trace tailing stopped: the highest rowid seen and the (updated_at, rowid) keyset."""

    rowid: int = 0
    updated_at: float | None = None
    updated_rowid: int = 0


def _with_counts(tx: Read, rows: list[tuple[Any, ...]]) -> list[TraceSummary]:
    """Summaries of trace rows; the original layout's missing counts computed when cheap."""
    layout = tx.layout
    if rows and not layout.has("traces", "error_count") and not layout.has("traces", "status"):
        counts = _original_counts(tx, [as_text(r[0]) for r in rows])
        if counts is not None:
            rows = [(*r[:7], *counts.get(as_text(r[0]), (0, 0)), *r[9:]) for r in rows]
    return [trace_summary(r) for r in rows]


def _counts_affordable(tx: Read) -> bool:
    if tx.layout.spans_indexed_by_trace:
        return True
    top = tx.one("SELECT max(rowid) FROM spans")[0]
    return (top or 0) <= ORIGINAL_COUNTS_MAX_SPANS


def _original_counts(tx: Read, trace_ids: list[str]) -> dict[str, tuple[int, int]] | None:
    """Span and error counts for a page of traces where the layout does not store them."""
    if not _counts_affordable(tx):
        return None
    counts: dict[str, tuple[int, int]] = {}
    unique = list(dict.fromkeys(trace_ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        query = (
            Span.select(Span.trace, SQL("count(*)"), SQL("count(error_message)"))
            .where(Span.trace.in_(chunk))
            .group_by(Span.trace)
        )
        for trace_id, spans, errors in tx.fetch(query):
            counts[as_text(trace_id)] = (int(spans), int(errors))
    return counts


def recent(
    db: Database, limit: int, where: TraceWhere, now_ms: float | None, before: float | None
) -> list[TraceSummary]:
    """The traces `where` keeps at `now_ms`, newest first by started_at; `before` pages on
    (started_at < before)."""
    limit = bounded(limit)
    with db.read() as tx:
        if tx is None:
            return []
        conditions: list[Node] = []
        if before is not None:
            conditions.append(Trace.started_at < float(before))
        conditions.extend(where.sql_where(tx.layout, now_ms))
        query = tx.select(Trace, TRACE_COLUMNS)
        if conditions:
            query = query.where(*conditions)
        query = query.order_by(Trace.started_at.desc()).limit(limit)
        return _with_counts(tx, tx.fetch(query))


def current_mark(db: Database) -> TraceMark:
    """The mark at "now": tail from here after an initial `recent` load."""
    with db.read() as tx:
        if tx is None:
            return TraceMark()
        if tx.layout.record_store:
            return TraceMark(rowid=int(tx.one("SELECT max(rowid) FROM main.records")[0] or 0))
        top = tx.one("SELECT max(rowid) FROM traces")[0] or 0
        if not tx.layout.has("traces", "updated_at"):
            return TraceMark(rowid=int(top))
        query = (
            Trace.select(Trace.updated_at, ROWID)
            .where(Trace.updated_at.is_null(False))
            .order_by(Trace.updated_at.desc(), ROWID.desc())
            .limit(1)
        )
        rows = tx.fetch(query)
        if not rows:
            return TraceMark(rowid=int(top))
        return TraceMark(int(top), as_ms(rows[0][0]), int(rows[0][1]))


def since(db: Database, mark: TraceMark) -> tuple[list[TraceSummary], TraceMark]:
    """New or updated traces since `mark` (at most TRACES_SINCE_LIMIT), and the next mark."""
    with db.read() as tx:
        if tx is None:
            return [], mark
        if tx.layout.record_store:
            return _records_since(tx, mark)
        columns = tx.select(Trace, TRACE_COLUMNS, ROWID)
        new_rows = tx.fetch(
            columns.where(ROWID > mark.rowid).order_by(ROWID).limit(TRACES_SINCE_LIMIT)
        )
        rowid = int(new_rows[-1][-1]) if new_rows else mark.rowid
        updated_at, updated_rowid = mark.updated_at, mark.updated_rowid
        updated_rows: list[tuple[Any, ...]] = []
        if tx.layout.has("traces", "updated_at"):
            query = tx.select(Trace, TRACE_COLUMNS, ROWID)
            if mark.updated_at is None:
                query = query.where(Trace.updated_at.is_null(False))
            else:
                # Keyset on (updated_at, rowid): one commit stamps many rows with one time,
                # and a LIMIT may cut inside that group.
                query = query.where(
                    Trace.updated_at >= mark.updated_at,
                    (Trace.updated_at > mark.updated_at) | (ROWID > mark.updated_rowid),
                )
            query = query.order_by(Trace.updated_at, ROWID).limit(TRACES_SINCE_LIMIT)
            updated_rows = tx.fetch(query)
            if updated_rows:
                updated_at = as_ms(updated_rows[-1][10])
                updated_rowid = int(updated_rows[-1][-1])
        merged: dict[str, tuple[Any, ...]] = {}
        for row in (*new_rows, *updated_rows):
            merged[as_text(row[0])] = row[:-1]
        traces = _with_counts(tx, list(merged.values()))
    traces.sort(key=lambda t: t.started_at, reverse=True)
    return traces, TraceMark(rowid, updated_at, updated_rowid)


def _records_since(tx: Read, mark: TraceMark) -> tuple[list[TraceSummary], TraceMark]:
    """`since` on a record store: its mark is the highest record rowid read, and the traces
    since are those the newer records belong to, read by trace id. Its traces view has no
    index to tail by: `updated_at >` or `rowid >` on it would aggregate every record.
    Beyond TRACES_SINCE_LIMIT traces, the mark stops before the first record of the next."""
    columns = tx.layout.columns[record_layout.RECORDS]
    sql = record_layout.touched_traces_sql(columns)
    touched = tx.conn.execute(sql, (mark.rowid, TRACES_SINCE_LIMIT + 1)).fetchall()
    if len(touched) > TRACES_SINCE_LIMIT:
        top = int(touched[TRACES_SINCE_LIMIT][1]) - 1
        touched = touched[:TRACES_SINCE_LIMIT]
    else:
        top = int(tx.one("SELECT max(rowid) FROM main.records")[0] or 0)
    rows: list[tuple[Any, ...]] = []
    ids = [trace_id for trace_id, _first in touched]  # bytes: invalid UTF-8 stays as stored
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join(["CAST(? AS TEXT)"] * len(chunk))
        query = tx.select(Trace, TRACE_COLUMNS).where(SQL(f"trace_id IN ({marks})", chunk))
        rows.extend(tx.fetch(query))
    traces = _with_counts(tx, rows)
    traces.sort(key=lambda t: t.started_at, reverse=True)
    return traces, TraceMark(rowid=max(top, mark.rowid))


def find_ids(db: Database, prefix: str, limit: int) -> list[str]:
    """Trace ids starting with `prefix` (by the primary key index), in order."""
    prefix = prefix.strip()
    limit = bounded(limit)
    if not prefix:
        return []
    with db.read() as tx:
        if tx is None:
            return []
        found: list[str] = []
        for candidate in dict.fromkeys((prefix, prefix.lower())):
            # A range instead of LIKE: LIKE is case-insensitive and cannot use the index.
            query = (
                Trace.select(Trace.trace_id)
                .where(Trace.trace_id >= candidate, Trace.trace_id < candidate + "\U0010ffff")
                .order_by(Trace.trace_id)
                .limit(limit)
            )
            found.extend(as_text(r[0]) for r in tx.fetch(query))
        return list(dict.fromkeys(found))[:limit]


def find_ids_ending(db: Database, suffix: str, limit: int) -> list[str]:
    """Trace ids ending in `suffix` (as given, or lowercase), in order. No index serves a
    suffix: this reads every trace id (the key index, not the rows)."""
    suffix = suffix.strip()
    limit = bounded(limit)
    if not suffix:
        return []
    with db.read() as tx:
        if tx is None:
            return []
        candidates = list(dict.fromkeys((suffix, suffix.lower())))
        query = (
            Trace.select(Trace.trace_id)
            .where(fn.substr(Trace.trace_id, -len(suffix)).in_(candidates))
            .order_by(Trace.trace_id)
            .limit(limit)
        )
        return [as_text(r[0]) for r in tx.fetch(query)]


def summaries(db: Database, trace_ids: Sequence[str]) -> list[TraceSummary]:
    """The summaries of those of `trace_ids` that have a trace row, by start time."""
    unique = list(dict.fromkeys(trace_ids))[:MAX_LIST_LIMIT]
    if not unique:
        return []
    with db.read() as tx:
        if tx is None:
            return []
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(unique), 500):
            query = tx.select(Trace, TRACE_COLUMNS).where(
                Trace.trace_id.in_(unique[start : start + 500])
            )
            rows.extend(tx.fetch(query))
        found = _with_counts(tx, rows)
    found.sort(key=lambda t: (t.started_at, t.trace_id))
    return found
