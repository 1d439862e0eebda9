"""What the statistics are grouped by and what they report: route keys, the per-route row, and
the rules (error, running) that the SQL and the live aggregator share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

GroupBy = Literal["service", "name", "service,name"]
GROUP_BYS: tuple[GroupBy, ...] = ("service,name", "service", "name")
"""The ways to group traces: by their root span's service, name, or both (the default)."""
PERCENTILES = (0.50, 0.90, 0.95, 0.99)
"""The quantiles every row reports, as p50_ms, p90_ms, p95_ms and p99_ms."""


class TraceLike(Protocol):
    """What grouping and counting read from a trace row (a `TraceSummary` has all of it)."""

    @property
    def trace_id(self) -> str: ...
    @property
    def root_span_name(self) -> str: ...
    @property
    def service(self) -> str | None: ...
    @property
    def started_at(self) -> float: ...
    @property
    def duration_ms(self) -> float | None: ...
    @property
    def status(self) -> str: ...
    @property
    def error_count(self) -> int | None: ...


def is_running(trace: TraceLike) -> bool:
    """A trace without a (finite) duration yet: counted in `running`, never as a duration."""
    return trace.duration_ms is None


@dataclass(frozen=True, slots=True)
class RouteKey:
    """The group of a trace: its root span's service and/or name, as `by` says.

    A missing root name is '' (the reader shows NULL and '' alike); a missing service is None.
    The field not grouped by is None and plays no part."""

    by: GroupBy
    service: str | None
    name: str | None

    @classmethod
    def of(cls, by: GroupBy, trace: TraceLike) -> RouteKey:
        """The key of `trace` when grouping by `by`."""
        return cls(
            by,
            trace.service if "service" in by else None,
            (trace.root_span_name or "") if by != "service" else None,
        )

    def matches(self, trace: TraceLike) -> bool:
        """True when `trace` belongs to this group."""
        if "service" in self.by and trace.service != self.service:
            return False
        return self.by == "service" or (trace.root_span_name or "") == self.name

    def fields(self) -> dict[str, str | None]:
        """The group keys as JSON fields: `service` and/or `name`."""
        out: dict[str, str | None] = {}
        if "service" in self.by:
            out["service"] = self.service
        if self.by != "service":
            out["name"] = self.name
        return out

    def sort_key(self) -> tuple[str, str]:
        """An order for keys that never compares None with text."""
        return (self.service or "", self.name or "")


def key_function(by: GroupBy) -> Callable[[TraceLike], tuple[str | None, ...]]:
    """A fast key of a trace row as a plain tuple (the aggregator's dictionary key);
    `RouteKey(by, *key)` is the same group."""
    if by == "service":
        return lambda t: (t.service, None)
    if by == "name":
        return lambda t: (None, t.root_span_name or "")
    return lambda t: (t.service, t.root_span_name or "")


@dataclass(frozen=True, slots=True)
class RouteStats:
    """One group's numbers over a window of trace start times.

    `count` is every trace that started in the window, `running` those without a duration yet
    (their durations are not in the percentiles), `errors` those that failed (running or not).
    Percentiles are over the `count - running` finished traces: nearest rank, exact from SQL,
    within the sketch's relative error from the live aggregator; None when none finished."""

    key: RouteKey
    count: int
    running: int
    errors: int
    rate_per_s: float
    error_rate: float
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    def as_dict(self) -> dict[str, object]:
        """The JSON object of `lens-tui stats --format json`."""
        return {
            **self.key.fields(),
            "count": self.count,
            "rate_per_s": self.rate_per_s,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "running": self.running,
        }


def route_stats_row(
    key: RouteKey,
    count: int,
    running: int,
    errors: int,
    window_s: float,
    percentiles: list[float | None],
    max_ms: float | None,
) -> RouteStats:
    """A RouteStats with its rates derived (a window of no length has no rate: 0)."""
    return RouteStats(
        key=key,
        count=count,
        running=running,
        errors=errors,
        rate_per_s=count / window_s if window_s > 0 else 0.0,
        error_rate=errors / count if count else 0.0,
        p50_ms=percentiles[0],
        p90_ms=percentiles[1],
        p95_ms=percentiles[2],
        p99_ms=percentiles[3],
        max_ms=max_ms,
    )
