"""Where the tracing library's time goes: CPU per span by phase, calling thread and writer thread.

Usage: `python bench/profile_tracing.py [--spans N] [--repeats R] [--workload W]`, W one of
traces10 (the default), single, logs, steady (1,000 spans/s in traces of 10 for N/1,000 s).

Runs the workload of bench/bench_tracing.py (traces of 10 spans called flat out, then flush;
or one-span traces; or logs through LogHandler) in fresh subprocesses with timers wrapped
around the writer's phases, and prints µs of CPU per span (or log) for each phase: the
calling thread's share, the writer thread's drain, row building, each statement of the
transaction, the commit, and garbage collection by thread. Thread CPU (`time.thread_time`)
is read once per batch, so the timers themselves cost nothing per span. The figures are
medians of the repeats; CPU time holds up on a busy machine where wall time does not.

The timers wrap methods by name (TraceWriter._drain, BatchBuilder.build, TraceWriter._commit
and the writer's connection), so the same script profiles an older checkout of the library:
`PYTHONPATH=/path/to/old python bench/profile_tracing.py`.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import itertools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_found = importlib.util.find_spec("lens_tui")
if _found is not None and _found.origin:  # the library on the path is the one profiled
    os.environ.setdefault("LENS_BENCH_LIBRARY", str(Path(_found.origin).parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from tracing_workers import trace_of_ten  # noqa: E402  (the bench's own workload, one definition)


class _Timers:
    """CPU seconds by phase, added up by whichever thread runs the phase."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._gc_start: dict[int, float] = {}

    def wrap(self, owner: Any, name: str, label: str) -> None:
        """Time every call of `owner.name` (a method) as `label`."""
        original = getattr(owner, name)
        timers = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            c0 = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                timers.cpu[label] += time.thread_time() - c0
                timers.calls[label] += 1

        setattr(owner, name, timed)

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        """gc.callbacks hook: CPU of each collection, by thread and generation."""
        ident = threading.get_ident()
        if phase == "start":
            self._gc_start[ident] = time.thread_time()
            return
        started = self._gc_start.pop(ident, None)
        if started is None:
            return
        who = "writer" if threading.current_thread().name == "lens-writer" else "app"
        self.cpu[f"gc {who} gen{info['generation']}"] += time.thread_time() - started
        self.calls[f"gc {who} gen{info['generation']}"] += 1


class _TimedConnection:
    """The writer's connection with each statement's CPU (binding and stepping) timed by kind."""

    def __init__(self, conn: Any, timers: _Timers) -> None:
        self._conn = conn
        self._timers = timers

    def _timed(self, method: str, statement: str, *args: Any) -> Any:
        c0 = time.thread_time()
        try:
            result = getattr(self._conn, method)(statement, *args)
            if method == "execute" and statement.lstrip().upper().startswith(("PRAGMA", "SELECT")):
                result = list(result)
            return iter(result) if isinstance(result, list) else result
        finally:
            self._timers.cpu[f"sql {_kind(statement)}"] += time.thread_time() - c0
            self._timers.calls[f"sql {_kind(statement)}"] += 1

    def execute(self, statement: str, *args: Any) -> Any:
        return self._timed("execute", statement, *args)

    def executemany(self, statement: str, *args: Any) -> Any:
        return self._timed("executemany", statement, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _kind(statement: str) -> str:
    words = statement.split()
    head = " ".join(words[:3]).upper()
    if head.startswith("INSERT INTO") or head.startswith("INSERT OR"):
        table = words[2] if words[1].upper() == "INTO" else words[4]
        return f"insert {table.strip(chr(34))}"
    if head.startswith("WITH") or "FROM CARRAY" in statement.upper():
        return "insert (carray)"
    return words[0].upper() if words else "?"


def _instrument() -> _Timers:
    """Wrap the writer's phases and its connection; returns the timers they add to."""
    from lens_tui.tracing import batch, sql, writer

    timers = _Timers()
    timers.wrap(writer.TraceWriter, "_drain", "writer drain")
    timers.wrap(batch.BatchBuilder, "build", "writer build rows")
    timers.wrap(writer.TraceWriter, "_commit", "writer transaction")
    timers.wrap(writer.TraceWriter, "_cycle", "writer cycle (all)")
    opened = sql.open_writable

    def open_timed(*args: Any, **kwargs: Any) -> Any:
        return _TimedConnection(opened(*args, **kwargs), timers)

    sql.open_writable = open_timed  # type: ignore[assignment]
    gc.callbacks.append(timers.on_gc)
    return timers


def worker(workload: str, n: int) -> dict[str, Any]:
    """Run one workload with timers; CPU µs per span (or log) by phase."""
    timers = _instrument()
    from lens_tui.tracing import LogHandler, configure, flush, lens_fn, shutdown, span

    tmp = Path(tempfile.mkdtemp(prefix="lens-profile-"))
    configure(tmp / "profile.db", service="bench", max_queue=n + 1000)

    root = trace_of_ten()

    @lens_fn
    def single() -> None:
        return None

    logger = logging.getLogger("bench.profile")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(LogHandler())
    root()
    single()
    logger.info("warm-up")
    flush()
    timers.cpu.clear()
    timers.calls.clear()
    proc0 = time.process_time()
    app0 = time.thread_time()
    t0 = time.perf_counter()
    if workload == "traces10":
        for _ in itertools.repeat(None, n // 10):
            root()
    elif workload == "steady":  # 1,000 spans/s in traces of 10: commits of ~100 spans
        deadline = time.perf_counter() + n / 1000
        done = 0
        while done < n // 10:
            root()
            done += 1
            pause = t0 + done / 100 - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        n = done * 10
        del deadline
    elif workload == "single":
        for i in range(n):
            single()
            if i % 10_000 == 9_999:
                flush(600)
    else:
        info = logger.info
        with span("log-burst"):
            for i in range(n):
                info("request %d handled", i)
    app_cpu = time.thread_time() - app0
    flush(600)
    wall = time.perf_counter() - t0
    total = time.process_time() - proc0
    shutdown()
    phases = {k: v / n * 1e6 for k, v in timers.cpu.items()}
    app_gc = sum(v for k, v in phases.items() if k.startswith("gc app"))
    phases["app thread (calls, gc included)"] = app_cpu / n * 1e6
    phases["app thread without gc"] = app_cpu / n * 1e6 - app_gc
    phases["process total"] = total / n * 1e6
    phases["writer thread, other (loop, waits)"] = (
        total / n * 1e6 - app_cpu / n * 1e6 - phases.get("writer cycle (all)", 0.0)
    )
    return {"phases": phases, "calls": dict(timers.calls), "per_s": n / wall, "n": n}


_ORDER = [
    "process total",
    "app thread (calls, gc included)",
    "app thread without gc",
    "gc app gen0",
    "gc app gen1",
    "gc app gen2",
    "writer cycle (all)",
    "writer drain",
    "writer build rows",
    "writer transaction",
]


def main() -> int:
    """Run the workload in fresh subprocesses and print the phases' medians."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--workload", choices=("traces10", "single", "logs", "steady"), default="traces10"
    )
    parser.add_argument("--spans", type=int, default=200_000, help="spans (or logs) per run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the medians as JSON too")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.workload, args.spans)))
        return 0
    runs = []
    for _ in range(args.repeats):
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                "--workload",
                args.workload,
                "--spans",
                str(args.spans),
            ],
            capture_output=True,
            text=True,
            env={**os.environ},
        )
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            return 1
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    keys = sorted(
        {k for r in runs for k in r["phases"]},
        key=lambda k: (_ORDER.index(k) if k in _ORDER else 99, k),
    )
    import lens_tui

    print(
        f"{args.workload}: {args.spans:,} per run, {args.repeats} runs, library {Path(lens_tui.__file__).parent.parent}, "
        f"load {[round(x, 1) for x in os.getloadavg()]}"
    )
    print(f"  {'per span (or log), CPU µs, medians':<40} {'µs':>6}  {'calls/run':>9}")
    medians = {}
    for key in keys:
        value = statistics.median(r["phases"].get(key, 0.0) for r in runs)
        medians[key] = value
        calls = (
            statistics.median(r["calls"].get(key, 0) for r in runs)
            if key in runs[0]["calls"]
            else ""
        )
        indent = (
            "    "
            if key.startswith(("sql ", "writer drain", "writer build", "writer trans", "gc writer"))
            else "  "
        )
        print(f"{indent}{key:<{42 - len(indent)}} {value:6.2f}  {calls!s:>9}")
    print(f"  throughput (wall, busy machine) {statistics.median(r['per_s'] for r in runs):,.0f}/s")
    if args.json:
        print(json.dumps(medians))
    return 0


if __name__ == "__main__":
    sys.exit(main())
