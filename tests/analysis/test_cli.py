"""`lens-tui show TRACE --stats` and `lens-tui diff A B` as a user runs them: real processes on a
database written by the real writer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from .spans import Sp, write_traces

A = "4bf92f3577b34da6a3ce929d0e0e4736"
B = "4bf92f3577b34da6a3ce929d0e0e4799"
RUNNING = "9f0000000000000000000000000000aa"
HOSTILE = "\x1b]0;pwned\x07[bold]x[/]"

TRACE_A = [
    Sp("a0", None, "GET /checkout", 0, 100, "edge"),
    Sp("a1", "a0", "SELECT cart", 10, 40, "db"),
    Sp("a2", "a0", "SELECT cart", 20, 20, "db"),  # inside a1: counted once
    Sp("a3", "a0", "publish", 90, 60, "queue"),  # outlives the request
    Sp("a4", "gone", HOSTILE, 5, 10, "edge"),  # an orphan with a hostile name
]
TRACE_B = [
    Sp("b0", None, "GET /checkout", 0, 130, "edge"),
    Sp("b1", "b0", "SELECT cart", 10, 70, "db"),
    Sp("b2", "b0", "SELECT cart", 20, 20, "db"),
    Sp("b5", "b0", "charge", 85, 40, "payments"),  # new in B
]
TRACE_RUNNING = [Sp("r0", None, "job", 0, None, "worker"), Sp("r1", "r0", "step", 1, 2, "worker")]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m lens_tui ARGS` in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != "LENS_DB"}
    return subprocess.run(
        [sys.executable, "-m", "lens_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "traces.db"
    write_traces(path, {A: TRACE_A, B: TRACE_B, RUNNING: TRACE_RUNNING})
    return path


def one_error_line(result: subprocess.CompletedProcess[str], *words: str, listed: int = 0) -> None:
    """Exit code 2, nothing on stdout, one line saying why on stderr (followed by `listed`
    lines naming candidates, as `show` lists the traces an ambiguous id names)."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 + listed and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0]


def test_stats_table_by_self_time(db: Path) -> None:
    result = run_cli("show", A, "--stats", "--db", str(db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "service",
        "name",
        "count",
        "total",
        "ms",
        "self",
        "ms",
        "avg",
        "ms",
        "min",
        "ms",
        "max",
        "ms",
        "share",
    ]
    body = [line.split() for line in lines[1:-1]]
    assert [cells[0] for cells in body] == ["db", "queue", "edge", "edge"]  # a tie: by service
    assert body[0] == [
        "db",
        "SELECT",
        "cart",
        "2",
        "60.000",
        "60.000",
        "30.000",
        "20.000",
        "40.000",
        "40.0%",
    ]
    assert body[1] == [
        "queue",
        "publish",
        "1",
        "60.000",
        "60.000",
        "60.000",
        "60.000",
        "60.000",
        "40.0%",
    ]
    # The request's own time: 100 ms less 10..50 (two overlapping queries) and 90..100.
    assert body[2][:2] == ["edge", "GET"] and body[2][-5] == "50.000"
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "␛]0;pwned␇[bold]x[/]" in lines[4]  # shown literally, controls made visible
    assert lines[-1] == "5 spans, trace 150.000 ms"


def test_stats_as_json_sorted_by_any_column(db: Path) -> None:
    result = run_cli(
        "show", A[:31].upper(), "--stats", "--format", "json", "--sort", "total", "--db", str(db)
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == ["GET /checkout", "SELECT cart", "publish", HOSTILE]
    db_row = rows[1]
    assert db_row == {
        "service": "db",
        "name": "SELECT cart",
        "count": 2,
        "total_ms": pytest.approx(60),
        "self_ms": pytest.approx(60),
        "avg_ms": pytest.approx(30),
        "min_ms": pytest.approx(20),
        "max_ms": pytest.approx(40),
        "share": pytest.approx(0.4),
        "running": 0,
    }
    same = run_cli("show", A, "--stats", "--json", "--sort", "total", "--db", str(db))
    assert json.loads(same.stdout) == rows
    by_name = json.loads(
        run_cli("show", A, "--stats", "--json", "--sort", "name", "--db", str(db)).stdout
    )
    assert [row["name"] for row in by_name] == sorted(
        (row["name"] for row in rows), key=str.casefold
    )


def test_stats_of_a_running_trace_count_until_now(db: Path) -> None:
    result = run_cli("show", RUNNING, "--stats", "--db", str(db))
    assert result.returncode == 0, result.stderr
    job = next(line for line in result.stdout.splitlines() if " job " in line)
    assert job.split()[2] == "1*"
    assert float(job.split()[3]) >= 60_000  # written a minute in the past, still open
    assert result.stdout.splitlines()[-1].endswith("* 1 still running (counted until now)")
    rows = json.loads(run_cli("show", RUNNING, "--stats", "--json", "--db", str(db)).stdout)
    assert {row["name"]: row["running"] for row in rows} == {"job": 1, "step": 0}


def test_stats_bad_forms_are_one_line_and_exit_2(db: Path) -> None:
    one_error_line(run_cli("show", A, "--format", "table", "--db", str(db)), "--stats")
    one_error_line(run_cli("show", A, "--sort", "total", "--db", str(db)), "--sort needs --stats")
    one_error_line(
        run_cli("show", A, "--stats", "--format", "otlp-json", "--db", str(db)), "table or json"
    )
    one_error_line(run_cli("show", A, "--stats", "--sort", "colour", "--db", str(db)), "colour")
    one_error_line(run_cli("show", "4bf92f", "--stats", "--db", str(db)), "ambiguous", listed=2)
    one_error_line(run_cli("show", "ffff", "--stats", "--db", str(db)), "no trace")
    one_error_line(run_cli("show", A, "--stats", "--db", str(db.parent / "nope.db")), "no such")


def test_show_without_stats_still_prints_the_tree(db: Path) -> None:
    result = run_cli("show", A, "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"trace {A}  GET /checkout")


def test_diff_tree_marks_spans_present_on_one_side(db: Path) -> None:
    result = run_cli("diff", A[:-2] + "36", B, "--db", str(db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"A {A}  GET /checkout  150.000 ms  (5 spans)")
    assert lines[1].startswith(f"B {B}  GET /checkout  130.000 ms  (4 spans)")
    assert lines[2].split() == ["A", "ms", "B", "ms", "B", "-", "A", "span"]
    rows = [line[:40].split() + [line[42:]] for line in lines[3:-1]]
    assert [row[:3] for row in rows] == [
        ["100.000", "130.000", "+30.000"],
        ["40.000", "70.000", "+30.000"],
        ["20.000", "20.000", "+0.000"],
        ["-", "40.000", "+40.000"],
        ["60.000", "-", "-60.000"],
        ["10.000", "-", "-10.000"],
    ]
    assert [row[3] for row in rows] == [
        "GET /checkout",
        "  SELECT cart",
        "  SELECT cart #2",
        "  charge  [only in B]",
        "  publish  [only in A]",
        "␛]0;pwned␇[bold]x[/]  [only in A]",
    ]
    assert lines[-1] == "3 paired, 2 only in A, 1 only in B; trace B - A -20.000 ms"


def test_diff_takes_ids_as_show_does(db: Path) -> None:
    by_tail = run_cli("diff", A[-4:], B[-4:].upper(), "--format", "json", "--db", str(db))
    assert by_tail.returncode == 0, by_tail.stderr
    whole = run_cli("diff", A, B, "--format", "json", "--db", str(db))
    assert json.loads(by_tail.stdout) == json.loads(whole.stdout)


def test_diff_regressions_first_and_limited(db: Path) -> None:
    result = run_cli("diff", A, B, "--sort", "delta", "--limit", "3", "--db", str(db))
    assert result.returncode == 0, result.stderr
    rows = [line[:40].split() + [line[42:]] for line in result.stdout.splitlines()[3:-1]]
    assert [(row[2], row[3]) for row in rows] == [
        ("+40.000", "GET /checkout > charge  [only in B]"),
        ("+30.000", "GET /checkout"),
        ("+30.000", "GET /checkout > SELECT cart"),
    ]


def test_diff_as_json(db: Path) -> None:
    result = run_cli("diff", A, B, "--format", "json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    summary = [
        (row["path"], row["a_ms"], row["b_ms"], row["delta_ms"], row["only_in"]) for row in rows
    ]
    assert summary == [
        (["GET /checkout"], 100, 130, 30, None),
        (["GET /checkout", "SELECT cart"], 40, 70, 30, None),
        (["GET /checkout", "SELECT cart"], 20, 20, 0, None),
        (["GET /checkout", "charge"], None, 40, 40, "b"),
        (["GET /checkout", "publish"], 60, None, -60, "a"),
        ([HOSTILE], 10, None, -10, "a"),
    ]
    assert [row["index"] for row in rows[:3]] == [[0], [0, 0], [0, 1]]
    assert (rows[0]["a_span_id"], rows[0]["b_span_id"]) == ("a0", "b0")
    assert rows[0]["a_self_ms"] == pytest.approx(50) and rows[0]["b_self_ms"] == pytest.approx(20)
    regressions = json.loads(
        run_cli("diff", A, B, "--format", "json", "--sort", "self", "--db", str(db)).stdout
    )
    assert regressions[0]["path"] == ["GET /checkout", "charge"]


def test_diff_bad_forms_are_one_line_and_exit_2(db: Path) -> None:
    one_error_line(run_cli("diff", A, "ffff", "--db", str(db)), "no trace", "ffff")
    ambiguous = run_cli("diff", "4bf9", B, "--db", str(db))
    one_error_line(ambiguous, "ambiguous", listed=2)
    assert A in ambiguous.stderr and B in ambiguous.stderr
    one_error_line(run_cli("diff", A, "--db", str(db)), "trace_b")
    one_error_line(run_cli("diff", A, B, "--limit", "-1", "--db", str(db)), "--limit")
    one_error_line(run_cli("diff", A, B, "--format", "xml", "--db", str(db)), "xml")
    one_error_line(run_cli("diff", A, B, "--db", str(db.parent / "nope.db")), "no such")
    not_db = db.parent / "notes.txt"
    not_db.write_text("hello\n")
    one_error_line(run_cli("diff", A, B, "--db", str(not_db)))


def test_help_lists_diff() -> None:
    result = run_cli("--help")
    assert result.returncode == 0 and "lens-tui diff TRACE_A TRACE_B" in result.stdout
    assert "--stats" in run_cli("show", "--help").stdout


def test_chains_ten_thousand_deep_print_without_recursion(tmp_path: Path) -> None:
    path = tmp_path / "deep.db"
    long_chain = [
        Sp(f"d{i:05d}", f"d{i - 1:05d}" if i else None, "level", i * 0.5, float(20_000 - i))
        for i in range(10_000)
    ]
    short_chain = [
        replace(s, id="e" + s.id[1:], parent=None if s.parent is None else "e" + s.parent[1:])
        for s in long_chain[:9_990]
    ]
    write_traces(path, {A: long_chain, B: short_chain})
    stats = run_cli("show", A, "--stats", "--json", "--db", str(path))
    assert stats.returncode == 0, stats.stderr
    (row,) = json.loads(stats.stdout)
    assert row["count"] == 10_000 and row["self_ms"] == pytest.approx(9_999 + 10_001)
    tree = run_cli("diff", A, B, "--db", str(path))
    assert tree.returncode == 0, tree.stderr
    lines = tree.stdout.splitlines()
    assert len(lines) == 3 + 10_000 + 1
    assert lines[-2].endswith("┆9999┆ level  [only in A]")
    assert lines[-1].startswith("9990 paired, 10 only in A, 0 only in B")
    by_delta = run_cli("diff", A, B, "--sort", "delta", "--db", str(path))
    assert by_delta.returncode == 0, by_delta.stderr
    biggest_drop = by_delta.stdout.splitlines()[-2]  # the first span B lacks: 10,010 ms
    assert biggest_drop.split()[2] == "-10010.000"
    assert biggest_drop.endswith("  … > level > level > level > level > level  [only in A]")
