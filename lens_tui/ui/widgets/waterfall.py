"""`Waterfall`: the spans of the open trace as a collapsible tree with bars on a time axis."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Iterable
from typing import ClassVar

from rich.cells import cell_len
from textual.binding import BindingType
from textual.message import Message
from textual.strip import Strip

from lens_tui import humanize as fmt
from lens_tui.forest import (
    CYCLE,
    NODE,
    ORPHAN,
    SELF_PARENT,
    MatchOrder,
    SpanForest,
    below_threshold,
    guides,
    match_order,
    visible_rows,
    visible_subtree,
)
from lens_tui.store.records import PendingSpan, SpanRow
from lens_tui.text import visible
from lens_tui.ui.cells import Piece, fit, strip
from lens_tui.ui.keys import WATERFALL_KEYS, bindings
from lens_tui.ui.widgets.line_list import LineList

THRESHOLDS_MS: tuple[float | None, ...] = (None, 1.0, 10.0, 100.0, 1000.0)
"""What `t` cycles through: collapse every span faster than this (None: show all)."""
_EIGHTHS = " ▏▎▍▌▋▊▉"
_DURATION_W = 8
_MARKS = {
    ORPHAN: " ⚠orphan",
    CYCLE: " ⚠cycle",
    SELF_PARENT: " ⚠self-parent",
}


def bar_cells(start: float, end: float, width: int) -> tuple[int, str]:
    """A bar from fraction `start` to `end` of `width` cells: (first cell, block characters).

    The right edge has eighth-of-a-cell resolution; every span gets at least a sliver.
    """
    first = min(int(start * width), width - 1)
    stop8 = max(round(end * width * 8), first * 8 + 1)
    stop8 = min(stop8, width * 8)
    full, rest = divmod(stop8 - first * 8, 8)
    return first, "█" * full + (_EIGHTHS[rest] if rest else "")


def _span_of_axis(start: float, end: float) -> float:
    """The axis length to divide by: at absurd magnitudes (1e300 ms) adding a millisecond
    changes nothing, and a zero or NaN length must never reach a division."""
    total = end - start
    return total if total > 0 else 1.0


class Waterfall(LineList):
    """One row per visible span: tree guides, name, a bar on the trace's time axis, duration."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*WATERFALL_KEYS)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "waterfall--bar",
        "waterfall--bar-error",
        "waterfall--bar-running",
        "waterfall--critical",
        "waterfall--guide",
        "waterfall--match",
        "waterfall--name",
        "waterfall--error",
        "waterfall--muted",
        "waterfall--warning",
    }

    DEFAULT_CSS = """
    Waterfall {
        & > .waterfall--bar { color: $primary; }
        & > .waterfall--bar-error { color: $error; }
        & > .waterfall--bar-running { color: $warning; }
        & > .waterfall--critical { color: $accent; text-style: bold; }
        & > .waterfall--guide { color: $text-muted; }
        & > .waterfall--match { color: $accent; text-style: bold underline; }
        & > .waterfall--name { color: $text; }
        & > .waterfall--error { color: $error; }
        & > .waterfall--muted { color: $text-muted; }
        & > .waterfall--warning { color: $warning; }
    }
    """

    header_lines: ClassVar[int] = 1
    empty_message = "enter on a trace opens its waterfall"

    class SpanHighlighted(Message):
        """The highlighted span changed; `user` is False when another pane asked for it."""

        def __init__(self, span: SpanRow | None, user: bool) -> None:
            super().__init__()
            self.span = span
            self.user = user

    def __init__(
        self, clock: Callable[[], float], *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._clock = clock
        self.forest: SpanForest | None = None
        """The open trace's spans."""
        self.rows: array[int] = array(NODE)
        """Visible forest nodes in display order."""
        self.collapsed: set[str] = set()
        """Span ids whose descendants are hidden (ids survive rebuilds; node indices do not)."""
        self._collapsed_nodes: set[int] = set()
        self.threshold_index = 0
        """Position in THRESHOLDS_MS."""
        self._axis: tuple[float, float] = (0.0, 1.0)
        self.match_query = ""
        """What the span search looked for ("" when no search is on)."""
        self.matches: frozenset[str] = frozenset()
        """Span ids the search found: drawn highlighted, `n` / `N` go through them."""
        self._order: MatchOrder | None = MatchOrder()
        """The matches in display order, for the forest shown (None: not known yet)."""

    # ---- data in

    @property
    def row_count(self) -> int:
        """How many spans are visible."""
        return len(self.rows)

    @property
    def selected_span(self) -> SpanRow | None:
        """The span under the cursor."""
        if self.forest is None or not 0 <= self.cursor < len(self.rows):
            return None
        return self.forest.spans[self.rows[self.cursor]]

    @property
    def selected_node(self) -> int | None:
        """The forest node under the cursor."""
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def clear(self) -> None:
        """Show no trace."""
        self.forest = None
        self.rows = array(NODE)
        self.collapsed = set()
        self._collapsed_nodes = set()
        self.threshold_index = 0
        self.match_query, self.matches, self._order = "", frozenset(), MatchOrder()
        self.cursor = -1
        self.rows_changed(clear_cache=True)
        self.scroll_rows(0)

    def set_forest(self, forest: SpanForest, *, fresh: bool) -> None:
        """Show a (new version of the) trace; `fresh` for a newly opened one, else keep state."""
        keep = None if fresh else self.selected_node
        keep_id = None if keep is None or self.forest is None else self.forest.span_ids[keep]
        top_id = None
        if not fresh and self.forest is not None and self.rows:
            top_id = self.forest.span_ids[self.rows[min(self.first_visible, len(self.rows) - 1)]]
        if fresh:
            self.collapsed = set()
            self.threshold_index = 0
            self.match_query, self.matches = "", frozenset()
        self.forest = forest
        self._order = None if self.matches else MatchOrder()  # nodes moved
        self._collapsed_nodes = {
            forest.index_of[span_id] for span_id in self.collapsed if span_id in forest.index_of
        }
        self.rows = visible_rows(forest, self._collapsed_nodes)
        self._update_axis()
        if fresh:
            self.cursor = -1
            self.rows_changed(clear_cache=True)
            self.scroll_rows(0)
            return
        self.cursor = self._row_of(keep_id) if keep_id is not None else -1
        self.rows_changed(clear_cache=True)
        if top_id is not None:
            top = self._row_of(top_id)
            if top >= 0:
                self.scroll_rows(top)

    def tick(self) -> None:
        """Time passed: running spans grow (only visible rows are drawn again)."""
        if self.forest is not None and self.forest.running:
            self._update_axis()
            self.redraw()

    def _update_axis(self) -> None:
        forest = self.forest
        if forest is None:
            return
        now = self._clock() if forest.running else None
        self._axis = (forest.start, max(forest.axis_end(now), forest.start + 1e-3))

    def _row_of(self, span_id: str) -> int:
        if self.forest is None:
            return -1
        node = self.forest.index_of.get(span_id)
        if node is None:
            return -1
        try:
            return self.rows.index(node)
        except ValueError:
            return -1

    def select_span(self, span_id: str, *, user: bool = False) -> bool:
        """Highlight a span, expanding its ancestors; announced as the user's doing or not."""
        forest = self.forest
        if forest is None or span_id not in forest.index_of:
            return False
        node = forest.index_of[span_id]
        hidden = [a for a in forest.ancestors(node) if a in self._collapsed_nodes]
        if hidden:
            for ancestor in hidden:
                self._collapsed_nodes.discard(ancestor)
                self.collapsed.discard(forest.span_ids[ancestor])
            self.rows = visible_rows(forest, self._collapsed_nodes)
            self.rows_changed(clear_cache=True)
        index = self.rows.index(node)
        self.move_cursor(index, user=user)
        return True

    # ---- the span search

    def set_matches(
        self, query: str, span_ids: Iterable[str], order: MatchOrder | None = None
    ) -> None:
        """Show what a span search found (an empty `query`: the search is off); `order`,
        for the forest shown, saves sorting the matches here."""
        self.match_query = query
        self.matches = frozenset(span_ids) if query else frozenset()
        self._order = order if query else MatchOrder()
        self.rows_changed(clear_cache=True)
        self.refresh_bindings()

    def match_label(self) -> str | None:
        """ "3/17 “db”" (the cursor on the third of 17 matches), or None with no search."""
        if not self.match_query:
            return None
        query = visible(self.match_query, 30)
        if not self.matches:
            return f"no span “{query}”"
        order, node = self._order, self.selected_node
        if order is None or node is None or self.forest is None:
            return f"{len(self.matches)} “{query}”"  # before its order is known: no index
        k = bisect_left(order.positions, self.forest.position[node])
        at = f"{k + 1}/" if k < len(order.nodes) and order.nodes[k] == node else ""
        return f"{at}{len(order.nodes)} “{query}”"

    def action_next_match(self) -> None:
        """`n`: the next span the search found (around to the first after the last)."""
        self._step_match(1)

    def action_previous_match(self) -> None:
        """`N`: the previous span the search found."""
        self._step_match(-1)

    def _step_match(self, step: int) -> None:
        forest = self.forest
        if forest is None or not self.matches:
            self.app.bell()
            return
        if self._order is None:  # the forest changed since the search: order it here
            self._order = match_order(forest, self.matches)
        order = self._order
        if not order.nodes:
            self.app.bell()
            return
        node = self.selected_node
        here = forest.position[node] if node is not None else -1
        if step > 0:
            k = bisect_right(order.positions, here)
            k = k if k < len(order.nodes) else 0
        else:
            k = bisect_left(order.positions, here) - 1
            k = k if k >= 0 else len(order.nodes) - 1
        self.select_span(forest.span_ids[order.nodes[k]], user=True)
        # Mid-view, as a search in a pager: what surrounds the match shows too.
        self.scroll_rows(self.cursor - self.body_height // 2)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`n` and `N` are offered while a search is on."""
        if action in ("next_match", "previous_match"):
            return bool(self.match_query)
        return True

    # ---- collapse and expand

    def _collapse_node(self, node: int) -> None:
        assert self.forest is not None
        if node in self._collapsed_nodes or not self.forest.has_children(node):
            return
        index = self.rows.index(node)
        depth = self.forest.depth
        stop = index + 1
        rows = self.rows
        # Visible descendants follow the node contiguously, all deeper than it.
        while stop < len(rows) and depth[rows[stop]] > depth[node]:
            stop += 1
        del rows[index + 1 : stop]
        self._collapsed_nodes.add(node)
        self.collapsed.add(self.forest.span_ids[node])

    def _expand_node(self, node: int) -> None:
        assert self.forest is not None
        if node not in self._collapsed_nodes:
            return
        self._collapsed_nodes.discard(node)
        self.collapsed.discard(self.forest.span_ids[node])
        index = self.rows.index(node)
        self.rows[index + 1 : index + 1] = visible_subtree(self.forest, node, self._collapsed_nodes)

    def _after_toggle(self, node: int | None) -> None:
        self.rows_changed(clear_cache=True)
        if node is not None:
            self.move_cursor(self.rows.index(node), user=False)

    def action_select(self) -> None:
        """Toggle the highlighted span."""
        node = self.selected_node
        if node is None:
            return
        if node in self._collapsed_nodes:
            self._expand_node(node)
        else:
            self._collapse_node(node)
        self._after_toggle(node)

    def action_collapse(self) -> None:
        """Collapse the highlighted span, or go to its parent when already collapsed (or a leaf)."""
        node = self.selected_node
        if node is None or self.forest is None:
            return
        if self.forest.has_children(node) and node not in self._collapsed_nodes:
            self._collapse_node(node)
            self._after_toggle(node)
        elif self.forest.parent[node] >= 0:
            self.move_cursor(self.rows.index(self.forest.parent[node]), user=True)

    def action_expand(self) -> None:
        """Expand the highlighted span, or step to its first child when already expanded."""
        node = self.selected_node
        if node is None or self.forest is None:
            return
        if node in self._collapsed_nodes:
            self._expand_node(node)
            self._after_toggle(node)
        elif self.forest.has_children(node):
            self.move_cursor(self.cursor + 1, user=True)

    def action_toggle_all(self) -> None:
        """Expand everything if anything is collapsed, else collapse every span with children."""
        forest = self.forest
        if forest is None:
            return
        node = self.selected_node
        if self._collapsed_nodes:
            self._collapsed_nodes = set()
        else:
            self._collapsed_nodes = set(forest.with_children())
        self._set_collapsed_nodes(self._collapsed_nodes, node)

    def action_threshold(self) -> None:
        """Cycle the duration below which spans are collapsed."""
        forest = self.forest
        if forest is None:
            return
        self.threshold_index = (self.threshold_index + 1) % len(THRESHOLDS_MS)
        threshold = THRESHOLDS_MS[self.threshold_index]
        nodes = set() if threshold is None else below_threshold(forest, threshold)
        self._set_collapsed_nodes(nodes, self.selected_node)
        label = (
            "all spans shown"
            if threshold is None
            else (f"spans under {fmt.duration(threshold)} collapsed")
        )
        self.notify(label, timeout=2)

    def _set_collapsed_nodes(self, nodes: set[int], keep: int | None) -> None:
        forest = self.forest
        assert forest is not None
        self._collapsed_nodes = nodes
        self.collapsed = {forest.span_ids[i] for i in nodes}
        self.rows = visible_rows(forest, nodes)
        if keep is not None:
            # The kept span may now be hidden: highlight its nearest visible ancestor.
            for ancestor in forest.ancestors(keep):
                if ancestor in nodes:
                    keep = ancestor
        self.rows_changed(clear_cache=True)
        if keep is not None:
            self.move_cursor(self.rows.index(keep), user=False)

    def cursor_moved(self, user: bool) -> None:
        """Tell the app which span is highlighted."""
        self.post_message(self.SpanHighlighted(self.selected_span, user))

    def copy_text(self) -> str | None:
        """What `c` copies here: the highlighted span's id."""
        span = self.selected_span
        return span.span_id if span else None

    # ---- drawing

    def _layout(self, width: int) -> tuple[int, int]:
        """(name width, bar width) for a row `width` cells wide."""
        name_w = max(min(int(width * 0.45), 60), 16)
        bar_w = width - 1 - name_w - 1 - 1 - _DURATION_W
        if bar_w < 8:
            name_w = max(width - 1 - 1 - 1 - _DURATION_W - 8, 4)
            bar_w = max(width - 1 - name_w - 1 - 1 - _DURATION_W, 1)
        return name_w, bar_w

    def render_header(self, line: int, width: int) -> Strip:
        """A time ruler over the bars: offsets from the trace start at quarter marks."""
        name_w, bar_w = self._layout(width)
        style = self.style_of("line-list--header")
        if self.forest is None or not self.forest.spans:
            return strip([(fit(" span", width), style)], width)
        start, end = self._axis
        total = _span_of_axis(start, end)
        ruler = [" "] * bar_w
        free = 0  # first cell a label may use: labels never touch each other
        for quarter in range(4):
            label = "│" + fmt.duration(total * quarter / 4)
            at = int(bar_w * quarter / 4)
            if at >= free and at + len(label) <= bar_w:
                ruler[at : at + len(label)] = list(label)
                free = at + len(label) + 1
        total_label = fmt.duration(total)
        count = len(self.forest)
        label = fit(f"{fmt.count(count)} span{'s' if count != 1 else ''}", name_w)
        return strip(
            [
                (" " + label + " ", style),
                ("".join(ruler), style),
                (" " + fit(total_label, _DURATION_W, align="right"), style),
            ],
            width,
        )

    def row_key(self, index: int) -> Hashable:
        """Node and whether it is collapsed (the cache is cleared when the forest changes)."""
        node = self.rows[index]
        return (node, node in self._collapsed_nodes)

    def render_row(self, index: int, width: int) -> Strip:
        """Guides, toggle, name, bar and duration of one span."""
        forest = self.forest
        assert forest is not None
        node = self.rows[index]
        span = forest.spans[node]
        name_w, bar_w = self._layout(width)
        critical = node in forest.critical
        running = span.duration_ms is None
        error = span.status == "error"

        guide, elided = guides(forest, node, max(min(name_w // 4, 24), 1))
        if elided:
            guide = f"…{forest.depth[node]}" + guide
        if not forest.has_children(node):
            toggle = "─ " if forest.depth[node] else "  "
        elif node in self._collapsed_nodes:
            toggle = "▸ "
        else:
            toggle = "▾ "
        extra = _MARKS.get(forest.marks.get(node, ""), "")
        if node in self._collapsed_nodes:
            extra += f" +{forest.subtree_size[node]}"
        name_room = max(name_w - len(guide) - len(toggle) - len(extra), 1)
        pending = type(span) is PendingSpan  # its row is being read: a moment
        name = "…" if pending else fit(visible(span.name, 200), name_room).rstrip()
        # The critical path is marked in the gutter only: in sequential traces it is most spans,
        # and colouring every name would drown the errors.
        name_style = self.style_of(
            "waterfall--muted"
            if pending
            else "waterfall--match"
            if forest.span_ids[node] in self.matches
            else "waterfall--error"
            if error
            else "waterfall--name"
        )
        head: list[Piece] = [
            ("┃" if critical else " ", self.style_of("waterfall--critical")),
            (guide + toggle, self.style_of("waterfall--guide")),
            (name, name_style),
            (extra, self.style_of("waterfall--warning")),
        ]
        used = 1 + len(guide) + len(toggle) + cell_len(name) + len(extra)
        head.append((" " * max(1 + name_w - used, 0) + " ", None))

        start, end = self._axis
        total = _span_of_axis(start, end)
        now = self._clock()
        span_end = forest.end_of(node, now if running else None)
        first, blocks = bar_cells(
            (span.started_at - start) / total, (span_end - start) / total, bar_w
        )
        if running:
            blocks = blocks[:-1] + "▶" if len(blocks) > 1 else "▶"
            bar_style = self.style_of("waterfall--bar-running")
        else:
            bar_style = self.style_of("waterfall--bar-error" if error else "waterfall--bar")
        bar_pad = " " * max(bar_w - first - len(blocks), 0)
        bar: list[Piece] = [(" " * first, None), (blocks, bar_style), (bar_pad, None)]

        if running:
            label = fmt.duration(max(now - span.started_at, 0.0)) + "…"
            label_style = self.style_of("waterfall--warning")
        else:
            label = fmt.duration(span.duration_ms)
            label_style = self.style_of("waterfall--error" if error else "waterfall--muted")
        tail: list[Piece] = [(" " + fit(label, _DURATION_W, align="right"), label_style)]
        return strip(head + bar + tail, width)
