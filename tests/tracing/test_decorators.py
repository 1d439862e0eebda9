"""lens_fn on functions, coroutines, generators and async generators; span() forms; exceptions."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from lens_tui import tracing
from lens_tui.tracing import current_span, lens_fn, span
from lens_tui.tracing.writer import TraceWriter

from .conftest import read, spans_by_name, trace_row


def test_wraps_metadata_and_decorator_forms(store: TraceWriter, db_path: Path) -> None:
    @lens_fn
    def bare(a: int, b: int = 2) -> int:
        """Bare docstring."""
        return a + b

    @lens_fn("custom.name")
    def named() -> str:
        return "n"

    @lens_fn(name="kw.name", team="core")
    def keyword() -> str:
        return "k"

    @lens_fn()
    def empty_parens() -> str:
        return "e"

    @lens_fn
    async def coro() -> str:
        """Coroutine docstring."""
        return "c"

    @lens_fn
    def gen() -> Iterator[int]:
        yield 1

    @lens_fn
    async def agen() -> AsyncIterator[int]:
        yield 1

    assert bare.__name__ == "bare" and bare.__doc__ == "Bare docstring."
    assert bare.__qualname__.endswith("test_wraps_metadata_and_decorator_forms.<locals>.bare")
    assert inspect.signature(bare) == inspect.signature(bare.__wrapped__)
    assert bare.__annotations__ == bare.__wrapped__.__annotations__
    assert coro.__doc__ == "Coroutine docstring."
    assert inspect.iscoroutinefunction(coro)
    assert inspect.isgeneratorfunction(gen)
    assert inspect.isasyncgenfunction(agen)

    assert bare(1) == 3 and named() == "n" and keyword() == "k" and empty_parens() == "e"
    assert asyncio.run(coro()) == "c"
    assert list(gen()) == [1]

    async def consume() -> list[int]:
        return [x async for x in agen()]

    assert asyncio.run(consume()) == [1]
    assert tracing.flush()
    rows = spans_by_name(db_path)
    assert rows[bare.__qualname__]["status"] == "ok"
    assert "custom.name" in rows and "empty_parens" in rows[empty_parens.__qualname__]["name"]
    assert json.loads(rows["kw.name"]["attributes"]) == {"team": "core"}
    assert {coro.__qualname__, gen.__qualname__, agen.__qualname__} <= set(rows)


def test_generator_span_covers_iteration_and_is_current_only_inside(
    store: TraceWriter, db_path: Path
) -> None:
    inside: list[str | None] = []

    @lens_fn("produce")
    def produce(n: int) -> Iterator[int]:
        for i in range(n):
            handle = current_span()
            inside.append(handle.name if handle else None)
            with span(f"item-{i}"):
                pass
            yield i

    outside: list[str | None] = []
    with span("consumer"):
        for _ in produce(3):
            handle = current_span()
            outside.append(handle.name if handle else None)
            time.sleep(0.01)
    assert inside == ["produce"] * 3
    assert outside == ["consumer"] * 3
    assert tracing.flush()

    rows = spans_by_name(db_path)
    produce_row = rows["produce"]
    assert produce_row["parent_span_id"] == rows["consumer"]["span_id"]
    assert produce_row["status"] == "ok"
    assert produce_row["duration_ms"] >= 25  # the consumer's sleeps happen inside the span
    for i in range(3):
        assert rows[f"item-{i}"]["parent_span_id"] == produce_row["span_id"]


def test_generator_closed_early_ends_ok(store: TraceWriter, db_path: Path) -> None:
    cleaned: list[bool] = []

    @lens_fn("endless")
    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            cleaned.append(True)

    gen = endless()
    assert [next(gen), next(gen)] == [0, 1]
    gen.close()
    assert cleaned == [True]
    assert current_span() is None
    # Broken out of a for loop and dropped: the same.
    for value in endless():
        if value == 2:
            break
    assert tracing.flush()
    rows = read(db_path, "SELECT * FROM spans WHERE name = 'endless'")
    assert len(rows) == 2
    assert all(r["status"] == "ok" and r["duration_ms"] is not None for r in rows)
    assert all(r["error_message"] is None for r in rows)


def test_generator_send_throw_and_return_value(store: TraceWriter, db_path: Path) -> None:
    @lens_fn("echo")
    def echo() -> Iterator[str]:
        received = yield "ready"
        while received != "stop":
            try:
                received = yield f"got {received}"
            except KeyError:
                received = yield "recovered"
        return "done"

    @lens_fn("delegator")
    def delegator() -> Iterator[str]:
        result = yield from echo()
        yield result

    gen = delegator()
    assert next(gen) == "ready"
    assert gen.send("a") == "got a"
    assert gen.throw(KeyError("k")) == "recovered"
    assert gen.send("stop") == "done"
    with pytest.raises(StopIteration):
        next(gen)
    assert tracing.flush()
    rows = spans_by_name(db_path)
    assert rows["echo"]["parent_span_id"] == rows["delegator"]["span_id"]
    assert rows["echo"]["status"] == "ok" and rows["delegator"]["status"] == "ok"


def test_generator_failure_is_recorded_and_propagates(store: TraceWriter, db_path: Path) -> None:
    error = ValueError("bad row 3")

    @lens_fn("rows")
    def rows_gen() -> Iterator[int]:
        yield 1
        raise error

    with pytest.raises(ValueError) as caught:
        list(rows_gen())
    assert caught.value is error
    assert tracing.flush()
    row = spans_by_name(db_path)["rows"]
    assert row["status"] == "error" and row["error_message"] == "bad row 3"
    assert row["exception_type"] == "ValueError"


async def test_async_generator_span(store: TraceWriter, db_path: Path) -> None:
    inside: list[str | None] = []

    @lens_fn("stream")
    async def stream(n: int) -> AsyncIterator[int]:
        for i in range(n):
            await asyncio.sleep(0)
            handle = current_span()
            inside.append(handle.name if handle else None)
            async with span(f"chunk-{i}"):
                pass
            yield i

    outside: list[str | None] = []
    async with span("reader"):
        async for _ in stream(3):
            handle = current_span()
            outside.append(handle.name if handle else None)
            await asyncio.sleep(0.01)
    assert inside == ["stream"] * 3
    assert outside == ["reader"] * 3

    @lens_fn("feed")
    async def feed() -> AsyncIterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    agen = feed()
    assert [await agen.__anext__(), await agen.__anext__()] == [0, 1]
    await agen.aclose()

    boom = RuntimeError("stream broke")

    @lens_fn("broken")
    async def broken() -> AsyncIterator[int]:
        yield 1
        raise boom

    with pytest.raises(RuntimeError) as caught:
        async for _ in broken():
            pass
    assert caught.value is boom
    assert current_span() is None
    assert tracing.flush()

    rows = spans_by_name(db_path)
    assert rows["stream"]["parent_span_id"] == rows["reader"]["span_id"]
    assert rows["stream"]["duration_ms"] >= 25
    for i in range(3):
        assert rows[f"chunk-{i}"]["parent_span_id"] == rows["stream"]["span_id"]
    assert rows["feed"]["status"] == "ok" and rows["feed"]["duration_ms"] is not None
    assert (
        rows["broken"]["status"] == "error" and rows["broken"]["exception_type"] == "RuntimeError"
    )


class PaymentDeclined(Exception):
    """A custom exception to see its qualified name stored."""


def test_exception_recorded_and_propagates_unchanged(store: TraceWriter, db_path: Path) -> None:
    error = PaymentDeclined("card 4242 declined")

    @lens_fn("charge")
    def charge() -> None:
        raise error

    @lens_fn("checkout")
    def checkout() -> None:
        charge()

    with pytest.raises(PaymentDeclined) as caught:
        checkout()
    assert caught.value is error
    assert current_span() is None
    assert tracing.flush()

    rows = spans_by_name(db_path)
    for name in ("charge", "checkout"):
        row = rows[name]
        assert row["status"] == "error"
        assert row["error_message"] == "card 4242 declined"
        assert row["exception_type"] == "PaymentDeclined"
        assert "Traceback (most recent call last)" in row["traceback"]
        assert "PaymentDeclined: card 4242 declined" in row["traceback"]
        assert "raise error" in row["traceback"]
        assert row["duration_ms"] is not None
    trace = trace_row(db_path, rows["checkout"]["trace_id"])
    assert trace["status"] == "error" and trace["error_count"] == 2 and trace["span_count"] == 2


async def test_async_exception_and_span_context_manager(store: TraceWriter, db_path: Path) -> None:
    error = TimeoutError("upstream slow")

    @lens_fn("call_upstream")
    async def call_upstream() -> None:
        await asyncio.sleep(0)
        raise error

    with pytest.raises(TimeoutError) as caught:
        await call_upstream()
    assert caught.value is error

    other = KeyError("missing")
    with pytest.raises(KeyError) as caught_key:
        with span("lookup"):
            raise other
    assert caught_key.value is other

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str")

    with pytest.raises(Unprintable):
        async with span("odd"):
            raise Unprintable()
    assert tracing.flush()

    rows = spans_by_name(db_path)
    assert rows["call_upstream"]["exception_type"] == "TimeoutError"
    assert rows["call_upstream"]["error_message"] == "upstream slow"
    assert rows["lookup"]["exception_type"] == "KeyError"
    assert rows["lookup"]["error_message"] == "'missing'"
    assert rows["odd"]["status"] == "error"
    assert rows["odd"]["error_message"].startswith("<unprintable")


def test_unconfigured_is_a_no_op(tmp_path: Path) -> None:
    tracing.shutdown()

    @lens_fn
    def plain(x: int) -> int:
        return x + 1

    @lens_fn
    def gen() -> Iterator[int]:
        yield 5

    assert plain(1) == 2 and list(gen()) == [5]
    with span("nothing") as handle:
        assert handle is None
    assert current_span() is None
    assert tracing.flush()
    assert not list(tmp_path.iterdir())
