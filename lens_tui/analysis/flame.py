"""A trace as icicle frames for a flame view: one row per depth, width in milliseconds.

Two layouts. In *time* (the default) every span is one frame at its place on the trace's time
axis, clipped to its parent's frame so the icicle nests. *Merged* is a profiler's flame graph:
spans with the same service and name under the same merged parent become one frame whose
width is their summed duration, laid out side by side from the parent's left edge (Jaeger's
flame graph does the same). Both are built in passes over the forest's pre-order, never by
recursion.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from operator import sub

from lens_tui.analysis.columns import SpanLabels, span_ends
from lens_tui.analysis.stats import self_times_at
from lens_tui.forest import SpanForest

FRAME = "i"
"""Array type code of frame and node indices."""


@dataclass(frozen=True, slots=True)
class FlameFrame:
    """One frame, as a renderer or a detail panel reads it."""

    index: int
    start: float
    """Left edge in ms from the layout's left (time layout: from the trace's first start)."""
    width: float
    """Width in ms: the span's time inside its parent's frame, or a merged frame's layout width
    (at least its summed duration, widened to hold its children side by side)."""
    depth: int
    node: int
    """The frame's first span (in start order) as a forest node."""
    label: str
    service: str | None
    count: int
    """Spans in the frame (1 in the time layout)."""
    total_ms: float
    """The spans' summed real durations (never widened nor clipped)."""
    self_ms: float
    parent: int
    """The parent frame's index, -1 at the top."""


@dataclass(frozen=True, slots=True, eq=False)
class FlameLayout:
    """Frames as columns indexed by frame; `rows[d]` lists depth d's frames left to right."""

    merged: bool
    starts: array[float]
    widths: array[float]
    depths: array[int]
    nodes: array[int]
    counts: array[int]
    totals: array[float]
    selfs: array[float]
    parents: array[int]
    labels: list[str]
    services: list[str | None]
    rows: list[array[int]]
    """Depth -> frame indices ordered by left edge."""
    frame_of: array[int]
    """Forest node -> the frame that holds it."""
    extent: float
    """The layout's full width in ms (the right edge of the rightmost top-level frame)."""

    def __len__(self) -> int:
        return len(self.starts)

    def frame(self, index: int) -> FlameFrame:
        """Frame `index` as one record."""
        return FlameFrame(
            index,
            self.starts[index],
            self.widths[index],
            self.depths[index],
            self.nodes[index],
            self.labels[index],
            self.services[index],
            self.counts[index],
            self.totals[index],
            self.selfs[index],
            self.parents[index],
        )

    def members(self, index: int) -> list[int]:
        """The forest nodes merged into frame `index`, in start order."""
        return [node for node, frame in enumerate(self.frame_of) if frame == index]

    def frame_at(self, depth: int, offset: float) -> int | None:
        """The frame of row `depth` that covers `offset` ms (the last one starting at or before
        it, if it reaches that far), or None."""
        if not 0 <= depth < len(self.rows):
            return None
        row, starts, widths = self.rows[depth], self.starts, self.widths
        k = bisect_right(row, offset, key=starts.__getitem__) - 1
        # Frames of a row may overlap (parallel siblings): the latest-starting one that still
        # covers the offset wins, as a renderer drawing left to right shows it on top.
        while k >= 0:
            frame = row[k]
            if starts[frame] + widths[frame] >= offset:
                return frame
            if not self.merged:  # overlapping frames are possible only in the time layout
                k -= 1
                continue
            return None
        return None


def flame_layout(
    forest: SpanForest,
    labels: SpanLabels,
    now: float | None = None,
    *,
    merged: bool = False,
) -> FlameLayout:
    """The forest's frames in the time layout, or merged (see the module's docstring)."""
    if len(labels) != len(forest):
        raise ValueError(f"{len(labels)} labels for {len(forest)} spans")
    ends = span_ends(forest, now)
    own = self_times_at(forest, ends)
    if merged:
        return _merged(forest, labels, ends, own)
    return _timed(forest, labels, ends, own)


def _timed(
    forest: SpanForest, labels: SpanLabels, ends: list[float], own: list[float]
) -> FlameLayout:
    count = len(forest)
    base = forest.start
    parent = forest.parent
    lefts = array("d", forest.starts)
    rights = array("d", ends)
    for node in forest.order:  # parents before children: clip each to its clipped parent
        p = parent[node]
        if p >= 0:
            lo, hi = lefts[p], rights[p]
            if lefts[node] < lo:
                lefts[node] = lo
            if lefts[node] > hi:
                lefts[node] = hi
            if rights[node] > hi:
                rights[node] = hi
            if rights[node] < lefts[node]:
                rights[node] = lefts[node]
    widths = array("d", map(sub, rights, lefts))
    starts = array("d", [left - base for left in lefts])
    depth = forest.depth
    rows: list[list[int]] = [[] for _ in range(max(depth) + 1 if count else 0)]
    for node in forest.order:
        rows[depth[node]].append(node)
    sorted_rows = [array(FRAME, sorted(row, key=starts.__getitem__)) for row in rows]
    tops = sorted_rows[0] if sorted_rows else array(FRAME)
    extent = max((starts[f] + widths[f] for f in tops), default=0.0)
    return FlameLayout(
        merged=False,
        starts=starts,
        widths=widths,
        depths=array(FRAME, depth),
        nodes=array(FRAME, range(count)),
        counts=array(FRAME, [1]) * count,
        totals=array("d", map(sub, ends, forest.starts)),
        selfs=array("d", own),
        parents=array(FRAME, parent),
        labels=list(labels.names),
        services=list(labels.services),
        rows=sorted_rows,
        frame_of=array(FRAME, range(count)),
        extent=extent,
    )


def _merged(
    forest: SpanForest, labels: SpanLabels, ends: list[float], own: list[float]
) -> FlameLayout:
    count = len(forest)
    starts, parent, names, services = forest.starts, forest.parent, labels.names, labels.services
    frame_of = array(FRAME, [-1]) * count
    index: dict[tuple[int, str | None, str], int] = {}
    f_parent: list[int] = []
    f_depth: list[int] = []
    f_node: list[int] = []
    f_count: list[int] = []
    f_total: list[float] = []
    f_self: list[float] = []
    f_first: list[float] = []
    # Frames are created in pre-order of their first span, so a frame's parent always comes
    # before it: one pass down fills sums, one pass up widens, one pass down places.
    for node in forest.order:
        p = parent[node]
        pf = frame_of[p] if p >= 0 else -1
        key = (pf, services[node], names[node])
        frame = index.get(key)
        if frame is None:
            frame = index[key] = len(f_parent)
            f_parent.append(pf)
            f_depth.append(f_depth[pf] + 1 if pf >= 0 else 0)
            f_node.append(node)
            f_count.append(0)
            f_total.append(0.0)
            f_self.append(0.0)
            f_first.append(starts[node])
        elif starts[node] < f_first[frame] or (
            starts[node] == f_first[frame] and node < f_node[frame]
        ):
            f_first[frame] = starts[node]
            f_node[frame] = node
        frame_of[node] = frame
        f_count[frame] += 1
        f_total[frame] += ends[node] - starts[node]
        f_self[frame] += own[node]
    frames = len(f_parent)
    kids: list[list[int]] = [[] for _ in range(frames)]
    tops: list[int] = []
    for frame, pf in enumerate(f_parent):
        (kids[pf] if pf >= 0 else tops).append(frame)
    by_first = lambda f: (f_first[f], f_node[f])  # noqa: E731
    widths = array("d", f_total)
    for frame in range(frames - 1, -1, -1):  # children before parents
        children = kids[frame]
        if children:
            children.sort(key=by_first)
            inner = sum([widths[k] for k in children])
            if inner > widths[frame]:
                widths[frame] = inner
    tops.sort(key=by_first)
    x = array("d", [0.0]) * frames
    cursor = 0.0
    for frame in tops:
        x[frame] = cursor
        cursor += widths[frame]
    rows: list[list[int]] = [[] for _ in range(max(f_depth) + 1 if frames else 0)]
    order = list(tops)
    k = 0
    while k < len(order):  # breadth first: each row comes out left to right
        frame = order[k]
        k += 1
        rows[f_depth[frame]].append(frame)
        left = x[frame]
        for child in kids[frame]:
            x[child] = left
            left += widths[child]
            order.append(child)
    return FlameLayout(
        merged=True,
        starts=x,
        widths=widths,
        depths=array(FRAME, f_depth),
        nodes=array(FRAME, f_node),
        counts=array(FRAME, f_count),
        totals=array("d", f_total),
        selfs=array("d", f_self),
        parents=array(FRAME, f_parent),
        labels=[names[n] for n in f_node],
        services=[services[n] for n in f_node],
        rows=[array(FRAME, row) for row in rows],
        frame_of=frame_of,
        extent=cursor,
    )


def frames_in(layout: FlameLayout, depth: int, left: float, right: float) -> Sequence[int]:
    """The frames of row `depth` that start before `right` and end after `left` (a viewport)."""
    if not 0 <= depth < len(layout.rows):
        return ()
    row, starts, widths = layout.rows[depth], layout.starts, layout.widths
    stop = bisect_right(row, right, key=starts.__getitem__)
    return [f for f in row[:stop] if starts[f] + widths[f] >= left]
