"""The read side's queries by table: each function takes a `Database`, reads inside one short
transaction (`Database.read`) and returns records; `lens_tui.store.reader.TraceReader` is
their one front door.
"""

from __future__ import annotations

MAX_LIST_LIMIT = 100_000
"""The most rows one list query returns, whatever limit it is asked for."""


def bounded(limit: int) -> int:
    """A caller's row limit within 1 .. MAX_LIST_LIMIT."""
    return max(1, min(int(limit), MAX_LIST_LIMIT))
