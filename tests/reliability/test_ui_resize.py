"""Case 15 (dashboard): a resize storm while data arrives.

200 terminal sizes in a row, from 8x3 to 220x70 (a tiling window manager, a terminal dragged
about), with a trace open and a writer thread adding traces the whole time. The dashboard must
not crash, and once the storm ends its layout must be exactly what a fresh dashboard draws at
that size in the same state, with every row as wide as its pane and the newest trace on top.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from pathlib import Path

from textual.drivers.headless_driver import HeadlessDriver
from textual.events import Resize
from textual.geometry import Region, Size
from textual.pilot import Pilot
from ui.conftest import screen_text  # tests/ui's helper: the screen as text lines

from lens_tui.ui.app import LensApp

from .conftest import query
from .ui_support import T0, add_trace, writer

RESIZES = 200
START, FINAL = (150, 45), (140, 40)


def _feed(db: Path, stop: threading.Event, written: list[int]) -> None:
    """A second connection adding a trace every 30 ms until stopped."""
    conn = writer(db)
    try:
        n = 100
        while not stop.is_set():
            add_trace(conn, f"{n:032x}", f"GET /storm/{n}", T0 + n * 10, spans=4)
            written.append(n)
            n += 1
            time.sleep(0.03)
    finally:
        conn.close()


async def _open_first(pilot: Pilot[LensApp], app: LensApp, trace_id: str) -> None:
    """Open `trace_id` with its second span in the detail panel."""
    app.trace_list.focus()
    app.trace_list.move_cursor(app.trace_list.rows.index(trace_id), user=True)
    await pilot.press("enter")
    while app.waterfall.row_count < 4:
        await pilot.pause(0.02)
    await pilot.press("down", "down")
    while app.detail.span is None:
        await pilot.pause(0.02)


async def _storm(pilot: Pilot[LensApp], sizes: list[tuple[int, int]], gap_s: float) -> int:
    """Resize as `Pilot.resize_terminal` does, `gap_s` apart, without waiting for the screen to
    settle (a real storm of SIGWINCH does not wait, and under a steady stream of rows the screen
    never settles). Returns how many sizes the screen had taken when the next one came."""
    app = pilot.app
    assert isinstance(app._driver, HeadlessDriver)
    taken = 0
    for width, height in sizes:
        size = Size(width, height)
        app._driver._size = size
        app.post_message(Resize(size, size))
        await asyncio.sleep(gap_s)
        taken += app.screen.size == size
    return taken


def _layout(app: LensApp) -> dict[str, Region]:
    """Where each pane is on screen."""
    widgets = (app.header, app.trace_list, app.waterfall, app.detail, app.log_pane)
    return {widget.id or "?": widget.region for widget in widgets}


def _bad_rows(app: LensApp) -> list[str]:
    """Lines on screen that are not exactly as wide as their pane."""
    bad = []
    for widget in (app.trace_list, app.waterfall, app.log_pane):
        width = widget.content_width
        for y in range(widget.scrollable_content_region.height):
            length = widget.render_line(y).cell_length
            if length != width:
                bad.append(f"{widget.id} line {y}: {length} cells, not {width}")
    return bad


async def test_ui_15_resize_storm_while_data_arrives(tmp_path: Path) -> None:
    """200 resizes with rows arriving: no crash; afterwards the same layout and the same screen
    as a fresh app in the same state, rows exactly pane-wide, the newest trace listed first."""
    db = tmp_path / "traces.db"
    conn = writer(db)
    for n in range(1, 30):
        add_trace(conn, f"{n:032x}", f"GET /before/{n}", T0 + n * 10, spans=4)
    conn.close()
    rng = random.Random(15)
    sizes = [(rng.randint(8, 220), rng.randint(3, 70)) for _ in range(RESIZES - 2)]
    sizes[:0] = [(8, 3), (220, 70)]  # the extremes, for sure
    stop, written = threading.Event(), []
    feeder = threading.Thread(target=_feed, args=(db, stop, written), daemon=True)
    app = LensApp(db, poll=0.2)
    async with app.run_test(size=START) as pilot:
        while app.trace_list.row_count < 29:
            await pilot.pause(0.02)
        await _open_first(pilot, app, f"{5:032x}")
        feeder.start()
        started = time.monotonic()
        try:
            taken = await _storm(pilot, sizes, gap_s=0.005)
            storm_s = time.monotonic() - started
        finally:
            stop.set()
            feeder.join(10)
        await pilot.resize_terminal(*FINAL)
        total = int(query(db, "SELECT count(*) FROM traces")[0][0])
        deadline = time.monotonic() + 10
        while app.trace_list.row_count < min(total, app.trace_list.rows.cap):
            assert time.monotonic() < deadline, (app.trace_list.row_count, total)
            await pilot.pause(0.05)
        app.trace_list.action_live_top()  # as `g` would, with the waterfall keeping focus
        await pilot.pause(0.3)
        after = _layout(app)
        screen = screen_text(app)
        assert app.is_running and app.return_code is None
        assert _bad_rows(app) == []
        assert app.trace_list.rows[0].root_span_name == f"GET /storm/{written[-1]}"
        assert app.detail.span is not None and app.waterfall.row_count == 4
    lines = screen.splitlines()
    assert len(lines) == FINAL[1] and lines[0].startswith(" ◆ lens")
    assert f"GET /storm/{written[-1]}" in screen

    fresh = LensApp(db, poll=0.2)
    async with fresh.run_test(size=FINAL) as pilot:
        while fresh.trace_list.row_count < min(total, fresh.trace_list.rows.cap):
            await pilot.pause(0.02)
        await _open_first(pilot, fresh, f"{5:032x}")
        fresh.trace_list.action_live_top()
        await pilot.pause(0.3)
        expected = _layout(fresh)
        fresh_screen = screen_text(fresh)
    assert after == expected, f"layout after the storm {after} != fresh {expected}"
    # Everything below the header (whose rates and ages move) reads the same, line by line.
    differ = [
        f"line {y}: {a!r} != {b!r}"
        for y, (a, b) in enumerate(zip(lines[1:], fresh_screen.splitlines()[1:], strict=False), 1)
        if a != b
    ]
    assert not differ, "the screen after the storm differs from a fresh one:\n" + "\n".join(
        differ[:8]
    )
    print(
        f"case 15: {RESIZES} resizes in {storm_s:.1f} s ({taken} laid out before the next "
        f"came) while {len(written)} traces arrived; final layout and screen equal a fresh app's"
    )
