"""Benchmark lens_tui.tracing: per-call overhead against OpenTelemetry, and writer throughput.

Usage: `python bench/bench_tracing.py [--quick] [--no-json]`

Every measurement runs in its own fresh subprocess (this script re-invoked with `--worker`), so
no run inherits another's heap, garbage-collector state, background threads or global tracer
provider; the overhead repeats alternate lens / OpenTelemetry so machine load hits both alike.

1. Overhead: a decorated no-op called N times in a loop, minus the same loop over the
   undecorated no-op (measured before and after), in µs per call of wall time. Ours is
   `@lens_fn` with a configured writer writing to a temporary database while the loop runs (its
   thread competes for the GIL, as in an application); every call is a root span (a new
   trace), the dearer case. OpenTelemetry is `with tracer.start_as_current_span(...)` around
   the no-op, its SDK TracerProvider with a BatchSpanProcessor (defaults) and a SpanExporter
   whose export() only counts and returns SUCCESS. Medians of the repeats, ratio OTel / lens.
   Also the process CPU per call, background work included up to a flush: steadier than wall
   time on a shared machine.
2. Throughput: traces of 10 spans (a root calling 9 children) called as fast as possible, then
   `flush()`; spans/s from the first call to the last commit, verified by counting rows through
   a second (read-only) connection, with the `dropped` counter. Logs likewise via LogHandler.
3. A summary table; JSON in bench/results/ (gitignored) unless `--no-json`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
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

OVERHEAD_TARGET_RATIO = 8.0
THROUGHPUT_TARGET = 150_000.0


# -- workers (run in subprocesses) -------------------------------------------------------------


def _loop(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) to call `fn` n times."""
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in itertools.repeat(None, n):
        fn()
    return time.perf_counter() - t0, time.process_time() - c0


def _plain() -> None:
    return None


def _count(db: Path, sql: str) -> Any:
    """One row read through a second, read-only connection (what a reader would see)."""
    import apsw

    conn = apsw.Connection(f"file:{db}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
    try:
        return conn.execute(sql).fetchall()[0]
    finally:
        conn.close()


def _timed_overhead(traced: Callable[[], Any], calls: int, settle: Callable[[], Any]) -> dict[str, float]:
    """Wall and CPU µs per call of `traced` beyond the bare call (CPU counted until `settle`)."""
    warm = _warmup(calls)
    _loop(_plain, warm)
    _loop(traced, warm)
    settle()
    base1 = _loop(_plain, calls)
    c0 = time.process_time()
    spent, _ = _loop(traced, calls)
    settle()  # the background work the calls caused is part of their CPU cost
    cpu = time.process_time() - c0
    base2 = _loop(_plain, calls)
    return {
        "us_per_call": (spent - (base1[0] + base2[0]) / 2) / calls * 1e6,
        "cpu_us_per_call": (cpu - (base1[1] + base2[1]) / 2) / calls * 1e6,
    }


def _warmup(calls: int) -> int:
    return max(1000, calls // 20)


def worker_overhead_lens(calls: int, tmp: Path) -> dict[str, Any]:
    """Per-call overhead of @lens_fn while its writer writes to a temporary database."""
    from lens_tui.tracing import configure, flush, lens_fn, shutdown

    db = tmp / "overhead.db"
    store = configure(db, service="bench")

    @lens_fn
    def noop() -> None:
        return None

    noop()
    flush()  # the database exists and is migrated before anything is timed
    result = _timed_overhead(noop, calls, lambda: flush(600))
    spans = _count(db, "SELECT count(*) FROM spans")[0]
    dropped = store.dropped
    shutdown()
    expected = 1 + _warmup(calls) + calls  # the first call, the warm-up, the timed loop
    return {**result, "spans_written": spans, "spans_expected": expected, "dropped": dropped}


def worker_overhead_otel(calls: int, tmp: Path) -> dict[str, Any]:
    """Per-call overhead of OpenTelemetry's start_as_current_span, BatchSpanProcessor, no-op export."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NoopExporter(SpanExporter):
        """Counts what it is given and returns SUCCESS."""

        def __init__(self) -> None:
            self.exported = 0

        def export(self, spans: Any) -> SpanExportResult:
            self.exported += len(spans)
            return SpanExportResult.SUCCESS

    exporter = NoopExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")

    def noop() -> None:
        with tracer.start_as_current_span("noop"):
            return None

    result = _timed_overhead(noop, calls, provider.force_flush)
    exported = exporter.exported
    provider.shutdown()
    # The default 2,048-span queue drops silently when the exporter thread falls behind.
    return {**result, "spans_exported": exported, "spans_expected": _warmup(calls) + calls}


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker_throughput(spans: int, tmp: Path, max_queue: int | None) -> dict[str, Any]:
    """Traces of 10 spans called flat out, then flush: spans/s from first call to last commit."""
    from lens_tui.tracing import configure, flush, lens_fn, shutdown

    db = tmp / "throughput.db"
    options = {} if max_queue is None else {"max_queue": max_queue}
    store = configure(db, service="bench", **options)

    @lens_fn
    def child() -> None:
        return None

    @lens_fn
    def root() -> None:
        for _ in range(9):
            child()

    root()
    flush()
    before = _count(db, "SELECT count(*) FROM spans")[0]
    traces = spans // 10
    cpu0, app0 = _cpu_self(), time.thread_time()
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, traces):
        root()
    t_calls = time.perf_counter()
    app_cpu = time.thread_time() - app0
    flushed = flush(600)
    t1 = time.perf_counter()
    cpu = _cpu_self() - cpu0
    written = _count(db, "SELECT count(*) FROM spans")[0] - before
    n_traces, span_sum, not_ok = _count(
        db, "SELECT count(*), sum(span_count), sum(status != 'ok') FROM traces"
    )
    dropped = store.dropped
    shutdown()
    n = traces * 10
    return {
        "spans": n,
        "seconds": t1 - t0,
        "spans_per_s": n / (t1 - t0),
        "committed_per_s": written / (t1 - t0),
        "calling_spans_per_s": n / (t_calls - t0),
        "drain_after_calls_s": t1 - t_calls,
        "app_cpu_us_per_span": app_cpu / n * 1e6,
        "other_cpu_us_per_span": (cpu - app_cpu) / n * 1e6,  # the writer thread, mostly
        "rows_written": written,
        "traces_rows": n_traces - 1,
        "trace_span_count_sum": (span_sum or 0) - 10,
        "traces_not_ok": not_ok,
        "dropped": dropped,
        "flushed": flushed,
        "max_queue": store.max_queue,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def worker_logs(n: int, tmp: Path, max_queue: int | None) -> dict[str, Any]:
    """logging.info through LogHandler inside one span, then flush: logs/s to the last commit."""
    import logging

    from lens_tui.tracing import LogHandler, configure, flush, shutdown, span

    db = tmp / "logs.db"
    options = {} if max_queue is None else {"max_queue": max_queue}
    store = configure(db, service="bench", **options)
    logger = logging.getLogger("bench.logs")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(LogHandler())
    logger.info("warm-up")
    flush()
    info = logger.info
    cpu0 = _cpu_self()
    t0 = time.perf_counter()
    with span("log-burst"):
        for i in range(n):
            info("request %d handled", i)
    t_calls = time.perf_counter()
    flushed = flush(600)
    t1 = time.perf_counter()
    cpu = _cpu_self() - cpu0
    written, with_span = _count(db, "SELECT count(*), count(span_id) FROM logs WHERE message != 'warm-up'")
    dropped = store.dropped
    shutdown()
    return {
        "logs": n,
        "seconds": t1 - t0,
        "logs_per_s": n / (t1 - t0),
        "calling_logs_per_s": n / (t_calls - t0),
        "cpu_us_per_log": cpu / n * 1e6,
        "rows_written": written,
        "rows_with_span": with_span,
        "dropped": dropped,
        "flushed": flushed,
    }


def run_worker(args: argparse.Namespace) -> None:
    """Run one measurement and print its JSON result as the last line of stdout."""
    with tempfile.TemporaryDirectory(prefix="lens-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if args.worker == "overhead-lens":
            result = worker_overhead_lens(args.n, tmp)
        elif args.worker == "overhead-otel":
            result = worker_overhead_otel(args.n, tmp)
        elif args.worker == "throughput":
            result = worker_throughput(args.n, tmp, args.max_queue)
        elif args.worker == "logs":
            result = worker_logs(args.n, tmp, args.max_queue)
        else:
            raise SystemExit(f"unknown worker {args.worker!r}")
    print(json.dumps(result))


# -- orchestration -----------------------------------------------------------------------------


def spawn(worker: str, n: int, max_queue: int | None = None) -> dict[str, Any]:
    """Run one worker in a fresh interpreter and return its result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", worker, "--n", str(n)]
    if max_queue is not None:
        cmd += ["--max-queue", str(max_queue)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"worker {worker} failed ({done.returncode}):\n{done.stderr}")
    if done.stderr.strip():
        sys.stderr.write(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, rounded, where the OS has them."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import apsw

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "sqlite": apsw.sqlitelibversion(),
        "apsw": apsw.apsw_version(),
        "platform": platform.platform(),
        "loadavg_at_start": loadavg(),
    }


def say(text: str) -> None:
    """Progress on stderr, so stdout holds only the report."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _span(values: list[float], fmt: str) -> str:
    return f"min {min(values):{fmt}}, max {max(values):{fmt}}"


def main() -> int:
    """Parse arguments and either run one worker or the whole benchmark."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and spans (about 4x faster)")
    parser.add_argument("--repeats", type=int, default=7, help="overhead repeats per implementation")
    parser.add_argument("--throughput-repeats", type=int, default=None, help="default 3, --quick 1")
    parser.add_argument("--calls", type=int, default=None, help="calls per overhead repeat")
    parser.add_argument("--spans", type=int, default=None, help="spans per throughput run")
    parser.add_argument("--logs", type=int, default=None, help="logs per log throughput run")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--max-queue", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return 0

    calls = args.calls or (30_000 if args.quick else 100_000)
    n_spans = args.spans or (200_000 if args.quick else 1_000_000)
    n_logs = args.logs or (50_000 if args.quick else 200_000)
    t_repeats = args.throughput_repeats or (1 if args.quick else 3)
    info = machine()
    say(f"lens_tui tracing bench: {info['cpu_count']} cpu, Python {info['python']}, "
        f"SQLite {info['sqlite']}, load {info['loadavg_at_start']}")

    lens_runs: list[dict[str, Any]] = []
    otel_runs: list[dict[str, Any]] = []
    for i in range(args.repeats):
        lens_runs.append(spawn("overhead-lens", calls))
        otel_runs.append(spawn("overhead-otel", calls))
        say(f"  overhead {i + 1}/{args.repeats}: lens {lens_runs[-1]['us_per_call']:.2f} µs, "
            f"otel {otel_runs[-1]['us_per_call']:.2f} µs")
    lens_us = statistics.median(r["us_per_call"] for r in lens_runs)
    otel_us = statistics.median(r["us_per_call"] for r in otel_runs)
    lens_cpu = statistics.median(r["cpu_us_per_call"] for r in lens_runs)
    otel_cpu = statistics.median(r["cpu_us_per_call"] for r in otel_runs)
    ratio = otel_us / lens_us

    # The queue bound holds the whole run, so nothing can be dropped; the second case keeps
    # the default bound (200,000) to show the trade-off when the app outruns the writer.
    big_queue = n_spans + 1000
    tp_runs: list[dict[str, Any]] = []
    for i in range(t_repeats):
        tp_runs.append(spawn("throughput", n_spans, big_queue))
        say(f"  throughput {i + 1}/{t_repeats}: {tp_runs[-1]['spans_per_s']:,.0f} spans/s, "
            f"dropped {tp_runs[-1]['dropped']}")
    tp_default = spawn("throughput", n_spans)
    say(f"  throughput, default max_queue: {tp_default['committed_per_s']:,.0f} committed/s, "
        f"dropped {tp_default['dropped']}")
    logs_run = spawn("logs", n_logs, n_logs + 1000)
    say(f"  logs: {logs_run['logs_per_s']:,.0f} logs/s, dropped {logs_run['dropped']}")
    load_end = loadavg()

    def med(key: str) -> float:
        return statistics.median(r[key] for r in tp_runs)

    tp_med = med("spans_per_s")
    tp_ok = all(
        r["rows_written"] == r["spans"] == r["trace_span_count_sum"] and r["dropped"] == 0
        and r["traces_not_ok"] == 0 and r["traces_rows"] * 10 == r["spans"]
        for r in tp_runs
    )
    lens_ok = all(r["dropped"] == 0 and r["spans_written"] == r["spans_expected"] for r in lens_runs)
    otel_lost = sum(r["spans_expected"] - r["spans_exported"] for r in otel_runs)

    rows = [
        ("lens_fn overhead (median)", f"{lens_us:.2f} µs/call",
         f"{args.repeats} runs x {calls:,} calls; {_span([r['us_per_call'] for r in lens_runs], '.2f')}; "
         f"CPU {lens_cpu:.2f} µs/call incl. writer; dropped {sum(r['dropped'] for r in lens_runs)}"),
        ("OTel start_as_current_span (median)", f"{otel_us:.2f} µs/call",
         f"BatchSpanProcessor + no-op exporter; {_span([r['us_per_call'] for r in otel_runs], '.2f')}; "
         f"CPU {otel_cpu:.2f} µs/call; not exported {otel_lost:,}"),
        ("ratio OTel / lens", f"{ratio:.1f}x",
         f"target >= {OVERHEAD_TARGET_RATIO:.0f}x: {'MET' if ratio >= OVERHEAD_TARGET_RATIO else 'MISSED'}; "
         f"by CPU {otel_cpu / lens_cpu:.1f}x"),
        ("spans -> committed rows (median)", f"{tp_med:,.0f} spans/s",
         f"{t_repeats} runs x {n_spans:,} spans, traces of 10, max_queue {big_queue:,}; rows verified "
         f"{'yes' if tp_ok else 'NO'}; dropped {sum(r['dropped'] for r in tp_runs)}; "
         f"target >= {THROUGHPUT_TARGET:,.0f}: {'MET' if tp_med >= THROUGHPUT_TARGET and tp_ok else 'MISSED'}"),
        ("  calling phase alone", f"{med('calling_spans_per_s'):,.0f} spans/s",
         f"then {med('drain_after_calls_s'):.2f} s to drain; CPU per span: app thread "
         f"{med('app_cpu_us_per_span'):.2f} µs, writer {med('other_cpu_us_per_span'):.2f} µs; "
         f"peak RSS {max(r['peak_rss_mib'] for r in tp_runs):.0f} MiB"),
        ("  with default max_queue", f"{tp_default['committed_per_s']:,.0f} rows/s",
         f"max_queue {tp_default['max_queue']:,}: dropped {tp_default['dropped']:,} of "
         f"{tp_default['spans']:,}; peak RSS {tp_default['peak_rss_mib']:.0f} MiB"),
        ("logs via LogHandler -> rows", f"{logs_run['logs_per_s']:,.0f} logs/s",
         f"{n_logs:,} logs; rows {logs_run['rows_written']:,} ({logs_run['rows_with_span']:,} with span); "
         f"dropped {logs_run['dropped']}; calling alone {logs_run['calling_logs_per_s']:,.0f}/s; "
         f"CPU {logs_run['cpu_us_per_log']:.1f} µs/log"),
    ]
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print()
    print(f"lens_tui.tracing benchmark ({'quick' if args.quick else 'full'})")
    print(f"machine: {info['cpu_count']} cpu ({info['cpu']}), {info['implementation']} {info['python']}, "
          f"SQLite {info['sqlite']} (apsw {info['apsw']}); load average {info['loadavg_at_start']} "
          f"at start, {load_end} at end")
    print("each figure from fresh subprocesses; overhead repeats alternate lens / OTel")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>{vwidth}}  {note}")
    busy = max((info["loadavg_at_start"] or [0])[0], (load_end or [0])[0])
    if busy > 0.5 * (info["cpu_count"] or 1):
        print(f"  NOTE: the machine was busy (load {busy:.1f} on {info['cpu_count']} cpus): wall-clock "
              "figures are pessimistic; the CPU figures hold better")
    if not lens_ok:
        print("  WARNING: the overhead runs dropped or lost spans")

    if not args.no_json:
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"tracing-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}.json"
        path.write_text(json.dumps({
            "machine": {**info, "loadavg_at_end": load_end},
            "quick": args.quick, "calls": calls, "spans": n_spans, "logs": n_logs,
            "overhead": {"lens_us_median": lens_us, "otel_us_median": otel_us, "ratio": ratio,
                         "lens_cpu_us_median": lens_cpu, "otel_cpu_us_median": otel_cpu,
                         "lens_runs": lens_runs, "otel_runs": otel_runs},
            "throughput": {"spans_per_s_median": tp_med, "runs": tp_runs, "default_queue": tp_default},
            "logs": logs_run,
        }, indent=2))
        print(f"results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
