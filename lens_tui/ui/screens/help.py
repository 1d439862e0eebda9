"""`HelpScreen`: every key the dashboard understands, by pane (from `lens_tui.ui.keys`)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from lens_tui.ui.keys import HELP_SCREEN_KEYS, bindings, help_rows


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; any of escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*HELP_SCREEN_KEYS)

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
        for number, (section, keys) in enumerate(help_rows()):
            if number:
                table.add_row("", "")  # between sections, not after the last
            table.add_row(Text(section, style="bold underline"), "")
            for key, what in keys:
                table.add_row(Text(key), Text(what))
        with VerticalScroll() as scroll:
            scroll.border_title = "lens · keys"
            scroll.border_subtitle = "escape closes"
            yield Static(table)

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
