"""LogHandler stores records with their trace and span; the formatters write stderr only."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from lens_tui import tracing
from lens_tui.tracing import HumanFormatter, JsonFormatter, LogHandler, install_logging, span
from lens_tui.tracing.writer import TraceWriter

from .conftest import read


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A private logger with no inherited handlers, cleaned up afterwards."""
    log = logging.getLogger("lens_test.app")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
    log.setLevel(logging.NOTSET)
    log.propagate = True


def test_levels_messages_ids_and_location(
    store: TraceWriter, db_path: Path, logger: logging.Logger, capfd: pytest.CaptureFixture[str]
) -> None:
    logger.addHandler(LogHandler())
    logger.setLevel(1)  # let a custom level 5 through
    logger.debug("dbg %d", 1)
    logger.info("plain info")
    with span("request") as handle:
        assert handle is not None
        line = _lineno() + 1
        logger.warning("disk at %d%%", 91, extra={"disk": "/var"})
        logger.error("failed")
        logger.critical("on fire")
        logger.log(5, "very verbose")
    assert tracing.flush()

    rows = read(db_path, "SELECT * FROM logs ORDER BY id")
    assert [r["level"] for r in rows] == ["debug", "info", "warn", "error", "error", "debug"]
    assert [r["message"] for r in rows] == [
        "dbg 1",
        "plain info",
        "disk at 91%",
        "failed",
        "on fire",
        "very verbose",
    ]
    assert all(r["logger"] == "lens_test.app" and r["service"] == "test" for r in rows)
    assert rows[0]["trace_id"] is None and rows[0]["span_id"] is None
    for row in rows[2:]:
        assert row["trace_id"] == handle.trace_id
        assert row["span_id"] == handle.span_id
    assert rows[2]["source_location"] == f"tests/tracing/test_loghandler.py:{line}"
    assert json.loads(rows[2]["attributes"]) == {"disk": "/var"}
    assert rows[2]["timestamp"] > 1.6e12  # epoch milliseconds
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # the handler itself prints nothing anywhere


def _lineno() -> int:
    import inspect

    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


def test_exc_info_is_stored(store: TraceWriter, db_path: Path, logger: logging.Logger) -> None:
    logger.addHandler(LogHandler())
    try:
        {}["absent"]
    except KeyError:
        logger.exception("lookup failed")
    logger.error("bad args %s %s", "only one")  # a broken format must not lose the record
    assert tracing.flush()
    rows = read(db_path, "SELECT * FROM logs ORDER BY id")
    assert rows[0]["level"] == "error" and rows[0]["message"] == "lookup failed"
    assert rows[0]["exception_type"] == "KeyError"
    assert "Traceback (most recent call last)" in rows[0]["traceback"]
    assert "KeyError: 'absent'" in rows[0]["traceback"]
    assert "bad args" in rows[1]["message"]


def test_stderr_formatters_never_touch_stdout(
    store: TraceWriter, db_path: Path, logger: logging.Logger, capfd: pytest.CaptureFixture[str]
) -> None:
    install_logging(logging.DEBUG, logger=logger.name)  # human format on stderr
    with span("job") as handle:
        assert handle is not None
        logger.info("human line")
    out, err = capfd.readouterr()
    assert out == ""
    assert "INFO" in err and "lens_test.app" in err and "human line" in err
    assert f"trace={handle.trace_id[:12]}" in err and f"span={handle.span_id}" in err

    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    install_logging(logging.DEBUG, json_format=True, logger=logger.name)
    with span("job2") as handle2:
        assert handle2 is not None
        try:
            raise OSError("disk gone")
        except OSError:
            logger.exception("json line", extra={"attempt": 2})
    out, err = capfd.readouterr()
    assert out == ""
    data = json.loads(err.strip())
    assert data["level"] == "error" and data["message"] == "json line"
    assert data["traceId"] == handle2.trace_id and data["spanId"] == handle2.span_id
    assert data["logger"] == "lens_test.app" and data["extra"] == {"attempt": 2}
    assert "OSError: disk gone" in data["exception"]
    assert data["source"].startswith("tests/tracing/test_loghandler.py:")
    assert tracing.flush()
    assert [r["message"] for r in read(db_path, "SELECT message FROM logs ORDER BY id")] == [
        "human line",
        "json line",
    ]


def test_formatters_standalone(capfd: pytest.CaptureFixture[str]) -> None:
    record = logging.LogRecord("x.y", logging.WARNING, __file__, 10, "careful %s", ("now",), None)
    assert "WARNING" in HumanFormatter().format(record)
    assert json.loads(JsonFormatter().format(record))["level"] == "warning"
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_handler_without_store_is_silent(
    logger: logging.Logger, capfd: pytest.CaptureFixture[str]
) -> None:
    tracing.shutdown()
    logger.addHandler(LogHandler())
    logger.error("nowhere to go")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_handler_filters_apply_and_a_record_factory_extra_is_kept(
    store: TraceWriter, db_path: Path, logger: logging.Logger
) -> None:
    handler = LogHandler()

    def redact(record: logging.LogRecord) -> bool:
        if "secret" in str(record.msg):
            return False
        record.msg = str(record.msg).replace("token", "t***")
        return True

    handler.addFilter(redact)
    logger.addHandler(handler)
    default_factory = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = default_factory(*args, **kwargs)
        record.tenant = "acme"  # an attribute every record gets: an extra like any other
        return record

    logging.setLogRecordFactory(factory)
    try:
        logger.info("token %s sent", "abc")
        logger.info("the secret is out")
    finally:
        logging.setLogRecordFactory(default_factory)
    logger.info("plain again")  # back to records with logging's own attributes only
    line = _lineno() - 1
    assert tracing.flush()
    rows = read(db_path, "SELECT * FROM logs ORDER BY id")
    assert [r["message"] for r in rows] == ["t*** abc sent", "plain again"]
    assert json.loads(rows[0]["attributes"]) == {"tenant": "acme"}
    assert rows[1]["attributes"] is None
    assert rows[1]["source_location"] == f"tests/tracing/test_loghandler.py:{line}"
    assert rows[0]["source_location"] != rows[1]["source_location"]
