"""`Layout`: which tables and columns an open trace database has, as its queries must know.

Files differ: the original LENS core's layout lacks status, counts and updated_at; ours grew
columns by schema version; a foreign writer may add or omit some. Queries select NULL for a
missing column and filters fall back to what the file can answer. A record store (the dispatch
trace store, `lens_tui.store.record_layout`) is read through views named as our tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Layout:
    """Table name -> its column names, whether spans have an index led by trace_id, and
    whether the file is a record store (its tables are views over `records`)."""

    columns: Mapping[str, frozenset[str]] = field(default_factory=dict)
    spans_indexed_by_trace: bool = False
    record_store: bool = False

    def has(self, table: str, column: str) -> bool:
        """Whether `table` exists and has `column`."""
        return column in self.columns.get(table, frozenset())

    def has_table(self, table: str) -> bool:
        """Whether `table` exists."""
        return table in self.columns
