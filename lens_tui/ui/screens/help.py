"""`HelpScreen`: every key the dashboard understands, by pane."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Everywhere",
        (
            ("q", "quit"),
            ("?", "this help"),
            ("tab / shift+tab", "next / previous pane"),
            ("/", "filter root span names (trace list) or log text (log pane);"),
            ("", "find spans by name (waterfall)"),
            ("e", "errors only (trace list)"),
            ("l", "minimum log level: debug → info → warn → error"),
            ("space", "pause / resume live updates (nothing is lost)"),
            ("c", "copy the selection (OSC 52: works over SSH)"),
            ("y", "copy the open (or highlighted) trace as a text tree"),
            ("escape", "back to the trace list; there, close the open trace"),
            ("ctrl+p", "command palette (actions, jump to a trace id)"),
        ),
    ),
    (
        "Trace list",
        (
            ("↑ ↓ pgup pgdn", "move"),
            ("enter", "open the trace in the waterfall"),
            ("g / home", "back to the live top (clears “N new”)"),
            ("d", "slow ones only: ≥ 10ms → 100ms → 1s → 10s → all (running ones stay)"),
        ),
    ),
    (
        "Waterfall",
        (
            ("↑ ↓", "move; the detail panel and logs follow"),
            ("enter", "collapse / expand the span"),
            ("← / →", "collapse (or go to parent) / expand (or go to child)"),
            ("a", "collapse all / expand all"),
            ("t", "collapse spans faster than 1ms, 10ms, 100ms, 1s, then none"),
            ("g / G", "first / last span"),
            ("/", "find spans by name: matches underlined, their count below"),
            ("n / N", "next / previous match (expands what hides it)"),
        ),
    ),
    (
        "Log pane",
        (
            ("↑ ↓", "move; a line of the open trace highlights its span"),
            ("enter", "go to the line's span (opens its trace)"),
            ("G / end", "newest line, and follow new lines again"),
            ("g / home", "oldest line held; again: the lines before it"),
        ),
    ),
    ("Mouse", (("click", "select a row"), ("double click", "open / toggle"), ("wheel", "scroll"))),
)


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; any of escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > VerticalScroll {
            width: 86;
            max-width: 95%;
            height: auto;
            max-height: 90%;
            border: round $accent;
            border-title-color: $accent;
            background: $surface;
            padding: 0 1;
        }
    }
    """

    def compose(self) -> ComposeResult:
        """The key table."""
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for section, keys in KEYS:
            table.add_row(Text(section, style="bold underline"), "")
            for key, what in keys:
                table.add_row(Text(key), Text(what))
            table.add_row("", "")
        with VerticalScroll() as scroll:
            scroll.border_title = "lens · keys"
            scroll.border_subtitle = "escape closes"
            yield Static(table)

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
