"""Log lines in time order: two processes commit their batches in turn, so commit order is not
time order; the pane slots each line in where its timestamp puts it, and still follows."""

from __future__ import annotations

from pathlib import Path

from . import fixture_db
from .conftest import loaded, make_app, messages, wait_for

SIZE = (120, 40)


def write_batch(db: Path, lines: list[tuple[float, str]], logger: str) -> None:
    """From a second connection, in one transaction: info logs at NOW + offset ms."""
    conn = fixture_db.connect(db)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO logs (level, message, timestamp, logger, service)"
            " VALUES ('info', ?, ?, ?, ?)",
            ((message, fixture_db.NOW + offset, logger, logger) for offset, message in lines),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def timestamps(app: object) -> list[float]:
    return [row.timestamp for row in app.log_pane.rows]  # type: ignore[attr-defined]


async def test_lines_of_two_writers_show_in_time_order_while_following(db: Path) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        # One writer's batch commits first, the other's (older lines) after it.
        write_batch(db, [(253.0, "a 253"), (266.0, "a 266"), (300.0, "a 300")], "api")
        await wait_for(pilot, lambda: "a 300" in messages(app))
        write_batch(db, [(250.0, "b 250"), (260.0, "b 260"), (280.0, "b 280")], "worker")
        await wait_for(pilot, lambda: "b 280" in messages(app))
        assert messages(app)[-6:] == ["b 250", "a 253", "b 260", "a 266", "b 280", "a 300"]
        assert timestamps(app) == sorted(timestamps(app))
        pane = app.log_pane
        assert pane.following and pane.first_visible + pane.body_height >= pane.row_count
        write_batch(db, [(400.0, "a 400")], "api")
        await wait_for(pilot, lambda: messages(app)[-1] == "a 400")
        assert pane.first_visible + pane.body_height >= pane.row_count  # still following


async def test_a_line_slotted_in_above_the_cursor_keeps_the_cursor_on_its_line(
    db: Path,
) -> None:
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        app.log_pane.focus()
        await pilot.press("up", "up", "up")
        held = app.log_pane.highlighted
        assert held is not None
        write_batch(db, [(-59_000.0, "late from another process")], "worker")
        await wait_for(pilot, lambda: "late from another process" in messages(app))
        assert app.log_pane.highlighted == held
        assert timestamps(app) == sorted(timestamps(app))
