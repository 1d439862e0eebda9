"""A trace stored with a start time no clock can show is listed and opened, not a crash."""

from __future__ import annotations

from pathlib import Path

from . import fixture_db
from .conftest import loaded, make_app, open_trace, screen_text, wait_for


async def test_trace_beyond_time_t_is_shown(db: Path) -> None:
    conn = fixture_db.connect(db)
    try:
        fixture_db.insert_trace(
            conn,
            77,
            1e300,
            [
                fixture_db.S(0, None, "GET /far-future", 0, 2.0),
                fixture_db.S(1, 0, "child", 0.5, 1.0),
            ],
            updated_at=fixture_db.NOW,
        )
    finally:
        conn.close()
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await wait_for(pilot, lambda: "GET /far-future" in screen_text(app))
        assert "?(1e+300)" in screen_text(app)
        await open_trace(pilot, "GET /far-future")
        assert "child" in screen_text(app)
