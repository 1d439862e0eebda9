"""`LensApp`: the dashboard's app, wiring only: the dashboard screen, the keys that work in
every pane, the command palette, and keys typed ahead of the focus; `run_dashboard` starts it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import App
from textual.binding import BindingType
from textual.screen import Screen

from lens_tui.live.limits import TRACE_CAP
from lens_tui.ui.commands import LensCommands
from lens_tui.ui.focus import retype_if_focus_moved
from lens_tui.ui.keys import APP_KEYS, bindings
from lens_tui.ui.screens.dashboard import DashboardScreen
from lens_tui.ui.screens.help import HelpScreen
from lens_tui.ui.widgets.filter_bar import FilterBar
from lens_tui.ui.widgets.footer import KeysFooter
from lens_tui.ui.widgets.header_bar import HeaderBar
from lens_tui.ui.widgets.log_pane import LogPane
from lens_tui.ui.widgets.span_detail import SpanDetail
from lens_tui.ui.widgets.trace_list import TraceList
from lens_tui.ui.widgets.waterfall import Waterfall

Clock = Callable[[], float]
"""Returns "now" in epoch milliseconds."""

FOOTER_PALETTE_MIN_WIDTH = 100
"""Columns from which the footer shows the command palette key."""


def wall_clock() -> float:
    """The real clock in epoch milliseconds."""
    return time.time() * 1000.0


class LensApp(App[int]):
    """The live dashboard over one trace database."""

    CSS_PATH = "app.tcss"
    TITLE = "lens"
    COMMANDS = App.COMMANDS | {LensCommands}
    BINDINGS: ClassVar[list[BindingType]] = bindings(*APP_KEYS)

    def __init__(
        self,
        db_path: Path,
        *,
        clock: Clock = wall_clock,
        poll: float = 1.0,
        watch: bool = True,
        trace_cap: int = TRACE_CAP,
        receiving: str | None = None,
    ) -> None:
        """`clock` gives "now" for ages and running spans (tests freeze it); `poll` is the
        fallback poll period in seconds; `watch=False` relies on polling alone; `trace_cap`
        bounds the traces held (older ones page in at the bottom of the list); `receiving`
        is where an OTLP receiver in this process listens (`--otlp`), for the header."""
        super().__init__()
        self.dashboard = DashboardScreen(
            Path(db_path), clock, poll=poll, watch=watch, trace_cap=trace_cap, receiving=receiving
        )
        """The one screen the dashboard's panes live on."""

    def get_default_screen(self) -> Screen[None]:
        """The dashboard."""
        return self.dashboard

    # The dashboard's widgets by name, wherever the focus or the active screen is.

    @property
    def header(self) -> HeaderBar:
        """The status line."""
        return self.dashboard.feed.header

    @property
    def trace_list(self) -> TraceList:
        """The trace list."""
        return self.dashboard.traces.trace_list

    @property
    def waterfall(self) -> Waterfall:
        """The open trace's waterfall."""
        return self.dashboard.trace_view.waterfall

    @property
    def detail(self) -> SpanDetail:
        """The span detail panel."""
        return self.dashboard.trace_view.detail

    @property
    def log_pane(self) -> LogPane:
        """The log pane."""
        return self.dashboard.logs.log_pane

    @property
    def filter_bar(self) -> FilterBar:
        """The filter bar."""
        return self.dashboard.filter_bar

    async def on_key(self, event: events.Key) -> None:
        """A key bubbled up from where it was routed: if the focus has moved since (a burst of
        keys after `/`, `enter`, `tab`…), it goes on to the widget focused now instead of
        being looked up in that widget's bindings (`lens_tui.ui.focus`)."""
        await retype_if_focus_moved(self, event)

    async def on_paste(self, event: events.Paste) -> None:
        """A paste bubbled up from where it was routed: as keys (`on_key`)."""
        await retype_if_focus_moved(self, event)

    def on_resize(self, event: events.Resize) -> None:
        """Below 100 columns the footer's keys overflow, and Textual then draws them through
        the command palette key docked at its right: that key goes (ctrl+p still works)."""
        for footer in self.query(KeysFooter):
            footer.show_command_palette = event.size.width >= FOOTER_PALETTE_MIN_WIDTH

    def action_help(self) -> None:
        """Show every key."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def run_dashboard(db_path: Path, receiving: str | None = None) -> int:
    """Run the dashboard until the user quits (`receiving`: where an OTLP receiver in this
    process listens); the exit code for the CLI."""
    app = LensApp(db_path, receiving=receiving)
    app.run()
    return app.return_code or 0
