"""The keys as the user is told about them: the footer in 80 columns, and one table behind the
bindings, the help screen and the command palette."""

from __future__ import annotations

from pathlib import Path

from lens_tui.ui.app import LensApp
from lens_tui.ui.keys import (
    APP_KEYS,
    DASHBOARD_KEYS,
    DETAIL_KEYS,
    FILTER_BAR_KEYS,
    HELP,
    HELP_SCREEN_KEYS,
    LATENCY_CHART_KEYS,
    LIST_KEYS,
    LOG_PANE_KEYS,
    OVERVIEW_KEYS,
    ROUTE_TABLE_KEYS,
    TRACE_LIST_KEYS,
    TRACE_VIEW_KEYS,
    WATERFALL_KEYS,
    Key,
    bindings,
    help_rows,
    palette_entries,
)
from lens_tui.ui.panes.overview import OverviewPane
from lens_tui.ui.panes.trace_view import TraceView
from lens_tui.ui.panes.traces import TracesPane
from lens_tui.ui.screens.dashboard import DashboardScreen
from lens_tui.ui.screens.help import HelpScreen
from lens_tui.ui.widgets.filter_bar import FilterBar
from lens_tui.ui.widgets.latency_chart import LatencyChart
from lens_tui.ui.widgets.line_list import LineList
from lens_tui.ui.widgets.log_pane import LogPane
from lens_tui.ui.widgets.route_table import RouteTable
from lens_tui.ui.widgets.span_detail import SpanDetail
from lens_tui.ui.widgets.trace_list import TraceList
from lens_tui.ui.widgets.waterfall import Waterfall

from .conftest import loaded, make_app, screen_text, wait_for


async def test_the_footer_stays_legible_in_80_columns(db: Path) -> None:
    """Below 100 columns the keys overflow the footer; Textual then drew them through the
    docked command palette key ("^ppale ttea"): that key is left out there (ctrl+p works)."""
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: "Live top" in screen_text(app).splitlines()[-1])
        footer = screen_text(app).splitlines()[-1]
        assert footer.startswith("home Live top ⏎ Open e Errors d Slow tab Pane q Quit")
        assert "palette" not in footer
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
    async with make_app(db).run_test(size=(120, 40)) as pilot:
        app = await loaded(pilot)
        await wait_for(
            pilot, lambda: screen_text(app).splitlines()[-1].rstrip().endswith("^p palette")
        )


OWNERS = (
    (LensApp, APP_KEYS),
    (DashboardScreen, DASHBOARD_KEYS),
    (LineList, LIST_KEYS),
    (TraceList, TRACE_LIST_KEYS),
    (Waterfall, WATERFALL_KEYS),
    (LogPane, LOG_PANE_KEYS),
    (SpanDetail, DETAIL_KEYS),
    (TraceView, TRACE_VIEW_KEYS),
    (FilterBar, FILTER_BAR_KEYS),
    (HelpScreen, HELP_SCREEN_KEYS),
    (RouteTable, ROUTE_TABLE_KEYS),
    (OverviewPane, OVERVIEW_KEYS),
    (LatencyChart, LATENCY_CHART_KEYS),
)
"""Each widget and the keys it binds."""
TARGETS = {"app": LensApp, "screen": DashboardScreen, "traces": TracesPane, "waterfall": Waterfall}


def _has_action(cls: type, key: Key) -> bool:
    name = key.action.split("(")[0]
    return callable(getattr(cls, f"action_{name}", None))


def test_every_key_and_command_names_an_action_that_exists() -> None:
    """A binding or palette entry naming a missing action does nothing, silently: each names
    one of the class it runs on."""
    for owner, keys in OWNERS:
        assert owner.BINDINGS == bindings(*keys)
        for key in keys:
            assert _has_action(TARGETS.get(key.target, owner), key), (owner.__name__, key)
    for title, _hint, key in palette_entries():
        assert _has_action(TARGETS[key.target], key), (title, key)


def test_every_key_the_help_names_is_bound() -> None:
    bound = {(key.keys, key.target_action) for _owner, keys in OWNERS for key in keys}
    named = [entry for _title, entries in HELP for entry in entries if isinstance(entry, Key)]
    assert len(named) > 20
    for key in named:
        assert not key.keys or (key.keys, key.target_action) in bound, key
    texts = {text for _title, rows in help_rows() for _names, text in rows}
    for _title, _hint, key in palette_entries():
        # A command with a help line of its own is laid out on the help screen too.
        assert not key.help or key.help[0] in texts, key


async def test_a_palette_command_runs_on_the_dashboard_not_on_the_palette(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p", *"filter logs")
        await wait_for(pilot, lambda: "Filter logs by text" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.filter_bar.has_class("-open"))
        assert app.filter_bar.target == "logs" and app.focused is not None
        assert app.focused.parent is app.filter_bar
