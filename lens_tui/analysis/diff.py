"""Two traces compared as one merged tree keyed by the path of span names.

Spans are paired level by level: under a pair of parents (or at the top level), the k-th child
named N of trace A pairs with the k-th child named N of trace B, in start order. A span
without a partner is a row of its own side only, and so is its whole subtree. Each row has both
durations, both self times and the difference (B - A; a side without the span counts 0), so
sorting by the difference puts the biggest regressions first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from lens_tui.analysis.columns import SpanLabels, span_ends
from lens_tui.analysis.stats import self_times_at
from lens_tui.forest import SpanForest

DIFF_SORTS = ("tree", "delta", "self")
"""Row orders: the merged tree, the duration difference (largest first), the self-time one."""


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One node of the merged tree."""

    name: str
    occurrence: int
    """Which of its parent's same-named children this is (0 for the first, in start order)."""
    depth: int
    parent: int
    """The parent row's index, -1 at the top level."""
    a: int | None
    """The span in trace A (a forest node), None if only B has it."""
    b: int | None
    a_ms: float | None
    b_ms: float | None
    a_self_ms: float | None
    b_self_ms: float | None

    @property
    def only_in(self) -> str | None:
        """`"a"` or `"b"` for a span present on one side only, else None."""
        if self.a is None:
            return "b"
        if self.b is None:
            return "a"
        return None

    @property
    def delta_ms(self) -> float:
        """B's duration minus A's (a missing side counts 0)."""
        return (self.b_ms or 0.0) - (self.a_ms or 0.0)

    @property
    def self_delta_ms(self) -> float:
        """B's self time minus A's (a missing side counts 0)."""
        return (self.b_self_ms or 0.0) - (self.a_self_ms or 0.0)


@dataclass(frozen=True, slots=True, eq=False)
class TraceDiff:
    """The merged tree's rows in pre-order (tree order)."""

    rows: tuple[DiffRow, ...]
    a_ms: float
    """Trace A's duration (first start to last end)."""
    b_ms: float

    def __len__(self) -> int:
        return len(self.rows)

    def path(self, row: int, last: int | None = None) -> list[str]:
        """The span names from the top level down to `row` (only the `last` few if given)."""
        names = [r.name for r in islice(self._up(row), last)]
        names.reverse()
        return names

    def key(self, row: int) -> list[tuple[str, int]]:
        """The exact key of `row`: (name, occurrence) from the top level down."""
        return [(r.name, r.occurrence) for r in self._up(row)][::-1]

    def _up(self, row: int) -> Iterator[DiffRow]:
        rows = self.rows
        while row >= 0:
            found = rows[row]
            yield found
            row = found.parent

    def order(self, by: str = "tree") -> list[int]:
        """Row indices in tree order, or by `delta` / `self` difference, largest first
        (ties in tree order)."""
        if by not in DIFF_SORTS:
            raise ValueError(f"cannot sort a diff by {by!r} (one of {', '.join(DIFF_SORTS)})")
        indices = list(range(len(self.rows)))
        if by == "tree":
            return indices
        rows = self.rows
        if by == "delta":
            return sorted(indices, key=lambda i: -rows[i].delta_ms)
        return sorted(indices, key=lambda i: -rows[i].self_delta_ms)

    def counts(self) -> tuple[int, int, int]:
        """(paired rows, rows only in A, rows only in B)."""
        only_a = sum(1 for r in self.rows if r.b is None)
        only_b = sum(1 for r in self.rows if r.a is None)
        return len(self.rows) - only_a - only_b, only_a, only_b


def _tops(forest: SpanForest) -> list[int]:
    """Top-level nodes (roots, orphans, cut cycles) in start order."""
    return [node for node, p in enumerate(forest.parent) if p < 0]


def _keyed(children: Sequence[int] | None, names: Sequence[str]) -> dict[tuple[str, int], int]:
    """(name, occurrence) -> child, the occurrence counted in start order."""
    seen: dict[str, int] = {}
    out: dict[tuple[str, int], int] = {}
    for child in children or ():
        name = names[child]
        k = seen.get(name, 0)
        seen[name] = k + 1
        out[(name, k)] = child
    return out


def diff_traces(
    a: SpanForest,
    a_labels: SpanLabels,
    b: SpanForest,
    b_labels: SpanLabels,
    now: float | None = None,
) -> TraceDiff:
    """The merged tree of traces A and B (see the module's docstring)."""
    for forest, labels in ((a, a_labels), (b, b_labels)):
        if len(labels) != len(forest):
            raise ValueError(f"{len(labels)} labels for {len(forest)} spans")
    a_ends, b_ends = span_ends(a, now), span_ends(b, now)
    a_self, b_self = self_times_at(a, a_ends), self_times_at(b, b_ends)
    a_names, b_names = a_labels.names, b_labels.names
    a_starts, b_starts = a.starts, b.starts
    a_base, b_base = a.start, b.start
    rows: list[DiffRow] = []
    # (A node or -1, B node or -1, name, occurrence, parent row, depth), popped in pre-order.
    stack: list[tuple[int, int, str, int, int, int]] = []

    def push_children(
        a_kids: Sequence[int] | None, b_kids: Sequence[int] | None, parent_row: int, depth: int
    ) -> None:
        a_keyed = _keyed(a_kids, a_names)
        b_keyed = _keyed(b_kids, b_names)
        pairs = []
        for key, a_node in a_keyed.items():
            b_node = b_keyed.pop(key, -1)
            offset = a_starts[a_node] - a_base
            if b_node >= 0:
                offset = min(offset, b_starts[b_node] - b_base)
            pairs.append((offset, 0, len(pairs), a_node, b_node, key))
        for key, b_node in b_keyed.items():
            pairs.append((b_starts[b_node] - b_base, 1, len(pairs), -1, b_node, key))
        # Earliest first (relative to each trace's start); pushed in reverse to pop in order.
        pairs.sort()
        for _offset, _side, _k, a_node, b_node, (name, occurrence) in reversed(pairs):
            stack.append((a_node, b_node, name, occurrence, parent_row, depth))

    push_children(_tops(a), _tops(b), -1, 0)
    while stack:
        a_node, b_node, name, occurrence, parent_row, depth = stack.pop()
        row = len(rows)
        rows.append(
            DiffRow(
                name=name,
                occurrence=occurrence,
                depth=depth,
                parent=parent_row,
                a=a_node if a_node >= 0 else None,
                b=b_node if b_node >= 0 else None,
                a_ms=a_ends[a_node] - a_starts[a_node] if a_node >= 0 else None,
                b_ms=b_ends[b_node] - b_starts[b_node] if b_node >= 0 else None,
                a_self_ms=a_self[a_node] if a_node >= 0 else None,
                b_self_ms=b_self[b_node] if b_node >= 0 else None,
            )
        )
        push_children(
            a.children[a_node] if a_node >= 0 else None,
            b.children[b_node] if b_node >= 0 else None,
            row,
            depth + 1,
        )
    a_ms = (max(a_ends) - a_base) if a_ends else 0.0
    b_ms = (max(b_ends) - b_base) if b_ends else 0.0
    return TraceDiff(tuple(rows), a_ms, b_ms)
