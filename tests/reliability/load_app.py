"""A traced application under load, run as a child process by test_12_load.py.

Usage: python load_app.py DB SECONDS SPANS_PER_S LOGS_PER_S MAX_QUEUE BUSY_TIMEOUT_MS

The main thread is the application: it calls a `@lens_fn` function and logs through the
`logging` integration at a steady rate, timing every call. A sampler thread records RSS and
the writer's backlog. At the end it flushes and prints one JSON line of figures.
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import sys
import threading
import time
from typing import Any

from lens_tui import tracing
from lens_tui.tracing import lens_fn


def rss() -> int:
    """Resident set size in bytes."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    """Run the load and print the figures."""
    db, seconds, span_rate, log_rate, max_queue, busy_ms = sys.argv[1:7]
    seconds_f, span_rate_f, log_rate_f = float(seconds), float(span_rate), float(log_rate)
    errors = io.StringIO()
    store = tracing.configure(
        db,
        service="load",
        flush_interval=0.05,
        max_queue=int(max_queue),
        busy_timeout_ms=int(busy_ms),
        retention_days=None,
        stderr=errors,
    )
    logger = logging.getLogger("load")
    logger.propagate = False
    logger.addHandler(tracing.LogHandler())
    logger.setLevel(logging.INFO)

    @lens_fn("handle")
    def handle(i: int) -> int:
        return i * 2

    # Garbage-collector pauses: a full collection walks every queued record, so a big backlog
    # costs the application thread that happens to trigger it (reported, to explain latency).
    gc_pause = {"max_ms": 0.0, "t0": 0.0}

    def on_gc(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            gc_pause["t0"] = time.perf_counter()
        else:
            gc_pause["max_ms"] = max(
                gc_pause["max_ms"], (time.perf_counter() - gc_pause["t0"]) * 1000
            )

    gc.callbacks.append(on_gc)
    samples: list[tuple[float, int, int, int, int]] = []  # (t, rss, queued, kept, dropped)
    stop = threading.Event()
    start = time.perf_counter()

    def sample() -> None:
        while not stop.wait(0.05):
            # White-box: the in-memory backlog is the queue plus a batch kept for a retry.
            queued, kept = len(store._queue), len(store._retry_batch)
            samples.append((time.perf_counter() - start, rss(), queued, kept, store.dropped))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    print(json.dumps({"started": time.time() - (time.perf_counter() - start)}), flush=True)
    spans = logs = 0
    slow_calls = 0
    max_call = 0.0
    worst_at = 0.0
    per_second: dict[int, float] = {}
    slowest: list[tuple[float, float, float]] = []  # (t, wall ms, process CPU ms) over 5 ms
    clock = time.perf_counter
    cpu = time.process_time
    while True:
        now = clock() - start
        if now >= seconds_f:
            break
        span_target = int(now * span_rate_f)
        log_target = int(now * log_rate_f)
        while spans < span_target or logs < log_target:
            c0 = cpu()
            t0 = clock()
            if spans < span_target:
                handle(spans)
                spans += 1
            if logs < log_target:
                logger.info("request %d done", logs)
                logs += 1
            took = clock() - t0
            if took > max_call:
                max_call, worst_at = took, t0 - start
            if took > 0.005:
                slow_calls += 1
                # Process CPU during the call: near the wall time, this process was busy (GIL
                # held by the writer, a GC pass); near zero, the OS did not run it at all.
                slowest.append((t0 - start, took * 1000, (cpu() - c0) * 1000))
            second = int(t0 - start)
            if took > per_second.get(second, 0.0):
                per_second[second] = took
        time.sleep(0.002)
    generated_at = time.time()
    flushed = tracing.flush(120)
    stop.set()
    sampler.join()
    result: dict[str, Any] = {
        "spans": spans,
        "logs": logs,
        "dropped": store.dropped,
        "errors": store.errors,
        "flushed": flushed,
        "flush_s": time.time() - generated_at,
        "max_call_ms": max_call * 1000,
        "worst_at_s": worst_at,
        "slow_calls_over_5ms": slow_calls,
        "max_gc_pause_ms": gc_pause["max_ms"],
        "slowest_calls": sorted(slowest, key=lambda c: -c[1])[:5],
        "max_call_ms_per_second": {k: v * 1000 for k, v in sorted(per_second.items())},
        "samples": samples,
        "stderr": errors.getvalue(),
    }
    tracing.shutdown()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
