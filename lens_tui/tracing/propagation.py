"""W3C Trace Context (`traceparent` / `tracestate`, version 00): carry a trace across processes.

`inject(headers)` writes the current span's context into outgoing headers; `extract(headers)`
reads an incoming one (a malformed or all-zero context is ignored, never raised);
`use_context(ctx)` and `span(name, parent=ctx)` continue it, so the spans this process records
join the caller's trace. A remote trace id is kept exactly as the caller sent it: only the
trace ids this process makes are time-ordered (lens_tui/tracing/ids.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from contextvars import ContextVar, Token
from typing import Any

from lens_tui.tracing.context import SpanRecord, current

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

MAX_TRACESTATE_CHARS = 8192
"""A longer `tracestate` is dropped rather than passed on (W3C asks for at least 512)."""

_HEX = frozenset("0123456789abcdef")
_MAX_TRACE = 1 << 128
_MAX_SPAN = 1 << 64


class SpanContext:
    """A span of another process, as `extract` read it: the parent of the spans that continue it."""

    __slots__ = ("trace_id", "span_id", "trace_flags", "tracestate")

    def __init__(
        self, trace_id: int, span_id: int, trace_flags: int = 1, tracestate: str | None = None
    ) -> None:
        if not (0 < trace_id < _MAX_TRACE and 0 < span_id < _MAX_SPAN):
            raise ValueError("trace id and span id must be non-zero 128- and 64-bit values")
        self.trace_id = trace_id
        self.span_id = span_id
        self.trace_flags = trace_flags & 0xFF
        self.tracestate = tracestate

    @property
    def trace_id_hex(self) -> str:
        """The trace id as 32 lowercase hex digits."""
        return f"{self.trace_id:032x}"

    @property
    def span_id_hex(self) -> str:
        """The span id as 16 lowercase hex digits."""
        return f"{self.span_id:016x}"

    @property
    def sampled(self) -> bool:
        """The caller's sampled flag (the lens library records every span either way)."""
        return bool(self.trace_flags & 1)

    def traceparent(self) -> str:
        """This context as a version-00 `traceparent` value."""
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-{self.trace_flags:02x}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpanContext) and (
            self.trace_id,
            self.span_id,
            self.trace_flags,
            self.tracestate,
        ) == (other.trace_id, other.span_id, other.trace_flags, other.tracestate)

    def __hash__(self) -> int:
        return hash((self.trace_id, self.span_id))

    def __repr__(self) -> str:
        return f"SpanContext({self.traceparent()!r}, tracestate={self.tracestate!r})"


remote: ContextVar[SpanContext | None] = ContextVar("lens_remote_context", default=None)
"""The remote context this context continues (its `tracestate` goes on with every call out)."""


def _is_hex(text: str) -> bool:
    return bool(text) and _HEX.issuperset(text)


def parse_traceparent(
    value: str | bytes | None, tracestate: str | bytes | None = None
) -> SpanContext | None:
    """A `traceparent` value (and its `tracestate`) as a SpanContext, or None when invalid.

    Follows W3C Trace Context level 1: lowercase hex only; version ff is invalid; version 00 is
    exactly four fields; a later version may append fields after a `-`, which are ignored.
    """
    try:
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if not isinstance(value, str):
            return None
        text = value.strip(" \t")
        if len(text) < 55 or text[2] != "-" or text[35] != "-" or text[52] != "-":
            return None
        version, trace, span, flags = text[:2], text[3:35], text[36:52], text[53:55]
        if not (_is_hex(version) and _is_hex(trace) and _is_hex(span) and _is_hex(flags)):
            return None
        if version == "ff" or (version == "00" and len(text) != 55):
            return None
        if len(text) > 55 and text[55] != "-":
            return None
        trace_id, span_id = int(trace, 16), int(span, 16)
        if not trace_id or not span_id:
            return None
        return SpanContext(trace_id, span_id, int(flags, 16), clean_tracestate(tracestate))
    except Exception:  # whatever a caller sends, a bad header is ignored, never raised
        return None


def clean_tracestate(value: str | bytes | Iterable[str] | None) -> str | None:
    """A `tracestate` to pass on as it came, or None when absent, too long or unsafe in a header.

    Several header lines join with a comma, as HTTP combines them; the members themselves are
    not re-ordered or re-written (a vendor's entry is its own business).
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        value = ",".join(str(v) for v in value)
    text = value.strip(" \t")
    if not text or len(text) > MAX_TRACESTATE_CHARS:
        return None
    if any(not (" " <= ch <= "~") and ch != "\t" for ch in text):  # no CR/LF into outgoing headers
        return None
    return text


def _headers(carrier: Any) -> tuple[Any, Any]:
    """The traceparent and tracestate values in a carrier, header names matched in any case.

    A carrier is a mapping (dict, httpx/requests/Starlette headers) or pairs (ASGI's
    `[(b"name", b"value")]`). Two traceparent headers make the context invalid (W3C).
    """
    parents: list[Any] = []
    states: list[Any] = []
    items = (
        carrier.items() if isinstance(carrier, Mapping) or hasattr(carrier, "items") else carrier
    )
    for key, value in items:
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        name = name.lower()
        if name == TRACEPARENT:
            parents.append(value)
        elif name == TRACESTATE:
            states.append(value.decode("latin-1") if isinstance(value, bytes) else str(value))
    if len(parents) != 1:
        return None, None
    return parents[0], (states or None)


def extract(carrier: Mapping[str, Any] | Iterable[tuple[Any, Any]] | None) -> SpanContext | None:
    """The remote context in incoming headers, or None (no header, or an invalid one)."""
    if carrier is None:
        return None
    try:
        parent, states = _headers(carrier)
        if parent is None:
            return None
        return parse_traceparent(parent, states)
    except Exception:
        return None


def traceparent_of(node: SpanContext | SpanRecord) -> str:
    """The `traceparent` value naming `node` as the parent (sampled: this process records it)."""
    flags = node.trace_flags if isinstance(node, SpanContext) else 1
    return f"00-{node.trace_id:032x}-{node.span_id:016x}-{flags:02x}"


def tracestate_for(node: SpanContext | SpanRecord) -> str | None:
    """The `tracestate` that goes with `node`: the remote context's, when `node` continues it."""
    if isinstance(node, SpanContext):
        return node.tracestate
    entry = remote.get()
    if entry is not None and entry.trace_id == node.trace_id:
        return entry.tracestate
    return None


def inject(
    carrier: MutableMapping[str, str], context: SpanContext | SpanRecord | None = None
) -> None:
    """Write the current span's (or `context`'s) `traceparent` and `tracestate` into `carrier`.

    Outside any span it writes nothing. Never raises.
    """
    try:
        node = current.get() if context is None else context
        if node is None:
            return
        carrier[TRACEPARENT] = traceparent_of(node)
        state = tracestate_for(node)
        if state:
            carrier[TRACESTATE] = state
    except Exception:
        pass


class use_context:
    """Continue a remote trace in a block: spans started inside are children of `ctx`.

    `with tracing.use_context(tracing.extract(headers)):` (a None context changes nothing).
    Works as `with` and `async with`; context variables carry it through awaits and tasks.
    """

    __slots__ = ("_context", "_tokens")

    def __init__(self, ctx: SpanContext | None) -> None:
        self._context = ctx if isinstance(ctx, SpanContext) else None
        self._tokens: tuple[Token[Any], Token[SpanContext | None]] | None = None

    def __enter__(self) -> SpanContext | None:
        ctx = self._context
        if ctx is not None:
            self._tokens = (current.set(ctx), remote.set(ctx))  # type: ignore[arg-type]
        return ctx

    def __exit__(self, *exc: object) -> None:
        tokens, self._tokens = self._tokens, None
        if tokens is None:
            return
        for var, token in ((current, tokens[0]), (remote, tokens[1])):
            try:
                var.reset(token)  # type: ignore[attr-defined]
            except (ValueError, RuntimeError):  # left in another context: nothing to restore
                pass

    async def __aenter__(self) -> SpanContext | None:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__(*exc)
