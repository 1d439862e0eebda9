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

_current_get = current.get

# LogRecord attributes that are not user "extra" fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}
_PLAIN_KEYS = len(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
"""How many attributes a record made by logging has: one with no more carries no extras."""
_MAX_MESSAGE = 1024 * 1024
_CACHED_PATHS = 4096
"""Source files whose relative path (and lines whose location text) are kept, at most."""

_paths: dict[str, dict[int, str]] = {}
"""pathname -> lineno -> "relative/path.py:lineno": os.path.relpath costs ~2 µs a call."""


def _relative(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _location(record: logging.LogRecord) -> str:
    """`path:line` of the logging call, the path relative to the working directory when inside
    it (as it was at the first record of that file: as lens_fn's locations, fixed once)."""
    lines = _paths.get(record.pathname)
    if lines is not None:
        text = lines.get(record.lineno)
        if text is not None:
            return text
    text = f"{_relative(record.pathname)}:{record.lineno}"
    if lines is None:
        if len(_paths) < _CACHED_PATHS:
            _paths[record.pathname] = {record.lineno: text}
    elif len(lines) < _CACHED_PATHS:
        lines[record.lineno] = text
    return text


def _extras(record: logging.LogRecord) -> dict[str, Any] | None:
    extra = {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
    }
    return extra or None


_levels: dict[int, tuple[str, str, str | None]] = {}
"""levelno -> (levelname, stored level, the name kept in log.level_name or None)."""


def _level(record: logging.LogRecord) -> tuple[str, str, str | None]:
    """The record's stored level and folded name, computed once per level number and name."""
    known = _levels.get(record.levelno)
    if known is not None and known[0] == record.levelname:
        return known
    level = of_number(record.levelno)
    known = (record.levelname, level, folded_name(record.levelname, level))
    if len(_levels) < 256:
        _levels[record.levelno] = known
    return known


class LogHandler(logging.Handler):
    """Stores each record with the current trace and span ids, level, logger and source location.

    Uses the process-wide writer from `configure()` unless given one (`store=`). Never raises
    into the caller, never blocks it: a record only goes onto the writer's bounded queue.
    """

    def __init__(self, level: int = logging.NOTSET, store: Any = None) -> None:
        super().__init__(level)
        self._store = store

    def handle(self, record: logging.LogRecord) -> Any:
        """Filter, then emit, as logging.Handler.handle does, without taking the handler's lock:
        emit only appends to the writer's queue, which any thread may do at any time, and the
        lock (an RLock) cost ~0.3 µs a record."""
        rv: Any = True
        if self.filters:
            rv = self.filter(record)
            if not rv:
                return rv
            if isinstance(rv, logging.LogRecord):  # Python 3.12: a filter may replace it
                record = rv
        self.emit(record)
        return rv

    def emit(self, record: logging.LogRecord) -> None:
        store = self._store or api.get_store()
        if store is None:
            return
        try:
            span = _current_get()
            try:
                message = record.getMessage()
            except Exception:  # bad %-args: keep the template rather than lose the record
                message = f"{record.msg!s} {record.args!r}"
            if len(message) > _MAX_MESSAGE:
                message = message[:_MAX_MESSAGE]
            exc_type = tb = None
            exc_info = record.exc_info
            if exc_info and exc_info[0] is not None:
                exc_type = exc_info[0].__qualname__
                tb = "".join(logging.Formatter().formatException(exc_info))
            _, level, name = _level(record)
            attributes = None if len(record.__dict__) == _PLAIN_KEYS else _extras(record)
            if name is not None:
                attributes = {LEVEL_NAME_KEY: name, **(attributes or {})}
            # A LogItem (batch.py) queued as TraceWriter.put would, without its keywords and call.
            queue = store.queue
            size = len(queue)
            if size >= store.queue_limit or store.closed:
                store.count_dropped(1)
                return
            # fmt: off
            queue.extend((
                level, message, record.created * 1000.0,
                None if span is None else span.trace_id, None if span is None else span.span_id,
                record.name, _location(record), attributes, exc_type, tb, None,
            ))
            # fmt: on
            if size == store.wake_at:
                store.wake()
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
