"""Span queries: one trace with its spans (as records, as columns, or as the keys a forest is
built from), spans by rowid, by name, by update time, and the bodies spans captured."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import apsw
from peewee import SQL, Select

from lens_tui.schema import Body, Span, Trace
from lens_tui.store.connection import ROWID, Database, Read
from lens_tui.store.decode import (
    KEY_COLUMNS,
    SPAN_COLUMNS,
    TRACE_COLUMNS,
    as_ms,
    as_text,
    body_text,
    key_columns,
    span_row,
    status,
    trace_summary,
)
from lens_tui.store.filters import name_condition
from lens_tui.store.records import SpanRow, TraceDetail, TraceSummary

MAX_TRACE_SPANS = 200_000
"""A bound on one trace's spans held in memory (the waterfall of a runaway trace stays usable)."""


@dataclass(frozen=True, slots=True)
class SpanColumns:
    """One trace's spans as columns, in the order read (by start time): what a waterfall is
    built from without a SpanRow per span. `rows[i]` is the raw row `decode_span` takes."""

    span_ids: list[str]
    parent_ids: list[str | None]
    starts: Sequence[float]
    """A list, or (from `trace_keys`) an `array('d')`: see `SpanForest.parent`."""
    durations: list[float | None]
    rows: Sequence[Any]
    """Raw rows, or (from `trace_keys`) rowids in an `array('q')`."""


def _of_trace(tx: Read, trace_id: str, columns: Sequence[str], *extra: Any) -> Select:
    """A trace's spans (at most MAX_TRACE_SPANS), the `columns` asked for."""
    return tx.select(Span, columns, *extra).where(Span.trace == trace_id).limit(MAX_TRACE_SPANS)


def _summary_rows(tx: Read, trace_id: str) -> list[tuple[Any, ...]]:
    return tx.fetch(tx.select(Trace, TRACE_COLUMNS).where(Trace.trace_id == trace_id).limit(1))


def _summary(
    tx: Read, rows: list[tuple[Any, ...]], spans: int, errors: Callable[[], int]
) -> TraceSummary | None:
    """The trace's summary; where the layout does not store them (the original one), its span
    and error counts are how many `spans` were read and how many `errors()` of them failed."""
    if not rows:
        return None
    row = rows[0]
    if not tx.layout.has("traces", "span_count"):
        row = (*row[:7], spans, errors(), *row[9:])
    return trace_summary(row)


def _failed(statuses: Iterable[tuple[Any, ...]]) -> int:
    """How many raw (status, error_message, duration_ms) rows decode as an error."""
    return sum(1 for r in statuses if status(r[0], r[1] is not None, as_ms(r[2])) == "error")


def trace(db: Database, trace_id: str) -> TraceDetail:
    """One trace's summary (None if it has no trace row) and all its spans by start time."""
    with db.read() as tx:
        if tx is None:
            return TraceDetail(None, ())
        summary_rows = _summary_rows(tx, trace_id)
        query = _of_trace(tx, trace_id, SPAN_COLUMNS).order_by(Span.started_at)
        spans = tuple(span_row(r) for r in tx.fetch(query))
        summary = _summary(
            tx, summary_rows, len(spans), lambda: sum(1 for s in spans if s.status == "error")
        )
    return TraceDetail(summary, spans)


def trace_columns(
    db: Database, trace_id: str, narrow: bool
) -> tuple[TraceSummary | None, SpanColumns]:
    """The summary and spans of `TraceReader.trace_columns` or (`narrow`) `trace_keys`."""
    statuses: list[tuple[Any, ...]] = []
    with db.read() as tx:
        if tx is None:
            return None, SpanColumns([], [], [], [], [])
        summary_rows = _summary_rows(tx, trace_id)
        counted = bool(summary_rows) and not tx.layout.has("traces", "span_count")
        packed = packed_keys(tx, trace_id) if narrow else None
        if packed is not None:
            rows: Sequence[Any] = packed.rows  # only counted below
        elif narrow:
            rows = tx.fetch(_of_trace(tx, trace_id, KEY_COLUMNS, ROWID).order_by(Span.started_at))
        else:
            rows = tx.fetch(_of_trace(tx, trace_id, SPAN_COLUMNS).order_by(Span.started_at))
            statuses = [(r[6], r[7], r[5]) for r in rows]
        if narrow and counted:
            # The original layout: the error count comes from the spans' statuses.
            statuses = tx.fetch(_of_trace(tx, trace_id, ("status", "error_message", "duration_ms")))
        summary = _summary(tx, summary_rows, len(rows), lambda: _failed(statuses))
    if packed is not None:
        return summary, packed
    span_ids, parent_ids, starts, durations = key_columns(
        rows, KEY_COLUMNS if narrow else SPAN_COLUMNS
    )
    if narrow:
        # Arrays, which the garbage collector does not walk; the row tuples go.
        return summary, SpanColumns(
            span_ids,
            parent_ids,
            array("d", starts),
            durations,
            array("q", [r[4] for r in rows]),
        )
    return summary, SpanColumns(span_ids, parent_ids, starts, durations, rows)


_EXACT_REAL_TEXT: bool | None = None


def _exact_real_text(conn: apsw.Connection) -> bool:
    """Whether this SQLite turns a REAL into text that parses back to the same double (newer
    versions do; older ones wrote 15 significant digits)."""
    global _EXACT_REAL_TEXT
    if _EXACT_REAL_TEXT is None:
        probes = (0.1 + 0.2, 1795310547744.7422, 1795310547744.7424, 5e-324, 1 / 3)
        texts = conn.execute(
            "SELECT " + ", ".join("CAST(? AS TEXT)" for _ in probes), probes
        ).fetchall()[0]
        _EXACT_REAL_TEXT = all(float(t) == p for t, p in zip(texts, probes, strict=True))
    return _EXACT_REAL_TEXT


def _empty_to_none(values: list[str | None], count: int) -> None:
    """Replace the `count` empty strings in `values` by None (searched at C speed)."""
    if count > 100:
        values[:] = [value or None for value in values]
        return
    at = -1
    for _ in range(count):
        at = values.index("", at + 1)
        values[at] = None


def packed_keys(tx: Read, trace_id: str) -> SpanColumns | None:
    """`trace_keys`' columns read as one row of five long strings, which SQLite builds
    without holding the GIL and Python splits and parses at C speed: a row tuple per span
    cost about twice as much, all of it holding the GIL the UI thread needs while a trace
    opens.

    SQLite's own number-to-text round-trips exactly (checked once, `_exact_real_text`).
    Starts travel as offsets from the first (exact: the difference of two doubles within
    a factor of two of each other is), which parse twice as fast as 17-digit epoch times;
    rowids stay text until a span is read (`spans_at` takes either). Odd cells come out as
    the row path would decode them, or make this return None and that path run: text
    starts are numbers to SQLite, as `as_ms` makes them 0.0; an unparsable duration, an id
    holding the separator, invalid UTF-8 or an infinite start give None."""
    if not _exact_real_text(tx.conn):
        return None

    def column(name: str) -> str:
        return f'"{name}"' if tx.layout.has("spans", name) else "NULL"

    parent, duration = column("parent_span_id"), column("duration_ms")
    sql = f"""
        SELECT count(*), count(*) - count(duration), count(*) - count(parent),
            sum(parent = ''), min(base),
            group_concat(span_id, char(31)),
            group_concat(coalesce(parent, ''), char(31)),
            group_concat(started_at - base, char(31)),
            group_concat(coalesce(duration, ''), char(31)),
            group_concat(rid, char(31))
        FROM (
            SELECT rowid AS rid, span_id, {parent} AS parent, started_at,
                {duration} AS duration, (
                    SELECT CASE WHEN min(started_at) > 0
                        AND max(started_at) <= 2 * min(started_at)
                        THEN min(started_at) ELSE 0 END
                    FROM spans WHERE trace_id = ?1
                ) AS base
            FROM spans WHERE trace_id = ?1 ORDER BY started_at LIMIT ?2
        )"""
    try:
        row = tx.one(sql, (trace_id, MAX_TRACE_SPANS))
    except UnicodeDecodeError:
        return None
    count, running, roots, empty, base, ids, parents, offsets, lengths, rowids = row
    if count == 0:
        return SpanColumns([], [], array("d"), [], [])
    if (roots and empty) or not isinstance(base, (int, float)):
        return None  # NULL and '' parents both (both read as ''); no numeric start
    span_ids = ids.split("\x1f")
    parent_ids: list[str | None] = parents.split("\x1f")
    if len(span_ids) != count or len(parent_ids) != count:
        return None  # an id holds the separator
    texts = lengths.split("\x1f")
    try:
        starts = array("d", map(float, offsets.split("\x1f")))
        durations: list[float | None] = (
            [float(text) if text else None for text in texts]
            if running
            else list(map(float, texts))
        )
    except ValueError:
        return None
    if base:
        starts = array("d", [base + offset for offset in starts])
    if not all(map(math.isfinite, starts)):
        return None
    if not all(map(math.isfinite, filter(None, durations))):
        durations = [as_ms(value) for value in durations]
    if roots:  # NULL parents were read as ''
        _empty_to_none(parent_ids, roots)
    return SpanColumns(span_ids, parent_ids, starts, durations, rowids.split("\x1f"))


def find(db: Database, trace_id: str, text: str) -> list[str]:
    """Ids of the trace's spans whose name contains `text` (the trace list's rule,
    `name_matches`), in no particular order."""
    with db.read() as tx:
        if tx is None:
            return []
        query = (
            Span.select(Span.span_id)
            .where((Span.trace == trace_id) & name_condition(text, Span.name))
            .limit(MAX_TRACE_SPANS)
        )
        return [as_text(row[0]) for row in tx.fetch(query)]


def at_rowids(db: Database, rowids: Iterable[int | str]) -> dict[int, SpanRow]:
    """The spans stored at `rowids` (ints or text), as they are now, in one query per 500:
    rowid -> span, for the rows that exist."""
    wanted = sorted({int(rowid) for rowid in rowids})
    found: dict[int, SpanRow] = {}
    with db.read() as tx:
        if tx is None:
            return found
        for at in range(0, len(wanted), 500):  # well under SQLite's variable limit
            chunk = wanted[at : at + 500]
            marks = ", ".join("?" * len(chunk))
            query = tx.select(Span, SPAN_COLUMNS, ROWID).where(SQL(f"rowid IN ({marks})", chunk))
            for row in tx.fetch(query):
                found[int(row[-1])] = span_row(row[:-1])
    return found


def since(db: Database, trace_id: str, updated_after: float | None) -> list[SpanRow]:
    """Spans of a trace written after `updated_after` (all of them when it is None or the
    database does not record updated_at), by start time."""
    with db.read() as tx:
        if tx is None:
            return []
        query = _of_trace(tx, trace_id, SPAN_COLUMNS).order_by(Span.started_at)
        if updated_after is not None and tx.layout.has("spans", "updated_at"):
            query = query.where(Span.updated_at > float(updated_after))
        return [span_row(r) for r in tx.fetch(query)]


def body(db: Database, body_hash: str) -> str | None:
    """A captured body as text (gunzipped; invalid UTF-8 as U+FFFD); None when absent."""
    with db.read() as tx:
        if tx is None or not tx.layout.has_table("bodies"):
            return None
        compressed = Body.is_compressed if tx.layout.has("bodies", "is_compressed") else SQL("0")
        query = Body.select(Body.body, compressed).where(Body.hash == body_hash).limit(1)
        rows = tx.fetch(query)
    if not rows:
        return None
    return body_text(*rows[0])
