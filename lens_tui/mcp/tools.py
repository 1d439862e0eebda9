"""The answers behind the MCP tools: read-only, bounded, and plain JSON-ready data.

Every call opens the database, reads, and closes it again, so a server that runs for hours
holds no read transaction and follows a file that was replaced under it. Bad arguments raise
`ToolInputError` with a message meant for the agent to read and act on.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lens_tui import export
from lens_tui.cli import CliError
from lens_tui.cli_stats import parse_time
from lens_tui.query import QueryError, compile_log_query, compile_trace_query
from lens_tui.query.run import find_logs, find_traces
from lens_tui.store.filters import TraceFilter
from lens_tui.store.reader import OpenError, TraceReader
from lens_tui.store.records import SpanRow, TraceDetail, TraceSummary
from lens_tui.store.stats.groups import GROUP_BYS
from lens_tui.store.stats.sql import route_stats
from lens_tui.trace_ids import find_trace

MAX_LIMIT = 200
"""Most rows one search returns: an agent's context is the scarce resource."""
DEFAULT_MAX_SPANS = 500
MAX_SPANS = 5000
TRACEBACK_LINES = 12
"""Lines of a traceback `recent_errors` keeps: its last ones, where the exception is."""


class ToolInputError(ValueError):
    """An argument the tool cannot use; the message says what to send instead."""


def _bounded(limit: object, default: int, most: int, name: str = "limit") -> int:
    try:
        value = int(limit) if limit is not None else default  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ToolInputError(f"{name} must be a whole number, got {limit!r}") from None
    if value < 1:
        raise ToolInputError(f"{name} must be at least 1, got {value}")
    return min(value, most)


def trace_summary(summary: TraceSummary) -> dict[str, Any]:
    """A trace as one search result (the fields of `lens-tui query --format jsonl`)."""
    return export.summary_fields(summary)


class TraceTools:
    """The MCP tools' answers over one database file."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def _reader(self) -> TraceReader:
        reader = TraceReader(self.db)
        try:
            reader.open()
        except OpenError as exc:
            reader.close()
            raise ToolInputError(str(exc)) from None
        return reader

    def resolve(self, reader: TraceReader, trace_id: object) -> str:
        """A full trace id from an id, a unique prefix or a unique tail of one."""
        text = str(trace_id or "").strip()
        if not text:
            raise ToolInputError(
                "trace_id is empty: pass an id (or a unique prefix) from search_traces"
            )
        match = find_trace(reader, text, shown=10)
        if match.trace_id is not None:
            return match.trace_id
        if not match.total:
            raise ToolInputError(f"no trace {text!r} in {self.db}")
        shown = ", ".join(t.trace_id for t in match.candidates) + (
            " and more" if match.more else ""
        )
        raise ToolInputError(f"trace id {text!r} matches several traces: {shown}")

    def get_trace(
        self, trace_id: str, format: str = "tree", max_spans: int | None = None
    ) -> dict[str, Any]:
        """One trace as `lens-tui show` prints it (tree or json), cut to `max_spans` spans."""
        if format not in ("tree", "json"):
            raise ToolInputError(f"format must be 'tree' or 'json', got {format!r}")
        most = _bounded(max_spans, DEFAULT_MAX_SPANS, MAX_SPANS, "max_spans")
        reader = self._reader()
        try:
            full_id = self.resolve(reader, trace_id)
            detail = reader.trace(full_id)
            logs = reader.logs(trace_id=full_id, limit=20_000)
        finally:
            reader.close()
        total = len(detail.spans)
        note = None
        if total > most:
            kept = [span for span, _depth in export.span_order(detail.spans)[:most]]
            kept_ids = {span.span_id for span in kept}
            detail = TraceDetail(detail.summary, tuple(kept))
            logs = [log for log in logs if log.span_id in kept_ids or log.span_id is None]
            note = (
                f"showing the first {most:,} of {total:,} spans in tree order; ask again with "
                f"max_spans up to {MAX_SPANS:,}, or run `lens-tui show {full_id} --format json` "
                "for all of them"
            )
        answer: dict[str, Any] = {
            "trace_id": full_id,
            "span_count": total,
            "spans_shown": len(detail.spans),
        }
        if format == "tree":
            answer["tree"] = export.render_tree(detail, logs)
        else:
            answer["trace"] = export.to_json(detail, logs)
        if note:
            answer["note"] = note
        return answer

    def search_traces(self, query: str = "", limit: int | None = 20) -> list[dict[str, Any]]:
        """The newest traces a trace query keeps (the fields of `lens-tui query --format jsonl`)."""
        count = _bounded(limit, 20, MAX_LIMIT)
        compiled = _compiled(compile_trace_query, query)
        reader = self._reader()
        try:
            return [export.summary_fields(t) for t in find_traces(reader, compiled, limit=count)]
        finally:
            reader.close()

    def search_logs(self, query: str = "", limit: int | None = 50) -> list[dict[str, Any]]:
        """The newest logs a log query keeps, oldest of them first (`lens-tui logs` jsonl)."""
        count = _bounded(limit, 50, MAX_LIMIT)
        compiled = _compiled(compile_log_query, query)
        reader = self._reader()
        try:
            return [export.log_fields(log) for log in find_logs(reader, compiled, limit=count)]
        finally:
            reader.close()

    def trace_stats(
        self, query: str = "", since: str = "15m", by: str = "service,name"
    ) -> list[dict[str, Any]]:
        """Per-route count, rate, errors and exact percentiles (`lens-tui stats --format json`)."""
        if by not in GROUP_BYS:
            raise ToolInputError(f"by must be one of {', '.join(GROUP_BYS)}, got {by!r}")
        now_ms = time.time() * 1000.0
        if str(since).strip().lower() == "all":
            since_ms = None
        else:
            try:
                since_ms = parse_time(str(since), now_ms, option="since")
            except CliError as exc:
                raise ToolInputError(str(exc)) from None
        where = _compiled(compile_trace_query, query) if str(query or "").strip() else None
        reader = self._reader()
        try:
            rows = route_stats(
                reader,
                since_ms=since_ms,
                until_ms=now_ms,
                by=by,
                where=where,  # type: ignore[arg-type]
                now_ms=now_ms,
            )
        finally:
            reader.close()
        return [row.as_dict() for row in rows]

    def recent_errors(self, limit: int | None = 10) -> list[dict[str, Any]]:
        """The newest failed traces, each with its failing span, error and traceback's end."""
        count = _bounded(limit, 10, 50)
        reader = self._reader()
        try:
            failed = reader.recent_traces(count, where=TraceFilter(errors_only=True))
            answers = []
            for summary in failed:
                detail = reader.trace(summary.trace_id)
                answers.append({**trace_summary(summary), **_failure(detail.spans)})
        finally:
            reader.close()
        return answers


def _compiled(compile: Any, query: object) -> Any:
    """A query compiled, or the one-line problem as a tool error (docs/query.md is the
    language)."""
    try:
        return compile(str(query or ""))
    except QueryError as exc:
        raise ToolInputError(f"bad query: {exc.line()}") from None


def _failure(spans: tuple[SpanRow, ...]) -> dict[str, Any]:
    """The span that failed deepest (the cause, not the callers it failed through)."""
    failed = [span for span in spans if span.status == "error"]
    if not failed:
        return {"failing_span": None, "error": None, "traceback": None}
    parents = {span.parent_span_id for span in failed}
    leaves = [span for span in failed if span.span_id not in parents] or failed
    cause = min(leaves, key=lambda span: span.started_at)
    tail = None
    if cause.traceback:
        lines = cause.traceback.rstrip().splitlines()
        tail = "\n".join(lines[-TRACEBACK_LINES:])
    message = cause.error_message
    if cause.exception_type and message:
        message = f"{cause.exception_type}: {message}"
    return {
        "failing_span": {"span_id": cause.span_id, "name": cause.name, "service": cause.service},
        "error": message or cause.exception_type,
        "traceback": tail,
    }
