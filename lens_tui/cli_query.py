"""`lens-tui query` and `lens-tui logs`: the query language on the command line (docs/query.md).

Matching traces newest first, or matching logs oldest of the newest N first (like `tail`), as a
table or text for people or as JSON lines for programs; `--follow` keeps printing new matches as
writers commit them until Ctrl+C (exit 0), read-only, holding no read transaction between polls.
A bad expression or database is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from lens_tui import export
from lens_tui.cli import CliError, default_db
from lens_tui.text import visible

FOLLOW_POLL_S = float(os.environ.get("LENS_FOLLOW_POLL_S") or 0.25)
"""How often `--follow` asks whether anything was committed (PRAGMA data_version: cheap)."""
MAX_LIMIT = 100_000

ParserFactory = Callable[..., argparse.ArgumentParser]

_EXAMPLES_TRACES = (
    "examples:\n"
    "  lens-tui query 'status = error duration > 250ms'\n"
    "  lens-tui query '{ name = \"db.query\" and duration > 50ms } since 15m'\n"
    "  lens-tui query 'attr.http.status_code >= 500' --format jsonl --follow\n"
)
_EXAMPLES_LOGS = (
    "examples:\n"
    "  lens-tui logs 'level >= warn logger = \"shop.db\"'\n"
    "  lens-tui logs 'attr.request_id = \"r-17\"' --format jsonl\n"
    "  lens-tui logs 'timeout since 5m' --follow\n"
)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}: {text!r}")
    return value


def _common(
    parser: argparse.ArgumentParser, what: str, formats: tuple[str, ...]
) -> argparse.ArgumentParser:
    parser.add_argument(
        "expr",
        nargs="?",
        default="",
        metavar="EXPR",
        help=f"a {what} query (docs/query.md); none: every {what}",
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="trace database (default: $LENS_DB or ./traces.db)"
    )
    parser.add_argument(
        "--limit", type=_limit, default=50, metavar="N", help="at most N matches (default 50)"
    )
    parser.add_argument(
        "--format",
        choices=formats,
        default=formats[0],
        help=f"output format (default {formats[0]})",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="then keep printing new matches as they are committed, until Ctrl+C",
    )
    return parser


def query_parser(make: ParserFactory) -> argparse.ArgumentParser:
    """`lens-tui query [EXPR] [--db PATH] [--limit N] [--format table|jsonl] [--follow]`."""
    return _parser(
        make,
        "query",
        "Print the traces a query selects, newest first.",
        _EXAMPLES_TRACES,
        "trace",
        ("table", "jsonl"),
    )


def logs_parser(make: ParserFactory) -> argparse.ArgumentParser:
    """`lens-tui logs [EXPR] [--db PATH] [--limit N] [--format text|jsonl] [--follow]`."""
    return _parser(
        make,
        "logs",
        "Print the newest logs a query selects, oldest of them first (like tail).",
        _EXAMPLES_LOGS,
        "log",
        ("text", "jsonl"),
    )


def _parser(
    make: ParserFactory,
    command: str,
    description: str,
    examples: str,
    what: str,
    formats: tuple[str, ...],
) -> argparse.ArgumentParser:
    parser = make(
        prog=f"lens-tui {command}",
        description=description,
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return _common(parser, what, formats)


# --------------------------------------------------------------------------- output


def _json_line(value: dict[str, Any]) -> str:
    # ASCII only: no control character or escape sequence from the data reaches a terminal.
    return json.dumps(value, ensure_ascii=True, allow_nan=False, default=str)


def trace_line(trace: Any) -> str:
    """One trace as a table row: start, duration, status, spans, service, id, root name."""
    spans = "?" if trace.span_count is None else str(trace.span_count)
    duration = export.format_duration(trace.duration_ms)
    return (
        f"{export.format_time(trace.started_at, with_date=True):<23}  {duration:>8}  "
        f"{trace.status:<7}  {spans:>5}  {visible(trace.service or '-', 20):<20}  "
        f"{trace.trace_id}  {visible(trace.root_span_name, 200)}"
    )


TRACE_HEADER = f"{'START':<23}  {'DURATION':>8}  {'STATUS':<7}  {'SPANS':>5}  {'SERVICE':<20}  {'TRACE':<32}  NAME"


def log_line(log: Any) -> str:
    """One log as a text line: time, level, logger, message, trace id."""
    trace = f"  [{log.trace_id}]" if log.trace_id else ""
    return (
        f"{export.format_time(log.timestamp, with_date=True)}  {log.level.upper():<5}  "
        f"{visible(log.logger or '-', 40)}  {visible(log.message, 2000)}{visible(trace, 80)}"
    )


class _Printer:
    """Lines to stdout, flushed per batch (a pipe reader sees each match when it is found)."""

    def __init__(self, out: TextIO, render: Callable[[Any], str]) -> None:
        self.out = out
        self.render = render

    def rows(self, rows: Iterable[Any]) -> None:
        for row in rows:
            self.out.write(self.render(row) + "\n")
        self.out.flush()


# --------------------------------------------------------------------------- commands


def _open(path: Path) -> Any:
    from lens_tui.store.reader import OpenError, TraceReader

    reader = TraceReader(path)
    try:
        reader.open()
    except OpenError as exc:
        raise CliError(str(exc)) from None
    return reader


def _compile(kind: str, text: str) -> Any:
    from lens_tui.query import QueryError, compile_log_query, compile_trace_query

    try:
        return (compile_trace_query if kind == "trace" else compile_log_query)(text)
    except QueryError as exc:
        raise CliError(f"bad query: {exc}") from None


def cmd_query(args: argparse.Namespace) -> int:
    """Print matching traces newest first; with --follow, then new matches as they come."""
    return _run(args, "trace", _print_traces)


def cmd_logs(args: argparse.Namespace) -> int:
    """Print the newest matching logs, oldest first; with --follow, then new ones as they come."""
    return _run(args, "log", _print_logs)


def _run(
    args: argparse.Namespace, kind: str, printing: Callable[[argparse.Namespace, Any, Any], int]
) -> int:
    query = _compile(kind, args.expr)
    reader = _open(args.db or default_db())
    try:
        return printing(args, query, reader)
    except KeyboardInterrupt:
        if args.follow:
            return 0  # how --follow ends
        raise
    finally:
        reader.close()


def _print_traces(args: argparse.Namespace, query: Any, reader: Any) -> int:
    from lens_tui.query.run import TraceFollower, find_traces

    jsonl = args.format == "jsonl"
    printer = _Printer(
        sys.stdout, (lambda t: _json_line(export.summary_fields(t))) if jsonl else trace_line
    )
    try:
        # The follower marks "now" before the page is read: nothing committed between is lost.
        follower = _read(lambda: TraceFollower(reader, query)) if args.follow else None
        found = _read(lambda: find_traces(reader, query, limit=args.limit))
        if not jsonl:
            sys.stdout.write(TRACE_HEADER + "\n")
        printer.rows(found)
        if follower is not None:
            follower.remember(t.trace_id for t in found)
            _follow(lambda: _read(follower.poll), printer)
    except BrokenPipeError:
        return _closed_pipe()
    return 0


def _print_logs(args: argparse.Namespace, query: Any, reader: Any) -> int:
    from lens_tui.query.run import LogFollower, find_logs

    printer = _Printer(
        sys.stdout,
        (lambda g: _json_line(export.log_fields(g))) if args.format == "jsonl" else log_line,
    )
    try:
        top = _read(reader.max_log_id) if args.follow else 0  # before the page: no gap
        found = _read(lambda: find_logs(reader, query, limit=args.limit))
        printer.rows(found)
        if args.follow:
            follower = LogFollower(reader, query, max([top, *(log.id for log in found)]))
            _follow(lambda: _read(follower.poll), printer)
    except BrokenPipeError:
        return _closed_pipe()
    return 0


def _read(call: Callable[[], Any]) -> Any:
    from lens_tui.store.reader import OpenError

    try:
        return call()
    except OpenError as exc:
        raise CliError(str(exc)) from None


def _follow(poll: Callable[[], list[Any]], printer: _Printer) -> None:
    """Poll until Ctrl+C (KeyboardInterrupt, which the command turns into exit code 0)."""
    while True:
        printer.rows(poll())
        time.sleep(FOLLOW_POLL_S)


def _closed_pipe() -> int:
    """The reader of our output went away (`| head`): stop quietly, without the interpreter's
    own complaint when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    return 0
