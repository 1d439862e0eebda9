"""`SpanForest`: one trace's spans as a tree in flat arrays: build, visible rows, self time and
the critical path.

Pure functions over `SpanRow` records, no Textual: a trace may hold 100,000 spans or a chain
10,000 deep, so nothing here recurses and per-row work is O(1) (Textual's `Tree` rebuilds on
every change and hits the recursion limit around 990 levels, docs/findings.md). A forest is
built once per trace version (in a worker thread); the waterfall keeps only a list of visible
node indices and a set of collapsed span ids.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from itertools import compress, islice
from operator import add, ge, itemgetter
from typing import Any, overload

from lens_tui.store.records import PendingSpan, SpanRow

ORPHAN = "orphan"
"""The span names a parent that is not in the trace (yet): shown at top level."""
CYCLE = "cycle"
"""The span's ancestors loop back on themselves: the loop is cut here and shown at top level."""
SELF_PARENT = "self-parent"
"""The span names itself as its parent: shown at top level."""
NODE = "i"
"""The array type code of node indices (C int: a trace holds at most 200,000 spans)."""

SpanKey = tuple[str, str | None, float, float | None, Any]
"""(span_id, parent_span_id, started_at, duration_ms, payload): what a forest is built from.
`payload` is the `SpanRow`, or what the forest's `decode` turns into one when it is needed."""


class LazySpans(Sequence[SpanRow]):
    """Node -> `SpanRow`, each decoded from its payload on first access: of a 100,000-span
    trace only the rows drawn and the spans selected are ever decoded (building every record
    up front cost more than the 300 ms an open may take). Any thread may read it: a race
    decodes the same row twice, harmlessly."""

    __slots__ = ("_payloads", "_decode", "_rows")

    def __init__(self, payloads: Sequence[Any], decode: Callable[[Any], SpanRow] | None) -> None:
        self._payloads = payloads
        self._decode = decode
        # Node -> decoded row; a dict, not a list of a slot per node: only the rows drawn are
        # ever decoded, and the garbage collector would walk a list's every slot.
        self._rows: dict[int, SpanRow] = {}

    def __len__(self) -> int:
        return len(self._payloads)

    @overload
    def __getitem__(self, index: int) -> SpanRow: ...
    @overload
    def __getitem__(self, index: slice) -> list[SpanRow]: ...

    def __getitem__(self, index: int | slice) -> SpanRow | list[SpanRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._payloads)))]
        if self._decode is None:
            return self._payloads[index]  # type: ignore[no-any-return]
        row = self._rows.get(index)
        if row is None:
            if index < 0:
                index += len(self._payloads)
            row = self._decode(self._payloads[index])
            if type(row) is not PendingSpan:  # asked for again until its row is read
                self._rows[index] = row
        return row


@dataclass(slots=True, eq=False)
class SpanForest:
    """One trace's spans as a forest in flat arrays indexed by node; not changed once built."""

    spans: Sequence[SpanRow]
    """Node index -> span, ordered by (started_at, span_id) (a `LazySpans`)."""
    span_ids: list[str]
    """Node index -> span id (without decoding the span)."""
    starts: Sequence[float]
    """Node index -> started_at (a list, or an `array('d')`)."""
    durations: list[float | None]
    """Node index -> duration_ms (None while running)."""
    index_of: dict[str, int]
    """Span id -> node index."""
    parent: array[int]
    """Node -> parent node, -1 at top level (roots, orphans and cut cycles).

    The per-node integer columns are arrays, not lists: the garbage collector walks every
    item of a list on each pass over a young generation (about 15 ms for the columns of a
    100,000-span trace, several times while one opens) and never looks inside an array."""
    children: list[list[int] | None]
    """Node -> children in start order (None for a leaf)."""
    depth: array[int]
    is_last: bytearray
    """Whether the node is the last of its siblings (decides └─ against ├─)."""
    order: array[int]
    """Every node in pre-order, fully expanded."""
    marks: dict[int, str]
    """Node -> ORPHAN, CYCLE or SELF_PARENT for spans placed at top level against their data."""
    self_ms: Sequence[float | None]
    """Node -> duration not covered by its children (None while running)."""
    critical: frozenset[int]
    """Nodes on the critical path of the longest top-level span."""
    start: float
    """Earliest span start (epoch ms); 0.0 for an empty trace."""
    end: float
    """Latest end of a finished span, or latest start when none finished."""
    running: int
    """How many spans are still running."""
    _subtrees: tuple[array[int], array[int]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.spans)

    @property
    def position(self) -> array[int]:
        """Node -> its index in `order`."""
        return self.subtrees()[0]

    @property
    def subtree_size(self) -> array[int]:
        """Node -> number of descendants (not counting itself)."""
        return self.subtrees()[1]

    def subtrees(self) -> tuple[array[int], array[int]]:
        """`position` and `subtree_size`, computed when first needed: nothing on a newly
        opened trace's first screen uses them (16 ms of a 100,000-span open). Any thread may
        ask; two racing compute the same arrays."""
        subtrees = self._subtrees
        if subtrees is None:
            count, order, parent = len(self.order), self.order, self.parent
            position = array(NODE, [0]) * count
            deque(
                map(position.__setitem__, order, range(count)), maxlen=0
            )  # position[order[k]] = k
            subtree_size = array(NODE, [0]) * count
            for node in reversed(order):
                p = parent[node]
                if p >= 0:
                    subtree_size[p] += subtree_size[node] + 1
            subtrees = self._subtrees = (position, subtree_size)
        return subtrees

    def end_of(self, node: int, now: float | None = None) -> float:
        """A span's end; a running span ends at `now` (or at the trace's known end)."""
        start, duration = self.starts[node], self.durations[node]
        if duration is not None:
            return start + duration
        return max(start, self.end if now is None else max(now, self.end))

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
        ids = self.span_ids
        return frozenset([ids[i] for i in nodes])

    def with_children(self) -> Iterator[int]:
        """Every node that has children."""
        return (i for i, kids in enumerate(self.children) if kids is not None)


_BY_START = itemgetter(2, 0)


def build_forest(spans: Iterable[SpanRow], now: float | None = None) -> SpanForest:
    """Arrange spans into a forest; duplicates keep the last row, broken links go to top level."""
    return build_forest_keys(
        ((s.span_id, s.parent_span_id, s.started_at, s.duration_ms, s) for s in spans), None, now
    )


def build_forest_keys(
    keys: Iterable[SpanKey], decode: Callable[[Any], SpanRow] | None, now: float | None = None
) -> SpanForest:
    """A forest from span keys; `decode(payload)` makes a span's `SpanRow` when it is first
    needed (None: the payloads are SpanRows). Duplicates keep the last key."""
    by_id: dict[str, SpanKey] = {key[0]: key for key in keys}  # later keys: newer versions
    ordered = sorted(by_id.values(), key=_BY_START)
    return build_forest_columns(
        [key[0] for key in ordered],
        [key[1] for key in ordered],
        [key[2] for key in ordered],
        [key[3] for key in ordered],
        [key[4] for key in ordered],
        decode,
        now,
    )


def build_forest_columns(
    span_ids: list[str],
    parent_ids: list[str | None],
    starts: Sequence[float],
    durations: list[float | None],
    payloads: Sequence[Any],
    decode: Callable[[Any], SpanRow] | None,
    now: float | None = None,
    *,
    analyse: bool = True,
) -> SpanForest:
    """A forest from spans given as columns (the lists are kept: do not change them later).

    With `analyse=False` self times and the critical path are left for `analyse_forest()`,
    so a huge trace can be drawn before they are known.

    The quickest way in for a huge trace read by start time: no tuple per span, and no sort
    unless start times tie (then by span id) or ids repeat (then the last one wins)."""
    count = len(span_ids)
    index_of = dict(zip(span_ids, range(count), strict=True))
    # Positions where the next start is not later: none when read by start without ties.
    suspects = list(compress(range(count - 1), map(ge, starts, islice(starts, 1, None))))
    if len(index_of) < count or any(starts[i] > starts[i + 1] for i in suspects):
        keep: Sequence[int] = range(count)
        if len(index_of) < count:
            keep = sorted(index_of.values())  # the last row of each id
        by_start = sorted(
            zip([starts[i] for i in keep], [span_ids[i] for i in keep], keep, strict=True)
        )
        order_by = [i for _start, _id, i in by_start]
        span_ids = [span_ids[i] for i in order_by]
        parent_ids = [parent_ids[i] for i in order_by]
        starts = _take(starts, order_by)
        durations = [durations[i] for i in order_by]
        payloads = _take(payloads, order_by)
        count = len(span_ids)
        index_of = dict(zip(span_ids, range(count), strict=True))
    elif suspects:
        # Sorted by start with ties: order each run of equal starts by span id, in copies.
        columns = [
            list(span_ids),
            list(parent_ids),
            _take(starts),
            list(durations),
            _take(payloads),
        ]
        first = 0
        for k, at in enumerate(suspects):
            if k + 1 < len(suspects) and suspects[k + 1] == at + 1:
                continue  # the run goes on
            low, high = suspects[first], at + 2
            first = k + 1
            by_id = sorted(range(low, high), key=span_ids.__getitem__)
            for new, old in zip(
                columns, (span_ids, parent_ids, starts, durations, payloads), strict=True
            ):
                new[low:high] = _take(new, by_id, old)
            # Only this run moved: re-index it rather than all of them (ids are unique here).
            index_of.update(zip(columns[0][low:high], range(low, high), strict=True))
        span_ids, parent_ids, starts, durations, payloads = columns
    children: list[list[int] | None] = [None] * count
    parent = array(NODE, [-1]) * count
    marks: dict[int, str] = {}
    tops: list[int] = []
    # Parents looked up at C speed; an empty parent id means "top level" even if some span's
    # id is empty.
    lookup: Callable[[str | None], int | None] = index_of.get
    if "" in index_of:
        lookup = lambda parent_id: index_of.get(parent_id) if parent_id else None  # noqa: E731
    for i, j in enumerate(map(lookup, parent_ids)):
        if j is None or j == i:  # top level, orphan or its own parent: rare, so checked here
            if not parent_ids[i]:
                tops.append(i)
            else:
                marks[i] = SELF_PARENT if j == i else ORPHAN
                tops.append(i)
        else:
            parent[i] = j
            # i grows with start time, so every child list comes out in start order.
            kids = children[j]
            if kids is None:
                children[j] = [i]
            else:
                kids.append(i)

    depth = array(NODE, [0]) * count
    is_last = bytearray(count)
    visited = bytearray(count)
    order = array(NODE)

    def walk(root: int) -> None:
        # Each node sits in one child list (its parent's), so only a cycle leads back to a
        # node already visited: marking nodes as they are reached is enough.
        parent[root] = -1  # top level (where a cycle is cut too)
        is_last[root] = 1
        stack = [root]
        while stack:
            node = stack.pop()
            visited[node] = 1
            order.append(node)
            kids = children[node]
            if kids is None:
                continue
            if any(map(visited.__getitem__, kids)):  # only where a cycle was cut
                kids = [k for k in kids if not visited[k]]
                children[node] = kids or None
                if not kids:
                    continue
            child_depth = depth[node] + 1
            for k in kids:
                depth[k] = child_depth
            is_last[kids[-1]] = 1
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

    start = starts[0] if count else 0.0
    end = start
    running = durations.count(None)
    if count and not running:
        end = max(end, max(map(add, starts, durations)))  # type: ignore[arg-type]
    else:
        for span_start, duration in zip(starts, durations, strict=True):
            if duration is None:
                if span_start > end:
                    end = span_start
            elif span_start + duration > end:
                end = span_start + duration

    forest = SpanForest(
        spans=LazySpans(payloads, decode),
        span_ids=span_ids,
        starts=starts,
        durations=durations,
        index_of=index_of,
        parent=parent,
        children=children,
        depth=depth,
        is_last=is_last,
        order=order,
        marks=marks,
        self_ms=[],
        critical=frozenset(),
        start=start,
        end=end,
        running=running,
    )
    if analyse:
        analyse_forest(forest, now)
    else:
        forest.self_ms = _Unknown(len(span_ids))
    return forest


class _Unknown(Sequence[None]):
    """`self_ms` before `analyse_forest`: None for every node, without a slot per node."""

    __slots__ = ("_count",)

    def __init__(self, count: int) -> None:
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [None] * len(range(*index.indices(self._count)))
        if not -self._count <= index < self._count:
            raise IndexError(index)
        return None


def _take(
    column: Sequence[Any], indices: Iterable[int] | None = None, source: Sequence[Any] | None = None
) -> Any:
    """`source[i] for i in indices` (default: all of `column`) in a new column of `column`'s
    kind: an array stays an array of the same type (a range becomes one), anything else a list."""
    source = column if source is None else source
    picked = source if indices is None else map(source.__getitem__, indices)
    if isinstance(column, array):
        return array(column.typecode, picked)
    if isinstance(column, range):
        return array("q", picked)
    return list(picked)


def analyse_forest(forest: SpanForest, now: float | None = None) -> None:
    """Fill in self times and the critical path (each attribute replaced whole, so a reader on
    another thread sees either the old value or the new one)."""
    forest.subtrees()
    forest.self_ms = self_times(forest)
    forest.critical = critical_path(forest, now)


def needs_analysis(forest: SpanForest) -> bool:
    """True for a forest built with `analyse=False` and not analysed yet (any non-empty forest
    has a critical path)."""
    return bool(forest.span_ids) and not forest.critical


def self_times(forest: SpanForest) -> list[float | None]:
    """Per node: its duration minus the union of its children's intervals clipped to it."""
    starts, durations, children = forest.starts, forest.durations, forest.children
    result: list[float | None] = list(durations)  # leaves: all their own time
    for node in compress(range(len(children)), children):  # the nodes with children
        kids = children[node]
        duration = durations[node]
        if kids is None or duration is None:
            continue
        lo = starts[node]
        hi = lo + duration
        covered = 0.0
        cur_start = cur_end = -math.inf
        for k in kids:  # children are in start order, so one merging pass suffices
            c_start = starts[k]
            c_duration = durations[k]
            c_end = hi if c_duration is None else min(c_start + c_duration, hi)
            if c_start < lo:
                c_start = lo
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
        result[node] = max(duration - covered, 0.0)
    return result


def critical_path(forest: SpanForest, now: float | None = None) -> frozenset[int]:
    """The chain of spans that decided the trace's end (Jaeger's rule, iteratively).

    From the top-level span that ends last: walk its children from the last to end; each child
    that started before the current cursor is on the path and moves the cursor to its start.
    """
    if not forest.spans:
        return frozenset()
    starts, children = forest.starts, forest.children
    # Every span's end (`end_of`) as one list: sorting children by it then runs at C speed.
    open_end = forest.end if now is None else max(now, forest.end)
    ends = [
        start + duration if duration is not None else max(start, open_end)
        for start, duration in zip(starts, forest.durations, strict=True)
    ]
    tops = [i for i, p in enumerate(forest.parent) if p < 0]
    root = max(tops, key=lambda i: (ends[i], -i))
    path: list[int] = []
    stack = [root]
    while stack:
        node = stack.pop()
        path.append(node)
        kids = children[node]
        if kids is None:
            continue
        cursor = ends[node]
        for k in sorted(kids, key=ends.__getitem__, reverse=True):
            if starts[k] < cursor:
                stack.append(k)
                cursor = starts[k]
    return frozenset(path)


@dataclass(frozen=True, slots=True)
class MatchOrder:
    """Nodes found by a span search, in display (pre-)order, with their positions in
    `forest.order` (ascending: bisect finds the match at or after a position)."""

    nodes: tuple[int, ...] = ()
    positions: tuple[int, ...] = ()


def match_order(forest: SpanForest, span_ids: Iterable[str]) -> MatchOrder:
    """`MatchOrder` of the spans `span_ids` of `forest` (ids it does not hold are left out).
    Any thread may call it (100,000 matches take tens of milliseconds)."""
    index_of, position = forest.index_of, forest.position
    ranked = sorted((position[index_of[i]], index_of[i]) for i in span_ids if i in index_of)
    return MatchOrder(tuple(n for _, n in ranked), tuple(p for p, _ in ranked))


def visible_rows(forest: SpanForest, collapsed: Set[int]) -> array[int]:
    """Nodes shown, in pre-order, when the nodes in `collapsed` hide their descendants."""
    order = forest.order
    if not collapsed:
        return order[:]
    size = forest.subtree_size
    rows = array(NODE)
    append = rows.append
    k, total = 0, len(order)
    while k < total:
        node = order[k]
        append(node)
        k += size[node] + 1 if node in collapsed else 1
    return rows


def visible_subtree(forest: SpanForest, node: int, collapsed: Set[int]) -> array[int]:
    """The visible descendants of an expanded node (what expanding it inserts below it)."""
    order = forest.order
    k = forest.position[node] + 1
    stop = k + forest.subtree_size[node]
    size = forest.subtree_size
    rows = array(NODE)
    while k < stop:
        child = order[k]
        rows.append(child)
        k += size[child] + 1 if child in collapsed else 1
    return rows


def below_threshold(forest: SpanForest, threshold_ms: float) -> set[int]:
    """Nodes with children whose whole span finished in less than `threshold_ms`."""
    durations = forest.durations
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
