"""OpenTelemetry SDK exporters that write spans and log records into a lens trace database."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

try:
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
except ImportError:  # SDK before 1.39 names them LogExporter / LogExportResult
    from opentelemetry.sdk._logs.export import (  # type: ignore[assignment,no-redef]
        LogExporter as LogRecordExporter,
    )
    from opentelemetry.sdk._logs.export import (
        LogExportResult as LogRecordExportResult,
    )

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.trace import ReadableSpan

from lens_tui.otel.mapping import (
    KIND_NAMES,
    LogFields,
    body_text,
    build_span,
    event_dict,
    link_dict,
    service_of,
)
from lens_tui.tracing import api
from lens_tui.tracing.external import ExternalSpan
from lens_tui.tracing.writer import TraceWriter


class _WriterHolder:
    """The writer an exporter writes to: its own on `db_path`, a given one, or the process-wide one."""

    def __init__(
        self, db_path: str | os.PathLike[str] | None, store: TraceWriter | None, service: str | None
    ) -> None:
        if db_path is not None and store is not None:
            raise ValueError("give db_path or store, not both")
        self.owned = db_path is not None
        self._writer = TraceWriter(db_path, service=service) if db_path is not None else store
        self._warned = False

    @property
    def writer(self) -> TraceWriter | None:
        """The writer written to right now (None: no process-wide writer configured)."""
        return self._writer if self._writer is not None else api.get_store()

    def get(self) -> TraceWriter | None:
        """The writer to write to now (the process-wide one is looked up at each export)."""
        writer = self._writer if self._writer is not None else api.get_store()
        if writer is None and not self._warned:
            self._warned = True
            sys.stderr.write(
                "lens_tui.otel: no trace store (give db_path or store, or call "
                "lens_tui.tracing.configure()); telemetry is dropped\n"
            )
        return writer

    def flush(self, timeout_millis: float) -> bool:
        writer = self._writer if self._writer is not None else api.get_store()
        return True if writer is None else writer.flush(timeout_millis / 1000.0)

    def shutdown(self) -> None:
        writer = self._writer if self._writer is not None else api.get_store()
        if writer is None:
            return
        if self.owned:
            writer.shutdown()
        else:
            writer.flush()


def span_from_sdk(span: ReadableSpan, fallback_service: str | None = None) -> ExternalSpan:
    """A finished (or still running) SDK span as an ExternalSpan, mapped as the receiver maps OTLP."""
    context = span.context
    parent = span.parent
    resource = span.resource
    events = [
        event_dict(e.name, e.timestamp, dict(e.attributes or {})) for e in span.events
    ] or None
    links = [
        link_dict(
            f"{link.context.trace_id:032x}",
            f"{link.context.span_id:016x}",
            dict(link.attributes or {}),
        )
        for link in span.links
    ] or None
    status = span.status
    return build_span(
        trace_id=f"{context.trace_id:032x}",
        span_id=f"{context.span_id:016x}",
        parent_span_id=f"{parent.span_id:016x}" if parent is not None and parent.span_id else None,
        name=span.name,
        start_ns=span.start_time or 0,
        end_ns=span.end_time,
        kind=KIND_NAMES[span.kind.value + 1],  # SDK SpanKind starts at INTERNAL = 0
        attributes=dict(span.attributes) if span.attributes else None,
        events=events,
        links=links,
        status_code=status.status_code.value,
        status_message=status.description,
        service=service_of(resource.attributes if resource is not None else None, fallback_service),
        remote_parent=bool(parent is not None and parent.is_remote),
    )


class _WriterBacked:
    """What both exporters share: the writer they write to, flushing it, closing it once."""

    _holder: _WriterHolder
    _shutdown: bool

    @property
    def store(self) -> TraceWriter | None:
        """The writer this exporter writes to; pass it as `store=` to the other exporter to
        share one writer."""
        return self._holder.writer

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Block until everything exported so far is committed."""
        return self._holder.flush(timeout_millis)

    def shutdown(self) -> None:
        """Flush; close the writer if this exporter opened it."""
        if self._shutdown:
            return
        self._shutdown = True
        self._holder.shutdown()


class LensSpanExporter(_WriterBacked, SpanExporter):
    """Writes OpenTelemetry SDK spans into a lens trace database, as `lens_fn` spans are written.

    `db_path`: open a TraceWriter of its own there (shut down with the exporter); `store`: write
    to that TraceWriter; neither: the process-wide one of `lens_tui.tracing.configure()`. `service`
    names spans whose resource has no `service.name` (or the SDK's `unknown_service`).
    Never blocks: spans go to the writer's queue and its thread commits them.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] | None = None,
        *,
        store: TraceWriter | None = None,
        service: str | None = None,
    ) -> None:
        self._holder = _WriterHolder(db_path, store, service)
        self.service = service
        self._shutdown = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Queue the spans in the writer."""
        if self._shutdown:
            return SpanExportResult.FAILURE
        writer = self._holder.get()
        if writer is None:
            return SpanExportResult.FAILURE
        service = self.service
        record = writer.record_span
        for span in spans:
            try:
                record(span_from_sdk(span, service))
            except Exception:  # one odd span must not lose the batch
                continue
        return SpanExportResult.SUCCESS


def log_from_sdk(record: ReadableLogRecord) -> dict[str, Any]:
    """Keyword arguments for `TraceWriter.log` from an SDK log record (level, ids, exception…)."""
    log = record.log_record
    attributes = dict(log.attributes) if log.attributes else None
    event_name = getattr(log, "event_name", None)
    if event_name:
        attributes = {**(attributes or {}), "event.name": event_name}
    severity = log.severity_number
    fields = LogFields(
        attributes,
        body_text(log.body) or (event_name or ""),
        severity.value if severity is not None else 0,
        log.severity_text,
    )
    stamp = log.timestamp or log.observed_timestamp
    scope = record.instrumentation_scope
    # ReadableLogRecord carries the resource; older SDKs' LogData keep it on the log record.
    resource = getattr(record, "resource", None) or getattr(log, "resource", None)
    return {
        "level": fields.level,
        "message": fields.message,
        "timestamp_ms": stamp / 1_000_000 if stamp else None,
        "trace_id": log.trace_id or None,
        "span_id": log.span_id or None,
        "logger": scope.name if scope is not None and scope.name else None,
        "source_location": fields.source_location,
        "attributes": fields.attributes,
        "exception_type": fields.exception_type,
        "traceback": fields.traceback,
        "service": service_of(resource.attributes if resource is not None else None),
    }


class LensLogExporter(_WriterBacked, LogRecordExporter):
    """Writes OpenTelemetry SDK log records into a lens trace database, tied to their span.

    Same choice of writer as LensSpanExporter: its own on `db_path`, a given `store`, or the
    process-wide one.
    """

    def __init__(
        self, db_path: str | os.PathLike[str] | None = None, *, store: TraceWriter | None = None
    ) -> None:
        self._holder = _WriterHolder(db_path, store, None)
        self._shutdown = False

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Queue the log records in the writer."""
        if self._shutdown:
            return LogRecordExportResult.FAILURE
        writer = self._holder.get()
        if writer is None:
            return LogRecordExportResult.FAILURE
        for record in batch:
            try:
                fields = log_from_sdk(record)
            except Exception:
                continue
            writer.log(fields.pop("level"), fields.pop("message"), **fields)
        return LogRecordExportResult.SUCCESS
