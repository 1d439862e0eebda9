"""Case 13: context edge cases in the tracing library.

Generators and async generators closed early or from another task, thread pools, gather,
KeyboardInterrupt and CancelledError inside spans, recursion 5,000 deep, os.fork() and
multiprocessing children (fork and spawn). Every span is recorded once with the right parent,
exceptions pass through unchanged, and no span leaks into the context after it ended.
"""

from __future__ import annotations

import asyncio
import contextvars
import multiprocessing
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lens_tui import tracing
from lens_tui.store.reader import TraceReader
from lens_tui.tracing import current_span, lens_fn, span
from lens_tui.tracing.writer import TraceWriter

from .conftest import query, scalar


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Where the test's trace database lives."""
    return tmp_path / "traces.db"


@pytest.fixture
def store(db: Path) -> Iterator[TraceWriter]:
    """The process-wide store on a fresh file, shut down afterwards."""
    configured = tracing.configure(db, service="ctx", flush_interval=0.02, retention_days=None)
    try:
        yield configured
    finally:
        tracing.shutdown()
        configured.shutdown()


def spans(db: Path) -> list[dict[str, Any]]:
    """Every span row (after a flush), as dicts."""
    assert tracing.flush(20)
    cols = (
        "span_id",
        "trace_id",
        "parent_span_id",
        "name",
        "status",
        "exception_type",
        "duration_ms",
    )
    return [
        dict(zip(cols, r, strict=True)) for r in query(db, f"SELECT {', '.join(cols)} FROM spans")
    ]


def named(db: Path, name: str) -> list[dict[str, Any]]:
    """The span rows with this name."""
    return [s for s in spans(db) if s["name"] == name]


def assert_consistent(db: Path) -> None:
    """No span twice, every trace's span_count right."""
    assert tracing.flush(20)
    assert scalar(db, "SELECT count(*) - count(DISTINCT span_id) FROM spans") == 0
    assert (
        scalar(
            db,
            "SELECT count(*) FROM traces t WHERE span_count != "
            "(SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id)",
        )
        == 0
    )


# --- generators ---------------------------------------------------------------------------


def test_13_generator_closed_early(store: TraceWriter, db: Path) -> None:
    """A traced generator abandoned after two items: its span ends (ok, not an error), the
    consumer's context is untouched, and a span opened inside the body is closed too."""

    @lens_fn("numbers")
    def numbers() -> Iterator[int]:
        with span("inside-gen"):
            for i in range(100):  # noqa: UP028  (one yield per value: closed between any two)
                yield i

    with span("consumer") as consumer:
        gen = numbers()
        assert [next(gen), next(gen)] == [0, 1]
        assert current_span().span_id == consumer.span_id
        gen.close()
        assert current_span().span_id == consumer.span_id
    assert current_span() is None
    [gen_span] = named(db, "numbers")
    [inner] = named(db, "inside-gen")
    assert gen_span["status"] == "ok" and inner["status"] == "ok"
    assert gen_span["parent_span_id"] == consumer.span_id
    assert inner["parent_span_id"] == gen_span["span_id"]
    assert_consistent(db)


def test_13_generator_closed_in_another_context(store: TraceWriter, db: Path) -> None:
    """Started in one context, closed in another (the span's token cannot be reset there,
    opentelemetry-python #2606): no exception, the span recorded, neither context left with a
    span that ended."""

    def body() -> Iterator[int]:
        with span("gen-body"):
            yield 1
            yield 2

    gen = body()
    first = contextvars.copy_context()
    second = contextvars.copy_context()
    assert first.run(next, gen) == 1
    second.run(gen.close)  # must not raise ValueError("<Token> was created in a different Context")
    assert second.run(current_span) is None
    assert current_span() is None
    [row] = named(db, "gen-body")
    assert row["status"] == "ok"
    assert_consistent(db)


async def test_13_async_generator_closed_early_and_in_another_task(
    store: TraceWriter, db: Path
) -> None:
    """A traced async generator broken out of, and one closed by another task."""

    @lens_fn("ticks")
    async def ticks() -> AsyncIterator[int]:
        with span("inside-agen"):
            for i in range(100):
                await asyncio.sleep(0)
                yield i

    with span("consumer") as consumer:
        async for i in ticks():
            if i == 2:
                break
        assert current_span().span_id == consumer.span_id

    agen = ticks()

    async def start() -> int:
        return await agen.__anext__()

    async def close_elsewhere() -> None:
        await agen.aclose()

    assert await asyncio.create_task(start()) == 0
    await asyncio.create_task(close_elsewhere())  # another task, another context
    assert current_span() is None
    rows = named(db, "ticks")
    assert len(rows) == 2 and {r["status"] for r in rows} == {"ok"}
    assert len(named(db, "inside-agen")) == 2
    assert_consistent(db)


# --- threads and asyncio ------------------------------------------------------------------


def test_13_thread_pool_with_and_without_copy_context(store: TraceWriter, db: Path) -> None:
    """With copy_context the pool's spans hang under the submitting span; without it they start
    their own traces; and nothing leaks into the worker threads after a task."""

    @lens_fn("pooled")
    def pooled(i: int) -> str | None:
        return None

    def leftover() -> Any:
        return current_span()

    with ThreadPoolExecutor(max_workers=4) as pool:
        with span("submitter") as parent:
            for f in [pool.submit(contextvars.copy_context().run, pooled, i) for i in range(40)]:
                f.result()
            for f in [pool.submit(pooled, i) for i in range(10)]:
                f.result()
        assert all(f.result() is None for f in [pool.submit(leftover) for _ in range(20)])
    rows = named(db, "pooled")
    assert len(rows) == 50
    under = [r for r in rows if r["parent_span_id"] == parent.span_id]
    assert len(under) == 40 and {r["trace_id"] for r in under} == {parent.trace_id}
    roots = [r for r in rows if r["parent_span_id"] is None]
    assert len(roots) == 10 and len({r["trace_id"] for r in roots}) == 10
    assert_consistent(db)


async def test_13_gather_keeps_parents_apart(store: TraceWriter, db: Path) -> None:
    """20 concurrent children under asyncio.gather, each with its own grandchild: every
    grandchild hangs under its own child even though they interleave."""

    @lens_fn("grandchild")
    async def grandchild(i: int) -> int:
        await asyncio.sleep(0.001 * (i % 3))
        return i

    @lens_fn("child")
    async def child(i: int) -> int:
        await asyncio.sleep(0)
        with span(f"marker-{i}"):
            return await grandchild(i)

    @lens_fn("parent")
    async def parent() -> list[int]:
        return await asyncio.gather(*(child(i) for i in range(20)))

    assert await parent() == list(range(20))
    rows = spans(db)
    by_id = {r["span_id"]: r for r in rows}
    [root] = [r for r in rows if r["name"] == "parent"]
    children = [r for r in rows if r["name"] == "child"]
    assert len(children) == 20 and all(c["parent_span_id"] == root["span_id"] for c in children)
    for r in rows:
        if r["name"].startswith("marker-"):
            assert by_id[r["parent_span_id"]]["name"] == "child"
        if r["name"] == "grandchild":
            assert by_id[r["parent_span_id"]]["name"].startswith("marker-")
    assert len(rows) == 61 and {r["trace_id"] for r in rows} == {root["trace_id"]}
    assert_consistent(db)


# --- KeyboardInterrupt, CancelledError ----------------------------------------------------


def test_13_keyboard_interrupt_recorded_and_propagated(store: TraceWriter, db: Path) -> None:
    """The very same KeyboardInterrupt object reaches the caller; the spans record it."""
    interrupt = KeyboardInterrupt("stop")

    @lens_fn("interrupted")
    def interrupted() -> None:
        with span("inner-interrupted"):
            raise interrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        interrupted()
    assert caught.value is interrupt
    assert current_span() is None
    for name in ("interrupted", "inner-interrupted"):
        [row] = named(db, name)
        assert row["status"] == "error" and row["exception_type"] == "KeyboardInterrupt"


async def test_13_cancelled_error_recorded_and_propagated(store: TraceWriter, db: Path) -> None:
    """A task cancelled inside a traced coroutine ends cancelled (the CancelledError passed
    through unchanged, not swallowed or converted) and the span says so."""
    entered = asyncio.Event()

    @lens_fn("cancellable")
    async def cancellable() -> None:
        async with span("inner-cancellable"):
            entered.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(cancellable())
    await entered.wait()
    task.cancel("shutting down")
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    for name in ("cancellable", "inner-cancellable"):
        [row] = named(db, name)
        assert row["status"] == "error" and row["exception_type"] == "CancelledError"


# --- recursion ----------------------------------------------------------------------------


def test_13_recursion_5000_deep(store: TraceWriter, db: Path) -> None:
    """A traced function recursing 5,000 deep (two frames per level with the wrapper): one
    chain of 5,000 spans, each the parent of the next, read back through the reader."""
    depth = 5_000

    @lens_fn("recurse")
    def recurse(n: int) -> int:
        return 0 if n == 0 else 1 + recurse(n - 1)

    result: dict[str, Any] = {}

    def run() -> None:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(depth * 3 + 1000)
        try:
            result["value"] = recurse(depth - 1)
        finally:
            sys.setrecursionlimit(old)

    # A thread with a big C stack: CPython 3.11 still uses the C stack for these calls.
    threading.stack_size(256 * 1024 * 1024)
    try:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join(60)
    finally:
        threading.stack_size(0)
    assert result["value"] == depth - 1
    rows = named(db, "recurse")
    assert len(rows) == depth
    by_parent = {r["parent_span_id"]: r for r in rows}
    node, chain = by_parent[None], 1
    while node["span_id"] in by_parent:
        node, chain = by_parent[node["span_id"]], chain + 1
    assert chain == depth
    with TraceReader(db) as reader:
        [summary] = reader.recent_traces()
        assert summary.span_count == depth
        assert len(reader.trace(summary.trace_id).spans) == depth
    assert_consistent(db)


# --- processes ----------------------------------------------------------------------------


def test_13_os_fork_mid_batch(store: TraceWriter, db: Path) -> None:
    """Fork while the writer thread is busy with a big batch: the child writes its own spans on
    its own connection, the parent loses nothing, nothing is written twice."""

    @lens_fn("before-fork")
    def before() -> None:
        pass

    for _ in range(20_000):  # a backlog the writer is still working through at the fork
        before()
    pids = []
    for child_no in range(3):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for _ in range(500):
                    with span(f"fork-child-{child_no}"):
                        pass
                code = 0 if tracing.flush(20) else 2
            finally:
                os._exit(code)
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    before()
    rows = spans(db)
    names = [r["name"] for r in rows]
    assert names.count("before-fork") == 20_001
    for child_no in range(3):
        assert names.count(f"fork-child-{child_no}") == 500
    writers = query(db, "SELECT pid, spans_written, dropped FROM writers")
    assert len(writers) == 4 and all(w[2] == 0 for w in writers)
    assert sum(w[1] for w in writers) == len(rows)
    assert_consistent(db)


def test_13_os_fork_while_writer_holds_the_write_lock(store: TraceWriter, db: Path) -> None:
    """Fork exactly while the writer thread is inside its write transaction (held there by an
    update hook): a child forked then inherits SQLite's in-process lock bookkeeping, a write
    lock "held" by a connection that does not exist in the child, and could never write. The
    fork must wait for the transaction to end; the child then writes everything."""
    with span("warmup"):
        pass
    assert tracing.flush(10)
    inside = threading.Event()

    def hold(_op: int, _db: str, table: str, _rowid: int) -> None:
        if table == "spans" and not inside.is_set():
            inside.set()
            threading.Event().wait(0.3)  # keep the transaction open for 0.3 s

    store._conn.set_update_hook(hold)  # white-box: the writer thread's own connection
    with span("held"):
        pass
    assert inside.wait(10), "the writer never started the transaction"
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            for _ in range(100):
                with span("child-after-locked-fork"):
                    pass
            code = 0 if tracing.flush(15) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child could not write (flush failed)"
    assert len(named(db, "child-after-locked-fork")) == 100
    assert len(named(db, "held")) == 1
    assert_consistent(db)


def _mp_fork_child(n: int) -> None:
    for _ in range(n):
        with span("mp-fork-child"):
            pass
    # No flush: the library's multiprocessing finalizer flushes on the way out (os._exit).


def _mp_spawn_child(db: str, n: int) -> None:
    tracing.configure(db, service="spawned", flush_interval=0.02, retention_days=None)
    for _ in range(n):
        with span("mp-spawn-child"):
            pass
    # No flush: a spawned child leaves through sys.exit, so the atexit hook flushes.


def test_13_multiprocessing_fork_and_spawn(store: TraceWriter, db: Path) -> None:
    """multiprocessing children, fork and spawn, each writing through its own connection:
    all of their spans stored, with no explicit flush in the children."""
    with span("mp-parent"):
        pass
    fork_procs = [
        multiprocessing.get_context("fork").Process(target=_mp_fork_child, args=(300,))
        for _ in range(2)
    ]
    spawn_procs = [
        multiprocessing.get_context("spawn").Process(target=_mp_spawn_child, args=(str(db), 300))
        for _ in range(2)
    ]
    try:
        for proc in [*fork_procs, *spawn_procs]:
            proc.start()
        for proc in [*fork_procs, *spawn_procs]:
            proc.join(60)
            assert proc.exitcode == 0
    finally:
        for proc in [*fork_procs, *spawn_procs]:
            if proc.is_alive():
                proc.kill()
    names = [r["name"] for r in spans(db)]
    assert names.count("mp-fork-child") == 600
    assert names.count("mp-spawn-child") == 600
    writers = query(db, "SELECT service, spans_written FROM writers")
    assert sorted(w[0] for w in writers) == ["ctx", "ctx", "ctx", "spawned", "spawned"]
    assert_consistent(db)
