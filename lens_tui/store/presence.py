"""Which of the rows a dashboard holds are still in the file: deleted rows (`lens-tui prune`, a
writer's retention) must leave the screen, and the tail only ever sees rows come.

Two checks, both cheap enough for every refresh (bench/bench_refresh.py): the oldest trace start
and the oldest log time, by their indexes (retention deletes by age, so every held row older
than what is left is gone: this covers all held rows, on screen or not), and the ids the user
can see, by primary key (any other deletion of what is on screen). A record store is skipped:
its own writer owns its retention, and ours refuses to prune one.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from lens_tui.store.connection import Read
from lens_tui.store.decode import as_text
from lens_tui.store.reader import TraceReader

CHUNK = 500
"""Ids per `IN (…)`: well inside SQLite's parameter limit."""


@dataclass(frozen=True, slots=True)
class Presence:
    """What a refresh found of the rows a dashboard holds."""

    oldest_trace: float = -math.inf
    """Every trace started before this is gone (inf: none is left; -inf: unknown)."""
    oldest_log: float = -math.inf
    """Every log timestamped before this is gone (likewise)."""
    missing_traces: frozenset[str] = frozenset()
    """Of the trace ids asked about, those not in the file."""
    missing_logs: frozenset[int] = frozenset()
    """Of the log ids asked about, those not in the file."""

    def trace_gone(self, trace_id: str, started_at: float) -> bool:
        """Whether a held trace is not in the file any more (a start that did not decode
        reads as 0: only its id can tell)."""
        return trace_id in self.missing_traces or (0.0 != started_at < self.oldest_trace)

    def log_gone(self, log_id: int, timestamp: float) -> bool:
        """Whether a held log line is not in the file any more (likewise)."""
        return log_id in self.missing_logs or (0.0 != timestamp < self.oldest_log)

    @property
    def anything(self) -> bool:
        """Whether any held row might be gone."""
        return bool(
            self.missing_traces
            or self.missing_logs
            or self.oldest_trace > -math.inf
            or self.oldest_log > -math.inf
        )

    def then(self, later: Presence) -> Presence:
        """This check followed by `later` (rows held back while paused): the later bounds
        (the file as it is now), the ids missing from either."""
        return Presence(
            later.oldest_trace,
            later.oldest_log,
            self.missing_traces | later.missing_traces,
            self.missing_logs | later.missing_logs,
        )


def check(reader: TraceReader, trace_ids: Collection[str], log_ids: Collection[int]) -> Presence:
    """The oldest trace start and log time, and which of `trace_ids` and `log_ids` are not in
    the file, in one short read transaction. Blocking: call it from a worker thread."""
    with reader.read() as tx:
        if tx is None or tx.layout.record_store:
            return Presence()
        return Presence(
            _oldest(tx, "traces", "started_at"),
            _oldest(tx, "logs", "timestamp"),
            frozenset(trace_ids) - _present(tx, "traces", "trace_id", list(trace_ids), as_text),
            frozenset(log_ids) - _present(tx, "logs", "id", list(log_ids), int),
        )


def _oldest(tx: Read, table: str, column: str) -> float:
    """The smallest `column` of `table` when an index leads with it (O(log n)): inf for an empty
    table, -inf where no index serves it (a full scan per refresh is not worth it)."""
    if not tx.layout.has(table, column):
        return -math.inf
    indexed = tx.conn.execute(
        "SELECT 1 FROM pragma_index_list(?) AS l JOIN pragma_index_info(l.name) AS i"
        " WHERE i.seqno = 0 AND i.name = ? LIMIT 1",
        (table, column),
    ).fetchall()
    if not indexed:
        return -math.inf
    # NULLs sort first: a row without a time (which no bound can speak for) is found too.
    rows = tx.conn.execute(f'SELECT "{column}" FROM "{table}" ORDER BY "{column}" LIMIT 1')
    first = rows.fetchall()
    if not first:
        return math.inf  # none is left
    value = first[0][0]
    if type(value) not in (int, float):
        return -math.inf  # a time stored as text sorts after every number: no bound
    return float(value)


def _present(tx: Read, table: str, column: str, ids: list[Any], decode: Any) -> frozenset[Any]:
    """Those of `ids` that `table` holds, by its key (one lookup each)."""
    found: set[Any] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = tx.conn.execute(
            f'SELECT "{column}" FROM "{table}" WHERE "{column}" IN ({marks})', chunk
        ).fetchall()
        found.update(decode(row[0]) for row in rows)
    return frozenset(found)
