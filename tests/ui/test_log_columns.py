"""The log pane's columns: a level logged as CRITICAL shows as such, and the service shows
once the lines come from more than one (the fixture's all come from one)."""

from __future__ import annotations

import json
from pathlib import Path

from lens_tui.levels import LEVEL_NAME_KEY

from . import fixture_db
from .conftest import loaded, make_app, messages, screen_text, wait_for


def add_log(
    db: Path, message: str, service: str, attributes: dict[str, object] | None = None
) -> None:
    conn = fixture_db.connect(db)
    try:
        conn.execute(
            "INSERT INTO logs (level, message, timestamp, logger, service, attributes)"
            " VALUES ('error', ?, ?, 'app', ?, ?)",
            (message, fixture_db.NOW, service, json.dumps(attributes) if attributes else None),
        )
    finally:
        conn.close()


def line(text: str, message: str) -> str:
    return next(row for row in text.splitlines() if message in row)


async def test_a_kept_level_name_shows_in_the_pane(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        add_log(db, "disk full", "shop", {LEVEL_NAME_KEY: "CRITICAL"})
        await wait_for(pilot, lambda: "disk full" in messages(app))
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "CRITICAL disk full" in line(text, "disk full")
        assert "ERROR    card declined" in line(text, "card declined")  # the column widened


async def test_the_service_shows_when_the_lines_mix_services(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=(100, 40)) as pilot:
        await loaded(pilot)
        assert "shop " not in line(screen_text(app), "health check 8")  # one service: not shown
        add_log(db, "payment queued", "billing")
        await wait_for(pilot, lambda: "payment queued" in messages(app))
        await pilot.pause(0.1)
        text = screen_text(app)
        assert "billing" in line(text, "payment queued")
        assert "shop" in line(text, "health check 8").split("health check 8")[0]
