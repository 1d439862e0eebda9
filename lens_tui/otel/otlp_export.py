"""Traces out: one trace as an OTLP JSON `ExportTraceServiceRequest` (plain dicts; no SDK or protobuf).

Follows the OTLP JSON encoding: lowerCamelCase keys, hex ids, enums as integers, 64-bit integers
as decimal strings. Spans are grouped into one `resourceSpans` entry per service. POSTed to
`lens-tui otlp` (or any OTLP/HTTP receiver, e.g. a Collector or Jaeger) it makes the same tree.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from lens_tui import __version__
from lens_tui.export import span_attributes, span_order
from lens_tui.otel.mapping import (
    EXCEPTION_EVENT,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
    KIND_NUMBERS,
    SERVICE_KEY,
    SOURCE_KEYS,
    STATUS_ERROR,
    STATUS_OK,
)
from lens_tui.store.records import SpanRow, TraceDetail

_INT64 = range(-(2**63), 2**63)


def any_value(value: Any) -> dict[str, Any]:
    """A JSON value as an OTLP JSON AnyValue."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)} if value in _INT64 else {"stringValue": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"doubleValue": "NaN"}
        if math.isinf(value):
            return {"doubleValue": "Infinity" if value > 0 else "-Infinity"}
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    return {"stringValue": str(value)}


def key_values(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    """A dict as a list of OTLP JSON KeyValues."""
    return [{"key": str(k), "value": any_value(v)} for k, v in mapping.items()]


def _ns(ms: float) -> int:
    """Epoch ms as Unix ns through the decimal text, so re-importing gives the same float back."""
    return int((Decimal(repr(float(ms))) * 1_000_000).to_integral_value())


def _json_list(text: str | None) -> list[dict[str, Any]]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return []
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _events(span: SpanRow) -> list[dict[str, Any]]:
    out = []
    for event in _json_list(span.events):
        when = event.get("time", event.get("timestamp"))
        attrs = event.get("attributes")
        out.append(
            {
                "timeUnixNano": str(_ns(when)) if isinstance(when, (int, float)) else "0",
                "name": str(event.get("name") or "event"),
                "attributes": key_values(attrs) if isinstance(attrs, dict) else [],
            }
        )
    return out


def _links(span: SpanRow) -> list[dict[str, Any]]:
    out = []
    for link in _json_list(span.links):
        attrs = link.get("attributes")
        out.append(
            {
                "traceId": str(link.get("trace_id") or ""),
                "spanId": str(link.get("span_id") or ""),
                "attributes": key_values(attrs) if isinstance(attrs, dict) else [],
            }
        )
    return out


def span_json(span: SpanRow, source: str | None = None) -> dict[str, Any]:
    """One stored span as an OTLP JSON Span (`source` goes into a root's `lens.source`)."""
    attributes = span_attributes(span)
    if source and not any(key in attributes for key in SOURCE_KEYS):
        attributes["lens.source"] = source
    events = _events(span)
    exception_events = [e for e in events if e["name"] == EXCEPTION_EVENT]
    has_exception_event = bool(exception_events)
    if span.traceback and has_exception_event:
        # The stacktrace was moved from the event into the traceback column: put it back.
        last = exception_events[-1]["attributes"]
        if not any(kv["key"] == EXCEPTION_STACKTRACE for kv in last):
            last.append({"key": EXCEPTION_STACKTRACE, "value": {"stringValue": span.traceback}})
    start = _ns(span.started_at)
    end = None
    if span.duration_ms is not None:
        # Through the decimal texts of start and duration, so the duration survives the trip.
        end = int(
            (
                (Decimal(repr(float(span.started_at))) + Decimal(repr(float(span.duration_ms))))
                * 1_000_000
            ).to_integral_value()
        )
    if (
        span.status == "error"
        and not has_exception_event
        and (span.exception_type or span.traceback)
    ):
        # lens_fn keeps the exception in columns; OTLP readers look for an `exception` event.
        exc: dict[str, Any] = {EXCEPTION_TYPE: span.exception_type or "Exception"}
        if span.error_message:
            exc[EXCEPTION_MESSAGE] = span.error_message
        if span.traceback:
            exc[EXCEPTION_STACKTRACE] = span.traceback
        events.append(
            {
                "timeUnixNano": str(end or start),
                "name": EXCEPTION_EVENT,
                "attributes": key_values(exc),
            }
        )
    out: dict[str, Any] = {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": KIND_NUMBERS.get(span.kind or "", 0),
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end or 0),
        "attributes": key_values(attributes),
    }
    if span.parent_span_id:
        out["parentSpanId"] = span.parent_span_id
    if events:
        out["events"] = events
    links = _links(span)
    if links:
        out["links"] = links
    if span.status == "error":
        out["status"] = {"code": STATUS_ERROR, "message": span.error_message or ""}
    elif span.status == "ok" and has_exception_event:
        out["status"] = {"code": STATUS_OK}  # else the receiver would read the event as a failure
    else:
        out["status"] = {}
    return out


def trace_to_otlp(detail: TraceDetail) -> dict[str, Any]:
    """A trace as an OTLP JSON ExportTraceServiceRequest, one resource per service."""
    summary = detail.summary
    default_service = summary.service if summary is not None else None
    source = summary.source if summary is not None else None
    by_service: dict[str | None, list[dict[str, Any]]] = {}
    for span, _depth in span_order(detail.spans):
        by_service.setdefault(span.service or default_service, []).append(
            span_json(span, source if span.parent_span_id is None else None)
        )
    resource_spans = []
    for service, spans in by_service.items():
        resource = (
            {"attributes": key_values({SERVICE_KEY: service})} if service else {"attributes": []}
        )
        resource_spans.append(
            {
                "resource": resource,
                "scopeSpans": [
                    {"scope": {"name": "lens_tui", "version": __version__}, "spans": spans}
                ],
            }
        )
    return {"resourceSpans": resource_spans}
