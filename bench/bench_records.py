"""Benchmark the read path on a record store (the dispatch trace store's layout) against the
same traces in our own layout, in one run.

Usage: `python bench/bench_records.py [--turns N] [--repeats N] [--no-json]`

Two files hold the same data (default 5,000 turns of 5 spans and 9 logs: 95,000 records): a
record store written with the dispatch writer's schema (tests/store/record_store.py; records
under cheap sequential ids, the table is the same) and our layout written with raw APSW into a
migrated schema. Both are built once and cached in bench/.cache/. Each read the dashboard makes
runs through `TraceReader` on both, `--repeats` times alternating (the files sit in the page
cache), and the table gives the medians in ms and their ratio (record store / ours). The tail
poll appends 20 records (one turn) to a copy of each file before every repeat.

Also measured: the newest 2,000 logs through a logs view whose arms' trace_id columns differ in
affinity, which SQLite does not flatten (it sorts every log), against the view as installed,
whose arms it merges in order (`lens_tui/store/record_layout.py`, `_select`).

A summary table goes to stdout (progress to stderr); JSON to bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import apsw  # noqa: E402

from lens_tui import schema  # noqa: E402
from lens_tui.store import record_layout  # noqa: E402
from lens_tui.store.filters import LogScope, TraceFilter  # noqa: E402
from lens_tui.store.reader import TraceReader  # noqa: E402
from tests.store.record_store import RecordStore, log, span_close, span_open  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results"
VERSION = 1
"""Bump when the generated files change shape (cached files are keyed by it)."""
T0 = 1_700_000_000_000
SPANS, LOGS = 5, 9
"""Per turn: a root and 4 children (each with 2 logs), and a last log under the root."""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def turn_records(t: int) -> list[dict[str, Any]]:
    """The records of turn `t`, in the order its writer would emit them."""
    ids = {"turnId": f"turn-{t:07d}", "conversationId": f"conv-{t // 10}", "extensionId": "ext"}
    base = T0 + t * 1_000
    out = [span_open(f"{t}-0", f"turn {t}", base, attributes={"i": t}, **ids)]
    for s in range(1, SPANS):
        at = base + s * 10
        out.append(span_open(f"{t}-{s}", f"step {s}", at, parentSpanId=f"{t}-0", **ids))
        out.append(log("debug", f"step {s} of {t} started", at + 1, spanId=f"{t}-{s}", **ids))
        out.append(log("info", f"step {s} of {t} done", at + 2, spanId=f"{t}-{s}", **ids))
        failed = "error" if t % 17 == 0 and s == 2 else "ok"
        out.append(
            span_close(f"{t}-{s}", f"step {s}", at + 5, 5, failed, parentSpanId=f"{t}-0", **ids)
        )
    out.append(log("warn", f"turn {t} done", base + 60, spanId=f"{t}-0", **ids))
    out.append(span_close(f"{t}-0", f"turn {t}", base + 70, 70, **ids))
    return out


def build_record_store(path: Path, turns: int) -> None:
    tmp = path.with_suffix(".tmp")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    store = RecordStore(tmp)
    records = [record for t in range(turns) for record in turn_records(t)]
    store.insert(records, ids=(f"{n:016x}" for n in range(1, len(records) + 1)))
    store.close()
    tmp.rename(path)


def append_turn_record_store(path: Path, t: int) -> None:
    store = RecordStore(path)
    store.insert(turn_records(t))
    store.close()


def _ours_rows(t: int) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Turn `t` as our traces, spans and logs rows (status and counts as our writer keeps)."""
    records = turn_records(t)
    trace_id = records[0]["turnId"]
    opens = {r["spanId"]: r for r in records if r["kind"] == "span-open"}
    closes = {r["spanId"]: r for r in records if r["kind"] == "span-close"}
    stamp = float(time.time() * 1000)
    spans = []
    for span_id, o in opens.items():
        c = closes[span_id]
        spans.append((
            span_id, trace_id, o.get("parentSpanId"), o["name"], float(o["timestamp"]),
            float(c["durationMs"]), c["status"], "ext", json.dumps(o.get("attributes", {})), stamp,
        ))  # fmt: skip
    logs = [
        (trace_id, r["spanId"], r["level"], r["msg"], float(r["timestamp"]), "ext", "ext")
        for r in records
        if r["kind"] == "log"
    ]
    errors = sum(1 for s in spans if s[6] == "error")
    start, end = float(records[0]["timestamp"]), float(records[-1]["timestamp"])
    trace = (
        trace_id, records[0]["name"], "conv", start, end, end - start, f"{t}-0", "ext",
        "error" if errors else "ok", len(spans), errors, stamp,
    )  # fmt: skip
    return trace, spans, logs


_OURS_SQL = (
    "INSERT INTO traces (trace_id, root_span_name, source, started_at, ended_at, duration_ms,"
    " root_span_id, service, status, span_count, error_count, updated_at)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "INSERT INTO spans (span_id, trace_id, parent_span_id, name, started_at, duration_ms, status,"
    " service, attributes, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
    "INSERT INTO logs (trace_id, span_id, level, message, timestamp, logger, service)"
    " VALUES (?,?,?,?,?,?,?)",
)


def _ours_insert(conn: apsw.Connection, turns: range) -> None:
    trace_sql, span_sql, log_sql = _OURS_SQL
    with conn:
        for t in turns:
            trace, spans, logs = _ours_rows(t)
            conn.execute(trace_sql, trace)
            conn.executemany(span_sql, spans)
            conn.executemany(log_sql, logs)


def build_ours(path: Path, turns: int) -> None:
    tmp = path.with_suffix(".tmp")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    conn = apsw.Connection(str(tmp))
    conn.execute("PRAGMA journal_mode=WAL")
    schema.migrate(conn)
    _ours_insert(conn, range(turns))
    conn.close()
    tmp.rename(path)


def append_turn_ours(path: Path, t: int) -> None:
    conn = apsw.Connection(str(path))
    conn.set_busy_timeout(5000)
    _ours_insert(conn, range(t, t + 1))
    conn.close()


def cached(name: str, turns: int, build: Callable[[Path, int], None]) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"records-v{VERSION}-{name}-{turns}.db"
    if not path.exists():
        say(f"building {path.name} …")
        started = time.perf_counter()
        build(path, turns)
        say(f"  {time.perf_counter() - started:.1f} s")
    return path


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def measure(turns: int, repeats: int, work: Path) -> list[dict[str, Any]]:
    files = {
        "records": cached("store", turns, build_record_store),
        "ours": cached("ours", turns, build_ours),
    }
    appenders = {"records": append_turn_record_store, "ours": append_turn_ours}
    # Working copies: the tail poll appends to them.
    copies = {}
    for kind, source in files.items():
        copy = work / f"{kind}.db"
        shutil.copyfile(source, copy)
        copies[kind] = copy
    middle = f"turn-{turns // 2:07d}"
    warn = LogScope(min_level="warn")
    errors = TraceFilter(errors_only=True)
    ops: list[tuple[str, Callable[[TraceReader, dict[str, Any]], object]]] = [
        ("trace list: newest 500", lambda r, s: r.recent_traces(500)),
        ("trace list: errors only", lambda r, s: r.recent_traces(500, where=errors)),
        ("tail poll: 1 new turn", lambda r, s: r.traces_since(s["mark"])),
        ("header totals: after 1 new turn", lambda r, s: r.stats()),
        ("open a trace (trace_keys)", lambda r, s: r.trace_keys(middle)),
        ("its spans by rowid", lambda r, s: r.spans_at(s["keys"])),
        ("whole trace (show)", lambda r, s: r.trace(middle)),
        ("logs: newest 2,000", lambda r, s: r.logs(limit=2000)),
        ("logs: newest 2,000 >= warn", lambda r, s: r.logs(scope=warn, limit=2000)),
        ("logs of one trace", lambda r, s: r.logs(trace_id=middle)),
        ("level counts (full)", lambda r, s: r.level_counts_upto(10**12)),
        ("newest log id", lambda r, s: r.max_log_id()),
    ]
    samples: dict[tuple[str, str], list[float]] = {}
    next_turn = turns
    for repeat in range(repeats):
        say(f"repeat {repeat + 1}/{repeats}")
        for kind in ("records", "ours") if repeat % 2 == 0 else ("ours", "records"):
            with TraceReader(copies[kind]) as reader:
                reader.changed()
                state = {"mark": reader.current_trace_mark()}
                state["keys"] = list(reader.trace_keys(middle)[1].rows)
                full = timed(reader.stats)  # the first count: in full
                samples.setdefault(("header totals: first, full count", kind), []).append(full)
                appenders[kind](copies[kind], next_turn)
                reader.changed()
                for name, op in ops:
                    took = timed(lambda op=op, state=state: op(reader, state))  # type: ignore[misc]
                    samples.setdefault((name, kind), []).append(took)
        next_turn += 1
    rows = []
    for name in ["header totals: first, full count", *(name for name, _op in ops)]:
        ours = statistics.median(samples[(name, "ours")])
        records = statistics.median(samples[(name, "records")])
        rows.append({"op": name, "records_ms": records, "ours_ms": ours,
                     "ratio": records / ours if ours else float("nan")})  # fmt: skip
    return rows


def _unflattened(path: Path, repeats: int) -> dict[str, float]:
    """The newest 2,000 logs through the installed view and through one SQLite cannot flatten."""
    with TraceReader(path) as reader:
        reader.stats()  # opened, views installed
        conn = reader._conn
        assert conn is not None
        sql = next(s for s in record_layout.view_sql(
            reader.columns[record_layout.RECORDS], frozenset(reader.columns.get("bodies", ()))
        ) if s.startswith("CREATE TEMP VIEW logs"))  # fmt: skip
        sql = sql.replace("VIEW logs", "VIEW logs_unaligned").replace("CAST(CASE", "(CASE")
        sql = sql.replace(" AS TEXT) AS trace_id", ") AS trace_id")
        conn.execute(sql)
        flat, sorted_ = [], []
        for _ in range(repeats):
            flat.append(timed(lambda: conn.execute(
                "SELECT * FROM logs ORDER BY id DESC LIMIT 2000").fetchall()))  # fmt: skip
            sorted_.append(timed(lambda: conn.execute(
                "SELECT * FROM logs_unaligned ORDER BY id DESC LIMIT 2000").fetchall()))  # fmt: skip
        conn.execute("DROP VIEW temp.logs_unaligned")
    return {"merged_ms": statistics.median(flat), "sorted_ms": statistics.median(sorted_)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()
    work = CACHE / f"work-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = measure(args.turns, args.repeats, work)
        flattening = _unflattened(CACHE / f"records-v{VERSION}-store-{args.turns}.db", args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    records = args.turns * (2 * SPANS + LOGS)
    load = os.getloadavg()
    print(f"\nrecord store of {records:,} records ({args.turns:,} turns) against the same "
          f"traces in our layout; medians of {args.repeats}, ms")  # fmt: skip
    print(f"python {platform.python_version()}, SQLite {apsw.sqlite_lib_version()}, "
          f"{os.cpu_count()} cpus, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")  # fmt: skip
    print(f"{'read':<44} {'records':>9} {'ours':>9} {'ratio':>7}")
    for row in rows:
        print(f"{row['op']:<44} {row['records_ms']:>9.2f} {row['ours_ms']:>9.2f} "
              f"{row['ratio']:>6.1f}x")  # fmt: skip
    print(f"\nnewest 2,000 logs through the logs view as installed (arms merged in order): "
          f"{flattening['merged_ms']:.2f} ms; through one whose arms' trace_id affinities "
          f"differ (not flattened: every log sorted): {flattening['sorted_ms']:.2f} ms")  # fmt: skip
    if not args.no_json:
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"records-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps({"turns": args.turns, "records": records, "rows": rows,
                                   "flattening": flattening, "load": load}, indent=2))  # fmt: skip
        say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
