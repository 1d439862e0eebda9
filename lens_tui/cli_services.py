"""`lens-tui services`: the calls between services over a recent window, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from lens_tui import humanize
from lens_tui.export import FORMAT_VERSION
from lens_tui.text import visible


def build_parser(parser_class: type[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """The command's parser, of the CLI's own parser class (one-line errors, exit 2)."""
    from lens_tui.cli import parse_duration_ms

    parser = parser_class(
        prog="lens-tui services",
        description="List the calls between services (a client span in one service whose child "
        "is a server span in another): calls, error rate and p95 latency per caller and callee.",
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="trace database (default: $LENS_DB or ./traces.db)"
    )
    parser.add_argument(
        "--since",
        type=parse_duration_ms,
        default=parse_duration_ms("1h"),
        metavar="AGE",
        help="traces that started within AGE (default 1h; e.g. 15m, 12h, 7d)",
    )
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="output format"
    )
    return parser


def run(args: argparse.Namespace, db: Path) -> int:
    """Print the service map of `db` for the window `args.since` ends now."""
    from lens_tui.cli import CliError
    from lens_tui.store.reader import OpenError, TraceReader
    from lens_tui.store.service_map import service_map

    now = time.time() * 1000.0
    reader = TraceReader(db)
    try:
        reader.open()
        found = service_map(reader, now - args.since, now)
    except OpenError as exc:
        raise CliError(str(exc)) from None
    finally:
        reader.close()
    if args.format == "json":
        document = {
            "version": FORMAT_VERSION,
            "since_ms": found.since_ms,
            "until_ms": found.until_ms,
            "services": list(found.services),
            "edges": [edge.as_dict() for edge in found.edges],
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return 0
    window = humanize.duration(args.since)
    if not found.edges:
        sys.stdout.write(f"no calls between services in traces of the last {window} in {db}\n")
        return 0
    rows = [("CALLER", "CALLEE", "CALLS", "ERRORS", "ERROR %", "P95")]
    for edge in found.edges:
        rows.append(
            (
                visible(edge.caller, 60),
                visible(edge.callee, 60),
                f"{edge.calls:,}",
                f"{edge.errors:,}",
                f"{edge.error_rate * 100:.1f}",
                humanize.duration(edge.p95_ms),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        left = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:2]))
        right = "  ".join(cell.rjust(widths[i + 2]) for i, cell in enumerate(row[2:]))
        sys.stdout.write(f"{left}  {right}\n")
    sys.stdout.write(
        f"{len(found.edges)} calls between {len(found.services)} services, traces of the last {window}\n"
    )
    return 0
