"""The command palette (ctrl+p): the dashboard's actions, and a jump to a trace by id prefix."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from . import fixture_db
from .conftest import loaded, make_app, screen_text, wait_for

SIZE = (120, 40)


async def test_command_palette_jumps_to_a_trace_id(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"4bf9")
        await wait_for(pilot, lambda: "Jump to trace" in screen_text(app))
        # Typing the rest key by key is slow; the palette reacts to the input's value.
        app.screen.query_one(Input).value = fixture_db.trace_id(2)
        await wait_for(pilot, lambda: screen_text(app).count("Jump to trace") == 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.waterfall.forest is not None)
        assert app.waterfall.forest is not None
        assert app.waterfall.forest.spans[0].name == "POST /checkout"


async def test_command_palette_offers_the_actions(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p", *"errors only")
        await wait_for(pilot, lambda: "show only traces with an error" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 1)
