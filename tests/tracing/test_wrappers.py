"""lens_fn's wrapper of a plain function: the function's own signature, and its open span found
by the writer in the wrapper's frame (on any thread) rather than in a registry."""

from __future__ import annotations

import inspect
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lens_tui import tracing
from lens_tui.tracing import lens_fn
from lens_tui.tracing.writer import TraceWriter

from .conftest import read, spans_by_name


def _wait_rows(
    db_path: Path, sql: str, params: tuple[Any, ...] = (), timeout: float = 5.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            rows = read(db_path, sql, params)
        except Exception:  # the file or its schema not there yet
            rows = []
        if rows:
            return rows
        time.sleep(0.01)
    raise AssertionError(f"no rows for {sql!r} in {timeout} s")


def test_the_wrapper_takes_the_functions_own_parameters(store: TraceWriter, db_path: Path) -> None:
    shared: list[int] = []

    @lens_fn
    def add(x: int, y: int = 2, seen: list[int] = shared) -> int:
        seen.append(x)
        return x + y

    assert inspect.signature(add) == inspect.signature(add.__wrapped__)
    assert add.__defaults__ is add.__wrapped__.__defaults__  # the very default objects
    assert (add(1), add(1, 5), add(x=2), add(y=3, x=4)) == (3, 6, 4, 7)
    assert shared == [1, 1, 2, 4]
    with pytest.raises(TypeError, match=r"add\(\) missing 1 required positional argument: 'x'"):
        add()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        add(1, z=3)  # type: ignore[call-arg]
    assert tracing.flush()
    assert [r["name"] for r in read(db_path, "SELECT name FROM spans ORDER BY rowid")] == [
        add.__qualname__
    ] * 4  # a call its arguments do not fit is no span


def test_other_signatures_and_clashing_names_are_passed_through(
    store: TraceWriter, db_path: Path
) -> None:
    @lens_fn("varargs")
    def varargs(*args: int, scale: int = 1, **named: int) -> int:
        return scale * (sum(args) + sum(named.values()))

    @lens_fn("clashing")
    def clashing(record: str, writer: str, fn: str = "f", args: str = "a") -> str:
        return record + writer + fn + args

    @lens_fn("positional only")
    def positional(a: int, /, b: int) -> int:
        return a - b

    class Thing:
        @lens_fn("method")
        def method(self, k: int) -> int:
            return k * 2

    assert varargs(1, 2, scale=3, extra=4) == 21
    assert clashing("r", "w") == "rwfa" and clashing("r", "w", args="b", fn="g") == "rwgb"
    assert positional(5, b=2) == 3
    assert Thing().method(4) == 8
    assert tracing.flush()
    assert set(spans_by_name(db_path)) == {"varargs", "clashing", "positional only", "method"}


def test_a_long_call_on_another_thread_shows_as_running_then_ends(
    store: TraceWriter, db_path: Path
) -> None:
    release = threading.Event()

    @lens_fn("worker loop")
    def work() -> str:
        release.wait(10)
        return "done"

    results: list[str] = []
    thread = threading.Thread(target=lambda: results.append(work()))
    thread.start()
    try:
        running = _wait_rows(db_path, "SELECT * FROM spans WHERE name = 'worker loop'")[0]
        assert running["status"] == "running" and running["duration_ms"] is None
        trace = read(db_path, "SELECT * FROM traces WHERE trace_id = ?", (running["trace_id"],))[0]
        assert (trace["root_span_name"], trace["status"]) == ("worker loop", "running")
    finally:
        release.set()
        thread.join(10)
    assert results == ["done"]
    assert tracing.flush()
    done = read(db_path, "SELECT * FROM spans WHERE name = 'worker loop'")
    assert len(done) == 1 and done[0]["status"] == "ok" and done[0]["span_id"] == running["span_id"]
    trace = read(db_path, "SELECT * FROM traces WHERE trace_id = ?", (running["trace_id"],))[0]
    assert (trace["status"], trace["span_count"]) == ("ok", 1)


def test_a_span_open_across_a_reconfigure_stays_with_its_own_writer(tmp_path: Path) -> None:
    first_db, second_db = tmp_path / "first.db", tmp_path / "second.db"
    tracing.configure(first_db, service="first", flush_interval=0.02)
    inside = threading.Event()
    release = threading.Event()

    @lens_fn("begun under the first")
    def long_call() -> None:
        inside.set()
        release.wait(10)

    thread = threading.Thread(target=long_call)
    try:
        thread.start()
        assert inside.wait(5)
        _wait_rows(first_db, "SELECT * FROM spans WHERE status = 'running'")
        tracing.configure(second_db, service="second", flush_interval=0.02)

        @lens_fn("under the second")
        def quick() -> None:
            pass

        quick()
        time.sleep(0.1)  # several cycles of the second writer while the first's span is open
        assert tracing.flush()
        assert [r["name"] for r in read(second_db, "SELECT name FROM spans")] == [
            "under the second"
        ]
    finally:
        release.set()
        thread.join(10)
        tracing.shutdown()
    assert [r["name"] for r in read(second_db, "SELECT name FROM spans")] == ["under the second"]
    # The first writer was shut down by the reconfigure: the span that ended later was dropped
    # (counted there), its running row stays what the first file says of it.
    assert (
        read(first_db, "SELECT status FROM spans WHERE name = 'begun under the first'")[0]["status"]
        == "running"
    )
