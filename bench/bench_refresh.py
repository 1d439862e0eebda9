"""Benchmark what noticing deleted rows costs the live refresh.

Usage: `python bench/bench_refresh.py [--quick] [--no-json]`

On a copy of bench_dashboard.py's 1,000,000-span / 100,000-trace / 1,000,000-log database (built
once, cached in bench/.cache/), in this process, one `Feed` (the dashboard's tail) polls after
each commit of a second connection that writes one trace of one span and one log, as a live
writer would between two refreshes:

a. A refresh (`Feed.poll`) with the deletion check (`lens_tui.store.presence.check`: the oldest
   trace start and log time by their indexes, 40 trace ids and 14 log ids on screen by key)
   against the same refresh with the check replaced by one that finds nothing, alternating,
   400 polls each (`--quick`: 100); medians and their ratio, and the check alone.
b. What checking every held row by id would cost instead (the trace list holds up to 5,000):
   `presence.check` with 5,000 trace ids and 10,000 log ids.
c. The panes' side: `TraceRows.drop_gone` and `LogLines.drop_gone` on 5,000 traces and 10,000
   lines when nothing is gone (almost every refresh), and after a prune of the oldest fifth.

A summary table goes to stdout (progress to stderr); JSON to bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench_dashboard import big_db, loadavg, machine, say  # noqa: E402

RATIO_TARGET = 1.25
"""A refresh with the check may cost at most this much more than one without."""


def median_us(samples: list[float]) -> float:
    """The median of seconds, in µs."""
    return statistics.median(samples) * 1e6


def writer(path: Path) -> Callable[[int], None]:
    """One trace of one span and one log per call, committed, from a connection of its own."""
    import apsw

    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA busy_timeout=5000")

    def commit(n: int) -> None:
        now = time.time() * 1000.0
        trace_id = f"{0xBE7C000000000000000000000000 + n:032x}"
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO traces (trace_id, root_span_name, started_at, ended_at, duration_ms,"
            " status, span_count, error_count, updated_at) VALUES (?, 'GET /bench', ?, ?, 1.0,"
            " 'ok', 1, 0, ?)",
            (trace_id, now, now + 1, now),
        )
        conn.execute(
            "INSERT INTO spans (span_id, trace_id, name, started_at, duration_ms, status,"
            " updated_at) VALUES (?, ?, 'GET /bench', ?, 1.0, 'ok', ?)",
            (trace_id[-16:], trace_id, now, now),
        )
        conn.execute(
            "INSERT INTO logs (trace_id, level, message, timestamp) VALUES (?, 'info', 'x', ?)",
            (trace_id, now),
        )
        conn.execute("COMMIT")

    return commit


def part_a(path: Path, polls: int) -> dict[str, Any]:
    """Refreshes with the check against refreshes without it, alternating."""
    from lens_tui.live import feed as feed_module
    from lens_tui.live.feed import Feed
    from lens_tui.store.presence import Presence
    from lens_tui.store.reader import TraceReader

    feed = Feed(TraceReader(path))
    assert feed.try_open() is None
    snapshot = feed.snapshot(500)
    trace_ids = [t.trace_id for t in snapshot.traces[:40]]
    log_ids = [log.id for log in feed.reader.logs(limit=14)]
    commit = writer(path)
    real_check = feed_module.presence.check

    def no_check(*_args: object) -> Presence:
        return Presence()

    timed: dict[str, list[float]] = {"with": [], "without": [], "check": []}
    for n in range(polls * 2):
        with_check = n % 2 == 0
        feed_module.presence.check = real_check if with_check else no_check  # type: ignore[attr-defined]
        commit(n)
        started = time.perf_counter()
        delta = feed.poll(False, trace_ids, log_ids)
        timed["with" if with_check else "without"].append(time.perf_counter() - started)
        assert delta is not None and delta.traces
    feed_module.presence.check = real_check  # type: ignore[attr-defined]
    for _ in range(polls):
        started = time.perf_counter()
        real_check(feed.reader, trace_ids, log_ids)
        timed["check"].append(time.perf_counter() - started)
    feed.reader.close()
    with_us, without_us = median_us(timed["with"]), median_us(timed["without"])
    return {
        "polls": polls,
        "refresh_with_check_us": with_us,
        "refresh_without_check_us": without_us,
        "ratio": with_us / without_us,
        "check_alone_us": median_us(timed["check"]),
    }


def part_b(path: Path, repeats: int) -> dict[str, Any]:
    """Checking every held row by id instead of the ones on screen."""
    from lens_tui.store import presence
    from lens_tui.store.reader import TraceReader

    with TraceReader(path) as reader:
        trace_ids = [t.trace_id for t in reader.recent_traces(5_000)]
        log_ids = [log.id for log in reader.logs(limit=10_000)]
        timed = []
        for _ in range(repeats):
            started = time.perf_counter()
            presence.check(reader, trace_ids, log_ids)
            timed.append(time.perf_counter() - started)
    return {"all_held_check_us": median_us(timed), "trace_ids": 5_000, "log_ids": 10_000}


def part_c(path: Path, repeats: int) -> dict[str, Any]:
    """The panes' side of a refresh: nothing gone, and a prune of the oldest fifth."""
    from lens_tui.live.log_lines import LogLines
    from lens_tui.live.trace_rows import TraceRows
    from lens_tui.store.filters import TraceFilter
    from lens_tui.store.presence import Presence
    from lens_tui.store.reader import TraceReader

    with TraceReader(path) as reader:
        traces = reader.recent_traces(5_000)
        logs = reader.logs(limit=10_000)
    oldest_trace = min(t.started_at for t in traces)
    oldest_log = min(log.timestamp for log in logs)
    nothing = Presence(oldest_trace, oldest_log)  # what almost every refresh finds
    fifth_trace = sorted(t.started_at for t in traces)[len(traces) // 5]
    fifth_log = sorted(log.timestamp for log in logs)[len(logs) // 5]
    pruned = Presence(fifth_trace, fifth_log)
    out: dict[str, Any] = {}
    for label, found in (("nothing_gone", nothing), ("oldest_fifth_gone", pruned)):
        rows_timed, lines_timed = [], []
        for _ in range(repeats):
            rows = TraceRows(cap=5_000)
            rows.upsert(traces, TraceFilter())
            lines = LogLines(cap=10_000)
            lines.replace(logs)
            started = time.perf_counter()
            rows.drop_gone(found)
            rows_timed.append(time.perf_counter() - started)
            started = time.perf_counter()
            lines.drop_gone(found)
            lines_timed.append(time.perf_counter() - started)
        out[label] = {
            "trace_rows_us": median_us(rows_timed),
            "log_lines_us": median_us(lines_timed),
        }
    return out


def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, figure, verdict) rows for the summary table."""
    a, b, c = results["a"], results["b"], results["c"]
    ok = a["ratio"] <= RATIO_TARGET
    return [
        ("a. refresh without the check (median)", f"{a['refresh_without_check_us']:.0f} µs", ""),
        ("a. refresh with the check (median)", f"{a['refresh_with_check_us']:.0f} µs", ""),
        (
            "a. ratio with / without",
            f"{a['ratio']:.2f}",
            f"{'OK' if ok else 'OVER'} (target <= {RATIO_TARGET})",
        ),
        ("a. the check alone (median)", f"{a['check_alone_us']:.0f} µs", ""),
        (
            "b. every held row by id instead (5,000 + 10,000 ids)",
            f"{b['all_held_check_us']:.0f} µs",
            "",
        ),
        ("c. panes, nothing gone: trace rows / log lines", _pair(c["nothing_gone"]), ""),
        ("c. panes, oldest fifth gone: trace rows / log lines", _pair(c["oldest_fifth_gone"]), ""),
    ]


def _pair(figures: dict[str, float]) -> str:
    return f"{figures['trace_rows_us']:.1f} / {figures['log_lines_us']:.1f} µs"


def main() -> int:
    """Run the parts, print the table, save JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer polls and repeats")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/")
    args = parser.parse_args()
    polls, repeats = (100, 5) if args.quick else (400, 20)
    source = big_db()
    results: dict[str, Any] = {"machine": machine(), "load_before": loadavg()}
    with tempfile.TemporaryDirectory(prefix="lens-bench-refresh-") as tmp:
        path = Path(tmp) / "traces.db"
        say("copying the 1M-span database…")
        shutil.copyfile(source, path)
        say("a. refreshes with and without the check…")
        results["a"] = part_a(path, polls)
        say("b. every held row by id…")
        results["b"] = part_b(path, repeats)
        say("c. the panes' side…")
        results["c"] = part_c(path, repeats)
    results["load_after"] = loadavg()
    rows = report(results)
    width = max(len(r[0]) for r in rows)
    print(
        f"bench_refresh (load average {results['load_before'][0]:.2f} before, "
        f"{results['load_after'][0]:.2f} after)"
    )
    for what, figure, verdict in rows:
        print(f"  {what:<{width}}  {figure:>16}  {verdict}")
    if not args.no_json:
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (out / f"refresh-{stamp}.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
