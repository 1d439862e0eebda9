"""Spans recorded elsewhere (OpenTelemetry SDK, OTLP senders) on their way to the writer."""

from __future__ import annotations

from typing import Any


class ExternalSpan:
    """A finished or running span with absolute times and hex ids, as OpenTelemetry reports it.

    `attributes`, `events` and `links` are a dict / lists, or their JSON text already encoded:
    the OTLP receiver encodes in its request threads, off the single writer thread's path.
    """

    __slots__ = (
        "span_id", "trace_id", "parent_span_id", "name", "started_at", "duration_ms", "status",
        "error_message", "exception_type", "traceback", "service", "kind", "attributes",
        "events", "links", "source", "persisted", "remote_parent",
    )  # fmt: skip

    def __init__(
        self,
        *,
        span_id: str,
        trace_id: str,
        name: str,
        started_at: float,
        duration_ms: float | None,
        parent_span_id: str | None = None,
        status: str = "ok",
        error_message: str | None = None,
        exception_type: str | None = None,
        traceback: str | None = None,
        service: str | None = None,
        kind: str | None = None,
        attributes: dict[str, Any] | str | None = None,
        events: list[dict[str, Any]] | str | None = None,
        links: list[dict[str, Any]] | str | None = None,
        source: str | None = None,
        remote_parent: bool = False,
    ) -> None:
        self.span_id = span_id
        self.trace_id = trace_id
        self.parent_span_id = parent_span_id
        self.name = name
        self.started_at = started_at
        self.duration_ms = duration_ms
        self.status = "running" if duration_ms is None else status
        self.error_message = error_message
        self.exception_type = exception_type
        self.traceback = traceback
        self.service = service
        self.kind = kind
        self.attributes = attributes
        self.events = events
        self.links = links
        self.source = source
        self.persisted = False
        self.remote_parent = remote_parent
        """The parent is a span of another process (OTLP's span flags say so)."""

    def __repr__(self) -> str:
        return f"ExternalSpan({self.name!r}, span_id={self.span_id}, trace_id={self.trace_id})"
