"""The header says what the dashboard is doing: what is held while paused (new traces,
updated ones, logs), and, with `--otlp`, that the receiver listens and where."""

from __future__ import annotations

from pathlib import Path

from lens_tui.otel.receiver import start_in_background
from lens_tui.ui.app import LensApp

from . import fixture_db
from .conftest import loaded, make_app, screen_text, wait_for

SIZE = (140, 40)


def header(app: LensApp) -> str:
    return screen_text(app).splitlines()[0]


async def test_paused_the_header_says_what_is_held(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("space")
        for k in range(2):
            fixture_db.add_trace(db, 44 + k, f"GET /held{k}")  # a trace and a log each
        fixture_db.grow_running_trace(db)  # a trace already listed, updated
        await wait_for(pilot, lambda: "1 updated" in header(app))
        line = header(app)
        assert "2 new traces" in line and "2 logs" in line and "queued" not in line
        await pilot.press("space")
        await wait_for(pilot, lambda: "held" not in header(app))


async def test_with_a_receiver_the_header_says_where_it_listens(db: Path) -> None:
    receiver = start_in_background(db, port=0)
    try:
        app = make_app(db, receiving=receiver.url)
        async with app.run_test(size=SIZE) as pilot:
            await loaded(pilot)
            await pilot.pause(0.1)
            line = header(app)
            assert f"receiving OTLP on {receiver.url}" in line, line
            assert receiver.url.startswith("http://127.0.0.1:") and receiver.port > 0
    finally:
        receiver.stop()
