"""Pruned and re-rooted views of a span tree: which spans a waterfall shows, and how deep.

A view keeps a subset of the forest's nodes in pre-order. A span whose parent is hidden hangs
from its nearest shown ancestor, so hiding a service's spans keeps the work they called; a
re-rooted view shows one span's subtree with the path down to it as a breadcrumb. Everything
is a pass over the forest's pre-order (no recursion), so a 100,000-span trace is cheap.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from lens_tui.analysis.columns import SpanLabels, span_ends
from lens_tui.forest import NODE, SpanForest
from lens_tui.store.filters import name_matches
from lens_tui.store.records import SpanRow


@dataclass(frozen=True, slots=True, eq=False)
class TreeView:
    """The rows a waterfall shows, each with its depth and guide in this view."""

    rows: array[int]
    """Shown nodes in pre-order."""
    depths: array[int]
    """Row -> depth in the view (0 at the view's top)."""
    parents: array[int]
    """Row -> the row of its nearest shown ancestor, -1 at the top."""
    is_last: bytearray
    """Row -> whether no later row shares its shown parent (└─ rather than ├─)."""
    matches: frozenset[int]
    """Nodes that matched the predicate that pruned the view (empty when none did)."""
    root: int | None
    """The node the view is re-rooted at, or None."""
    breadcrumb: tuple[int, ...]
    """From the top-level span down to `root`'s parent (empty unless re-rooted)."""
    window: tuple[float, float] | None
    """The time interval (epoch ms) to zoom the axis to: `root`'s, when re-rooted."""

    def __len__(self) -> int:
        return len(self.rows)

    def row_of(self, node: int) -> int | None:
        """The row showing `node`, or None (a linear search: for one lookup, not per row)."""
        try:
            return self.rows.index(node)
        except ValueError:
            return None


def tree_view(
    forest: SpanForest,
    *,
    keep: bytearray | None = None,
    root: int | None = None,
    matches: Collection[int] = (),
    now: float | None = None,
) -> TreeView:
    """A view of the nodes with `keep[node]` set (all when None), within `root`'s subtree
    (the whole forest when None; `root` itself is always shown)."""
    order = forest.order
    breadcrumb: tuple[int, ...] = ()
    window = None
    if root is not None:
        if not 0 <= root < len(forest):
            raise IndexError(f"no node {root} in a forest of {len(forest)}")
        first = forest.position[root]
        order = order[first : first + forest.subtree_size[root] + 1]
        breadcrumb = tuple(reversed(list(forest.ancestors(root))))
        window = (forest.starts[root], forest.end_of(root, now))
    parent = forest.parent
    # Node -> the row showing its nearest shown ancestor-or-self (-1: none); parents come
    # before children in pre-order, so each node reads its parent's entry once.
    shown_row = array(NODE, [-1]) * len(forest)
    rows = array(NODE)
    depths = array(NODE)
    parents = array(NODE)
    for node in order:
        p = parent[node]
        above = shown_row[p] if p >= 0 and node != root else -1
        if keep is None or keep[node] or node == root:
            row = len(rows)
            rows.append(node)
            parents.append(above)
            depths.append(depths[above] + 1 if above >= 0 else 0)
            shown_row[node] = row
        else:
            shown_row[node] = above
    is_last = bytearray(len(rows))
    seen = bytearray(len(rows) + 1)  # by parent row + 1: slot 0 is the top level
    for row in range(len(rows) - 1, -1, -1):
        slot = parents[row] + 1
        if not seen[slot]:
            seen[slot] = 1
            is_last[row] = 1
    return TreeView(rows, depths, parents, is_last, frozenset(matches), root, breadcrumb, window)


def with_ancestors(forest: SpanForest, nodes: Iterable[int]) -> bytearray:
    """A keep mask of `nodes` and all their ancestors (each ancestor chain walked once)."""
    keep = bytearray(len(forest))
    parent = forest.parent
    for node in nodes:
        while node >= 0 and not keep[node]:
            keep[node] = 1
            node = parent[node]
    return keep


def pruned(
    forest: SpanForest,
    matches: Iterable[int],
    *,
    root: int | None = None,
    hidden: bytearray | None = None,
    now: float | None = None,
) -> TreeView:
    """Only the `matches` and their ancestors (within `root`'s subtree if given), less any
    node `hidden` marks (a hidden ancestor's place is taken by its nearest shown one)."""
    found = frozenset(matches)
    keep = with_ancestors(forest, found)
    if hidden is not None:
        keep = bytearray(k & (1 - h) for k, h in zip(keep, hidden, strict=True))
    return tree_view(forest, keep=keep, root=root, matches=found, now=now)


def name_contains(labels: SpanLabels, text: str) -> list[int]:
    """Nodes whose name contains `text`, ignoring case as the trace list's filter does."""
    if not text:
        return []
    return [node for node, name in enumerate(labels.names) if name_matches(name, text)]


def span_nodes(forest: SpanForest, span_ids: Iterable[str]) -> list[int]:
    """The nodes of the given span ids (ids the forest does not hold are left out), such as
    `TraceReader.find_spans` returns."""
    index_of = forest.index_of
    return sorted(index_of[i] for i in span_ids if i in index_of)


def spans_where(forest: SpanForest, test: Callable[[SpanRow], bool]) -> list[int]:
    """Nodes whose span passes `test`: a span selector's `matches` (the query language's
    `{ ... }`), or any predicate on a `SpanRow`. Decodes every span: for a forest whose rows
    are at hand; a huge trace opened from its keys is better searched in SQL by the reader."""
    spans = forest.spans
    return [node for node in range(len(spans)) if test(spans[node])]


def longer_than(forest: SpanForest, threshold_ms: float, now: float | None = None) -> list[int]:
    """Nodes whose span lasts at least `threshold_ms` (a running one: so far): pruning to
    these drops the tiny spans of a big trace but keeps the path to every slow one."""
    ends = span_ends(forest, now)
    return [
        node
        for node, (start, end) in enumerate(zip(forest.starts, ends, strict=True))
        if end - start >= threshold_ms
    ]


def service_mask(labels: SpanLabels, services: Collection[str | None]) -> bytearray:
    """A mask of the nodes whose service is one of `services` (for `hidden`)."""
    wanted = set(services)
    return bytearray(service in wanted for service in labels.services)


def hide_services(
    forest: SpanForest,
    labels: SpanLabels,
    services: Collection[str | None],
    *,
    root: int | None = None,
    now: float | None = None,
) -> TreeView:
    """Every span but those of `services`; their children hang from the nearest shown span."""
    hidden = service_mask(labels, services)
    return tree_view(forest, keep=bytearray(1 - h for h in hidden), root=root, now=now)


def rerooted(forest: SpanForest, node: int, now: float | None = None) -> TreeView:
    """The subtree of `node` with `node` at the top, its breadcrumb and its time window."""
    return tree_view(forest, root=node, now=now)


def breadcrumb_labels(view: TreeView, labels: SpanLabels) -> list[str]:
    """The names along a re-rooted view's breadcrumb, top first, ending with its root."""
    path: Sequence[int] = view.breadcrumb + ((view.root,) if view.root is not None else ())
    return [labels.names[node] for node in path]
