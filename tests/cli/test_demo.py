"""`lens-tui demo` as a new user runs it: the workload it writes, read back from the database by a
second connection, and the one-line failures before any screen (a bad --db, a workload that dies)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import apsw
import pytest

from lens_tui import tracing
from lens_tui.tracing import lens_fn

from .support import rows, user_env

DURATION_S = 8
RATE = 100  # about 800 requests: enough for a stable error share, a second of CPU
SEED = 7


def demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "lens_tui", "demo", *args]


@dataclass
class DemoRun:
    db: Path
    returncode: int
    stderr: str
    running_seen: set[str] = field(default_factory=set)
    """Names of spans a second connection saw running (no duration yet) while the workload ran."""


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One seeded, timed run of the workload, watched from outside while it writes."""
    db = tmp_path_factory.mktemp("demo") / "traces.db"
    child = subprocess.Popen(
        demo_command(
            "--no-ui",
            "--duration",
            str(DURATION_S),
            "--rate",
            str(RATE),
            "--seed",
            str(SEED),
            "--db",
            str(db),
        ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=user_env(),
    )
    running: set[str] = set()
    deadline = time.monotonic() + DURATION_S + 30
    while child.poll() is None and time.monotonic() < deadline:
        if db.exists():
            try:
                running.update(
                    name
                    for (name,) in rows(
                        db,
                        "SELECT name FROM spans WHERE duration_ms IS NULL AND status = 'running'",
                    )
                )
            except apsw.Error:  # not migrated yet
                pass
        time.sleep(0.25)
    try:
        _, stderr = child.communicate(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        child.kill()
        _, stderr = child.communicate()
    return DemoRun(db, child.returncode, stderr, running)


def test_a_timed_run_exits_cleanly_and_leaves_nothing_running(demo_run: DemoRun) -> None:
    assert demo_run.returncode == 0, demo_run.stderr
    assert f"demo writing to {demo_run.db}" in demo_run.stderr
    assert rows(demo_run.db, "SELECT count(*) FROM spans WHERE duration_ms IS NULL") == [(0,)]
    assert rows(demo_run.db, "SELECT count(*) FROM traces WHERE status = 'running'") == [(0,)]


def test_routes_are_root_spans_named_by_template(demo_run: DemoRun) -> None:
    roots = dict(rows(demo_run.db, "SELECT root_span_name, count(*) FROM traces GROUP BY 1"))
    for route in (
        "GET /users/{user_id}",
        "GET /search",
        "POST /orders",
        "GET /products/{product_id}",
        "GET /health",
    ):
        assert roots.get(route, 0) >= 10, roots
    assert not [name for name in roots if any(c.isdigit() for c in name)], (
        roots
    )  # /users/17 is not a name
    assert sum(roots.values()) >= RATE * DURATION_S * 0.5


def test_database_queries_and_cache_hits_and_misses(demo_run: DemoRun) -> None:
    queries = rows(demo_run.db, "SELECT attributes FROM spans WHERE name = 'db.query'")
    assert len(queries) >= 100
    assert all(json.loads(a)["db.statement"].startswith(("SELECT", "INSERT")) for (a,) in queries)
    hits = [
        json.loads(a)["cache.hit"]
        for (a,) in rows(demo_run.db, "SELECT attributes FROM spans WHERE name = 'cache.get'")
    ]
    assert hits.count(True) >= 20 and hits.count(False) >= 20
    assert rows(demo_run.db, "SELECT count(*) FROM spans WHERE name = 'cache.set'")[0][0] >= 10


def test_outgoing_calls_have_attempt_spans_and_retries(demo_run: DemoRun) -> None:
    calls = dict(
        rows(
            demo_run.db,
            "SELECT name, count(*) FROM spans WHERE name LIKE 'http.client %' GROUP BY 1",
        )
    )
    assert (
        calls.get("http.client GET payments", 0) >= 20
        and calls.get("http.client GET email", 0) >= 20
    ), calls
    attempts = rows(
        demo_run.db,
        """
        SELECT count(*) FROM spans a JOIN spans c ON c.span_id = a.parent_span_id
        WHERE a.name = 'attempt' AND c.name LIKE 'http.client %' GROUP BY a.parent_span_id""",
    )
    assert sum(n for (n,) in attempts) >= len(attempts) >= 40  # every call has its attempt(s)
    assert max(n for (n,) in attempts) >= 2  # some were retried
    timeouts = rows(
        demo_run.db,
        "SELECT count(*) FROM spans WHERE name = 'attempt' AND exception_type = 'UpstreamTimeout'",
    )
    assert timeouts[0][0] >= 1
    assert rows(demo_run.db, "SELECT count(*) FROM logs WHERE message LIKE 'retrying %'")[0][0] >= 1


def test_about_three_percent_of_traces_fail_spread_over_routes(demo_run: DemoRun) -> None:
    per_route = rows(
        demo_run.db, "SELECT root_span_name, count(*), sum(status = 'error') FROM traces GROUP BY 1"
    )
    total = sum(n for _, n, _ in per_route)
    failed = sum(e for _, _, e in per_route)
    assert 0.015 <= failed / total <= 0.05, (failed, total, per_route)
    failing = {name: e / n for name, n, e in per_route if e}
    assert len(failing) >= 3, per_route
    assert max(failing.values()) <= 0.2, per_route  # POST /orders fails most, but not one in four
    assert "GET /health" not in failing


def test_failed_spans_carry_tracebacks_and_error_logs(demo_run: DemoRun) -> None:
    kinds = dict(
        rows(
            demo_run.db,
            """
        SELECT exception_type, count(*) FROM spans
        WHERE status = 'error' AND traceback LIKE 'Traceback (most recent call last)%' GROUP BY 1""",
        )
    )
    assert {"KeyError", "PaymentDeclined", "UpstreamTimeout"} <= set(kinds), kinds
    logged = rows(
        demo_run.db, "SELECT count(*) FROM logs WHERE level = 'error' AND traceback IS NOT NULL"
    )
    assert logged[0][0] >= 1


def test_logs_at_every_level_tied_to_traces(demo_run: DemoRun) -> None:
    levels = dict(rows(demo_run.db, "SELECT level, count(*) FROM logs GROUP BY 1"))
    assert set(levels) == {"debug", "info", "warn", "error"}, levels
    assert rows(demo_run.db, "SELECT count(*) FROM logs WHERE trace_id IS NOT NULL")[0][0] >= 100


def test_long_jobs_are_seen_running_while_the_workload_runs(demo_run: DemoRun) -> None:
    assert "job.export_report" in demo_run.running_seen, demo_run.running_seen
    jobs = rows(
        demo_run.db,
        "SELECT duration_ms, span_count FROM traces WHERE root_span_name = 'job.export_report'",
    )
    assert jobs and all(ms >= 1000 and count >= 2 for ms, count in jobs), (
        jobs
    )  # export.chunk children


def test_a_trace_of_thousands_of_spans_comes_in_the_first_seconds(demo_run: DemoRun) -> None:
    big = rows(
        demo_run.db,
        """
        SELECT span_count, started_at - (SELECT min(started_at) FROM traces) FROM traces
        WHERE root_span_name = 'POST /admin/reindex'""",
    )
    assert big, "no reindex trace"
    spans, after_ms = big[0]
    assert spans >= 1000
    assert after_ms <= 5000
    counted = rows(
        demo_run.db,
        "SELECT count(*) FROM spans WHERE trace_id = (SELECT trace_id FROM traces "
        "WHERE root_span_name = 'POST /admin/reindex' LIMIT 1)",
    )
    assert counted == [(spans,)]


# --- failures: one line on stderr, before any screen -------------------------------------------


def run_demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`lens-tui demo ARGS` to its end (with the dashboard unless --no-ui is among ARGS)."""
    return subprocess.run(
        demo_command(*args),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env or user_env(),
    )


def assert_one_line_before_any_screen(
    result: subprocess.CompletedProcess[str], code: int, needle: str
) -> None:
    assert result.returncode == code, result.stderr
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "\x1b[" not in result.stdout + result.stderr  # no screen was ever drawn


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("text", "is not a SQLite database"),
        ("other-app", "not a trace database"),
        ("directory", "is a directory"),
        ("file-as-directory", "is not a directory"),
    ],
)
def test_a_db_that_is_not_a_trace_database_is_refused(
    tmp_path: Path, kind: str, needle: str
) -> None:
    target = tmp_path / "x.db"
    if kind == "text":
        target.write_text("hello, I am not a database\n")
    elif kind == "other-app":
        conn = apsw.Connection(str(target))
        conn.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'ada')"
        )
        conn.close()
    elif kind == "directory":
        target.mkdir()
    else:
        (tmp_path / "file").write_text("")
        target = tmp_path / "file" / "x.db"
    before = target.read_bytes() if target.is_file() else None
    result = run_demo("--db", str(target))
    assert_one_line_before_any_screen(result, 2, needle)
    if before is not None:
        assert target.read_bytes() == before  # untouched: no tables added, no WAL switched on
    assert not list(tmp_path.glob("*.demo.log"))  # no workload was started


@pytest.mark.parametrize("args", [("--rate", "0"), ("--rate", "fast"), ("--duration", "-1")])
def test_bad_numbers_are_one_line_and_exit_2(tmp_path: Path, args: tuple[str, str]) -> None:
    result = run_demo("--db", str(tmp_path / "t.db"), *args)
    assert_one_line_before_any_screen(result, 2, args[0])


def test_a_new_path_in_a_new_directory_is_created(tmp_path: Path) -> None:
    db = tmp_path / "new" / "dir" / "traces.db"
    result = run_demo("--no-ui", "--duration", "1", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT count(*) FROM traces WHERE root_span_name LIKE 'GET %'")[0][0] >= 5


def test_an_existing_trace_database_is_added_to(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"

    @lens_fn("nightly backup")
    def backup() -> None:
        pass

    tracing.configure(db, service="ops", flush_interval=0.02)
    backup()
    tracing.flush()
    tracing.shutdown()
    result = run_demo("--no-ui", "--duration", "1", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert rows(db, "SELECT service FROM traces WHERE root_span_name = 'nightly backup'") == [
        ("ops",)
    ]
    assert rows(db, "SELECT count(*) FROM traces WHERE service = 'shop-api'")[0][0] >= 5


CRASH_AT_START = """\
import os, sys
if "lens_tui.demo" in sys.orig_argv:  # the workload child only, not the lens-tui parent
    sys.stderr.write("Traceback (most recent call last):\\nRuntimeError: simulated crash at start\\n")
    sys.stderr.flush()
    os._exit(3)
"""


@pytest.mark.parametrize("ui", [True, False], ids=["dashboard", "no-ui"])
def test_a_workload_that_dies_at_start_is_one_line_not_a_waiting_screen(
    tmp_path: Path, ui: bool
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(CRASH_AT_START)
    env = user_env(
        PYTHONPATH=os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")]))
    )
    db = tmp_path / "traces.db"
    result = run_demo("--db", str(db), *([] if ui else ["--no-ui"]), env=env)
    assert_one_line_before_any_screen(
        result, 1, "the workload stopped at start: RuntimeError: simulated crash at start"
    )
    assert "exit code 3" in result.stderr
    assert f"{db}.demo.log" in result.stderr
