"""Trace and span ids that append to the primary-key B-tree instead of scattering across it.

Random ids cost about 3x insert throughput (every insert lands on a cold page of the key index).
Ours keep each process's inserts on the right edge of its own key range:

- span id, 64 bits (16 hex, OpenTelemetry's width): a 22-bit random per-process nonce, then a
  40-bit counter seeded from the clock at start. Ids of one process strictly increase; two
  processes collide only if they draw the same nonce *and* their counters overlap.
- trace id, 128 bits (32 hex): 48 bits of epoch milliseconds, a 32-bit per-process nonce and a
  48-bit counter, so traces sort by start time (like UUIDv7). The spans' hot path takes the
  milliseconds from `trace_head`, which the writer thread refreshes every flush interval
  (`refresh_trace_head`): reading the clock and building the 128-bit int per trace cost
  ~100 ns, and ids stay unique whatever the head, the counter alone never repeating.

Ids are kept as ints on the hot path and formatted as hex by the writer thread. Span ids stay
below 2**63 (a 22-bit nonce: the counter would need 2**62 spans to carry into the
sign bit), so SQLite can take them as integers and format them itself.
"""

from __future__ import annotations

import itertools
import os
import secrets
import time

_MASK40 = (1 << 40) - 1

next_span_int = None  # type: ignore[assignment]
next_trace_low = itertools.count().__next__
"""The low 80 bits of the next trace id (one C call); `trace_head | next_trace_low()` is an id."""
trace_head = 0
"""Epoch milliseconds << 80, as of the last `refresh_trace_head()`."""
_time = time.time


def refresh_trace_head() -> None:
    """Bring `trace_head` to the current millisecond (the writer thread does, every cycle)."""
    global trace_head
    trace_head = int(_time() * 1000) << 80


def _reseed() -> None:
    """Draw new nonces; called at import and in every forked child."""
    global next_span_int, next_trace_low
    nonce22 = secrets.randbits(22) or 1
    start = int(time.time() * 1000) & _MASK40
    next_span_int = itertools.count((nonce22 << 40) | start).__next__
    # The low 80 bits in one counter: the nonce above a 48-bit count seeded with 32 random bits
    # (2**48 - 2**32 traces before it could carry into the nonce), one C call per trace.
    next_trace_low = itertools.count((secrets.randbits(32) << 48) | secrets.randbits(32)).__next__
    refresh_trace_head()


_reseed()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def new_span_int() -> int:
    """A new span id as an int (see the module docstring)."""
    return next_span_int()  # type: ignore[misc]


def new_trace_int() -> int:
    """A new, time-ordered trace id as an int (the clock read now; spans use `trace_head`)."""
    return (int(_time() * 1000) << 80) | next_trace_low()


def span_hex(value: int) -> str:
    """A span id int as 16 lowercase hex digits."""
    return f"{value:016x}"


def trace_hex(value: int) -> str:
    """A trace id int as 32 lowercase hex digits."""
    return f"{value:032x}"
