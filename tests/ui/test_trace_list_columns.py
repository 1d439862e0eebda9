"""The trace list's columns where they were missing: a narrow service column at 80 columns
(two services told apart), and the date once the list spans more than one day."""

from __future__ import annotations

from pathlib import Path

from . import fixture_db
from .conftest import loaded, make_app, screen_text, wait_for

DAY_MS = 86_400_000.0


def add_service_trace(db: Path, n: int, name: str, service: str, start: float) -> str:
    conn = fixture_db.connect(db)
    try:
        return fixture_db.insert_trace(
            conn, n, start, [fixture_db.S(0, None, name, 0, 3.0)], service=service
        )
    finally:
        conn.close()


def row_line(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if name in line)


async def test_two_services_are_told_apart_at_80_columns(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=(80, 30)) as pilot:
        await loaded(pilot)
        add_service_trace(db, 60, "GET /a", "billing", fixture_db.NOW - 2_000)
        add_service_trace(db, 61, "GET /b", "search", fixture_db.NOW - 1_000)
        await wait_for(pilot, lambda: app.trace_list.rows[0].root_span_name == "GET /b")
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "search" in row_line(text, "GET /b") and "billing" in row_line(text, "GET /a")
        assert "service" in row_line(text, "root span")
        assert "120ms" in row_line(text, "POST /checkout")  # the duration still fits


async def test_the_date_shows_once_the_list_spans_more_than_a_day(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        text = screen_text(app)
        assert "22:13:21.250" in row_line(text, "POST /checkout")  # one day: times only
        assert "11-14" not in text
        add_service_trace(db, 62, "GET /two-days-ago", "shop", fixture_db.T0 - 2 * DAY_MS)
        await wait_for(pilot, lambda: app.trace_list.row_count == 9)
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "11-12 22:13:20" in row_line(text, "GET /two-days-ago")
        assert "11-14 22:13:21" in row_line(text, "POST /checkout")
