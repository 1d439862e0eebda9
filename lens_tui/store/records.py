"""Immutable records the read side hands across threads to the UI (never ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One row of the trace list."""

    trace_id: str
    root_span_name: str
    source: str | None
    service: str | None
    started_at: float
    """Epoch milliseconds."""
    ended_at: float | None
    duration_ms: float | None
    """None while the trace runs."""
    span_count: int | None
    """None where the database does not record it (original LENS layout)."""
    error_count: int | None
    status: str
    """`ok`, `error` or `running`."""
    updated_at: float | None = None
    root_span_id: str | None = None
    """The root span's id as the trace row names it (a span standing in for a remote root, or
    an open root not written yet); None where the layout does not record it."""


@dataclass(frozen=True, slots=True)
class SpanRow:
    """One span, as the waterfall and the detail panel need it."""

    span_id: str
    trace_id: str
    parent_span_id: str | None
    name: str
    started_at: float
    duration_ms: float | None
    """None while the span runs."""
    status: str
    """`ok`, `error` or `running` (derived for databases without a status column)."""
    error_message: str | None = None
    exception_type: str | None = None
    traceback: str | None = None
    service: str | None = None
    kind: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    """Attribute (key, JSON-encoded value) pairs in stored order."""
    events: str | None = None
    links: str | None = None
    input_size: int | None = None
    output_size: int | None = None
    input_body_hash: str | None = None
    output_body_hash: str | None = None
    source_location: str | None = None


@dataclass(frozen=True, slots=True)
class PendingSpan(SpanRow):
    """A span whose row is still being read: only what the trace's keys tell (ids, start,
    duration; no name). Never equal to a `SpanRow`; the UI draws it as a placeholder."""


@dataclass(frozen=True, slots=True)
class LogRow:
    """One log record."""

    id: int
    trace_id: str | None
    span_id: str | None
    level: str
    """`debug`, `info`, `warn` or `error` (normalised on read)."""
    message: str
    timestamp: float
    logger: str | None = None
    source_location: str | None = None
    service: str | None = None
    exception_type: str | None = None
    traceback: str | None = None
    attributes: str | None = None


@dataclass(frozen=True, slots=True)
class TraceDetail:
    """A trace with all its spans, ordered by start time."""

    summary: TraceSummary | None
    spans: tuple[SpanRow, ...]


@dataclass(frozen=True, slots=True)
class WriterInfo:
    """A writing process as recorded in the `writers` table."""

    writer_id: str
    pid: int
    hostname: str | None
    service: str | None
    last_write_at: float
    spans_written: int
    logs_written: int
    dropped: int
    errors: int


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Totals for the header line."""

    traces: int
    spans: int
    logs: int
    last_write_at: float | None
    """Epoch ms of the newest write any writer recorded (or the newest row's time)."""
    dropped: int = 0
    writers: tuple[WriterInfo, ...] = ()
