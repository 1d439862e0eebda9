"""lens_tui.tracing: record spans and logs of a Python application into a lens trace database.

Never imports textual or rich; never raises into, nor blocks, the traced application.
"""

from lens_tui.tracing.api import configure, flush, get_store, lens_fn, shutdown, span
from lens_tui.tracing.context import SpanHandle, current_span
from lens_tui.tracing.http_clients import instrument_httpx, instrument_requests
from lens_tui.tracing.loghandler import HumanFormatter, JsonFormatter, LogHandler, install_logging
from lens_tui.tracing.middleware import LensMiddleware
from lens_tui.tracing.propagation import SpanContext, extract, inject, use_context
from lens_tui.tracing.retention import PruneResult
from lens_tui.tracing.writer import TraceStore, TraceWriter

__all__ = [
    "HumanFormatter",
    "JsonFormatter",
    "LensMiddleware",
    "LogHandler",
    "PruneResult",
    "SpanContext",
    "SpanHandle",
    "TraceStore",
    "TraceWriter",
    "configure",
    "current_span",
    "extract",
    "flush",
    "get_store",
    "inject",
    "install_logging",
    "instrument_httpx",
    "instrument_requests",
    "lens_fn",
    "shutdown",
    "span",
    "use_context",
]
