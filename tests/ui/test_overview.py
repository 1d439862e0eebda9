"""The overview (`o`): one row per route, live, against numbers computed from the written rows
alone; its order (keys and clicks), its windows, pause, and the writer adding traces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from lens_tui.store.stats import RELATIVE_ERROR
from lens_tui.ui.app import LensApp
from lens_tui.ui.widgets.route_table import layout

from . import overview_db
from .conftest import make_app, screen_text, wait_for
from .fixture_db import S, connect, insert_trace

SIZE = (140, 40)


def app_on(db: Path) -> LensApp:
    """The dashboard with the overview fixture's frozen clock."""
    return make_app(db, clock=lambda: overview_db.NOW)


async def overview(pilot: Pilot[Any]) -> LensApp:
    """Open the overview and wait for its first rows."""
    app = pilot.app
    assert isinstance(app, LensApp)
    await wait_for(pilot, lambda: app.trace_list.row_count > 0)
    await pilot.press("o")
    pane = app.dashboard.overview
    await wait_for(pilot, lambda: pane.aggregator is not None and pane.table.row_count > 0)
    return app


def shown(app: LensApp) -> dict[tuple[str | None, str | None], Any]:
    """The rows the table shows, by (service, name)."""
    return {(r.key.service, r.key.name): r for r in app.dashboard.overview.table.rows}


def order(app: LensApp) -> list[tuple[str | None, str | None]]:
    """The routes top to bottom."""
    return [(r.key.service, r.key.name) for r in app.dashboard.overview.table.rows]


def assert_matches(row: Any, want: dict[str, Any], window_s: float) -> None:
    """A shown row against the independent numbers: counts exact, percentiles and the
    maximum within the sketch's stated relative error, the rate over the window."""
    assert (row.count, row.running, row.errors) == (want["count"], want["running"], want["errors"])
    assert row.rate_per_s == pytest.approx(want["count"] / window_s)
    assert row.error_rate == pytest.approx(want["errors"] / want["count"])
    for field in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"):
        exact, got = want[field], getattr(row, field)
        if exact is None:
            assert got is None, field
        else:
            assert got == pytest.approx(exact, rel=RELATIVE_ERROR), field


async def test_rows_match_an_independent_count_of_the_file(routes_db: Path) -> None:
    written = overview_db.rows()
    async with app_on(routes_db).run_test(size=SIZE) as pilot:
        app = await overview(pilot)
        since = overview_db.window_start(overview_db.NOW, 15_000.0)
        want = overview_db.expected(written, since)
        got = shown(app)
        assert (
            set(got)
            == set(want)
            == {
                ("shop", "GET /a"),
                ("pay", "POST /charge"),
                ("pay", "GET /a"),
                ("shop", "GET /old"),
            }
        )
        for key, numbers in want.items():
            assert_matches(got[key], numbers, (overview_db.NOW - since) / 1000.0)
        assert got[("shop", "GET /a")].running == 1  # the 30-minute-old trace is not counted
        assert order(app)[0] == ("shop", "GET /a")  # most traces first
        text = screen_text(app)
        assert "Routes · last 15m" in text and "POST /charge" in text
        assert "o Overview" in text.splitlines()[-1]


async def test_sorting_by_keys_and_by_clicking_a_title(routes_db: Path) -> None:
    async with app_on(routes_db).run_test(size=SIZE) as pilot:
        app = await overview(pilot)
        table = app.dashboard.overview.table
        assert order(app) == [
            ("shop", "GET /a"),
            ("pay", "POST /charge"),
            ("shop", "GET /old"),
            ("pay", "GET /a"),
        ]
        await pilot.press("greater_than_sign", "greater_than_sign")  # count -> rate -> errors
        assert table.order.column == "errors" and table.order.descending
        assert order(app) == [
            ("shop", "GET /a"),
            ("pay", "POST /charge"),
            ("pay", "GET /a"),  # ties by service, then name
            ("shop", "GET /old"),
        ]
        await pilot.press("minus")
        assert order(app)[-2:] == [("pay", "POST /charge"), ("shop", "GET /a")]
        await pilot.press("less_than_sign")
        assert table.order.column == "rate"
        # A click on the p95 title: slowest first; again: fastest first.
        cols, _spark = layout(table.content_width)
        x = 1 + sum(w + 1 for col, w in cols[: [c.name for c, _w in cols].index("p95")])
        await pilot.click(table, offset=(1 + x + 2, 1))
        assert table.order.column == "p95" and table.order.descending
        p95 = [r.p95_ms for r in table.rows]
        assert p95 == sorted(p95, reverse=True)
        await pilot.click(table, offset=(1 + x + 2, 1))
        assert [r.p95_ms for r in table.rows] == sorted(p95)
        assert "▲p95" in screen_text(app)


async def test_the_window_cycles_through_5m_15m_1h_24h_all(routes_db: Path) -> None:
    written = overview_db.rows()
    async with app_on(routes_db).run_test(size=SIZE) as pilot:
        app = await overview(pilot)
        pane = app.dashboard.overview
        now = overview_db.NOW
        for window, bucket_ms in (
            ("1h", 60_000.0),
            ("24h", 1_440_000.0),
            ("all", None),
            ("5m", 5_000.0),
        ):
            await pilot.press("w")
            assert pane.window == window
            await wait_for(pilot, lambda: pane.aggregator is not None and pane._pending is None)
            since = None if bucket_ms is None else overview_db.window_start(now, bucket_ms)
            want = overview_db.expected(written, since)
            await wait_for(pilot, lambda want=want: set(shown(app)) == set(want))
            got = shown(app)
            for key, numbers in want.items():
                assert got[key].count == numbers["count"], (window, key)
                assert got[key].p99_ms == pytest.approx(numbers["p99_ms"], rel=RELATIVE_ERROR)
            label = "all" if window == "all" else f"last {window}"
            assert f"Routes · {label}" in screen_text(app)
        assert ("shop", "GET /old") not in shown(app)  # ten minutes old: not in 5m
        assert shown(app)[("shop", "GET /a")].count == 13


def write_trace(
    db: Path, n: int, name: str, start: float, duration: float, *, error: bool = False
) -> str:
    """From a second connection: one more trace of `name` in service shop."""
    conn = connect(db)
    try:
        return insert_trace(
            conn,
            n,
            start,
            [S(0, None, name, 0, duration, error="boom" if error else None)],
            service="shop",
            updated_at=start + 1,
        )
    finally:
        conn.close()


async def test_a_writer_adding_traces_updates_the_open_overview(routes_db: Path) -> None:
    async with app_on(routes_db).run_test(size=SIZE) as pilot:
        app = await overview(pilot)
        before = shown(app)[("shop", "GET /a")]
        for k in range(4):
            write_trace(
                routes_db, 500 + k, "GET /a", overview_db.NOW - 5_000 + k, 1_000.0, error=k == 0
            )
        write_trace(routes_db, 600, "GET /new", overview_db.NOW - 1_000, 3.0)
        await wait_for(pilot, lambda: shown(app)[("shop", "GET /a")].count == before.count + 4)
        after = shown(app)[("shop", "GET /a")]
        assert after.errors == before.errors + 1
        assert after.max_ms == pytest.approx(1_000.0, rel=RELATIVE_ERROR)
        await wait_for(pilot, lambda: ("shop", "GET /new") in shown(app))
        assert shown(app)[("shop", "GET /new")].count == 1
        assert "GET /new" in screen_text(app)


async def test_pause_holds_the_overview_and_resume_catches_up(routes_db: Path) -> None:
    async with app_on(routes_db).run_test(size=SIZE) as pilot:
        app = await overview(pilot)
        before = shown(app)[("pay", "POST /charge")].count
        await pilot.press("space")
        conn = connect(routes_db)
        try:
            for k in range(3):
                insert_trace(
                    conn,
                    700 + k,
                    overview_db.NOW - 2_000 + k,
                    [S(0, None, "POST /charge", 0, 50.0)],
                    service="pay",
                    updated_at=overview_db.NOW,
                )
        finally:
            conn.close()
        await wait_for(pilot, lambda: app.header.queued >= 3)
        await pilot.pause(0.7)  # longer than the pane's refresh period
        assert shown(app)[("pay", "POST /charge")].count == before
        assert "PAUSED" in screen_text(app)
        await pilot.press("space")
        await wait_for(pilot, lambda: shown(app)[("pay", "POST /charge")].count == before + 3)
