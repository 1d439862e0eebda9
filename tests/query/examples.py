"""Every example of the query language's table, with its answer on the fixture computed from
the fixture's description (never by the code under test)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from lens_tui.levels import RANK

from .fixture import HOUR, MINUTE, TRACES, Lg, Tr, logs_where, traces_where


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _root_attr(trace: Tr, key: str) -> Any:
    return (trace.spans[0].attributes or {}).get(key) if trace.root_written else None


def _written(trace: Tr) -> list[Any]:
    return trace.spans if trace.root_written else trace.spans[1:]


def _any_span(trace: Tr, test: Any) -> bool:
    return any(test(span) for span in _written(trace))


def _took(trace: Tr, test: Any) -> bool:
    return trace.duration is not None and test(trace.duration)


def trace_examples(now: float, clock: float | None = None) -> list[tuple[str, set[str]]]:
    """(query, ids of the traces it selects) for a fixture written at `now`, asked at `clock`
    (default `now`: the day of `until 10:30`)."""
    local_day = datetime.fromtimestamp((now if clock is None else clock) / 1000.0).date()
    ten = datetime(2026, 12, 7, 10, 0).timestamp() * 1000.0
    half_past_ten = datetime.combine(local_day, time(10, 30)).timestamp() * 1000.0
    cases: list[tuple[str, Any]] = [
        ("checkout", lambda t: "checkout" in t.name.casefold()),
        ("status = error", lambda t: t.status == "error"),
        ("status = running", lambda t: t.status == "running"),
        ("status = ok", lambda t: t.status == "ok"),
        ("duration > 250ms", lambda t: _took(t, lambda d: d > 250)),
        ("duration >= 250ms", lambda t: _took(t, lambda d: d >= 250)),
        ("duration < 250ms", lambda t: _took(t, lambda d: d < 250)),
        ("duration <= 250ms", lambda t: _took(t, lambda d: d <= 250)),
        ("duration = 250ms", lambda t: _took(t, lambda d: d == 250)),
        ("duration != 250ms", lambda t: not _took(t, lambda d: d == 250)),
        ("duration < 100us", lambda t: _took(t, lambda d: d < 0.1)),
        ("duration < 100µs", lambda t: _took(t, lambda d: d < 0.1)),
        ("duration >= 1s", lambda t: _took(t, lambda d: d >= 1_000)),
        ("duration >= 1.5m", lambda t: _took(t, lambda d: d >= 90_000)),
        ("duration >= 2h", lambda t: _took(t, lambda d: d >= 2 * HOUR)),
        ('service = "shop-api"', lambda t: _any_span(t, lambda s: s.service == "shop-api")),
        ('service = "payments"', lambda t: _any_span(t, lambda s: s.service == "payments")),
        ('name ~ "orders"', lambda t: "orders" in t.name.casefold()),
        ('name !~ "orders"', lambda t: "orders" not in t.name.casefold()),
        (
            "attr.http.status_code >= 500",
            lambda t: (_number(_root_attr(t, "http.status_code")) or 0) >= 500,
        ),
        (
            '{ name = "db.query" and duration > 50ms }',
            lambda t: _any_span(
                t, lambda s: s.name == "db.query" and s.duration is not None and s.duration > 50
            ),
        ),
        (
            "{ attr.user.id = 42 }",
            lambda t: _any_span(t, lambda s: _number((s.attributes or {}).get("user.id")) == 42),
        ),
        (
            '{ attr["odd key"] = "x" }',
            lambda t: _any_span(t, lambda s: (s.attributes or {}).get("odd key") == "x"),
        ),
        (
            '{ status = error and service = "payments" }',
            lambda t: _any_span(t, lambda s: s.failed and s.service == "payments"),
        ),
        ("since 15m", lambda t: t.start(now) >= now - 15 * MINUTE),
        ("since 2026-12-07T10:00", lambda t: t.start(now) >= ten),
        ("until 10:30", lambda t: t.start(now) < half_past_ten),
        ("a or b", lambda t: "a" in t.name.casefold() or "b" in t.name.casefold()),
        ('not { name = "cache.get" }', lambda t: not _any_span(t, lambda s: s.name == "cache.get")),
        ("( … )", lambda t: "…" in t.name),
        ("a b", lambda t: "a b" in t.name.casefold()),
        (
            "checkout or status = error",
            lambda t: "checkout" in t.name.casefold() or t.status == "error",
        ),
        (
            "(status = error or checkout) duration > 100ms",
            lambda t: (
                (t.status == "error" or "checkout" in t.name.casefold())
                and _took(t, lambda d: d > 100)
            ),
        ),
        ("GET /orders", lambda t: "get /orders" in t.name.casefold()),
        ("GET status = error", lambda t: "get" in t.name.casefold() and t.status == "error"),
        ("straße", lambda t: "strasse" in t.name.casefold()),  # casefold: ß is ss
        ("über STRASSE", lambda t: "über strasse" in t.name.casefold()),
    ]
    return [(text, traces_where(test)) for text, test in cases]


def _rank(log: Lg) -> int:
    return RANK[log.level]


def log_examples(now: float) -> list[tuple[str, list[str]]]:
    """(query, messages of the logs it selects, in id order) for a fixture written at `now`."""
    cases: list[tuple[str, Any]] = [
        ("level >= warn", lambda g: _rank(g) >= RANK["warn"]),
        ("level = error", lambda g: g.level == "error"),
        ("level < info", lambda g: _rank(g) < RANK["info"]),
        ('logger = "shop.db"', lambda g: g.logger == "shop.db"),
        ('message ~ "timeout"', lambda g: "timeout" in g.message.casefold()),
        ('service = "shop-api"', lambda g: g.service == "shop-api"),
        ('attr.request_id = "r-17"', lambda g: (g.attributes or {}).get("request_id") == "r-17"),
        (
            "trace = 01a25",
            lambda g: g.trace is not None and TRACES[g.trace].trace_id.startswith("01a25"),
        ),
        ("since 5m", lambda g: now - g.ago >= now - 5 * MINUTE),
        ("timeout", lambda g: "timeout" in g.message.casefold()),
        ("db timeout", lambda g: "db timeout" in g.message.casefold()),
        (
            'level >= warn and not logger = "shop.db"',
            lambda g: _rank(g) >= RANK["warn"] and g.logger != "shop.db",
        ),
    ]
    return [(text, logs_where(test)) for text, test in cases]
