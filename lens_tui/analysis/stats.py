"""Trace statistics: per (service, span name) counts, total and self time, like Jaeger's table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from operator import sub

from lens_tui.analysis.columns import SpanLabels, span_ends
from lens_tui.forest import SpanForest, self_times

SORT_KEYS = ("self", "total", "count", "avg", "min", "max", "share", "name", "service")
"""Columns a statistics table can be sorted by (`share` orders as `self` does)."""


def self_times_at(forest: SpanForest, ends: Sequence[float]) -> list[float]:
    """Node -> its duration minus the union of its children's intervals clipped to it.

    `ends` is `span_ends(forest, now)`, so a running span counts the time so far and a running
    child covers its parent up to that moment. Children that overlap are counted once; a child
    that starts before its parent or outlives it (async work) covers only the part inside the
    parent; top-level spans (roots, orphans, cut cycles) are covered by nothing. This is the
    waterfall's own rule (`self_times`), applied with every span's duration known."""
    timed = replace(forest, durations=list(map(sub, ends, forest.starts)), _subtrees=None)
    return self_times(timed)  # type: ignore[return-value]  # no duration is None here


@dataclass(frozen=True, slots=True)
class StatRow:
    """One (service, span name) group of a trace's spans."""

    service: str | None
    name: str
    count: int
    total_ms: float
    """Summed durations (a running span: its time so far)."""
    self_ms: float
    """Summed self times."""
    avg_ms: float
    min_ms: float
    max_ms: float
    share: float
    """`self_ms` as a fraction of the trace's duration (the shares of a trace without gaps
    or async spans outliving their parents add up to 1)."""
    running: int
    """How many of the group's spans are still running."""
    nodes: tuple[int, ...]
    """The group's spans as forest nodes, in start order (for n/N in a waterfall)."""

    def as_json(self) -> dict[str, object]:
        """The row as the CLI's JSON prints it."""
        return {
            "service": self.service,
            "name": self.name,
            "count": self.count,
            "total_ms": self.total_ms,
            "self_ms": self.self_ms,
            "avg_ms": self.avg_ms,
            "min_ms": self.min_ms,
            "max_ms": self.max_ms,
            "share": self.share,
            "running": self.running,
        }


@dataclass(frozen=True, slots=True)
class TraceStats:
    """A trace's statistics table and what its shares are relative to."""

    rows: tuple[StatRow, ...]
    trace_ms: float
    """From the earliest start to the latest end (running spans end at `now`)."""
    span_count: int
    self_ms: list[float]
    """Node -> self time, as the rows summed it."""


def trace_statistics(
    forest: SpanForest,
    labels: SpanLabels,
    now: float | None = None,
    *,
    sort: str = "self",
    descending: bool | None = None,
) -> TraceStats:
    """Group the forest's spans by (service, name); sorted as `sort_rows` sorts."""
    if len(labels) != len(forest):
        raise ValueError(f"{len(labels)} labels for {len(forest)} spans")
    ends = span_ends(forest, now)
    own = self_times_at(forest, ends)
    starts, durations = forest.starts, forest.durations
    groups: dict[tuple[str | None, str], list[int]] = {}
    get = groups.get
    for node, key in enumerate(zip(labels.services, labels.names, strict=True)):
        members = get(key)
        if members is None:
            groups[key] = [node]
        else:
            members.append(node)
    trace_ms = (max(ends) - forest.start) if ends else 0.0
    rows = []
    for (service, name), members in groups.items():
        lengths = [ends[i] - starts[i] for i in members]
        self_total = sum([own[i] for i in members])
        total = sum(lengths)
        rows.append(
            StatRow(
                service=service,
                name=name,
                count=len(members),
                total_ms=total,
                self_ms=self_total,
                avg_ms=total / len(members),
                min_ms=min(lengths),
                max_ms=max(lengths),
                share=self_total / trace_ms if trace_ms > 0 else 0.0,
                running=sum(1 for i in members if durations[i] is None),
                nodes=tuple(members),
            )
        )
    return TraceStats(tuple(sort_rows(rows, sort, descending)), trace_ms, len(forest), own)


def sort_rows(
    rows: Sequence[StatRow], by: str = "self", descending: bool | None = None
) -> list[StatRow]:
    """Rows by one of `SORT_KEYS`: numbers largest first and names A to Z unless `descending`
    says otherwise; ties by service, then name."""
    if by not in SORT_KEYS:
        raise ValueError(f"cannot sort by {by!r} (one of {', '.join(SORT_KEYS)})")
    by_name = sorted(
        rows,
        key=lambda r: ((r.service or "").casefold(), r.service or "", r.name.casefold(), r.name),
    )
    if by in ("name", "service"):
        field = (
            (lambda r: (r.name.casefold(), r.name))
            if by == "name"
            else (lambda r: ((r.service or "").casefold(), r.service or ""))
        )
        return sorted(by_name, key=field, reverse=bool(descending))
    attribute = {
        "self": "self_ms",
        "share": "self_ms",
        "total": "total_ms",
        "avg": "avg_ms",
        "min": "min_ms",
        "max": "max_ms",
        "count": "count",
    }[by]
    return sorted(by_name, key=lambda r: getattr(r, attribute), reverse=descending is not False)
