"""Benchmark the query language on a 1,000,000-span / 100,000-trace / 1,000,000-log database.

Usage: `python bench/bench_query.py [--repeats N] [--no-json]`

The database is built once (about a minute) with raw APSW `executemany` into a migrated schema
and cached in bench/.cache/: 100,000 traces over the last 24 hours of 10 spans each (a root
`GET /users/{id}`-style request with `http.status_code` 200 mostly, 4xx and 5xx some; children
`db.query`, `cache.get`, … with `db.rows` and a random `user.id` among 400,000) and 10 logs per
trace with a `request_id` attribute; one log in 10,000 says "deadlock detected", none says "zebra".

Each question is asked in the same run two ways, alternately, `--repeats` times (default 7)
after one warm-up each, and the medians are compared:

- ours: the compiled query through `TraceReader.recent_traces(where=...)` /
  `TraceReader.logs(scope=...)`, the dashboard's and the CLI's path (rows decoded, 50 of them);
- reference: the same question as plain hand-written SQL with `json_extract` on a second
  read-only APSW connection (rows fetched, not decoded).

Questions: the first page (50 newest matches) of common-match queries (target <= 200 ms), a
full scan for a rare attribute value (target <= 1 s), a log message query and a log attribute
query (target <= 1 s). A summary table goes to stdout (progress to stderr), JSON to
bench/results/ (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable from a fresh clone without installing the package
    sys.path.insert(0, str(ROOT))

CACHE = ROOT / "bench" / ".cache"
GEN_VERSION = 1
"""Bump when the generated database changes shape (the cached file is keyed by it)."""
TRACES, SPANS_PER_TRACE, LOGS_PER_TRACE = 100_000, 10, 10
USERS = 400_000
PAGE = 50
FIRST_PAGE_TARGET_MS = 200.0
SCAN_TARGET_MS = 1_000.0
_ROUTES = ("GET /users/{id}", "GET /search", "POST /orders", "GET /products/{id}", "GET /health")
_CHILDREN = ("db.query", "cache.get", "cache.set", "http.client GET payments", "render_template")
_CODES = (200,) * 90 + (201,) * 3 + (404,) * 4 + (500,) * 2 + (503,)
_LEVELS = ("debug",) * 20 + ("info",) * 70 + ("warn",) * 8 + ("error",) * 2
_LOGGERS = ("shop.api", "shop.db", "shop.cache", "shop.http")


def say(text: str) -> None:
    """Progress on stderr, so stdout holds only the report."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def build(path: Path) -> dict[str, Any]:
    """Write the database at `path`; returns facts the questions need (a rare user id)."""
    import apsw

    from lens_tui import schema

    rng = random.Random(2024)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    conn = apsw.Connection(str(tmp))
    schema.migrate(conn)
    conn.execute("PRAGMA journal_mode=OFF").fetchall()
    conn.execute("PRAGMA synchronous=OFF")
    end_ms = time.time() * 1000.0
    step = 86_400_000.0 / TRACES
    trace_sql = schema.placeholders_insert(
        schema.Trace,
        (
            "trace_id",
            "root_span_name",
            "source",
            "started_at",
            "ended_at",
            "duration_ms",
            "root_span_id",
            "service",
            "status",
            "span_count",
            "error_count",
            "updated_at",
        ),
    )
    span_sql = schema.placeholders_insert(
        schema.Span,
        (
            "span_id",
            "trace_id",
            "parent_span_id",
            "name",
            "started_at",
            "duration_ms",
            "error_message",
            "status",
            "service",
            "kind",
            "attributes",
            "updated_at",
        ),
    )
    log_sql = schema.placeholders_insert(
        schema.Log,
        ("trace_id", "span_id", "level", "message", "timestamp", "logger", "service", "attributes"),
    )
    rare_user = None
    for first in range(0, TRACES, 2_000):
        traces, spans, logs = [], [], []
        for i in range(first, min(first + 2_000, TRACES)):
            start = end_ms - (TRACES - i) * step
            duration = rng.uniform(1.0, 400.0)
            trace_id = f"{rng.getrandbits(128):032x}"
            code = _CODES[rng.randrange(len(_CODES))]
            failed = code >= 500
            ids = [f"{rng.getrandbits(64):016x}" for _ in range(SPANS_PER_TRACE)]
            stamp = start + duration + 1.0
            traces.append(
                (
                    trace_id,
                    _ROUTES[i % 5],
                    "web",
                    start,
                    start + duration,
                    duration,
                    ids[0],
                    "shop-api",
                    "error" if failed else "ok",
                    SPANS_PER_TRACE,
                    int(failed),
                    stamp,
                )
            )
            for k, span_id in enumerate(ids):
                if k == 0:
                    name, attrs = (
                        _ROUTES[i % 5],
                        {"http.route": _ROUTES[i % 5], "http.status_code": code},
                    )
                    length, parent, kind = duration, None, "server"
                else:
                    name = _CHILDREN[k % 5]
                    user = rng.randrange(1, USERS)
                    attrs = {"db.rows": k, "user.id": user}
                    length, parent, kind = (
                        duration / (SPANS_PER_TRACE + 2),
                        ids[(k - 1) // 3],
                        "client",
                    )
                    if i == TRACES // 3 and k == 4:
                        rare_user = user
                bad = failed and k == SPANS_PER_TRACE - 1
                spans.append(
                    (
                        span_id,
                        trace_id,
                        parent,
                        name,
                        start + duration * k / (SPANS_PER_TRACE + 1),
                        length,
                        "boom" if bad else None,
                        "error" if bad else "ok",
                        "payments" if name.endswith("payments") else "shop-api",
                        kind,
                        json.dumps(attrs),
                        stamp,
                    )
                )
            for k in range(LOGS_PER_TRACE):
                message = (
                    f"deadlock detected in request {i}"
                    if rng.random() < 0.0001
                    else f"request {i} step {k}: handled in {duration:.1f} ms"
                )
                logs.append(
                    (
                        trace_id,
                        ids[k % SPANS_PER_TRACE],
                        _LEVELS[rng.randrange(len(_LEVELS))],
                        message,
                        start + duration * k / LOGS_PER_TRACE,
                        _LOGGERS[k % 4],
                        "shop-api",
                        json.dumps({"request_id": f"r-{i}-{k}"}),
                    )
                )
        with conn:
            conn.executemany(trace_sql, traces)
            conn.executemany(span_sql, spans)
            conn.executemany(log_sql, logs)
    conn.execute("PRAGMA journal_mode=WAL").fetchall()
    conn.close()
    os.replace(tmp, path)
    facts = {"rare_user": rare_user, "rare_request": f"r-{TRACES // 2}-3"}
    path.with_suffix(".json").write_text(json.dumps(facts))
    return facts


def database() -> tuple[Path, dict[str, Any]]:
    """The cached database and its facts, built first if missing."""
    from lens_tui import schema

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"query-100kt-1ms-1ml-g{GEN_VERSION}-s{schema.SCHEMA_VERSION}.db"
    if not path.exists() or not path.with_suffix(".json").exists():
        say(f"  building {path.relative_to(ROOT)} (once; cached for later runs)…")
        t0 = time.perf_counter()
        facts = build(path)
        say(f"  built in {time.perf_counter() - t0:.1f} s, {path.stat().st_size / 2**20:.0f} MiB")
        return path, facts
    return path, json.loads(path.with_suffix(".json").read_text())


_TRACE_COLS = (
    "trace_id, root_span_name, source, service, started_at, ended_at, duration_ms, span_count,"
    " error_count, status, updated_at"
)
_LOG_COLS = (
    "id, trace_id, span_id, level, message, timestamp, logger, source_location, service,"
    " exception_type, traceback, attributes"
)


def questions(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """(label, kind, query, reference SQL and parameters, target ms)."""
    user, request = facts["rare_user"], facts["rare_request"]
    newest = f"SELECT {_TRACE_COLS} FROM traces WHERE {{}} ORDER BY started_at DESC LIMIT {PAGE}"
    logs = f"SELECT {_LOG_COLS} FROM logs WHERE {{}} ORDER BY id DESC LIMIT {PAGE}"
    return [
        {
            "label": "first page: duration > 100ms",
            "kind": "trace",
            "query": "duration > 100ms",
            "sql": newest.format("duration_ms > ?"),
            "params": (100.0,),
            "target": FIRST_PAGE_TARGET_MS,
        },
        {
            "label": 'first page: { name = "db.query" and duration > 5ms }',
            "kind": "trace",
            "query": '{ name = "db.query" and duration > 5ms }',
            "sql": newest.format(
                "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = traces.trace_id"
                " AND s.name = ? AND s.duration_ms > ?)"
            ),
            "params": ("db.query", 5.0),
            "target": FIRST_PAGE_TARGET_MS,
        },
        {
            "label": "first page: attr.http.status_code >= 500",
            "kind": "trace",
            "query": "attr.http.status_code >= 500",
            "sql": newest.format(
                "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = traces.trace_id AND"
                " s.span_id = traces.root_span_id AND json_extract(s.attributes, ?) >= ?)"
            ),
            "params": ('$."http.status_code"', 500),
            "target": FIRST_PAGE_TARGET_MS,
        },
        {
            "label": "first page: GET status = error",
            "kind": "trace",
            "query": "GET status = error",
            "sql": newest.format("root_span_name LIKE ? AND status = ?"),
            "params": ("%GET%", "error"),
            "target": FIRST_PAGE_TARGET_MS,
        },
        {
            "label": f"full scan: {{ attr.user.id = {user} }}",
            "kind": "trace",
            "query": f"{{ attr.user.id = {user} }}",
            "sql": newest.format(
                "trace_id IN (SELECT trace_id FROM spans WHERE json_extract(attributes, ?) = ?)"
            ),
            "params": ('$."user.id"', user),
            "target": SCAN_TARGET_MS,
        },
        {
            "label": f"full scan: {{ attr.user.id = {user} }} (reference as EXISTS)",
            "kind": "trace",
            "query": f"{{ attr.user.id = {user} }}",
            "sql": newest.format(
                "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = traces.trace_id"
                " AND json_extract(s.attributes, ?) = ?)"
            ),
            "params": ('$."user.id"', user),
            "target": SCAN_TARGET_MS,
        },
        {
            "label": 'logs: message ~ "deadlock"',
            "kind": "log",
            "query": 'message ~ "deadlock"',
            "sql": logs.format("message LIKE ?"),
            "params": ("%deadlock%",),
            "target": SCAN_TARGET_MS,
        },
        {
            "label": 'logs full scan: message ~ "zebra" (no match)',
            "kind": "log",
            "query": 'message ~ "zebra"',
            "sql": logs.format("message LIKE ?"),
            "params": ("%zebra%",),
            "target": SCAN_TARGET_MS,
        },
        {
            "label": f'logs: attr.request_id = "{request}"',
            "kind": "log",
            "query": f'attr.request_id = "{request}"',
            "sql": logs.format("json_extract(attributes, ?) = ?"),
            "params": ('$."request_id"', request),
            "target": SCAN_TARGET_MS,
        },
        {
            "label": "logs first page: level >= warn handled",
            "kind": "log",
            "query": "level >= warn handled",
            "sql": logs.format("level IN ('warn', 'error') AND message LIKE ?"),
            "params": ("%handled%",),
            "target": FIRST_PAGE_TARGET_MS,
        },
    ]


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = call()
    return (time.perf_counter() - t0) * 1000.0, result


def _calls(
    q: dict[str, Any], query: Any, reader: Any, plain: Any
) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The question asked our way (through the reader) and the reference way (plain SQL)."""

    def ours() -> Any:
        if q["kind"] == "trace":
            return [t.trace_id for t in reader.recent_traces(PAGE, where=query)]
        return [g.id for g in reader.logs(scope=query, limit=PAGE)]

    def reference() -> Any:
        return plain.execute(q["sql"], q["params"]).fetchall()

    return ours, reference


def measure(path: Path, facts: dict[str, Any], repeats: int) -> list[dict[str, Any]]:
    """Every question, ours and the reference alternately; medians."""
    import apsw

    from lens_tui.query import compile_log_query, compile_trace_query
    from lens_tui.store.reader import TraceReader

    reader = TraceReader(path)
    reader.open()
    plain = apsw.Connection(
        f"file:{path}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    )
    out = []
    for q in questions(facts):
        compile_ms, query = timed(
            lambda q=q: (compile_trace_query if q["kind"] == "trace" else compile_log_query)(
                q["query"]
            )
        )
        ours_call, ref_call = _calls(q, query, reader, plain)
        ours_call(), ref_call()  # warm-up
        ours, ref = [], []
        matches = refs = 0
        for _ in range(repeats):
            ms, found = timed(ours_call)
            ours.append(ms)
            ms2, reference = timed(ref_call)
            ref.append(ms2)
            matches, refs = len(found), len(reference)
        row = {
            **{k: q[k] for k in ("label", "query", "target")},
            "ours_ms": statistics.median(ours),
            "reference_ms": statistics.median(ref),
            "ours_max_ms": max(ours),
            "compile_ms": compile_ms,
            "matches": matches,
            "reference_matches": refs,
        }
        row["ratio"] = row["ours_ms"] / row["reference_ms"] if row["reference_ms"] else float("nan")
        say(
            f"  {row['label']}: {row['ours_ms']:.1f} ms (reference {row['reference_ms']:.1f} ms), "
            f"{matches} rows"
        )
        out.append(row)
    reader.close()
    plain.close()
    return out


def main() -> int:
    """Build or reuse the database, ask every question, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed runs per question (default 7)"
    )
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args()
    import apsw

    info = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": apsw.sqlitelibversion(),
        "loadavg_at_start": os.getloadavg(),
    }
    say(
        f"lens_tui query bench: {info['cpu_count']} cpu, Python {info['python']}, SQLite {info['sqlite']}, "
        f"load {info['loadavg_at_start']}"
    )
    path, facts = database()
    rows = measure(path, facts, max(1, args.repeats))
    info["loadavg_at_end"] = os.getloadavg()
    print()
    print(
        f"lens_tui query benchmark: 1,000,000 spans / 100,000 traces / 1,000,000 logs, medians of {args.repeats}"
    )
    print(
        f"machine: {info['cpu_count']} cpu, Python {info['python']}, SQLite {info['sqlite']}; load average "
        f"at start {' '.join(f'{x:.2f}' for x in info['loadavg_at_start'])}, at end "
        f"{' '.join(f'{x:.2f}' for x in info['loadavg_at_end'])}"
    )
    width = max(len(r["label"]) for r in rows)
    print(
        f"  {'question':<{width}}  {'ours':>9}  {'reference':>9}  {'ratio':>6}  {'rows':>5}  target"
    )
    for r in rows:
        met = "MET" if r["ours_ms"] <= r["target"] else "MISSED"
        print(
            f"  {r['label']:<{width}}  {r['ours_ms']:>6.1f} ms  {r['reference_ms']:>6.1f} ms  "
            f"{r['ratio']:>5.2f}x  {r['matches']:>5}  <= {r['target']:.0f} ms: {met}"
        )
    compile_ms = statistics.median(r["compile_ms"] for r in rows)
    print(f"  parse + compile a query (first time, cold): median {compile_ms:.2f} ms")
    if not args.no_json:
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        target = out / f"query-{time.strftime('%Y%m%d-%H%M%S')}.json"
        target.write_text(
            json.dumps({"machine": info, "facts": facts, "questions": rows}, indent=2)
        )
        print(f"results: {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
