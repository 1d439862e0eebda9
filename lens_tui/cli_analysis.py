"""`lens-tui show TRACE_ID --stats` and `lens-tui diff TRACE_A TRACE_B`: the command code.

`lens_tui.cli` parses the command line and checks the database path; this module reads the
traces and prints. Bad input raises `CliError` (one line on stderr, exit code 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from lens_tui.analysis.columns import SpanLabels
from lens_tui.analysis.diff import DIFF_SORTS, DiffRow, TraceDiff, diff_traces
from lens_tui.analysis.stats import SORT_KEYS, TraceStats, trace_statistics
from lens_tui.cli import CliError
from lens_tui.export import MAX_INDENT_DEPTH
from lens_tui.forest import SpanForest, build_forest
from lens_tui.store.reader import OpenError, TraceReader
from lens_tui.store.records import TraceDetail
from lens_tui.text import visible

NAME_WIDTH = 48
SERVICE_WIDTH = 20
PATH_SHOWN = 4
"""Ancestors a flat diff row names (deeper ones are elided: a chain may be 10,000 deep)."""


Resolver = Callable[[TraceReader, str, Path], str]
"""How a typed trace id becomes one stored id (CliError when it names none or several): the
command line passes the one `show` uses, so every command reads an id the same way."""


def read_traces(path: Path, texts: list[str], resolve: Resolver) -> list[TraceDetail]:
    """The traces named by `texts` (ids or prefixes), read in one connection's lifetime."""
    reader = TraceReader(path)
    try:
        reader.open()
        ids = [resolve(reader, text, path) for text in texts]
        return [reader.trace(trace_id) for trace_id in ids]
    except OpenError as exc:
        raise CliError(str(exc)) from None
    finally:
        reader.close()


def _forest(detail: TraceDetail, now: float) -> tuple[SpanForest, SpanLabels]:
    forest = build_forest(detail.spans, now)
    return forest, SpanLabels.from_forest(forest)


def _now_ms() -> float:
    return time.time() * 1000.0


# ------------------------------------------------------------------------------------- stats


def add_stats_arguments(parser: argparse.ArgumentParser) -> None:
    """`show`'s statistics options."""
    parser.add_argument(
        "--stats",
        action="store_true",
        help="print the trace's statistics per (service, span name) instead of the tree",
    )
    parser.add_argument(
        "--sort",
        choices=SORT_KEYS,
        default=None,
        help="with --stats: the column to sort by (default self)",
    )


def run_stats(args: argparse.Namespace, path: Path, resolve: Resolver) -> int:
    """Print the statistics table of `args.trace_id` as a table or JSON."""
    fmt = args.format or ("json" if args.json else "table")
    if not args.stats:
        raise CliError(f"{'--sort' if args.sort is not None else '--format ' + fmt} needs --stats")
    if fmt not in ("table", "json"):
        raise CliError(f"--stats prints a table or json, not {fmt}")
    (detail,) = read_traces(path, [args.trace_id], resolve)
    now = _now_ms()
    forest, labels = _forest(detail, now)
    stats = trace_statistics(forest, labels, now, sort=args.sort or "self")
    if fmt == "json":
        sys.stdout.write(json.dumps([row.as_json() for row in stats.rows], indent=2) + "\n")
    else:
        write_stats_table(sys.stdout, stats)
    return 0


def _ms(value: float) -> str:
    return f"{value:.3f}"


def write_stats_table(out: TextIO, stats: TraceStats) -> None:
    """The statistics as aligned text columns (durations in ms, share in percent)."""
    header = (
        "service",
        "name",
        "count",
        "total ms",
        "self ms",
        "avg ms",
        "min ms",
        "max ms",
        "share",
    )
    cells = [header] + [
        (
            visible(row.service or "-", SERVICE_WIDTH),
            visible(row.name, NAME_WIDTH),
            str(row.count) + ("*" if row.running else ""),
            _ms(row.total_ms),
            _ms(row.self_ms),
            _ms(row.avg_ms),
            _ms(row.min_ms),
            _ms(row.max_ms),
            f"{row.share * 100:.1f}%",
        )
        for row in stats.rows
    ]
    widths = [max(len(line[k]) for line in cells) for k in range(len(header))]
    for line in cells:
        left = [line[k].ljust(widths[k]) for k in range(2)]
        right = [line[k].rjust(widths[k]) for k in range(2, len(header))]
        out.write("  ".join(left + right).rstrip() + "\n")
    running = sum(row.running for row in stats.rows)
    out.write(f"{stats.span_count} spans, trace {_ms(stats.trace_ms)} ms")
    out.write(f"; * {running} still running (counted until now)\n" if running else "\n")


# -------------------------------------------------------------------------------------- diff


def add_diff_arguments(parser: argparse.ArgumentParser) -> None:
    """The `diff` subcommand's arguments."""
    parser.add_argument("trace_a", help="the first trace's id, or a unique prefix of one")
    parser.add_argument("trace_b", help="the second trace's id, or a unique prefix of one")
    parser.add_argument(
        "--db", type=Path, default=None, help="trace database (default: $LENS_DB or ./traces.db)"
    )
    parser.add_argument(
        "--format", choices=("tree", "json"), default="tree", help="output format (default tree)"
    )
    parser.add_argument(
        "--sort",
        choices=DIFF_SORTS,
        default="tree",
        help="row order: the merged tree (default), or the biggest duration (delta) "
        "or self-time (self) regressions first",
    )
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="print at most N rows")


def run_diff(args: argparse.Namespace, path: Path, resolve: Resolver) -> int:
    """Print the merged tree of two traces."""
    if args.limit is not None and args.limit < 0:
        raise CliError(f"--limit must be 0 or more, not {args.limit}")
    detail_a, detail_b = read_traces(path, [args.trace_a, args.trace_b], resolve)
    now = _now_ms()
    (forest_a, labels_a), (forest_b, labels_b) = _forest(detail_a, now), _forest(detail_b, now)
    diff = diff_traces(forest_a, labels_a, forest_b, labels_b, now)
    order = diff.order(args.sort)
    if args.limit is not None:
        order = order[: args.limit]
    ids = (forest_a.span_ids, forest_b.span_ids)
    if args.format == "json":
        write_diff_json(sys.stdout, diff, order, ids)
    else:
        head_a = _trace_head(detail_a, diff.a_ms)
        head_b = _trace_head(detail_b, diff.b_ms)
        sys.stdout.write(f"A {head_a}\nB {head_b}\n")
        write_diff_tree(sys.stdout, diff, order, flat=args.sort != "tree")
    return 0


def _trace_head(detail: TraceDetail, duration: float) -> str:
    summary = detail.summary
    trace_id = summary.trace_id if summary else (detail.spans[0].trace_id if detail.spans else "?")
    name = visible(summary.root_span_name, 80) if summary else ""
    return f"{trace_id}  {name}  {_ms(duration)} ms  ({len(detail.spans)} spans)"


def _paths(diff: TraceDiff, order: list[int]) -> Iterator[tuple[int, list[str], list[int]]]:
    """(row, names from the top, occurrences from the top) for each row of `order`; built
    from a running stack when `order` is the tree's pre-order."""
    if order == list(range(len(diff))):
        names: list[str] = []
        occurrences: list[int] = []
        for index, row in enumerate(diff.rows):
            del names[row.depth :], occurrences[row.depth :]
            names.append(row.name)
            occurrences.append(row.occurrence)
            yield index, names, occurrences
        return
    for index in order:
        key = diff.key(index)
        yield index, [name for name, _ in key], [k for _, k in key]


def _opt(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def write_diff_json(
    out: TextIO,
    diff: TraceDiff,
    order: list[int],
    ids: tuple[list[str], list[str]],
) -> None:
    """The rows of `order` as a JSON list, written row by row."""
    out.write("[")
    first = True
    for index, names, occurrences in _paths(diff, order):
        row = diff.rows[index]
        item = {
            "path": names,
            "index": occurrences,
            "depth": row.depth,
            "a_ms": _opt(row.a_ms),
            "b_ms": _opt(row.b_ms),
            "delta_ms": _opt(row.delta_ms),
            "only_in": row.only_in,
            "a_self_ms": _opt(row.a_self_ms),
            "b_self_ms": _opt(row.b_self_ms),
            "self_delta_ms": _opt(row.self_delta_ms),
            "a_span_id": None if row.a is None else ids[0][row.a],
            "b_span_id": None if row.b is None else ids[1][row.b],
        }
        out.write(("\n  " if first else ",\n  ") + json.dumps(item, ensure_ascii=False))
        first = False
    out.write("\n]\n" if not first else "]\n")


def _cell(value: float | None) -> str:
    return "-" if value is None else _ms(value)


def _signed(value: float) -> str:
    return f"{value:+.3f}"


def _label(row: DiffRow) -> str:
    mark = {"a": "  [only in A]", "b": "  [only in B]", None: ""}[row.only_in]
    repeat = f" #{row.occurrence + 1}" if row.occurrence else ""
    return f"{visible(row.name, 200)}{repeat}{mark}"


def _indent(depth: int) -> str:
    if depth <= MAX_INDENT_DEPTH:
        return "  " * depth
    return "  " * MAX_INDENT_DEPTH + f"┆{depth}┆ "


def write_diff_tree(out: TextIO, diff: TraceDiff, order: list[int], *, flat: bool) -> None:
    """Rows with A's and B's durations and B - A: indented as a tree in tree order, else one
    path per row (`flat`, for the regressions first)."""
    columns = f"{'A ms':>12}  {'B ms':>12}  {'B - A':>12}"
    out.write(f"{columns}  span\n")
    for index in order:
        row = diff.rows[index]
        cells = f"{_cell(row.a_ms):>12}  {_cell(row.b_ms):>12}  {_signed(row.delta_ms):>12}"
        if flat:
            above = diff.path(index, PATH_SHOWN + 1)[:-1]
            where = "".join(visible(name, 60) + " > " for name in above)
            if row.depth > len(above):
                where = "… > " + where
            out.write(f"{cells}  {where}{_label(row)}\n")
        else:
            out.write(f"{cells}  {_indent(row.depth)}{_label(row)}\n")
    paired, only_a, only_b = diff.counts()
    out.write(
        f"{paired} paired, {only_a} only in A, {only_b} only in B; "
        f"trace B - A {_signed(diff.b_ms - diff.a_ms)} ms\n"
    )
