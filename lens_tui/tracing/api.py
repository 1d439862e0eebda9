"""The public tracing API: configure(), lens_fn, span(), flush(), shutdown()."""

from __future__ import annotations

import dis
import functools
import inspect
import os
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from types import CodeType
from typing import Any, TypeVar, overload

from lens_tui.tracing import ids
from lens_tui.tracing.context import SpanHandle, SpanRecord, current, register_span_frames
from lens_tui.tracing.process import ProcessHooks
from lens_tui.tracing.propagation import SpanContext, remote
from lens_tui.tracing.writer import TraceWriter

F = TypeVar("F", bound=Callable[..., Any])

_writer: TraceWriter | None = None
_current_get = current.get
_current_set = current.set
_current_reset = current.reset
_new_record = object.__new__
_clock = time.perf_counter
_lock = threading.Lock()


def configure(
    db_path: str | os.PathLike[str] | None = None,
    *,
    service: str | None = None,
    flush_on_sigterm: bool = True,
    **options: Any,
) -> TraceWriter:
    """Set up the process-wide writer (replacing, after a flush, any earlier one) and return it.

    Options are TraceWriter's: flush_interval, max_queue, busy_timeout_ms, retention_days,
    max_body_bytes, prune_interval_s, max_captured_body, stderr, and for OTLP out
    otlp_endpoint (`http://host:4318`: the same batches go there as OTLP/HTTP protobuf, as
    well as into `db_path`, or instead of it when `db_path` is None), otlp_token (a bearer
    token), otlp_headers, otlp_compression (gzip or None), otlp_timeout, otlp_max_queue,
    otlp_max_retry_s.
    ValueError when there is nowhere to write, or the endpoint is no http(s) URL. With
    `flush_on_sigterm` (and no SIGTERM handler of the application's own), SIGTERM first
    flushes for at most 2 s, then terminates the process as the default action would.
    """
    global _writer
    if flush_on_sigterm:
        _hooks.install_sigterm_flush()
    with _lock:
        old = _writer
        writer = TraceWriter(db_path, service=service, **options)
        _writer = writer
        _hooks.flush_at_exit()
    if old is not None:
        old.shutdown()
    _hooks.flush_multiprocessing_children(writer)
    return writer


def get_store() -> TraceWriter | None:
    """The configured writer, or None."""
    return _writer


def flush(timeout: float | None = 10.0) -> bool:
    """Block until everything recorded so far is committed; True if it was within `timeout`."""
    writer = _writer
    return True if writer is None else writer.flush(timeout)


def shutdown(timeout: float = 5.0) -> bool:
    """Flush and stop the process-wide writer (also run at interpreter exit)."""
    global _writer
    writer, _writer = _writer, None
    return True if writer is None else writer.shutdown(timeout)


_hooks = ProcessHooks(get_store, shutdown)
"""os.fork(), multiprocessing children, SIGTERM and interpreter exit for the process-wide writer."""


def _location(fn: Callable[..., Any]) -> str | None:
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    return f"{_short_path(code.co_filename)}:{code.co_firstlineno}"


def _short_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


class span:
    """A span as a context manager, for `with` and `async with`: `with span("load", user=3) as s:`.

    `parent=` a SpanContext from `tracing.extract` makes it a child of that remote span (the
    caller's trace goes on here) instead of the current span.
    """

    __slots__ = ("_name", "_attributes", "_record", "_token", "_writer", "_parent", "_remote_token")

    def __init__(self, name: str, *, parent: SpanContext | None = None, **attributes: Any) -> None:
        self._name = name
        self._attributes = attributes or None
        self._record: SpanRecord | None = None
        self._token: Any = None
        self._writer: TraceWriter | None = None
        self._parent = parent if isinstance(parent, SpanContext) else None
        self._remote_token: Any = None

    def __enter__(self) -> SpanHandle | None:
        writer = self._writer = _writer
        if writer is None:
            return None
        parent = self._parent
        record = SpanRecord(
            self._name, current.get() if parent is None else parent, self._attributes
        )
        writer.begin(record)
        self._record = record
        self._token = current.set(record)
        if parent is not None:
            self._remote_token = remote.set(parent)  # its tracestate goes on with calls out
        return SpanHandle(record)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        record, writer = self._record, self._writer
        if record is None or writer is None:
            return
        _reset(self._token, record)
        if self._remote_token is not None:
            try:
                remote.reset(self._remote_token)
            except (ValueError, RuntimeError):  # ended in another context
                pass
            self._remote_token = None
        if exc is not None and not isinstance(exc, GeneratorExit):
            record.fail(exc)
        writer.end(record)

    async def __aenter__(self) -> SpanHandle | None:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)


def _reset(token: Any, record: SpanRecord) -> None:
    try:
        current.reset(token)
    except ValueError:
        # Ended in another context (a generator closed elsewhere): restore by hand instead.
        if current.get() is record:
            current.set(None)


@overload
def lens_fn(fn: F) -> F: ...
@overload
def lens_fn(name: str | None = None, **attributes: Any) -> Callable[[F], F]: ...


def lens_fn(fn: Any = None, **attributes: Any) -> Any:
    """Trace a function: `@lens_fn`, `@lens_fn("name")` or `@lens_fn(name="x", attr=...)`.

    Works for sync and async functions, generators and async generators, keeping
    `functools.wraps` metadata. Exceptions are recorded on the span and re-raised unchanged.
    """
    if callable(fn):
        return _wrap(fn, None, attributes or None)
    name = fn if isinstance(fn, str) else attributes.pop("name", None)
    attrs = attributes or None

    def decorate(func: F) -> F:
        return _wrap(func, name, attrs)

    return decorate


def _wrap(fn: Callable[..., Any], name: str | None, attrs: dict[str, Any] | None) -> Any:
    span_name = name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "span")
    location = _location(fn)

    def start() -> tuple[SpanRecord, TraceWriter] | None:
        writer = _writer
        if writer is None:
            return None
        record = SpanRecord(span_name, current.get(), dict(attrs) if attrs else None, location)
        writer.begin(record)
        return record, writer

    if inspect.isasyncgenfunction(fn):
        return functools.wraps(fn)(_async_gen_wrapper(fn, start))
    if inspect.isgeneratorfunction(fn):
        return functools.wraps(fn)(_gen_wrapper(fn, start))
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            started = start()
            if started is None:
                return await fn(*args, **kwargs)
            record, writer = started
            token = current.set(record)
            try:
                return await fn(*args, **kwargs)
            except BaseException as exc:
                record.fail(exc)
                raise
            finally:
                _reset(token, record)
                writer.end(record)

        return async_wrapper

    return _sync_wrapper(fn, span_name, attrs, location)


def _sync_factory(
    fn: Any, span_name: str, attrs: dict[str, Any] | None, location: str | None
) -> Any:
    """lens_fn's wrapper of a plain function; `_exact_factory` makes the same with `fn`'s own
    parameters in place of `*args, **kwargs` (packing them cost ~65 ns a call)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        writer = _writer
        if writer is None:
            return fn(*args, **kwargs)
        # The hottest path, so SpanRecord.__init__, writer.end() and _reset() are inlined: a
        # Python call costs ~60 ns of the ~0.6 µs a span costs here. The open span is registered
        # nowhere: the writer finds it in this frame's `record` (context.open_in_frames), bound
        # only once the record is complete.
        parent = _current_get()
        r = _new_record(SpanRecord)
        r.name = span_name
        r.attributes = dict(attrs) if attrs else None
        r.source_location = location
        r.t1 = None
        r.extra = None
        sid = r.span_id = ids.next_span_int()  # type: ignore[misc]
        if parent is None:
            tid = r.trace_id = ids.trace_head | ids.next_trace_low()
            pid = r.parent_id = None
        else:
            tid = r.trace_id = parent.trace_id
            pid = r.parent_id = parent.span_id
            if parent.__class__ is not SpanRecord and not isinstance(parent, SpanRecord):
                r.remote_parent = True  # a SpanContext: the caller's span, elsewhere
        t0 = r.t0 = _clock()
        record = r
        token = _current_set(record)
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            record.fail(exc)
            raise
        finally:
            t1 = record.t1 = _clock()  # ended: open_in_frames passes it by from here on
            try:
                _current_reset(token)
            except ValueError:  # ended in another context: as in _reset()
                if _current_get() is record:
                    _current_set(None)
            queue = writer.queue
            size = len(queue)
            if size >= writer.queue_limit or writer.closed:
                writer.count_dropped(1)
            else:
                # One record of batch.WIDTH values: an EndedSpan and batch.PAD2.
                # fmt: off
                queue.extend((
                    sid, tid, pid, record.name, t0, t1, record.attributes, location, record.extra,
                    None, None,
                ))
                # fmt: on
                if size == writer.wake_at:
                    writer.wake()

    return wrapper


_GENERIC_PARAMS = "*args: Any, **kwargs: Any"
_GENERIC_CALL = "fn(*args, **kwargs)"
_factories: dict[str, Any] = {}
"""Compiled `_sync_factory` variants by parameter list."""


def _wrapper_names() -> frozenset[str]:
    """The names the wrapper's code uses (globals, locals, closure): no parameter may take one."""
    inner = next(c for c in _sync_factory.__code__.co_consts if isinstance(c, CodeType))
    globals_used = {i.argval for i in dis.get_instructions(inner) if i.opname == "LOAD_GLOBAL"}
    return frozenset(globals_used | set(inner.co_varnames) | set(inner.co_freevars))


_WRAPPER_NAMES = _wrapper_names()


def _plain_parameters(fn: Any) -> tuple[str, str] | None:
    """`fn`'s parameter list and its call, when it has only positional-or-keyword parameters
    whose names the wrapper's code does not use; else None (the wrapper takes *args, **kwargs)."""
    code = getattr(fn, "__code__", None)
    if (
        code is None
        or not isinstance(code, CodeType)
        or code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
        or code.co_kwonlyargcount
        or code.co_posonlyargcount
        or getattr(fn, "__kwdefaults__", None)
    ):
        return None
    names = code.co_varnames[: code.co_argcount]
    if any(not name.isidentifier() or name in _WRAPPER_NAMES for name in names):
        return None
    defaults = len(getattr(fn, "__defaults__", None) or ())
    params = [f"{n}=None" if i >= len(names) - defaults else n for i, n in enumerate(names)]
    return ", ".join(params), f"fn({', '.join(names)})"


def _exact_factory(params: str, call: str) -> Any:
    """`_sync_factory` compiled with `params` and `call` for its wrapper's signature and call,
    from its own source, at its own lines of this file (tracebacks show them as they are)."""
    factory = _factories.get(params)
    if factory is None:
        code = _sync_factory.__code__
        try:
            source = inspect.getsource(_sync_factory)
        except (OSError, TypeError):  # no source (a frozen or bytecode-only install)
            return None
        header = f"    def wrapper({_GENERIC_PARAMS}) -> Any:"
        if source.count(header) != 1 or source.count(_GENERIC_CALL) != 2:
            return None
        source = source.replace(header, f"    def wrapper({params}) -> Any:").replace(
            _GENERIC_CALL, call
        )
        namespace: dict[str, Any] = {}
        try:
            compiled = compile("\n" * (code.co_firstlineno - 1) + source, code.co_filename, "exec")
            exec(compiled, globals(), namespace)
        except Exception:  # decorating must work whatever: the generic wrapper then
            return None
        factory = _factories[params] = namespace["_sync_factory"]
    return factory


def _sync_wrapper(
    fn: Any, span_name: str, attrs: dict[str, Any] | None, location: str | None
) -> Any:
    """lens_fn's wrapper of a plain (not async, not generator) function."""
    plain = _plain_parameters(fn)
    factory = _exact_factory(*plain) if plain is not None else None
    if factory is None:
        wrapper = _sync_factory(fn, span_name, attrs, location)
    else:
        wrapper = factory(fn, span_name, attrs, location)
        wrapper.__defaults__ = fn.__defaults__  # the very objects, as fn has them
    register_span_frames(wrapper.__code__)
    return functools.wraps(fn)(wrapper)


def _gen_wrapper(fn: Callable[..., Generator[Any, Any, Any]], start: Callable[[], Any]) -> Any:
    """The span covers the generator's whole life; it is current only while the body runs."""

    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        gen = fn(*args, **kwargs)
        started = start()
        if started is None:
            return (yield from gen)
        record, writer = started
        to_send: Any = None
        to_throw: BaseException | None = None
        try:
            while True:
                token = current.set(record)
                try:
                    if to_throw is not None:
                        exc, to_throw = to_throw, None
                        value = gen.throw(exc)
                    else:
                        value = gen.send(to_send)
                except StopIteration as stop:
                    return stop.value
                finally:
                    _reset(token, record)
                try:
                    to_send = yield value
                except GeneratorExit:
                    # Closed early by the consumer: not an error. The body's cleanup runs now,
                    # under its own span, or a span it closes would restore this (ended) span
                    # as the consumer's current one (tests/reliability/test_13_context.py).
                    token = current.set(record)
                    try:
                        gen.close()
                    finally:
                        _reset(token, record)
                    raise
                except BaseException as exc:
                    to_throw = exc
        except GeneratorExit:
            raise
        except BaseException as exc:
            record.fail(exc)
            raise
        finally:
            writer.end(record)

    return wrapper


def _async_gen_wrapper(
    fn: Callable[..., AsyncGenerator[Any, Any]], start: Callable[[], Any]
) -> Any:
    """Like `_gen_wrapper`, for async generators."""

    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        agen = fn(*args, **kwargs)
        started = start()
        if started is None:
            async for item in agen:
                yield item
            return
        record, writer = started
        to_send: Any = None
        to_throw: BaseException | None = None
        try:
            while True:
                token = current.set(record)
                try:
                    if to_throw is not None:
                        exc, to_throw = to_throw, None
                        value = await agen.athrow(exc)
                    else:
                        value = await agen.asend(to_send)
                except StopAsyncIteration:
                    return
                finally:
                    _reset(token, record)
                try:
                    to_send = yield value
                except GeneratorExit:
                    token = current.set(record)  # as in _gen_wrapper
                    try:
                        await agen.aclose()
                    finally:
                        _reset(token, record)
                    raise
                except BaseException as exc:
                    to_throw = exc
        except GeneratorExit:
            raise
        except BaseException as exc:
            record.fail(exc)
            raise
        finally:
            writer.end(record)

    return wrapper
