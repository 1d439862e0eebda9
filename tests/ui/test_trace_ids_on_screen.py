"""Trace ids as the dashboard shows them: the tail that tells the traces on screen apart, in
the waterfall's title; the command palette's jump by a prefix or that tail, listing the
candidates when several traces match; titles naming the trace, whichever way it was opened."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from lens_tui.trace_ids import short_id

from . import fixture_db
from .conftest import loaded, make_app, open_trace, screen_text, wait_for

SIZE = (120, 40)


def insert_named(db: Path, trace_id: str, name: str, start: float) -> None:
    """From a second connection: a finished one-span trace with exactly this id."""
    conn = fixture_db.connect(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO traces (trace_id, root_span_name, source, started_at, ended_at,"
            " duration_ms, root_span_id, service, status, span_count, error_count, updated_at)"
            " VALUES (?, ?, 'python', ?, ?, 2.0, ?, 'shop', 'ok', 1, 0, ?)",
            (trace_id, name, start, start + 2, trace_id[-16:], start + 5),
        )
        conn.execute(
            "INSERT INTO spans (span_id, trace_id, name, started_at, duration_ms, status,"
            " service, updated_at) VALUES (?, ?, ?, ?, 2.0, 'ok', 'shop', ?)",
            (trace_id[-16:], trace_id, name, start, start + 5),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def waterfall_title(app: object) -> str:
    return str(app.waterfall.border_title)  # type: ignore[attr-defined]


def log_title(app: object) -> str:
    return str(app.log_pane.border_title)  # type: ignore[attr-defined]


async def test_the_waterfall_title_shows_the_ids_tail(db: Path) -> None:
    """Time-ordered ids share their first digits: the title shows the last ones."""
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await open_trace(pilot, "POST /checkout")
        tid = fixture_db.trace_id(2)
        title = waterfall_title(app)
        assert "POST /checkout" in title
        assert short_id(tid) in title and tid[-8:] == short_id(tid)
        assert tid[:8] not in title
        assert short_id(tid) in screen_text(app)


async def test_the_tail_grows_where_two_traces_on_screen_share_it(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        first = "1" * 23 + "123456789"
        second = "2" * 23 + "123456789"  # the same last 9 characters
        insert_named(db, first, "GET /twin-a", fixture_db.NOW - 1_000)
        insert_named(db, second, "GET /twin-b", fixture_db.NOW - 900)
        await wait_for(pilot, lambda: second in app.trace_list.rows)
        await open_trace(pilot, "GET /twin-a")
        title = waterfall_title(app)
        assert "1123456789" in title and "11123456789" not in title, title


async def test_the_palette_jumps_by_the_tail_shown(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        tid = fixture_db.trace_id(2)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        app.screen.query_one(Input).value = short_id(tid)
        await wait_for(pilot, lambda: "Jump to trace POST /checkout" in screen_text(app))
        assert short_id(tid) in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.waterfall.forest is not None)
        assert app.dashboard.trace_view.trace_id == tid


async def test_an_ambiguous_part_lists_the_candidates(db: Path) -> None:
    """Every fixture id starts with `4bf92f35` (the first digits the title used to show): the
    palette lists the traces by name, each a jump; so does a tail two traces share."""
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        insert_named(db, "1" * 23 + "123456789", "GET /twin-a", fixture_db.NOW - 1_000)
        insert_named(db, "2" * 23 + "123456789", "GET /twin-b", fixture_db.NOW - 900)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        app.screen.query_one(Input).value = "4bf92f35"
        await wait_for(pilot, lambda: screen_text(app).count("Jump to trace") >= 5)
        text = screen_text(app)
        assert "Jump to trace GET /orders" in text and "Jump to trace POST /checkout" in text
        assert "one of 8 traces" in text
        app.screen.query_one(Input).value = "…23456789"
        await wait_for(pilot, lambda: "GET /twin-b" in screen_text(app))
        text = screen_text(app)
        assert "Jump to trace GET /twin-a" in text and "one of 2 traces" in text
        assert "1123456789" in text and "2123456789" in text  # tails that tell them apart


async def test_a_jump_to_a_trace_not_listed_names_it_in_the_titles(db: Path) -> None:
    """With the list filtered to other traces the palette opens one it does not hold: once
    read, the waterfall's and the log pane's titles name it, not its id."""
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"health", "enter")
        await wait_for(pilot, lambda: app.trace_list.row_count == 4)
        tid = fixture_db.trace_id(2)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette")
        app.screen.query_one(Input).value = tid
        await wait_for(pilot, lambda: "Jump to trace" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.waterfall.forest is not None)
        await wait_for(pilot, lambda: "POST /checkout" in log_title(app))
        assert "POST /checkout" in waterfall_title(app)
        assert tid not in waterfall_title(app) and tid[:12] not in log_title(app)
        assert "“POST /checkout”" in log_title(app)
