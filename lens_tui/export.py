"""Export one trace as an indented text tree (seed 002's "easy view") or as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from lens_tui import humanize
from lens_tui.forest import build_forest
from lens_tui.levels import LEVEL_NAME_KEY, level_label
from lens_tui.store.records import LogRow, SpanRow, TraceDetail, TraceSummary
from lens_tui.text import visible


def format_duration(ms: float | None) -> str:
    """`850µs`, `12.3ms`, `4.20s`, `3m05s`; `running` for None."""
    return "running" if ms is None else humanize.duration(ms)


def format_time(epoch_ms: float, *, with_date: bool = False) -> str:
    """Local `HH:MM:SS.mmm` (with the date when asked); `?(value)` for a time no clock can show."""
    return humanize.clock_time_or_date(epoch_ms, with_date=with_date)


def span_order(spans: Iterable[SpanRow]) -> list[tuple[SpanRow, int]]:
    """Spans in depth-first order with their depth, by the dashboard's own tree
    (`lens_tui.forest`): orphans and spans caught in a parent cycle at the top level, a
    repeated span id shown once, no recursion limit."""
    forest = build_forest(spans)
    return [(forest.spans[node], forest.depth[node]) for node in forest.order]


MAX_INDENT_DEPTH = 40
"""Deeper spans are not indented further (a 10,000-deep chain would be 100 MB of spaces)."""


def _indent(depth: int) -> str:
    if depth <= MAX_INDENT_DEPTH:
        return "  " * (depth + 1)
    return "  " * MAX_INDENT_DEPTH + f"┆{depth}┆ "


def render_tree(detail: TraceDetail, logs: Iterable[LogRow] = ()) -> str:
    """The trace as an indented text tree: names, durations, errors, and logs under their spans."""
    logs_by_span: dict[str | None, list[LogRow]] = {}
    for log in logs:
        logs_by_span.setdefault(log.span_id, []).append(log)
    summary = detail.summary
    lines: list[str] = []
    if summary is not None:
        head = f"trace {summary.trace_id}  {visible(summary.root_span_name, 200)}"
        head += f"  {format_duration(summary.duration_ms)}"
        if summary.started_at:
            head += f"  started {format_time(summary.started_at, with_date=True)}"
        if summary.error_count:
            head += f"  {summary.error_count} error{'s' if summary.error_count != 1 else ''}"
        lines.append(head)
    known = {s.span_id for s in detail.spans}
    for span, depth in span_order(detail.spans):
        pad = _indent(depth)
        mark = "✗ " if span.status == "error" else ("… " if span.status == "running" else "")
        line = f"{pad}{mark}{visible(span.name, 200)}  {format_duration(span.duration_ms)}"
        if span.service:
            line += f"  [{visible(span.service, 60)}]"
        lines.append(line)
        if span.status == "error" and span.error_message:
            kind = f"{visible(span.exception_type, 80)}: " if span.exception_type else ""
            lines.append(f"{pad}    ! {kind}{visible(span.error_message, 500)}")
        for log in logs_by_span.get(span.span_id, ()):
            lines.extend(_log_lines(log, f"{pad}    "))
    stray = [log for key, items in logs_by_span.items() if key not in known for log in items]
    if stray:
        lines.append("  (logs outside any span)")
        for log in stray:
            lines.extend(_log_lines(log, "    "))
    return "\n".join(lines) + "\n"


MAX_TRACEBACK_LINES = 200
"""A logged traceback longer than this shows its first and last lines (the cause is last)."""


def _log_lines(log: LogRow, pad: str) -> list[str]:
    """A log line, and under it the traceback it was logged with (or its exception type)."""
    kept = _decoded(log.attributes) if log.attributes and LEVEL_NAME_KEY in log.attributes else None
    label = visible(level_label(log.level, kept), 20).upper()
    lines = [f"{pad}{label:<5} {visible(log.message, 500)}"]
    if log.traceback:
        tb = visible(log.traceback, keep_newlines=True).rstrip("\n").split("\n")
        if len(tb) > MAX_TRACEBACK_LINES:
            half = MAX_TRACEBACK_LINES // 2
            tb = [*tb[:half], f"┆ {len(tb) - 2 * half} more lines ┆", *tb[-half:]]
        lines.extend(f"{pad}      {visible(line, 1000)}" for line in tb)
    elif log.exception_type:
        lines.append(f"{pad}      ! {visible(log.exception_type, 200)}")
    return lines


def _decoded(raw: str | None) -> Any:
    """A stored JSON column as data (None when empty; undecodable text kept as it is)."""
    if raw is None or raw == "":
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def span_attributes(span: SpanRow) -> dict[str, Any]:
    """A span's attributes decoded from their stored JSON (undecodable values kept as text)."""
    out: dict[str, Any] = {}
    for key, raw in span.attributes:
        try:
            out[key] = json.loads(raw)
        except (TypeError, ValueError):
            out[key] = raw
    return out


FORMAT_VERSION = 1
"""The `version` of the JSON documents (`show --format json`, `services --format json`, MCP's
`get_trace`): raised when a key changes meaning or goes away; new keys do not raise it
(docs/formats.md)."""


def to_json(detail: TraceDetail, logs: Iterable[LogRow] = ()) -> dict[str, Any]:
    """The trace as plain JSON-ready data (the same fields the database holds)."""
    summary = detail.summary
    return {
        "version": FORMAT_VERSION,
        "trace": None
        if summary is None
        else {
            "trace_id": summary.trace_id,
            "root_span_name": summary.root_span_name,
            "source": summary.source,
            "service": summary.service,
            "started_at": summary.started_at,
            "ended_at": summary.ended_at,
            "duration_ms": summary.duration_ms,
            "span_count": summary.span_count,
            "error_count": summary.error_count,
            "status": summary.status,
        },
        "spans": [
            {
                "span_id": s.span_id,
                "parent_span_id": s.parent_span_id,
                "name": s.name,
                "started_at": s.started_at,
                "duration_ms": s.duration_ms,
                "status": s.status,
                "service": s.service,
                "kind": s.kind,
                "error_message": s.error_message,
                "exception_type": s.exception_type,
                "traceback": s.traceback,
                "attributes": span_attributes(s),
                "events": _decoded(s.events) or [],
                "links": _decoded(s.links) or [],
                "input_size": s.input_size,
                "output_size": s.output_size,
                "source_location": s.source_location,
            }
            for s, _depth in span_order(detail.spans)
        ],
        "logs": [
            {
                "id": log.id,
                "span_id": log.span_id,
                "level": log.level,
                "message": log.message,
                "timestamp": log.timestamp,
                "logger": log.logger,
                "service": log.service,
                "source_location": log.source_location,
                "attributes": _decoded(log.attributes) or {},
                "exception_type": log.exception_type,
                "traceback": log.traceback,
            }
            for log in logs
        ],
    }


def summary_fields(summary: TraceSummary) -> dict[str, Any]:
    """A trace's summary as JSON-ready fields: a line of `lens-tui query --format jsonl`."""
    return {
        "trace_id": summary.trace_id,
        "root_span_name": summary.root_span_name,
        "service": summary.service,
        "started_at": summary.started_at,
        "duration_ms": summary.duration_ms,
        "status": summary.status,
        "span_count": summary.span_count,
        "error_count": summary.error_count,
    }


def log_fields(log: LogRow) -> dict[str, Any]:
    """One log as JSON-ready fields: a line of `lens-tui logs --format jsonl`. `attributes` is
    always an object: stored text that is none is kept under "(unparsed)"."""
    attributes = _decoded(log.attributes)
    if attributes is None:
        attributes = {}
    elif not isinstance(attributes, dict):
        attributes = {"(unparsed)": log.attributes}
    return {
        "id": log.id,
        "timestamp": log.timestamp,
        "level": log.level,
        "message": log.message,
        "logger": log.logger,
        "service": log.service,
        "trace_id": log.trace_id,
        "span_id": log.span_id,
        "attributes": attributes,
    }
