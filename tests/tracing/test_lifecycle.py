"""configure/flush/shutdown over a process's life: reconfiguring, interpreter exit, odd values."""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from lens_tui import tracing
from lens_tui.tracing import current_span, lens_fn, span
from lens_tui.tracing.context import MAX_MESSAGE_CHARS, MAX_TRACEBACK_CHARS
from lens_tui.tracing.writer import TraceWriter

from .conftest import read, scalar, spans_by_name


def test_reconfigure_flushes_the_old_store(tmp_path: Path) -> None:
    first, second = tmp_path / "one.db", tmp_path / "two.db"
    old = tracing.configure(first, service="one", flush_interval=10.0)  # would not flush by itself
    try:
        with span("in-one"):
            pass
        tracing.configure(second, service="two", flush_interval=0.02)
        with span("in-two"):
            pass
        assert tracing.flush()
    finally:
        tracing.shutdown()
    assert [r["name"] for r in read(first, "SELECT name FROM spans")] == ["in-one"]
    assert [r["name"] for r in read(second, "SELECT name FROM spans")] == ["in-two"]
    with span("after-shutdown"):  # no store: a no-op, never an error
        pass
    assert old.shutdown() is True


def test_interpreter_exit_flushes(tmp_path: Path) -> None:
    path = tmp_path / "exit.db"
    code = textwrap.dedent(
        """
        import sys
        from lens_tui import tracing
        from lens_tui.tracing import lens_fn
        tracing.configure(sys.argv[1], flush_interval=60)  # only the exit hook can write these

        @lens_fn("last-words")
        def work(i):
            return i

        for i in range(500):
            work(i)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert scalar(path, "SELECT count(*) FROM spans WHERE name = 'last-words'") == 500


def test_odd_attribute_values_and_huge_errors(store: TraceWriter, db_path: Path) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

        __str__ = __repr__

    huge = "x" * (MAX_MESSAGE_CHARS * 3)

    @lens_fn("odd")
    def odd() -> None:
        handle = current_span()
        assert handle is not None
        handle.set_attributes(obj=Opaque(), raw=b"\x00\xff", nested={"a": [1, 2]}, text="é\x1b[2J")
        raise ValueError(huge)

    try:
        odd()
    except ValueError:
        pass
    with span("bad-keys") as handle:
        assert handle is not None
        handle.set_attribute("k", {1: "int key", (2, 3): "tuple key"})
    assert tracing.flush()

    rows = spans_by_name(db_path)
    attributes = json.loads(rows["odd"]["attributes"])
    assert attributes["obj"] == "<opaque>" and attributes["nested"] == {"a": [1, 2]}
    assert attributes["text"] == "é\x1b[2J"  # stored as is; the dashboard makes it visible
    assert isinstance(attributes["raw"], str)
    assert len(rows["odd"]["error_message"]) == MAX_MESSAGE_CHARS
    assert len(rows["odd"]["traceback"]) <= MAX_TRACEBACK_CHARS
    assert rows["odd"]["traceback"].rstrip().endswith("x")  # the tail (the message) is kept
    assert json.loads(rows["bad-keys"]["attributes"])  # something readable, not a lost span


def test_generator_resumed_and_closed_in_other_contexts(store: TraceWriter, db_path: Path) -> None:
    """OTel's pitfall (#2606): a generator closed in another context must not break the context."""

    @lens_fn("wandering")
    def wandering() -> Iterator[int]:
        yield 1
        yield 2

    gen = wandering()
    assert contextvars.copy_context().run(next, gen) == 1
    assert contextvars.Context().run(next, gen) == 2
    contextvars.copy_context().run(gen.close)
    assert current_span() is None
    with span("after"):
        pass
    assert tracing.flush()
    rows = spans_by_name(db_path)
    assert rows["wandering"]["status"] == "ok" and rows["wandering"]["duration_ms"] is not None
    assert rows["after"]["parent_span_id"] is None


async def test_async_generator_abandoned_by_break(store: TraceWriter, db_path: Path) -> None:
    @lens_fn("ticker")
    async def ticker() -> AsyncIterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    async for value in ticker():
        if value == 3:
            break
    # The loop's async-generator finaliser closes it on the next iterations.
    for _ in range(5):
        await asyncio.sleep(0)
    assert tracing.flush()
    rows = read(db_path, "SELECT * FROM spans WHERE name = 'ticker'")
    assert len(rows) == 1 and rows[0]["status"] == "ok" and rows[0]["duration_ms"] is not None
