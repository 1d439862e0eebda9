"""Span trees as flat arrays: iterative flatten, visible rows, self time and critical path.

Pure functions over `SpanRow` records, no Textual: a trace may hold 100,000 spans or a chain
10,000 deep, so nothing here recurses and per-row work is O(1) (Textual's `Tree` rebuilds on
every change and hits the recursion limit around 990 levels, FINDINGS.md). A forest is built
once per trace version (in a worker thread); the widget keeps only a list of visible node
indices and a set of collapsed span ids.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass

from lens_tui.store.records import SpanRow

ORPHAN = "orphan"
"""The span names a parent that is not in the trace (yet): shown at top level."""
CYCLE = "cycle"
"""The span's ancestors loop back on themselves: the loop is cut here and shown at top level."""
SELF_PARENT = "self-parent"
"""The span names itself as its parent: shown at top level."""


@dataclass(slots=True, eq=False)
class SpanForest:
    """One trace's spans as a forest in flat arrays indexed by node; not changed once built."""

    spans: tuple[SpanRow, ...]
    """Node index -> span, ordered by (started_at, span_id)."""
    index_of: dict[str, int]
    """Span id -> node index."""
    parent: list[int]
    """Node -> parent node, -1 at top level (roots, orphans and cut cycles)."""
    children: list[list[int] | None]
    """Node -> children in start order (None for a leaf)."""
    depth: list[int]
    is_last: list[bool]
    """Whether the node is the last of its siblings (decides └─ against ├─)."""
    order: list[int]
    """Every node in pre-order, fully expanded."""
    position: list[int]
    """Node -> its index in `order`."""
    subtree_size: list[int]
    """Node -> number of descendants (not counting itself)."""
    marks: dict[int, str]
    """Node -> ORPHAN, CYCLE or SELF_PARENT for spans placed at top level against their data."""
    self_ms: list[float | None]
    """Node -> duration not covered by its children (None while running)."""
    critical: frozenset[int]
    """Nodes on the critical path of the longest top-level span."""
    start: float
    """Earliest span start (epoch ms); 0.0 for an empty trace."""
    end: float
    """Latest end of a finished span, or latest start when none finished."""
    running: int
    """How many spans are still running."""

    def __len__(self) -> int:
        return len(self.spans)

    def end_of(self, node: int, now: float | None = None) -> float:
        """A span's end; a running span ends at `now` (or at the trace's known end)."""
        span = self.spans[node]
        if span.duration_ms is not None:
            return span.started_at + span.duration_ms
        return max(span.started_at, self.end if now is None else max(now, self.end))

    def axis_end(self, now: float | None) -> float:
        """The right edge of the time axis: running spans stretch it to `now`."""
        if self.running and now is not None:
            return max(self.end, now)
        return self.end

    def has_children(self, node: int) -> bool:
        """Whether the node has children."""
        return self.children[node] is not None

    def ancestors(self, node: int) -> Iterator[int]:
        """The node's ancestors, nearest first."""
        parent = self.parent[node]
        while parent >= 0:
            yield parent
            parent = self.parent[parent]

    def descendant_ids(self, node: int) -> frozenset[str]:
        """The span ids of a node and all its descendants (a slice of the pre-order)."""
        start = self.position[node]
        nodes = self.order[start : start + self.subtree_size[node] + 1]
        spans = self.spans
        return frozenset(spans[i].span_id for i in nodes)

    def with_children(self) -> Iterator[int]:
        """Every node that has children."""
        return (i for i, kids in enumerate(self.children) if kids is not None)


def build_forest(spans: Iterable[SpanRow], now: float | None = None) -> SpanForest:
    """Arrange spans into a forest; duplicates keep the last row, broken links go to top level."""
    by_id: dict[str, SpanRow] = {}
    for span in spans:
        by_id[span.span_id] = span  # later rows are newer versions of the same span
    ordered = sorted(by_id.values(), key=lambda s: (s.started_at, s.span_id))
    count = len(ordered)
    index_of = {span.span_id: i for i, span in enumerate(ordered)}
    children: list[list[int] | None] = [None] * count
    marks: dict[int, str] = {}
    tops: list[int] = []
    for i, span in enumerate(ordered):
        parent_id = span.parent_span_id
        if not parent_id:
            tops.append(i)
        elif parent_id == span.span_id:
            marks[i] = SELF_PARENT
            tops.append(i)
        elif (j := index_of.get(parent_id)) is None:
            marks[i] = ORPHAN
            tops.append(i)
        else:
            # i grows with start time, so every child list comes out in start order.
            kids = children[j]
            if kids is None:
                children[j] = [i]
            else:
                kids.append(i)

    parent = [-1] * count
    depth = [0] * count
    is_last = [True] * count
    visited = bytearray(count)
    order: list[int] = []

    def walk(root: int) -> None:
        visited[root] = 1
        stack = [root]
        while stack:
            node = stack.pop()
            order.append(node)
            kids = children[node]
            if kids is None:
                continue
            if any(visited[k] for k in kids):  # only where a cycle was cut
                kids = [k for k in kids if not visited[k]]
                children[node] = kids or None
                if not kids:
                    continue
            child_depth = depth[node] + 1
            for k in kids:
                visited[k] = 1
                parent[k] = node
                depth[k] = child_depth
                is_last[k] = False
            is_last[kids[-1]] = True
            stack.extend(reversed(kids))

    for top in tops:
        walk(top)
    if len(order) < count:
        # Whatever no top-level span reaches hangs off a cycle: cut each loop at its earliest span.
        for i in range(count):
            if not visited[i]:
                marks[i] = CYCLE
                tops.append(i)
                walk(i)

    position = [0] * count
    for pos, node in enumerate(order):
        position[node] = pos
    subtree_size = [0] * count
    for node in reversed(order):
        p = parent[node]
        if p >= 0:
            subtree_size[p] += subtree_size[node] + 1

    start = ordered[0].started_at if ordered else 0.0
    end = start
    running = 0
    for span in ordered:
        if span.duration_ms is None:
            running += 1
            end = max(end, span.started_at)
        else:
            end = max(end, span.started_at + span.duration_ms)

    forest = SpanForest(
        spans=tuple(ordered),
        index_of=index_of,
        parent=parent,
        children=children,
        depth=depth,
        is_last=is_last,
        order=order,
        position=position,
        subtree_size=subtree_size,
        marks=marks,
        self_ms=[],
        critical=frozenset(),
        start=start,
        end=end,
        running=running,
    )
    forest.self_ms = self_times(forest)
    forest.critical = critical_path(forest, now)
    return forest


def self_times(forest: SpanForest) -> list[float | None]:
    """Per node: its duration minus the union of its children's intervals clipped to it."""
    spans = forest.spans
    result: list[float | None] = [None] * len(spans)
    for node, span in enumerate(spans):
        if span.duration_ms is None:
            continue
        kids = forest.children[node]
        if kids is None:
            result[node] = span.duration_ms
            continue
        lo, hi = span.started_at, span.started_at + span.duration_ms
        covered = 0.0
        cur_start = cur_end = -math.inf
        for k in kids:  # children are in start order, so one merging pass suffices
            child = spans[k]
            c_start = max(child.started_at, lo)
            c_end = hi
            if child.duration_ms is not None:
                c_end = min(child.started_at + child.duration_ms, hi)
            if c_end <= c_start:
                continue
            if c_start > cur_end:
                if cur_end > cur_start:
                    covered += cur_end - cur_start
                cur_start, cur_end = c_start, c_end
            elif c_end > cur_end:
                cur_end = c_end
        if cur_end > cur_start:
            covered += cur_end - cur_start
        result[node] = max(span.duration_ms - covered, 0.0)
    return result


def critical_path(forest: SpanForest, now: float | None = None) -> frozenset[int]:
    """The chain of spans that decided the trace's end (Jaeger's rule, iteratively).

    From the top-level span that ends last: walk its children from the last to end; each child
    that started before the current cursor is on the path and moves the cursor to its start.
    """
    if not forest.spans:
        return frozenset()
    tops = [i for i, p in enumerate(forest.parent) if p < 0]
    end_of = forest.end_of
    root = max(tops, key=lambda i: (end_of(i, now), -i))
    path: set[int] = set()
    stack = [root]
    spans = forest.spans
    while stack:
        node = stack.pop()
        path.add(node)
        kids = forest.children[node]
        if kids is None:
            continue
        cursor = end_of(node, now)
        for k in sorted(kids, key=lambda c: end_of(c, now), reverse=True):
            if spans[k].started_at < cursor:
                stack.append(k)
                cursor = spans[k].started_at
    return frozenset(path)


def visible_rows(forest: SpanForest, collapsed: Set[int]) -> list[int]:
    """Nodes shown, in pre-order, when the nodes in `collapsed` hide their descendants."""
    order = forest.order
    if not collapsed:
        return list(order)
    size = forest.subtree_size
    rows: list[int] = []
    append = rows.append
    k, total = 0, len(order)
    while k < total:
        node = order[k]
        append(node)
        k += size[node] + 1 if node in collapsed else 1
    return rows


def visible_subtree(forest: SpanForest, node: int, collapsed: Set[int]) -> list[int]:
    """The visible descendants of an expanded node (what expanding it inserts below it)."""
    order = forest.order
    k = forest.position[node] + 1
    stop = k + forest.subtree_size[node]
    size = forest.subtree_size
    rows: list[int] = []
    while k < stop:
        child = order[k]
        rows.append(child)
        k += size[child] + 1 if child in collapsed else 1
    return rows


def below_threshold(forest: SpanForest, threshold_ms: float) -> set[int]:
    """Nodes with children whose whole span finished in less than `threshold_ms`."""
    durations = [span.duration_ms for span in forest.spans]
    return {
        i
        for i in forest.with_children()
        if (duration := durations[i]) is not None and duration < threshold_ms
    }


def guides(forest: SpanForest, node: int, max_levels: int) -> tuple[str, bool]:
    """The tree guide (├─ └─ │) in front of a node, and whether deeper levels were elided.

    Walks at most `max_levels` ancestors, so a row 10,000 levels deep costs the same as any.
    """
    depth = forest.depth[node]
    if depth == 0:
        return "", False
    parts = ["└─" if forest.is_last[node] else "├─"]
    ancestor = forest.parent[node]
    levels = 1
    is_last = forest.is_last
    parent = forest.parent
    while ancestor >= 0 and forest.depth[ancestor] > 0 and levels < max_levels:
        parts.append("  " if is_last[ancestor] else "│ ")
        ancestor = parent[ancestor]
        levels += 1
    elided = ancestor >= 0 and forest.depth[ancestor] > 0
    parts.reverse()
    return "".join(parts), elided
