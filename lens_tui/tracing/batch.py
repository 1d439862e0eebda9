"""Queued records to rows: one drained batch of spans and logs as the values of one transaction.

The writer's queue is flat: WIDTH values per record, one after another in one list, so that a
queued span or log is no object of its own (a tuple per record made the garbage collector visit
every one of them once, ~0.1 µs a record). Span rows come with the trace rows they add up to
(one per trace and batch: bounds, counts, root, status) and the bodies they reference;
`sql.TRACE_UPSERT` merges a trace row into one already stored.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import apsw

from lens_tui import bodies
from lens_tui.text import encode_json
from lens_tui.tracing import sql
from lens_tui.tracing.context import SpanRecord
from lens_tui.tracing.external import ExternalSpan
from lens_tui.tracing.ids import span_hex, trace_hex

LogItem = tuple[Any, ...]
"""(level, message, timestamp_ms, trace_int, span_int, logger, source_location, attributes,
exception_type, traceback, service) as queued by `TraceWriter.log` and `LogHandler`; `service`
None means the writer's own."""

EndedSpan = tuple[Any, ...]
"""(span_id, trace_id, parent_id, name, t0, t1, attributes, source_location, extra) of a
SpanRecord, as `TraceWriter.end` queues it (see `ended_span`); `extra` holds the rarely set
fields, or is None."""

WIDTH = 11
"""Values per record in `TraceWriter.queue`: a LogItem's 11; an EndedSpan's 9 then PAD2; an
ExternalSpan or a flush marker (a threading.Event) then PAD10. The first value tells them
apart: an int span id, a str level, or the object."""
PAD2 = (None, None)
PAD10 = (None,) * 10


def ended_span(r: SpanRecord, t1: float | None) -> EndedSpan:
    """A span's fields as `TraceWriter.end` queues them (inlined there; keep the two in step)."""
    return (r.span_id, r.trace_id, r.parent_id, r.name, r.t0, t1, r.attributes, r.source_location, r.extra)  # fmt: skip


_ENCODE = encode_json  # the one stored JSON form (lens_tui.text)


def _json(value: Any) -> str | None:
    if not value:
        return None
    try:
        return _ENCODE(value)
    except Exception:  # e.g. non-str keys, circular structures: keep what can be said
        return json.dumps({str(k): repr(v) for k, v in dict(value).items()})


def _json_or_text(value: Any) -> str | None:
    """`_json`, but JSON text encoded beforehand (a str, see ExternalSpan) is kept as it is."""
    return value if value.__class__ is str else _json(value)


@dataclass(slots=True)
class RowBatch:
    """The rows of one transaction, each list the rows' values concatenated (see sql.MultiRow)."""

    traces: list[Any]
    """`sql.TRACE_COLUMNS` but updated_at, one row per trace the batch touches (but those of
    `standin_traces`)."""
    plain_spans: list[Any]
    """`sql.SPAN_PLAIN_ROW`'s values: ended spans that set none of the rarer columns."""
    spans: list[Any]
    """`sql.SPAN_COLUMNS` but updated_at: the other spans."""
    logs: list[Any]
    """`sql.LOG_COLUMNS`."""
    bodies: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """New bodies by hash: (hash, body, is_compressed, original_size, stored_size)."""
    ended_after_running: list[int] = field(default_factory=list)
    """Ids of ended spans whose running row was written (and counted) by an earlier batch."""
    standin_traces: list[Any] = field(default_factory=list)
    """Like `traces`, for traces whose root this batch lacks but where a span whose parent is
    remote stands in for it (`sql.TRACE_STANDIN_UPSERT`)."""
    base: float = 0.0
    """Epoch milliseconds at perf_counter() zero, for this batch: `sql.SPAN_PLAIN_ROW`'s `?2`."""
    lone_roots: list[str] = field(default_factory=list)
    """Ids of plain root spans first of their trace in the batch, whose trace rows
    `sql.TRACES_FROM_ROOTS` makes from their span rows (in `plain_spans`)."""
    markers: list[Any] = field(default_factory=list)
    """The flush markers of the batch, to set once it is committed (or dropped)."""
    externals: list[ExternalSpan] = field(default_factory=list)
    """The batch's ExternalSpans (marked persisted once committed)."""
    n_spans: int = 0
    """Ended spans in the batch (ExternalSpans included), running records not."""
    n_logs: int = 0


class BatchBuilder:
    """Turns one drained batch (ended spans, running spans, logs) into a RowBatch.

    `on_error(kind, exc)` hears of a body that could not be stored (its span keeps no hash).
    """

    SPARE_AGGREGATES = 20_000
    """Trace aggregates kept from batch to batch, at most: new lists, one per trace, made the
    garbage collector run (and walk the batch's big row lists) ~0.1 µs a span more often."""

    def __init__(self, on_error: Callable[[str, BaseException], None]) -> None:
        self._on_error = on_error
        self._spare: list[list[Any]] = []

    def build(
        self,
        items: list[Any],
        running: list[SpanRecord],
        *,
        service: str | None,
        open_spans: list[SpanRecord],
        running_written: set[int],
        max_captured_body: int,
        conn: apsw.Connection,
    ) -> RowBatch:
        """The rows for `running` records and the queued records `items` (WIDTH values each).

        `running_written` holds the ids written as running by earlier batches; `open_spans` the
        spans begun and not ended (their roots name traces still in flight).
        """
        base = time.time() * 1000.0 - perf_counter() * 1000.0
        trace_agg: dict[str, list[Any]] = {}
        rows = RowBatch([], [], [], [], base=base)
        args = (base, service, trace_agg, rows, running_written, max_captured_body, conn)
        if running:
            self._values([v for r in running for v in (*ended_span(r, None), *PAD2)], *args)
            rows.n_spans = 0  # running records are not the batch's ended spans
        self._values(items, *args)
        _name_open_roots(trace_agg, open_spans)
        rows.traces, rows.standin_traces = _trace_rows(trace_agg, service, base)
        spare = self._spare
        if len(spare) < self.SPARE_AGGREGATES:
            spare.extend(itertools.islice(trace_agg.values(), self.SPARE_AGGREGATES - len(spare)))
        return rows

    def _aggregate(self) -> list[Any]:
        """A fresh trace aggregate (`_AGGREGATE` describes it), a spare list if there is one."""
        spare = self._spare
        if spare:
            agg = spare.pop()
            agg[:] = _AGGREGATE
            return agg
        return list(_AGGREGATE)

    def _values(
        self,
        items: list[Any],
        base: float,
        service: str | None,
        trace_agg: dict[str, list[Any]],
        rows: RowBatch,
        running_written: set[int],
        max_captured_body: int,
        conn: apsw.Connection,
    ) -> None:
        """Add the rows of `items` (WIDTH values a record) to `rows`: spans, logs, markers.

        The writer's hottest loop, so one flat function. Spans are EndedSpans (the values of
        running SpanRecords too: t1 None) and ExternalSpans. Fills `trace_agg`: per trace hex
        id, the list `_AGGREGATE` describes; and the batch's bodies and
        `ended_after_running`. A stand-in is the first span whose parent is remote, kept until
        the true root (no parent) turns up in the batch.
        """
        add = rows.spans.extend
        add_plain = rows.plain_spans.extend
        add_log = rows.logs.extend
        body_rows = rows.bodies
        ended_after_running = rows.ended_after_running
        lone_roots = rows.lone_roots
        counted: set[Any] = set()  # an external span may come twice in a batch: count it once
        last_tint: Any = None
        last_pid: Any = None
        last_trace: Any = PAD2  # no id is this: the first log formats its ids
        last_span: Any = PAD2
        trace_id = ""
        log_trace: str | None = None
        log_span: str | None = None
        plain_parent: str | None = None
        agg: list[Any] = []
        n_spans = n_logs = 0
        # zip over one iterator: a record's values as one tuple, which zip reuses (no allocation)
        # when the loop keeps no reference to it.
        # fmt: off
        for (
            sid, tint, pid, name, t0, t1, attrs, location, extra, v9, v10,
        ) in zip(*[iter(items)] * WIDTH, strict=False):  # whole records only
            # fmt: on
            kind = type(sid)
            if kind is not int:
                if kind is str:  # a LogItem: the same values, named for what they are here
                    n_logs += 1
                    level, message, ts, trace_int, span_int = sid, tint, pid, name, t0
                    logger, log_location, log_attrs, exc_type, tb = t1, attrs, location, extra, v9
                    if trace_int is not last_trace:  # the logs of one span mostly come together
                        last_trace = trace_int
                        log_trace = None if trace_int is None else trace_int.to_bytes(16, "big").hex()
                    if span_int is not last_span:
                        last_span = span_int
                        log_span = None if span_int is None else span_int.to_bytes(8, "big").hex()
                    # fmt: off
                    add_log((
                        log_trace, log_span, level, message, ts, logger, log_location,
                        v10 or service, _json(log_attrs) if log_attrs else None, exc_type, tb,
                    ))
                    # fmt: on
                elif kind is ExternalSpan:
                    n_spans += 1
                    rows.externals.append(sid)
                    add(_external_row(sid, trace_agg, counted, self._aggregate))
                    last_tint = None
                else:
                    rows.markers.append(sid)
                continue
            n_spans += 1
            if tint is not last_tint:  # a trace's spans mostly come together (children share it)
                last_tint = tint
                trace_id = tint.to_bytes(16, "big").hex()  # ids.trace_hex(tint), at half the cost
                agg = trace_agg.get(trace_id)  # type: ignore[assignment]
                if agg is None:
                    if (
                        pid is None
                        and extra is None
                        and t1 is not None
                        and not (running_written and sid in running_written)
                    ):
                        # A root first of its trace here: SQL makes the trace row from its
                        # span row (sql.TRACES_FROM_ROOTS), no aggregate needed.
                        span_id = sid.to_bytes(8, "big").hex()
                        lone_roots.append(span_id)
                        # fmt: off
                        add_plain((
                            span_id, trace_id, None, name, t0, t1 - t0,
                            _json(attrs) if attrs else None, location,
                        ))
                        # fmt: on
                        last_tint = None  # a later span of this trace makes its own aggregate
                        continue
                    agg = trace_agg[trace_id] = self._aggregate()
            # The bounds in perf_counter seconds (converted once per trace, in _trace_rows).
            if t0 < agg[0]:
                agg[0] = t0
            if t1 is not None and t1 > agg[1]:
                agg[1] = t1
            if running_written and t1 is not None and sid in running_written:
                ended_after_running.append(sid)
            else:
                agg[2] += 1
            if extra is None and t1 is not None:
                # The common span: SQLite converts its times (sql.SPAN_PLAIN_ROW).
                span_id = sid.to_bytes(8, "big").hex()  # ids.span_hex(sid), at half the cost
                if pid is None:
                    agg[4], agg[5], agg[6], agg[7], agg[9] = name, span_id, "ok", None, False
                    plain_parent = last_pid = None
                elif pid is not last_pid:  # siblings come together too
                    last_pid = pid
                    plain_parent = pid.to_bytes(8, "big").hex()
                # fmt: off
                add_plain((
                    span_id, trace_id, plain_parent, name, t0, t1 - t0,
                    _json(attrs) if attrs else None, location,
                ))
                # fmt: on
                continue
            start = base + t0 * 1000.0
            duration = None if t1 is None else (t1 - t0) * 1000.0
            span_id = sid.to_bytes(8, "big").hex()
            parent_id = None if pid is None else pid.to_bytes(8, "big").hex()
            if extra is None:  # running, without rarer fields
                if pid is None:
                    agg[4], agg[5], agg[6], agg[7], agg[9] = name, span_id, "running", None, False
                # fmt: off
                add((
                    span_id, trace_id, parent_id, name, start, None, None, None, None, "running",
                    service, None, _json(attrs) if attrs else None, None, None, None, None,
                    location, None, None,
                ))
                # fmt: on
                continue
            status = extra.status if t1 is not None else "running"
            if status == "error":
                agg[3] += 1
            if pid is None:
                agg[4], agg[5], agg[6], agg[7], agg[9] = name, span_id, status, extra.source, False
            elif extra.remote_parent and agg[5] is None:
                agg[4], agg[5], agg[6], agg[7], agg[9] = name, span_id, status, extra.source, True
            events = extra.events
            in_body = extra.input_body
            out_body = extra.output_body
            # fmt: off
            add((
                span_id, trace_id, parent_id, name, start, duration, extra.error_message,
                extra.input_size, extra.output_size, status, service, extra.kind,
                _json(attrs) if attrs else None, _json(events) if events else None, None,
                extra.exception_type, extra.traceback, location,
                None if in_body is None else self._body(in_body, body_rows, max_captured_body, conn),
                None if out_body is None else self._body(out_body, body_rows, max_captured_body, conn),
            ))
            # fmt: on
        rows.n_spans += n_spans
        rows.n_logs += n_logs

    def _body(
        self, body: Any, body_rows: dict[str, tuple[Any, ...]], limit: int, conn: apsw.Connection
    ) -> str | None:
        """The hash of a captured body (its first `limit` bytes), queued in `body_rows` if new."""
        try:
            raw = bodies.as_bytes(body)[:limit]
            digest = bodies.body_hash(raw)
            if digest not in body_rows and not sql.body_stored(conn, digest):
                enc = bodies.encode(raw)
                body_rows[digest] = (
                    enc.hash,
                    enc.stored,
                    int(enc.is_compressed),
                    enc.original_size,
                    len(enc.stored),
                )
            return digest
        except Exception as exc:
            self._on_error("body", exc)
            return None


def _external_row(
    r: ExternalSpan,
    trace_agg: dict[str, list[Any]],
    counted: set[Any],
    aggregate: Callable[[], list[Any]],
) -> tuple[Any, ...]:
    """An ExternalSpan's full span row, added into its trace's aggregate."""
    start = r.started_at
    agg = trace_agg.get(r.trace_id)
    if agg is None:
        agg = trace_agg[r.trace_id] = aggregate()
    if start < agg[10]:
        agg[10] = start
    if r.duration_ms is not None and start + r.duration_ms > agg[11]:
        agg[11] = start + r.duration_ms
    if not r.persisted and r.span_id not in counted:
        agg[2] += 1
        counted.add(r.span_id)
    if r.status == "error":
        agg[3] += 1
    if r.parent_span_id is None:
        agg[4], agg[5], agg[6], agg[7], agg[9] = r.name, r.span_id, r.status, r.source, False
        agg[8] = r.service  # the root's service names the trace
    elif r.remote_parent and agg[5] is None:
        agg[4], agg[5], agg[6], agg[7], agg[9] = r.name, r.span_id, r.status, r.source, True
    if agg[8] is None:
        agg[8] = r.service
    return (
        r.span_id,
        r.trace_id,
        r.parent_span_id,
        r.name,
        start,
        r.duration_ms,
        r.error_message,
        None,
        None,
        r.status,
        r.service,
        r.kind,
        _json_or_text(r.attributes),
        _json_or_text(r.events),
        _json_or_text(r.links),
        r.exception_type,
        r.traceback,
        None,
        None,
        None,
    )


def _name_open_roots(trace_agg: dict[str, list[Any]], open_spans: list[SpanRecord]) -> None:
    """Give traces whose root span is still open (and not yet written) its name and start.

    Children usually end before their root: without this, a request in flight shows as a
    trace without a name until its root span ends. The root itself is not written (a short
    span still costs one write); the trace row just says it is running. An open span whose
    parent is remote stands in for a root of another process, where the batch has no root.
    """
    if not open_spans:
        return
    rootless = [tid for tid, a in trace_agg.items() if a[5] is None or a[9]]
    if not rootless:
        return
    open_roots: dict[str, SpanRecord] = {}
    standins: dict[str, SpanRecord] = {}
    for r in open_spans:
        if r.parent_id is None:
            open_roots[trace_hex(r.trace_id)] = r
        elif r.remote_parent:
            standins.setdefault(trace_hex(r.trace_id), r)
    if not open_roots and not standins:
        return
    for tid in rootless:
        agg = trace_agg[tid]
        root = open_roots.get(tid)
        standin = root is None
        if standin:
            root = standins.get(tid) if agg[5] is None else None
            if root is None:
                continue
        if root.t0 < agg[0]:
            agg[0] = root.t0
        agg[4], agg[5], agg[6], agg[7] = root.name, span_hex(root.span_id), "running", root.source
        agg[9] = standin


_INF = float("inf")


_AGGREGATE: tuple[Any, ...] = (_INF, -_INF, 0, 0, None, None, None, None, None, False, _INF, -_INF)
"""A trace's aggregate over one batch, as a list: [0] earliest start and [1] latest end of its
spans of this process (perf_counter seconds), [2] new spans, [3] new errors, [4] root name, [5]
root id, [6] root status, [7] source, [8] service, [9] whether the root is a stand-in, [10]
earliest start and [11] latest end of its external spans (epoch milliseconds)."""


def _trace_rows(
    trace_agg: dict[str, list[Any]], service: str | None, base: float
) -> tuple[list[Any], list[Any]]:
    """Each aggregate as the row of a trace new to the database (`sql.TRACE_UPSERT` or, when a
    stand-in names it, `sql.TRACE_STANDIN_UPSERT` merges it into a stored one)."""
    traces: list[Any] = []
    standins: list[Any] = []
    for tid, a in trace_agg.items():
        # The same arithmetic as the span rows' (sql.SPAN_PLAIN_ROW), so that a root's start is
        # its trace's, to the bit.
        first = a[10] if a[0] == _INF else min(base + a[0] * 1000.0, a[10])
        last = a[11] if a[1] == -_INF else max(base + a[1] * 1000.0, a[11])
        if last == -_INF:
            last = None
        has_root = a[5] is not None
        fresh_status = "error" if a[3] else (a[6] if has_root else "running")
        row = (
            tid,
            a[4] if has_root else "",
            a[5],
            a[7],
            a[8] or service,
            first,
            last,
            None if fresh_status == "running" or last is None else last - first,
            a[2],
            a[3],
            fresh_status,
        )
        if a[9]:
            standins += row
        else:
            traces += row
    return traces, standins
