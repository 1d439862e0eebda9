"""`lens-tui stats` through a real subprocess, on real database files, in every format, with the
answers computed in the test from the rows it wrote (sorted durations, nearest rank)."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import apsw
import pytest

from lens_tui import schema, tracing

NOW = 0.0
"""When the fixture wrote its rows (epoch ms)."""

ROUTES = {
    ("shop", "GET /a"): [5.0, 5.0, 5.0, 10.0, 10.0, 20.0, 40.0, 80.0, 80.0, 160.0],
    ("shop", "GET /b"): [7.0],
    ("pay", "GET /a"): [1.0, 3.0, 3.0],
}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m lens_tui ARGS` as a user would run it."""
    full = {k: v for k, v in os.environ.items() if k != "LENS_DB"}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lens_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=full,
    )


def _insert(
    conn: apsw.Connection,
    n: int,
    service: str | None,
    name: str,
    start: float,
    duration: float | None,
    status: str = "ok",
) -> None:
    now = time.time() * 1000.0
    conn.execute(
        schema.placeholders_insert(
            schema.Trace,
            (
                "trace_id",
                "root_span_name",
                "service",
                "started_at",
                "ended_at",
                "duration_ms",
                "status",
                "span_count",
                "error_count",
                "updated_at",
            ),
        ),
        (
            f"{n:032x}",
            name,
            service,
            start,
            None if duration is None else start + duration,
            duration,
            status if duration is not None or status == "error" else "running",
            1,
            int(status == "error"),
            now,
        ),
    )


@pytest.fixture
def stats_db(tmp_path: Path) -> Path:
    """The routes above in the last ten minutes (one failed trace, one running), a trace
    twenty minutes old, and a name with a terminal escape in it; written just before the test
    runs (its windows are relative to now)."""
    global NOW
    NOW = time.time() * 1000.0
    path = tmp_path / "traces.db"
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    schema.migrate(conn)
    n = 0
    with conn:
        for (service, name), durations in ROUTES.items():
            for i, duration in enumerate(durations):
                n += 1
                _insert(
                    conn,
                    n,
                    service,
                    name,
                    NOW - 600_000.0 + n * 1_000.0,
                    duration,
                    "error" if (name, i) == ("GET /a", 3) and service == "shop" else "ok",
                )
        _insert(conn, 100, "shop", "GET /a", NOW - 30_000.0, None)
        _insert(conn, 101, "shop", "GET /a", NOW - 1_200_000.0, 9_999.0)
        _insert(conn, 102, "evil", "GET /\x1b[31mred", NOW - 20_000.0, 2.0)
    conn.close()
    return path


def _nearest(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(Fraction(pct, 100) * len(ordered))) - 1]


def _expected(by: str) -> dict[tuple, dict]:
    groups: dict[tuple, list[float]] = {}
    for (service, name), durations in [*ROUTES.items(), (("evil", "GET /\x1b[31mred"), [2.0])]:
        key = (service if "service" in by else None, name if by != "service" else None)
        groups.setdefault(key, []).extend(durations)
    out = {}
    for key, durations in groups.items():
        running = 1 if key in {("shop", "GET /a"), ("shop", None), (None, "GET /a")} else 0
        errors = 1 if key in {("shop", "GET /a"), ("shop", None), (None, "GET /a")} else 0
        count = len(durations) + running
        out[key] = {
            "count": count,
            "running": running,
            "errors": errors,
            "error_rate": errors / count,
            "rate_per_s": count / 900.0,
            **{f"p{p}_ms": _nearest(durations, p) for p in (50, 90, 95, 99)},
            "max_ms": max(durations),
        }
    return out


@pytest.mark.parametrize("by", ["service,name", "service", "name"])
def test_json_against_an_independent_computation(stats_db: Path, by: str) -> None:
    result = run_cli("stats", "--db", str(stats_db), "--by", by, "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    want = _expected(by)
    got = {(r.get("service"), r.get("name")): r for r in rows}
    assert set(got) == set(want)
    for key, expected in want.items():
        row = got[key]
        keys = {
            "count",
            "rate_per_s",
            "errors",
            "error_rate",
            "p50_ms",
            "p90_ms",
            "p95_ms",
            "p99_ms",
            "max_ms",
            "running",
        }
        assert set(row) == keys | {k for k in ("service", "name") if k in by}
        for field, value in expected.items():
            # The CLI's clock is a moment after the test's: rates differ by that much only.
            tolerance = 1e-3 if field == "rate_per_s" else 1e-12
            assert row[field] == pytest.approx(value, rel=tolerance), (key, field)
    assert [r["count"] for r in rows] == sorted((r["count"] for r in rows), reverse=True)


def test_table_lists_every_route_under_its_window(stats_db: Path) -> None:
    result = run_cli("stats", "--db", str(stats_db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("traces started from ")
    assert lines[1].split() == [
        "SERVICE",
        "NAME",
        "COUNT",
        "RATE/S",
        "ERRORS",
        "ERR%",
        "P50",
        "P90",
        "P95",
        "P99",
        "MAX",
        "RUNNING",
    ]
    first = lines[2].split()
    assert first[:3] == ["shop", "GET", "/a"] and first[3] == "11" and first[-1] == "1"
    assert first[-6:-1] == ["10.0ms", "80.0ms", "160ms", "160ms", "160ms"]
    assert len(lines) == 2 + 4
    assert "\x1b" not in result.stdout and "GET /␛[31mred" in result.stdout


def test_expr_is_a_trace_query(stats_db: Path) -> None:
    def routes(expr: str) -> dict[tuple[str, str], tuple[int, int]]:
        result = run_cli("stats", expr, "--db", str(stats_db), "--format", "json")
        assert result.returncode == 0, result.stderr
        return {
            (r["service"], r["name"]): (r["count"], r["errors"]) for r in json.loads(result.stdout)
        }

    # Bare words: the root span name contains them, case-folded.
    assert routes("get /A") == {("shop", "GET /a"): (11, 1), ("pay", "GET /a"): (3, 0)}
    assert routes("status = error") == {("shop", "GET /a"): (1, 1)}
    assert routes('duration >= 80ms or name = "GET /b"') == {
        ("shop", "GET /a"): (3, 0),
        ("shop", "GET /b"): (1, 0),
    }


def test_windows_by_clock_and_date_and_all(stats_db: Path) -> None:
    def counts(*window: str) -> int:
        result = run_cli(
            "stats", "--db", str(stats_db), "--by", "service", "--format", "json", *window
        )
        assert result.returncode == 0, result.stderr
        return sum(r["count"] for r in json.loads(result.stdout))

    assert counts("--since", "all") == 17
    assert counts() == 16  # the 20-minute-old trace is outside the default 15 minutes
    start = dt.datetime.fromtimestamp((NOW - 25_000.0) / 1000.0)
    assert counts("--since", start.isoformat()) == 1  # only the escape-named trace
    if start.date() == dt.date.today():  # a clock time is today's
        assert counts("--since", start.strftime("%H:%M:%S.%f"), "--until", "now") == 1
    assert counts("--since", "1h", "--until", "19m") == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--since", "5 parsecs"), "--since: not a time"),
        (("--until", "yesterday-ish"), "--until: not a time"),
        (("--since", "10m", "--until", "20m"), "must be before"),
        (("--since", "25:61"), "--since: not a time"),
        (("duration > 5 parsecs",), "bad query: unknown unit 'parsecs' at column 14"),
        (("{ name = ",), "bad query"),
        (("--by", "route"), "invalid choice"),
        (("--format", "xml"), "invalid choice"),
        (("--since", "2026-13-45"), "--since: not a time"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    stats_db: Path, args: tuple[str, ...], needle: str
) -> None:
    result = run_cli("stats", "--db", str(stats_db), *args)
    assert result.returncode == 2
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_bad_databases_are_one_line_and_exit_2(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for db, needle in (
        (tmp_path / "missing.db", "no such trace database"),
        (tmp_path / "no" / "dir.db", "does not exist"),
        (text, "not a SQLite database"),
        (tmp_path, "is a directory"),
    ):
        result = run_cli("stats", "--db", str(db))
        assert result.returncode == 2, db
        assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_lens_db_and_an_empty_window(stats_db: Path) -> None:
    result = run_cli("stats", "--since", "10d", "--until", "9d", env={"LENS_DB": str(stats_db)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith(": none")
    result = run_cli(
        "stats",
        "--since",
        "10d",
        "--until",
        "9d",
        "--format",
        "json",
        env={"LENS_DB": str(stats_db)},
    )
    assert json.loads(result.stdout) == []


def test_a_database_written_by_the_tracing_library(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    tracing.configure(db, service="shop", flush_interval=0.02)
    try:
        for i in range(6):
            try:
                with tracing.span("GET /orders"):
                    if i == 5:
                        raise RuntimeError("boom")
            except RuntimeError:
                pass
        tracing.flush()
    finally:
        tracing.shutdown()
    conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
    durations = [r[0] for r in conn.execute("SELECT duration_ms FROM traces")]
    conn.close()
    result = run_cli("stats", "--db", str(db), "--format", "json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert (row["service"], row["name"], row["count"], row["errors"]) == (
        "shop",
        "GET /orders",
        6,
        1,
    )
    assert row["p50_ms"] == _nearest(durations, 50) and row["max_ms"] == max(durations)


def test_help_states_the_method() -> None:
    result = run_cli("stats", "--help")
    assert result.returncode == 0
    assert "nearest-rank" in result.stdout and "ceil(N/100 * n)" in result.stdout
    top = run_cli("--help")
    assert "lens-tui stats" in top.stdout
