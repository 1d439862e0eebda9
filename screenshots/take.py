"""Take the README's screenshots: the demo workload, then the dashboard's main views as SVG.

Usage: `python screenshots/take.py [--seconds 8] [--seed 7] [--out screenshots]`

The demo workload (`python -m lens_tui.demo`, seeded) writes a temporary database in a child
process and keeps running while `LensApp` runs headless at 140x42 in this process, so the
screenshots show a live dashboard: the trace list, the waterfall of a failed request with the
span that raised selected (its traceback in the detail panel), the log pane at >= warn, a
logged exception in full (`i`), the help screen, the overview of every route and one route's
latency chart with cells selected. Times and ids differ from run to run (the workload runs on
the real clock).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable from a fresh clone without installing the package
    sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402

from lens_tui.store.reader import TraceReader  # noqa: E402
from lens_tui.ui.app import LensApp  # noqa: E402
from lens_tui.ui.screens.help import HelpScreen  # noqa: E402

SIZE = (140, 42)


async def wait_for(
    pilot: Pilot[int], condition: Callable[[], object], timeout: float = 15.0
) -> None:
    """Let the app run until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {condition.__name__}")
        await pilot.pause(0.05)


def failed_span(db: Path) -> tuple[str, str]:
    """(trace id, span id) of the newest small trace with a span that raised (a traceback)."""
    reader = TraceReader(db)
    reader.open()
    try:
        for trace in reader.recent_traces(500, errors_only=True):
            if not trace.span_count or trace.span_count > 30:
                continue
            for span in reader.trace(trace.trace_id).spans:
                if span.traceback and span.parent_span_id:
                    return trace.trace_id, span.span_id
    finally:
        reader.close()
    raise SystemExit("the demo wrote no failed request yet: run it longer (--seconds)")


async def shoot(db: Path, out: Path) -> list[Path]:
    """Drive the dashboard through its main views, saving one SVG per view."""
    app = LensApp(db)
    saved: list[Path] = []

    def save(name: str) -> None:
        path = out / name
        path.write_text(app.export_screenshot(), encoding="utf-8")
        saved.append(path)

    async with app.run_test(size=SIZE) as pilot:

        def listed() -> bool:
            return app.trace_list.row_count > 20 and app.log_pane.row_count > 20

        await wait_for(pilot, listed)
        await pilot.pause(1.2)  # one tick: rates in the header
        save("trace-list.svg")

        trace_id, span_id = failed_span(db)
        rows = app.trace_list.rows
        await wait_for(pilot, lambda: trace_id in rows)
        app.dashboard.action_toggle_pause()  # hold the list still while we move to the failed trace
        index = rows.index(trace_id)
        assert index is not None
        app.trace_list.focus()
        app.trace_list.move_cursor(index, user=True)
        await pilot.press("enter")

        def opened() -> bool:
            forest = app.waterfall.forest
            return forest is not None and span_id in forest.index_of

        await wait_for(pilot, opened)
        # Selected for the detail panel; the log pane keeps showing the whole trace's logs.
        app.waterfall.select_span(span_id)
        await wait_for(pilot, lambda: app.log_pane.scope.trace_id == trace_id)
        app.dashboard.action_toggle_pause()
        await pilot.pause(0.8)
        save("waterfall.svg")

        await pilot.press("escape", "escape", "g")  # back to the list, close the trace, live top
        app.log_pane.focus()
        await pilot.press("l", "l")  # debug -> info -> warn
        await wait_for(pilot, lambda: app.log_pane.scope.min_level == "warn")
        await pilot.pause(0.8)
        save("logs-warn.svg")

        # A logged exception in full (`i`): the newest line at warn or above with a traceback.
        pane = app.log_pane
        failed = [i for i in range(pane.row_count) if pane.rows[i].traceback]
        if failed:
            pane.move_cursor(failed[-1], user=True)
            await pilot.press("i")
            await wait_for(pilot, lambda: app.dashboard.logs.detail.row is not None)
            await pilot.pause(0.5)
            save("log-detail.svg")
            await pilot.press("i")

        # A huge trace: found by name in the list, then its spans by name in the waterfall.
        app.log_pane.focus()
        await pilot.press("l", "l")  # back to debug: the whole trace's logs
        app.trace_list.focus()
        await pilot.pause(0.1)
        await pilot.press("slash", *"reindex", "enter")
        await wait_for(
            pilot,
            lambda: (
                app.trace_list.row_count >= 1
                and all(
                    "reindex" in app.trace_list.rows[i].root_span_name
                    for i in range(app.trace_list.row_count)
                )
            ),
        )
        await pilot.press("enter")

        def huge() -> bool:
            forest = app.waterfall.forest
            return forest is not None and len(forest) > 1000

        await wait_for(pilot, huge)
        await pilot.press("a")  # collapse all: going to a match opens just what hides it
        await pilot.press("slash", *"batch", "enter")
        await wait_for(pilot, lambda: bool(app.waterfall.matches))
        await pilot.press("n", "n")
        await pilot.pause(0.8)
        save("search.svg")
        await pilot.press("escape", "escape")  # back to the list, close the trace
        await pilot.press("slash", "escape")  # all traces again

        # The overview of every route, then the busiest route's latency with a few cells
        # selected and the list of exactly their traces.
        await pilot.press("o")
        table = app.dashboard.overview.table
        await wait_for(pilot, lambda: table.row_count >= 3)
        await pilot.pause(1.2)
        save("overview.svg")
        await pilot.press("enter")
        chart = app.dashboard.latency.chart
        await wait_for(pilot, lambda: chart.grid is not None and chart.grid.total > 20)
        await pilot.press("space")  # hold still while cells are chosen
        await pilot.press("shift+left", "shift+left", "shift+left", "shift+up", "shift+up", "enter")
        await wait_for(pilot, lambda: app.dashboard.latency.selected is not None)
        await pilot.pause(0.8)
        save("latency.svg")
        await pilot.press("space", "escape", "escape", "escape")  # resume; selection, chart gone
        await pilot.press("slash", "escape")  # the route's scope gone: all traces again

        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.3)
        save("help.svg")
    return saved


def main() -> int:
    """Run the demo, take the screenshots, stop the demo."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="demo time before the first shot"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=30.0, help="demo requests per second")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    home = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="lens-shots-") as tmp:
        db = Path(tmp) / "traces.db"
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lens_tui.demo",
                "--db",
                str(db),
                "--rate",
                str(args.rate),
                "--duration",
                "120",
                "--seed",
                str(args.seed),
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(args.seconds)
            os.chdir(tmp)  # the header shows the path as given: `traces.db`, as a user would
            saved = asyncio.run(shoot(Path(db.name), out))
        finally:
            os.chdir(home)
            demo.terminate()
            demo.wait(10)
    for path in saved:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
