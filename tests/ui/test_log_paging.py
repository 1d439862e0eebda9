"""The log pane loads the newest lines of a scope; reaching the oldest one held (home, or
the wheel to the top) pages the older ones in above it, up to the pane's cap."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events

from lens_tui.live.limits import LOG_LOAD_LIMIT, OLDER_LOG_PAGE

from . import fixture_db
from .conftest import loaded, make_app, open_trace, wait_for

SIZE = (120, 40)
MORE = LOG_LOAD_LIMIT + OLDER_LOG_PAGE + 300
"""Lines of the trace: a first load, a full older page, and a part page."""


def _flood(db: Path) -> None:
    """Lines logged after the trace's own (the pane shows them in time order)."""
    fixture_db.add_logs(
        db, 1, [fixture_db.L("info", f"line {k}", 50 + k / 1000, 4) for k in range(MORE)]
    )


async def test_home_pages_in_older_lines_of_a_trace(db: Path) -> None:
    _flood(db)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        pane = app.log_pane
        await wait_for(pilot, lambda: len(pane.rows) == LOG_LOAD_LIMIT)
        assert pane.rows[-1].message == f"line {MORE - 1}" and pane.older
        pane.focus()
        await pilot.press("home")  # the oldest line held: the page before it comes in
        held = pane.highlighted
        assert held is not None
        await wait_for(pilot, lambda: len(pane.rows) == LOG_LOAD_LIMIT + OLDER_LOG_PAGE)
        assert pane.highlighted == held  # the line read stays under the cursor
        assert pane.cursor == OLDER_LOG_PAGE and pane.older
        await pilot.press("home")  # and the rest: the trace's 4 own lines and the first 300
        await wait_for(pilot, lambda: not pane.older)
        ids = [row.id for row in pane.rows]
        assert ids == sorted(set(ids))
        messages = [row.message for row in pane.rows]
        assert messages[-MORE:] == [f"line {k}" for k in range(MORE)]
        assert len(messages) == MORE + 4  # every line of the trace, once


async def test_the_wheel_to_the_top_pages_in_older_recent_lines(db: Path) -> None:
    _flood(db)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        pane = app.log_pane
        await wait_for(pilot, lambda: len(pane.rows) == LOG_LOAD_LIMIT)
        pane.scroll_rows(0)
        pane.post_message(events.MouseScrollUp(pane, 5, 2, 0, 0, 0, False, False, False))
        await wait_for(pilot, lambda: len(pane.rows) == LOG_LOAD_LIMIT + OLDER_LOG_PAGE)
        assert pane.first_visible == OLDER_LOG_PAGE  # the lines on screen did not move


async def test_a_span_scope_pages_too(db: Path) -> None:
    _flood(db)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        app.waterfall.select_span(fixture_db.span_id(1, 4), user=True)  # the flooded span
        pane = app.log_pane
        await wait_for(pilot, lambda: pane.scope.span_ids == frozenset({fixture_db.span_id(1, 4)}))
        await wait_for(pilot, lambda: len(pane.rows) == LOG_LOAD_LIMIT and pane.older)
        pane.focus()
        for _ in range(3):
            await pilot.press("home")
            await pilot.pause(0.2)
        await wait_for(pilot, lambda: not pane.older)
        assert [row.message for row in pane.rows][-MORE:] == [f"line {k}" for k in range(MORE)]
        assert {row.span_id for row in pane.rows} == {fixture_db.span_id(1, 4)}


async def test_paging_leaves_room_for_live_lines_and_survives_a_failed_page(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages stop a fifth of the cap short of it, so live lines arriving while the user reads
    the oldest ones push nothing out; a page that fails to read is asked for again."""
    from lens_tui.live.limits import LOG_CAP
    from lens_tui.store.reader import OpenError, TraceReader

    fixture_db.add_logs(
        db, 1, [fixture_db.L("info", f"line {k}", 10 + k / 1000, 4) for k in range(LOG_CAP + 2_000)]
    )
    logs = TraceReader.logs
    failures = [1]

    def flaky(self: TraceReader, **kwargs: object) -> object:
        if kwargs.get("before_id") is not None and failures:
            failures.pop()
            raise OpenError("traces.db is locked")
        return logs(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(TraceReader, "logs", flaky)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "GET /orders")
        pane = app.log_pane
        await wait_for(pilot, lambda: len(pane.rows) == LOG_LOAD_LIMIT)
        pane.focus()
        await pilot.press("home")  # this page fails to read
        await wait_for(pilot, lambda: not failures and pane._asked_before is None)
        limit = LOG_CAP - LOG_CAP // 5
        for _ in range(6):
            await pilot.press("down", "home")
            await pilot.pause(0.15)
        await wait_for(pilot, lambda: len(pane.rows) == limit)
        held = pane.highlighted
        assert held is not None and pane.cursor == 0
        fixture_db.add_logs(db, 1, [fixture_db.L("warn", f"live {k}", 30, 4) for k in range(3)])
        await wait_for(pilot, lambda: pane.rows[-1].message == "live 2")
        assert len(pane.rows) == limit + 3 and pane.highlighted == held
