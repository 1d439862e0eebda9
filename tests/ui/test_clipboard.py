"""`c` copies the focused pane's selection, `y` the trace as the text tree `lens-tui show` prints."""

from __future__ import annotations

from pathlib import Path

from . import fixture_db
from .conftest import loaded, make_app, open_trace, wait_for

SIZE = (120, 40)


async def test_c_copies_the_selection(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("c")
        assert app.clipboard == fixture_db.trace_id(8)
        await open_trace(pilot, "POST /checkout")
        await pilot.press("down", "down", "c")
        assert app.clipboard == fixture_db.span_id(2, 1)
        app.log_pane.focus()
        await pilot.press("up", "c")
        assert app.clipboard == "card declined for order 1234"


async def test_y_copies_the_trace_as_a_text_tree(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await open_trace(pilot, "POST /checkout")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.clipboard.startswith("trace "))
        lines = app.clipboard.splitlines()
        assert lines[0].startswith(f"trace {fixture_db.trace_id(2)}  POST /checkout")
        assert any(line.strip().startswith("✗ payments.charge") for line in lines)
        assert any("ValueError: card declined" in line for line in lines)
        assert any("ERROR card declined for order 1234" in line for line in lines)
        # Indented under its parent, as `lens-tui show` prints it.
        charge = next(line for line in lines if "payments.charge" in line)
        http = next(line for line in lines if "http POST gateway/charge" in line)
        assert len(http) - len(http.lstrip()) > len(charge) - len(charge.lstrip())
        assert "\x1b" not in app.clipboard
