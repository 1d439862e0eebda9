"""Benchmark the live dashboard: commit-to-screen latency, first paint, huge traces, keeping up.

Usage: `python bench/bench_dashboard.py [--quick] [--only a,b,c,d] [--no-json] [--wait-quiet S]`

Everything is measured in one run, on this machine, with the figures' load average printed
(other work on a 2-core machine moves them a lot: `--wait-quiet 600` first waits up to ten
minutes for the 1-minute load to drop below 2). The first run builds the databases (~30 s).

a. Commit-to-rendered latency. `LensApp` runs headless in this process (`App.run_test`, size
   140x42, watchfiles on) on a database that a separate writer process (this script re-invoked
   with `--worker commit-writer`) writes with `lens_tui.tracing`: one single-span trace at a
   time, named `latency #N`, then `flush()` (which returns once the batch is committed), and the
   wall clock right after that is printed as the commit time. Commits come 60 to 140 ms apart
   (random), so they do not line up with the app's timers. In the app, `TraceList.apply` is
   wrapped to stamp when `latency #N` first enters the list's rows, and `App._display` is
   wrapped to stamp the first screen update after that in which the row is inside the visible
   window; the stamp is taken after that update has also been turned into terminal output
   (`render_segments`, which a headless app skips). Latency = display stamp - commit time.
   Also shown: the same against `updated_at` (stamped by the writer under its write lock, just
   before COMMIT), and commit-to-applied.
b. Time to first paint: a fresh interpreter (`--worker first-paint`) validates the file as the
   CLI does (`check_path`), imports and runs `LensApp` headless at 140x42 and, in `_display`,
   stamps the first screen update in which the trace list has rows (after `render_segments`),
   with its RSS (VmRSS) at that moment. Time = that stamp - the wall clock just before the
   parent started the process (interpreter start-up and imports included). A database of
   1,000,000 spans, 100,000 traces and 1,000,000 logs against one of 10,000 spans (1,000
   traces, 10,000 logs), alternating; one warm-up run of each is not counted (the files sit in
   the OS page cache, as for a user who ran the dashboard before). Both databases are written
   once with raw APSW `executemany` into a migrated schema and cached in bench/.cache/.
c. Opening huge traces: in this process, on a cached database holding one trace of 100,000
   spans (a root, 1,000 children, 99 grandchildren each) and one chain 10,000 spans deep: the
   time from pressing `enter` on the trace's row to the first screen update showing the
   waterfall's rows (reading the spans, building the forest in the worker, drawing).
d. Keeping up: a writer process (`--worker load-writer`) records traces of 10 spans and 10
   logs (through `logging` and `LogHandler`) with `lens_tui.tracing` at 20,000 spans/s plus
   20,000 logs/s for 60 s (15 s with --quick), paced every 10 ms. Every second while it
   writes, in the app:
   trace lag = now - start time of the newest trace in the list's rows, log lag = now -
   timestamp of the log pane's newest line. Max and p95 of both, the writer's achieved rates
   and dropped count, and the app process's CPU use.

A summary table goes to stdout (progress to stderr); JSON to bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable from a fresh clone without installing the package
    sys.path.insert(0, str(ROOT))

CACHE = ROOT / "bench" / ".cache"
SIZE = (140, 42)
GEN_VERSION = 1
"""Bump when the generated databases change shape (cached files are keyed by it)."""

LATENCY_P95_TARGET_MS = 50.0
FIRST_PAINT_TARGET_S = 1.0
FIRST_PAINT_RATIO_TARGET = 1.5
RSS_TARGET_MB = 200.0
OPEN_TARGET_MS = 300.0
LAG_TARGET_S = 1.0
LOAD_SPANS_PER_S = 20_000
LOAD_LOGS_PER_S = 20_000

_NAMES = (
    "GET /users/{id}",
    "GET /search",
    "POST /orders",
    "GET /products/{id}",
    "GET /health",
    "db.query",
    "cache.get",
    "cache.set",
    "http.client GET payments",
    "render_template",
)
_LOGGERS = ("shop.api", "shop.db", "shop.cache", "shop.http")
_LEVELS = ("debug",) * 20 + ("info",) * 70 + ("warn",) * 8 + ("error",) * 2


def say(text: str) -> None:
    """Progress on stderr, so stdout holds only the report."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank, q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def loadavg() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    return os.getloadavg()


# -- databases (raw APSW, cached) ---------------------------------------------------------------


def _connect_for_build(path: Path) -> Any:
    """A fast, unsafe connection for bulk loading a brand-new file (journal off)."""
    import apsw

    from lens_tui import schema

    conn = apsw.Connection(str(path))
    schema.migrate(conn)
    conn.execute("PRAGMA journal_mode=OFF").fetchall()
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    return conn


def _finish(conn: Any, tmp: Path, path: Path) -> None:
    """WAL mode like a real trace file, closed, then moved into place atomically."""
    conn.execute("PRAGMA journal_mode=WAL").fetchall()
    conn.close()
    os.replace(tmp, path)


def _span_hex(rng: random.Random) -> str:
    return "%016x" % rng.getrandbits(64)


def build_list_db(path: Path, traces: int, spans_per_trace: int, logs_per_trace: int) -> None:
    """`traces` traces of `spans_per_trace` spans (a small tree) and `logs_per_trace` logs each,
    spread over the 24 hours before now, inserted in time order as a writer would."""
    rng = random.Random(1234)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    conn = _connect_for_build(tmp)
    end_ms = time.time() * 1000.0
    step = 86_400_000.0 / traces
    trace_sql = (
        "INSERT INTO traces (trace_id, root_span_name, source, started_at, ended_at, duration_ms,"
        " root_span_id, service, status, span_count, error_count, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    )
    span_sql = (
        "INSERT INTO spans (span_id, trace_id, parent_span_id, name, started_at, duration_ms,"
        " error_message, status, service, attributes, source_location, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    )
    log_sql = (
        "INSERT INTO logs (trace_id, span_id, level, message, timestamp, logger, service)"
        " VALUES (?,?,?,?,?,?,?)"
    )
    chunk = 2_000
    for first in range(0, traces, chunk):
        trace_rows: list[tuple[Any, ...]] = []
        span_rows: list[tuple[Any, ...]] = []
        log_rows: list[tuple[Any, ...]] = []
        for i in range(first, min(first + chunk, traces)):
            start = end_ms - (traces - i) * step
            duration = rng.uniform(1.0, 400.0)
            trace_id = "%032x" % rng.getrandbits(128)
            error = rng.random() < 0.03
            ids = [_span_hex(rng) for _ in range(spans_per_trace)]
            root_name = _NAMES[i % 5]
            stamp = start + duration + 1.0
            trace_rows.append(
                (
                    trace_id,
                    root_name,
                    "web",
                    start,
                    start + duration,
                    duration,
                    ids[0],
                    "shop-api",
                    "error" if error else "ok",
                    spans_per_trace,
                    int(error),
                    stamp,
                )
            )
            for k, span_id in enumerate(ids):
                parent = None if k == 0 else ids[(k - 1) // 3]
                offset = 0.0 if k == 0 else duration * k / (spans_per_trace + 1)
                length = duration if k == 0 else duration / (spans_per_trace + 2)
                failed = error and k == spans_per_trace - 1
                span_rows.append(
                    (
                        span_id,
                        trace_id,
                        parent,
                        root_name if k == 0 else _NAMES[5 + k % 5],
                        start + offset,
                        length,
                        "boom" if failed else None,
                        "error" if failed else "ok",
                        "shop-api",
                        '{"http.route": "/users/{id}", "db.rows": %d}' % k,
                        "shop/api.py:%d" % (10 + k),
                        stamp,
                    )
                )
            for k in range(logs_per_trace):
                level = _LEVELS[rng.randrange(len(_LEVELS))]
                log_rows.append(
                    (
                        trace_id,
                        ids[k % spans_per_trace],
                        level,
                        f"request {i} step {k}: handled in {duration:.1f} ms",
                        start + duration * k / max(logs_per_trace, 1),
                        _LOGGERS[k % 4],
                        "shop-api",
                    )
                )
        with conn:
            conn.executemany(trace_sql, trace_rows)
            conn.executemany(span_sql, span_rows)
            conn.executemany(log_sql, log_rows)
    _finish(conn, tmp, path)


def build_huge_db(path: Path) -> None:
    """One trace of 100,000 spans, one chain 10,000 spans deep, and 50 small traces."""
    rng = random.Random(99)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    conn = _connect_for_build(tmp)
    now = time.time() * 1000.0
    span_sql = (
        "INSERT INTO spans (span_id, trace_id, parent_span_id, name, started_at, duration_ms,"
        " status, service, attributes, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
    )
    trace_sql = (
        "INSERT INTO traces (trace_id, root_span_name, source, started_at, ended_at, duration_ms,"
        " root_span_id, service, status, span_count, error_count, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    )

    def add(
        name: str, start: float, spans: list[tuple[str, str | None, str, float, float]]
    ) -> None:
        trace_id = "%032x" % rng.getrandbits(128)
        end = max(s[3] + s[4] for s in spans)
        with conn:
            conn.execute(
                trace_sql,
                (
                    trace_id,
                    name,
                    "web",
                    start,
                    end,
                    end - start,
                    spans[0][0],
                    "shop-api",
                    "ok",
                    len(spans),
                    0,
                    end + 1,
                ),
            )
            conn.executemany(
                span_sql,
                [
                    (
                        sid,
                        trace_id,
                        parent,
                        sname,
                        s0,
                        dur,
                        "ok",
                        "shop-api",
                        '{"batch": %d}' % (n % 1000),
                        end + 1,
                    )
                    for n, (sid, parent, sname, s0, dur) in enumerate(spans)
                ],
            )

    start = now - 120_000.0
    root = _span_hex(rng)
    wide: list[tuple[str, str | None, str, float, float]] = [
        (root, None, "huge 100k", start, 60_000.0)
    ]
    parents = []
    for i in range(1_000):
        sid = _span_hex(rng)
        parents.append(sid)
        wide.append((sid, root, f"reindex.batch {i}", start + i * 60.0, 59.0))
    for i in range(98_999):
        p = i % 1_000
        wide.append(
            (
                _span_hex(rng),
                parents[p],
                f"reindex.document {i}",
                start + p * 60.0 + (i // 1000) * 0.5,
                0.4,
            )
        )
    add("huge 100k", start, wide)
    start = now - 60_000.0
    chain: list[tuple[str, str | None, str, float, float]] = []
    parent: str | None = None
    for i in range(10_000):
        sid = _span_hex(rng)
        chain.append((sid, parent, f"recurse depth {i}", start + i * 0.5, 10_000.0 - i * 0.5))
        parent = sid
    add("deep 10k", start, chain)
    for i in range(50):
        s0 = now - 30_000.0 + i * 100.0
        add(_NAMES[i % 5], s0, [(_span_hex(rng), None, _NAMES[i % 5], s0, 12.0)])
    _finish(conn, tmp, path)


def cached(name: str, build: Callable[[Path], None]) -> Path:
    """The cached database `name`, built first if missing (the name carries every parameter)."""
    from lens_tui import schema

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}-g{GEN_VERSION}-s{schema.SCHEMA_VERSION}.db"
    if not path.exists():
        say(f"  building {path.relative_to(ROOT)} (once; cached for later runs)…")
        t0 = time.perf_counter()
        build(path)
        say(f"  built in {time.perf_counter() - t0:.1f} s, {path.stat().st_size / 2**20:.0f} MiB")
    return path


def big_db() -> Path:
    """1,000,000 spans, 100,000 traces, 1,000,000 logs."""
    return cached("big-100kt-1ms-1ml", lambda p: build_list_db(p, 100_000, 10, 10))


def small_db() -> Path:
    """10,000 spans, 1,000 traces, 10,000 logs."""
    return cached("small-1kt-10ks-10kl", lambda p: build_list_db(p, 1_000, 10, 10))


def huge_db() -> Path:
    """A 100,000-span trace and a 10,000-deep chain."""
    return cached("huge-100k-deep-10k", build_huge_db)


# -- the probed app ------------------------------------------------------------------------------


def probe_app_class() -> type:
    """`LensApp` with a hook after every screen update (imported late: workers need no UI)."""
    from textual._compositor import CompositorUpdate

    from lens_tui.ui import app as app_module
    from lens_tui.ui.app import LensApp

    class ProbedApp(LensApp):
        """Calls each of `probes` after every screen update, once it is terminal output."""

        # Textual resolves a relative CSS_PATH beside the subclass's module: point at the app's.
        CSS_PATH = str(Path(app_module.__file__).parent / "app.tcss")

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.probes: list[Callable[[float], None]] = []
            self.updates = 0

        def _display(self, screen: Any, renderable: Any) -> None:
            super()._display(screen, renderable)
            if renderable is None or self._batch_count:
                return
            if isinstance(renderable, CompositorUpdate):
                # Headless apps skip this step; a terminal pays it before anything shows.
                renderable.render_segments(self.console)
            self.updates += 1
            now = time.time()
            for probe in list(self.probes):
                probe(now)

    return ProbedApp


def rss_mb() -> float:
    """This process's resident set size now, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- a. commit-to-rendered latency ---------------------------------------------------------------


def worker_commit_writer(db: Path, count: int) -> None:
    """Wait for `go` on stdin, then commit `count` single-span traces, printing commit times."""
    from lens_tui import tracing

    tracing.configure(db, service="bench-latency")
    with tracing.span("latency warm-up"):
        pass
    tracing.flush()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    rng = random.Random(7)
    for seq in range(count):
        time.sleep(rng.uniform(0.06, 0.14))
        with tracing.span(f"latency #{seq}"):
            pass
        tracing.flush()
        print(f"{seq} {time.time():.6f}", flush=True)
    tracing.shutdown()
    print("done", flush=True)


async def measure_latency(count: int, tmp: Path) -> dict[str, Any]:
    """Part a: see the module docstring."""
    db = tmp / "latency.db"
    writer = subprocess.Popen(
        [sys.executable, __file__, "--worker", "commit-writer", "--db", str(db), "--n", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert writer.stdin is not None and writer.stdout is not None
    if writer.stdout.readline().strip() != "ready":
        raise SystemExit("the commit writer did not start")
    app = probe_app_class()(db)
    applied: dict[int, tuple[float, float]] = {}  # seq -> (time applied, updated_at)
    shown: dict[int, float] = {}
    pending: dict[int, str] = {}  # seq -> trace id, applied but not yet on screen
    trace_list = app.trace_list
    original_apply = trace_list.apply

    def apply(traces: Any) -> None:
        traces = tuple(traces)
        original_apply(traces)
        now = time.time()
        for trace in traces:
            name = trace.root_span_name
            if name.startswith("latency #"):
                seq = int(name[9:])
                if seq not in applied and trace.trace_id in trace_list.rows:
                    applied[seq] = (now, (trace.updated_at or 0.0) / 1000.0)
                    pending[seq] = trace.trace_id

    def on_screen(now: float) -> None:
        if not pending:
            return
        top, height = trace_list.first_visible, trace_list.body_height
        for seq, trace_id in list(pending.items()):
            index = trace_list.rows.index(trace_id)
            if index is not None and top <= index < top + height:
                shown[seq] = now
                del pending[seq]

    trace_list.apply = apply  # type: ignore[method-assign]
    app.probes.append(on_screen)
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + 20
        while trace_list.row_count == 0 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        writer.stdin.write("go\n")
        writer.stdin.flush()
        while writer.poll() is None:
            await asyncio.sleep(0.1)
        deadline = time.monotonic() + 3
        while len(shown) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    commits: dict[int, float] = {}
    for line in writer.stdout.read().splitlines():
        parts = line.split()
        if len(parts) == 2:
            commits[int(parts[0])] = float(parts[1])
    rendered = [(shown[s] - commits[s]) * 1000 for s in commits if s in shown]
    from_stamp = [(shown[s] - applied[s][1]) * 1000 for s in commits if s in shown]
    to_apply = [(applied[s][0] - commits[s]) * 1000 for s in commits if s in applied]
    return {
        "traces": count,
        "seen": len(rendered),
        "p50_ms": pct(rendered, 50),
        "p95_ms": pct(rendered, 95),
        "max_ms": max(rendered, default=float("nan")),
        "from_updated_at_p50_ms": pct(from_stamp, 50),
        "from_updated_at_p95_ms": pct(from_stamp, 95),
        "to_applied_p50_ms": pct(to_apply, 50),
        "to_applied_p95_ms": pct(to_apply, 95),
    }


# -- b. time to first paint ----------------------------------------------------------------------


def worker_first_paint(db: Path) -> None:
    """A fresh process: validate like the CLI, run headless, report the first paint with rows."""
    from lens_tui.store.reader import check_path

    check_path(db)
    app = probe_app_class()(db)
    result: dict[str, Any] = {}

    def painted(now: float) -> None:
        if not result and app.trace_list.row_count > 0:
            result.update(painted_at=now, rss_mb=rss_mb(), rows=app.trace_list.row_count)
            app.exit()

    app.probes.append(painted)
    app.run(headless=True, size=SIZE)
    print(json.dumps(result), flush=True)


def first_paint_once(db: Path) -> dict[str, Any]:
    """Start a first-paint worker on `db`; seconds from before its start to its first paint."""
    started = time.time()
    done = subprocess.run(
        [sys.executable, __file__, "--worker", "first-paint", "--db", str(db)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    if done.returncode != 0 or '"painted_at"' not in done.stdout:
        raise SystemExit(f"first-paint worker failed ({done.returncode}):\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["seconds"] = result["painted_at"] - started
    return result


def measure_first_paint(repeats: int) -> dict[str, Any]:
    """Part b: alternating small and big, after one uncounted warm-up run of each."""
    small, big = small_db(), big_db()
    first_paint_once(small)
    first_paint_once(big)
    runs: dict[str, list[dict[str, Any]]] = {"small": [], "big": []}
    for i in range(repeats):
        for label, db in (("small", small), ("big", big)):
            runs[label].append(first_paint_once(db))
        say(
            f"  first paint {i + 1}/{repeats}: small {runs['small'][-1]['seconds']:.3f} s, "
            f"big {runs['big'][-1]['seconds']:.3f} s"
        )
    out: dict[str, Any] = {"repeats": repeats}
    for label in ("small", "big"):
        out[label] = {
            "median_s": statistics.median(r["seconds"] for r in runs[label]),
            "max_s": max(r["seconds"] for r in runs[label]),
            "rss_mb_median": statistics.median(r["rss_mb"] for r in runs[label]),
            "rss_mb_max": max(r["rss_mb"] for r in runs[label]),
            "rows": runs[label][0]["rows"],
        }
    out["ratio"] = out["big"]["median_s"] / out["small"]["median_s"]
    return out


# -- c. opening huge traces ----------------------------------------------------------------------


async def measure_open(repeats: int) -> dict[str, Any]:
    """Part c: `enter` on a trace's row until the waterfall's rows are on screen."""
    app = probe_app_class()(huge_db())
    result: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + 20
        while app.trace_list.row_count < 52 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        for name, spans in (("huge 100k", 100_000), ("deep 10k", 10_000)):
            times: list[float] = []
            for _ in range(repeats):
                rows = app.trace_list.rows
                index = next(i for i in range(len(rows)) if rows[i].root_span_name == name)
                trace_id = rows[index].trace_id
                app.trace_list.focus()
                app.trace_list.move_cursor(index, user=True)
                await pilot.pause(0.2)
                stamp: list[float] = []

                def shown(now: float, trace_id: str = trace_id, stamp: list[float] = stamp) -> None:
                    waterfall = app.waterfall
                    if (
                        not stamp
                        and waterfall.row_count > 0
                        and waterfall.forest is not None
                        and waterfall.forest.spans[0].trace_id == trace_id
                    ):
                        stamp.append(now)

                app.probes.append(shown)
                started = time.time()
                await pilot.press("enter")
                deadline = time.monotonic() + 30
                while not stamp and time.monotonic() < deadline:
                    await asyncio.sleep(0.005)
                app.probes.remove(shown)
                if not stamp:
                    raise SystemExit(f"the waterfall of {name} never showed")
                times.append((stamp[0] - started) * 1000)
                assert app.waterfall.forest is not None and len(app.waterfall.forest) == spans
                await pilot.press("escape", "escape")
                await pilot.pause(0.3)
            result[name] = {
                "median_ms": statistics.median(times),
                "max_ms": max(times),
                "first_ms": times[0],
                "spans": spans,
            }
            say(f"  open {name}: " + ", ".join(f"{t:.0f}" for t in times) + " ms")
    return result


# -- d. keeping up with a heavy writer -----------------------------------------------------------


def worker_load_writer(db: Path, seconds: float, spans_per_s: int, logs_per_s: int) -> None:
    """Wait for `go`, then write traces of 10 spans and 10 logs at the given rates, paced."""
    import logging

    from lens_tui import tracing

    store = tracing.configure(db, service="bench-load")
    logger = logging.getLogger("bench.load")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(tracing.LogHandler())
    with tracing.span("load warm-up"):
        logger.info("warm-up")
    tracing.flush()
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    levels = [getattr(logging, name.upper() if name != "warn" else "WARNING") for name in _LEVELS]
    log = logger.log

    @tracing.lens_fn("db.query")
    def child(i: int, level: int) -> None:
        log(level, "query %d done", i)

    @tracing.lens_fn("GET /load")
    def root(n: int) -> None:
        log(levels[n % len(levels)], "request %d started", n)
        for i in range(9):
            child(i, levels[(n + i) % len(levels)])

    # 10 spans and 10 logs per trace: the trace rate follows the spans target, extra logs (if
    # logs_per_s is higher) go out on their own.
    traces_per_s = spans_per_s / 10
    extra_logs_per_s = max(logs_per_s - traces_per_s * 10, 0)
    start = time.perf_counter()
    t0_cpu = time.process_time()
    done_traces = done_logs = 0
    n = 0
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
        due = int(elapsed * traces_per_s) - done_traces
        for _ in range(due):
            root(n)
            n += 1
        done_traces += max(due, 0)
        due_logs = int(elapsed * extra_logs_per_s) - done_logs
        for _ in range(due_logs):
            log(logging.INFO, "background tick")
        done_logs += max(due_logs, 0)
        time.sleep(0.01)
    calls_s = time.perf_counter() - start
    tracing.flush(60)
    wall = time.perf_counter() - start
    cpu = time.process_time() - t0_cpu
    print(
        json.dumps(
            {
                "seconds": calls_s,
                "seconds_to_last_commit": wall,
                "spans_written": store.spans_written,
                "logs_written": store.logs_written,
                "dropped": store.dropped,
                "errors": store.errors,
                "cpu_s": cpu,
            }
        ),
        flush=True,
    )
    tracing.shutdown()


async def measure_load(seconds: float, tmp: Path) -> dict[str, Any]:
    """Part d: see the module docstring."""
    db = tmp / "load.db"
    writer = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--worker",
            "load-writer",
            "--db",
            str(db),
            "--seconds",
            str(seconds),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert writer.stdin is not None and writer.stdout is not None
    if writer.stdout.readline().strip() != "ready":
        raise SystemExit("the load writer did not start")
    app = probe_app_class()(db)
    trace_lag: list[float] = []
    log_lag: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + 20
        while app.trace_list.row_count == 0 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        cpu0 = time.process_time()
        wall0 = time.monotonic()
        writer.stdin.write("go\n")
        writer.stdin.flush()
        while writer.poll() is None:
            await asyncio.sleep(1.0)
            now = time.time() * 1000
            # Sampled while the writer writes: after its last commit the age of the newest
            # row grows by itself (a 15 s run once showed a 1.0 s "lag" from that alone).
            writing = 1.0 < time.monotonic() - wall0 <= seconds
            rows = app.trace_list.rows
            if len(rows) and writing:
                trace_lag.append((now - rows[0].started_at) / 1000)
            logs = app.log_pane.rows
            if logs and writing:
                log_lag.append((now - logs[-1].timestamp) / 1000)
            if len(trace_lag) % 10 == 1 and trace_lag:
                say(
                    f"  load t+{time.monotonic() - wall0:.0f}s: trace lag {trace_lag[-1]:.2f} s, "
                    f"log lag {log_lag[-1] if log_lag else float('nan'):.2f} s"
                )
        app_cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    out = json.loads(writer.stdout.read().strip().splitlines()[-1])
    return {
        "target_seconds": seconds,
        "writer": out,
        "spans_per_s": out["spans_written"] / out["seconds_to_last_commit"],
        "logs_per_s": out["logs_written"] / out["seconds_to_last_commit"],
        "trace_lag_max_s": max(trace_lag, default=float("nan")),
        "trace_lag_p95_s": pct(trace_lag, 95),
        "trace_lag_median_s": pct(trace_lag, 50),
        "log_lag_max_s": max(log_lag, default=float("nan")),
        "log_lag_p95_s": pct(log_lag, 95),
        "log_lag_median_s": pct(log_lag, 50),
        "samples": len(trace_lag),
        "app_cpu_fraction": app_cpu,
    }


# -- orchestration -------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    """MET or MISSED."""
    return "MET" if ok else "MISSED"


def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The summary table's rows: (what, figure, target and notes)."""
    rows: list[tuple[str, str, str]] = []
    if "latency" in results:
        r = results["latency"]
        rows.append(
            (
                "a. commit -> rendered p50 / p95",
                f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms",
                f"target p95 <= {LATENCY_P95_TARGET_MS:.0f} ms: "
                f"{verdict(r['p95_ms'] <= LATENCY_P95_TARGET_MS)}; {r['seen']}/{r['traces']} "
                f"traces, max {r['max_ms']:.1f} ms",
            )
        )
        rows.append(
            (
                "   from updated_at p50 / p95",
                f"{r['from_updated_at_p50_ms']:.1f} / {r['from_updated_at_p95_ms']:.1f} ms",
                f"commit -> applied p50 {r['to_applied_p50_ms']:.1f}, p95 "
                f"{r['to_applied_p95_ms']:.1f} ms",
            )
        )
    if "first_paint" in results:
        r = results["first_paint"]
        s, b = r["small"], r["big"]
        rows.append(
            (
                "b. first paint, 10k spans",
                f"{s['median_s']:.3f} s",
                f"median of {r['repeats']}, max {s['max_s']:.3f} s; target <= "
                f"{FIRST_PAINT_TARGET_S:.0f} s: {verdict(s['median_s'] <= FIRST_PAINT_TARGET_S)}",
            )
        )
        rows.append(
            (
                "   first paint, 1M spans/100k traces/1M logs",
                f"{b['median_s']:.3f} s",
                f"median of {r['repeats']}, max {b['max_s']:.3f} s; target <= "
                f"{FIRST_PAINT_TARGET_S:.0f} s: {verdict(b['median_s'] <= FIRST_PAINT_TARGET_S)}",
            )
        )
        rows.append(
            (
                "   ratio big / small",
                f"{r['ratio']:.2f}x",
                f"target <= {FIRST_PAINT_RATIO_TARGET}x: "
                f"{verdict(r['ratio'] <= FIRST_PAINT_RATIO_TARGET)}",
            )
        )
        rows.append(
            (
                "   RSS at first paint small / big",
                f"{s['rss_mb_median']:.0f} / {b['rss_mb_median']:.0f} MiB",
                f"max {max(s['rss_mb_max'], b['rss_mb_max']):.0f} MiB; target <= "
                f"{RSS_TARGET_MB:.0f} MB: "
                f"{verdict(max(s['rss_mb_max'], b['rss_mb_max']) * 1.048576 <= RSS_TARGET_MB)}; "
                f"{b['rows']:,} rows listed",
            )
        )
    if "open" in results:
        r = results["open"]
        h, d = r["huge 100k"], r["deep 10k"]
        rows.append(
            (
                "c. open a 100,000-span trace",
                f"{h['median_ms']:.0f} ms",
                f"median, max {h['max_ms']:.0f} ms, first {h['first_ms']:.0f} ms; target <= "
                f"{OPEN_TARGET_MS:.0f} ms: {verdict(h['median_ms'] <= OPEN_TARGET_MS)}",
            )
        )
        rows.append(
            (
                "   open a chain 10,000 deep",
                f"{d['median_ms']:.0f} ms",
                f"median, max {d['max_ms']:.0f} ms; no RecursionError",
            )
        )
    if "load" in results:
        r = results["load"]
        w = r["writer"]
        ok = r["trace_lag_max_s"] <= LAG_TARGET_S and r["log_lag_max_s"] <= LAG_TARGET_S
        rows.append(
            (
                f"d. lag at {LOAD_SPANS_PER_S // 1000}k spans/s + "
                f"{LOAD_LOGS_PER_S // 1000}k logs/s, {r['target_seconds']:.0f} s",
                f"max {r['trace_lag_max_s']:.2f} s",
                f"trace list: p95 {r['trace_lag_p95_s']:.2f}, median "
                f"{r['trace_lag_median_s']:.2f} s; target <= {LAG_TARGET_S:.0f} s: {verdict(ok)}",
            )
        )
        rows.append(
            (
                "   log pane newest line age",
                f"max {r['log_lag_max_s']:.2f} s",
                f"p95 {r['log_lag_p95_s']:.2f}, median {r['log_lag_median_s']:.2f} s; "
                f"{r['samples']} samples",
            )
        )
        rows.append(
            (
                "   writer achieved",
                f"{r['spans_per_s']:,.0f} spans/s",
                f"{r['logs_per_s']:,.0f} logs/s; dropped {w['dropped']:,}, errors "
                f"{w['errors']}; writer CPU {w['cpu_s'] / w['seconds_to_last_commit']:.0%}, "
                f"app CPU {r['app_cpu_fraction']:.0%}",
            )
        )
    return rows


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import apsw
    import textual

    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": apsw.sqlitelibversion(),
        "textual": textual.__version__,
        "loadavg_at_start": loadavg(),
    }


async def run_in_process(parts: set[str], quick: bool, tmp: Path) -> dict[str, Any]:
    """Parts a, c and d run the app in this process, one after the other."""
    results: dict[str, Any] = {}
    if "a" in parts:
        say("a. commit-to-rendered latency…")
        results["latency"] = await measure_latency(60 if quick else 200, tmp)
    if "c" in parts:
        huge_db()
        say("c. opening huge traces…")
        results["open"] = await measure_open(3 if quick else 5)
    if "d" in parts:
        say(f"d. keeping up for {15 if quick else 60} s…")
        results["load"] = await measure_load(15.0 if quick else 60.0, tmp)
    return results


def main() -> int:
    """Parse arguments and either run one worker or the whole benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (about 1.5 min)")
    parser.add_argument("--only", default="a,b,c,d", help="parts to run, e.g. --only b,c")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to this long for the 1-minute load average to drop below 2",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "first-paint":
        worker_first_paint(args.db)
        return 0
    if args.worker == "commit-writer":
        worker_commit_writer(args.db, args.n)
        return 0
    if args.worker == "load-writer":
        worker_load_writer(args.db, args.seconds, LOAD_SPANS_PER_S, LOAD_LOGS_PER_S)
        return 0
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    waited_until = time.monotonic() + args.wait_quiet
    while loadavg()[0] >= 2 and time.monotonic() < waited_until:
        say(f"  waiting for a quiet machine: load {loadavg()[0]:.2f}")
        time.sleep(min(30.0, max(waited_until - time.monotonic(), 0.1)))
    info = machine()
    say(
        f"lens_tui dashboard bench: {info['cpu_count']} cpu, Python {info['python']}, "
        f"Textual {info['textual']}, SQLite {info['sqlite']}, load {info['loadavg_at_start']}"
    )
    if info["loadavg_at_start"][0] >= 2:
        say("  note: the machine is busy (1-minute load >= 2); figures will be pessimistic")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="lens-dash-bench-") as tmp_name:
        if "b" in parts:
            say("b. time to first paint…")
            results["first_paint"] = measure_first_paint(3 if args.quick else 7)
        results.update(asyncio.run(run_in_process(parts, args.quick, Path(tmp_name))))
    info["loadavg_at_end"] = loadavg()
    rows = report(results)
    print()
    print(f"lens_tui dashboard benchmark ({'quick' if args.quick else 'full'})")
    print(
        f"machine: {info['cpu_count']} cpu, Python {info['python']}, Textual {info['textual']}, "
        f"SQLite {info['sqlite']}; load average at start "
        f"{' '.join(f'{x:.2f}' for x in info['loadavg_at_start'])}, at end "
        f"{' '.join(f'{x:.2f}' for x in info['loadavg_at_end'])}"
    )
    if rows:
        width = max(len(r[0]) for r in rows)
        vwidth = max(len(r[1]) for r in rows)
        for name, value, note in rows:
            print(f"  {name:<{width}}  {value:>{vwidth}}  {note}")
    if not args.no_json:
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        path = (
            out / f"dashboard-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}.json"
        )
        path.write_text(json.dumps({"machine": info, "quick": args.quick, **results}, indent=2))
        print(f"results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
