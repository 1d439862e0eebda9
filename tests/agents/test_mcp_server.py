"""`lens-tui mcp` driven through the MCP SDK's own stdio client, on fixture databases."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.ui import fixture_db

mcp = pytest.importorskip("mcp", reason="the mcp extra is not installed (pip install -e '.[test]')")
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = fixture_db.trace_id(2)
"""The fixture's failed trace: POST /checkout, payments.charge raised ValueError."""


@asynccontextmanager
async def session(db: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "lens_tui", "mcp", "--db", str(db)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as client:
            await client.initialize()
            yield client


def _data(result: Any) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        data = result.structured_content
        return (
            data.get("result", data) if isinstance(data, dict) and set(data) == {"result"} else data
        )
    return json.loads(result.content[0].text)


def _error_text(result: Any) -> str:
    assert result.is_error
    return " ".join(getattr(part, "text", "") for part in result.content)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return fixture_db.build(tmp_path / "traces.db")


async def test_lists_its_tools_read_only(db: Path) -> None:
    async with session(db) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == {
        "search_traces",
        "get_trace",
        "search_logs",
        "trace_stats",
        "recent_errors",
    }
    for tool in tools.values():
        assert tool.description and tool.annotations and tool.annotations.read_only_hint


async def test_recent_errors_names_the_failing_span_and_its_traceback(db: Path) -> None:
    async with session(db) as client:
        rows = _data(await client.call_tool("recent_errors", {"limit": 5}))
    assert [row["trace_id"] for row in rows] == [CHECKOUT]
    row = rows[0]
    assert row["root_span_name"] == "POST /checkout" and row["status"] == "error"
    assert row["failing_span"]["name"] == "payments.charge"
    assert row["error"] == "ValueError: card declined"
    assert row["traceback"].splitlines()[-1] == "ValueError: card declined"


async def test_get_trace_as_a_tree_and_as_json_by_a_prefix(db: Path) -> None:
    orders = fixture_db.trace_id(1)
    async with session(db) as client:
        tree = _data(await client.call_tool("get_trace", {"trace_id": orders}))
        as_json = _data(await client.call_tool("get_trace", {"trace_id": orders, "format": "json"}))
    lines = tree["tree"].splitlines()
    assert lines[0].startswith(f"trace {orders}  GET /orders")
    assert any(line.strip().startswith("db.query SELECT orders") for line in lines)
    assert any("DEBUG query took 18 ms" in line for line in lines)  # a log under its span
    assert tree["span_count"] == tree["spans_shown"] == 7 and "note" not in tree
    names = [span["name"] for span in as_json["trace"]["spans"]]
    assert names[0] == "GET /orders" and len(names) == 7


async def test_search_traces_and_logs_with_the_query_language(db: Path) -> None:
    async with session(db) as client:
        failed = _data(await client.call_tool("search_traces", {"query": "status = error"}))
        slow = _data(
            await client.call_tool("search_traces", {"query": "duration > 40ms", "limit": 5})
        )
        spans = _data(
            await client.call_tool("search_traces", {"query": '{ name = "db.query SELECT items" }'})
        )
        warned = _data(await client.call_tool("search_logs", {"query": "level >= warn"}))
        declined = _data(await client.call_tool("search_logs", {"query": "declined"}))
    assert [t["trace_id"] for t in failed] == [CHECKOUT]
    assert set(failed[0]) == {
        "trace_id",
        "root_span_name",
        "service",
        "started_at",
        "duration_ms",
        "status",
        "span_count",
        "error_count",
    }
    # Newest first; GET /reports/export is still running and has no duration yet.
    assert [t["root_span_name"] for t in slow] == ["POST /checkout", "GET /orders"]
    assert [t["trace_id"] for t in spans] == [fixture_db.trace_id(1)]
    assert [log["level"] for log in warned] == ["warn", "error", "warn"]
    assert warned == sorted(warned, key=lambda log: log["id"])  # oldest of the newest first
    assert [log["message"] for log in declined] == ["card declined for order 1234"]
    assert declined[0]["trace_id"] == CHECKOUT and isinstance(declined[0]["attributes"], dict)


async def test_trace_stats_per_route(db: Path) -> None:
    async with session(db) as client:
        rows = _data(await client.call_tool("trace_stats", {"since": "all"}))
        by_service = _data(await client.call_tool("trace_stats", {"since": "all", "by": "service"}))
        failed = _data(
            await client.call_tool("trace_stats", {"query": "status = error", "since": "all"})
        )
    by_name = {row["name"]: row for row in rows}
    assert by_name["GET /health"]["count"] == 4 and by_name["GET /health"]["errors"] == 0
    assert by_name["POST /checkout"]["error_rate"] == 1.0
    assert by_name["POST /checkout"]["p95_ms"] == 120.0
    assert by_name["GET /reports/export"]["running"] == 1
    assert by_name["GET /reports/export"]["p50_ms"] is None
    assert [(row["service"], row["count"]) for row in by_service] == [("shop", 8)]
    assert [row["name"] for row in failed] == ["POST /checkout"]


async def test_bad_arguments_are_tool_errors_and_the_server_goes_on(db: Path) -> None:
    async with session(db) as client:
        missing = _error_text(await client.call_tool("get_trace", {"trace_id": "ffff"}))
        ambiguous = _error_text(await client.call_tool("get_trace", {"trace_id": "4bf9"}))
        bad_format = _error_text(
            await client.call_tool("get_trace", {"trace_id": CHECKOUT, "format": "xml"})
        )
        bad_limit = _error_text(await client.call_tool("recent_errors", {"limit": 0}))
        bad_query = _error_text(
            await client.call_tool("search_traces", {"query": "duration > 5 parsecs"})
        )
        bad_by = _error_text(await client.call_tool("trace_stats", {"by": "colour"}))
        bad_since = _error_text(await client.call_tool("trace_stats", {"since": "last tuesday"}))
        still = _data(await client.call_tool("recent_errors", {}))
    assert "no trace 'ffff'" in missing
    assert "matches several traces" in ambiguous and fixture_db.trace_id(1) in ambiguous
    assert "format must be 'tree' or 'json'" in bad_format
    assert "limit must be at least 1" in bad_limit
    assert "unknown unit 'parsecs' at column 14" in bad_query
    assert "by must be one of" in bad_by
    assert "last tuesday" in bad_since
    assert [row["trace_id"] for row in still] == [CHECKOUT]


async def test_a_huge_trace_comes_back_cut_with_a_note(tmp_path: Path) -> None:
    db = fixture_db.build(tmp_path / "traces.db")
    big = fixture_db.add_spans(db, 40, fixture_db.wide("batch", 3001))
    async with session(db) as client:
        answer = _data(await client.call_tool("get_trace", {"trace_id": big, "max_spans": 100}))
    assert answer["span_count"] == 3001 and answer["spans_shown"] == 100
    assert "showing the first 100 of 3,001 spans" in answer["note"]
    assert len(answer["tree"].splitlines()) < 200


async def test_a_database_replaced_while_serving_is_read_afresh(tmp_path: Path) -> None:
    db = fixture_db.build(tmp_path / "traces.db")
    async with session(db) as client:
        first = _data(await client.call_tool("recent_errors", {}))
        other = tmp_path / "other" / "traces.db"
        other.parent.mkdir()
        conn = fixture_db.connect(other)
        fixture_db.insert_trace(
            conn, 90, fixture_db.NOW, [fixture_db.S(0, None, "GET /replaced", 0, 2, error="boom")]
        )
        conn.close()
        for suffix in ("-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        os.replace(other, db)
        second = _data(await client.call_tool("recent_errors", {}))
    assert [row["trace_id"] for row in first] == [CHECKOUT]
    assert [row["root_span_name"] for row in second] == ["GET /replaced"]


def test_nothing_but_mcp_on_stdout_and_bad_paths_are_one_line(tmp_path: Path) -> None:
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "lens_tui", "mcp", "--db", str(tmp_path / "missing.db")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert shutil.which(sys.executable)
