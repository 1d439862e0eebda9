"""A log line in full: `i` on the log pane (or enter on a line of no trace) shows its message,
level as it was logged, logger, service, source location, attributes and traceback."""

from __future__ import annotations

import json
from pathlib import Path

from lens_tui.levels import LEVEL_NAME_KEY

from . import fixture_db
from .conftest import loaded, make_app, screen_text, wait_for

SIZE = (140, 44)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "app/jobs.py", line 12, in nightly\n'
    "    ratio = done / total\n"
    "ZeroDivisionError: division by zero"
)


def add_failed_log(db: Path, *, trace: int | None) -> None:
    """From a second connection: a CRITICAL log with an exception, newer than the others."""
    conn = fixture_db.connect(db)
    try:
        conn.execute(
            "INSERT INTO logs (trace_id, span_id, level, message, timestamp, logger, service,"
            " source_location, exception_type, traceback, attributes)"
            " VALUES (?, ?, 'error', ?, ?, 'app.jobs', 'worker', 'app/jobs.py:12',"
            " 'ZeroDivisionError', ?, ?)",
            (
                None if trace is None else fixture_db.trace_id(trace),
                None if trace is None else fixture_db.span_id(trace, 0),
                "nightly job failed\nsecond line of the message",
                fixture_db.NOW,
                TRACEBACK,
                json.dumps({"job.id": 42, LEVEL_NAME_KEY: "CRITICAL", "note": "[b]x[/b]"}),
            ),
        )
    finally:
        conn.close()


async def test_i_shows_the_highlighted_log_in_full(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        add_failed_log(db, trace=1)
        await wait_for(pilot, lambda: "nightly job failed" in app.log_pane.rows[-1].message)
        app.log_pane.focus()
        await pilot.press("up", "i")
        await wait_for(pilot, lambda: "ZeroDivisionError: division by zero" in screen_text(app))
        assert "Log detail" in screen_text(app)
        assert "CRITICAL  nightly job failed" in screen_text(app)
        text = app.dashboard.logs.detail.copy_text() or ""  # the whole panel, scrolled or not
        for shown in (
            "nightly job failed",
            "second line of the message",
            "CRITICAL",
            "app.jobs",
            "worker",
            "app/jobs.py:12",
            "job.id = 42",
            "note = [b]x[/b]",
            'File "app/jobs.py", line 12, in nightly',
            "ratio = done / total",
            fixture_db.trace_id(1),
        ):
            assert shown in text, shown
        await pilot.press("up")  # the detail follows the cursor
        await wait_for(pilot, lambda: "ZeroDivisionError: division by" not in screen_text(app))
        assert app.log_pane.highlighted is not None
        assert app.log_pane.highlighted.message == "health check 8"
        assert "DEBUG  health check 8" in screen_text(app)
        await pilot.press("i")  # and goes
        await wait_for(pilot, lambda: "Log detail" not in screen_text(app))


async def test_enter_on_a_line_of_no_trace_shows_it_in_full(db: Path) -> None:
    """Enter on a line of a trace goes to its span; a line of none has no span to go to."""
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        add_failed_log(db, trace=None)
        await wait_for(pilot, lambda: "nightly job failed" in app.log_pane.rows[-1].message)
        app.log_pane.focus()
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: "ZeroDivisionError: division by zero" in screen_text(app))
        assert app.dashboard.trace_view.trace_id is None
        assert "CRITICAL" in screen_text(app)
