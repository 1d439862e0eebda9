"""The trace list's filters: `/` on root span names, `e` errors only, and `d` the slow requests
(at least 10 ms, 100 ms, 1 s, 10 s, then all again). A running trace is listed once it has
been running that long; live rows obey the same rule as a reload."""

from __future__ import annotations

import time
from pathlib import Path

from lens_tui.store.filters import TraceFilter
from lens_tui.store.reader import TraceReader

from . import fixture_db
from .conftest import loaded, make_app, screen_text, wait_for

SIZE = (120, 40)


async def test_slash_filters_trace_names_and_escape_clears(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("slash")
        await pilot.press(*"check")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 1)
        assert app.trace_list.rows[0].root_span_name == "POST /checkout"
        assert app.focused is app.trace_list
        assert "“check”" in screen_text(app)
        # Live rows obey the filter too.
        fixture_db.add_trace(db, 50, "POST /checkout")
        fixture_db.add_trace(db, 51, "GET /other")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 2)
        assert {app.trace_list.rows[i].root_span_name for i in range(2)} == {"POST /checkout"}
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 10)


async def test_e_toggles_errors_only(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("e")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 1)
        assert app.trace_list.rows[0].trace_id == fixture_db.trace_id(2)
        assert "errors only" in screen_text(app)
        await pilot.press("e")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 8)


def _names(app: object) -> set[str]:
    rows = app.trace_list.rows  # type: ignore[attr-defined]
    return {rows[i].root_span_name for i in range(len(rows))}


async def test_d_steps_through_minimum_durations(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("d")  # >= 10 ms
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 4)
        assert _names(app) == {
            "GET /orders",
            "POST /checkout",
            fixture_db.MARKUP_NAME,
            "GET /reports/export",
        }
        assert "Traces · ≥ 10ms" in screen_text(app)
        await pilot.press("d")  # >= 100 ms: the running export stays
        await wait_for(pilot, lambda: _names(app) == {"POST /checkout", "GET /reports/export"})
        # Live rows obey the filter: a fast one is left out, a slow one comes in.
        conn = fixture_db.connect(db)
        try:
            for n, name, took in ((70, "GET /fast", 3.0), (71, "GET /slow", 250.0)):
                fixture_db.insert_trace(
                    conn,
                    n,
                    fixture_db.T0 + 200_000 + n,
                    [fixture_db.S(0, None, name, 0, took)],
                    updated_at=time.time() * 1000,
                )
        finally:
            conn.close()
        await wait_for(pilot, lambda: "GET /slow" in _names(app))
        await pilot.pause(0.3)
        assert "GET /fast" not in _names(app)
        await pilot.press("e")  # with errors only: both filters hold
        await wait_for(pilot, lambda: _names(app) == {"POST /checkout"})
        await pilot.press("e", "d", "d", "d")  # 1 s, 10 s, then all again
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 10)
        assert "≥" not in screen_text(app).splitlines()[1]


def test_the_reader_and_the_live_rule_agree(db: Path) -> None:
    """Every step, at several moments, on finished and running rows: a running trace counts
    once it has been running at least that long (the fixture's export has run 56 s by NOW)."""
    conn = fixture_db.connect(db)
    try:  # a request running for 50 ms at NOW
        fixture_db.insert_trace(
            conn, 72, fixture_db.NOW - 50, [fixture_db.S(0, None, "GET /just-started", 0, None)]
        )
    finally:
        conn.close()
    with TraceReader(db) as reader:
        every = reader.recent_traces(100)
        for now in (None, fixture_db.NOW, fixture_db.NOW + 100_000):
            for least in (None, 0.0, 1.2, 10.0, 48.5, 100.0, 60_000.0, 1e9):
                keep = TraceFilter(min_duration_ms=least)
                listed = {t.trace_id for t in reader.recent_traces(100, **keep.query(now))}
                assert listed == {t.trace_id for t in every if keep.matches(t, now)}, (now, least)
        keep = TraceFilter(min_duration_ms=100.0)
        names = {t.root_span_name for t in reader.recent_traces(100, **keep.query(fixture_db.NOW))}
        assert "GET /reports/export" in names and "GET /just-started" not in names
