"""Benchmark the OTLP/HTTP receiver: spans/s from the real OpenTelemetry OTLP exporter to committed rows.

Usage: `python bench/bench_otlp.py [--quick] [--runs N] [--spans N] [--senders N] [--gzip] [--no-json]`

Each run starts a fresh receiver exactly as a user does (`python -m lens_tui.cli otlp --db <tmp>
--port 0`, its own process) and sender subprocesses (this script re-invoked with `--worker`).
A sender builds its spans with the real SDK (traces of 10 spans: an HTTP-server root with 4
attributes and 9 database children with 3, random OTel ids), then sends them in batches of 512
(the BatchSpanProcessor's default) with the real `OTLPSpanExporter.export()`: its HTTP client,
headers, compression, retries and the receiver's replies. One sender by default (one
application's BatchSpanProcessor exports one batch at a time); `--senders N` for a fan-in.

Two figures per run:

1. **receiver** (the target: >= 50,000 spans/s): the exporter's protobuf encoding is done
   before the clock starts (the exporter's own `encode_spans`, swapped in through the module
   attribute the exporter calls), because the Python exporter spends ~35 µs per span encoding,
   which on a 2-core machine would take the second core away from the receiver and measure the
   sender instead. Clock: from "go" to the moment a second, read-only connection sees every
   span committed.
2. **end to end**: the same spans exported with encoding inside the clock (`export()` as a
   BatchSpanProcessor calls it), i.e. bounded by the Python sender's CPU.

Also shown per run: CPU µs per span of the receiver process and of the senders (from /proc and
process_time: they vary less with machine load than spans/s), and the 1-minute load average
(this machine is shared; a busy neighbour halves the figures). Medians over `--runs`; JSON in
bench/results/ (gitignored) unless `--no-json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable from a fresh clone without installing the package
    sys.path.insert(0, str(ROOT))

TARGET = 50_000.0
BATCH = 512


# -- sender worker (a subprocess) ----------------------------------------------------------------


def _make_spans(n: int) -> list[Any]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": f"bench-{os.getpid()}"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    for i in range(n // 10):
        attrs = {
            "http.request.method": "GET",
            "http.route": "/users/{id}",
            "http.response.status_code": 200,
            "user.id": i,
        }
        with tracer.start_as_current_span("GET /users/{id}", attributes=attrs):
            for j in range(9):
                with tracer.start_as_current_span(
                    "SELECT users",
                    attributes={
                        "db.system": "sqlite",
                        "db.query.text": "SELECT * FROM users WHERE id = ?",
                        "rows": j,
                    },
                ):
                    pass
    return list(memory.get_finished_spans())


class _Encoded:
    """A pre-encoded batch that `export()` takes in place of a span list (it only asks len())."""

    def __init__(self, message: Any, count: int) -> None:
        self.message = message
        self.count = count

    def __len__(self) -> int:
        return self.count


def worker_sender(endpoint: str, spans: int, mode: str, gzip: bool) -> None:
    """Build spans, say `ready`, wait for `go` on stdin, export them all, say `done`."""
    import logging

    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.exporter.otlp.proto.http import Compression, trace_exporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    logging.basicConfig(level=logging.ERROR)
    readable = _make_spans(spans)
    batches: list[Any] = [readable[i : i + BATCH] for i in range(0, len(readable), BATCH)]
    if mode == "receiver":
        batches = [_Encoded(encode_spans(b), len(b)) for b in batches]
        trace_exporter.encode_spans = lambda batch: batch.message  # type: ignore[assignment]
    exporter = trace_exporter.OTLPSpanExporter(
        endpoint=endpoint,
        timeout=60,
        compression=Compression.Gzip if gzip else Compression.NoCompression,
    )
    print("ready", flush=True)
    sys.stdin.readline()
    failures = 0
    cpu0 = time.process_time()
    for batch in batches:
        if exporter.export(batch) is not SpanExportResult.SUCCESS:
            failures += 1
    cpu = time.process_time() - cpu0
    exporter.shutdown()
    print(json.dumps({"sent": len(readable), "failures": failures, "cpu_s": cpu}), flush=True)


# -- one run -------------------------------------------------------------------------------------


def _count(db: Path) -> int:
    import apsw

    conn = apsw.Connection(
        f"file:{db}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    )
    try:
        return int(conn.execute("SELECT count(*) FROM spans").fetchall()[0][0])
    finally:
        conn.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc), to show cost apart from load."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _start_receiver(db: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lens_tui.cli", "otlp", "--db", str(db), "--port", "0"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"(http://\S+)/v1/traces", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"receiver did not start: {line!r}")
    return proc, match.group(1)


def run_once(spans_per_sender: int, senders: int, mode: str, gzip: bool) -> dict[str, Any]:
    """One measurement: fresh database, fresh receiver, `senders` exporters flat out."""
    with tempfile.TemporaryDirectory(prefix="lens-bench-otlp-") as tmp:
        db = Path(tmp) / "otlp.db"
        receiver, url = _start_receiver(db)
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    url + "/v1/traces",
                    str(spans_per_sender),
                    mode,
                    "gzip" if gzip else "none",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(senders)
        ]
        try:
            for w in workers:
                assert w.stdout is not None
                if w.stdout.readline().strip() != "ready":
                    raise RuntimeError("sender failed to start")
            expected = spans_per_sender // 10 * 10 * senders
            cpu0 = _cpu_seconds(receiver.pid)
            t0 = time.perf_counter()
            for w in workers:
                assert w.stdin is not None
                w.stdin.write("go\n")
                w.stdin.flush()
            seen = 0
            deadline = t0 + 300
            while time.perf_counter() < deadline:
                seen = _count(db)
                if seen >= expected:
                    break
                time.sleep(0.01)
            elapsed = time.perf_counter() - t0
            cpu = _cpu_seconds(receiver.pid) - cpu0
            reports = [
                json.loads(w.communicate(timeout=120)[0].strip().splitlines()[-1]) for w in workers
            ]
        finally:
            for w in workers:
                if w.poll() is None:
                    w.kill()
            receiver.send_signal(2)  # Ctrl+C: the receiver flushes and prints its totals
            summary = receiver.communicate(timeout=60)[1].strip()
        return {
            "spans": expected,
            "committed": seen,
            "seconds": elapsed,
            "spans_per_s": seen / elapsed,
            "receiver_cpu_us_per_span": cpu / max(seen, 1) * 1e6,
            "sender_cpu_us_per_span": sum(r["cpu_s"] for r in reports) / max(expected, 1) * 1e6,
            "load_average": os.getloadavg()[0],
            "failures": sum(r["failures"] for r in reports),
            "receiver_summary": summary.splitlines()[-1] if summary else "",
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer spans and runs")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument(
        "--spans",
        type=int,
        default=None,
        help="spans per run (default 120,000), split among senders",
    )
    parser.add_argument(
        "--senders",
        type=int,
        default=1,
        help="exporters sending at once (default 1: one application's BatchSpanProcessor)",
    )
    parser.add_argument("--gzip", action="store_true", help="exporters compress with gzip")
    parser.add_argument("--no-e2e", action="store_true", help="skip the end-to-end figure")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()
    if args.worker:
        endpoint, spans, mode, gzip = args.worker
        worker_sender(endpoint, int(spans), mode, gzip == "gzip")
        return 0
    runs = args.runs or (3 if args.quick else 5)
    spans = (args.spans or (40_000 if args.quick else 120_000)) // max(args.senders, 1)
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "spans_per_sender": spans,
        "senders": args.senders,
        "gzip": args.gzip,
        "batch": BATCH,
    }
    modes = ["receiver"] + ([] if args.no_e2e else ["end_to_end"])
    for mode in modes:
        figures = []
        for i in range(runs):
            r = run_once(spans, args.senders, mode, args.gzip)
            figures.append(r)
            print(
                f"{mode:>10} run {i + 1}/{runs}: {r['spans_per_s']:>9,.0f} spans/s "
                f"({r['committed']:,}/{r['spans']:,} committed in {r['seconds']:.2f}s, "
                f"{r['failures']} failed exports; CPU µs/span: receiver {r['receiver_cpu_us_per_span']:.1f}, "
                f"senders {r['sender_cpu_us_per_span']:.1f}; "
                f"load {r['load_average']:.1f})",
                flush=True,
            )
        median = statistics.median(r["spans_per_s"] for r in figures)
        results[mode] = {"runs": figures, "median_spans_per_s": median}
    print()
    print(
        f"receiver throughput (median of {runs}): {results['receiver']['median_spans_per_s']:,.0f} spans/s "
        f"(target {TARGET:,.0f}: {'met' if results['receiver']['median_spans_per_s'] >= TARGET else 'NOT met'})"
    )
    if "end_to_end" in results:
        print(
            f"end to end incl. Python exporter encoding (median): "
            f"{results['end_to_end']['median_spans_per_s']:,.0f} spans/s"
        )
    if not args.no_json:
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        path = out / f"otlp-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(results, indent=2))
        print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
