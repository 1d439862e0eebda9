"""The public tracing API: configure(), lens_fn, span(), flush(), shutdown()."""

from __future__ import annotations

import functools
import inspect
import os
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, TypeVar, overload

from lens_tui.tracing import ids
from lens_tui.tracing.context import SpanHandle, SpanRecord, current
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

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        writer = _writer
        if writer is None:
            return fn(*args, **kwargs)
        # The hottest path, so SpanRecord.__init__, writer.begin() / end() and _reset() are
        # inlined: a Python call costs ~60 ns of the ~0.6 µs a span costs here.
        parent = _current_get()
        record = _new_record(SpanRecord)
        record.name = span_name
        record.attributes = dict(attrs) if attrs else None
        record.source_location = location
        record.t1 = None
        record.extra = None
        sid = record.span_id = ids.next_span_int()  # type: ignore[misc]
        if parent is None:
            tid = record.trace_id = ids.trace_head | ids.next_trace_low()
            pid = record.parent_id = None
        else:
            tid = record.trace_id = parent.trace_id
            pid = record.parent_id = parent.span_id
            if parent.__class__ is not SpanRecord and not isinstance(parent, SpanRecord):
                record.remote_parent = True  # a SpanContext: the caller's span, elsewhere
        t0 = record.t0 = _clock()
        in_flight = writer.in_flight
        in_flight[sid] = record  # complete by now: the writer thread may read it at once
        token = _current_set(record)
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            record.fail(exc)
            raise
        finally:
            t1 = record.t1 = _clock()
            try:
                _current_reset(token)
            except ValueError:  # ended in another context: as in _reset()
                if _current_get() is record:
                    _current_set(None)
            # Queue first, then unregister (as TraceWriter.end): the writer never misses it.
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
            try:
                del in_flight[sid]
            except KeyError:  # begun before a fork, ended in the child
                pass

    return wrapper


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
