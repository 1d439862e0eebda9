"""Benchmark lens_tui.tracing against its references, every row of the targets table in one run.

Usage: `python bench/bench_tracing.py [--quick] [--repeats N] [--no-json]`

Every measurement runs in its own fresh subprocess (bench/tracing_workers.py), so no run
inherits another's heap, garbage-collector state, threads or global tracer provider; the repeats
alternate ours and the reference so machine load hits both alike. Medians of the repeats:

1. `lens_fn` on the calling thread: a decorated no-op (every call a root span, the dearer
   case) minus the bare loop, wall µs per call, while the writer writes to a temporary file
   (its thread competes for the GIL, as in an application). Reference: OpenTelemetry's
   `start_as_current_span` with the SDK's BatchSpanProcessor and an exporter that only counts.
2. Process CPU per span, traces of 10 (a root calling 9 children) called flat out, then
   flush, the writer's work included. Reference: OpenTelemetry's SDK, BatchSpanProcessor and
   the real OTLP/HTTP exporter sending protobuf to a loopback receiver in another process that
   accepts and discards (so only the sending side's CPU counts, as only ours does).
3. End to end, the same traces of 10: spans/s from the first call to the last commit, rows
   verified through a second connection, drops counted.
4. One-span traces (a job runner, a CLI) with a flush every 10,000: spans/s and CPU per span.
5. Logs through LogHandler to committed rows: logs/s and CPU per log. Reference: the same
   `logging.info` calls with stdlib logging and a NullHandler.
6. LensMiddleware: an ASGI app called directly (no server) bare and wrapped, µs per request
   of wall time and of process CPU (the writer's included); OpenTelemetry's ASGI middleware
   (no-op exporter) beside it.

A summary table with the machine (cpus, Python, SQLite, load average); JSON in bench/results/
(gitignored) unless `--no-json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORKERS = Path(__file__).resolve().with_name("tracing_workers.py")

TARGETS = {
    "lens_fn_us": 1.5, "lens_fn_ratio": 12.0, "cpu_us": 4.0, "cpu_ratio": 12.0,
    "traces10_per_s": 250_000.0, "single_per_s": 160_000.0, "logs_per_s": 150_000.0,
    "log_cpu_us": 7.0, "middleware_us": 15.0,
}  # fmt: skip


BASE: str | None = None
"""Another checkout (--base) whose library every measurement also runs, just after ours."""


def spawn(worker: str, n: int = 0, library: str | None = None, **options: Any) -> dict[str, Any]:
    """Run one worker in a fresh interpreter (on `library`'s lens_tui if given) and return its result."""
    cmd = [sys.executable, str(WORKERS), worker, str(n)]
    for key, value in options.items():
        if value is not None:
            cmd += [f"--{key.replace('_', '-')}", str(value)]
    env = {**os.environ, "LENS_BENCH_LIBRARY": library} if library else None
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode != 0:
        raise SystemExit(f"worker {worker} failed ({done.returncode}):\n{done.stderr}")
    if done.stderr.strip():
        sys.stderr.write(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours(
    runs: dict[str, list[dict[str, Any]]], key: str, worker: str, n: int = 0, **options: Any
) -> dict[str, Any]:
    """Run a measurement of our library (into runs[key]), then the base's if any (runs[base key])."""
    result = spawn(worker, n, **options)
    runs.setdefault(key, []).append(result)
    if BASE is not None:
        runs.setdefault(f"base {key}", []).append(spawn(worker, n, library=BASE, **options))
    return result


class DiscardReceiver:
    """The OTLP/HTTP receiver that discards, in a process of its own, for the reference exporter."""

    def __enter__(self) -> int:
        self._proc = subprocess.Popen(
            [sys.executable, str(WORKERS), "serve-discard"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self._proc.stdout is not None
        return int(self._proc.stdout.readline())

    def __exit__(self, *exc: object) -> None:
        self._proc.kill()
        self._proc.wait()


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


def med(runs: list[dict[str, Any]], key: str) -> float:
    """The median of `key` over the runs."""
    return statistics.median(r[key] for r in runs)


def spread(runs: list[dict[str, Any]], key: str, fmt: str) -> str:
    """`min .., max ..` of `key` over the runs."""
    values = [r[key] for r in runs]
    return f"min {min(values):{fmt}}, max {max(values):{fmt}}"


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def measure(args: argparse.Namespace) -> dict[str, list[dict[str, Any]]]:
    """Every run, alternating ours and the reference within each repeat."""
    quick = args.quick
    calls = args.calls or (30_000 if quick else 100_000)
    n_spans = args.spans or (200_000 if quick else 1_000_000)
    n_otel = max(20_000, n_spans // 5)  # the reference is ~10x slower per span
    n_single = 100_000 if quick else 300_000
    n_logs = args.logs or (50_000 if quick else 200_000)
    n_requests = 5_000 if quick else 20_000
    repeats = args.repeats or (5 if quick else 7)
    t_repeats = args.throughput_repeats or (3 if quick else 5)
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in (
        "otel_span", "otel_otlp", "logs_null", "asgi_bare", "asgi_otel",
    )}  # fmt: skip
    for i in range(repeats):
        ours(runs, "lens_fn", "overhead-lens", calls)
        runs["otel_span"].append(spawn("overhead-otel", calls))
        say(f"  lens_fn {i + 1}/{repeats}: {runs['lens_fn'][-1]['us_per_call']:.2f} µs, "
            f"OTel span {runs['otel_span'][-1]['us_per_call']:.2f} µs")  # fmt: skip
    with DiscardReceiver() as port:
        for i in range(t_repeats):
            ours(runs, "traces10", "throughput", n_spans, max_queue=n_spans + 1000)
            runs["otel_otlp"].append(spawn("otel-otlp", n_otel, port=port))
            say(f"  traces of 10 {i + 1}/{t_repeats}: {runs['traces10'][-1]['spans_per_s']:,.0f} spans/s, "
                f"{runs['traces10'][-1]['cpu_us_per_span']:.2f} µs CPU; OTel+OTLP "
                f"{runs['otel_otlp'][-1]['cpu_us_per_span']:.1f} µs CPU")  # fmt: skip
    ours(runs, "default_queue", "throughput", n_spans)
    for i in range(t_repeats):
        ours(runs, "single", "single", n_single)
        ours(runs, "logs", "logs", n_logs, max_queue=n_logs + 1000)
        runs["logs_null"].append(spawn("logs-null", n_logs))
        runs["asgi_bare"].append(spawn("asgi", n_requests, kind="bare"))
        ours(runs, "asgi_lens", "asgi", n_requests, kind="lens")
        runs["asgi_otel"].append(spawn("asgi", n_requests, kind="otel"))
        say(f"  one-span {runs['single'][-1]['spans_per_s']:,.0f}/s; logs {runs['logs'][-1]['logs_per_s']:,.0f}/s; "
            f"middleware {runs['asgi_lens'][-1]['us_per_request'] - runs['asgi_bare'][-1]['us_per_request']:.1f} µs "
            f"({i + 1}/{t_repeats})")  # fmt: skip
    runs["_sizes"] = [{"calls": calls, "spans": n_spans, "otel_spans": n_otel, "single": n_single,
                       "logs": n_logs, "requests": n_requests, "repeats": repeats, "t_repeats": t_repeats}]  # fmt: skip
    return runs


def report(
    runs: dict[str, list[dict[str, Any]]],
) -> tuple[list[tuple[str, str, str]], dict[str, Any]]:
    """The table's rows (measure, value, reference and verdict) and the medians."""
    sz = runs["_sizes"][0]
    t = TARGETS
    lens_us, otel_us = med(runs["lens_fn"], "us_per_call"), med(runs["otel_span"], "us_per_call")
    lens_cpu, otel_cpu = (
        med(runs["traces10"], "cpu_us_per_span"),
        med(runs["otel_otlp"], "cpu_us_per_span"),
    )
    tp = med(runs["traces10"], "spans_per_s")
    single = med(runs["single"], "spans_per_s")
    logs, log_cpu = med(runs["logs"], "logs_per_s"), med(runs["logs"], "cpu_us_per_log")
    null_logs, null_cpu = (
        med(runs["logs_null"], "logs_per_s"),
        med(runs["logs_null"], "cpu_us_per_log"),
    )
    bare = med(runs["asgi_bare"], "us_per_request")
    mw_us = med(runs["asgi_lens"], "us_per_request") - bare
    mw_cpu = med(runs["asgi_lens"], "cpu_us_per_request") - med(
        runs["asgi_bare"], "cpu_us_per_request"
    )
    otel_mw = med(runs["asgi_otel"], "us_per_request") - bare
    tp_ok = all(
        r["rows_written"] == r["spans"] == r["trace_span_count_sum"] and r["dropped"] == 0
        and r["traces_not_ok"] == 0 and r["traces_rows"] * 10 == r["spans"]
        for r in runs["traces10"]
    )  # fmt: skip
    single_ok = all(
        r["rows_written"] == r["traces_rows"] == r["spans"] and r["dropped"] == 0
        for r in runs["single"]
    )
    lens_ok = all(
        r["dropped"] == 0 and r["spans_written"] == r["spans_expected"] for r in runs["lens_fn"]
    )
    logs_ok = all(
        r["rows_written"] == r["rows_with_span"] == r["logs"] and r["dropped"] == 0
        for r in runs["logs"]
    )
    otel_lost = sum(r["spans"] - r["sent"] for r in runs["otel_otlp"])
    dq = runs["default_queue"][0]
    rows = [
        ("lens_fn on the calling thread", f"{lens_us:.2f} µs",
         f"{sz['repeats']} runs x {sz['calls']:,} root spans, {spread(runs['lens_fn'], 'us_per_call', '.2f')}; "
         f"calling-thread CPU {med(runs['lens_fn'], 'app_cpu_us_per_call'):.2f} µs; "
         f"target <= {t['lens_fn_us']} µs: {verdict(lens_us <= t['lens_fn_us'])}"),
        ("  OTel start_as_current_span", f"{otel_us:.2f} µs",
         f"BatchSpanProcessor + counting exporter, {spread(runs['otel_span'], 'us_per_call', '.2f')}; "
         f"ratio {otel_us / lens_us:.1f}x, target >= {t['lens_fn_ratio']:.0f}x: "
         f"{verdict(otel_us / lens_us >= t['lens_fn_ratio'])}"),
        ("process CPU per span, traces of 10", f"{lens_cpu:.2f} µs",
         f"{sz['t_repeats']} runs x {sz['spans']:,} spans, writer included "
         f"(calling thread {med(runs['traces10'], 'app_cpu_us_per_span'):.2f}, the rest "
         f"{med(runs['traces10'], 'other_cpu_us_per_span'):.2f}); target <= {t['cpu_us']} µs: "
         f"{verdict(lens_cpu <= t['cpu_us'])}"),
        ("  OTel SDK + BSP + OTLP/HTTP", f"{otel_cpu:.2f} µs",
         f"{sz['t_repeats']} runs x {sz['otel_spans']:,} spans to a loopback receiver that discards, "
         f"{med(runs['otel_otlp'], 'spans_per_s'):,.0f} spans/s, not sent {otel_lost}; ratio "
         f"{otel_cpu / lens_cpu:.1f}x, target >= {t['cpu_ratio']:.0f}x: {verdict(otel_cpu / lens_cpu >= t['cpu_ratio'])}"),
        ("end to end, traces of 10", f"{tp:,.0f} spans/s",
         f"first call to last commit, {spread(runs['traces10'], 'spans_per_s', ',.0f')}; rows verified "
         f"{'yes' if tp_ok else 'NO'}; calling phase alone {med(runs['traces10'], 'calling_spans_per_s'):,.0f}/s; "
         f"target >= {t['traces10_per_s']:,.0f}: {verdict(tp >= t['traces10_per_s'] and tp_ok)}"),
        ("  with the default max_queue", f"{dq['committed_per_s']:,.0f} rows/s",
         f"max_queue {dq['max_queue']:,}: dropped {dq['dropped']:,} of {dq['spans']:,}; "
         f"peak RSS {dq['peak_rss_mib']:.0f} MiB"),
        ("end to end, one-span traces", f"{single:,.0f} spans/s",
         f"{sz['single']:,} calls, a flush every 10,000, {spread(runs['single'], 'spans_per_s', ',.0f')}; "
         f"CPU {med(runs['single'], 'cpu_us_per_span'):.2f} µs/span; rows verified {'yes' if single_ok else 'NO'}; "
         f"target >= {t['single_per_s']:,.0f}: {verdict(single >= t['single_per_s'] and single_ok)}"),
        ("LogHandler, logs to rows", f"{logs:,.0f} logs/s",
         f"{sz['logs']:,} logs, CPU {log_cpu:.2f} µs/log, rows verified {'yes' if logs_ok else 'NO'}; "
         f"targets >= {t['logs_per_s']:,.0f}/s: {verdict(logs >= t['logs_per_s'] and logs_ok)}, "
         f"<= {t['log_cpu_us']} µs: {verdict(log_cpu <= t['log_cpu_us'])}"),
        ("  stdlib logging, NullHandler", f"{null_logs:,.0f} logs/s",
         f"CPU {null_cpu:.2f} µs/log: LogHandler adds {log_cpu - null_cpu:.2f} µs"),
        ("LensMiddleware per request", f"{mw_us:.2f} µs",
         f"over a bare ASGI app ({bare:.2f} µs), {sz['requests']:,} requests; CPU {mw_cpu:.2f} µs "
         f"with the writer's share; target <= {t['middleware_us']} µs: "
         f"{verdict(mw_us <= t['middleware_us'] and mw_cpu <= t['middleware_us'])}"),
        ("  OTel ASGI middleware", f"{otel_mw:.2f} µs", "opentelemetry-instrumentation-asgi, no-op exporter"),
    ]  # fmt: skip
    medians = {
        "lens_fn_us": lens_us, "otel_span_us": otel_us, "cpu_us_per_span": lens_cpu,
        "otel_otlp_cpu_us_per_span": otel_cpu, "traces10_spans_per_s": tp, "single_spans_per_s": single,
        "logs_per_s": logs, "log_cpu_us": log_cpu, "null_logs_per_s": null_logs, "null_log_cpu_us": null_cpu,
        "middleware_us": mw_us, "middleware_cpu_us": mw_cpu, "otel_middleware_us": otel_mw,
        "verified": tp_ok and single_ok and lens_ok and logs_ok,
    }  # fmt: skip
    return rows, medians


def compare(runs: dict[str, list[dict[str, Any]]]) -> list[tuple[str, str, str, str]]:
    """Ours against the base checkout, measured in the same run: (measure, base, ours, change)."""
    bare = med(runs["asgi_bare"], "us_per_request")
    bare_cpu = med(runs["asgi_bare"], "cpu_us_per_request")
    lines = [
        ("lens_fn, µs on the calling thread", "lens_fn", "us_per_call", 0.0, ".2f"),
        ("CPU µs per span, traces of 10", "traces10", "cpu_us_per_span", 0.0, ".2f"),
        ("spans/s, traces of 10", "traces10", "spans_per_s", 0.0, ",.0f"),
        ("spans/s, one-span traces", "single", "spans_per_s", 0.0, ",.0f"),
        ("CPU µs per span, one-span traces", "single", "cpu_us_per_span", 0.0, ".2f"),
        ("logs/s, LogHandler", "logs", "logs_per_s", 0.0, ",.0f"),
        ("CPU µs per log, LogHandler", "logs", "cpu_us_per_log", 0.0, ".2f"),
        ("LensMiddleware µs per request", "asgi_lens", "us_per_request", bare, ".2f"),
        ("LensMiddleware CPU µs per request", "asgi_lens", "cpu_us_per_request", bare_cpu, ".2f"),
    ]
    out = []
    for label, key, field, minus, fmt in lines:
        before, after = med(runs[f"base {key}"], field) - minus, med(runs[key], field) - minus
        out.append(
            (label, f"{before:{fmt}}", f"{after:{fmt}}", f"{(after / before - 1) * 100:+.0f}%")
        )
    return out


def main() -> int:
    """Run the whole benchmark and print its table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer calls and repeats (about 4x faster)"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="lens_fn repeats (default 7, --quick 5)"
    )
    parser.add_argument("--throughput-repeats", type=int, default=None, help="default 5, --quick 3")
    parser.add_argument("--calls", type=int, default=None, help="calls per lens_fn repeat")
    parser.add_argument("--spans", type=int, default=None, help="spans per traces-of-10 run")
    parser.add_argument("--logs", type=int, default=None, help="logs per log run")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    parser.add_argument(
        "--base", help="another checkout: each of our measurements also runs on its library"
    )
    args = parser.parse_args()
    global BASE
    BASE = str(Path(args.base).resolve()) if args.base else None
    info = machine()
    say(f"lens_tui tracing bench: {info['cpu_count']} cpu, Python {info['python']}, "
        f"SQLite {info['sqlite']}, load {info['loadavg_at_start']}")  # fmt: skip
    started = time.time()
    runs = measure(args)
    load_end = loadavg()
    rows, medians = report(runs)
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print()
    print(
        f"lens_tui.tracing benchmark ({'quick' if args.quick else 'full'}, {time.time() - started:.0f} s)"
    )
    print(f"machine: {info['cpu_count']} cpu ({info['cpu']}), {info['implementation']} {info['python']}, "
          f"SQLite {info['sqlite']} (apsw {info['apsw']}); load average {info['loadavg_at_start']} "
          f"at start, {load_end} at end")  # fmt: skip
    print("medians; each figure from fresh subprocesses, ours and the reference alternating")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>{vwidth}}  {note}")
    busy = max((info["loadavg_at_start"] or [0])[0], (load_end or [0])[0])
    if busy > 0.5 * (info["cpu_count"] or 1):
        print(f"  NOTE: the machine was busy (load {busy:.1f} on {info['cpu_count']} cpus): wall-clock "
              "figures are pessimistic; the CPU figures hold better")  # fmt: skip
    if not medians["verified"]:
        print("  WARNING: a run dropped or lost records")
    if BASE is not None:
        print(f"against {BASE}, measured alternately in this run (medians):")
        table = compare(runs)
        lw = max(len(r[0]) for r in table)
        for label, before, after, change in table:
            print(f"  {label:<{lw}}  {before:>10} -> {after:>10}  {change}")
    if not args.no_json:
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        path = (
            out / f"tracing-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if args.quick else ''}.json"
        )
        path.write_text(json.dumps(
            {"machine": {**info, "loadavg_at_end": load_end}, "quick": args.quick, "medians": medians, "runs": runs},
            indent=2,
        ))  # fmt: skip
        print(f"results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
