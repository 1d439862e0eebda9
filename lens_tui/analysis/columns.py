"""Per-node columns the analyses share: span names and services, and span ends at a moment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lens_tui.forest import SpanForest


@dataclass(frozen=True, slots=True)
class SpanLabels:
    """Node -> span name and node -> service, aligned with a forest's nodes.

    A forest opened from a trace's keys decodes a span's row only when it is drawn; the
    analyses need every span's name, so they take the names as columns (from `from_forest`,
    or from whatever read them in one query)."""

    names: Sequence[str]
    services: Sequence[str | None]

    @classmethod
    def from_forest(cls, forest: SpanForest) -> SpanLabels:
        """The labels of every span of `forest`, from its rows (each decoded once): for a forest
        built from `SpanRow`s or full rows. A forest opened from a trace's keys holds
        placeholders until its rows are read, so its labels should come from a read of the
        names and services instead."""
        spans = forest.spans
        rows = [spans[i] for i in range(len(spans))]
        return cls([row.name for row in rows], [row.service for row in rows])

    def __len__(self) -> int:
        return len(self.names)


def span_ends(forest: SpanForest, now: float | None = None) -> list[float]:
    """Node -> the span's end: start + duration, or for a running span `now` (at least its
    start, and at least the trace's known end when `now` is None or earlier)."""
    open_end = forest.end if now is None else max(now, forest.end)
    return [
        start + duration if duration is not None else (start if start > open_end else open_end)
        for start, duration in zip(forest.starts, forest.durations, strict=True)
    ]
