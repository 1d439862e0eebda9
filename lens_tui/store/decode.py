"""Decoding stored cells into the read side's values: text, times, counts, attributes, levels,
statuses, and whole rows into the records of `lens_tui.store.records`.

Another program may have written any cell: bytes where text belongs, text where a number
belongs, invalid UTF-8, infinities. Every decoder here accepts any cell and never raises.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from typing import Any

from lens_tui.levels import normalise_level
from lens_tui.schema import SPAN_STATUSES
from lens_tui.store.records import LogRow, SpanRow, TraceSummary, WriterInfo
from lens_tui.text import encode_json, one_line

UNPARSED_KEY = "(unparsed)"
"""The attribute key under which a cell that is not a JSON object is shown raw."""

# fmt: off
TRACE_COLUMNS = (
    "trace_id", "root_span_name", "source", "service", "started_at", "ended_at", "duration_ms",
    "span_count", "error_count", "status", "updated_at", "root_span_id",
)
"""The order of a trace row `trace_summary` decodes."""
SPAN_COLUMNS = (
    "span_id", "trace_id", "parent_span_id", "name", "started_at", "duration_ms", "status",
    "error_message", "exception_type", "traceback", "service", "kind", "attributes", "events",
    "links", "input_size", "output_size", "input_body_hash", "output_body_hash", "source_location",
)
"""The order of a span row `span_row` decodes."""
KEY_COLUMNS = ("span_id", "parent_span_id", "started_at", "duration_ms")
"""What a span forest is built from (`TraceReader.trace_keys`)."""
LOG_COLUMNS = (
    "id", "trace_id", "span_id", "level", "message", "timestamp", "logger", "source_location",
    "service", "exception_type", "traceback", "attributes",
)
"""The order of a log row `log_row` decodes."""
WRITER_COLUMNS = (
    "writer_id", "pid", "hostname", "service", "last_write_at", "spans_written", "logs_written",
    "dropped", "errors",
)
"""The order of a writers row `writer_info` decodes."""
# fmt: on

_encode_json_str = json.encoder.encode_basestring

MAX_BODY_BYTES = 16 * 1024 * 1024
"""A body larger than this (after gunzip) is cut: a gzip bomb must not exhaust memory."""


def as_text(value: object) -> str:
    """A cell as text: None as "", bytes decoded with U+FFFD for invalid UTF-8."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def as_opt_text(value: object) -> str | None:
    """`as_text`, keeping NULL as None."""
    return None if value is None else as_text(value)


def as_ms(value: object) -> float | None:
    """A stored time or duration as float milliseconds (the original layout stores integers);
    None for infinities and NaN (SQLite stores inf as REAL; 'nan' may sit in a TEXT cell), which
    no formatter can show (tests/reliability/test_11_pathological.py)."""
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_int(value: object) -> int | None:
    """A stored count as an int; None when NULL or not a number."""
    if value is None:
        return None
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def status(stored: object, failed: bool, duration: float | None) -> str:
    """A span's or trace's status: the stored one when it is one of SPAN_STATUSES, else derived
    (layouts without a status column): `error` when it `failed` (a span's error message, a
    trace's error count), `running` without a duration, else `ok`."""
    text = as_text(stored).lower()
    if text in SPAN_STATUSES:
        return text
    if failed:
        return "error"
    return "running" if duration is None else "ok"


def parse_attributes(raw: object) -> tuple[tuple[str, str], ...]:
    """A stored JSON object as (key, JSON-encoded value) pairs; anything else shown raw."""
    if raw is None:
        return ()
    text = as_text(raw)
    if not text.strip():
        return ()
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return ((UNPARSED_KEY, text),)
    if not isinstance(value, dict):
        return ((UNPARSED_KEY, text),)
    pairs: list[tuple[str, str]] = []
    for key, item in value.items():
        try:
            encoded = _json_value(item)
        except (ValueError, RecursionError):  # pragma: no cover - json.loads output re-encodes
            encoded = repr(item)
        pairs.append((str(key), encoded))
    return tuple(pairs)


def _json_value(item: object) -> str:
    """`item` JSON-encoded as `json.dumps(item, ensure_ascii=False)` would, the common scalars
    without the encoder machinery."""
    kind = type(item)
    if kind is str:
        return _encode_json_str(item)  # type: ignore[arg-type]
    if kind is int:
        return int.__repr__(item)  # type: ignore[arg-type]
    if kind is bool:
        return "true" if item else "false"
    if item is None:
        return "null"
    return encode_json(item)


def trace_summary(row: Sequence[Any]) -> TraceSummary:
    """A TraceSummary from a row in TRACE_COLUMNS order."""
    duration = as_ms(row[6])
    error_count = as_int(row[8])
    return TraceSummary(
        trace_id=as_text(row[0]),
        root_span_name=as_text(row[1]),
        source=as_opt_text(row[2]),
        service=as_opt_text(row[3]),
        started_at=as_ms(row[4]) or 0.0,
        ended_at=as_ms(row[5]),
        duration_ms=duration,
        span_count=as_int(row[7]),
        error_count=error_count,
        status=status(row[9], bool(error_count), duration),
        updated_at=as_ms(row[10]),
        root_span_id=as_opt_text(row[11]) if len(row) > 11 else None,
    )


def span_row(row: Sequence[Any]) -> SpanRow:
    """A SpanRow from a row in SPAN_COLUMNS order (pure: any thread may call it)."""
    duration = as_ms(row[5])
    return SpanRow(
        span_id=as_text(row[0]),
        trace_id=as_text(row[1]),
        parent_span_id=as_opt_text(row[2]),
        name=as_text(row[3]),
        started_at=as_ms(row[4]) or 0.0,
        duration_ms=duration,
        status=status(row[6], row[7] is not None, duration),
        error_message=as_opt_text(row[7]),
        exception_type=as_opt_text(row[8]),
        traceback=as_opt_text(row[9]),
        service=as_opt_text(row[10]),
        kind=as_opt_text(row[11]),
        attributes=parse_attributes(row[12]),
        events=as_opt_text(row[13]),
        links=as_opt_text(row[14]),
        input_size=as_int(row[15]),
        output_size=as_int(row[16]),
        input_body_hash=as_opt_text(row[17]),
        output_body_hash=as_opt_text(row[18]),
        source_location=as_opt_text(row[19]),
    )


def log_row(row: Sequence[Any]) -> LogRow:
    """A LogRow from a row in LOG_COLUMNS order; the level normalised by `lens_tui.levels`."""
    return LogRow(
        id=int(row[0]),
        trace_id=as_opt_text(row[1]),
        span_id=as_opt_text(row[2]),
        level=normalise_level(row[3]),
        message=as_text(row[4]),
        timestamp=as_ms(row[5]) or 0.0,
        logger=as_opt_text(row[6]),
        source_location=as_opt_text(row[7]),
        service=as_opt_text(row[8]),
        exception_type=as_opt_text(row[9]),
        traceback=as_opt_text(row[10]),
        attributes=as_opt_text(row[11]),
    )


def writer_info(row: Sequence[Any]) -> WriterInfo:
    """A WriterInfo from a row in WRITER_COLUMNS order."""
    return WriterInfo(
        writer_id=as_text(row[0]),
        pid=as_int(row[1]) or 0,
        hostname=as_opt_text(row[2]),
        service=as_opt_text(row[3]),
        last_write_at=as_ms(row[4]) or 0.0,
        spans_written=as_int(row[5]) or 0,
        logs_written=as_int(row[6]) or 0,
        dropped=as_int(row[7]) or 0,
        errors=as_int(row[8]) or 0,
    )


def key_columns(
    rows: Sequence[Sequence[Any]], columns: Sequence[str] = KEY_COLUMNS
) -> tuple[list[str], list[str | None], list[float], list[float | None]]:
    """The KEY_COLUMNS of rows laid out as `columns` (KEY_COLUMNS or SPAN_COLUMNS), each as a
    list of what `span_row` decodes: whole columns checked at C speed, decoded one by one only
    when some cell is not the usual type (bytes, integers, infinities)."""
    at_id, at_parent, at_start, at_duration = (columns.index(name) for name in KEY_COLUMNS)
    span_ids = [r[at_id] for r in rows]
    if not set(map(type, span_ids)) <= {str}:
        span_ids = [as_text(v) for v in span_ids]
    parent_ids = [r[at_parent] for r in rows]
    if not set(map(type, parent_ids)) <= {str, type(None)}:
        parent_ids = [as_opt_text(v) for v in parent_ids]
    starts = [r[at_start] for r in rows]
    if not set(map(type, starts)) <= {float} or not all(map(math.isfinite, starts)):
        starts = [as_ms(v) or 0.0 for v in starts]
    durations = [r[at_duration] for r in rows]
    if not set(map(type, durations)) <= {float, type(None)} or not all(
        map(math.isfinite, filter(None, durations))
    ):
        durations = [as_ms(v) for v in durations]
    return span_ids, parent_ids, starts, durations


def body_text(stored: object, compressed: object, limit: int = MAX_BODY_BYTES) -> str:
    """A stored body as text: gunzipped when `compressed`, cut after `limit` bytes (with a
    note saying so), invalid UTF-8 as U+FFFD; a gzip stream that does not inflate is a note."""
    data = stored if isinstance(stored, bytes) else as_text(stored).encode("utf-8", "replace")
    suffix = ""
    if compressed:
        try:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            data = inflater.decompress(data, limit)
            if inflater.unconsumed_tail:
                suffix = f"\n… (body cut at {limit} bytes)"
        except zlib.error as exc:
            return f"(stored body could not be decompressed: {one_line(exc)})"
    elif len(data) > limit:
        data, suffix = data[:limit], f"\n… (body cut at {limit} bytes)"
    return data.decode("utf-8", errors="replace") + suffix
