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
from lens_tui.mcp.tools import TraceTools, ToolInputError

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
    server = MCPServer("lens-tui", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

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
    def recent_errors(limit: int = 10) -> list[dict[str, Any]]:
        """The newest failed traces, each with the span that failed (the deepest failure), its
        error message and the last lines of its traceback."""
        return answer(tools.recent_errors, limit)

    return server


def run(db: Path) -> int:
    """Serve on stdio until the client closes the connection."""
    build(db).run("stdio")
    return 0
