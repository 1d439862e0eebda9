"""The `lens-tui` command line: the dashboard (optionally with an OTLP receiver), `demo`, `show`, `prune`, `otlp`.

Bad input gets one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from lens_tui import __version__

if TYPE_CHECKING:
    from lens_tui.store.reader import TraceReader

EXIT_USAGE = 2
SUBCOMMANDS = (
    "demo",
    "show",
    "prune",
    "otlp",
    "serve",
    "mcp",
    "services",
    "query",
    "logs",
    "stats",
    "diff",
)
DB_SUFFIXES = frozenset({".db", ".db3", ".sqlite", ".sqlite3", ".s3db", ".sl3", ".sdb"})
"""Names that end so are databases to wait for, however close they are to a command name."""


class CliError(Exception):
    """A one-line reason to stop with exit code 2, and any lines that list what it is about."""

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line (no usage dump) with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{self.prog}: {message} (see --help)")


def default_db() -> Path:
    """`$LENS_DB`, else `./traces.db`."""
    return Path(os.environ.get("LENS_DB") or "traces.db")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)


def parse_duration_ms(text: str) -> float:
    """`90s`, `15m`, `12h`, `7d`, `2w` (plain numbers are days) as milliseconds."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 7d, 12h, 30m)")
    unit = (match.group(2) or "d").lower()
    return float(match.group(1)) * _UNIT_MS[unit]


def parse_size(text: str) -> int:
    """`1048576`, `512K`, `64M`, `1G` as bytes (binary units)."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 64M or 1G)")
    unit = (match.group(2) or "b").lower()[:1]
    return int(float(match.group(1)) * {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit])


def _dashboard_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lens-tui",
        description=(
            "Live terminal dashboard for traces and logs in a lens trace database.\n\n"
            "commands:\n"
            "  lens-tui [DB] [--otlp [PORT]] watch DB live (default $LENS_DB, else ./traces.db)\n"
            "  lens-tui demo [--db PATH]     run a demo service and watch it (start here)\n"
            "  lens-tui show TRACE_ID        print one trace as a tree or JSON (--stats: where the time went)\n"
            "  lens-tui diff TRACE_A TRACE_B compare two traces span by span\n"
            "  lens-tui query [EXPR]         print the traces a query selects (docs/query.md)\n"
            "  lens-tui logs [EXPR]          print the logs a query selects\n"
            "  lens-tui prune                apply retention to a database\n"
            "  lens-tui otlp [--port 4318]   receive OpenTelemetry (OTLP/HTTP) into a database\n"
            "  lens-tui serve [DB]           the dashboard in a web browser (textual-serve)\n"
            "  lens-tui mcp [--db PATH]      the traces for coding agents (MCP on stdio)\n"
            "  lens-tui services [--since]   the calls between services (a service map)\n"
            "  lens-tui stats [EXPR]         per-route rate, errors and latency percentiles\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "db", nargs="?", type=Path, help="trace database (default: $LENS_DB or ./traces.db)"
    )
    parser.add_argument("--version", action="version", version=f"lens-tui {__version__}")
    parser.add_argument(
        "--otlp",
        nargs="?",
        type=int,
        const=4318,
        default=None,
        metavar="PORT",
        help="also receive OTLP/HTTP on 127.0.0.1:PORT (default 4318) into DB, in this process",
    )
    return parser


def _positive(text: str) -> float:
    """A finite number above 0 (a demo's rate or duration)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number above 0: {text!r}")
    return value


def _demo_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lens-tui demo",
        description="Run a demo web-service workload and open the dashboard on it.",
    )
    parser.add_argument(
        "--db",
        type=Path,
        help="database to write: a new file or a trace database (default: a fresh file in a temp directory)",
    )
    parser.add_argument(
        "--rate", type=_positive, default=40.0, help="requests per second (default 40)"
    )
    parser.add_argument(
        "--no-ui", action="store_true", help="only run the workload (Ctrl+C stops it)"
    )
    parser.add_argument(
        "--duration", type=_positive, default=None, help="with --no-ui: stop after N seconds"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed: the same requests and outcomes each run",
    )
    return parser


def _show_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lens-tui show", description="Print one trace as an indented tree (default) or JSON."
    )
    parser.add_argument(
        "trace_id", help="trace id, or a unique prefix or tail of one (as the dashboard shows it)"
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="trace database (default: $LENS_DB or ./traces.db)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a tree")
    parser.add_argument(
        "--format",
        choices=("tree", "json", "otlp-json", "table"),
        default=None,
        help="output format (otlp-json: an OTLP/HTTP JSON export request; table: with --stats)",
    )
    from lens_tui.cli_analysis import add_stats_arguments

    add_stats_arguments(parser)
    return parser


def _diff_parser() -> argparse.ArgumentParser:
    from lens_tui.cli_analysis import add_diff_arguments

    parser = _Parser(
        prog="lens-tui diff",
        description="Compare two traces as one tree keyed by the path of span names.",
    )
    add_diff_arguments(parser)
    return parser


def _prune_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lens-tui prune", description="Delete old traces and logs, and cap stored body bytes."
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="trace database (default: $LENS_DB or ./traces.db)"
    )
    parser.add_argument(
        "--older-than",
        type=parse_duration_ms,
        default=parse_duration_ms("7d"),
        metavar="AGE",
        help="delete traces and logs older than AGE (default 7d)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=parse_size,
        default=None,
        metavar="N",
        help="evict the oldest captured bodies beyond N bytes (e.g. 256M)",
    )
    return parser


def _check_db_path(path: Path) -> Literal["ok", "missing", "record-store"]:
    """CliError for a path no command can use (a missing directory, a file that is not a
    trace database); "missing" when only the file is absent, "record-store" for a file that
    is only read."""
    from lens_tui.store.reader import OpenError, check_path

    try:
        return check_path(path)
    except OpenError as exc:
        raise CliError(str(exc)) from None


def _existing_db(path: Path) -> Path:
    if _check_db_path(path) == "missing":
        raise CliError(f"{path}: no such trace database")
    return path


def _writable_db(path: Path) -> Literal["ok", "missing"]:
    """`_check_db_path` for commands that write: a record store is refused (shown, never written)."""
    if (found := _check_db_path(path)) == "record-store":
        raise CliError(
            f"{path} is a record store (the dispatch trace store's layout): lens-tui shows it but never writes to it"
        )
    return found


CANDIDATES_SHOWN = 10
"""How many traces an ambiguous id lists."""


def _one_trace(reader: TraceReader, typed: str, path: Path) -> str:
    """The trace id that `typed` names (a whole id, a prefix or a tail); CliError listing the
    candidates when it names several."""
    from lens_tui.export import format_time
    from lens_tui.text import visible
    from lens_tui.trace_ids import find_trace

    match = find_trace(reader, typed, shown=CANDIDATES_SHOWN)
    if match.trace_id is not None:
        return match.trace_id
    if not match.total:
        raise CliError(f"no trace {typed!r} in {path}")
    count = f"{match.total:,}{'+' if match.at_least else ''}"
    details = [
        f"  {visible(t.trace_id, 64)}  {format_time(t.started_at, with_date=True)}  {visible(t.root_span_name, 120)}"
        for t in match.candidates
    ]
    if match.more:
        details.append(f"  and {'at least ' if match.at_least else ''}{match.more:,} more")
    raise CliError(f"trace id {typed!r} is ambiguous in {path}: {count} traces match", details)


def cmd_show(args: argparse.Namespace) -> int:
    """Print one trace."""
    from lens_tui import export
    from lens_tui.store.reader import OpenError, TraceReader

    path = _existing_db(args.db or default_db())
    if args.stats or args.format == "table" or args.sort is not None:
        from lens_tui.cli_analysis import run_stats

        return run_stats(args, path, _one_trace)
    reader = TraceReader(path)
    try:
        reader.open()
        trace_id = _one_trace(reader, args.trace_id, path)
        detail = reader.trace(trace_id)
        logs = reader.logs(trace_id=trace_id, limit=100_000)
    except OpenError as exc:
        raise CliError(str(exc)) from None
    finally:
        reader.close()
    fmt = args.format or ("json" if args.json else "tree")
    if fmt == "otlp-json":  # the OTLP JSON a Collector or `lens-tui otlp` takes back
        from lens_tui.otel.otlp_export import trace_to_otlp

        sys.stdout.write(json.dumps(trace_to_otlp(detail), indent=2) + "\n")
    elif fmt == "json":
        sys.stdout.write(json.dumps(export.to_json(detail, logs), indent=2) + "\n")
    else:
        sys.stdout.write(export.render_tree(detail, logs))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """Print two traces' merged tree."""
    from lens_tui.cli_analysis import run_diff

    return run_diff(args, _existing_db(args.db or default_db()), _one_trace)


def cmd_prune(args: argparse.Namespace) -> int:
    """Apply retention and print what was removed."""
    import apsw

    from lens_tui.tracing import retention
    from lens_tui.tracing.sql import open_writable

    path = _existing_db(args.db or default_db())
    _writable_db(path)
    try:
        conn = open_writable(path)
    except apsw.Error as exc:
        raise CliError(f"{path}: cannot open for writing: {exc}") from None
    try:
        result = retention.prune(
            conn, max_age_ms=args.older_than, max_body_bytes=args.max_body_bytes
        )
    except apsw.Error as exc:
        raise CliError(f"{path}: prune failed: {exc}") from None
    finally:
        conn.close()
    print(f"{path}: {result.describe()}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo workload in a child process and the dashboard on its database.

    --db must be a new file or a trace database: anything else is one line and exit code 2,
    before any screen (the workload would refuse it, and the dashboard wait for it forever)."""
    from lens_tui import demo

    db: Path | None = args.db
    if db is not None:
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError as exc:  # a file where a directory should be
            raise CliError(f"{db}: {exc.filename or db.parent} is not a directory") from None
        except OSError as exc:
            raise CliError(
                f"{db}: cannot create directory {db.parent}: {exc.strerror or exc}"
            ) from None
        if os.path.lexists(db):
            _writable_db(_existing_db(db))
    return demo.run(db, rate=args.rate, ui=not args.no_ui, duration=args.duration, seed=args.seed)


def require_terminal() -> None:
    """CliError unless stdin and stdout are terminals: the dashboard reads keys from one and
    draws on the other. Without them it would write escape codes into a file or a pipe as
    fast as it could, and never see a key to quit on. Textual told to use another driver (the
    web driver of `lens-tui serve`, over pipes) needs none."""
    if os.environ.get("TEXTUAL_DRIVER"):
        return
    for stream in (sys.stdin, sys.stdout):
        try:
            interactive = stream is not None and stream.isatty()
        except (AttributeError, ValueError):  # replaced or closed
            interactive = False
        if not interactive:
            raise CliError(
                "the dashboard needs a terminal (stdin and stdout); for scripts use "
                "`lens-tui show TRACE_ID [--format json]`, `lens-tui prune` or `lens-tui otlp`"
            )


def mistyped_command(arg: str) -> str | None:
    """The command `arg` is a typo of, when it cannot be meant as a database: no existing file,
    no directory part, no database suffix, and close to a command name."""
    if (
        not arg
        or arg in SUBCOMMANDS
        or arg.startswith("-")
        or "/" in arg
        or os.sep in arg
        or os.path.lexists(arg)
    ):
        return None
    if Path(arg).suffix.lower() in DB_SUFFIXES:
        return None
    close = difflib.get_close_matches(arg.lower(), SUBCOMMANDS, n=1, cutoff=0.6)
    return close[0] if close else None


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Open the live dashboard."""
    path: Path = args.db or default_db()
    _check_db_path(path)
    require_terminal()
    from lens_tui.ui.app import run_dashboard

    if args.otlp is None:
        return run_dashboard(path)
    _writable_db(path)
    import apsw

    from lens_tui.otel.receiver import start_in_background

    try:
        receiver = start_in_background(path, args.otlp)  # never prints: the UI owns the terminal
    except (OSError, apsw.Error, ValueError) as exc:
        raise CliError(f"cannot start the OTLP receiver on port {args.otlp}: {exc}") from None
    try:
        return run_dashboard(path, receiving=receiver.url)
    finally:
        receiver.stop()  # flushes what was received


# --- `lens-tui otlp`: the OTLP/HTTP receiver in the foreground (lens_tui/otel/receiver.py) -----

if TYPE_CHECKING:
    from lens_tui.otel.receiver import OTLPReceiver


def _otlp_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lens-tui otlp",
        description="Receive OpenTelemetry traces and logs over OTLP/HTTP (POST /v1/traces, "
        "/v1/logs; protobuf or JSON; gzip) into a trace database. Ctrl+C stops it.",
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="trace database (default: $LENS_DB or ./traces.db)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, loopback only)",
    )
    parser.add_argument(
        "--port", type=int, default=4318, help="port (default 4318, the OTLP/HTTP port)"
    )
    parser.add_argument(
        "--token",
        default=None,
        help="require `Authorization: Bearer TOKEN` (default: $LENS_OTLP_TOKEN if set)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=parse_size,
        default=None,
        metavar="N",
        help="largest request body, sent or inflated (default 20M)",
    )
    return parser


def cmd_otlp(args: argparse.Namespace) -> int:
    """Run the OTLP/HTTP receiver in the foreground until Ctrl+C (or SIGTERM)."""
    import signal

    try:
        from lens_tui.otel.receiver import DEFAULT_MAX_BODY_BYTES, OTLPReceiver
    except ImportError as exc:
        raise CliError(
            f"the OTLP receiver needs the otel extra: pip install 'lens-tui[otel]' ({exc})"
        ) from None

    path: Path = args.db or default_db()
    if not 0 <= args.port <= 65535:
        raise CliError(f"invalid port {args.port}")
    _writable_db(path)  # the receiver's store would create a missing directory
    token = args.token or os.environ.get("LENS_OTLP_TOKEN") or None
    receiver = OTLPReceiver(
        path,
        host=args.host,
        port=args.port,
        token=token,
        max_body_bytes=args.max_body_bytes or DEFAULT_MAX_BODY_BYTES,
    )

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Before the address is announced: a SIGTERM right after it must still flush and report.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        _start_otlp(receiver, path, args, token)
        try:
            receiver.serve_forever()
        except KeyboardInterrupt:
            pass
    except KeyboardInterrupt:  # while starting
        pass
    finally:
        flushed = receiver.stop()
        signal.signal(signal.SIGTERM, previous)
    print(
        f"lens-tui otlp: received {receiver.stats.describe()}"
        + ("" if flushed else " (some records were not written before the timeout)"),
        file=sys.stderr,
    )
    return 0


def _start_otlp(
    receiver: OTLPReceiver, path: Path, args: argparse.Namespace, token: str | None
) -> None:
    """Open the database and the port, and say where it listens (CliError if either fails)."""
    import apsw

    try:
        receiver.bind()
    except (apsw.Error, OSError) as exc:
        if receiver.store is None:
            raise CliError(f"{path}: cannot open for writing: {exc}") from None
        raise CliError(
            f"cannot listen on {args.host}:{args.port}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    print(
        f"lens-tui otlp: receiving on {receiver.url}/v1/traces and /v1/logs into {path} "
        "(Ctrl+C stops)",
        file=sys.stderr,
    )
    if not receiver.loopback and token is None:
        print(
            "lens-tui otlp: warning: listening beyond this machine without --token", file=sys.stderr
        )


# --- end of `lens-tui otlp` -------------------------------------------------------------------


def _serve_parser() -> argparse.ArgumentParser:
    from lens_tui.serve import build_parser

    return build_parser(_Parser)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the dashboard to a browser until Ctrl+C."""
    from lens_tui.store.reader import OpenError, check_path

    path: Path = args.db or default_db()
    try:
        check_path(path)
    except OpenError as exc:
        raise CliError(str(exc)) from None
    if not 0 < args.port <= 65535:
        raise CliError(f"invalid port {args.port}")
    try:
        import textual_serve  # noqa: F401
    except ImportError:
        raise CliError(
            "serving to a browser needs the serve extra: pip install 'lens-tui[serve]'"
        ) from None
    from lens_tui.serve import run

    try:
        return run(
            path, args.host, args.port, args.token or os.environ.get("LENS_SERVE_TOKEN") or None
        )
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None


def _stats_parser() -> argparse.ArgumentParser:
    from lens_tui.cli_stats import build_parser

    return build_parser(_Parser)


def cmd_stats(args: argparse.Namespace) -> int:
    """Print per-route statistics."""
    from lens_tui.cli_stats import run

    return run(args, _existing_db(args.db or default_db()))


def _mcp_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lens-tui mcp",
        description="Serve the trace database to a coding agent over MCP on stdio (read-only). "
        "Register it with your MCP client as the command `lens-tui mcp --db PATH`.",
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="trace database (default: $LENS_DB or ./traces.db)"
    )
    return parser


def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve MCP on stdio until the client disconnects."""
    path = _existing_db(args.db or default_db())
    try:
        from lens_tui.mcp.server import run
    except ImportError as exc:
        raise CliError(
            f"the MCP server needs the mcp extra: pip install 'lens-tui[mcp]' ({exc})"
        ) from None
    return run(path)


def _query_parser() -> argparse.ArgumentParser:
    from lens_tui import cli_query

    return cli_query.query_parser(_Parser)


def _logs_parser() -> argparse.ArgumentParser:
    from lens_tui import cli_query

    return cli_query.logs_parser(_Parser)


def cmd_query(args: argparse.Namespace) -> int:
    """`lens-tui query` (lens_tui/cli_query.py)."""
    from lens_tui import cli_query

    return cli_query.cmd_query(args)


def cmd_logs(args: argparse.Namespace) -> int:
    """`lens-tui logs` (lens_tui/cli_query.py)."""
    from lens_tui import cli_query

    return cli_query.cmd_logs(args)


def _services_parser() -> argparse.ArgumentParser:
    from lens_tui.cli_services import build_parser

    return build_parser(_Parser)


def cmd_services(args: argparse.Namespace) -> int:
    """Print the calls between services."""
    from lens_tui.cli_services import run

    return run(args, _existing_db(args.db or default_db()))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `lens-tui`."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    from lens_tui.sqlite_check import check_linked

    warning = check_linked()
    if warning:
        print(warning, file=sys.stderr)
    try:
        meant = mistyped_command(args_list[0]) if args_list else None
        if meant is not None:
            raise CliError(
                f"unknown command {args_list[0]!r} (did you mean {meant!r}?); "
                f"a database to wait for needs a name like {args_list[0]}.db"
            )
        if args_list and args_list[0] in SUBCOMMANDS:
            command, rest = args_list[0], args_list[1:]
            parser = {
                "demo": _demo_parser,
                "show": _show_parser,
                "prune": _prune_parser,
                "otlp": _otlp_parser,
                "serve": _serve_parser,
                "mcp": _mcp_parser,
                "services": _services_parser,
                "query": _query_parser,
                "logs": _logs_parser,
                "stats": _stats_parser,
                "diff": _diff_parser,
            }[command]()
            args = parser.parse_args(rest)
            return {
                "demo": cmd_demo,
                "show": cmd_show,
                "prune": cmd_prune,
                "otlp": cmd_otlp,
                "serve": cmd_serve,
                "mcp": cmd_mcp,
                "services": cmd_services,
                "query": cmd_query,
                "logs": cmd_logs,
                "stats": cmd_stats,
                "diff": cmd_diff,
            }[command](args)
        return cmd_dashboard(_dashboard_parser().parse_args(args_list))
    except CliError as exc:
        print(
            f"lens-tui: {exc}" if not str(exc).startswith("lens-tui") else str(exc), file=sys.stderr
        )
        for line in exc.details:
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
