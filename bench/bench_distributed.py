"""Benchmark traces across services: the cost of an instrumented httpx call, and OTLP out.

Usage: `python bench/bench_distributed.py [--quick] [--repeats N]`

Every measurement runs in a fresh subprocess (this script re-invoked with `--worker`); repeats
alternate the two sides of each comparison so machine load hits both alike. Medians, in one run:

1. An httpx call to a loopback HTTP server (a stdlib server in its own process, keep-alive),
   `httpx.Client.get` N times: plain, and with `tracing.instrument_httpx()` and a configured
   writer (a temporary file) inside an enclosing span, so each call makes a client span and
   carries `traceparent`. µs per call of wall time and of this process's CPU; the overhead is
   the difference, and the ratio instrumented / plain.
2. The OTLP sender: M spans (traces of a root and 4 children) made as fast as possible by a
   process whose writer only sends OTLP (`configure(otlp_endpoint=...)`) to a `lens-tui otlp`
   receiver in its own process, until the sender reports all M sent: spans/s, and the sending
   process's CPU per span (span creation included). The same with the writer writing a local
   file instead, as the reference. The receiver's file is checked for all M spans.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- workers -----------------------------------------------------------------------------------


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        # One write: headers and body in separate segments meet Nagle's algorithm and the
        # client's delayed ACK, 40 ms per call on loopback.
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def worker_server() -> None:
    """A loopback HTTP server; prints its port, serves until killed."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


def worker_httpx(n: int, port: int, instrumented: bool, tmp: Path) -> dict[str, Any]:
    import httpx

    from lens_tui import tracing

    url = f"http://127.0.0.1:{port}/items/1"
    context: Any = None
    if instrumented:
        tracing.configure(tmp / "client.db", service="bench")
        tracing.instrument_httpx()
    with httpx.Client() as client:
        for _ in range(200):  # warm the connection and the code paths
            client.get(url)
        if instrumented:
            context = tracing.span("caller")
            context.__enter__()
        t0, c0 = time.perf_counter(), cpu_s()
        for _ in range(n):
            client.get(url)
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
        if context is not None:
            context.__exit__(None, None, None)
    if instrumented:
        assert tracing.flush(30)
        tracing.shutdown()
        import apsw

        conn = apsw.Connection(str(tmp / "client.db"))
        spans = conn.execute("SELECT count(*) FROM spans WHERE kind = 'client'").fetchall()[0][0]
        conn.close()
        assert spans == n + 200, f"{spans} client spans for {n + 200} calls"
    return {"us_per_call": wall / n * 1e6, "cpu_us_per_call": cpu / n * 1e6}


def worker_send(n: int, otlp: str | None, tmp: Path) -> dict[str, Any]:
    from lens_tui import tracing
    from lens_tui.tracing import lens_fn

    writer = tracing.configure(
        None if otlp else tmp / "local.db",
        service="bench",
        otlp_endpoint=otlp,
        max_queue=n + 10,
        otlp_max_queue=n + 10,
    )

    @lens_fn("child")
    def child() -> None:
        pass

    @lens_fn("root")
    def root() -> None:
        for _ in range(4):
            child()

    t0, c0 = time.perf_counter(), cpu_s()
    for _ in range(n // 5):
        root()
    assert tracing.flush(120)
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    result: dict[str, Any] = {"spans_per_s": n / wall, "cpu_us_per_span": cpu / n * 1e6}
    if writer.otlp is not None:
        stats = writer.otlp.stats()
        assert stats.sent_spans == n and stats.dropped_spans == 0, stats
        result["requests"] = stats.requests
    tracing.shutdown()
    return result


# -- orchestration -----------------------------------------------------------------------------


def spawn(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        raise SystemExit(f"worker {args} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def start(argv: list[str], pattern: str, stream: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    pipe = proc.stdout if stream == "stdout" else proc.stderr
    assert pipe is not None
    line = pipe.readline()
    match = re.search(pattern, line)
    if match is None:
        proc.kill()
        raise SystemExit(f"{argv} did not start: {line!r}")
    return proc, match.group(1)


def median(results: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, spans and repeats")
    parser.add_argument(
        "--repeats", type=int, default=None, help="repeats per side (default 5, --quick 3)"
    )
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker is not None:
        kind, *rest = args.worker
        if kind == "server":
            worker_server()
            return 0
        with tempfile.TemporaryDirectory(prefix="lens-bench-") as tmp:
            if kind == "httpx":
                result = worker_httpx(int(rest[0]), int(rest[1]), rest[2] == "1", Path(tmp))
            else:
                result = worker_send(int(rest[0]), rest[1] if rest[1] != "-" else None, Path(tmp))
        print(json.dumps(result))
        return 0

    repeats = args.repeats or (3 if args.quick else 5)
    calls = 1000 if args.quick else 3000
    spans = 50_000 if args.quick else 200_000
    report: dict[str, Any] = {"loadavg_at_start": list(os.getloadavg()), "cpus": os.cpu_count()}

    server, port = start(
        [sys.executable, str(Path(__file__).resolve()), "--worker", "server"], r"(\d+)", "stdout"
    )
    try:
        plain: list[dict[str, Any]] = []
        traced: list[dict[str, Any]] = []
        for i in range(repeats):
            say(f"httpx calls, repeat {i + 1}/{repeats}")
            plain.append(spawn("httpx", str(calls), port, "0"))
            traced.append(spawn("httpx", str(calls), port, "1"))
    finally:
        server.kill()
        server.wait()
    p, t = median(plain, "us_per_call"), median(traced, "us_per_call")
    pc, tc = median(plain, "cpu_us_per_call"), median(traced, "cpu_us_per_call")
    report["httpx"] = {
        "calls": calls,
        "plain_us": p,
        "instrumented_us": t,
        "overhead_us": t - p,
        "ratio": t / p,
        "plain_cpu_us": pc,
        "instrumented_cpu_us": tc,
    }

    with tempfile.TemporaryDirectory(prefix="lens-bench-otlp-") as tmp:
        db = Path(tmp) / "received.db"
        receiver, url = start(
            [sys.executable, "-m", "lens_tui.cli", "otlp", "--db", str(db), "--port", "0"],
            r"(http://127\.0\.0\.1:\d+)/v1/traces",
            "stderr",
        )
        try:
            sent: list[dict[str, Any]] = []
            local: list[dict[str, Any]] = []
            for i in range(repeats):
                say(f"OTLP sender, repeat {i + 1}/{repeats}")
                sent.append(spawn("send", str(spans), url))
                local.append(spawn("send", str(spans), "-"))
        finally:
            receiver.send_signal(2)
            receiver.communicate(timeout=60)
        import apsw

        conn = apsw.Connection(str(db))
        received = conn.execute("SELECT count(*) FROM spans").fetchall()[0][0]
        conn.close()
    assert received == spans * repeats, f"the receiver stored {received} of {spans * repeats} spans"
    report["otlp"] = {
        "spans": spans,
        "spans_per_s": median(sent, "spans_per_s"),
        "cpu_us_per_span": median(sent, "cpu_us_per_span"),
        "requests": median(sent, "requests"),
        "file_spans_per_s": median(local, "spans_per_s"),
        "file_cpu_us_per_span": median(local, "cpu_us_per_span"),
        "received": received,
    }

    h, o = report["httpx"], report["otlp"]
    print(f"machine: {report['cpus']} cpus, load average at start {report['loadavg_at_start']}")
    print(f"httpx call, loopback, {calls} calls x {repeats} (medians):")
    print(f"  plain         {h['plain_us']:8.1f} µs/call   cpu {h['plain_cpu_us']:8.1f} µs")
    print(
        f"  instrumented  {h['instrumented_us']:8.1f} µs/call   cpu {h['instrumented_cpu_us']:8.1f} µs"
    )
    print(f"  overhead      {h['overhead_us']:8.1f} µs/call   ratio {h['ratio']:.3f}")
    print(f"OTLP sender, {spans:,} spans x {repeats} to lens-tui otlp (medians):")
    print(
        f"  OTLP out      {o['spans_per_s']:10,.0f} spans/s   cpu {o['cpu_us_per_span']:6.2f} µs/span"
        f"   ({o['requests']:.0f} requests)"
    )
    print(
        f"  local file    {o['file_spans_per_s']:10,.0f} spans/s   cpu {o['file_cpu_us_per_span']:6.2f} µs/span"
    )
    print(f"  received and stored: {o['received']:,} spans")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
