"""The query language for traces, spans and logs (docs/query.md): parse once, then ask SQLite
(`condition()`, a peewee condition with bound parameters) or a live row (`matches()`)."""

from lens_tui.query.compiled import (
    LogQuery,
    SpanQuery,
    TraceQuery,
    compile_log_query,
    compile_span_query,
    compile_trace_query,
)
from lens_tui.query.errors import QueryError
from lens_tui.query.parser import parse

__all__ = [
    "LogQuery",
    "QueryError",
    "SpanQuery",
    "TraceQuery",
    "compile_log_query",
    "compile_span_query",
    "compile_trace_query",
    "parse",
]
