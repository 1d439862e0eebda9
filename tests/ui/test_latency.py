"""Drilling into a route: the trace list scoped to it (its query shown and editable), and its
latency chart, whose selected cells list exactly the traces in them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from lens_tui.ui.app import LensApp
from lens_tui.ui.widgets.latency_chart import AXIS_W
from lens_tui.ui.widgets.route_table import RouteTable

from . import overview_db
from .conftest import screen_text, wait_for
from .fixture_db import S, connect, insert_trace, trace_id
from .oracle import read_only
from .test_overview import SIZE, app_on, overview


def listed(app: LensApp) -> set[str]:
    """The trace ids the list shows."""
    rows = app.trace_list.rows
    return {rows[i].trace_id for i in range(len(rows))}


def route_ids(db: Path, service: str, name: str) -> set[str]:
    """The oracle: the route's traces, by a connection of its own."""
    conn = read_only(db)
    try:
        return {
            row[0]
            for row in conn.execute(
                "SELECT trace_id FROM traces WHERE service = ? AND root_span_name = ?",
                (service, name),
            )
        }
    finally:
        conn.close()


async def drill(pilot: Pilot[Any], service: str, name: str) -> LensApp:
    """Open the overview, highlight the route, press enter, wait for its chart."""
    app = await overview(pilot)
    table: RouteTable = app.dashboard.overview.table
    index = next(
        i for i, r in enumerate(table.rows) if (r.key.service, r.key.name) == (service, name)
    )
    table.move_cursor(index, user=True)
    await pilot.press("enter")
    latency = app.dashboard.latency
    await wait_for(pilot, lambda: latency.chart.grid is not None and latency.chart.grid.columns > 0)
    return app


def in_region(rows: list[overview_db.Row], service: str, name: str, region: Any) -> set[str]:
    """The written traces a region holds, decided from the rows as written."""
    return {
        trace_id(r.n)
        for r in rows
        if (r.service, r.name) == (service, name)
        and r.duration is not None
        and region.since_ms <= r.start < region.until_ms
        and region.min_duration_ms <= r.duration < region.max_duration_ms
    }


async def test_enter_drills_into_the_routes_traces_and_chart(routes_db: Path) -> None:
    async with app_on(routes_db).run_test(size=SIZE) as pilot:
        app = await drill(pilot, "pay", "POST /charge")
        dashboard = app.dashboard
        assert not dashboard.overview.shown and dashboard.latency.shown
        want = route_ids(routes_db, "pay", "POST /charge")
        await wait_for(pilot, lambda: listed(app) == want)
        query = 'name = "POST /charge" and service = "pay"'
        assert app.dashboard.traces.scope_text == query
        text = screen_text(app)
        assert query in text
        assert "Latency · pay POST /charge · last 15m · scatter" in text
        grid = dashboard.latency.chart.grid
        assert grid is not None and grid.total == 5 and sum(map(sum, grid.errors)) == 1
        assert grid.log_scale is False  # 95 ms to 1.2 s: not two decades
        # `/` edits the scope as a query: only the slow ones.
        await pilot.press("slash")
        assert app.filter_bar.query_one("FilterInput").value == query
        await pilot.press("end", *" and duration > 400ms")
        assert app.filter_bar.query_one("FilterInput").value == query + " and duration > 400ms"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(listed(app)) == 3)
        conn = read_only(routes_db)
        slow = {
            r[0]
            for r in conn.execute(
                "SELECT trace_id FROM traces WHERE root_span_name = 'POST /charge' AND duration_ms > 400"
            )
        }
        conn.close()
        assert listed(app) == slow
        # A query about spans follows live rows too, by asking the store.
        conn = connect(routes_db)
        try:
            kept = insert_trace(
                conn,
                800,
                overview_db.NOW - 500,
                [S(0, None, "POST /charge", 0, 700.0)],
                service="pay",
            )
            insert_trace(
                conn,
                801,
                overview_db.NOW - 400,
                [S(0, None, "POST /charge", 0, 90.0)],
                service="pay",
            )
            insert_trace(
                conn,
                802,
                overview_db.NOW - 300,
                [S(0, None, "POST /charge", 0, 900.0)],
                service="shop",
            )
        finally:
            conn.close()
        await wait_for(pilot, lambda: kept in listed(app))
        await pilot.pause(0.3)
        assert listed(app) == slow | {kept}


async def test_a_chart_selection_lists_exactly_its_traces(routes_db: Path) -> None:
    rows = overview_db.rows()
    async with app_on(routes_db).run_test(size=SIZE) as pilot:
        app = await drill(pilot, "shop", "GET /a")
        chart = app.dashboard.latency.chart
        grid = chart.grid
        assert grid is not None and grid.log_scale  # 0.4 ms to 160 ms: over two decades
        assert grid.total == 12 and grid.running == 1
        # The cursor starts on the newest column's fullest cell; enter lists it.
        c, r = chart.cursor
        assert grid.counts[r][c] > 0
        await pilot.press("enter")
        region = app.dashboard.latency.selected
        assert region is not None
        want = in_region(rows, "shop", "GET /a", region)
        assert want and len(want) == grid.counts[r][c]
        await wait_for(pilot, lambda: listed(app) == want)
        assert f"selected {len(want)}" in screen_text(app)
        # From the top right corner, extend with shift+arrows over the whole plot but its
        # fastest row.
        await pilot.press(*["right"] * grid.columns, *["up"] * grid.rows)
        await pilot.press(*["shift+left"] * grid.columns, *["shift+down"] * grid.rows)
        await pilot.press("shift+up", "enter")
        region = app.dashboard.latency.selected
        want = in_region(rows, "shop", "GET /a", region)
        assert len(want) == 12 - sum(grid.counts[0]) and sum(grid.counts[0]) > 0
        await wait_for(pilot, lambda: listed(app) == want)
        assert "since 2023-11-14T22:31:00" in app.dashboard.traces.scope_text  # the first trace
        # Escape drops the selection: the whole route again.
        await pilot.press("escape")
        await wait_for(pilot, lambda: listed(app) == route_ids(routes_db, "shop", "GET /a"))


async def test_a_click_on_a_cell_lists_its_traces(routes_db: Path) -> None:
    rows = overview_db.rows()
    async with app_on(routes_db).run_test(size=SIZE) as pilot:
        app = await drill(pilot, "pay", "POST /charge")
        chart = app.dashboard.latency.chart
        grid = chart.grid
        assert grid is not None
        c, r = next(
            (c, r) for r in range(grid.rows) for c in range(grid.columns) if grid.counts[r][c]
        )
        await pilot.click(chart, offset=(1 + AXIS_W + c, 1 + grid.rows - 1 - r))
        region = app.dashboard.latency.selected
        assert region is not None
        want = in_region(rows, "pay", "POST /charge", region)
        assert len(want) == grid.counts[r][c]
        await wait_for(pilot, lambda: listed(app) == want)


async def test_the_heatmap_buckets_list_exactly_their_traces(routes_db: Path) -> None:
    rows = overview_db.rows()
    async with app_on(routes_db).run_test(size=SIZE) as pilot:
        app = await drill(pilot, "shop", "GET /a")
        chart = app.dashboard.latency.chart
        await pilot.press("v")
        await wait_for(pilot, lambda: chart.grid is not None and chart.grid.mode == "heatmap")
        grid = chart.grid
        assert grid.total == 12 and "heatmap" in screen_text(app)
        for c in range(grid.columns):
            for r in range(grid.rows):
                if grid.counts[r][c]:
                    assert (
                        len(in_region(rows, "shop", "GET /a", grid.region(c, c, r, r)))
                        == grid.counts[r][c]
                    )
        await pilot.press("enter")
        region = app.dashboard.latency.selected
        want = in_region(rows, "shop", "GET /a", region)
        assert want
        await wait_for(pilot, lambda: listed(app) == want)


@pytest.mark.parametrize("size", [(100, 30)])
async def test_escape_from_the_chart_and_o_back_to_the_overview(
    routes_db: Path, size: tuple[int, int]
) -> None:
    async with app_on(routes_db).run_test(size=size) as pilot:
        app = await drill(pilot, "shop", "GET /old")
        await pilot.press("escape")  # no selection: to the trace list
        await wait_for(pilot, lambda: app.focused is app.trace_list)
        await pilot.press("escape")  # on the list, no trace open: the chart closes
        assert not app.dashboard.latency.shown
        assert app.dashboard.traces.scope_text  # the list keeps the route
        await pilot.press("o")
        assert app.dashboard.overview.shown
        await pilot.press("escape")
        assert not app.dashboard.overview.shown
