"""An OTLP/HTTP receiver (`POST /v1/traces`, `/v1/logs`) that writes into a lens trace database.

Built on the stdlib `ThreadingHTTPServer` (one thread per connection, HTTP/1.1 keep-alive): at
512 spans per request the per-request cost is small next to the parsing and writing, so a faster
server would buy nothing measurable. It defends itself against misbehaving senders (timeouts,
deadlines, a connection cap, bounded bodies: receiver_http.py) and holds replies while the
writer is behind (back-pressure). `start()`/`stop()` run it in a background thread (the
dashboard's `--otlp`); `serve_forever()` runs it in the caller's thread (`lens-tui otlp`).
"""

from __future__ import annotations

import hmac
import io
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from lens_tui.otel import otlp_decode
from lens_tui.otel.otlp_decode import PayloadError
from lens_tui.otel.receiver_http import ReceiverServer
from lens_tui.tracing.sql import open_writable
from lens_tui.tracing.writer import TraceWriter

DEFAULT_PORT = 4318
DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024
"""The OpenTelemetry Collector's default request limit; applies to the body as sent and inflated."""

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True, slots=True)
class ReceiverStats:
    """What the receiver has taken in so far (a snapshot)."""

    requests: int = 0
    spans: int = 0
    logs: int = 0
    rejected_spans: int = 0
    rejected_logs: int = 0
    refused: dict[int, int] = field(default_factory=dict)
    """Requests answered with an error, by HTTP status (408 and 499 count timeouts and aborts)."""
    connections_refused: int = 0
    last_error: str | None = None

    def describe(self) -> str:
        """One line for a person: `1,024 spans, 12 logs in 3 requests (…)`."""
        text = f"{self.spans:,} spans, {self.logs:,} logs in {self.requests:,} requests"
        extra = []
        if self.rejected_spans or self.rejected_logs:
            extra.append(f"{self.rejected_spans:,} spans and {self.rejected_logs:,} logs rejected")
        if self.refused:
            codes = ", ".join(f"{n}×{code}" for code, n in sorted(self.refused.items()))
            extra.append(f"refused {codes}")
        if self.connections_refused:
            extra.append(f"{self.connections_refused:,} connections over the limit")
        return text + (f" ({'; '.join(extra)})" if extra else "")


class _Counters:
    """Mutable totals behind ReceiverStats, updated once per request under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = self.spans = self.logs = 0
        self.rejected_spans = self.rejected_logs = self.connections_refused = 0
        self.refused: dict[int, int] = {}
        self.last_error: str | None = None

    def snapshot(self) -> ReceiverStats:
        with self.lock:
            return ReceiverStats(
                self.requests,
                self.spans,
                self.logs,
                self.rejected_spans,
                self.rejected_logs,
                dict(self.refused),
                self.connections_refused,
                self.last_error,
            )


class OTLPReceiver:
    """Receives OTLP/HTTP traces and logs (protobuf or JSON, gzip or deflate) into a trace database.

    Give it a database path (it runs its own TraceWriter there, batching every `flush_interval`
    seconds, and shuts it down on `stop()`) or a TraceWriter as `store`. Loopback by default;
    with `token`, requests need `Authorization: Bearer <token>`. Limits: `max_body_bytes` (as
    sent and as inflated), `io_timeout` per read, `request_timeout` per request,
    `max_connections`; when the writer's queue is full a request waits up to
    `backpressure_wait` seconds, then gets 503.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] | None = None,
        *,
        store: TraceWriter | None = None,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        token: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        io_timeout: float = 10.0,
        request_timeout: float = 60.0,
        max_connections: int = 32,
        backpressure_wait: float = 5.0,
        flush_interval: float = 0.1,
        stderr: TextIO | None = None,
    ) -> None:
        if store is None and db_path is None:
            raise ValueError("OTLPReceiver needs a db_path or a store")
        self.db_path = None if db_path is None else Path(db_path).expanduser()
        self.host = host
        self.requested_port = port
        self.token = token.encode() if token else None
        self.max_body_bytes = max_body_bytes
        self.io_timeout = io_timeout
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self.backpressure_wait = backpressure_wait
        self.flush_interval = flush_interval
        self._stderr = stderr
        self._given_store = store
        self.store: TraceWriter | None = store
        self._counters = _Counters()
        self._server: ReceiverServer | None = None
        self._thread: threading.Thread | None = None
        self._serving_in: threading.Thread | None = None
        self._stopped = False

    # -- lifecycle -----------------------------------------------------------------------------

    def bind(self) -> None:
        """Open the writer (creating the database) and listen; OSError if the port is taken."""
        if self._stopped:
            raise RuntimeError("this OTLPReceiver was stopped; make a new one")
        if self._server is not None:
            return
        if self.store is None:
            assert self.db_path is not None
            # Create and migrate the file now: errors show at start, and a dashboard in the same
            # process finds the database before the first span arrives.
            open_writable(self.db_path).close()
            self.store = TraceWriter(
                self.db_path, flush_interval=self.flush_interval, stderr=self._stderr
            )
        self._server = ReceiverServer(self)

    def start(self) -> OTLPReceiver:
        """Bind and serve in a daemon thread; returns at once (the port is open by then)."""
        self.bind()
        assert self._server is not None
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.2},
                name="lens-otlp-receiver",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind and serve in this thread until `stop()` (from another thread) or Ctrl+C."""
        self.bind()
        assert self._server is not None
        self._serving_in = threading.current_thread()
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._serving_in = None

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop listening, let running requests finish briefly, flush; True if all was written.

        A receiver runs once: after stop() it cannot be started again.
        """
        if self._stopped:
            return True
        self._stopped = True
        server = self._server
        if server is not None:
            serving_in = self._serving_in
            if self._thread is not None or (
                serving_in is not None and serving_in is not threading.current_thread()
            ):
                # Safe even before serve_forever has begun: it sees the request and returns.
                server.shutdown()  # blocks until serve_forever returns
            if self._thread is not None:
                self._thread.join(timeout)
            server.server_close()
            server.close_idle_connections()
            server.wait_idle(min(timeout, 2.0))
        writer = self.store
        if writer is None:
            return True
        if self._given_store is None:
            return writer.shutdown(timeout)
        return writer.flush(timeout)

    def __enter__(self) -> OTLPReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port listened on (the real one when asked for port 0)."""
        return self._server.server_address[1] if self._server is not None else self.requested_port

    @property
    def url(self) -> str:
        """`http://host:port`, the base URL senders append `/v1/traces` to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def stats(self) -> ReceiverStats:
        """Totals so far."""
        return self._counters.snapshot()

    @property
    def loopback(self) -> bool:
        """True when only this machine can connect."""
        return self.host in _LOOPBACK or self.host.startswith("127.")

    # -- called by request handlers ------------------------------------------------------------

    def authorised(self, header: str | None) -> bool:
        """Whether an Authorization header carries the token (constant-time compare)."""
        if self.token is None:
            return True
        if not header:
            return False
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode("utf-8", "replace"), self.token)

    def accept(self, signal: str, mapped: otlp_decode.Mapped) -> None:
        """Queue a request's spans or logs in the writer, waiting for it when it is behind."""
        writer = self.store
        assert writer is not None
        items = mapped.items
        if items:
            limit = writer.max_queue
            if writer.backlog + len(items) > limit:
                # Back-pressure: hold this reply (so the sender waits) until the writer catches
                # up; if it does not, ask the sender to retry later rather than drop silently.
                writer.flush(self.backpressure_wait)
                if writer.backlog + len(items) > limit:
                    raise PayloadError(503, "the trace store is behind; retry later")
            if signal == "traces":
                record = writer.record_span
                for span in items:
                    record(span)
            else:
                log = writer.log
                for e in items:
                    log(
                        e.level,
                        e.message,
                        timestamp_ms=e.timestamp_ms,
                        trace_id=e.trace_id,
                        span_id=e.span_id,
                        logger=e.logger,
                        source_location=e.source_location,
                        attributes=e.attributes,
                        exception_type=e.exception_type,
                        traceback=e.traceback,
                        service=e.service,
                    )
        counters = self._counters
        with counters.lock:
            counters.requests += 1
            if signal == "traces":
                counters.spans += len(items)
                counters.rejected_spans += mapped.rejected
            else:
                counters.logs += len(items)
                counters.rejected_logs += mapped.rejected

    def count_refused(self, status: int, reason: str) -> None:
        """Count a request answered with an error (or dropped: 408 timeout, 499 aborted)."""
        counters = self._counters
        with counters.lock:
            counters.refused[status] = counters.refused.get(status, 0) + 1
            counters.last_error = f"{status} {reason}"[:300]

    def count_connection_refused(self) -> None:
        """Count a connection closed because max_connections were open."""
        with self._counters.lock:
            self._counters.connections_refused += 1


def start_in_background(
    db_path: str | os.PathLike[str],
    port: int = DEFAULT_PORT,
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
) -> OTLPReceiver:
    """A started receiver for a process that owns the terminal (the dashboard's `--otlp`).

    Nothing is ever printed: problems show in `stats.last_error` and `store.last_error`.
    Raises OSError (port taken) or apsw.Error (database unusable) before returning; call
    `stop()` on exit to flush.
    """
    receiver = OTLPReceiver(db_path, host=host, port=port, token=token, stderr=io.StringIO())
    try:
        return receiver.start()
    except BaseException:
        receiver.stop()
        raise
