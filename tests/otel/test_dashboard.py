"""OpenTelemetry spans in the dashboard (Pilot): shown as lens_fn spans are, and received live."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from textual.pilot import Pilot

from lens_tui import tracing
from lens_tui.otel import LensLogExporter, LensSpanExporter
from lens_tui.otel.receiver import start_in_background
from lens_tui.tracing import lens_fn
from lens_tui.tracing.writer import TraceWriter
from lens_tui.ui.app import LensApp

SIZE = (120, 40)


async def _wait_for(pilot: Pilot, condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        await pilot.pause(0.02)


def _otel_trace(store: TraceWriter) -> None:
    """root "otel handle" > "otel step" (attribute n=1, a log) > "otel explode" (ValueError)."""
    resource = Resource.create({"service.name": "svc"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter(store=store)))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(LensLogExporter(store=store)))
    tracer = tracer_provider.get_tracer("dash")
    logger = logger_provider.get_logger("dash")
    with tracer.start_as_current_span("otel handle"):
        with tracer.start_as_current_span("otel step", attributes={"n": 1}):
            logger.emit(body="otel working", severity_number=SeverityNumber.INFO)
            try:
                with tracer.start_as_current_span("otel explode"):
                    raise ValueError("kaboom")
            except ValueError:
                pass
    tracer_provider.shutdown()
    logger_provider.shutdown()


def _lens_trace() -> None:
    """The same shape with lens_fn: "lens handle" > "lens step" > "lens explode"."""
    log = logging.getLogger("dash")

    @lens_fn("lens explode")
    def explode() -> None:
        raise ValueError("kaboom")

    @lens_fn("lens step", n=1)
    def step() -> None:
        log.info("lens working")
        try:
            explode()
        except ValueError:
            pass

    @lens_fn("lens handle")
    def handle() -> None:
        step()

    handle()


async def _open(pilot: Pilot, app: LensApp, name: str, log: str | None = None) -> dict[str, str]:
    """Open the trace whose root is `name`; the detail text of each span, keyed by its name.

    With `log`, also wait for that message in the log pane while the second span is selected."""
    await _wait_for(
        pilot,
        lambda: any(
            app.trace_list.rows[i].root_span_name == name for i in range(len(app.trace_list.rows))
        ),
    )
    rows = app.trace_list.rows
    index = next(i for i in range(len(rows)) if rows[i].root_span_name == name)
    app.trace_list.focus()
    app.trace_list.move_cursor(index, user=True)
    await pilot.press("enter")
    await _wait_for(pilot, lambda: app.waterfall.row_count == 3)
    details: dict[str, str] = {}
    for index in range(3):
        await pilot.press(
            "down"
        )  # the first press selects the root (the trace summary shows first)
        await _wait_for(pilot, lambda: app.waterfall.selected_span is not None)
        span = app.waterfall.selected_span
        assert span is not None
        await _wait_for(pilot, lambda: span.name in (app.detail.copy_text() or ""))  # noqa: B023 - awaited here
        details[span.name] = app.detail.copy_text() or ""
        if index == 1 and log is not None:  # the log pane follows the selected span
            await _wait_for(pilot, lambda: log in [r.message for r in app.log_pane.rows])
    await pilot.press("escape")
    return details


async def test_sdk_spans_show_like_lens_fn_spans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "traces.db"
    store = tracing.configure(db, service="svc", flush_interval=0.02)
    logger = logging.getLogger("dash")
    handler = tracing.LogHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        _lens_trace()
        _otel_trace(store)
        assert tracing.flush()
    finally:
        logger.removeHandler(handler)
        tracing.shutdown()

    app = LensApp(db, poll=0.1)
    async with app.run_test(size=SIZE) as pilot:
        lens = await _open(pilot, app, "lens handle", log="lens working")
        otel = await _open(pilot, app, "otel handle", log="otel working")
    assert (
        [name.split()[1] for name in lens]
        == [name.split()[1] for name in otel]
        == ["handle", "step", "explode"]
    )
    for kind in ("handle", "step", "explode"):
        lens_text, otel_text = lens[f"lens {kind}"], otel[f"otel {kind}"]
        # The same fields filled, but for where each came from: lens_fn knows the function's
        # file:line ("source"), the SDK always says the span kind.
        assert _fields(lens_text) - {"source"} == _fields(otel_text) - {"kind"}
        for text in (lens_text, otel_text):
            assert "service    svc" in text
        if kind == "step":
            assert "n = 1" in lens_text and "n = 1" in otel_text
        if kind == "explode":
            for text in (lens_text, otel_text):
                assert "status     error" in text
                assert "ValueError: kaboom" in text
                assert "Traceback (most recent call last)" in text
                assert 'raise ValueError("kaboom")' in text


def _fields(detail: str) -> set[str]:
    """The labels of a span detail's `label   value` lines (its first block, before sections)."""
    lines = detail.splitlines()[1:]
    head = lines[: lines.index("")] if "" in lines else lines
    return {line.split()[0] for line in head if line.strip()}


async def test_spans_received_over_otlp_appear_live(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    # The dashboard's `--otlp` arrangement: the receiver in the dashboard's process, in a thread.
    receiver = start_in_background(db, port=0)
    try:
        app = LensApp(db, poll=0.1)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.1)

            def send() -> None:
                provider = TracerProvider(resource=Resource.create({"service.name": "remote"}))
                provider.add_span_processor(
                    SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces"))
                )
                tracer = provider.get_tracer("live")
                with tracer.start_as_current_span("GET /live"):
                    with tracer.start_as_current_span("child one"):
                        pass
                    with tracer.start_as_current_span("child two"):
                        pass
                provider.shutdown()

            await asyncio.to_thread(send)
            details = await _open(pilot, app, "GET /live")
            assert set(details) == {"GET /live", "child one", "child two"}
            assert "remote" in details["child one"]
    finally:
        receiver.stop()
