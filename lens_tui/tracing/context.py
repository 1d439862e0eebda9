"""The current span in a ContextVar, and the in-memory span record the writer persists."""

from __future__ import annotations

import os
import sys
import traceback as _traceback
from contextvars import ContextVar
from operator import attrgetter
from time import perf_counter
from types import CodeType, TracebackType
from typing import TYPE_CHECKING, Any

from lens_tui.tracing import ids

if TYPE_CHECKING:
    from lens_tui.tracing.propagation import SpanContext

MAX_TRACEBACK_CHARS = 64 * 1024
MAX_MESSAGE_CHARS = 8 * 1024


class _Extra:
    """The fields most spans never set: an error, HTTP sizes and bodies, kind, source, events,
    and whether the parent is a span of another process."""

    __slots__ = (
        "status",
        "error_message",
        "exception_type",
        "traceback",
        "input_size",
        "output_size",
        "kind",
        "source",
        "input_body",
        "output_body",
        "events",
        "remote_parent",
    )

    def __init__(self) -> None:
        self.status = "ok"
        self.error_message: str | None = None
        self.exception_type: str | None = None
        self.traceback: str | None = None
        self.input_size: int | None = None
        self.output_size: int | None = None
        self.kind: str | None = None
        self.source: str | None = None
        self.input_body: bytes | str | None = None
        self.output_body: bytes | str | None = None
        self.events: list[dict[str, Any]] | None = None
        self.remote_parent = False


_EXTRA_DEFAULTS = _Extra()


def _extra_field(name: str) -> Any:
    """A SpanRecord attribute kept in its `extra`, which the first assignment creates."""
    read = attrgetter(name)
    default = read(_EXTRA_DEFAULTS)

    def get(self: SpanRecord) -> Any:
        extra = self.extra
        return default if extra is None else read(extra)

    def put(self: SpanRecord, value: Any) -> None:
        extra = self.extra
        if extra is None:
            extra = self.extra = _Extra()
        setattr(extra, name, value)

    return property(get, put, doc=f"`{name}` (default {default!r}).")


class SpanRecord:
    """One span in flight or finished. Times are perf_counter seconds; the writer converts them.

    Mutated only by the thread that runs the span until `end` is recorded; afterwards only read.
    """

    # The hot path: creating a span stores only these 9 slots (lens_fn's wrapper stores them
    # itself, without calling __init__). The 12 fields few spans set live in one `_Extra`, the
    # `extra` slot, made on the first assignment (properties below), so a plain span costs
    # ~50 ns less to create and less to queue and write. (__slots__ rather than class defaults:
    # unspecialised class-attribute reads made the writer ~200 ns dearer per span.) Whether a
    # running span was written is the writer's to know (TraceWriter.running_written).
    __slots__ = (
        "span_id",
        "trace_id",
        "parent_id",
        "name",
        "t0",
        "t1",
        "attributes",
        "source_location",
        "extra",
    )

    status = _extra_field("status")
    error_message = _extra_field("error_message")
    exception_type = _extra_field("exception_type")
    traceback = _extra_field("traceback")
    input_size = _extra_field("input_size")
    output_size = _extra_field("output_size")
    kind = _extra_field("kind")
    source = _extra_field("source")
    input_body = _extra_field("input_body")
    output_body = _extra_field("output_body")
    events = _extra_field("events")
    remote_parent = _extra_field("remote_parent")

    def __init__(
        self,
        name: str,
        parent: SpanRecord | SpanContext | None,
        attributes: dict[str, Any] | None,
        source_location: str | None = None,
    ) -> None:
        self.name = name
        self.span_id: int = ids.next_span_int()  # type: ignore[misc]
        self.extra: _Extra | None = None
        if parent is None:
            self.trace_id: int = ids.trace_head | ids.next_trace_low()
            self.parent_id: int | None = None
        else:
            self.trace_id = parent.trace_id
            self.parent_id = parent.span_id
            if parent.__class__ is not SpanRecord and not isinstance(parent, SpanRecord):
                self.remote_parent = True  # a SpanContext: the caller's span, elsewhere
        self.attributes = attributes
        self.source_location = source_location
        self.t1: float | None = None
        self.t0 = perf_counter()

    def rare(self) -> _Extra:
        """The record's rarely set fields (status, kind, source, sizes, bodies, ...) as one
        object, made on first use: setting several of them costs one property call, not one each."""
        extra = self.extra
        if extra is None:
            extra = self.extra = _Extra()
        return extra

    def fail(self, exc: BaseException) -> None:
        """Record an exception: status error, its type, message and traceback."""
        self.status = "error"
        self.exception_type = type(exc).__qualname__
        try:
            message = str(exc)
        except Exception:  # a broken __str__ must not break the traced code
            message = f"<unprintable {type(exc).__name__}>"
        self.error_message = (message or type(exc).__name__)[:MAX_MESSAGE_CHARS]
        try:
            text = "".join(
                _traceback.format_exception(type(exc), exc, _user_frames(exc.__traceback__))
            )
        except Exception:
            text = ""
        self.traceback = text[-MAX_TRACEBACK_CHARS:] if text else None

    def set_attribute(self, key: str, value: Any) -> None:
        """Attach one attribute (JSON-encodable, else stored as its str())."""
        if self.attributes is None:
            self.attributes = {}
        self.attributes[key] = value


_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback without the leading frames of our own wrappers (lens_fn, span, middleware):
    the reader wants the application's frames, starting with the traced function."""
    while (
        tb is not None
        and tb.tb_next is not None
        and tb.tb_frame.f_code.co_filename.startswith(_OWN_DIR)
    ):
        tb = tb.tb_next
    return tb


_SPAN_FRAME_CODES: set[CodeType] = set()


def register_span_frames(code: CodeType) -> None:
    """Declare that a frame running `code` holds an open span in its local `record` (complete
    once bound) and that span's writer in its local `writer`: lens_fn's sync wrapper, which
    registers its spans nowhere else (a dict entry per span cost ~65 ns): see open_in_frames."""
    _SPAN_FRAME_CODES.add(code)


def open_in_frames(writer: object) -> list[SpanRecord]:
    """The spans begun for `writer` and open in registered frames on every thread's stack.

    A sync function's span is open exactly while its wrapper's frame is on some thread's stack,
    so the writer thread finds them there (once per flush interval) instead of every span
    registering itself; one whose `t1` is set has ended (and is queued), and is left out.
    """
    codes = _SPAN_FRAME_CODES
    found: list[SpanRecord] = []
    if not codes:
        return found
    try:
        for frame in sys._current_frames().values():
            while frame is not None:
                if frame.f_code in codes:
                    local = frame.f_locals
                    record = local.get("record")
                    if record is not None and record.t1 is None and local.get("writer") is writer:
                        found.append(record)
                frame = frame.f_back
    except Exception:  # an interpreter without frames to walk: running spans just go unseen
        pass
    return found


current: ContextVar[SpanRecord | SpanContext | None] = ContextVar("lens_current_span", default=None)
"""The span whose code is running in this context, or the remote span it continues
(`propagation.use_context`), or None."""


class SpanHandle:
    """What user code gets for the current span: ids and attribute setters, nothing mutable else."""

    __slots__ = ("_record",)

    def __init__(self, record: SpanRecord) -> None:
        self._record = record

    @property
    def trace_id(self) -> str:
        """The trace id as 32 hex digits."""
        return ids.trace_hex(self._record.trace_id)

    @property
    def span_id(self) -> str:
        """The span id as 16 hex digits."""
        return ids.span_hex(self._record.span_id)

    @property
    def name(self) -> str:
        """The span name."""
        return self._record.name

    def set_attribute(self, key: str, value: Any) -> None:
        """Attach one attribute to the span."""
        self._record.set_attribute(key, value)

    def set_attributes(self, **attributes: Any) -> None:
        """Attach several attributes to the span."""
        for key, value in attributes.items():
            self._record.set_attribute(key, value)

    def rename(self, name: str) -> None:
        """Change the span's name (e.g. once the route is known)."""
        self._record.name = name

    def record_exception(self, exc: BaseException) -> None:
        """Mark the span failed with `exc` without raising it."""
        self._record.fail(exc)


def current_span() -> SpanHandle | None:
    """The current span, or None outside any span of this process."""
    record = current.get()
    return SpanHandle(record) if isinstance(record, SpanRecord) else None
