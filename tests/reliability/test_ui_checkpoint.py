"""Case 1 (dashboard): the running dashboard never starves the writer's checkpoints.

A writer process records spans at a steady 6k/s through the tracing library while the real
dashboard (run_test + Pilot, default watcher and poll) is used: a trace open with a span in the
detail panel, a name filter applied, paused most of the time, scrolling the list and the
waterfall. Between refreshes (every reader's lock held, so no query is half-way) a probe's
passive checkpoint must copy the whole WAL, and the -wal file never grows past twice the
auto-checkpoint size plus one batch. A read transaction kept past a refresh pins the WAL: the
probe's checkpoint stops short and the file grows by megabytes (docs/findings.md).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from lens_tui.store.reader import TraceReader
from lens_tui.ui.app import LensApp

from .conftest import file_size, popen_python, probe_checkpoint, query, write_script

AUTOCHECKPOINT_PAGES = 1000
"""What the writer sets (`PRAGMA wal_autocheckpoint`, lens_tui/tracing/sql.py)."""
SLACK_PAGES = 500
"""A checkpoint runs only after the commit that crossed the threshold, so the WAL may pass
2 x 1000 pages by one batch: at 6k spans/s and a 50 ms flush a batch is ~300 spans, ~100 pages
with the span indexes; 500 pages is that with a 3x margin for a late flush on a loaded machine.
A reader that pins a snapshot grows the WAL by thousands of pages instead."""
RATE = 6_000
"""Spans per second: 30,000 take 5 s, long enough for a dozen user steps here."""

WRITER = """
    import sys, time
    from lens_tui import tracing
    from lens_tui.tracing import span

    db, total, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    store = tracing.configure(db, service="starve", flush_interval=0.05, retention_days=None)

    def record(written):
        with span("POST /pay" if written % 30 == 0 else "GET /orders"):
            for _ in range(9):
                with span("db.query"):
                    pass
            store.log("warn" if written % 7 == 0 else "info", "handled")

    for written in range(0, 300, 10):  # something to open before the load starts
        record(written)
    assert tracing.flush(60)
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    written = 0
    while written < total:
        target = min(total, int((time.perf_counter() - start) * rate) + 100)
        while written < target:
            record(written)
            written += 10
        time.sleep(0.005)
    assert tracing.flush(60)
    print(f"done {store.dropped} {store.errors}", flush=True)
    sys.stdin.readline()  # an idle writer connection stays open until the test has probed
    tracing.shutdown()
"""


def _readers(app: LensApp) -> list[TraceReader]:
    """Every connection the dashboard holds (white-box: the invariant is about all of them)."""
    return [app.dashboard.feed.reader, *app.dashboard.readers.open_readers()]


@contextmanager
def between_refreshes(app: LensApp) -> Iterator[list[TraceReader]]:
    """Hold every reader's lock: no dashboard query is running until the block ends."""
    with ExitStack() as stack:
        readers = _readers(app)
        for reader in readers:
            assert reader._lock.acquire(timeout=5), "a dashboard query ran for 5 s"
            stack.callback(reader._lock.release)
        yield readers


def _probe(app: LensApp, db: Path) -> tuple[int, int, int]:
    """A passive checkpoint between refreshes; a checkpoint the writer runs at the same moment
    makes it busy, so it is retried a few times (a pinned snapshot never clears)."""
    result = (1, 0, 0)
    for _ in range(5):
        with between_refreshes(app) as readers:
            open_tx = [r for r in readers if r._conn is not None and r._conn.in_transaction]
            assert not open_tx, "a read transaction outlived its refresh"
            result = probe_checkpoint(db)
        if result[0] == 0 and result[1] == result[2]:
            return result
        time.sleep(0.02)
    return result


async def _use(pilot: Pilot[Any], app: LensApp, step: int) -> None:
    """One moment of a user reading: scroll the list or the waterfall, now and then resume."""
    if step % 10 == 9:
        await pilot.press("space", "space")  # resume (the queue is applied), hold still again
    elif step % 2:
        app.trace_list.focus()
        await pilot.press("pagedown" if step % 4 == 1 else "up")
    else:
        app.waterfall.focus()
        await pilot.press("down" if step % 4 == 0 else "up")  # the detail panel follows


async def _wait(pilot: Pilot[Any], condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        await pilot.pause(0.05)


async def _run(tmp_path: Path, spans: int) -> None:
    db = tmp_path / "traces.db"
    script = write_script(tmp_path, "writer.py", WRITER)
    proc = popen_python(script, str(db), str(spans), str(RATE))
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    finished = threading.Event()
    lines: list[str] = []
    threading.Thread(
        target=lambda: (lines.append(proc.stdout.readline()), finished.set()), daemon=True
    ).start()
    probes: list[tuple[int, int, int]] = []
    max_wal = 0
    steps = 0
    started = written_s = time.monotonic()
    final = (1, 0, 0)
    try:
        app = LensApp(db)
        async with app.run_test(size=(160, 48)) as pilot:
            await _wait(pilot, lambda: app.trace_list.row_count > 0)
            await pilot.press("enter")  # open the newest trace
            await _wait(pilot, lambda: app.waterfall.row_count > 1)
            await pilot.press("down")  # a span in the detail panel
            # Back to the list (in the waterfall `/` finds spans), filter it by name.
            await pilot.press("escape", "slash", *"POST", "enter")
            await pilot.press("space")  # pause
            assert app.dashboard.feed.paused and app.detail.span is not None
            proc.stdin.write("go\n")  # the load starts now that the dashboard is in use
            proc.stdin.flush()
            started = time.monotonic()
            while not finished.is_set():
                assert proc.poll() is None, f"writer died: {proc.stderr.read()}"
                await _use(pilot, app, steps)
                steps += 1
                probes.append(_probe(app, db))
                max_wal = max(max_wal, file_size(f"{db}-wal"))
                await pilot.pause(0.05)
            written_s = time.monotonic() - started
            await pilot.press("space")  # live again: the dashboard catches up
            total = spans + 300
            await _wait(pilot, lambda: app.header.stats and app.header.stats.spans == total)
            assert app.trace_list.row_count > 0
            assert all("POST" in app.trace_list.rows[i].root_span_name for i in range(3))
            assert app.detail.span is not None  # the detail panel stayed open throughout
            await pilot.pause(1.5)  # idle: only the poll timer and watcher run
            final = _probe(app, db)
            max_wal = max(max_wal, file_size(f"{db}-wal"))
    finally:
        proc.stdin.write("\n")
        proc.stdin.flush()
        proc.communicate(timeout=60)
    assert lines and lines[0].startswith("done 0 0"), lines
    page_size = int(query(db, "PRAGMA page_size")[0][0])
    limit = 32 + (2 * AUTOCHECKPOINT_PAGES + SLACK_PAGES) * (page_size + 24)
    bad = [p for p in probes if p[0] != 0 or p[1] != p[2]]
    print(
        f"case 1 (dashboard): {spans:,} spans in {written_s:.1f} s, {steps} user steps, "
        f"{len(probes)} probes ({len(bad)} incomplete), max -wal {max_wal / 1e6:.2f} MB "
        f"(limit {limit / 1e6:.2f} MB), final probe {final}"
    )
    assert steps >= 8, "the dashboard was hardly used while the writer wrote"
    assert max_wal <= limit, f"-wal grew to {max_wal} bytes (> {limit}): checkpoints starved"
    assert not bad, f"passive checkpoints between refreshes stopped short: {bad[:5]}"
    assert final[0] == 0 and final[1] == final[2], final
    assert query(db, "SELECT count(*) FROM spans")[0][0] == spans + 300
    assert not os.path.exists(f"{db}-wal") or file_size(f"{db}-wal") <= limit


async def test_ui_01_dashboard_in_use_never_starves_checkpoints(tmp_path: Path) -> None:
    """30,000 spans written while the dashboard is paused, filtered, scrolled, detail open."""
    await _run(tmp_path, 30_000)


@pytest.mark.soak
async def test_ui_01_dashboard_in_use_never_starves_checkpoints_soak(tmp_path: Path) -> None:
    """The same with 200,000 spans (about 35 s of writing, longer on a loaded machine)."""
    await _run(tmp_path, 200_000)
