"""A trace database with known durations for the overview's tests, written through a real APSW
connection, and the overview's numbers computed from the written rows alone (sorted lists and
the nearest-rank definition: no code of lens_tui.store.stats)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from .fixture_db import S, connect, insert_trace

T0 = 1_700_000_100_000.0
"""A multiple of 15 s and of 60 s, so every window's buckets start on whole buckets of it."""
NOW = T0 + 20 * 60_000.0
"""The frozen clock: 20 minutes after T0."""


@dataclass(frozen=True)
class Row:
    """One trace as written: its route, start, duration (None: running), failed."""

    n: int
    service: str
    name: str
    start: float
    duration: float | None
    failed: bool = False


def rows() -> list[Row]:
    """Ties, a one-trace route, a running trace, errors, a route only older than 5 minutes and
    a trace older than 15 minutes (inside the hour)."""
    out: list[Row] = []
    n = iter(range(1, 10_000))
    a = [5.0, 5.0, 5.0, 10.0, 10.0, 20.0, 40.0, 80.0, 80.0, 160.0, 12.5, 0.4]
    for i, d in enumerate(a):
        out.append(Row(next(n), "shop", "GET /a", NOW - 240_000 + i * 9_000, d, failed=i in (3, 9)))
    out.append(Row(next(n), "shop", "GET /a", NOW - 30_000, None))  # running
    pay = [300.0, 450.0, 1_200.0, 95.0, 610.0]
    for i, d in enumerate(pay):
        out.append(
            Row(next(n), "pay", "POST /charge", NOW - 200_000 + i * 20_000, d, failed=i == 2)
        )
    out.append(Row(next(n), "pay", "GET /a", NOW - 100_000, 2.5))  # one-trace group
    for i, d in enumerate((33.0, 44.0, 55.0)):
        out.append(Row(next(n), "shop", "GET /old", NOW - 600_000 + i * 5_000, d))  # 10 min ago
    out.append(Row(next(n), "shop", "GET /a", NOW - 30 * 60_000, 9_000.0, failed=True))  # 30 min
    return out


def build(path: Path) -> list[Row]:
    """Write `rows()` at `path` (each trace its root span and one child) and return them."""
    written = rows()
    conn = connect(path)
    try:
        for r in written:
            spans = [
                S(0, None, r.name, 0, r.duration, error="failed" if r.failed else None),
                S(1, 0, "db.query", 0.1, None if r.duration is None else r.duration / 2),
            ]
            insert_trace(conn, r.n, r.start, spans, service=r.service, updated_at=r.start + 1)
    finally:
        conn.close()
    return written


def nearest_rank(values: list[float], pct: int) -> float | None:
    """The value at rank ceil(pct/100 * n) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(Fraction(pct, 100) * len(ordered))) - 1]


def expected(written: list[Row], since: float | None) -> dict[tuple[str, str], dict]:
    """Each route's numbers over the traces started at or after `since` (None: all)."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in written:
        if since is None or r.start >= since:
            groups.setdefault((r.service, r.name), []).append(r)
    out = {}
    for key, members in groups.items():
        done = [r.duration for r in members if r.duration is not None]
        out[key] = {
            "count": len(members),
            "running": sum(r.duration is None for r in members),
            "errors": sum(r.failed for r in members),
            **{f"p{p}_ms": nearest_rank(done, p) for p in (50, 90, 95, 99)},
            "max_ms": max(done, default=None),
        }
    return out


def window_start(now: float, bucket_ms: float, buckets: int = 60) -> float:
    """Where a live window of whole buckets opens (docs/stats.md, "Window edges")."""
    return (int(now / bucket_ms) - buckets + 1) * bucket_ms
