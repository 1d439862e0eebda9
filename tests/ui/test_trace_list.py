"""The trace list through Pilot: newest first, rows written meanwhile, holding still under the
user's cursor, the live top, older pages, the mouse."""

from __future__ import annotations

from pathlib import Path

from . import fixture_db
from .conftest import loaded, make_app, screen_text, wait_for

SIZE = (120, 40)


async def test_rows_appear_newest_first(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        rows = app.trace_list.rows
        starts = [rows[i].started_at for i in range(len(rows))]
        assert len(rows) == 8
        assert starts == sorted(starts, reverse=True)
        assert rows[0].trace_id == fixture_db.trace_id(8)
        text = screen_text(app)
        assert text.index("22:13:30.000") < text.index("22:13:20.000")  # newest on top
        assert "POST /checkout" in text and "● LIVE" in text and "3 dropped" in text


async def test_rows_written_while_running_appear(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        new_id = fixture_db.add_trace(db, 40, "GET /arrived")
        await wait_for(pilot, lambda: new_id in app.trace_list.rows)
        assert app.trace_list.rows[0].trace_id == new_id
        await wait_for(
            pilot, lambda: "GET /arrived handled" in [r.message for r in app.log_pane.rows]
        )
        assert "GET /arrived" in screen_text(app)


async def test_cursor_holds_still_and_counts_new_rows(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        trace_list = app.trace_list
        await pilot.press("down", "down", "down")
        reading = trace_list.highlighted
        assert reading is not None
        screen_line = trace_list.cursor - trace_list.first_visible
        first_ids = [fixture_db.add_trace(db, 41, "GET /a"), fixture_db.add_trace(db, 42, "GET /b")]
        await wait_for(pilot, lambda: all(i in trace_list.rows for i in first_ids))
        await wait_for(pilot, lambda: trace_list.new_count == 2)
        assert trace_list.highlighted == reading
        assert trace_list.cursor == 5
        assert trace_list.cursor - trace_list.first_visible == screen_line
        assert "↑ 2 new" in screen_text(app)
        await pilot.press("g")
        assert trace_list.cursor == 0 and trace_list.new_count == 0
        assert trace_list.highlighted is not None
        assert trace_list.highlighted.trace_id == first_ids[1]
        assert "new (g)" not in screen_text(app)


async def test_at_the_top_new_rows_take_the_cursor(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        new_id = fixture_db.add_trace(db, 43, "GET /top")
        await wait_for(pilot, lambda: new_id in app.trace_list.rows)
        assert app.trace_list.cursor == 0 and app.trace_list.new_count == 0
        assert app.trace_list.highlighted is not None
        assert app.trace_list.highlighted.trace_id == new_id


async def test_mouse_click_selects_and_double_click_opens(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        # Row 3 of the list: border (1) + column titles (1) + three rows above it.
        await pilot.click("#traces", offset=(10, 1 + 1 + 3))
        assert app.trace_list.cursor == 3
        await pilot.double_click("#traces", offset=(10, 1 + 1 + 3))
        await wait_for(pilot, lambda: app.waterfall.forest is not None)
        assert app.trace_list.opened_id == app.trace_list.rows[3].trace_id


async def test_older_traces_page_in_at_the_bottom(db: Path) -> None:
    app = make_app(db, trace_cap=5)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert len(app.trace_list.rows) == 5
        await pilot.press("end")
        await wait_for(pilot, lambda: len(app.trace_list.rows) == 8)
        assert app.trace_list.cursor == 4  # the cursor stayed on the row it was on
        assert app.trace_list.rows[7].root_span_name == "GET /orders"


async def test_home_returns_the_trace_list_to_the_live_top(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        trace_list = app.trace_list
        await pilot.press("down", "down", "down")
        assert trace_list.cursor == 3
        new_ids = [fixture_db.add_trace(db, 61, "GET /h1"), fixture_db.add_trace(db, 62, "GET /h2")]
        await wait_for(pilot, lambda: trace_list.new_count == 2)
        assert trace_list.cursor == 5  # held still on the same trace
        assert "↑ 2 new" in screen_text(app)
        await pilot.press("home")
        assert trace_list.cursor == 0 and trace_list.first_visible == 0
        assert trace_list.new_count == 0
        assert trace_list.highlighted is not None
        assert trace_list.highlighted.trace_id == new_ids[1]
        text = screen_text(app)
        assert "new (g)" not in text and "↑ 2 new" not in text
        # Back at the live top the next arrival takes the cursor again.
        newest = fixture_db.add_trace(db, 63, "GET /h3")
        await wait_for(pilot, lambda: newest in trace_list.rows)
        assert trace_list.cursor == 0 and trace_list.highlighted is not None
        assert trace_list.highlighted.trace_id == newest and trace_list.new_count == 0
