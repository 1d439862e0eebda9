"""Cases 2 and 3 (dashboard): the file is replaced, or does not exist yet, while the app runs.

An open SQLite connection keeps serving a deleted file forever and its data_version never moves
(docs/findings.md), so the dashboard must notice the new inode, drop every old row (list, waterfall,
detail, logs) and show the new file within a second. Started before the file exists, it says it
is waiting, then shows the data of a writer that created the file and closed (its -wal and -shm
removed with it), and keeps tailing when a writer comes back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from ui.conftest import screen_text  # tests/ui's helper: the screen as text lines

from lens_tui.ui.app import LensApp

from .conftest import write_spans
from .ui_support import T0, add_trace, insert, writer

NOTICE_S = 1.0


def _write(db: Path, names: list[str], start: float, log: str) -> None:
    """A writer that comes and goes: traces named `names` (3 spans each) and one log, then close."""
    conn = writer(db)
    for i, name in enumerate(names):
        add_trace(conn, f"{int(start) + i:032x}", name, start + i, spans=3)
    insert(conn, "logs", level="info", message=log, timestamp=start)
    conn.close()


def _names(app: LensApp) -> set[str]:
    rows = app.trace_list.rows
    return {rows[i].root_span_name for i in range(len(rows))}


async def _until(pilot: Pilot[Any], condition: Callable[[], object], timeout: float) -> float:
    """Seconds until `condition()` holds; fails after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s: {condition.__doc__ or condition}")
        await pilot.pause(0.01)
    return time.monotonic() - started


async def test_ui_02_database_replaced_while_the_dashboard_runs(tmp_path: Path) -> None:
    """Delete db, -wal and -shm and create a new db under the same name: within 1 s the list,
    the open trace and the logs show only the new file's data; then its new rows still arrive."""
    db = tmp_path / "traces.db"
    _write(db, ["old-1", "old-2", "old-3"], T0, "old log line")
    app = LensApp(db)  # as a user runs it: watcher plus a 1 s fallback poll
    async with app.run_test(size=(140, 40)) as pilot:
        await _until(pilot, lambda: len(_names(app)) == 3 and app.log_pane.row_count, 10)
        await pilot.press("enter")  # a trace of the old file open, its span in the detail
        await _until(pilot, lambda: app.waterfall.row_count == 3, 5)
        await pilot.press("down")
        await pilot.pause(0.2)
        assert "old-" in screen_text(app)

        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{db}{suffix}"):
                os.unlink(f"{db}{suffix}")
        _write(db, ["new-1", "new-2"], T0 + 50_000, "new log line")
        replaced_at = time.monotonic()

        def swapped() -> bool:
            """only the new file's traces and logs are held"""
            logs = [log.message for log in app.log_pane.rows]
            return _names(app) == {"new-1", "new-2"} and logs == ["new log line"]

        took = await _until(pilot, swapped, NOTICE_S)
        await pilot.pause(0.1)
        screen = screen_text(app)
        assert "new-1" in screen and "new log line" in screen
        assert "old-" not in screen and "old log" not in screen, screen
        assert app.waterfall.forest is None and app.detail.span is None  # the old trace closed
        assert app.header.stats is not None and app.header.stats.traces == 2

        # The replacement is tailed like any file.
        write_spans(db, ["new-3"])
        tail = await _until(pilot, lambda: "new-3" in _names(app), NOTICE_S)
        total = time.monotonic() - replaced_at
    print(
        f"case 2 (dashboard): new file shown {took * 1000:.0f} ms after it was written "
        f"({total:.2f} s to the next tailed row, which took {tail * 1000:.0f} ms)"
    )


async def test_ui_03_started_before_the_file_then_writers_come_and_go(tmp_path: Path) -> None:
    """No file: the screen says it is waiting. A writer creates the file and closes (no -wal or
    -shm left): its rows appear within 1 s. Writers come back twice: their rows appear too."""
    db = tmp_path / "traces.db"
    app = LensApp(db)
    async with app.run_test(size=(140, 40)) as pilot:
        await _until(pilot, lambda: "waiting" in (app.header.waiting or ""), 5)
        await pilot.pause(0.3)
        screen = screen_text(app)
        assert "waiting for traces.db" in screen, screen

        # The first writer comes and goes before the dashboard looks (white-box: its reader's
        # lock is held), so it is the last connection and removes its -wal and -shm.
        reader = app.dashboard.feed.reader
        with reader._lock:
            write_spans(db, ["first"])
            assert db.exists()
            assert not os.path.exists(f"{db}-wal") and not os.path.exists(f"{db}-shm")
            created_at = time.monotonic()
        first = await _until(pilot, lambda: _names(app) == {"first"}, NOTICE_S)
        await pilot.pause(0.1)
        screen = screen_text(app)
        assert "first" in screen and "waiting" not in screen, screen

        lags = []
        for name in ("second", "third"):
            write_spans(db, [name])  # a writer comes back, writes, closes again
            lags.append(await _until(pilot, lambda n=name: n in _names(app), NOTICE_S))
        assert _names(app) == {"first", "second", "third"}
        assert app.header.stats is not None and app.header.stats.traces == 3
        assert time.monotonic() - created_at < 10
    print(
        f"case 3 (dashboard): data shown {first * 1000:.0f} ms after the file appeared; "
        f"returning writers shown after {', '.join(f'{s * 1000:.0f}' for s in lags)} ms"
    )
