"""The span detail panel: an error's traceback, a captured JSON body, input and output sizes."""

from __future__ import annotations

import json
from pathlib import Path

from . import fixture_db
from .conftest import make_app, open_trace, screen_text, wait_for

SIZE = (120, 40)


async def test_detail_shows_error_traceback_and_json_body(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "POST /checkout")
        await pilot.press("down", "down")
        span = app.waterfall.selected_span
        assert span is not None and span.name == "payments.charge"
        await wait_for(pilot, lambda: '"order": 1234' in (app.detail.copy_text() or ""))
        detail = app.detail.copy_text() or ""
        assert "ValueError: card declined" in detail
        assert 'File "shop/payments.py", line 42, in charge' in detail
        assert "self time  15.0ms" in detail
        assert '"note": "[b]not markup[/b]"' in detail  # JSON pretty-printed, markup literal
        assert "shop/payments.py:42" in detail
        assert "status     error" in screen_text(app)
        app.detail.focus()
        await pilot.press("end")
        await pilot.pause(0.05)
        assert '"sku": "A-1"' in screen_text(app)


async def test_detail_shows_input_and_output_sizes(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        await pilot.press("down")  # the root: output_size 512 in the fixture, no input size
        await wait_for(pilot, lambda: (app.detail.copy_text() or "").startswith("GET /orders"))
        assert "sizes      in – · out 512 B\n" in (app.detail.copy_text() or "")
        assert "in – · out 512 B" in screen_text(app)
        await pilot.press("down")  # auth.verify: neither size known, so no sizes line
        await wait_for(pilot, lambda: (app.detail.copy_text() or "").startswith("auth.verify"))
        assert "sizes" not in (app.detail.copy_text() or "")

        await pilot.press("escape")
        await open_trace(pilot, "POST /checkout")
        await pilot.press("down", "down")  # payments.charge: its captured input body's size
        body_size = len(json.dumps(fixture_db.BODY).encode())
        await wait_for(pilot, lambda: (app.detail.copy_text() or "").startswith("payments.charge"))
        assert f"sizes      in {body_size} B · out –\n" in (app.detail.copy_text() or "")
