"""A trace database with known durations for the statistics tests, and the answers computed
independently: sorted lists and the nearest-rank definition, no code of lens_tui.store.stats."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

from lens_tui import schema

from .conftest import TraceDb, sid, tid

W0 = 1_700_000_000_000.0
"""The window's start (a multiple of 10 s, so a 10 s bucket grid starts on it)."""
W1 = W0 + 600_000.0
"""The window's end (exclusive): ten minutes."""
PCTS = (50, 90, 95, 99)


@dataclass(frozen=True)
class Row:
    """One trace row as the fixture writes it."""

    n: int
    service: str | None
    name: str | None
    start: float
    duration: float | None
    status: str = "ok"
    errors: int = 0

    @property
    def running(self) -> bool:
        """No finite duration (an infinite one is shown as running by the reader too)."""
        return self.duration is None or not math.isfinite(self.duration)

    @property
    def failed(self) -> bool:
        """The trace list's error rule."""
        return self.status == "error" or self.errors > 0


def write(db: TraceDb, rows: list[Row], *, updated_at: float = 0.0, spans: bool = False) -> None:
    """Insert `rows` in one transaction through the writer connection (with `spans`, each
    trace's root span too, as a writer stores it: what span terms of a query look at)."""
    with db.conn:
        for r in rows:
            status = "running" if r.duration is None and r.status == "ok" else r.status
            db.insert(
                schema.Trace,
                trace_id=tid(r.n),
                root_span_name=r.name,
                source="test",
                started_at=r.start,
                ended_at=None if r.running else r.start + (r.duration or 0.0),
                duration_ms=r.duration,
                root_span_id=sid(r.n, 0) if spans else None,
                service=r.service,
                status=status,
                span_count=1,
                error_count=r.errors,
                updated_at=updated_at or W0,
            )
            if spans:
                db.insert(
                    schema.Span,
                    span_id=sid(r.n, 0),
                    trace_id=tid(r.n),
                    parent_span_id=None,
                    name=r.name or "",
                    started_at=r.start,
                    duration_ms=r.duration,
                    status=status,
                    service=r.service,
                    updated_at=updated_at or W0,
                )


def known_rows() -> list[Row]:
    """Ties, one-trace groups, running traces (one failed), both error rules, a NULL service,
    a NULL name, an infinite duration, and rows on and beyond both window edges."""
    rows: list[Row] = []
    n = iter(range(1, 10_000))
    a = [5, 5, 5, 10, 10, 20, 40, 80, 80, 160]
    for i, d in enumerate(a):
        status = "error" if i == 3 else "ok"
        rows.append(
            Row(next(n), "shop", "GET /a", W0 + i * 1_000.0, float(d), status, 2 if i == 8 else 0)
        )
    rows[0] = Row(rows[0].n, "shop", "GET /a", W0, 5.0)  # exactly on the window's start
    rows.append(Row(next(n), "shop", "GET /a", W0 + 50_000.0, None))
    rows.append(Row(next(n), "shop", "GET /a", W0 + 51_000.0, None, "error", 1))
    rows.append(Row(next(n), "shop", "GET /b", W0 + 20_000.0, 7.0))
    rows.append(Row(next(n), "shop", "GET /b", W0 + 21_000.0, math.inf))
    rows += [
        Row(next(n), "pay", "GET /a", W0 + 30_000.0 + i, d) for i, d in enumerate((1.0, 3.0, 3.0))
    ]
    rows.append(Row(next(n), None, "GET /a", W0 + 40_000.0, 2.5))
    rows.append(Row(next(n), "shop", None, W0 + 45_000.0, 0.0))
    rows.append(Row(next(n), "shop", "GET /a", W0 - 1.0, 9_999.0))  # before the window
    rows.append(Row(next(n), "shop", "GET /a", W1, 9_999.0, "error"))  # on its end: excluded
    return rows


def random_rows(
    count: int, seed: int, *, start: float = W0, length: float = 600_000.0, first: int = 100_000
) -> list[Row]:
    """`count` traces (numbered from `first`) over five routes: log-normal durations (ties by
    rounding), 8 % running, 5 % failed, spread uniformly over `[start, start + length)`."""
    rng = random.Random(seed)
    routes = [
        ("shop", "GET /a"),
        ("shop", "GET /b"),
        ("pay", "POST /pay"),
        ("pay", "GET /a"),
        (None, "cron"),
    ]
    rows = []
    for i in range(count):
        service, name = routes[rng.randrange(len(routes)) if i >= 5 else i]
        duration = None if rng.random() < 0.08 else round(rng.lognormvariate(3.0, 1.5), 1)
        failed = rng.random() < 0.05
        rows.append(
            Row(
                first + i,
                service,
                name,
                start + rng.random() * length,
                duration,
                "error" if failed else "ok",
            )
        )
    return rows


def nearest_rank(values: list[float], pct: int) -> float | None:
    """The nearest-rank percentile: the value at rank ceil(pct/100 * n), exactly."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(Fraction(pct, 100) * len(ordered))) - 1]


def expected(rows: list[Row], by: str, since: float | None, until: float) -> dict[tuple, dict]:
    """The stats of each group, computed from the rows alone."""
    inside = [r for r in rows if (since is None or r.start >= since) and r.start < until]
    groups: dict[tuple, list[Row]] = {}
    for r in inside:
        key = (r.service if "service" in by else None, (r.name or "") if by != "service" else None)
        groups.setdefault(key, []).append(r)
    opened = since if since is not None else min(r.start for r in inside)
    window_s = (until - opened) / 1000.0
    out = {}
    for key, members in groups.items():
        durations = [r.duration for r in members if not r.running]
        errors = sum(r.failed for r in members)
        out[key] = {
            "count": len(members),
            "running": sum(r.running for r in members),
            "errors": errors,
            "rate_per_s": len(members) / window_s,
            "error_rate": errors / len(members),
            **{f"p{p}_ms": nearest_rank(durations, p) for p in PCTS},
            "max_ms": max(durations, default=None),
        }
    return out
