"""A span's events and links as the detail panel and the waterfall need them.

The `spans.events` column holds a JSON list of `{"name", "time", "attributes"}` (time in epoch
ms; OpenTelemetry's `timestamp` spelling is read too) and `spans.links` a JSON list of
`{"trace_id", "span_id", "attributes"}` (docs/schema.md). Text that is not such JSON yields no
events or links rather than an error: the column is data from any writer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lens_tui.store.records import SpanRow

if TYPE_CHECKING:
    from lens_tui.store.reader import TraceReader


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """One event of a span."""

    name: str
    time: float | None
    """Epoch ms, None when the event has no usable time."""
    offset_ms: float | None
    """`time` minus the span's start (negative, or past the duration, for an event recorded
    outside the span's interval; a marker drawn on the bar should clip it)."""
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SpanLink:
    """One link of a span, resolved against the database it was read from."""

    trace_id: str
    span_id: str
    attributes: dict[str, Any]
    same_trace: bool
    """The link points into the span's own trace."""
    trace_exists: bool
    """The linked trace is in this file."""
    span_exists: bool
    """The linked span itself is in this file (so a jump lands on it)."""


def _json_list(text: str | None) -> list[dict[str, Any]]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return []
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def span_events(span: SpanRow) -> list[SpanEvent]:
    """The span's events in time order (events without a time last, in stored order)."""
    events = []
    for item in _json_list(span.events):
        when = _number(item.get("time", item.get("timestamp")))
        attributes = item.get("attributes")
        events.append(
            SpanEvent(
                name=str(item.get("name") or "event"),
                time=when,
                offset_ms=None if when is None else when - span.started_at,
                attributes=attributes if isinstance(attributes, dict) else {},
            )
        )
    events.sort(key=lambda e: (e.time is None, e.time or 0.0))
    return events


def _hex_id(value: object) -> str:
    return str(value).strip().lower() if value is not None else ""


def link_targets(span: SpanRow) -> list[tuple[str, str, dict[str, Any]]]:
    """The span's links as (trace id, span id, attributes), ids in lower case, as stored."""
    out = []
    for item in _json_list(span.links):
        trace_id, span_id = _hex_id(item.get("trace_id")), _hex_id(item.get("span_id"))
        if not trace_id:
            continue
        attributes = item.get("attributes")
        out.append((trace_id, span_id, attributes if isinstance(attributes, dict) else {}))
    return out


def span_links(
    span: SpanRow,
    reader: TraceReader,
    known_span_ids: Iterable[str] = (),
) -> list[SpanLink]:
    """The span's links, each checked against the file `reader` reads (runs queries: call it
    from a worker). `known_span_ids` are the span ids of the span's own trace when the caller
    holds them already (a link into it then needs no query)."""
    targets = link_targets(span)
    if not targets:
        return []
    own = set(known_span_ids)
    spans_of: dict[str, frozenset[str] | None] = {}
    if own:
        spans_of[span.trace_id] = frozenset(own)
    for trace_id, _span_id, _attributes in targets:
        if trace_id not in spans_of:
            spans_of[trace_id] = _trace_span_ids(reader, trace_id)
    links = []
    for trace_id, span_id, attributes in targets:
        ids = spans_of[trace_id]
        links.append(
            SpanLink(
                trace_id=trace_id,
                span_id=span_id,
                attributes=attributes,
                same_trace=trace_id == span.trace_id,
                trace_exists=ids is not None,
                span_exists=ids is not None and span_id in ids,
            )
        )
    return links


def _trace_span_ids(reader: TraceReader, trace_id: str) -> frozenset[str] | None:
    """The span ids of a trace in the file, or None when the file has neither its trace row
    nor any of its spans."""
    summary, keys = reader.trace_keys(trace_id)
    if summary is None and not keys.span_ids:
        return None
    return frozenset(keys.span_ids)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a user was: a trace and the span selected in it."""

    trace_id: str
    span_id: str | None = None


class History:
    """Opened traces and spans, for a back key after following a link (browser-like: going
    somewhere new after going back drops what was ahead)."""

    def __init__(self, limit: int = 200) -> None:
        self._places: list[Place] = []
        self._at = -1
        self._limit = max(1, limit)

    def visit(self, place: Place) -> None:
        """Record `place` as where the user is now."""
        if 0 <= self._at and self._places[self._at] == place:
            return
        del self._places[self._at + 1 :]
        self._places.append(place)
        if len(self._places) > self._limit:
            del self._places[0]
        self._at = len(self._places) - 1

    @property
    def current(self) -> Place | None:
        """Where the user is, or None before any visit."""
        return self._places[self._at] if self._at >= 0 else None

    def back(self) -> Place | None:
        """Step back and return the place to show, or None at the oldest."""
        if self._at <= 0:
            return None
        self._at -= 1
        return self._places[self._at]

    def forward(self) -> Place | None:
        """Step forward again after `back`, or None at the newest."""
        if self._at + 1 >= len(self._places):
            return None
        self._at += 1
        return self._places[self._at]
