"""Parent/child links across sync code, asyncio (gather, create_task) and threads."""

from __future__ import annotations

import asyncio
import contextvars
import re
import threading
import time
from pathlib import Path

from lens_tui import tracing
from lens_tui.tracing import current_span, lens_fn, span
from lens_tui.tracing.writer import TraceWriter

from .conftest import read, spans_by_name, trace_row

SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def test_sync_nesting_links_parents_and_fills_the_trace_row(
    store: TraceWriter, db_path: Path
) -> None:
    @lens_fn("leaf")
    def leaf(x: int) -> int:
        time.sleep(0.002)
        return x * 2

    @lens_fn("middle")
    def middle(x: int) -> int:
        return leaf(x) + leaf(x + 1)

    @lens_fn("root")
    def root() -> int:
        with span("inline"):
            pass
        return middle(1)

    assert root() == 2 + 4
    assert tracing.flush()

    rows = read(db_path, "SELECT * FROM spans ORDER BY started_at")
    assert [r["name"] for r in rows] == ["root", "inline", "middle", "leaf", "leaf"]
    by_id = {r["span_id"]: r for r in rows}
    root_row = rows[0]
    assert root_row["parent_span_id"] is None
    assert len({r["trace_id"] for r in rows}) == 1
    assert TRACE_ID.match(root_row["trace_id"])
    for row in rows:
        assert SPAN_ID.match(row["span_id"])
        assert row["status"] == "ok" and row["service"] == "test"
        assert row["duration_ms"] is not None and row["duration_ms"] >= 0
    assert by_id[rows[1]["parent_span_id"]]["name"] == "root"
    assert by_id[rows[2]["parent_span_id"]]["name"] == "root"
    assert [by_id[r["parent_span_id"]]["name"] for r in rows[3:]] == ["middle", "middle"]
    # Children lie inside their parents.
    for row in rows[1:]:
        parent = by_id[row["parent_span_id"]]
        assert parent["started_at"] <= row["started_at"]
        assert (
            row["started_at"] + row["duration_ms"]
            <= parent["started_at"] + parent["duration_ms"] + 1e-3
        )

    trace = trace_row(db_path, root_row["trace_id"])
    assert trace["root_span_name"] == "root"
    assert trace["root_span_id"] == root_row["span_id"]
    assert trace["span_count"] == 5
    assert trace["error_count"] == 0
    assert trace["status"] == "ok"
    assert trace["service"] == "test"
    assert trace["started_at"] == root_row["started_at"]
    # Epoch milliseconds near 1.7e12 carry ~0.2 µs of float resolution.
    assert abs(trace["duration_ms"] - root_row["duration_ms"]) < 1e-3
    assert abs(trace["ended_at"] - (trace["started_at"] + trace["duration_ms"])) < 1e-3
    assert trace["updated_at"] is not None


def test_sibling_roots_are_separate_traces(store: TraceWriter, db_path: Path) -> None:
    @lens_fn
    def alone() -> None:
        pass

    alone()
    alone()
    assert tracing.flush()
    rows = read(db_path, "SELECT trace_id, parent_span_id FROM spans")
    assert len(rows) == 2 and all(r["parent_span_id"] is None for r in rows)
    assert len({r["trace_id"] for r in rows}) == 2
    assert len(read(db_path, "SELECT * FROM traces WHERE span_count = 1")) == 2


async def test_async_nesting_across_gather_and_create_task(
    store: TraceWriter, db_path: Path
) -> None:
    seen: dict[str, str | None] = {}

    @lens_fn("fetch")
    async def fetch(i: int) -> int:
        await asyncio.sleep(0.01 * (3 - i))  # interleave: the last started ends first
        handle = current_span()
        assert handle is not None and handle.name == "fetch"
        with span(f"parse-{i}"):
            await asyncio.sleep(0)
        return i

    @lens_fn("background")
    async def background() -> str:
        await asyncio.sleep(0.005)
        return "bg"

    @lens_fn("handler")
    async def handler() -> list[int]:
        task = asyncio.create_task(background())
        results = await asyncio.gather(fetch(0), fetch(1), fetch(2))
        seen["after_gather"] = current_span().name  # type: ignore[union-attr]
        assert await task == "bg"
        return results

    assert await handler() == [0, 1, 2]
    assert current_span() is None
    assert seen["after_gather"] == "handler"
    assert tracing.flush()

    rows = read(db_path, "SELECT * FROM spans")
    by_id = {r["span_id"]: r for r in rows}
    names = sorted(r["name"] for r in rows)
    assert names == [
        "background",
        "fetch",
        "fetch",
        "fetch",
        "handler",
        "parse-0",
        "parse-1",
        "parse-2",
    ]
    assert len({r["trace_id"] for r in rows}) == 1
    parent_name = {
        r["name"]: by_id[r["parent_span_id"]]["name"] for r in rows if r["parent_span_id"]
    }
    assert parent_name["background"] == "handler"
    assert all(
        by_id[r["parent_span_id"]]["name"] == "handler" for r in rows if r["name"] == "fetch"
    )
    # Each parse span hangs under its own fetch, though the three fetches interleave.
    for i in range(3):
        parse = next(r for r in rows if r["name"] == f"parse-{i}")
        fetch_row = by_id[parse["parent_span_id"]]
        assert fetch_row["name"] == "fetch"
        assert fetch_row["started_at"] <= parse["started_at"]
    fetch_ids = {
        by_id[r["parent_span_id"]]["span_id"] for r in rows if r["name"].startswith("parse-")
    }
    assert len(fetch_ids) == 3
    trace = trace_row(db_path, rows[0]["trace_id"])
    assert (
        trace["span_count"] == 8
        and trace["root_span_name"] == "handler"
        and trace["status"] == "ok"
    )


async def test_to_thread_carries_the_context(store: TraceWriter, db_path: Path) -> None:
    @lens_fn("blocking")
    def blocking() -> str | None:
        handle = current_span()
        return handle.name if handle else None

    async with span("async-parent") as parent:
        assert parent is not None
        assert await asyncio.to_thread(blocking) == "blocking"
    assert tracing.flush()
    rows = spans_by_name(db_path)
    assert rows["blocking"]["parent_span_id"] == parent.span_id


async def test_async_with_span(store: TraceWriter, db_path: Path) -> None:
    async with span("outer", user=7) as handle:
        assert handle is not None
        handle.set_attribute("items", 3)
        async with span("inner"):
            await asyncio.sleep(0)
    assert tracing.flush()
    rows = spans_by_name(db_path)
    assert rows["inner"]["parent_span_id"] == rows["outer"]["span_id"]
    import json

    assert json.loads(rows["outer"]["attributes"]) == {"user": 7, "items": 3}


def test_threads_inherit_the_span_through_copy_context(store: TraceWriter, db_path: Path) -> None:
    @lens_fn("work")
    def work(i: int) -> None:
        time.sleep(0.001)

    def plain_thread_work() -> None:
        with span("orphan"):
            pass

    with span("dispatch"):
        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(work, i))
            for i in range(4)
        ]
        # A plain Thread starts with an empty context: its span is a new root (documented).
        threads.append(threading.Thread(target=plain_thread_work))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert tracing.flush()

    rows = read(db_path, "SELECT * FROM spans")
    dispatch = next(r for r in rows if r["name"] == "dispatch")
    work_rows = [r for r in rows if r["name"] == "work"]
    assert len(work_rows) == 4
    assert {r["parent_span_id"] for r in work_rows} == {dispatch["span_id"]}
    assert {r["trace_id"] for r in work_rows} == {dispatch["trace_id"]}
    assert len({r["span_id"] for r in work_rows}) == 4
    orphan = next(r for r in rows if r["name"] == "orphan")
    assert orphan["parent_span_id"] is None and orphan["trace_id"] != dispatch["trace_id"]
    assert trace_row(db_path, dispatch["trace_id"])["span_count"] == 5


def test_current_span_handle(store: TraceWriter, db_path: Path) -> None:
    assert current_span() is None

    @lens_fn("annotated")
    def annotated() -> tuple[str, str]:
        handle = current_span()
        assert handle is not None
        handle.set_attribute("rows", 12)
        handle.set_attributes(table="users", cached=False)
        return handle.trace_id, handle.span_id

    trace_id, span_id = annotated()
    assert TRACE_ID.match(trace_id) and SPAN_ID.match(span_id)
    assert tracing.flush()
    import json

    row = read(db_path, "SELECT * FROM spans WHERE span_id = ?", (span_id,))[0]
    assert row["trace_id"] == trace_id
    assert json.loads(row["attributes"]) == {"rows": 12, "table": "users", "cached": False}
    assert row["source_location"].endswith(f":{annotated.__wrapped__.__code__.co_firstlineno}")
