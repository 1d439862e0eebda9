"""`lens-tui mcp`: the trace store served to coding agents over the Model Context Protocol.

`tools` answers each question as plain JSON-ready data (no MCP import, testable alone);
`server` registers those answers as MCP tools on the official SDK and runs them on stdio.
"""
