"""W3C Trace Context in and out: parsing, injecting, and spans that continue a remote trace."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest

from lens_tui import tracing
from lens_tui.tracing import LogHandler, SpanContext, current_span, lens_fn, span
from lens_tui.tracing.propagation import parse_traceparent
from lens_tui.tracing.writer import TraceWriter

from .conftest import read, spans_by_name, trace_row

TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"
PARENT = f"00-{TRACE}-{SPAN}-01"


def test_extract_reads_a_valid_context_with_any_header_case() -> None:
    for headers in (
        {"traceparent": PARENT},
        {"TraceParent": PARENT, "TRACESTATE": "a=1"},
        [(b"Traceparent", PARENT.encode()), (b"tracestate", b"a=1"), (b"tracestate", b"b=2")],
    ):
        ctx = tracing.extract(headers)
        assert ctx is not None
        assert ctx.trace_id_hex == TRACE and ctx.span_id_hex == SPAN and ctx.sampled
    ctx = tracing.extract(
        [(b"traceparent", PARENT.encode()), (b"tracestate", b"a=1"), (b"tracestate", b"b=2")]
    )
    assert ctx is not None and ctx.tracestate == "a=1,b=2"  # header lines joined as HTTP does


@pytest.mark.parametrize(
    "value",
    [
        f"00-{'0' * 32}-{SPAN}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"00-{TRACE.upper()}-{SPAN}-01",
        f"ff-{TRACE}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}-01-more",
        f"00-{TRACE}-{SPAN}-1",
        f"00-{TRACE[:-1]}-{SPAN}-01",
        f"00_{TRACE}_{SPAN}_01",
        f"0g-{TRACE}-{SPAN}-01",
        f"00-{TRACE}-{SPAN}-0x",
        "",
        "00",
        "\x00" * 55,
    ],
)
def test_invalid_traceparents_are_ignored(value: str) -> None:
    assert tracing.extract({"traceparent": value}) is None


def test_odd_carriers_never_raise() -> None:
    assert tracing.extract(None) is None
    assert tracing.extract({}) is None
    assert tracing.extract("traceparent") is None  # type: ignore[arg-type]
    assert tracing.extract({"traceparent": 12}) is None
    assert tracing.extract({"traceparent": [PARENT, PARENT]}) is None
    assert (
        tracing.extract([("traceparent", PARENT), ("traceparent", PARENT)]) is None
    )  # two: invalid
    assert tracing.extract([("traceparent",)]) is None  # type: ignore[list-item]


def test_a_later_version_keeps_its_first_four_fields() -> None:
    ctx = parse_traceparent(f"01-{TRACE}-{SPAN}-00-what-comes-next")
    assert ctx is not None and ctx.trace_id_hex == TRACE and not ctx.sampled
    assert parse_traceparent(f"01-{TRACE}-{SPAN}-00what") is None


def test_tracestate_passes_on_unchanged_unless_unsafe() -> None:
    state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7, vendor@sys=x:y"
    ctx = tracing.extract({"traceparent": PARENT, "tracestate": state})
    assert ctx is not None and ctx.tracestate == state
    out: dict[str, str] = {}
    tracing.inject(out, ctx)
    assert out == {"traceparent": PARENT, "tracestate": state}
    # A header splitting newline, or more than a header should carry: dropped, the parent kept.
    for bad in ("a=1\r\nx-evil: 1", "a=" + "x" * 9000):
        ctx = tracing.extract({"traceparent": PARENT, "tracestate": bad})
        assert ctx is not None and ctx.tracestate is None


def test_inject_outside_any_span_writes_nothing(store: TraceWriter) -> None:
    out: dict[str, str] = {}
    tracing.inject(out)
    assert out == {}
    tracing.inject(None)  # type: ignore[arg-type]  # never raises


def test_span_with_a_remote_parent_joins_its_trace(store: TraceWriter, db_path: Path) -> None:
    ctx = tracing.extract({"traceparent": PARENT, "tracestate": "k=v"})
    with span("handle", parent=ctx, user=7) as handle:
        assert handle is not None and handle.trace_id == TRACE
        with span("inner"):
            out: dict[str, str] = {}
            tracing.inject(out)
    after: dict[str, str] = {}
    with span("unrelated"):
        tracing.inject(after)
    assert tracing.flush()

    rows = spans_by_name(db_path)
    assert rows["handle"]["trace_id"] == TRACE and rows["handle"]["parent_span_id"] == SPAN
    assert rows["inner"]["parent_span_id"] == rows["handle"]["span_id"]
    assert out == {"traceparent": f"00-{TRACE}-{rows['inner']['span_id']}-01", "tracestate": "k=v"}
    # Once the remote span's block is left, its tracestate no longer goes out.
    assert rows["unrelated"]["trace_id"] != TRACE and "tracestate" not in after


def test_lens_fn_under_use_context_continues_the_trace(store: TraceWriter, db_path: Path) -> None:
    @lens_fn("sync_work")
    def sync_work() -> str:
        handle = current_span()
        assert handle is not None
        return handle.trace_id

    @lens_fn("async_work")
    async def async_work() -> str:
        await asyncio.sleep(0)
        return sync_work()

    ctx = tracing.extract({"traceparent": PARENT})
    with tracing.use_context(ctx) as entered:
        assert entered == ctx
        assert current_span() is None  # a remote span is nobody's to change here
        assert sync_work() == TRACE
        assert asyncio.run(async_work()) == TRACE
    assert tracing.use_context(None).__enter__() is None  # nothing to continue: a no-op
    with tracing.use_context(ctx):
        pass
    assert sync_work() != TRACE  # left: back to new traces
    assert tracing.flush()

    rows = read(db_path, "SELECT name, trace_id, parent_span_id FROM spans ORDER BY started_at")
    direct = [r for r in rows if r["parent_span_id"] == SPAN]
    assert sorted(r["name"] for r in direct) == ["async_work", "sync_work"]
    assert sum(r["trace_id"] == TRACE for r in rows) == 3
    assert sum(r["parent_span_id"] is None for r in rows) == 1


async def test_use_context_in_async_with_and_tasks(store: TraceWriter, db_path: Path) -> None:
    ctx = tracing.extract({"traceparent": PARENT})

    @lens_fn("task_work")
    async def task_work() -> None:
        await asyncio.sleep(0)

    async with tracing.use_context(ctx):
        await asyncio.gather(task_work(), asyncio.create_task(task_work()))
    assert tracing.flush()
    rows = read(db_path, "SELECT trace_id, parent_span_id FROM spans")
    assert rows == [{"trace_id": TRACE, "parent_span_id": SPAN}] * 2


def test_logs_in_a_remote_context_carry_its_ids(store: TraceWriter, db_path: Path) -> None:
    logger = logging.getLogger("test.propagation")
    handler = LogHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with tracing.use_context(tracing.extract({"traceparent": PARENT})):
            logger.info("inside")
    finally:
        logger.removeHandler(handler)
    assert tracing.flush()
    assert read(db_path, "SELECT trace_id, span_id FROM logs") == [
        {"trace_id": TRACE, "span_id": SPAN}
    ]


def test_a_context_handed_to_a_thread(store: TraceWriter, db_path: Path) -> None:
    """A SpanContext is plain data: another thread can continue it (as a worker pool would)."""
    with span("request") as handle:
        assert handle is not None
        carried: dict[str, str] = {}
        tracing.inject(carried)

    def worker() -> None:
        with span("job", parent=tracing.extract(carried)):
            pass

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert tracing.flush()
    rows = spans_by_name(db_path)
    assert rows["job"]["trace_id"] == rows["request"]["trace_id"]
    assert rows["job"]["parent_span_id"] == rows["request"]["span_id"]
    assert trace_row(db_path, rows["request"]["trace_id"])["root_span_name"] == "request"


def test_span_context_checks_its_ids() -> None:
    with pytest.raises(ValueError):
        SpanContext(0, 1)
    with pytest.raises(ValueError):
        SpanContext(1, 1 << 64)
    ctx = SpanContext(int(TRACE, 16), int(SPAN, 16), 0)
    assert ctx.traceparent() == f"00-{TRACE}-{SPAN}-00"


# -- interop with OpenTelemetry's own propagator ---------------------------------------------------


def test_our_traceparent_parses_with_opentelemetry_and_theirs_with_ours(store: TraceWriter) -> None:
    trace_api = pytest.importorskip("opentelemetry.trace")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace.propagation.tracecontext import (
        TraceContextTextMapPropagator,
    )

    propagator = TraceContextTextMapPropagator()
    with span(
        "ours", parent=tracing.extract({"traceparent": PARENT, "tracestate": "lens=1,ot=2"})
    ) as handle:
        assert handle is not None
        ours: dict[str, str] = {}
        tracing.inject(ours)
    their_view = trace_api.get_current_span(propagator.extract(ours)).get_span_context()
    assert their_view.is_valid and their_view.is_remote
    assert f"{their_view.trace_id:032x}" == handle.trace_id == TRACE
    assert f"{their_view.span_id:016x}" == handle.span_id
    assert their_view.trace_flags.sampled
    assert dict(their_view.trace_state) == {"lens": "1", "ot": "2"}

    tracer = TracerProvider().get_tracer("interop")
    with tracer.start_as_current_span("theirs") as theirs:
        carrier: dict[str, str] = {}
        propagator.inject(carrier)
    ctx = tracing.extract(carrier)
    assert ctx is not None
    assert ctx.trace_id == theirs.get_span_context().trace_id
    assert ctx.span_id == theirs.get_span_context().span_id
