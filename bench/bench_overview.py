"""Benchmark the overview pane and the latency chart on the UI thread, inside a real Textual app.

Usage: `python bench/bench_overview.py [--quick] [--only a,b] [--no-json]`

a. A 20,000-point latency chart, drawn two ways in the same headless Textual app (a 120 x 40
   terminal, the chart filling it, a log duration axis, 3 % of the points failed, in the error
   colour): textual-plotext's `PlotextPlot` (scatter of the ok and the failed points, log y
   scale; the widget's own `render()` then Textual's line rendering of the result), and ours
   (`scatter_grid`: binning into cells of braille dots, then `LatencyChart` drawing its
   lines). Each repeat sets the data anew and renders every line, as a refresh does; medians
   of 7 (3 with --quick). textual-plotext is optional (`pip install textual-plotext`): without
   it that side is skipped and said so. The heatmap is drawn from cells SQL counted, so it is
   timed too (ours only: plotext has no heatmap of counts).
b. The overview's tick on the UI thread: an `OverviewPane` mounted in a headless app with an
   aggregator (15 minute window, 60 buckets) filled with 15 minutes at 1,000 traces/s over 20
   routes, then per second of simulated time: 1,000 new rows and 100 running -> done
   updates (`apply`, as the tail's delta arrives), then `draw()` (rows, sort, titles, the
   highlighted route's Textual sparklines) and every visible line of the table rendered
   (each row's two sparklines included). Median, p95 and max over 60 ticks (20 with --quick).
   Reference in the same run: recounting the window exactly in Python from the raw rows
   (sorted durations per route, nearest ranks), which is what a tick does not do. Target
   <= 5 ms.

A summary table goes to stdout (progress to stderr); JSON to bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT), str(ROOT / "bench")):
    if entry not in sys.path:  # runnable from a fresh clone without installing the package
        sys.path.insert(0, entry)

from bench_dashboard import loadavg, machine, pct, say, verdict  # noqa: E402

POINTS = 20_000
TICK_TARGET_MS = 5.0
SIZE = (120, 40)
ROUTE_COUNT = 20
RATE = 1_000
T_END = 1_700_000_900_000.0
"""The synthetic clock's "now" when a run starts (epoch ms)."""


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _median_ms(samples: list[float]) -> float:
    return _ms(statistics.median(samples))


# -- a. the chart -------------------------------------------------------------------------------


def _points(count: int, seed: int = 7) -> Any:
    """`count` traces over 15 minutes: log-normal durations over four decades, 3 % failed."""
    from lens_tui.store.stats import LatencyPoints

    rng = random.Random(seed)
    start = T_END - 900_000.0
    rows = sorted(
        (
            start + rng.random() * 900_000.0,
            min(max(rng.lognormvariate(3.0, 1.6), 0.05), 60_000.0),
            rng.random() < 0.03,
        )
        for _ in range(count)
    )
    return LatencyPoints(
        tuple(r[0] for r in rows), tuple(r[1] for r in rows), tuple(r[2] for r in rows), 0, False
    )


async def _chart_run(repeats: int) -> dict[str, Any]:
    from textual.app import App, ComposeResult
    from textual.geometry import Region

    from lens_tui.live.latency_grid import heatmap_grid, scatter_grid
    from lens_tui.store.stats import Heatmap
    from lens_tui.ui.widgets.latency_chart import LatencyChart

    try:
        from textual_plotext import PlotextPlot
    except ImportError:  # optional: the comparison needs it, the dashboard does not
        PlotextPlot = None  # noqa: N806

    points = _points(POINTS)
    ok = [
        (t, d)
        for t, d, e in zip(points.starts_ms, points.durations_ms, points.errors, strict=True)
        if not e
    ]
    bad = [
        (t, d)
        for t, d, e in zip(points.starts_ms, points.durations_ms, points.errors, strict=True)
        if e
    ]

    class ChartApp(App[None]):
        CSS = "LatencyChart, PlotextPlot { height: 1fr; }"

        def compose(self) -> ComposeResult:
            yield LatencyChart(id="ours")
            if PlotextPlot is not None:
                yield PlotextPlot(id="plotext")

    out: dict[str, Any] = {"points": POINTS, "size": SIZE}
    app = ChartApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        chart = app.query_one(LatencyChart)
        plotext = app.query_one("#plotext") if PlotextPlot is not None else None
        # Each chart in turn fills the screen (the other hidden), as the dashboard's chart does.
        if plotext is not None:
            plotext.display = False
        await pilot.pause()
        region = Region(0, 0, *chart.content_region.size)
        ours: list[float] = []
        binning: list[float] = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            columns, rows = chart.plot_size
            grid = scatter_grid(
                points, None, since_ms=T_END - 900_000.0, until_ms=T_END, columns=columns, rows=rows
            )
            t1 = time.perf_counter()
            chart.show(grid)
            lines = chart.render_lines(region)
            t2 = time.perf_counter()
            assert len(lines) == region.height
            binning.append(t1 - t0)
            ours.append(t2 - t0)
        out["ours_ms"] = _median_ms(ours)
        out["ours_binning_ms"] = _median_ms(binning)
        out["ours_log_axis"] = grid.log_scale
        # The heatmap from counts (as latency_heatmap returns them): drawing only.
        columns, rows = chart.plot_size
        rng = random.Random(3)
        counts = tuple(
            tuple(rng.choice((0, 0, 1, 4, 30, 200)) for _ in range(columns)) for _ in range(rows)
        )
        errors = tuple(tuple(c // 30 for c in row) for row in counts)
        heat = Heatmap(
            None,
            tuple(float(T_END - 900_000 + i * 900_000 // columns) for i in range(columns + 1)),
            tuple(0.05 * 1.8**i for i in range(rows + 1)),
            True,
            counts,
            errors,
            0,
        )
        heat_samples: list[float] = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            chart.show(heatmap_grid(heat))
            chart.render_lines(region)
            heat_samples.append(time.perf_counter() - t0)
        out["ours_heatmap_ms"] = _median_ms(heat_samples)
        if plotext is not None:
            chart.display = False
            plotext.display = True
            await pilot.pause()
            region = Region(0, 0, *plotext.content_region.size)
            samples: list[float] = []
            builds: list[float] = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                plt = plotext.plt
                plt.clear_data()
                plt.scatter([p[0] for p in ok], [p[1] for p in ok], marker="braille", color="blue")
                plt.scatter([p[0] for p in bad], [p[1] for p in bad], marker="braille", color="red")
                plt.yscale("log")
                t1 = time.perf_counter()
                plotext.refresh()
                plotext._render_cache = None  # type: ignore[attr-defined]  # force a new render()
                lines = plotext.render_lines(region)
                t2 = time.perf_counter()
                assert len(lines) == region.height
                builds.append(t1 - t0)
                samples.append(t2 - t0)
            out["plotext_ms"] = _median_ms(samples)
            out["plotext_data_ms"] = _median_ms(builds)
            app.save_screenshot(str(ROOT / "bench" / "results" / "chart_plotext.svg"))
            plotext.display = False
            chart.display = True
            await pilot.pause()
            app.save_screenshot(str(ROOT / "bench" / "results" / "chart_ours.svg"))
        else:
            out["plotext_ms"] = None
    return out


def measure_chart(repeats: int) -> dict[str, Any]:
    """Part a."""
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    return asyncio.run(_chart_run(repeats))


# -- b. the overview's tick ---------------------------------------------------------------------


def _summary(n: int, route: int, start: float, duration: float | None, failed: bool) -> Any:
    from lens_tui.store.records import TraceSummary

    return TraceSummary(
        trace_id=f"{n:032x}",
        root_span_name=f"GET /route/{route}",
        source="bench",
        service=f"svc-{route % 4}",
        started_at=start,
        ended_at=None if duration is None else start + duration,
        duration_ms=duration,
        span_count=3,
        error_count=1 if failed else 0,
        status="error" if failed else ("running" if duration is None else "ok"),
        updated_at=start,
    )


class _Stream:
    """1,000 traces/s over 20 routes; 10 % start running and finish the next second."""

    def __init__(self) -> None:
        self.rng = random.Random(11)
        self.n = 0
        self.running: list[Any] = []
        self.all: list[Any] = []

    def second(self, now: float) -> list[Any]:
        rng = self.rng
        batch = []
        for old in self.running:
            batch.append(
                _summary(
                    int(old.trace_id, 16),
                    int(old.root_span_name.rsplit("/", 1)[1]),
                    old.started_at,
                    rng.lognormvariate(5.0, 1.0),
                    old.error_count > 0,
                )
            )
        self.running = []
        for _ in range(RATE):
            self.n += 1
            route = min(int(rng.paretovariate(1.2)) - 1, ROUTE_COUNT - 1)
            start = now - 1_000.0 + rng.random() * 1_000.0
            running = rng.random() < 0.1
            row = _summary(
                self.n,
                route,
                start,
                None if running else rng.lognormvariate(3.0, 1.4),
                rng.random() < 0.03,
            )
            if running:
                self.running.append(row)
            batch.append(row)
        self.all.extend(batch)
        return batch


def _recount(rows: list[Any], since: float) -> int:
    """The window counted again from raw rows: what a tick does not do."""
    latest: dict[str, Any] = {}
    for row in rows:
        latest[row.trace_id] = row
    groups: dict[tuple[str, str], list[float]] = {}
    for row in latest.values():
        if row.started_at >= since and row.duration_ms is not None:
            groups.setdefault((row.service, row.root_span_name), []).append(row.duration_ms)
    out = 0
    for durations in groups.values():
        durations.sort()
        for q in (50, 90, 95, 99):
            out += int(durations[max(1, math.ceil(q * len(durations) / 100)) - 1] > 0)
    return out


async def _tick_run(ticks: int) -> dict[str, Any]:
    from textual.app import App, ComposeResult
    from textual.geometry import Region

    from lens_tui.live.readers import Readers
    from lens_tui.store.stats import RouteAggregator
    from lens_tui.ui.panes.overview import OverviewPane

    clock = [T_END - 900_000.0]
    stream = _Stream()
    aggregator = RouteAggregator.for_window("15m")
    say("b: filling 15 minutes at 1,000 traces/s…")
    while clock[0] < T_END:
        clock[0] += 1_000.0
        aggregator.apply(stream.second(clock[0]), clock[0])

    class TickApp(App[None]):
        CSS = "OverviewPane { height: 1fr; }"

        def compose(self) -> ComposeResult:
            pane = OverviewPane(Readers(Path("unused.db")), lambda: clock[0], id="overview-pane")
            pane.aggregator = aggregator  # handed over as a seed worker would
            yield pane

    app = TickApp()
    samples: list[float] = []
    applies: list[float] = []
    recounts: list[float] = []
    cpu: list[float] = []
    async with app.run_test(size=(160, 50)) as pilot:
        pane = app.query_one(OverviewPane)
        pane.shown = True
        pane.draw()
        await pilot.pause()
        table = pane.table
        region = Region(0, 0, *table.size)
        for _ in range(ticks):
            clock[0] += 1_000.0
            batch = stream.second(clock[0])
            c0 = time.thread_time()
            t0 = time.perf_counter()
            pane.apply(batch)
            t1 = time.perf_counter()
            pane.draw()
            lines = table.render_lines(region)
            t2 = time.perf_counter()
            cpu.append(time.thread_time() - c0)
            assert len(lines) == region.height
            applies.append(t1 - t0)
            samples.append(t2 - t0)
            await pilot.pause()
        window = [r for r in stream.all if r.started_at >= clock[0] - 900_000.0]
        for _ in range(3):
            t0 = time.perf_counter()
            _recount(window, clock[0] - 900_000.0)
            recounts.append(time.perf_counter() - t0)
        shown = len(table.rows)
    return {
        "ticks": ticks,
        "routes": shown,
        "rows_per_tick": RATE + RATE // 10,
        "tick_median_ms": _median_ms(samples),
        "tick_p95_ms": _ms(pct(samples, 95)),
        "tick_max_ms": _ms(max(samples)),
        "apply_median_ms": _median_ms(applies),
        "tick_cpu_median_ms": _median_ms(cpu),
        "recount_ms": _median_ms(recounts),
        "window_rows": len(window),
    }


def measure_ticks(ticks: int) -> dict[str, Any]:
    """Part b."""
    return asyncio.run(_tick_run(ticks))


# -- report -------------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The summary table's rows: measure, figure, verdict."""
    rows: list[tuple[str, str, str]] = []
    chart = results.get("chart")
    if chart:
        rows.append(
            (
                f"a. ours: {chart['points']:,}-point scatter, bin + draw (log axis: {chart['ours_log_axis']})",
                f"{chart['ours_ms']:.1f} ms (binning {chart['ours_binning_ms']:.1f} ms)",
                "",
            )
        )
        rows.append(("a. ours: heatmap of counts, draw", f"{chart['ours_heatmap_ms']:.1f} ms", ""))
        if chart.get("plotext_ms") is not None:
            ratio = chart["plotext_ms"] / chart["ours_ms"]
            rows.append(
                (
                    "a. textual-plotext: the same scatter, data + render",
                    f"{chart['plotext_ms']:.1f} ms (data {chart['plotext_data_ms']:.1f} ms)",
                    f"{ratio:.1f}x ours",
                )
            )
        else:
            rows.append(("a. textual-plotext", "not installed", "skipped"))
    tick = results.get("tick")
    if tick:
        rows.append(
            (
                f"b. overview tick: {tick['rows_per_tick']:,} rows, {tick['routes']} routes, draw + render",
                f"{tick['tick_median_ms']:.2f} ms, p95 {tick['tick_p95_ms']:.2f}, max {tick['tick_max_ms']:.2f}"
                f" (apply {tick['apply_median_ms']:.2f}; thread CPU {tick['tick_cpu_median_ms']:.2f})",
                verdict(tick["tick_median_ms"] <= TICK_TARGET_MS)
                + f" (<= {TICK_TARGET_MS:.0f} ms)",
            )
        )
        rows.append(
            (
                f"b. reference: recount {tick['window_rows']:,} rows of the window in Python",
                f"{tick['recount_ms']:.0f} ms",
                f"{tick['recount_ms'] / tick['tick_median_ms']:.0f}x a tick",
            )
        )
    return rows


def main() -> int:
    """Run the parts asked for and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="a,b")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    results: dict[str, Any] = {"machine": machine(), "load_before": loadavg()}
    if "a" in parts:
        say("a: the chart…")
        results["chart"] = measure_chart(3 if args.quick else 7)
    if "b" in parts:
        results["tick"] = measure_ticks(20 if args.quick else 60)
    results["load_after"] = loadavg()
    print(
        f"machine: {results['machine']}  load: {results['load_before']} -> {results['load_after']}"
    )
    for measure, figure, note in report(results):
        print(f"{measure:<78} {figure:<44} {note}")
    if not args.no_json:
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        (out / f"overview-{int(time.time())}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
