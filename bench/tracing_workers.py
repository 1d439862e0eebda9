"""The measurements of bench/bench_tracing.py, each run in a fresh subprocess of its own.

`python bench/tracing_workers.py WORKER N [--max-queue Q] [--port P] [--kind K]` prints one
JSON line; `serve-discard` instead prints a port and serves OTLP/HTTP requests (answering 200,
keeping nothing) until killed. bench_tracing.py runs these, alternates the sides of each
comparison and takes the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = os.environ.get("LENS_BENCH_LIBRARY") or str(ROOT)
"""The checkout whose lens_tui is measured: this one, or another (bench_tracing.py --base)."""
if LIBRARY not in sys.path:  # runnable from a fresh clone without installing the package
    sys.path.insert(0, LIBRARY)

FLUSH_EVERY = 10_000
"""One-span traces: a flush after this many, as a job runner or CLI that flushes per job would."""


def _cpu() -> float:
    """This process's CPU seconds, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _loop(fn: Callable[[], Any], n: int) -> tuple[float, float, float]:
    """(wall, process CPU, calling-thread CPU) seconds to call `fn` n times."""
    c0, a0, t0 = time.process_time(), time.thread_time(), time.perf_counter()
    for _ in itertools.repeat(None, n):
        fn()
    return time.perf_counter() - t0, time.process_time() - c0, time.thread_time() - a0


def _plain() -> None:
    return None


def _count(db: Path, sql: str) -> Any:
    """One row read through a second, read-only connection (what a reader would see)."""
    import apsw

    conn = apsw.Connection(
        f"file:{db}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    )
    try:
        return conn.execute(sql).fetchall()[0]
    finally:
        conn.close()


def _warmup(calls: int) -> int:
    return max(1000, calls // 20)


def _timed_overhead(
    traced: Callable[[], Any], calls: int, settle: Callable[[], Any]
) -> dict[str, float]:
    """Wall and CPU µs per call of `traced` beyond the bare call (process CPU counted until
    `settle` returns: the background work the calls caused is part of their cost)."""
    warm = _warmup(calls)
    _loop(_plain, warm)
    _loop(traced, warm)
    settle()
    base1 = _loop(_plain, calls)
    c0 = time.process_time()
    spent, _, app = _loop(traced, calls)
    settle()
    cpu = time.process_time() - c0
    base2 = _loop(_plain, calls)
    return {
        "us_per_call": (spent - (base1[0] + base2[0]) / 2) / calls * 1e6,
        "cpu_us_per_call": (cpu - (base1[1] + base2[1]) / 2) / calls * 1e6,
        "app_cpu_us_per_call": (app - (base1[2] + base2[2]) / 2) / calls * 1e6,
    }


def overhead_lens(calls: int, tmp: Path) -> dict[str, Any]:
    """Per-call overhead of @lens_fn (each call a root span) while its writer writes."""
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


def overhead_otel(calls: int) -> dict[str, Any]:
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


def trace_of_ten() -> Callable[[], None]:
    """A traced root calling 9 traced children: one call, one trace of 10 spans."""
    from lens_tui.tracing import lens_fn

    @lens_fn
    def child() -> None:
        return None

    @lens_fn
    def root() -> None:
        for _ in range(9):
            child()

    return root


def throughput(spans: int, tmp: Path, max_queue: int | None) -> dict[str, Any]:
    """Traces of 10 spans called flat out, then flush: spans/s from first call to last commit."""
    from lens_tui.tracing import configure, flush, shutdown

    db = tmp / "throughput.db"
    options = {} if max_queue is None else {"max_queue": max_queue}
    store = configure(db, service="bench", **options)
    root = trace_of_ten()
    root()
    flush()
    before = _count(db, "SELECT count(*) FROM spans")[0]
    traces = spans // 10
    cpu0, app0 = _cpu(), time.thread_time()
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, traces):
        root()
    t_calls = time.perf_counter()
    app_cpu = time.thread_time() - app0
    flushed = flush(600)
    t1 = time.perf_counter()
    cpu = _cpu() - cpu0
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
        "cpu_us_per_span": cpu / n * 1e6,
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


def single(spans: int, tmp: Path) -> dict[str, Any]:
    """One-span traces (every call its own trace) with a flush every FLUSH_EVERY calls."""
    from lens_tui.tracing import configure, flush, lens_fn, shutdown

    db = tmp / "single.db"
    store = configure(db, service="bench")

    @lens_fn
    def job() -> None:
        return None

    job()
    flush()
    cpu0 = _cpu()
    t0 = time.perf_counter()
    flushed = True
    for i in range(spans):
        job()
        if i % FLUSH_EVERY == FLUSH_EVERY - 1:
            flushed = flush(600) and flushed
    flushed = flush(600) and flushed
    seconds = time.perf_counter() - t0
    cpu = _cpu() - cpu0
    written, n_traces = _count(
        db, "SELECT (SELECT count(*) FROM spans), (SELECT count(*) FROM traces)"
    )
    dropped = store.dropped
    shutdown()
    return {
        "spans": spans,
        "spans_per_s": spans / seconds,
        "cpu_us_per_span": cpu / spans * 1e6,
        "rows_written": written - 1,
        "traces_rows": n_traces - 1,
        "dropped": dropped,
        "flushed": flushed,
    }


class _Discard(BaseHTTPRequestHandler):
    """Answers every OTLP/HTTP POST with an empty 200, keeping nothing; counts nothing."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            length -= len(self.rfile.read(min(length, 1 << 20)))
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
        )

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_discard() -> None:
    """A loopback OTLP/HTTP receiver that accepts and discards; prints its port, serves until killed."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Discard)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


def otel_otlp(spans: int, port: int) -> dict[str, Any]:
    """Traces of 10 through OpenTelemetry's SDK, BatchSpanProcessor and the OTLP/HTTP exporter.

    The exporter sends protobuf to a loopback receiver in another process that discards it (its
    CPU is not this process's). The queue holds the whole run, as lens's does, so no span is
    dropped; CPU and time run from the first span until force_flush returns.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

    class Counting(OTLPSpanExporter):
        """The real exporter, counting the spans it sent successfully."""

        sent = 0

        def export(self, batch: Any) -> SpanExportResult:
            result = super().export(batch)
            if result is SpanExportResult.SUCCESS:
                Counting.sent += len(batch)
            return result

    exporter = Counting(endpoint=f"http://127.0.0.1:{port}/v1/traces")
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=spans + 1000))
    tracer = provider.get_tracer("bench")

    def root() -> None:
        with tracer.start_as_current_span("root"):
            for _ in range(9):
                with tracer.start_as_current_span("child"):
                    pass

    for _ in range(100):
        root()
    provider.force_flush()
    sent0 = Counting.sent
    traces = spans // 10
    cpu0 = _cpu()
    t0 = time.perf_counter()
    for _ in itertools.repeat(None, traces):
        root()
    provider.force_flush(600_000)
    seconds = time.perf_counter() - t0
    cpu = _cpu() - cpu0
    sent = Counting.sent - sent0
    provider.shutdown()
    n = traces * 10
    return {"spans": n, "spans_per_s": n / seconds, "cpu_us_per_span": cpu / n * 1e6, "sent": sent}


def _log_setup(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger("bench.logs")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers = [handler]
    return logger


def logs(n: int, tmp: Path, max_queue: int | None) -> dict[str, Any]:
    """logging.info through LogHandler inside one span, then flush: logs/s to the last commit."""
    from lens_tui.tracing import LogHandler, configure, flush, shutdown, span

    db = tmp / "logs.db"
    options = {} if max_queue is None else {"max_queue": max_queue}
    store = configure(db, service="bench", **options)
    logger = _log_setup(LogHandler())
    logger.info("warm-up")
    flush()
    info = logger.info
    cpu0 = _cpu()
    t0 = time.perf_counter()
    with span("log-burst"):
        for i in range(n):
            info("request %d handled", i)
    t_calls = time.perf_counter()
    flushed = flush(600)
    t1 = time.perf_counter()
    cpu = _cpu() - cpu0
    written, with_span = _count(
        db, "SELECT count(*), count(span_id) FROM logs WHERE message != 'warm-up'"
    )
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


def logs_null(n: int) -> dict[str, Any]:
    """The reference: the same logging.info calls, stdlib logging with a NullHandler."""
    logger = _log_setup(logging.NullHandler())
    info = logger.info
    info("warm-up")
    cpu0 = _cpu()
    t0 = time.perf_counter()
    for i in range(n):
        info("request %d handled", i)
    seconds = time.perf_counter() - t0
    return {"logs": n, "logs_per_s": n / seconds, "cpu_us_per_log": (_cpu() - cpu0) / n * 1e6}


async def _bare_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


_HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", b"bench/1.0"),
    (b"accept", b"*/*"),
    (b"accept-encoding", b"gzip, deflate"),
]


def asgi(n: int, tmp: Path, kind: str) -> dict[str, Any]:
    """µs per request of an ASGI app called directly (no server, no sockets): `bare`, wrapped
    in LensMiddleware (a writer writing meanwhile), or in OpenTelemetry's ASGI middleware."""
    app: Any = _bare_app
    settle: Callable[[], Any] = lambda: None  # noqa: E731
    store = None
    if kind == "lens":
        from lens_tui.tracing import LensMiddleware, configure, flush

        store = configure(tmp / "asgi.db", service="bench")
        app = LensMiddleware(_bare_app)
        settle = lambda: flush(600)  # noqa: E731
    elif kind == "otel":
        from opentelemetry import trace
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        class Noop(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Noop()))
        trace.set_tracer_provider(provider)
        app = OpenTelemetryMiddleware(_bare_app, tracer_provider=provider)
        settle = provider.force_flush

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    async def run(count: int) -> None:
        for i in range(count):
            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                "scheme": "http", "path": f"/items/{i % 100}", "raw_path": b"/items/1",
                "query_string": b"", "root_path": "", "headers": list(_HEADERS),
                "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
            }  # fmt: skip
            await app(scope, receive, send)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(run(max(1000, n // 10)))
    settle()
    cpu0 = _cpu()
    t0 = time.perf_counter()
    loop.run_until_complete(run(n))
    wall = time.perf_counter() - t0
    settle()
    cpu = _cpu() - cpu0
    loop.close()
    result: dict[str, Any] = {
        "requests": n,
        "us_per_request": wall / n * 1e6,
        "cpu_us_per_request": cpu / n * 1e6,
    }
    if store is not None:
        from lens_tui.tracing import shutdown

        result["dropped"] = store.dropped
        shutdown()
        result["spans_written"] = _count(
            tmp / "asgi.db", "SELECT count(*) FROM spans WHERE kind = 'server'"
        )[0]
    return result


def main() -> int:
    """Run one worker and print its result as one JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("worker")
    parser.add_argument("n", type=int, nargs="?", default=0)
    parser.add_argument("--max-queue", type=int, default=None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--kind", default="bare")
    args = parser.parse_args()
    if args.worker == "serve-discard":
        serve_discard()
        return 0
    with tempfile.TemporaryDirectory(prefix="lens-bench-") as tmp_name:
        tmp = Path(tmp_name)
        workers: dict[str, Callable[[], dict[str, Any]]] = {
            "overhead-lens": lambda: overhead_lens(args.n, tmp),
            "overhead-otel": lambda: overhead_otel(args.n),
            "throughput": lambda: throughput(args.n, tmp, args.max_queue),
            "single": lambda: single(args.n, tmp),
            "otel-otlp": lambda: otel_otlp(args.n, args.port),
            "logs": lambda: logs(args.n, tmp, args.max_queue),
            "logs-null": lambda: logs_null(args.n),
            "asgi": lambda: asgi(args.n, tmp, args.kind),
        }
        if args.worker not in workers:
            raise SystemExit(f"unknown worker {args.worker!r}")
        result = workers[args.worker]()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
