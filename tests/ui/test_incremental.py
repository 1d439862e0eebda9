"""The trace list takes live rows incrementally (keyed rows, no rebuild per tick), and the
mouse wheel scrolls the panes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import events

from . import fixture_db
from .conftest import loaded, make_app, wait_for

SIZE = (120, 40)


async def test_live_rows_are_keyed_updates_and_only_new_rows_are_drawn(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        trace_list = app.trace_list
        await pilot.pause(0.2)
        rebuilt: list[int] = []
        drawn: list[str] = []
        replace, render_row = trace_list.replace, trace_list.render_row

        def counting_replace(traces: Any) -> None:
            rebuilt.append(1)
            replace(traces)

        def counting_render_row(index: int, width: int) -> Any:
            drawn.append(trace_list.rows[index].root_span_name)
            return render_row(index, width)

        trace_list.replace = counting_replace  # type: ignore[method-assign]
        trace_list.render_row = counting_render_row  # type: ignore[method-assign]
        before = [trace_list.rows[i].trace_id for i in range(len(trace_list.rows))]
        new_ids = [fixture_db.add_trace(db, 60 + k, f"GET /new{k}") for k in range(3)]
        await wait_for(pilot, lambda: all(i in trace_list.rows for i in new_ids))
        await pilot.pause(0.2)
        rows = [trace_list.rows[i].trace_id for i in range(len(trace_list.rows))]
        assert rows[:3] == new_ids[::-1] and rows[3:] == before  # newest first, the rest kept
        assert rebuilt == []  # no full rebuild: rows were upserted by key
        # Rows already on screen came from the line cache: only the new ones were drawn, and
        # the old top row the cursor left (the running trace grows each second, drawn too).
        new_names = {"GET /new0", "GET /new1", "GET /new2"}
        assert new_names <= set(drawn)
        old_top = trace_list.rows[3].root_span_name
        assert set(drawn) <= new_names | {old_top, "GET /reports/export"}
        assert drawn.count(old_top) <= 2  # four rows share that name: the others were not


async def test_the_mouse_wheel_scrolls_a_pane(db: Path) -> None:
    fixture_db.add_logs(
        db, 1, [fixture_db.L("debug", f"line {k}", 10 + k / 10, 0) for k in range(80)]
    )
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        pane = app.log_pane
        await wait_for(pilot, lambda: len(pane.rows) > pane.body_height + 10)
        await wait_for(pilot, lambda: pane.first_visible > 0)  # follows: scrolled to the end
        bottom = pane.first_visible
        for _ in range(3):
            pane.post_message(events.MouseScrollUp(pane, 5, 2, 0, 0, 0, False, False, False))
        await wait_for(pilot, lambda: pane.first_visible < bottom)
        assert not pane.following  # scrolled up by hand: new lines no longer pull it down
        up = pane.first_visible
        # Later than every line held (the pane is in time order): it goes at the end.
        fixture_db.add_logs(db, 1, [fixture_db.L("info", "arrived while reading", 20_000, 0)])
        await wait_for(pilot, lambda: pane.rows[-1].message == "arrived while reading")
        await pilot.pause(0.1)
        assert pane.first_visible == up  # what the user reads holds still
        for _ in range(30):  # the wheel back down to the newest line: following again
            pane.post_message(events.MouseScrollDown(pane, 5, 2, 0, 0, 0, False, False, False))
        await wait_for(pilot, lambda: pane.following)
        fixture_db.add_logs(db, 1, [fixture_db.L("info", "followed", 20_001, 0)])
        await wait_for(pilot, lambda: pane.rows[-1].message == "followed")
        await wait_for(pilot, lambda: pane.first_visible + pane.body_height == len(pane.rows))
