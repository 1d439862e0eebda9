"""`lens-tui stats`: per-route rate, errors and latency percentiles over a window of trace
start times, as a table or JSON (lens_tui.store.stats does the counting; EXPR is a trace query
of lens_tui.query)."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lens_tui import humanize
from lens_tui.cli import CliError, parse_duration_ms
from lens_tui.store.stats.groups import GROUP_BYS, GroupBy, RouteStats
from lens_tui.text import visible

DEFAULT_SINCE = "15m"
NAME_WIDTH = 48
"""Widest service or name cell of the table (longer ones end in an ellipsis)."""

_DURATION_AGO = re.compile(r"^\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)$", re.IGNORECASE)

DESCRIPTION = """\
Per-route statistics of the traces that started in a window: count, rate, errors, latency
percentiles. Routes are the traces' root spans, grouped by --by (default service,name).

EXPR is a trace query (docs/query.md): `checkout` keeps traces whose root span name
contains it, `status = error`, `duration > 250ms`, `{ name = "db.query" and duration > 50ms }`,
`attr.http.status_code >= 500`... and their combinations.

count is every trace that started in [--since, --until); rate_per_s is count over the
window's length (with --since all, from the first matching trace); errors are traces that
failed anywhere (error_rate = errors / count); running traces have no duration yet: they are
in count and running, never in the percentiles.

Percentiles are exact, by the nearest-rank method over the finished traces' durations:
pN is the value at rank ceil(N/100 * n) of the n durations in ascending order (computed by
SQLite window functions); max_ms is the largest.

Times: --since and --until take a duration back from now (15m, 2h, 7d, 90s), a local time
today (10:30, 10:30:15), a local date and time (2026-12-07T10:30, "2026-12-07 10:30"), an
ISO time with an offset or Z, or `now`; --since also takes `all`."""


def build_parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """The `stats` parser, of the CLI's parser class (its errors are one line, exit 2)."""
    parser = parser_class(
        prog="lens-tui stats",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "expr",
        nargs="?",
        default="",
        metavar="EXPR",
        help="only the traces this trace query keeps (default: every trace)",
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="trace database (default: $LENS_DB or ./traces.db)"
    )
    parser.add_argument(
        "--by",
        choices=GROUP_BYS,
        default="service,name",
        metavar="KEYS",
        help="group by the root span's `service`, `name`, or `service,name` (default)",
    )
    parser.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        metavar="T",
        help=f"window start (default {DEFAULT_SINCE} ago; `all`: no start)",
    )
    parser.add_argument(
        "--until", default="now", metavar="T", help="window end, exclusive (default now)"
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="a table (default) or a JSON list of objects",
    )
    return parser


def parse_time(text: str, now_ms: float, *, option: str) -> float:
    """An instant as epoch ms: `now`, a duration back from `now_ms` (the CLI's units, days and
    weeks too), or a time point of the query language (a local clock time today, an ISO date
    and time)."""
    from lens_tui.query import QueryError
    from lens_tui.query.times import time_point_ms

    value = text.strip()
    if value.lower() == "now":
        return now_ms
    if _DURATION_AGO.match(value):
        return now_ms - parse_duration_ms(value)
    try:
        return time_point_ms(value, 1, now_ms)
    except QueryError:
        raise CliError(
            f"{option}: not a time: {text!r} (try 15m, 2h, 7d, 10:30, 2026-12-07T10:30 or now)"
        ) from None


def window(args: argparse.Namespace, now_ms: float) -> tuple[float | None, float]:
    """(since, until) in epoch ms from the options; since None for `all`."""
    until = parse_time(args.until, now_ms, option="--until")
    if args.since.strip().lower() == "all":
        return None, until
    since = parse_time(args.since, now_ms, option="--since")
    if not since < until:
        raise CliError(f"--since ({args.since}) must be before --until ({args.until})")
    return since, until


def run(args: argparse.Namespace, path: Path) -> int:
    """Print the statistics of the database at `path` (validated by the caller)."""
    from lens_tui.query import QueryError, compile_trace_query
    from lens_tui.store.reader import OpenError, TraceReader
    from lens_tui.store.stats.sql import route_stats

    now_ms = time.time() * 1000.0
    since, until = window(args, now_ms)
    by: GroupBy = args.by
    try:
        where = compile_trace_query(args.expr, now_ms=now_ms) if args.expr.strip() else None
    except QueryError as exc:
        raise CliError(f"bad query: {exc}") from None
    reader = TraceReader(path)
    try:
        reader.open()
        rows = route_stats(
            reader, since_ms=since, until_ms=until, by=by, where=where, now_ms=now_ms
        )
    except OpenError as exc:
        raise CliError(str(exc)) from None
    finally:
        reader.close()
    if args.format == "json":
        sys.stdout.write(json.dumps([row.as_dict() for row in rows], indent=2) + "\n")
    else:
        sys.stdout.write(render_table(rows, by, since, until))
    return 0


def _ms(value: float | None) -> str:
    return "-" if value is None else humanize.duration(value)


def _rate(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


_NUMERIC: tuple[tuple[str, Callable[[RouteStats], str]], ...] = (
    ("COUNT", lambda r: f"{r.count:,}"),
    ("RATE/S", lambda r: _rate(r.rate_per_s)),
    ("ERRORS", lambda r: f"{r.errors:,}"),
    ("ERR%", lambda r: f"{100 * r.error_rate:.1f}"),
    ("P50", lambda r: _ms(r.p50_ms)),
    ("P90", lambda r: _ms(r.p90_ms)),
    ("P95", lambda r: _ms(r.p95_ms)),
    ("P99", lambda r: _ms(r.p99_ms)),
    ("MAX", lambda r: _ms(r.max_ms)),
    ("RUNNING", lambda r: f"{r.running:,}"),
)


def render_table(rows: Sequence[RouteStats], by: GroupBy, since: float | None, until: float) -> str:
    """The rows as an aligned text table under a line naming the window; text from the
    database made visible (no control characters reach the terminal)."""
    opened = (
        "the first trace" if since is None else humanize.clock_time_or_date(since, with_date=True)
    )
    head = f"traces started from {opened} to {humanize.clock_time_or_date(until, with_date=True)}"
    if not rows:
        return head + ": none\n"
    keys = [k for k in ("service", "name") if k in by]
    header = [k.upper() for k in keys] + [name for name, _ in _NUMERIC]
    table = [header]
    for row in rows:
        fields = row.key.fields()
        cells = [visible("-" if fields[k] is None else fields[k], NAME_WIDTH) for k in keys]
        table.append(cells + [show(row) for _, show in _NUMERIC])
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = []
    for line in table:
        parts = [
            cell.ljust(widths[i]) if i < len(keys) else cell.rjust(widths[i])
            for i, cell in enumerate(line)
        ]
        lines.append("  ".join(parts).rstrip())
    return head + "\n" + "\n".join(lines) + "\n"
