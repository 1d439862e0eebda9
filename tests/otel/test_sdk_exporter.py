"""LensSpanExporter and LensLogExporter with the real OpenTelemetry SDK, checked in the database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from lens_tui import tracing
from lens_tui.otel import LensLogExporter, LensSpanExporter
from lens_tui.tracing.writer import TraceWriter

from .conftest import read, spans_by_name


@pytest.fixture
def store(db_path: Path) -> Iterator[TraceWriter]:
    """A store of the test's own on a fresh file."""
    opened = TraceWriter(db_path, flush_interval=0.02)
    try:
        yield opened
    finally:
        opened.shutdown()


def _providers(store: TraceWriter, batch: bool = False) -> tuple[TracerProvider, LoggerProvider]:
    resource = Resource.create({"service.name": "checkout"})
    tracer_provider = TracerProvider(resource=resource)
    span_exporter = LensSpanExporter(store=store)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(span_exporter, schedule_delay_millis=50)
        if batch
        else SimpleSpanProcessor(span_exporter)
    )
    logger_provider = LoggerProvider(resource=resource)
    log_exporter = LensLogExporter(store=store)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(log_exporter, schedule_delay_millis=50)
        if batch
        else SimpleLogRecordProcessor(log_exporter)
    )
    return tracer_provider, logger_provider


@pytest.mark.parametrize("batch", [False, True], ids=["simple", "batch"])
def test_nested_spans_exception_and_log_arrive_with_parents(
    store: TraceWriter, db_path: Path, batch: bool
) -> None:
    tracer_provider, logger_provider = _providers(store, batch)
    tracer = tracer_provider.get_tracer("shop")
    logger = logger_provider.get_logger("shop.orders")
    with tracer.start_as_current_span(
        "POST /orders",
        kind=SpanKind.SERVER,
        attributes={"http.route": "/orders", "x-lens-source": "web"},
    ):
        with tracer.start_as_current_span(
            "load cart", attributes={"cart.items": 3, "tags": ("a", "b")}
        ) as cart:
            cart.add_event("cache miss", {"key": "cart:7"})
            logger.emit(
                body="cart loaded", severity_number=SeverityNumber.INFO, attributes={"items": 3}
            )
        with pytest.raises(ZeroDivisionError):
            with tracer.start_as_current_span("charge", kind=SpanKind.CLIENT):
                1 / 0  # noqa: B018 - raising inside the span is the point
        with tracer.start_as_current_span("audit") as audit:
            audit.record_exception(KeyError("missing audit row"))
    tracer_provider.force_flush()
    logger_provider.force_flush()
    assert store.flush()

    spans = spans_by_name(db_path)
    assert set(spans) == {"POST /orders", "load cart", "charge", "audit"}
    root = spans["POST /orders"]
    assert root["parent_span_id"] is None
    for name in ("load cart", "charge", "audit"):
        assert spans[name]["parent_span_id"] == root["span_id"]
        assert spans[name]["trace_id"] == root["trace_id"]
    assert len(root["trace_id"]) == 32 and len(root["span_id"]) == 16
    assert root["trace_id"] == root["trace_id"].lower()
    for row in spans.values():
        assert row["service"] == "checkout"
        assert row["duration_ms"] is not None and row["duration_ms"] >= 0
        assert row["started_at"] > 1e12  # epoch ms
    assert (
        root["kind"] == "server"
        and spans["charge"]["kind"] == "client"
        and spans["audit"]["kind"] == "internal"
    )
    assert json.loads(spans["load cart"]["attributes"]) == {"cart.items": 3, "tags": ["a", "b"]}
    assert json.loads(root["attributes"])["http.route"] == "/orders"
    [event] = json.loads(spans["load cart"]["events"])
    assert event["name"] == "cache miss" and event["attributes"] == {"key": "cart:7"}
    assert abs(event["time"] - spans["load cart"]["started_at"]) < 1000

    charge = spans["charge"]
    assert charge["status"] == "error"
    assert charge["exception_type"] == "ZeroDivisionError"
    assert charge["error_message"] == "division by zero"
    assert (
        "Traceback (most recent call last)" in charge["traceback"]
        and "1 / 0" in charge["traceback"]
    )
    [exception_event] = json.loads(charge["events"])  # kept, minus the stacktrace stored once above
    assert exception_event["name"] == "exception"
    assert exception_event["attributes"]["exception.type"] == "ZeroDivisionError"
    assert "exception.stacktrace" not in exception_event["attributes"]
    audit_row = spans["audit"]
    assert audit_row["status"] == "error" and audit_row["exception_type"] == "KeyError"
    assert spans["load cart"]["status"] == "ok" and spans["load cart"]["error_message"] is None

    [trace] = read(db_path, "SELECT * FROM traces")
    assert trace["trace_id"] == root["trace_id"]
    assert trace["root_span_id"] == root["span_id"] and trace["root_span_name"] == "POST /orders"
    assert trace["span_count"] == 4 and trace["error_count"] == 2 and trace["status"] == "error"
    assert trace["service"] == "checkout" and trace["source"] == "web"

    [log] = read(db_path, "SELECT * FROM logs")
    assert log["message"] == "cart loaded" and log["level"] == "info"
    assert log["trace_id"] == root["trace_id"] and log["span_id"] == spans["load cart"]["span_id"]
    assert log["logger"] == "shop.orders" and log["service"] == "checkout"
    assert json.loads(log["attributes"]) == {"items": 3}
    tracer_provider.shutdown()
    logger_provider.shutdown()


def test_log_levels_exceptions_and_code_location(store: TraceWriter, db_path: Path) -> None:
    _tracer_provider, logger_provider = _providers(store)
    logger = logger_provider.get_logger("worker")
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError as exc:
        logger.emit(
            body="job failed",
            severity_number=SeverityNumber.ERROR,
            exception=exc,
            attributes={"code.file.path": "jobs.py", "code.line.number": 42, "job": "sync"},
        )
    logger.emit(body="slow", severity_number=SeverityNumber.WARN2)
    logger.emit(body={"structured": True}, severity_text="DEBUG")
    logger.emit(body="fatal", severity_number=SeverityNumber.FATAL)
    logger_provider.force_flush()
    assert store.flush()
    rows = read(db_path, "SELECT * FROM logs ORDER BY id")
    assert [r["level"] for r in rows] == ["error", "warn", "debug", "error"]
    failed = rows[0]
    assert failed["exception_type"] == "RuntimeError"
    assert "disk on fire" in failed["traceback"] and "Traceback" in failed["traceback"]
    assert failed["source_location"] == "jobs.py:42"
    assert json.loads(failed["attributes"]) == {"job": "sync"}
    assert failed["trace_id"] is None and failed["span_id"] is None
    assert json.loads(rows[2]["message"]) == {"structured": True}
    logger_provider.shutdown()


def test_status_rules_links_and_unknown_service(store: TraceWriter, db_path: Path) -> None:
    provider = TracerProvider()  # no service.name: the SDK says unknown_service
    provider.add_span_processor(
        SimpleSpanProcessor(LensSpanExporter(store=store, service="fallback-svc"))
    )
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("linked-to") as target:
        target_ctx = target.get_span_context()
    with tracer.start_as_current_span("explicit-error") as span:
        span.set_status(Status(StatusCode.ERROR, "upstream said no"))
    with tracer.start_as_current_span("handled") as span:
        span.record_exception(ValueError("retried"))
        span.set_status(Status(StatusCode.OK))
    with tracer.start_as_current_span("with-link", links=[Link(target_ctx, {"why": "batch"})]):
        pass
    provider.force_flush()
    assert store.flush()
    spans = spans_by_name(db_path)
    assert spans["explicit-error"]["status"] == "error"
    assert spans["explicit-error"]["error_message"] == "upstream said no"
    assert spans["explicit-error"]["exception_type"] is None
    assert spans["handled"]["status"] == "ok" and spans["handled"]["error_message"] is None
    assert json.loads(spans["handled"]["events"])[0]["name"] == "exception"
    [link] = json.loads(spans["with-link"]["links"])
    assert link == {
        "trace_id": spans["linked-to"]["trace_id"],
        "span_id": spans["linked-to"]["span_id"],
        "attributes": {"why": "batch"},
    }
    assert {r["service"] for r in spans.values()} == {"fallback-svc"}
    provider.shutdown()


def test_own_store_on_db_path_shutdown_flushes(db_path: Path) -> None:
    exporter = LensSpanExporter(db_path)
    log_exporter = LensLogExporter(store=exporter.store)  # one writer for both
    provider = TracerProvider(resource=Resource.create({"service.name": "own"}))
    provider.add_span_processor(
        BatchSpanProcessor(exporter)
    )  # 5 s default delay: shutdown must flush
    logger_provider = LoggerProvider(resource=Resource.create({"service.name": "own"}))
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    with provider.get_tracer("t").start_as_current_span("only"):
        logger_provider.get_logger("l").emit(body="inside", severity_number=SeverityNumber.DEBUG)
    logger_provider.shutdown()  # flushes into the span exporter's store, which stays open
    provider.shutdown()  # flushes and closes the store it opened
    rows = read(db_path, "SELECT name, service FROM spans")
    assert rows == [{"name": "only", "service": "own"}]
    [log] = read(db_path, "SELECT message, level, service FROM logs")
    assert log == {"message": "inside", "level": "debug", "service": "own"}
    assert exporter.export([]).name == "FAILURE"  # after shutdown


def test_force_flush_commits(db_path: Path) -> None:
    exporter = LensSpanExporter(db_path)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("flushed"):
        pass
    assert exporter.force_flush(5000)
    assert [r["name"] for r in read(db_path, "SELECT name FROM spans")] == ["flushed"]
    provider.shutdown()


def test_process_wide_store_is_used_when_none_given(db_path: Path) -> None:
    configured = tracing.configure(db_path, service="configured", flush_interval=0.02)
    try:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(LensSpanExporter()))
        with provider.get_tracer("t").start_as_current_span("via-configure"):
            pass
        provider.force_flush()
        assert tracing.flush()
        [row] = read(db_path, "SELECT name FROM spans")
        assert row["name"] == "via-configure"
        provider.shutdown()
    finally:
        tracing.shutdown()
        configured.shutdown()


def test_importing_otel_does_not_import_the_ui() -> None:
    code = (
        "import sys, lens_tui.otel, lens_tui.otel.receiver, lens_tui.otel.otlp_export; "
        "from lens_tui.otel import LensSpanExporter, LensLogExporter; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich') or m.startswith('lens_tui.ui')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
