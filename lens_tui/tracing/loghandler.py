"""Logging integration: a handler that stores records with their trace and span, and stderr formatters."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from lens_tui.levels import LEVEL_NAME_KEY, folded_name, of_number
from lens_tui.tracing import api
from lens_tui.tracing.context import current
from lens_tui.tracing.ids import span_hex, trace_hex

# LogRecord attributes that are not user "extra" fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}
_MAX_MESSAGE = 1024 * 1024


def _location(record: logging.LogRecord) -> str:
    path = record.pathname
    try:
        rel = os.path.relpath(path)
        if not rel.startswith(".."):
            path = rel
    except ValueError:
        pass
    return f"{path}:{record.lineno}"


def _extras(record: logging.LogRecord) -> dict[str, Any] | None:
    extra = {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
    }
    return extra or None


class LogHandler(logging.Handler):
    """Stores each record with the current trace and span ids, level, logger and source location.

    Uses the process-wide writer from `configure()` unless given one (`store=`). Never raises
    into the caller.
    """

    def __init__(self, level: int = logging.NOTSET, store: Any = None) -> None:
        super().__init__(level)
        self._store = store

    def emit(self, record: logging.LogRecord) -> None:
        store = self._store or api.get_store()
        if store is None:
            return
        try:
            span = current.get()
            try:
                message = record.getMessage()
            except Exception:  # bad %-args: keep the template rather than lose the record
                message = f"{record.msg!s} {record.args!r}"
            exc_type = tb = None
            if record.exc_info and record.exc_info[0] is not None:
                exc_type = record.exc_info[0].__qualname__
                tb = "".join(logging.Formatter().formatException(record.exc_info))
            level = of_number(record.levelno)
            attributes = _extras(record)
            name = folded_name(record.levelname, level)
            if name is not None:
                attributes = {LEVEL_NAME_KEY: name, **(attributes or {})}
            store.log(
                level,
                message[:_MAX_MESSAGE],
                timestamp_ms=record.created * 1000.0,
                trace_id=None if span is None else span.trace_id,
                span_id=None if span is None else span.span_id,
                logger=record.name,
                source_location=_location(record),
                attributes=attributes,
                exception_type=exc_type,
                traceback=tb,
            )
        except Exception:
            self.handleError(record)


def _ids() -> tuple[str | None, str | None]:
    span = current.get()
    if span is None:
        return None, None
    return trace_hex(span.trace_id), span_hex(span.span_id)


class HumanFormatter(logging.Formatter):
    """`12:00:01.123 INFO  app.db  message  [trace=… span=…]` for people reading stderr."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        trace_id, span_id = _ids()
        text = f"{stamp}.{int(record.msecs):03d} {record.levelname:<7} {record.name}  {record.getMessage()}"
        if trace_id:
            text += f"  [trace={trace_id[:12]} span={span_id}]"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with trace and span ids, for machines reading stderr."""

    def format(self, record: logging.LogRecord) -> str:
        trace_id, span_id = _ids()
        data: dict[str, Any] = {
            "ts": record.created,
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "traceId": trace_id,
            "spanId": span_id,
            "source": _location(record),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        extra = _extras(record)
        if extra:
            data["extra"] = extra
        return json.dumps(data, default=str, ensure_ascii=False)


def install_logging(
    level: int = logging.INFO, *, stderr: bool = True, json_format: bool = False, logger: str = ""
) -> LogHandler:
    """Attach a LogHandler (and, if `stderr`, a stderr handler; stdout is never written) to a logger."""
    target = logging.getLogger(logger)
    handler = LogHandler()
    target.addHandler(handler)
    if stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(JsonFormatter() if json_format else HumanFormatter())
        target.addHandler(stream)
    if target.level == logging.NOTSET or target.level > level:
        target.setLevel(level)
    return handler
