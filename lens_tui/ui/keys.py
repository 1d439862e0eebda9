"""Every key of the dashboard, once: each `Key` holds its binding, its footer label, its line in
the help screen and its entry in the command palette, so the three can never disagree.

The tuples at the end are what each widget binds (`bindings(...)` makes its `BINDINGS`), in the
order its footer shows them; `HELP` lays the help screen out by pane; `COMMANDS` is the command
palette's list of actions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from textual.binding import Binding, BindingType

Target = Literal["", "app", "screen", "traces", "waterfall"]
"""Where an action runs: the widget that binds the key (""), the app, the active screen; the
command palette also runs actions on the trace list's pane and on the waterfall."""


@dataclass(frozen=True, slots=True)
class Key:
    """A key (or comma-separated keys) bound to an action, and how the user is told about it."""

    keys: str
    """Textual key names, "g,home" for two keys."""
    action: str
    """The action's name (with its arguments, if any), without namespace."""
    label: str = ""
    """The footer's description."""
    show: bool = True
    """Shown in the footer."""
    priority: bool = False
    target: Target = ""
    names: str = ""
    """How the help screen names the keys ("g / home"); "" for `keys` as they are."""
    help: tuple[str, ...] = ()
    """What the help screen says it does (one line each); () keeps it out of the help."""
    command: tuple[str, str] | None = None
    """(title, hint) in the command palette, None when it is not offered there."""

    @property
    def target_action(self) -> str:
        """The action as a binding names it ("screen.copy")."""
        return f"{self.target}.{self.action}" if self.target else self.action

    def binding(self) -> Binding:
        """The Textual binding."""
        return Binding(
            self.keys, self.target_action, self.label, show=self.show, priority=self.priority
        )

    def shown(self) -> Key:
        """The same key shown in the footer (a pane shows a key that works everywhere)."""
        return replace(self, show=True)


@dataclass(frozen=True, slots=True)
class Note:
    """A line of the help screen that no binding of ours makes (Textual's, the mouse's)."""

    names: str
    help: tuple[str, ...]


def bindings(*keys: Key) -> list[BindingType]:
    """`BINDINGS` for a widget that binds `keys`."""
    return [key.binding() for key in keys]


# --------------------------------------------------------------------------- everywhere

QUIT = Key("q", "quit", "Quit", names="q", help=("quit",))
HELP_KEY = Key(
    "question_mark",
    "help",
    "Help",
    target="app",
    names="?",
    help=("this help",),
    command=("Show keys", "?"),
)
NEXT_PANE = Key(
    "tab",
    "focus_next",
    "Pane",
    target="app",
    names="tab / shift+tab",
    help=("next / previous pane",),
)
PREVIOUS_PANE = Key("shift+tab", "focus_previous", "Previous pane", show=False, target="app")
FILTER = Key(
    "slash",
    "filter",
    "Filter",
    target="screen",
    names="/",
    help=(
        "filter root span names (trace list) or log text (log pane);",
        "find spans by name (waterfall)",
    ),
)
ERRORS = Key(
    "e",
    "toggle_errors",
    "Errors",
    show=False,
    target="screen",
    help=("errors only (trace list)",),
    command=("Errors only", "e: show only traces with an error"),
)
SLOWER = Key(
    "d",
    "slower",
    "Slow",
    show=False,
    target="screen",
    help=("slow ones only: ≥ 10ms → 100ms → 1s → 10s → all (running ones stay)",),
    command=("Slow traces only", "d: at least 10ms, 100ms, 1s, 10s, then all again"),
)
LEVEL = Key(
    "l",
    "cycle_level",
    "Level",
    target="screen",
    help=("minimum log level: debug → info → warn → error",),
    command=("Cycle minimum log level", "l: debug → info → warn → error"),
)
PAUSE = Key(
    "space",
    "toggle_pause",
    "Pause",
    target="screen",
    help=("pause / resume live updates (nothing is lost)",),
    command=("Pause / resume live updates", "space: hold still; nothing is lost"),
)
COPY = Key(
    "c",
    "copy",
    "Copy",
    target="screen",
    help=("copy the selection (OSC 52: works over SSH)",),
    command=("Copy the selection", "c: OSC 52, works over SSH"),
)
COPY_TREE = Key(
    "y",
    "copy_tree",
    "Copy tree",
    show=False,
    target="screen",
    help=("copy the open (or highlighted) trace as a text tree",),
    command=(
        "Copy the trace as a text tree",
        "y: what `lens-tui show` prints, for an issue or a chat",
    ),
)
BACK = Key(
    "escape",
    "back_to_list",
    "Back",
    target="screen",
    help=("back to the trace list; there, close the open trace",),
)
OVERVIEW = Key(
    "o",
    "overview",
    "Overview",
    target="screen",
    help=("overview: every route's rate, errors and latency, live (again: back)",),
    command=("Overview", "o: per-route rate, errors and p50…p99, live"),
)
PALETTE = Note("ctrl+p", ("command palette (actions, jump to a trace id)",))

# The command palette's actions that no key of ours is bound to everywhere.
FILTER_TRACES = Key(
    "",
    "filter('traces')",
    target="screen",
    command=("Filter traces by root span name", "/ on the trace list"),
)
FILTER_LOGS = Key(
    "", "filter('logs')", target="screen", command=("Filter logs by text", "/ on the log pane")
)
FIND_SPANS = Key(
    "",
    "filter('spans')",
    target="screen",
    names="/",
    help=("find spans by name: matches underlined, their count below",),
    command=("Find spans by name", "/ in the waterfall; n / N go through the matches"),
)
TO_LIVE_TOP = Key(
    "",
    "live_top",
    target="traces",
    command=("Back to the live top", "g: newest trace, clears “N new”"),
)
EVERY_SPAN = Key(
    "",
    "toggle_all",
    target="waterfall",
    command=("Collapse / expand all spans", "a in the waterfall"),
)
FAST_SPANS = Key(
    "",
    "threshold",
    target="waterfall",
    command=("Collapse fast spans", "t in the waterfall: cycles 1ms, 10ms, 100ms, 1s, none"),
)
ROUTES = Key(
    "",
    "overview",
    target="screen",
    command=("Routes", "o: the overview's table of routes, live"),
)
CLOSE_TRACE = Key(
    "",
    "close_trace",
    target="screen",
    command=("Close the open trace", "escape on the trace list"),
)

# --------------------------------------------------------------------------- lists

UP = Key("up,k", "cursor_up", "Up", show=False)
DOWN = Key("down,j", "cursor_down", "Down", show=False)
PAGE_UP = Key("pageup", "page_up", "Page up", show=False)
PAGE_DOWN = Key("pagedown", "page_down", "Page down", show=False)
FIRST = Key("home", "first", "First", show=False)
LAST = Key("end", "last", "Last", show=False)

OPEN = Key("enter", "select", "Open", help=("open the trace in the waterfall",))
LIVE_TOP = Key(
    "g,home",
    "live_top",
    "Live top",
    names="g / home",
    help=("back to the live top (clears “N new”)",),
)

TOGGLE = Key("enter", "select", "Toggle", help=("collapse / expand the span",))
COLLAPSE = Key(
    "left",
    "collapse",
    "Collapse",
    show=False,
    names="← / →",
    help=("collapse (or go to parent) / expand (or go to child)",),
)
EXPAND = Key("right", "expand", "Expand", show=False)
ALL_SPANS = Key("a", "toggle_all", "All ±", help=("collapse all / expand all",))
THRESHOLD = Key(
    "t",
    "threshold",
    "Hide fast",
    help=("collapse spans faster than 1ms, 10ms, 100ms, 1s, then none",),
)
FIRST_SPAN = Key("g,home", "first", "Top", show=False, names="g / G", help=("first / last span",))
LAST_SPAN = Key("G,end", "last", "Bottom", show=False)
NEXT_MATCH = Key(
    "n",
    "next_match",
    "Next match",
    names="n / N",
    help=("next / previous match (expands what hides it)",),
)
PREVIOUS_MATCH = Key("N", "previous_match", "Previous match", show=False)

GO_TO_SPAN = Key("enter", "select", "Go to span", help=("go to the line's span (opens its trace)",))
LOG_DETAIL = Key(
    "i",
    "log_detail",
    "Detail",
    target="screen",
    help=("the line in full beside the pane (enter: a line of no trace)",),
    command=("Show the log line in full", "i on the log pane: message, traceback, attributes"),
)
FOLLOW = Key(
    "G,end",
    "follow",
    "Follow",
    show=False,
    names="G / end",
    help=("newest line, and follow new lines again",),
)
OLDEST = Key(
    "g,home",
    "first",
    "Top",
    show=False,
    names="g / home",
    help=("oldest line held; again: the lines before it",),
)

DETAIL_TOP = Key("g,home", "top", "Top", show=False)
DETAIL_BOTTOM = Key("G,end", "bottom", "Bottom", show=False)

# Keys of the waterfall that mean nothing in the detail panel beside it act on the waterfall,
# whose highlighted span the panel shows (bound on the pane holding both: the waterfall's own
# bindings come first while it has the focus).
SPAN_TOGGLE_HERE = Key(
    "enter",
    "on_waterfall('select')",
    "Toggle span",
    names="⏎ a t n N ← →",
    help=("the same in the detail panel, on the span it shows",),
)
SPAN_KEYS_HERE = tuple(
    Key(key.keys, f"on_waterfall('{key.action}')", key.label, show=False)
    for key in (ALL_SPANS, THRESHOLD, NEXT_MATCH, PREVIOUS_MATCH, COLLAPSE, EXPAND)
)
DRILL = Key("enter", "select", "Traces", help=("the route's traces and its latency chart",))
SORT_NEXT = Key(
    "greater_than_sign",
    "sort_next",
    "Sort",
    names="> / <",
    help=("sort by the next / previous column (or click a column's title)",),
)
SORT_PREVIOUS = Key("less_than_sign", "sort_previous", "Sort left", show=False)
SORT_REVERSE = Key(
    "minus", "sort_reverse", "Reverse", show=False, names="-", help=("the other way",)
)
WINDOW = Key("w", "cycle_window", "Window", help=("window: 5m → 15m → 1h → 24h → all",))

CELL_LEFT = Key("left", "move(-1, 0)", "Left", show=False)
CELL_RIGHT = Key("right", "move(1, 0)", "Right", show=False)
CELL_UP = Key("up", "move(0, 1)", "Slower", show=False)
CELL_DOWN = Key("down", "move(0, -1)", "Faster", show=False)
EXTEND_LEFT = Key("shift+left", "move(-1, 0, True)", "Extend left", show=False)
EXTEND_RIGHT = Key("shift+right", "move(1, 0, True)", "Extend right", show=False)
EXTEND_UP = Key("shift+up", "move(0, 1, True)", "Extend up", show=False)
EXTEND_DOWN = Key("shift+down", "move(0, -1, True)", "Extend down", show=False)
CHART_APPLY = Key(
    "enter", "apply", "List them", help=("list exactly the traces of the selected cells",)
)
CHART_MODE = Key("v", "toggle_mode", "Scatter/heatmap", help=("scatter plot ↔ heatmap",))
CHART_CLEAR = Key(
    "escape",
    "clear",
    "Clear",
    help=("drop the selection (the list shows the whole route); again: to the list",),
)

CLEAR_FILTER = Key("escape", "clear", "Clear filter", priority=True)
CLOSE_HELP = Key("escape,q,question_mark", "close", "Close")

# --------------------------------------------------------------------------- who binds what

APP_KEYS = (
    QUIT,
    HELP_KEY,
    OVERVIEW,
    FILTER,
    ERRORS,
    SLOWER,
    LEVEL,
    PAUSE,
    COPY,
    COPY_TREE,
    BACK,
)
"""Bound on the app: they work in every pane (a modal screen ends them)."""
DASHBOARD_KEYS = (NEXT_PANE, PREVIOUS_PANE)
LIST_KEYS = (UP, DOWN, PAGE_UP, PAGE_DOWN, FIRST, LAST)
TRACE_LIST_KEYS = (OPEN, LIVE_TOP, ERRORS.shown(), SLOWER.shown())
"""The trace list shows `e` and `d` in the footer: they act on it (from every pane)."""
WATERFALL_KEYS = (
    TOGGLE,
    COLLAPSE,
    EXPAND,
    ALL_SPANS,
    THRESHOLD,
    FIRST_SPAN,
    LAST_SPAN,
    NEXT_MATCH,
    PREVIOUS_MATCH,
)
LOG_PANE_KEYS = (GO_TO_SPAN, LOG_DETAIL, FOLLOW, OLDEST)
DETAIL_KEYS = (DETAIL_TOP, DETAIL_BOTTOM)
TRACE_VIEW_KEYS = (SPAN_TOGGLE_HERE, *SPAN_KEYS_HERE)
"""Bound on the pane of the waterfall and the detail panel (`TraceView`)."""
FILTER_BAR_KEYS = (CLEAR_FILTER,)
HELP_SCREEN_KEYS = (CLOSE_HELP,)
ROUTE_TABLE_KEYS = (DRILL, SORT_NEXT, SORT_PREVIOUS, SORT_REVERSE)
OVERVIEW_KEYS = (WINDOW,)
LATENCY_CHART_KEYS = (
    CHART_APPLY,
    CHART_MODE,
    CHART_CLEAR,
    CELL_LEFT,
    CELL_RIGHT,
    CELL_UP,
    CELL_DOWN,
    EXTEND_LEFT,
    EXTEND_RIGHT,
    EXTEND_UP,
    EXTEND_DOWN,
)

HELP: tuple[tuple[str, tuple[Key | Note, ...]], ...] = (
    (
        "Everywhere",
        (
            QUIT,
            HELP_KEY,
            NEXT_PANE,
            OVERVIEW,
            FILTER,
            ERRORS,
            LEVEL,
            PAUSE,
            COPY,
            COPY_TREE,
            BACK,
            PALETTE,
        ),
    ),
    ("Trace list", (Note("↑ ↓ pgup pgdn", ("move",)), OPEN, LIVE_TOP, SLOWER)),
    (
        "Waterfall",
        (
            Note("↑ ↓", ("move; the detail panel and logs follow",)),
            TOGGLE,
            COLLAPSE,
            ALL_SPANS,
            THRESHOLD,
            FIRST_SPAN,
            FIND_SPANS,
            NEXT_MATCH,
            SPAN_TOGGLE_HERE,
        ),
    ),
    (
        "Log pane",
        (
            Note("↑ ↓", ("move; a line of the open trace highlights its span",)),
            GO_TO_SPAN,
            LOG_DETAIL,
            FOLLOW,
            OLDEST,
        ),
    ),
    (
        "Overview",
        (
            Note("↑ ↓", ("move; the route's sparklines show below",)),
            DRILL,
            SORT_NEXT,
            SORT_REVERSE,
            WINDOW,
        ),
    ),
    (
        "Latency chart",
        (
            Note("← → ↑ ↓", ("move the cell cursor; with shift: extend the selection",)),
            CHART_APPLY,
            CHART_MODE,
            CHART_CLEAR,
        ),
    ),
    (
        "Mouse",
        (
            Note("click", ("select a row; a column's title sorts; a chart cell lists its traces",)),
            Note("double click", ("open / toggle",)),
            Note("wheel", ("scroll",)),
        ),
    ),
)
"""The help screen: sections, each a list of keys in the order shown."""

COMMANDS = (
    OVERVIEW,
    ROUTES,
    PAUSE,
    ERRORS,
    SLOWER,
    LEVEL,
    FILTER_TRACES,
    FILTER_LOGS,
    FIND_SPANS,
    TO_LIVE_TOP,
    EVERY_SPAN,
    FAST_SPANS,
    CLOSE_TRACE,
    LOG_DETAIL,
    COPY,
    COPY_TREE,
    HELP_KEY,
)
"""The command palette's actions, in the order it lists them before anything is typed."""


def help_rows() -> list[tuple[str, list[tuple[str, str]]]]:
    """`HELP` as (section, [(keys, what they do)]) lines: a key of several lines names its keys
    on the first only."""
    sections = []
    for title, entries in HELP:
        rows: list[tuple[str, str]] = []
        for entry in entries:
            names = entry.names or (entry.keys if isinstance(entry, Key) else "")
            for line, text in enumerate(entry.help):
                rows.append((names if line == 0 else "", text))
        sections.append((title, rows))
    return sections


def palette_entries() -> list[tuple[str, str, Key]]:
    """`COMMANDS` as (title, hint, key) for the command palette."""
    return [(key.command[0], key.command[1], key) for key in COMMANDS if key.command is not None]
