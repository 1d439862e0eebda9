"""The MCP server: `TraceTools`' answers registered as tools on the official SDK, on stdio.

stdout carries MCP's JSON-RPC and nothing else: nothing here prints, and the SDK's own logging
goes to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from lens_tui import __version__
from lens_tui.mcp.tools import ToolInputError, TraceTools

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

INSTRUCTIONS = (
    "Read-only access to a lens trace database: traces (a request and its spans, with errors and "
    "tracebacks) and logs. Start with recent_errors or search_traces, then get_trace on an id."
)


def build(db: Path) -> MCPServer:
    """An MCP server answering from `db`."""
    tools = TraceTools(db)
    server = MCPServer(
        "lens-tui", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )

    def answer(call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except ToolInputError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(annotations=READ_ONLY)
    def get_trace(trace_id: str, format: str = "tree", max_spans: int = 500) -> dict[str, Any]:
        """One trace: its spans as an indented tree with durations, services, errors and
        tracebacks, and logs under their spans (format "tree"), or as JSON (format "json").
        A unique prefix of the id is enough. Huge traces are cut to max_spans with a note."""
        return answer(tools.get_trace, trace_id, format, max_spans)

    @server.tool(annotations=READ_ONLY)
    def search_traces(query: str = "", limit: int = 20) -> list[dict[str, Any]]:
        """The newest traces a trace query keeps, newest first: id, root span name, service,
        start (epoch ms), duration, status, span and error counts. Queries: `checkout` (root
        name contains), `status = error`, `duration > 250ms`, `service = "api"`,
        `attr.http.status_code >= 500`, `{ name = "db.query" and duration > 50ms }` (one span
        of the trace), `since 15m`, combined with and / or / not and parentheses."""
        return answer(tools.search_traces, query, limit)

    @server.tool(annotations=READ_ONLY)
    def search_logs(query: str = "", limit: int = 50) -> list[dict[str, Any]]:
        """The newest logs a log query keeps, oldest of them first, with their trace and span
        ids. Queries: words the message contains, `level >= warn`, `logger = "shop.db"`,
        `message ~ "timeout"`, `service = "api"`, `attr.request_id = "r-17"`, `trace = 01a25`
        (an id prefix), `since 5m`, combined with and / or / not."""
        return answer(tools.search_logs, query, limit)

    @server.tool(annotations=READ_ONLY)
    def trace_stats(
        query: str = "", since: str = "15m", by: str = "service,name"
    ) -> list[dict[str, Any]]:
        """Per route (root span's service and name; `by` "service" or "name" to group
        coarser): count, rate per second, errors, error rate, exact nearest-rank p50/p90/p95/
        p99 and max in ms, and traces still running, over the traces started since `since`
        (15m, 2h, 7d, a local time 10:30, an ISO time, or all)."""
        return answer(tools.trace_stats, query, since, by)

    @server.tool(annotations=READ_ONLY)
    def recent_errors(limit: int = 10) -> list[dict[str, Any]]:
        """The newest failed traces, each with the span that failed (the deepest failure), its
        error message and the last lines of its traceback."""
        return answer(tools.recent_errors, limit)

    return server


def run(db: Path) -> int:
    """Serve on stdio until the client closes the connection."""
    build(db).run("stdio")
    return 0
