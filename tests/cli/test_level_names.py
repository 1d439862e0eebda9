"""A level the four stored levels fold (CRITICAL, FATAL, TRACE, a custom NOTICE) keeps its own
name in the `log.level_name` attribute, from stdlib logging, the OpenTelemetry SDK and OTLP, and
`show` prints it; a level that is only spelled differently (WARNING for warn) adds nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from lens_tui import tracing
from lens_tui.levels import folded_name, level_label, of_number
from lens_tui.otel import LensLogExporter
from lens_tui.otel.receiver import OTLPReceiver
from lens_tui.tracing import lens_fn

from .support import rows, run_cli

NOTICE = 25
LEVEL_NAME_KEY = "log.level_name"
"""The attribute key, as documented (docs/decisions.md)."""


def stored(db: Path) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """Each log's message: (stored level, decoded attributes), read by a second connection."""
    return {
        message: (level, json.loads(attributes) if attributes else None)
        for message, level, attributes in rows(db, "SELECT message, level, attributes FROM logs")
    }


@pytest.fixture()
def app_logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("test.level.names")
    log.propagate = False
    log.setLevel(1)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
    log.propagate = True


def test_stdlib_levels_through_the_log_handler(tmp_path: Path, app_logger: logging.Logger) -> None:
    db = tmp_path / "traces.db"
    tracing.configure(db, service="billing", flush_interval=0.02)
    app_logger.addHandler(tracing.LogHandler())
    logging.addLevelName(NOTICE, "NOTICE")

    @lens_fn("invoice run")
    def run() -> None:
        app_logger.critical("ledger unreachable", extra={"shard": 3})
        app_logger.error("one invoice failed")
        app_logger.warning("slow ledger")
        app_logger.log(NOTICE, "invoices sent")
        app_logger.log(5, "raw ledger reply")

    try:
        run()
        tracing.flush()
    finally:
        tracing.shutdown()
    logs = stored(db)
    assert logs["ledger unreachable"] == ("error", {"shard": 3, LEVEL_NAME_KEY: "CRITICAL"})
    assert logs["one invoice failed"] == ("error", None)
    assert logs["slow ledger"] == ("warn", None)
    assert logs["invoices sent"] == ("info", {LEVEL_NAME_KEY: "NOTICE"})
    assert logs["raw ledger reply"] == ("debug", {LEVEL_NAME_KEY: "Level 5"})

    trace_id = rows(db, "SELECT trace_id FROM traces")[0][0]
    tree = run_cli("show", trace_id, "--db", str(db)).stdout
    assert "CRITICAL ledger unreachable" in tree
    assert "ERROR one invoice failed" in tree and "WARN  slow ledger" in tree
    assert "NOTICE invoices sent" in tree


def _sdk_records(logger_provider: LoggerProvider) -> None:
    """The same records through the stdlib bridge and the logs API."""
    bridge = logging.getLogger("test.level.names.otel")
    bridge.propagate = False
    bridge.setLevel(logging.DEBUG)
    handler = LoggingHandler(logger_provider=logger_provider)
    bridge.addHandler(handler)
    try:
        bridge.critical("disk full")  # the bridge sends CRITICAL as severity text FATAL
        bridge.warning("disk at 90%")  # ... and WARNING as WARN
    finally:
        bridge.removeHandler(handler)
    api = logger_provider.get_logger("test.api")
    api.emit(severity_number=SeverityNumber.FATAL, severity_text="CRITICAL", body="power lost")
    api.emit(severity_number=SeverityNumber.ERROR, severity_text="ERROR", body="fan failed")
    api.emit(severity_number=SeverityNumber.TRACE, severity_text="TRACE", body="fan speed 1200")
    api.emit(severity_number=SeverityNumber.WARN, severity_text="WARNING", body="fan slow")


def _check_sdk_records(db: Path) -> None:
    logs = stored(db)
    assert logs["disk full"] == ("error", {LEVEL_NAME_KEY: "FATAL"})
    assert logs["disk at 90%"] == ("warn", None)
    assert logs["power lost"] == ("error", {LEVEL_NAME_KEY: "CRITICAL"})
    assert logs["fan failed"] == ("error", None)
    assert logs["fan speed 1200"] == ("debug", {LEVEL_NAME_KEY: "TRACE"})
    assert logs["fan slow"] == ("warn", None)


def test_severity_texts_through_the_sdk_exporter(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    logger_provider = LoggerProvider(resource=Resource.create({"service.name": "rack"}))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(LensLogExporter(db)))
    _sdk_records(logger_provider)
    logger_provider.shutdown()
    _check_sdk_records(db)


def test_severity_texts_through_the_otlp_receiver(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    receiver = OTLPReceiver(db, port=0).start()
    try:
        logger_provider = LoggerProvider(resource=Resource.create({"service.name": "rack"}))
        logger_provider.add_log_record_processor(
            SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{receiver.url}/v1/logs"))
        )
        _sdk_records(logger_provider)
        logger_provider.shutdown()
    finally:
        receiver.stop()
    _check_sdk_records(db)


def test_which_names_are_kept() -> None:
    assert [of_number(n) for n in (0, 5, 10, 15, 20, 25, 30, 40, 50, 60)] == [
        "debug",
        "debug",
        "debug",
        "debug",
        "info",
        "info",
        "warn",
        "error",
        "error",
        "error",
    ]
    assert folded_name("CRITICAL", "error") == "CRITICAL"
    assert folded_name(" Fatal ", "error") == "Fatal"
    assert folded_name(b"TRACE", "debug") == "TRACE"
    for same, level in (
        ("ERROR", "error"),
        ("warning", "warn"),
        ("WARN", "warn"),
        ("Err", "error"),
        ("info", "info"),
        ("", "info"),
        (None, "info"),
    ):
        assert folded_name(same, level) is None, same
    assert level_label("error", {LEVEL_NAME_KEY: "CRITICAL"}) == "CRITICAL"
    assert level_label("error", {LEVEL_NAME_KEY: " "}) == "error"
    assert level_label("error", {LEVEL_NAME_KEY: 7}) == "error"
    assert level_label("error", None) == "error"
    assert level_label("info", "not a dict") == "info"
