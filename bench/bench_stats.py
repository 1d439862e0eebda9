"""Benchmark route statistics: SQL stats, the live aggregator's tick, its memory, chart data.

Usage: `python bench/bench_stats.py [--quick] [--only a,b,c,d,e] [--no-json]`

On the 1,000,000-span / 100,000-trace database of bench_dashboard.py (built once, cached in
bench/.cache/; its traces spread over 24 hours, five routes), in one run:

a. First stats over all traces: `route_stats(since=None)` on a freshly opened reader, median of
   7 (3 with --quick). References in the same run, on the same reader: the same GROUP BY
   without percentiles (count, errors, running, max only), and reading every duration in order
   into Python and taking the nearest ranks there. Target <= 500 ms.
b. The last 15 minutes while a live writer adds 1,000 traces/s: a copy of the database with its
   start times shifted to end now; a writer process (`--worker writer`, lens_tui.tracing) adds
   traces of two spans over five routes (3 % fail) at 1,000/s plus slow requests that are written
   running first, for 30 s (12 s with --quick). Every 0.25 s this process times
   `route_stats(since=now-15m)`; median and p95, and how many traces the window held at the end.
   Target <= 100 ms.
c. The aggregator's tick: an aggregator (15 minute window, 60 buckets) seeded from the copy at the
   tail's mark before the writer started is replayed the writer's rows as the tail delivered
   them, one tick per second of rows (`apply`, then `rows()` and `series()` of every route: what
   the overview pane does per tick); median, p95, max. A synthetic steady tick too: 1,000 new
   rows and 100 running -> done updates. Reference: the SQL recount of the same window (what a
   tick does not do). Target <= 5 ms.
d. Memory of a 24 hour window at 1,000 traces/s: an aggregator (24 h, 60 buckets of 24 min,
   settle 60 s) fed synthetic rows measured with tracemalloc: ten routes, each of the 60 time
   buckets filled with 2,000 log-normal durations from 0.05 ms to minutes (the sketch's size
   depends on the spread of durations, not their number), then the last 60 s at the full
   1,000 traces/s, 1 % of them still running (the rows it remembers one by one). Reference:
   what holding 86.4 million durations would take.
e. Chart data of the busiest route over 24 hours: `latency_heatmap` (60 x 16), `latency_points`
   (newest 20,000) and `read_seed` (24 h, 60 buckets), medians of 5 (informative, no target).
f. The sketch: adding 1,000,000 log-normal durations (200,000 with --quick) to our LogHistogram
   and reading four quantiles, against the `ddsketch` package's DDSketch at the same 1 %
   relative accuracy when it is installed (`pip install ddsketch`; not a dependency), with the
   worst relative error of each against the exact nearest rank (docs/decisions.md).

A summary table goes to stdout (progress to stderr); JSON to bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT), str(ROOT / "bench")):
    if entry not in sys.path:  # runnable from a fresh clone without installing the package
        sys.path.insert(0, entry)

from bench_dashboard import big_db, loadavg, machine, pct, say, verdict  # noqa: E402

ALL_TARGET_MS = 500.0
WINDOW_TARGET_MS = 100.0
TICK_TARGET_MS = 5.0
WRITER_TRACES_PER_S = 1_000
ROUTES = ("GET /users/{id}", "GET /search", "POST /orders", "GET /products/{id}", "GET /health")


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _median_ms(samples: list[float]) -> float:
    return _ms(statistics.median(samples))


# -- a. first stats over all ---------------------------------------------------------------------


def measure_all(db: Path, repeats: int) -> dict[str, Any]:
    """route_stats over every trace on a fresh reader, against two references."""
    from lens_tui.store.reader import TraceReader
    from lens_tui.store.stats import route_stats

    stats_s: list[float] = []
    plain_s: list[float] = []
    python_s: list[float] = []
    rows: list[Any] = []
    for _ in range(repeats):
        reader = TraceReader(db)
        reader.open()
        t0 = time.perf_counter()
        rows = route_stats(reader, since_ms=None, until_ms=time.time() * 1000.0)
        stats_s.append(time.perf_counter() - t0)
        with reader.read() as read:
            assert read is not None
            conn = read.conn
            t0 = time.perf_counter()
            conn.execute(
                "SELECT service, root_span_name, count(*), count(duration_ms), "
                "sum(status = 'error' OR error_count > 0), max(duration_ms) FROM traces "
                "GROUP BY service, root_span_name"
            ).fetchall()
            plain_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ordered = conn.execute(
                "SELECT service, root_span_name, duration_ms FROM traces "
                "WHERE duration_ms IS NOT NULL ORDER BY service, root_span_name, duration_ms"
            ).fetchall()
            groups: dict[tuple[Any, Any], list[float]] = {}
            for service, name, duration in ordered:
                groups.setdefault((service, name), []).append(duration)
            for values in groups.values():
                [values[max(1, math.ceil(q * len(values))) - 1] for q in (0.5, 0.9, 0.95, 0.99)]
            python_s.append(time.perf_counter() - t0)
        reader.close()
    return {
        "repeats": repeats,
        "traces": sum(r.count for r in rows),
        "routes": len(rows),
        "median_ms": _median_ms(stats_s),
        "max_ms": _ms(max(stats_s)),
        "plain_group_by_ms": _median_ms(plain_s),
        "ordered_read_python_ms": _median_ms(python_s),
    }


# -- b. last 15 minutes with a live writer ---------------------------------------------------------


def shifted_copy(source: Path, tmp: Path) -> Path:
    """A copy of `source` whose newest trace starts now (as if it had been written up to now)."""
    import apsw

    target = tmp / "stats-live.db"
    shutil.copyfile(source, target)
    conn = apsw.Connection(str(target))
    conn.set_busy_timeout(5000)
    newest = conn.execute("SELECT max(started_at) FROM traces").fetchall()[0][0]
    shift = time.time() * 1000.0 - 1_000.0 - float(newest)
    with conn:
        conn.execute(
            "UPDATE traces SET started_at = started_at + ?1, ended_at = ended_at + ?1, "
            "updated_at = updated_at + ?1",
            (shift,),
        )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    conn.close()
    return target


def worker_writer(db: Path, seconds: float, rate: int) -> None:
    """Wait for `go`, then write `rate` traces/s (a root and a child, 3 % failing) over the
    five routes, plus slow requests on three threads that are written running first."""
    from lens_tui import tracing

    store = tracing.configure(db, service="bench-stats")
    with tracing.span("warm-up"):
        pass
    tracing.flush()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    stop = threading.Event()

    def slow() -> None:
        while not stop.is_set():
            with tracing.span("GET /report"):
                time.sleep(0.3)

    threads = [threading.Thread(target=slow, daemon=True) for _ in range(3)]
    for thread in threads:
        thread.start()
    rng = random.Random(5)
    start = time.perf_counter()
    done = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate) - done
        for n in range(done, done + due):
            try:
                with tracing.span(ROUTES[n % len(ROUTES)]):
                    with tracing.span("db.query"):
                        if rng.random() < 0.03:
                            raise RuntimeError("boom")
            except RuntimeError:
                pass
        done += max(due, 0)
        time.sleep(0.01)
    stop.set()
    for thread in threads:
        thread.join()
    tracing.flush(60)
    print(
        json.dumps(
            {
                "traces": done,
                "seconds": time.perf_counter() - start,
                "dropped": store.dropped,
                "errors": store.errors,
            }
        ),
        flush=True,
    )
    tracing.shutdown()


def measure_live(db: Path, seconds: float) -> dict[str, Any]:
    """route_stats of the last 15 minutes, timed every 0.25 s while the writer writes; the
    tail's deltas, one per second, are kept for the tick replay."""
    from lens_tui.store.reader import TraceReader
    from lens_tui.store.stats import read_seed, route_stats

    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--worker",
            "writer",
            str(db),
            str(seconds),
            str(WRITER_TRACES_PER_S),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdin is not None and proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    reader = TraceReader(db)
    reader.open()
    tail = TraceReader(db)  # the tail's own connection, as the dashboard's feed has
    tail.open()
    mark = tail.current_trace_mark()
    seeded_at = time.time() * 1000.0
    bucket_ms = 15_000.0
    seed = read_seed(
        tail,
        by="service,name",
        bucket_ms=bucket_ms,
        since_ms=(int(seeded_at / bucket_ms) - 59) * bucket_ms,
        changed_since_ms=seeded_at - 60_000.0,
    )
    proc.stdin.write("go\n")
    proc.stdin.flush()
    samples: list[float] = []
    deltas: list[tuple[float, list[Any]]] = []
    next_tail = time.perf_counter() + 1.0
    rows: list[Any] = []
    while proc.poll() is None:
        now = time.time() * 1000.0
        t0 = time.perf_counter()
        rows = route_stats(reader, since_ms=now - 900_000.0, until_ms=now + 1.0)
        samples.append(time.perf_counter() - t0)
        if time.perf_counter() >= next_tail:
            next_tail += 1.0
            batch: list[Any] = []
            while True:
                more, mark = tail.traces_since(mark)
                batch.extend(more)
                if len(more) < 5_000:
                    break
            deltas.append((time.time() * 1000.0, batch))
        time.sleep(0.25)
    written = json.loads(proc.stdout.readline())
    proc.wait()
    batch = []
    while True:  # what the writer committed after the last tick
        more, mark = tail.traces_since(mark)
        batch.extend(more)
        if len(more) < 5_000:
            break
    deltas.append((time.time() * 1000.0, batch))
    reader.close()
    tail.close()
    return {
        "seconds": seconds,
        "samples": len(samples),
        "median_ms": _median_ms(samples),
        "p95_ms": pct([_ms(s) for s in samples], 95),
        "max_ms": _ms(max(samples)),
        "window_traces_at_end": sum(r.count for r in rows),
        "writer": written,
        "_seed": (seed, seeded_at, bucket_ms),
        "_deltas": deltas,
    }


# -- c. the aggregator's tick ----------------------------------------------------------------------


def _tick(agg: Any, batch: list[Any], now: float) -> float:
    t0 = time.perf_counter()
    agg.apply(batch, now)
    for key in agg.keys():
        agg.series(key)
    agg.rows(now)
    return time.perf_counter() - t0


def measure_ticks(live: dict[str, Any], db: Path) -> dict[str, Any]:
    """Replay the recorded deltas into a seeded aggregator; then a synthetic steady stream."""
    from lens_tui.store.reader import TraceReader
    from lens_tui.store.records import TraceSummary
    from lens_tui.store.stats import RouteAggregator, route_stats

    seed, seeded_at, bucket_ms = live["_seed"]
    agg = RouteAggregator(bucket_ms=bucket_ms, window_buckets=60)
    agg.seed(seed, seeded_at)
    replay: list[float] = []
    sizes: list[int] = []
    for now, batch in live["_deltas"]:
        replay.append(_tick(agg, batch, now))
        sizes.append(len(batch))
    final_now = live["_deltas"][-1][0] if live["_deltas"] else seeded_at
    with TraceReader(db) as reader:
        t0 = time.perf_counter()
        exact = route_stats(reader, since_ms=agg.window_start_ms(final_now), until_ms=math.inf)
        recount_s = time.perf_counter() - t0
    live_counts = {(r.key.service, r.key.name): r.count for r in agg.rows(final_now)}
    exact_counts = {(r.key.service, r.key.name): r.count for r in exact}

    steady = RouteAggregator(bucket_ms=15_000.0, window_buckets=60)
    rng = random.Random(8)
    clock = time.time() * 1000.0
    n = 0
    running: list[TraceSummary] = []
    synthetic: list[float] = []
    for _ in range(120):
        clock += 1000.0
        batch = []
        for i in range(1_000):
            n += 1
            is_running = i % 10 == 0
            row = TraceSummary(
                trace_id=f"{n:032x}",
                root_span_name=ROUTES[n % 5],
                source=None,
                service="bench",
                started_at=clock - rng.random() * 1000.0,
                ended_at=None,
                duration_ms=None if is_running else rng.lognormvariate(3.0, 1.2),
                span_count=2,
                error_count=int(rng.random() < 0.03),
                status="running" if is_running else "ok",
            )
            batch.append(row)
            if is_running:
                running.append(row)
        done, running = running[:100], running[100:]
        batch.extend(
            TraceSummary(
                r.trace_id,
                r.root_span_name,
                None,
                r.service,
                r.started_at,
                None,
                rng.lognormvariate(5.0, 0.5),
                2,
                0,
                "ok",
            )
            for r in done
        )
        synthetic.append(_tick(steady, batch, clock))
    return {
        "ticks": len(replay),
        "rows_per_tick_median": statistics.median(sizes) if sizes else 0,
        "median_ms": _median_ms(replay) if replay else float("nan"),
        "p95_ms": pct([_ms(s) for s in replay], 95),
        "max_ms": _ms(max(replay)) if replay else float("nan"),
        "counts_equal_recount": live_counts == exact_counts,
        "uncertain": agg.uncertain,
        "recount_ms": _ms(recount_s),
        "synthetic_ticks": len(synthetic),
        "synthetic_median_ms": _median_ms(synthetic),
        "synthetic_p95_ms": pct([_ms(s) for s in synthetic], 95),
    }


# -- d. memory of a 24 hour window -------------------------------------------------------------------


def measure_memory(quick: bool) -> dict[str, Any]:
    """tracemalloc's count of what a 24 h aggregator holds: the day's traces as a seed gives
    them (counts per route, time bucket and latency bucket), then the last minute fed live."""
    from lens_tui.store.records import TraceSummary
    from lens_tui.store.stats import RouteAggregator, Seed
    from lens_tui.store.stats.sketch import bucket_of
    from lens_tui.store.stats.sql import SeedCell

    routes = 10
    per_bucket = 500 if quick else 2_000
    rng = random.Random(2)
    now = time.time() * 1000.0
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    agg = RouteAggregator(bucket_ms=86_400_000.0 / 60, window_buckets=60, settle_ms=60_000.0)
    first_bucket = int((agg.window_start_ms(now) or 0.0) / agg.bucket_ms)
    counts: dict[tuple[Any, ...], int] = {}
    for route in range(routes):
        for tb in range(first_bucket, first_bucket + 60):
            for _ in range(per_bucket):
                duration = min(0.05 * rng.lognormvariate(4.0, 2.2), 600_000.0)
                at = (("bench", f"GET /route/{route}"), tb, bucket_of(duration))
                counts[at] = counts.get(at, 0) + 1
    cells = tuple(SeedCell(key, tb, h, count, 0) for (key, tb, h), count in counts.items())
    agg.seed(Seed(cells, ()), now - 60_000.0)
    del cells, counts
    fed = routes * 60 * per_bucket
    n = 0
    for second in range(60):
        batch = []
        for i in range(WRITER_TRACES_PER_S):
            n += 1
            batch.append(
                TraceSummary(
                    f"{n:032x}",
                    f"GET /route/{n % routes}",
                    None,
                    "bench",
                    now - 60_000.0 + second * 1000.0 + i,
                    None,
                    None if i % 100 == 0 else 0.05 * rng.lognormvariate(4.0, 2.2),
                    2,
                    0,
                    "running" if i % 100 == 0 else "ok",
                )
            )
        agg.apply(batch, now - 60_000.0 + (second + 1) * 1000.0)
        fed += len(batch)
        del batch
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    every = 86_400 * WRITER_TRACES_PER_S
    return {
        "rows_represented": fed,
        **agg.footprint(),
        "held_mib": held / 2**20,
        "every_duration_array_mib": every * 8 / 2**20,
        "every_duration_list_mib": every * 32 / 2**20,
    }


# -- e. chart data -----------------------------------------------------------------------------------


def measure_charts(db: Path, repeats: int) -> dict[str, Any]:
    """Heatmap, points and seed reads of the busiest route over the whole day."""
    from lens_tui.store.reader import TraceReader
    from lens_tui.store.stats import latency_heatmap, latency_points, read_seed, route_stats

    out: dict[str, list[float]] = {"heatmap": [], "points": [], "seed": []}
    with TraceReader(db) as reader:
        now = time.time() * 1000.0
        key = route_stats(reader, since_ms=None, until_ms=now)[0].key
        for _ in range(repeats):
            t0 = time.perf_counter()
            latency_heatmap(reader, key, since_ms=now - 86_400_000.0, until_ms=now)
            out["heatmap"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            latency_points(reader, key, since_ms=now - 86_400_000.0, until_ms=now)
            out["points"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            read_seed(
                reader,
                by="service,name",
                bucket_ms=86_400_000.0 / 60,
                since_ms=now - 86_400_000.0,
                changed_since_ms=now - 60_000.0,
            )
            out["seed"].append(time.perf_counter() - t0)
    return {name: _median_ms(samples) for name, samples in out.items()}


# -- f. sketch choice --------------------------------------------------------------------------------


def measure_sketches(count: int) -> dict[str, Any]:
    """Adding `count` log-normal durations and reading four quantiles: our LogHistogram
    against the `ddsketch` package's DDSketch at the same relative accuracy (when installed),
    and the worst relative error of each against the exact nearest rank."""
    from lens_tui.store.stats import RELATIVE_ERROR, LogHistogram
    from lens_tui.store.stats.sketch import bucket_of, nearest_rank

    rng = random.Random(4)
    values = [0.05 * rng.lognormvariate(4.0, 2.2) for _ in range(count)]
    ordered = sorted(values)
    qs = (0.5, 0.9, 0.95, 0.99)
    exact = [ordered[nearest_rank(q, count) - 1] for q in qs]

    def worst(got: list[float | None]) -> float:
        return max(abs((g or 0.0) - e) / e for g, e in zip(got, exact, strict=True))

    out: dict[str, Any] = {"values": count}
    hist = LogHistogram()
    t0 = time.perf_counter()
    for v in values:
        hist.add(bucket_of(v))
    out["ours_add_ns"] = (time.perf_counter() - t0) / count * 1e9
    t0 = time.perf_counter()
    got = hist.quantiles(qs)
    out["ours_quantiles_us"] = (time.perf_counter() - t0) * 1e6
    out["ours_worst_error"] = worst(got)
    out["ours_bytes"] = hist.buckets() * 8
    try:
        from ddsketch import DDSketch
    except ImportError:
        out["ddsketch"] = "not installed"
        return out
    sketch = DDSketch(relative_accuracy=RELATIVE_ERROR)
    t0 = time.perf_counter()
    for v in values:
        sketch.add(v)
    out["ddsketch_add_ns"] = (time.perf_counter() - t0) / count * 1e9
    t0 = time.perf_counter()
    got = [sketch.get_quantile_value(q) for q in qs]
    out["ddsketch_quantiles_us"] = (time.perf_counter() - t0) * 1e6
    out["ddsketch_worst_error"] = worst(got)
    return out


# -- report ------------------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The summary table's rows: (what, figure, target and notes)."""
    rows: list[tuple[str, str, str]] = []
    if "all" in results:
        r = results["all"]
        rows.append(
            (
                "a. first stats over all traces",
                f"{r['median_ms']:.0f} ms",
                f"median of {r['repeats']}, max {r['max_ms']:.0f} ms, {r['traces']:,} traces "
                f"in {r['routes']} routes; target <= {ALL_TARGET_MS:.0f} ms: "
                f"{verdict(r['median_ms'] <= ALL_TARGET_MS)}",
            )
        )
        rows.append(
            (
                "   reference: GROUP BY without percentiles",
                f"{r['plain_group_by_ms']:.0f} ms",
                f"stats cost {r['median_ms'] / r['plain_group_by_ms']:.1f}x; ordered read "
                f"into Python {r['ordered_read_python_ms']:.0f} ms",
            )
        )
    if "live" in results:
        r = results["live"]
        w = r["writer"]
        rows.append(
            (
                f"b. last 15 min, writer at {WRITER_TRACES_PER_S:,} traces/s",
                f"{r['median_ms']:.1f} ms",
                f"median of {r['samples']}, p95 {r['p95_ms']:.1f}, max {r['max_ms']:.1f} ms; "
                f"{r['window_traces_at_end']:,} traces in the window at the end; target <= "
                f"{WINDOW_TARGET_MS:.0f} ms: {verdict(r['median_ms'] <= WINDOW_TARGET_MS)}",
            )
        )
        rows.append(
            (
                "   writer achieved",
                f"{w['traces'] / w['seconds']:,.0f} traces/s",
                f"{w['traces']:,} in {w['seconds']:.1f} s; dropped {w['dropped']}",
            )
        )
    if "ticks" in results:
        r = results["ticks"]
        rows.append(
            (
                "c. aggregator tick (replayed tail)",
                f"{r['median_ms']:.2f} ms",
                f"median of {r['ticks']} ticks of ~{r['rows_per_tick_median']:.0f} rows, p95 "
                f"{r['p95_ms']:.2f}, max {r['max_ms']:.2f} ms; target <= "
                f"{TICK_TARGET_MS:.0f} ms: {verdict(r['median_ms'] <= TICK_TARGET_MS)}",
            )
        )
        rows.append(
            (
                "   synthetic tick (1,000 new + 100 done)",
                f"{r['synthetic_median_ms']:.2f} ms",
                f"median of {r['synthetic_ticks']}, p95 {r['synthetic_p95_ms']:.2f} ms",
            )
        )
        rows.append(
            (
                "   reference: SQL recount of the window",
                f"{r['recount_ms']:.1f} ms",
                f"counts equal to it: {r['counts_equal_recount']}; uncertain rows {r['uncertain']}",
            )
        )
    if "memory" in results:
        r = results["memory"]
        rows.append(
            (
                "d. memory, 24 h window at 1,000 traces/s",
                f"{r['held_mib']:.1f} MiB",
                f"{r['routes']} routes x {r['time_buckets'] // max(r['routes'], 1)} buckets, "
                f"{r['histogram_slots']:,} histogram slots, {r['tracked']:,} rows "
                f"remembered (the last minute's)",
            )
        )
        rows.append(
            (
                "   reference: every duration held",
                f"{r['every_duration_array_mib']:,.0f} MiB",
                f"as array('d'); {r['every_duration_list_mib']:,.0f} MiB as a list of floats",
            )
        )
    if "charts" in results:
        r = results["charts"]
        rows.append(
            (
                "e. chart data, one route over 24 h",
                f"heatmap {r['heatmap']:.0f} ms",
                f"points {r['points']:.0f} ms, seed {r['seed']:.0f} ms (medians of 5)",
            )
        )
    if "sketches" in results:
        r = results["sketches"]
        rows.append(
            (
                "f. sketch: LogHistogram add",
                f"{r['ours_add_ns']:.0f} ns",
                f"4 quantiles {r['ours_quantiles_us']:.0f} us, worst error "
                f"{r['ours_worst_error']:.2%}, {r['ours_bytes']:,} bytes for "
                f"{r['values']:,} values",
            )
        )
        if "ddsketch_add_ns" in r:
            rows.append(
                (
                    "   reference: ddsketch.DDSketch add",
                    f"{r['ddsketch_add_ns']:.0f} ns",
                    f"4 quantiles {r['ddsketch_quantiles_us']:.0f} us, worst error "
                    f"{r['ddsketch_worst_error']:.2%}; no removal",
                )
            )
    return rows


def main() -> int:
    """Run the parts asked for and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="a,b,c,d,e,f")
    parser.add_argument("--no-json", action="store_true")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "writer":
            worker_writer(Path(rest[0]), float(rest[1]), int(rest[2]))
        return 0
    parts = set(args.only.split(","))
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    db = big_db()
    if "a" in parts:
        say("a. first stats over all…")
        results["all"] = measure_all(db, 3 if args.quick else 7)
    if parts & {"b", "c"}:
        with tempfile.TemporaryDirectory() as tmp:
            say("b. the last 15 minutes with a live writer…")
            live_db = shifted_copy(db, Path(tmp))
            live = measure_live(live_db, 12.0 if args.quick else 30.0)
            if "b" in parts:
                results["live"] = {k: v for k, v in live.items() if not k.startswith("_")}
            if "c" in parts:
                say("c. the aggregator's tick…")
                results["ticks"] = measure_ticks(live, live_db)
    if "d" in parts:
        say("d. memory of a 24 h window…")
        results["memory"] = measure_memory(args.quick)
    if "e" in parts:
        say("e. chart data…")
        results["charts"] = measure_charts(db, 5)
    if "f" in parts:
        say("f. sketch choice…")
        results["sketches"] = measure_sketches(200_000 if args.quick else 1_000_000)
    results["loadavg_at_end"] = loadavg()
    rows = report(results)
    width = max(len(r[0]) for r in rows)
    fig = max(len(r[1]) for r in rows)
    print(
        f"lens_tui stats bench ({'quick' if args.quick else 'full'}); load average at start "
        f"{results['machine']['loadavg_at_start'][0]:.2f}, at end {results['loadavg_at_end'][0]:.2f}; "
        f"{results['machine']['cpu_count']} cpus, Python {results['machine']['python']}, "
        f"SQLite {results['machine']['sqlite']}"
    )
    for what, figure, notes in rows:
        print(f"{what.ljust(width)}  {figure.rjust(fig)}  {notes}")
    if not args.no_json:
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"stats-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(results, indent=2, default=str))
        say(f"JSON: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
