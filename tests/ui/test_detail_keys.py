"""Keys in the Detail pane that mean nothing there act on the waterfall whose span it shows
(enter toggles the span, a, t, n, N, ← and → as in the waterfall), and the footer says so;
↑ ↓ g G still scroll the panel."""

from __future__ import annotations

from pathlib import Path

from .conftest import make_app, open_trace, screen_text, wait_for

SIZE = (140, 40)


async def test_waterfall_keys_typed_in_the_detail_act_on_the_waterfall(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        waterfall = app.waterfall
        await pilot.press("down")  # the root span: it has children
        await wait_for(pilot, lambda: waterfall.selected_span is not None)
        assert waterfall.row_count == 7
        app.detail.focus()
        await pilot.pause(0.1)
        assert app.focused is app.detail
        footer = screen_text(app).splitlines()[-1]
        assert "⏎ Toggle span" in footer, footer
        await pilot.press("enter")  # collapses the root in the waterfall
        await wait_for(pilot, lambda: waterfall.row_count == 1)
        assert app.focused is app.detail  # the panel keeps the focus
        await pilot.press("enter")
        await wait_for(pilot, lambda: waterfall.row_count == 7)
        await pilot.press("a")  # collapse all
        await wait_for(pilot, lambda: waterfall.row_count == 1)
        await pilot.press("right")  # expand the selected span
        await wait_for(pilot, lambda: waterfall.row_count == 4)
