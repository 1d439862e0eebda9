"""Pause (`space`) holds the panes still and loses nothing, however much arrives meanwhile."""

from __future__ import annotations

from pathlib import Path

from lens_tui.live.limits import LOG_CAP

from . import fixture_db
from .conftest import loaded, make_app, screen_text, wait_for

SIZE = (120, 40)


async def test_space_pauses_and_resumes_without_losing_rows(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("space")
        assert "PAUSED" in screen_text(app)
        held = [fixture_db.add_trace(db, 44 + k, f"GET /held{k}") for k in range(3)]
        await wait_for(pilot, lambda: app.header.queued >= 6)  # 3 traces + 3 logs
        assert not any(i in app.trace_list.rows for i in held)
        assert "3 new traces, 3 logs held" in screen_text(app)  # what is held, not "6 queued"
        await pilot.press("space")
        assert all(i in app.trace_list.rows for i in held)
        messages = {r.message for r in app.log_pane.rows}
        assert {"GET /held0 handled", "GET /held2 handled"} <= messages
        assert "● LIVE" in screen_text(app)


async def test_more_logs_than_the_pane_keeps_arrive_while_paused(db: Path) -> None:
    """The pane shows the newest `LOG_CAP` lines after resuming, as it would have live, and
    its per-level counts match the file (they are read again: the overflow was not counted)."""
    extra = LOG_CAP + 2_000
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        before = dict(app.log_pane.counts)
        await pilot.press("space")
        in_file = fixture_db.add_loose_logs(
            db, (("warn" if k % 10 == 0 else "info", f"flood {k}") for k in range(extra))
        )
        await wait_for(pilot, lambda: app.header.queued >= extra, timeout=15)
        assert app.log_pane.counts == before  # held still
        await pilot.press("space")
        await wait_for(pilot, lambda: app.log_pane.counts.get("warn") == in_file.get("warn"))
        assert {level: n for level, n in app.log_pane.counts.items() if n} == in_file
        rows = app.log_pane.rows
        assert len(rows) == LOG_CAP and rows[-1].message == f"flood {extra - 1}"
        ids = [row.id for row in rows]
        assert ids == sorted(set(ids))  # no line twice, none out of order
