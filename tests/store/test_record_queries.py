"""The query language, route stats and the commands (`show`, `query`, `logs`, `stats`, and
those that write) on a record-store file written as the dispatch trace store writes it, read
through the real reader and real processes, never written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lens_tui.query import compile_log_query, compile_trace_query
from lens_tui.query.run import LogFollower, TraceFollower, find_logs, find_traces
from lens_tui.store.reader import TraceReader
from lens_tui.store.stats import route_stats

from .record_sample import T0
from .record_store import RecordStore, file_sha256, log, span_close, span_open

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- the query language

TRACE_QUERIES = {
    "status = error": ["turn-0003", "turn-0001"],
    "status = running": ["turn-0002"],
    "duration > 50ms": ["turn-0003", "turn-0001"],
    "service = ext.beta": ["turn-0004", "turn-0003"],
    'attr.model = "m-1"': ["turn-0001"],
    'attr.conversationId = "conv-2"': ["turn-0004", "turn-0003"],
    '{ name = "tool: weather" and status = error }': ["turn-0001"],
    "{ duration >= 40ms and duration < 50ms }": ["turn-0003", "turn-0002"],
    'not { service = "ext.alpha" }': ["turn-0005", "extension:ext.zeta", "turn-0004", "turn-0003"],
    "trace = conversation": ["conversation:conv-9"],
    '"[bold red]"': ["turn-0005"],
}


@pytest.mark.parametrize("text", list(TRACE_QUERIES))
def test_trace_queries_select_in_sql_what_their_predicate_keeps(
    record_reader: TraceReader, text: str
) -> None:
    query = compile_trace_query(text)
    found = [t.trace_id for t in find_traces(record_reader, query, limit=100)]
    assert found == TRACE_QUERIES[text]
    kept = [
        t.trace_id
        for t in record_reader.recent_traces()
        if query.matches(t, spans=record_reader.trace(t.trace_id).spans)
    ]
    assert found == kept


LOG_QUERIES = {
    "level >= warn": 5,
    'logger = "ext.beta"': 2,
    'attr.city = "Oslo"': 1,
    'message ~ "FORECAST"': 4,
    "trace = turn-0001 level >= info": 4,
    "span = s1-tool": 4,
    'attr.conversationId = "conv-9"': 1,
}


@pytest.mark.parametrize("text", list(LOG_QUERIES))
def test_log_queries_select_in_sql_what_their_predicate_keeps(
    record_reader: TraceReader, text: str
) -> None:
    query = compile_log_query(text)
    found = find_logs(record_reader, query, limit=100)
    assert len(found) == LOG_QUERIES[text]
    assert found == [g for g in record_reader.logs(limit=100) if query.matches(g)]


def test_following_queries_as_records_arrive(record_db: Path) -> None:
    # One reader each: a follower's poll takes the change it saw (`changed()`).
    with TraceReader(record_db) as reader, TraceReader(record_db) as log_reader:
        traces = TraceFollower(reader, compile_trace_query("status = error"))
        logs = LogFollower(log_reader, compile_log_query("level >= error"))
        assert traces.poll() == [] and logs.poll() == []
        store = RecordStore(record_db)
        ids = {"turnId": "turn-0008", "extensionId": "ext.alpha"}
        store.insert([
            span_open("s8", "fails later", T0 + 8_000, **ids),
            log("error", "it broke", T0 + 8_001, spanId="s8", **ids),
        ])  # fmt: skip
        assert traces.poll() == []  # running, not failed yet
        assert [g.message for g in logs.poll()] == ["it broke"]
        store.insert([span_close("s8", "fails later", T0 + 8_010, 10, "error", **ids)])
        store.close()
        assert [t.trace_id for t in traces.poll()] == ["turn-0008"]
        assert traces.poll() == [] and logs.poll() == []


def test_route_stats_per_extension_and_root_name(record_reader: TraceReader) -> None:
    rows = route_stats(record_reader, since_ms=None, until_ms=float(T0 + 10_000), by="service")
    by_service = {r.key.fields()["service"]: r for r in rows}
    alpha = by_service["ext.alpha"]  # turns 1 and 2, and conv-9's background work
    assert (alpha.count, alpha.running, alpha.errors) == (3, 1, 1)
    assert (alpha.p50_ms, alpha.max_ms) == (10.0, 100.0)
    beta = by_service["ext.beta"]
    assert (beta.count, beta.errors, beta.max_ms) == (2, 1, 110.0)
    named = route_stats(
        record_reader,
        since_ms=None,
        until_ms=float(T0 + 10_000),
        where=compile_trace_query("status = error"),
    )
    assert sorted((r.key.fields()["name"], r.p95_ms) for r in named) == [
        ("handle message", 100.0), ("out of order", 110.0)
    ]  # fmt: skip


# --------------------------------------------------------------------------- lens-tui show


def _show(db: Path, *args: str, command: str = "show") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "lens_tui", command, "--db", str(db), *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_show_prints_a_turn_as_a_tree_and_as_json(record_db: Path) -> None:
    before = file_sha256(record_db)
    tree = _show(record_db, "turn-0001")
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.splitlines() == [
        "trace turn-0001  handle message  100ms  started 2023-11-14 22:13:20.000  1 error",
        "  handle message  100ms  [ext.alpha]",
        "      INFO  answered",
        "    ✗ tool: weather  30.0ms  [ext.alpha]",
        "        DEBUG looking up the forecast",
        "        INFO  calling the forecast service",
        "        WARN  forecast service slow",
        "        ERROR forecast service failed",
    ]
    out = _show(record_db, "0003", "--json")  # a tail names the turn
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["trace"]["trace_id"] == "turn-0003" and data["trace"]["status"] == "error"
    assert [(s["span_id"], s["duration_ms"]) for s in data["spans"]] == [
        ("s3-root", 110.0), ("s3-child", 40.0)
    ]  # fmt: skip
    assert data["spans"][0]["attributes"] == {"conversationId": "conv-2"}
    assert [g["message"] for g in data["logs"]] == ["late log"]
    assert file_sha256(record_db) == before


def test_show_makes_hostile_text_visible(record_db: Path) -> None:
    out = _show(record_db, "turn-0005")
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout
    assert "[bold red]x[/]" in out.stdout and "␛]0;pwned␇title" in out.stdout
    assert "ok \ufffd bad" in out.stdout
    missing = _show(record_db, "turn-9999")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "no trace 'turn-9999'" in missing.stderr


def test_query_logs_and_stats_commands_read_a_record_store(record_db: Path) -> None:
    before = file_sha256(record_db)
    found = _show(record_db, "status = error", "--format", "jsonl", command="query")
    assert found.returncode == 0, found.stderr
    assert [json.loads(line)["trace_id"] for line in found.stdout.splitlines()] == [
        "turn-0003", "turn-0001"
    ]  # fmt: skip
    logs = _show(record_db, "level >= error", "--format", "jsonl", command="logs")
    assert logs.returncode == 0, logs.stderr
    assert [json.loads(line)["span_id"] for line in logs.stdout.splitlines()] == [
        "s1-tool",
        "s5-esc",
    ]
    stats = _show(record_db, "--since", "all", "--format", "json", command="stats")
    assert stats.returncode == 0, stats.stderr
    assert sum(row["count"] for row in json.loads(stats.stdout)) == 7
    assert file_sha256(record_db) == before


def test_commands_that_write_refuse_a_record_store(record_db: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    before = file_sha256(record_db)
    for command in (
        ["prune", "--db", str(record_db)],
        ["otlp", "--db", str(record_db), "--port", "0"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "lens_tui", *command],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().endswith("lens-tui shows it but never writes to it")
        assert "Traceback" not in done.stderr
    assert file_sha256(record_db) == before
