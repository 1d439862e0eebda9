"""Snapshots of the main views, from the fixture database with a frozen clock and UTC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from lens_tui.ui.app import LensApp
from lens_tui.ui.screens.help import HelpScreen

from .conftest import loaded, make_app, open_trace, wait_for

SIZE = (120, 36)


def test_trace_list(db: Path, snap_compare: Any) -> None:
    """The live trace list and all recent logs: running, error and markup rows."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await loaded(pilot)

    assert snap_compare(make_app(db), terminal_size=SIZE, run_before=run_before)


def test_waterfall_with_detail(db: Path, snap_compare: Any) -> None:
    """An opened trace: tree guides, bars, critical path, the failing span's detail and logs."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = await open_trace(pilot, "POST /checkout")
        await pilot.press("down", "down")
        await wait_for(pilot, lambda: "loading…" not in (app.detail.copy_text() or "loading…"))
        await wait_for(pilot, lambda: len(app.log_pane.rows) == 2)

    assert snap_compare(make_app(db), terminal_size=SIZE, run_before=run_before)


def test_log_pane_at_warn(db: Path, snap_compare: Any) -> None:
    """The log pane filtered to warn and above, focused, with per-level counts."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = await loaded(pilot)
        assert isinstance(app, LensApp)
        app.log_pane.focus()
        await pilot.press("l", "l")
        await wait_for(pilot, lambda: {r.level for r in app.log_pane.rows} == {"warn", "error"})

    assert snap_compare(make_app(db), terminal_size=SIZE, run_before=run_before)


def test_help_screen(db: Path, snap_compare: Any) -> None:
    """`?`: every key by pane, in a modal tall enough to show them all. The dashboard behind is
    hidden, not dimmed: see test_help.py::test_help_dims_the_dashboard_instead_of_hiding_it."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = await loaded(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))

    assert snap_compare(make_app(db), terminal_size=(120, 50), run_before=run_before)


def test_log_detail(db: Path, snap_compare: Any) -> None:
    """`i` on a logged exception: the line in full beside the log pane, its traceback first."""
    from .test_log_detail import add_failed_log

    add_failed_log(db, trace=None)

    async def run_before(pilot: Pilot[Any]) -> None:
        app = await loaded(pilot)
        assert isinstance(app, LensApp)
        app.log_pane.focus()
        await pilot.press("up", "i")
        await wait_for(pilot, lambda: app.dashboard.logs.detail.row is not None)

    assert snap_compare(make_app(db), terminal_size=SIZE, run_before=run_before)


def test_overview(routes_db: Path, snap_compare: Any) -> None:
    """`o`: every route of the last 15 minutes with its percentiles and sparklines, the
    highlighted route's rate and p95 below."""
    from .overview_db import NOW

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LensApp)
        await wait_for(pilot, lambda: app.trace_list.row_count > 0)
        await pilot.press("o")
        table = app.dashboard.overview.table
        await wait_for(pilot, lambda: table.row_count == 4)

    app = make_app(routes_db, clock=lambda: NOW)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_latency_chart(routes_db: Path, snap_compare: Any) -> None:
    """Enter on a route: its scatter plot on a log axis (errors in the error colour), a
    selected cell, and the trace list scoped to exactly its traces."""
    from .overview_db import NOW

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, LensApp)
        await wait_for(pilot, lambda: app.trace_list.row_count > 0)
        await pilot.press("o")
        table = app.dashboard.overview.table
        await wait_for(pilot, lambda: table.row_count == 4)
        await pilot.press("enter")
        chart = app.dashboard.latency.chart
        await wait_for(pilot, lambda: chart.grid is not None and chart.grid.total == 12)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.dashboard.latency.selected is not None)
        await wait_for(
            pilot,
            lambda: (
                app.trace_list.row_count
                == chart.grid.count_in(
                    chart.cursor[0], chart.cursor[0], chart.cursor[1], chart.cursor[1]
                )[0]
            ),
        )
        await pilot.pause(0.2)

    app = make_app(routes_db, clock=lambda: NOW)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
