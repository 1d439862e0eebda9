"""The waterfall through Pilot: opening a trace, collapsing spans, running spans growing with
the clock, and the open trace following spans written meanwhile."""

from __future__ import annotations

from pathlib import Path

from . import fixture_db
from .conftest import make_app, open_trace, screen_text, wait_for

SIZE = (120, 40)


async def test_enter_opens_the_waterfall_and_spans_collapse(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        waterfall = app.waterfall
        assert app.focused is waterfall
        assert waterfall.row_count == 7
        text = screen_text(app)
        assert "▾ GET /orders" in text and "├─▾ auth.verify" in text
        assert "└── cache.get session" in text and "└── render json" in text
        await pilot.press("down")  # the root
        await pilot.press("enter")
        assert waterfall.row_count == 1 and "▸ GET /orders" in screen_text(app)
        await pilot.press("enter")
        assert waterfall.row_count == 7
        await pilot.press("down", "down", "down", "left")  # orders.list collapses
        assert waterfall.row_count == 5
        assert waterfall.selected_span is not None
        assert waterfall.selected_span.name == "orders.list"
        await pilot.press("right")
        assert waterfall.row_count == 7
        await pilot.press("a")
        assert waterfall.row_count == 1
        await pilot.press("a")
        assert waterfall.row_count == 7
        await pilot.press("t", "t")  # collapse spans under 10 ms: auth.verify (6 ms)
        assert waterfall.collapsed == {fixture_db.span_id(1, 1)}
        await pilot.press("escape")
        assert app.trace_list.has_focus
        await pilot.press("escape")
        assert waterfall.forest is None and app.log_pane.scope.trace_id is None


async def test_running_spans_grow_with_time(db: Path) -> None:
    now = [fixture_db.NOW]
    app = make_app(db, clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /reports/export")
        waterfall = app.waterfall

        def root_line() -> str:
            return waterfall.render_line(waterfall.header_lines).text

        before = root_line()
        assert "56.2s…" in before and "▶" in before
        now[0] += 60_000
        waterfall.tick()
        after = root_line()
        assert "1m56s…" in after
        # The finished child's bar shrinks as the axis grows with the running root.
        child = waterfall.render_line(waterfall.header_lines + 1).text
        assert child.count("█") < before.count("█")
        # The detail panel's "so far" of the running root goes on with the clock too, its
        # first lines only: the rest (maybe a megabyte of body) is not laid out again.
        await pilot.press("down")
        await wait_for(pilot, lambda: "1m56s so far" in app.detail.copy_text())
        rest = app.detail.query_one("#detail-text")
        updates: list[object] = []
        update = rest.update
        rest.update = lambda *args, **kwargs: (updates.append(1), update(*args, **kwargs))[1]
        now[0] += 10_000
        await wait_for(pilot, lambda: "2m06s so far" in app.detail.copy_text())
        assert updates == []


async def test_the_open_trace_follows_new_spans(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /reports/export")
        waterfall = app.waterfall
        await pilot.press("down", "down")  # highlight "db.query SELECT report"
        assert waterfall.selected_span is not None
        kept = waterfall.selected_span.span_id
        assert waterfall.forest is not None and waterfall.forest.running == 2
        new_span = fixture_db.grow_running_trace(db)
        await wait_for(pilot, lambda: waterfall.row_count == 4)
        assert waterfall.forest is not None and waterfall.forest.running == 1
        assert new_span in waterfall.forest.index_of
        assert waterfall.selected_span is not None and waterfall.selected_span.span_id == kept
        assert "upload s3" in screen_text(app)
