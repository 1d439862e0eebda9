"""The service map: which service calls which, how often, how often it fails, how slowly.

An edge X → Y is a client span of service X whose child is a server span of service Y (the
two spans usually come from two processes, joined by W3C trace context). Per edge over a time
window: the number of calls, the share that failed (either side's span failed: a 5xx or an
exception) and the 95th percentile of the call's duration as the caller saw it (its client
span; the server span's while the client span is still running).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lens_tui.store.reader import TraceReader
from lens_tui.store.stats.sketch import nearest_rank

UNNAMED = "(no service)"
"""How a span without a service is named on the map."""

_NEEDED = frozenset(("kind", "service", "status", "parent_span_id", "duration_ms"))

# From the traces of the window (idx_traces_started_at), their server spans (idx_spans_trace_id),
# each one's parent by primary key: no scan of the whole spans table.
_CALLS = """
SELECT c.service, s.service, c.status, s.status, c.duration_ms, s.duration_ms
FROM traces t
JOIN spans s ON s.trace_id = t.trace_id
JOIN spans c ON c.span_id = s.parent_span_id
WHERE t.started_at >= ?1 AND t.started_at < ?2 AND s.kind = 'server' AND c.kind = 'client'
"""


@dataclass(frozen=True, slots=True)
class Edge:
    """Calls from one service to another over the window."""

    caller: str
    callee: str
    calls: int
    errors: int
    p95_ms: float | None
    """None when no call of the edge has a duration yet (all still running)."""

    @property
    def error_rate(self) -> float:
        """The share of calls that failed, 0..1."""
        return self.errors / self.calls if self.calls else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The edge as plain JSON values."""
        return {
            "caller": self.caller,
            "callee": self.callee,
            "calls": self.calls,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "p95_ms": self.p95_ms,
        }


@dataclass(frozen=True, slots=True)
class ServiceMap:
    """The edges of a window (busiest first) and every service that takes part in one."""

    since_ms: float
    until_ms: float
    edges: tuple[Edge, ...]

    @property
    def services(self) -> tuple[str, ...]:
        """The services on the map, sorted."""
        return tuple(sorted({e.caller for e in self.edges} | {e.callee for e in self.edges}))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank `q`-th percentile (0 < q <= 100) of `values`, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[nearest_rank(q / 100.0, len(ordered)) - 1])


def edges_of(calls: Iterable[Sequence[Any]]) -> list[Edge]:
    """Edges from call rows (caller service, callee service, client status, server status,
    client duration ms, server duration ms), busiest first, then by name."""
    grouped: dict[tuple[str, str], tuple[list[int], list[float]]] = {}
    for caller, callee, client_status, server_status, client_ms, server_ms in calls:
        key = (str(caller) if caller else UNNAMED, str(callee) if callee else UNNAMED)
        counts, durations = grouped.setdefault(key, ([0, 0], []))
        counts[0] += 1
        if client_status == "error" or server_status == "error":
            counts[1] += 1
        took = client_ms if client_ms is not None else server_ms
        if isinstance(took, (int, float)) and math.isfinite(took):
            durations.append(float(took))
    edges = [
        Edge(caller, callee, counts[0], counts[1], percentile(durations, 95))
        for (caller, callee), (counts, durations) in grouped.items()
    ]
    edges.sort(key=lambda e: (-e.calls, e.caller, e.callee))
    return edges


def service_map(
    reader: TraceReader, since_ms: float = 0.0, until_ms: float = math.inf
) -> ServiceMap:
    """The map of the traces that started in [since_ms, until_ms) (epoch ms), read in one short
    transaction. A database without span kinds and services (the original LENS layout) has no
    edges. OpenError as the reader raises it."""
    reader.rows("SELECT 1")  # opens the file and learns its columns
    spans = reader.columns.get("spans", frozenset())
    if not _NEEDED <= spans or "started_at" not in reader.columns.get("traces", frozenset()):
        return ServiceMap(since_ms, until_ms, ())
    upper = until_ms if math.isfinite(until_ms) else 1e300  # SQLite binds no infinity
    return ServiceMap(since_ms, until_ms, tuple(edges_of(reader.rows(_CALLS, (since_ms, upper)))))
