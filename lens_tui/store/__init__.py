"""The read side of the trace database: validation, queries and change detection (no UI imports)."""
