"""Rows deleted from the file while the dashboard shows them (`lens-tui prune`, a writer's
retention, any other delete) leave the trace list, the open trace and the log pane within a
refresh, checked against a second connection; a trace opened after it was deleted says so."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from . import fixture_db
from .conftest import loaded, make_app, messages, open_trace, screen_text, wait_for
from .oracle import read_only

SIZE = (120, 40)


def add_recent(db: Path, n: int, name: str) -> str:
    """From a second connection: a trace started now on the real clock (prune keeps it)."""
    conn = fixture_db.connect(db)
    try:
        start = time.time() * 1000
        return fixture_db.insert_trace(
            conn,
            n,
            start,
            [fixture_db.S(0, None, name, 0, 2.0)],
            [fixture_db.L("info", f"{name} handled", 1, 0, "shop.live")],
            updated_at=start,
        )
    finally:
        conn.close()


def prune(db: Path, older_than: str = "1h") -> str:
    """The real command in its own process: every fixture row is years old."""
    done = subprocess.run(
        [sys.executable, "-m", "lens_tui", "prune", "--db", str(db), "--older-than", older_than],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def in_file(db: Path) -> tuple[set[str], list[str]]:
    """The oracle: trace ids and log messages in the file, read by a connection of its own."""
    conn = read_only(db)
    try:
        traces = {row[0] for row in conn.execute("SELECT trace_id FROM traces")}
        logs = [row[0] for row in conn.execute("SELECT message FROM logs ORDER BY id")]
        return traces, logs
    finally:
        conn.close()


def listed(app: object) -> set[str]:
    rows = app.trace_list.rows  # type: ignore[attr-defined]
    return {rows[i].trace_id for i in range(len(rows))}


async def test_pruned_traces_and_logs_leave_the_list_and_the_log_pane(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        kept = {add_recent(db, 50, "GET /kept-a"), add_recent(db, 51, "GET /kept-b")}
        await wait_for(pilot, lambda: kept <= listed(app))
        assert "10 shown" in screen_text(app)
        assert "removed 8 traces" in prune(db)
        traces, logs = in_file(db)
        assert traces == kept
        await wait_for(pilot, lambda: listed(app) == kept)
        await wait_for(pilot, lambda: messages(app) == logs)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "2 shown" in text and "GET /health" not in text and "POST /checkout" not in text
        # The per-level counts are the file's again.
        await wait_for(
            pilot, lambda: app.log_pane.counts == {"debug": 0, "info": 2, "warn": 0, "error": 0}
        )
        newer = add_recent(db, 52, "GET /after")  # and the list goes on: 3, not 11
        await wait_for(pilot, lambda: newer in listed(app))
        await pilot.pause(0.2)
        assert "3 shown" in screen_text(app)


async def test_an_open_trace_that_is_deleted_closes(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_trace(pilot, "POST /checkout")
        prune(db)
        await wait_for(pilot, lambda: app.dashboard.trace_view.trace_id is None)
        await wait_for(pilot, lambda: "was deleted" in screen_text(app))
        assert "“POST /checkout”" in screen_text(app)
        assert app.log_pane.scope.trace_id is None and app.trace_list.row_count == 0


async def test_a_trace_deleted_while_paused_says_so_when_opened(db: Path) -> None:
    """Paused, the list holds still (deleted rows too, until resumed); opening one of them
    says it is not in the file, not "no spans (yet)", and it leaves the list."""
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("space")
        prune(db)
        await pilot.pause(0.5)
        assert app.trace_list.row_count == 8  # held still while paused
        target = fixture_db.trace_id(2)
        rows = app.trace_list.rows
        index = rows.index(target)
        assert index is not None
        app.trace_list.move_cursor(index, user=True)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "is not in the file" in screen_text(app))
        text = screen_text(app)
        assert "no spans (yet)" not in text
        assert target not in listed(app) and app.trace_list.row_count == 7
        await pilot.press("space")  # resumed: the rest go too
        await wait_for(pilot, lambda: app.trace_list.row_count == 0)


async def test_a_row_deleted_out_of_age_order_leaves_the_screen(db: Path) -> None:
    """Not a prune by age: a trace in the middle and a log line on screen, deleted by hand."""
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        conn = fixture_db.connect(db)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM spans WHERE trace_id = ?", (fixture_db.trace_id(3),))
            conn.execute("DELETE FROM traces WHERE trace_id = ?", (fixture_db.trace_id(3),))
            conn.execute("DELETE FROM logs WHERE message = 'health check 7'")  # on screen
            conn.execute("COMMIT")
        finally:
            conn.close()
        await wait_for(pilot, lambda: fixture_db.trace_id(3) not in listed(app))
        await wait_for(pilot, lambda: "health check 7" not in messages(app))
        traces, logs = in_file(db)
        assert listed(app) == traces and messages(app) == logs
        await pilot.pause(0.2)
        assert "7 shown" in screen_text(app)
