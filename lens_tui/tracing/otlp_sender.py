"""OTLPSender: the writer's batches sent as OTLP/HTTP protobuf from a thread of their own.

The writer thread hands over what it drained (`submit`, a deque append: it never waits on the
network); the sender thread encodes (otlp_encode.py), gzips and POSTs to `/v1/traces` and
`/v1/logs`, with a bearer token if given. 429, 502, 503 and 504 answers and network errors are
retried with exponential backoff (honouring Retry-After) for up to `max_retry_s`; meanwhile the
queue is bounded and what does not fit is dropped and counted, as is a batch refused outright
or given up on. Nothing here raises into, or blocks, the traced application.
"""

from __future__ import annotations

import gzip
import http.client
import random
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlsplit

from lens_tui.tracing import otlp_encode
from lens_tui.tracing.external import ExternalSpan

RETRYABLE = frozenset((429, 502, 503, 504))
"""Statuses after which OTLP/HTTP says to send the same request again, later."""

PATHS = {"traces": "/v1/traces", "logs": "/v1/logs"}


@dataclass(frozen=True, slots=True)
class SenderStats:
    """What the sender has done so far (a snapshot)."""

    sent_spans: int
    sent_logs: int
    dropped_spans: int
    dropped_logs: int
    rejected_spans: int
    """Spans the receiver accepted the request of but refused (OTLP partial success)."""
    rejected_logs: int
    requests: int
    retries: int
    queued: int
    last_error: str | None


def parse_endpoint(endpoint: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, base path) of an OTLP/HTTP base URL; ValueError when it is not one.

    `http://host:4318` or with a path prefix; a URL ending in `/v1/traces` or `/v1/logs` is
    taken for its base.
    """
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an OTLP/HTTP endpoint: {endpoint!r} (try http://host:4318)")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"not an OTLP/HTTP endpoint: {endpoint!r} (bad port)") from None
    path = parts.path.rstrip("/")
    for suffix in PATHS.values():
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return parts.scheme, parts.hostname, port, path


def _partial_rejections(body: bytes) -> int:
    """`partial_success.rejected_spans` (or `_log_records`) of an Export*ServiceResponse, else 0."""
    try:
        if len(body) < 2 or body[0] != 0x0A:
            return 0
        inner, _ = _read_len(body, 1)
        position = 0
        while position < len(inner):
            tag = inner[position]
            position += 1
            if tag == 0x08:  # field 1, varint: the count
                value, _ = _read_varint(inner, position)
                return value
            if tag & 7 == 2:
                _, position = _read_len(inner, position)
            elif tag & 7 == 0:
                _, position = _read_varint(inner, position)
            else:
                return 0
    except (IndexError, ValueError):
        return 0
    return 0


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _read_len(data: bytes, position: int) -> tuple[bytes, int]:
    size, position = _read_varint(data, position)
    return data[position : position + size], position + size


class OTLPSender:
    """Sends spans and logs to an OTLP/HTTP receiver (`lens-tui otlp`, a Collector, any backend).

    `endpoint` is the base URL (`http://host:4318`); `token` adds `Authorization: Bearer …`;
    `headers` are sent as given. At most `max_queue` records wait; at most `max_batch` go in
    one request. `timeout` bounds each request, `max_retry_s` the retries of one batch.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        service: str | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        compression: str | None = "gzip",
        timeout: float = 10.0,
        max_queue: int = 100_000,
        max_batch: int = 2048,
        max_retry_s: float = 60.0,
        interval: float = 0.2,
        stderr: TextIO | None = None,
        start: bool = True,
    ) -> None:
        self.endpoint = endpoint
        self.scheme, self.host, self.port, self.base_path = parse_endpoint(endpoint)
        if compression not in (None, "gzip", "none"):
            raise ValueError(f"OTLP compression must be 'gzip' or None, not {compression!r}")
        self.service = service
        self.gzip = compression == "gzip"
        self.timeout = timeout
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.max_retry_s = max_retry_s
        self.interval = interval
        self._headers = {"Content-Type": "application/x-protobuf", "User-Agent": "lens_tui"}
        if self.gzip:
            self._headers["Content-Encoding"] = "gzip"
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._headers.update(headers or {})
        self._stderr = stderr
        self._init_runtime()
        if start:
            self.start()

    def _init_runtime(self) -> None:
        self._spans: deque[Any] = deque()
        self._logs: deque[Any] = deque()
        self._lock = threading.Lock()  # counters and the busy flag
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._busy = 0  # records taken from the queues and not yet sent or dropped
        self._conn: http.client.HTTPConnection | None = None
        self._thread: threading.Thread | None = None
        self._give_up_at: float | None = None  # set by shutdown: stop retrying past it
        self._abandoned = False  # shutdown counted the batch in flight: count nothing more
        self._reported: set[str] = set()
        self.sent_spans = self.sent_logs = 0
        self.dropped_spans = self.dropped_logs = 0
        self.rejected_spans = self.rejected_logs = 0
        self.requests = self.retries = 0
        self.last_error: str | None = None

    # -- the writer's side -------------------------------------------------------------------

    def submit(self, items: list[Any]) -> None:
        """Queue what the writer drained (EndedSpans, ExternalSpans, LogItems; markers skipped)."""
        try:
            spans = [
                i
                for i in items
                if (type(i) is tuple and type(i[0]) is int) or type(i) is ExternalSpan
            ]
            logs = [i for i in items if type(i) is tuple and type(i[0]) is not int]
            room = self.max_queue - len(self._spans) - len(self._logs)
            if len(spans) + len(logs) > room:
                keep_spans = spans[: max(0, room)]
                keep_logs = logs[: max(0, room - len(keep_spans))]
                self._count_drop(
                    len(spans) - len(keep_spans), len(logs) - len(keep_logs), "queue full"
                )
                spans, logs = keep_spans, keep_logs
            self._spans.extend(spans)
            self._logs.extend(logs)
            if len(self._spans) >= self.max_batch or len(self._logs) >= self.max_batch:
                self._wake.set()
        except Exception as exc:  # never into the writer thread
            self._note("submit", exc)

    def stats(self) -> SenderStats:
        """Counts so far."""
        with self._lock:
            return SenderStats(
                self.sent_spans,
                self.sent_logs,
                self.dropped_spans,
                self.dropped_logs,
                self.rejected_spans,
                self.rejected_logs,
                self.requests,
                self.retries,
                len(self._spans) + len(self._logs) + self._busy,
                self.last_error,
            )

    @property
    def dropped(self) -> int:
        """Spans and logs dropped so far (queue full, refused, or given up on)."""
        return self.dropped_spans + self.dropped_logs

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the sender thread (done by the constructor unless `start=False`)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name="lens-otlp", daemon=True)
        self._thread.start()

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until everything queued so far is sent or dropped; True if that was in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake.set()
        with self._idle:
            while self._spans or self._logs or self._busy:
                if self._thread is None or not self._thread.is_alive():
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(0.05 if left is None else min(left, 0.05))
        return True

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Send what is queued (retrying only until `timeout`, then dropping it, counted), then
        stop; True if nothing was left waiting."""
        self._give_up_at = time.monotonic() + timeout
        ok = self.flush(timeout)
        self._stop.set()
        self._wake.set()
        if not ok:
            self._interrupt()  # a request still waiting on the receiver ends now, counted
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.5, self._give_up_at - time.monotonic()))
        with self._lock:
            spans, logs = len(self._spans), len(self._logs)
            self._spans.clear()
            self._logs.clear()
            if thread is not None and thread.is_alive() and self._busy:
                # Stuck past the deadline: its batch counts as dropped now, and not again later.
                self._abandoned = True
                spans += self._busy
        self._count_drop(spans, logs, "shut down before they were sent")
        self._close()
        return ok

    def after_fork_in_child(self) -> None:
        """A forked child sends its own records: new queues, connection and thread."""
        self._init_runtime()
        self.start()

    # -- the sender thread -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            if len(self._spans) < self.max_batch and len(self._logs) < self.max_batch:
                self._wake.wait(self.interval)
            self._wake.clear()
            try:
                while self._spans or self._logs:
                    if self._spans:
                        self._send_batch("traces", self._take(self._spans))
                    if self._logs:
                        self._send_batch("logs", self._take(self._logs))
                    if self._stop.is_set():
                        break
            except BaseException as exc:  # the thread must survive anything
                self._note("sender", exc)
        self._close()

    def _take(self, queue: deque[Any]) -> list[Any]:
        with self._lock:
            batch = [queue.popleft() for _ in range(min(len(queue), self.max_batch))]
            self._busy += len(batch)
        return batch

    def _done(self, signal: str, batch: list[Any]) -> None:
        with self._idle:
            self._busy -= len(batch)
            self._idle.notify_all()

    def _send_batch(self, signal: str, batch: list[Any]) -> None:
        try:
            body = self._encode(signal, batch)
        except Exception as exc:
            self._note("encode", exc)
            self._count_batch(signal, batch, dropped=True)
            self._done(signal, batch)
            return
        try:
            self._deliver(signal, batch, body)
        finally:
            self._done(signal, batch)

    def _encode(self, signal: str, batch: list[Any]) -> bytes:
        if signal == "logs":
            raw = otlp_encode.logs_request(batch, self.service)
        else:
            base_ms = time.time() * 1000.0 - time.perf_counter() * 1000.0
            by_service: dict[str | None, list[bytes]] = {}
            for item in batch:
                if type(item) is ExternalSpan:
                    span = otlp_encode.external_span(item)
                    if span is not None:
                        by_service.setdefault(item.service or self.service, []).append(span)
                else:
                    by_service.setdefault(self.service, []).append(
                        otlp_encode.ended_span(item, base_ms)
                    )
            raw = otlp_encode.trace_request(by_service)
        return gzip.compress(raw, compresslevel=5) if self.gzip else raw

    def _deliver(self, signal: str, batch: list[Any], body: bytes) -> None:
        """POST one batch, retrying what OTLP says to retry, until sent, refused or given up."""
        started = time.monotonic()
        delay = 0.5
        while True:
            status, retry_after, reply, error = self._post(PATHS[signal], body)
            if status is not None and 200 <= status < 300:
                self._count_batch(signal, batch, rejected=_partial_rejections(reply))
                return
            retryable = status is None or status in RETRYABLE
            reason = error or f"HTTP {status}"
            now = time.monotonic()
            wait = retry_after if retry_after is not None else delay * (0.5 + random.random())
            give_up = self._give_up_at
            if (
                not retryable
                or now + wait - started > self.max_retry_s
                or (give_up is not None and now + wait > give_up)
                or self._stop.is_set()
            ):
                self._note("refused" if not retryable else "unreachable", reason)
                self._count_batch(signal, batch, dropped=True)
                return
            with self._lock:
                self.retries += 1
                self.last_error = reason
            self._stop.wait(wait)
            delay = min(delay * 2, 30.0)

    def _post(self, path: str, body: bytes) -> tuple[int | None, float | None, bytes, str | None]:
        """(status, Retry-After seconds, reply body, network error) of one POST."""
        with self._lock:
            self.requests += 1
        try:
            conn = self._connection()
            conn.request("POST", self.base_path + path, body=body, headers=self._headers)
            response = conn.getresponse()
            reply = response.read()
            retry_after = _retry_after(response.getheader("Retry-After"))
            if response.getheader("Connection", "").lower() == "close":
                self._close()
            return response.status, retry_after, reply, None
        except (OSError, http.client.HTTPException) as exc:
            self._close()
            return None, None, b"", f"{type(exc).__name__}: {exc}"

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self.host, self.port, timeout=self.timeout)
        return self._conn

    def _interrupt(self) -> None:
        """Cut the connection under a request blocked on it (from another thread)."""
        conn = self._conn
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    # -- counting and telling ----------------------------------------------------------------

    def _count_batch(
        self, signal: str, batch: list[Any], *, dropped: bool = False, rejected: int = 0
    ) -> None:
        with self._lock:
            if self._abandoned:
                return
            if signal == "traces":
                if dropped:
                    self.dropped_spans += len(batch)
                else:
                    self.sent_spans += len(batch) - rejected
                    self.rejected_spans += rejected
            elif dropped:
                self.dropped_logs += len(batch)
            else:
                self.sent_logs += len(batch) - rejected
                self.rejected_logs += rejected

    def _count_drop(self, spans: int, logs: int, why: str) -> None:
        if spans <= 0 and logs <= 0:
            return
        with self._lock:
            self.dropped_spans += max(0, spans)
            self.dropped_logs += max(0, logs)
        self._note("dropped", why)

    def _note(self, kind: str, problem: Any) -> None:
        """Say once per kind on stderr what went wrong; count nothing here, never raise."""
        text = problem if isinstance(problem, str) else f"{type(problem).__name__}: {problem}"
        self.last_error = text
        if kind in self._reported:
            return
        self._reported.add(kind)
        try:
            stream = self._stderr or sys.stderr
            stream.write(
                f"lens_tui: OTLP to {self.endpoint}: {text} (the application goes on; "
                "dropped records are counted)\n"
            )
            stream.flush()
        except Exception:
            pass


def _retry_after(value: str | None) -> float | None:
    """A Retry-After header in seconds (only the delta-seconds form; dates are rare here)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), 60.0)
