"""The writer's batches as OTLP protobuf (`ExportTraceServiceRequest`, `ExportLogsServiceRequest`).

Encoded by hand, field by field after opentelemetry-proto's `.proto` files, so a traced
application sends OTLP without protobuf or the OpenTelemetry packages installed (tests parse the
bytes with the real opentelemetry-proto). Input is what the writer's queue holds: EndedSpans
(tuples of ints and perf_counter times, see batch.py), ExternalSpans and LogItems.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Iterable
from typing import Any

from lens_tui import __version__
from lens_tui.otel.mapping import (
    CODE_FILE_KEYS,
    CODE_LINE_KEYS,
    EXCEPTION_EVENT,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
    KIND_NUMBERS,
    SERVICE_KEY,
    SOURCE_KEYS,
    STATUS_ERROR,
)
from lens_tui.tracing.external import ExternalSpan

_pack_q = struct.Struct("<Q").pack
_pack_d = struct.Struct("<d").pack
_pack_i = struct.Struct("<I").pack
_INT64 = range(-(2**63), 2**63)
_MAX_DEPTH = 8  # nested attribute values deeper than this go as their str()
_INTERNAL = KIND_NUMBERS["internal"]
SEVERITY_NUMBERS = {"debug": 5, "info": 9, "warn": 13, "error": 17}
"""OTLP SeverityNumber of each lens level (DEBUG, INFO, WARN, ERROR)."""
_FLAG_SAMPLED = 0x01
_FLAG_HAS_IS_REMOTE = 0x100
_FLAG_IS_REMOTE = 0x200
_SCOPE = (
    b"\x0a"
    + bytes((len(b"lens_tui"),))
    + b"lens_tui"
    + b"\x12"
    + bytes((len(__version__),))
    + __version__.encode()
)


def varint(value: int) -> bytes:
    """A non-negative int as a protobuf varint."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field (`tag` is the whole first byte: field number << 3 | 2)."""
    return bytes((tag,)) + varint(len(payload)) + payload


def _text(value: str) -> bytes:
    return value.encode("utf-8", "replace")


def any_value(value: Any, depth: int = 0) -> bytes:
    """An AnyValue message (string, bool, int, double, array, key-value list, bytes)."""
    if isinstance(value, str):
        return _field(0x0A, _text(value))
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if value in _INT64:
            return b"\x18" + varint(value & 0xFFFFFFFFFFFFFFFF)
        return _field(0x0A, _text(str(value)))
    if isinstance(value, float):
        return b"\x21" + _pack_d(value)
    if value is None:
        return b""
    if depth < _MAX_DEPTH:
        if isinstance(value, (list, tuple)):
            return _field(0x2A, b"".join(_field(0x0A, any_value(v, depth + 1)) for v in value))
        if isinstance(value, dict):
            return _field(0x32, key_values(value, 0x0A, depth + 1))
    if isinstance(value, (bytes, bytearray)):
        return _field(0x3A, bytes(value))
    return _field(0x0A, _text(str(value)))


def key_values(mapping: dict[Any, Any], tag: int, depth: int = 0) -> bytes:
    """Repeated KeyValue fields with the field tag `tag` (attributes: 0x4A in Span, 0x32 in LogRecord)."""
    out = []
    for key, value in mapping.items():
        kv = _field(0x0A, _text(str(key))) + _field(0x12, any_value(value, depth))
        out.append(bytes((tag,)) + varint(len(kv)) + kv)
    return b"".join(out)


def _as_list(value: Any) -> list[Any]:
    """Events or links as a list, whether given as one or as its JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return value if isinstance(value, list) else []


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _location(attributes: dict[str, Any], location: str | None) -> None:
    """`path:line` as OpenTelemetry's code attributes."""
    if not location:
        return
    path, _, line = location.rpartition(":")
    if path and line.isdigit():
        attributes.setdefault(CODE_FILE_KEYS[0], path)
        attributes.setdefault(CODE_LINE_KEYS[0], int(line))
    else:
        attributes.setdefault(CODE_FILE_KEYS[0], location)


def _event(name: str, time_ns: int, attributes: dict[str, Any]) -> bytes:
    body = b"\x09" + _pack_q(max(0, time_ns)) + _field(0x12, _text(name))
    if attributes:
        body += key_values(attributes, 0x1A)
    return _field(0x5A, body)


def _events(events: Any) -> list[bytes]:
    out = []
    for event in _as_list(events):
        if isinstance(event, dict):
            when = event.get("time", event.get("timestamp"))
            time_ns = int(when * 1_000_000) if isinstance(when, (int, float)) else 0
            out.append(
                _event(
                    str(event.get("name") or "event"), time_ns, _as_dict(event.get("attributes"))
                )
            )
    return out


def _links(links: Any) -> list[bytes]:
    out = []
    for link in _as_list(links):
        try:
            trace_id = bytes.fromhex(str(link["trace_id"]))
            span_id = bytes.fromhex(str(link["span_id"]))
        except (KeyError, TypeError, ValueError):
            continue
        if len(trace_id) == 16 and len(span_id) == 8:
            body = b"\x0a\x10" + trace_id + b"\x12\x08" + span_id
            body += key_values(_as_dict(link.get("attributes")), 0x22)
            out.append(_field(0x6A, body))
    return out


def encode_span(
    trace_id: bytes,
    span_id: bytes,
    parent_id: bytes | None,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    attributes: dict[str, Any],
    extra: list[bytes],
    error: str | None,
    remote_parent: bool,
) -> bytes:
    """One Span message, as the field of ScopeSpans (`extra`: encoded events and links)."""
    body = [b"\x0a\x10", trace_id, b"\x12\x08", span_id]
    if parent_id is not None:
        body += (b"\x22\x08", parent_id)
    body += (
        _field(0x2A, _text(name)),
        b"\x30",
        varint(kind),
        b"\x39",
        _pack_q(start_ns),
        b"\x41",
        _pack_q(end_ns),
    )
    if attributes:
        body.append(key_values(attributes, 0x4A))
    body += extra
    if error is not None:
        body.append(_field(0x7A, _field(0x12, _text(error)) + b"\x18" + varint(STATUS_ERROR)))
    flags = (
        _FLAG_SAMPLED
        | _FLAG_HAS_IS_REMOTE
        | (_FLAG_IS_REMOTE if remote_parent and parent_id else 0)
    )
    body += (b"\x85\x01", _pack_i(flags))
    return _field(0x12, b"".join(body))


def _exception_event(
    time_ns: int, exc_type: str | None, message: str | None, tb: str | None
) -> bytes:
    attrs: dict[str, Any] = {EXCEPTION_TYPE: exc_type or "Exception"}
    if message:
        attrs[EXCEPTION_MESSAGE] = message
    if tb:
        attrs[EXCEPTION_STACKTRACE] = tb
    return _event(EXCEPTION_EVENT, time_ns, attrs)


def ended_span(item: tuple[Any, ...], base_ms: float) -> bytes:
    """An EndedSpan (batch.ended_span's fields) as a Span; `base_ms` is epoch ms at perf_counter 0."""
    sid, tint, pid, name, t0, t1, attrs, location, extra = item
    start_ns = int((base_ms + t0 * 1000.0) * 1_000_000)
    end_ns = start_ns + int((t1 - t0) * 1_000_000_000)
    attributes = dict(attrs) if attrs else {}
    _location(attributes, location)
    parts: list[bytes] = []
    kind, error, remote = _INTERNAL, None, False
    if extra is not None:
        kind = KIND_NUMBERS.get(extra.kind or "", _INTERNAL)
        remote = extra.remote_parent
        if extra.source:
            attributes.setdefault(SOURCE_KEYS[1], extra.source)
        if extra.input_size is not None:
            attributes.setdefault("http.request.body.size", extra.input_size)
        if extra.output_size is not None:
            attributes.setdefault("http.response.body.size", extra.output_size)
        if extra.events:
            parts += _events(extra.events)
        if extra.status == "error":
            error = extra.error_message or extra.exception_type or "error"
            if extra.exception_type or extra.traceback:
                parts.append(
                    _exception_event(
                        end_ns, extra.exception_type, extra.error_message, extra.traceback
                    )
                )
    return encode_span(
        tint.to_bytes(16, "big"),
        sid.to_bytes(8, "big"),
        None if pid is None else pid.to_bytes(8, "big"),
        name,
        kind,
        start_ns,
        end_ns,
        attributes,
        parts,
        error,
        remote,
    )


def external_span(span: ExternalSpan) -> bytes | None:
    """An ended ExternalSpan as a Span (None while it runs: OTLP has no running spans)."""
    if span.duration_ms is None:
        return None
    start_ns = int(span.started_at * 1_000_000)
    end_ns = start_ns + int(span.duration_ms * 1_000_000)
    attributes = _as_dict(span.attributes)
    if span.source:
        attributes.setdefault(SOURCE_KEYS[1], span.source)
    parts = _events(span.events) + _links(span.links)
    error = None
    if span.status == "error":
        error = span.error_message or span.exception_type or "error"
        has_event = any(
            isinstance(e, dict) and e.get("name") == EXCEPTION_EVENT for e in _as_list(span.events)
        )
        if not has_event and (span.exception_type or span.traceback):
            parts.append(
                _exception_event(end_ns, span.exception_type, span.error_message, span.traceback)
            )
    return encode_span(
        bytes.fromhex(span.trace_id),
        bytes.fromhex(span.span_id),
        bytes.fromhex(span.parent_span_id) if span.parent_span_id else None,
        span.name,
        KIND_NUMBERS.get(span.kind or "", _INTERNAL),
        start_ns,
        end_ns,
        attributes,
        parts,
        error,
        span.remote_parent,
    )


def resource(service: str | None) -> bytes:
    """A Resource message: the service and what produced the data."""
    return key_values(
        {
            SERVICE_KEY: service or "unknown_service:python",
            "telemetry.sdk.name": "lens_tui",
            "telemetry.sdk.language": "python",
            "telemetry.sdk.version": __version__,
            "host.name": socket.gethostname(),
            "process.pid": os.getpid(),
        },
        0x0A,
    )


def trace_request(spans_by_service: dict[str | None, list[bytes]]) -> bytes:
    """An ExportTraceServiceRequest of encoded Span fields, one ResourceSpans per service."""
    out = []
    for service, spans in spans_by_service.items():
        scope_spans = _field(0x0A, _SCOPE) + b"".join(spans)
        out.append(_field(0x0A, _field(0x0A, resource(service)) + _field(0x12, scope_spans)))
    return b"".join(out)


def log_record(item: tuple[Any, ...]) -> bytes:
    """A LogItem (writer.log's fields) as a LogRecord field of ScopeLogs."""
    level, message, ts, trace_int, span_int, _logger, location, attrs, exc_type, tb, *_rest = item
    time_ns = int(ts * 1_000_000)
    attributes = dict(attrs) if attrs else {}
    _location(attributes, location)
    if exc_type:
        attributes.setdefault(EXCEPTION_TYPE, exc_type)
    if tb:
        attributes.setdefault(EXCEPTION_STACKTRACE, tb)
    body = [
        b"\x09",
        _pack_q(time_ns),
        b"\x59",
        _pack_q(time_ns),
        b"\x10",
        varint(SEVERITY_NUMBERS.get(level, 9)),
    ]
    body += (_field(0x1A, _text(level.upper())), _field(0x2A, any_value(message)))
    if attributes:
        body.append(key_values(attributes, 0x32))
    if trace_int:
        body += (b"\x45", _pack_i(_FLAG_SAMPLED), b"\x4a\x10", trace_int.to_bytes(16, "big"))
        if span_int:
            body += (b"\x52\x08", span_int.to_bytes(8, "big"))
    return _field(0x12, b"".join(body))


def logs_request(items: Iterable[tuple[Any, ...]], service: str | None) -> bytes:
    """An ExportLogsServiceRequest: one ResourceLogs per service, one ScopeLogs per logger."""
    grouped: dict[str | None, dict[str | None, list[bytes]]] = {}
    for item in items:
        own = item[10] if len(item) > 10 and item[10] else service
        grouped.setdefault(own, {}).setdefault(item[5], []).append(log_record(item))
    out = []
    for svc, loggers in grouped.items():
        scopes = b"".join(
            _field(
                0x12,
                (_field(0x0A, _field(0x0A, _text(logger))) if logger else b"") + b"".join(records),
            )
            for logger, records in loggers.items()
        )
        out.append(_field(0x0A, _field(0x0A, resource(svc)) + scopes))
    return b"".join(out)
