"""Benchmark the trace analyses: statistics and flame layout of a 100,000-span trace, and the
diff of two 10,000-span traces.

Usage: `python bench/bench_trace_analysis.py [--repeats N] [--no-json]`

The traces are built in memory as the dashboard holds an opened trace: a `SpanForest` built
from columns (`build_forest_columns`, what opening a trace runs) and the name and service
columns (`SpanLabels`). The wide trace is a root, 1,000 children and 99 grandchildren each
(100,000 spans, 40 span names over 5 services, children overlapping one another, one in ten
outliving its parent, one in a hundred still running); the deep one a chain 10,000 spans deep.
The diff compares a 10,000-span trace (a root, 100 children, 99 grandchildren each) with a
copy in which every span is 0 to 20 % slower, one child in ten lost its subtree, and one in
ten has an extra grandchild.

Each figure is the median of `--repeats` runs (default 7) of the call alone, in this process,
with the collector left on (as in the dashboard's worker). The reference in the same run is
building the forest itself from the same columns: the ratio says what an analysis adds to
opening the trace. Targets: 300 ms each. A table goes to stdout, JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # runnable from a fresh clone without installing the package
    sys.path.insert(0, str(ROOT))

from lens_tui.analysis.columns import SpanLabels  # noqa: E402
from lens_tui.analysis.diff import diff_traces  # noqa: E402
from lens_tui.analysis.flame import flame_layout  # noqa: E402
from lens_tui.analysis.stats import trace_statistics  # noqa: E402
from lens_tui.forest import SpanForest, build_forest_columns  # noqa: E402

TARGET_MS = 300.0
T0 = 1_700_000_000_000.0
NOW = T0 + 3_600_000.0
SERVICES = ("edge", "api", "db", "cache", "payments")
NAMES = tuple(f"operation {k:02d}" for k in range(40))

Columns = tuple[
    list[str], list[str | None], list[float], list[float | None], list[str], list[str | None]
]
"""(span ids, parent ids, starts, durations, names, services), by start time."""


def wide_trace(children: int, grandchildren: int, seed: int, prefix: str = "w") -> Columns:
    """A root, `children` children and `grandchildren` each, in start order."""
    rng = random.Random(seed)
    spans: list[tuple[float, str, str | None, float | None, str, str | None]] = []
    length = children * 10.0 + 100.0
    spans.append((T0, f"{prefix}0", None, length, "GET /report", "edge"))
    for c in range(children):
        c_id = f"{prefix}c{c}"
        c_start = T0 + c * 10.0 + rng.random() * 5
        c_length = rng.uniform(5.0, 40.0)  # overlaps the next children
        if c % 10 == 9:
            c_length += length  # async work that outlives the request
        spans.append(
            (c_start, c_id, f"{prefix}0", c_length, rng.choice(NAMES), rng.choice(SERVICES))
        )
        for g in range(grandchildren):
            g_start = c_start + rng.random() * c_length
            g_length = None if rng.random() < 0.01 else rng.uniform(0.01, 3.0)
            spans.append(
                (
                    g_start,
                    f"{prefix}g{c}.{g}",
                    c_id,
                    g_length,
                    rng.choice(NAMES),
                    rng.choice(SERVICES),
                )
            )
    spans.sort(key=lambda s: (s[0], s[1]))
    return (
        [s[1] for s in spans],
        [s[2] for s in spans],
        [s[0] for s in spans],
        [s[3] for s in spans],
        [s[4] for s in spans],
        [s[5] for s in spans],
    )


def chain(depth: int) -> Columns:
    """A chain `depth` spans deep."""
    ids = [f"d{i}" for i in range(depth)]
    return (
        ids,
        [None] + ids[:-1],
        [T0 + i * 0.5 for i in range(depth)],
        [float(2 * depth - i) for i in range(depth)],
        ["level"] * depth,
        ["api"] * depth,
    )


def slower_copy(columns: Columns, seed: int) -> Columns:
    """`columns` with every span 0-20 % slower, a tenth of the children's subtrees gone and a
    tenth of the children given an extra grandchild."""
    rng = random.Random(seed)
    ids, parents, starts, durations, names, services = columns
    gone = {i for i in ids if i.startswith("bc") and rng.random() < 0.1}
    out: list[tuple[float, str, str | None, float | None, str, str | None]] = []
    for k, span_id in enumerate(ids):
        parent = parents[k]
        if span_id in gone or parent in gone:
            continue
        duration = durations[k]
        slower = None if duration is None else duration * rng.uniform(1.0, 1.2)
        out.append((starts[k], span_id, parent, slower, names[k], services[k]))
        if span_id.startswith("bc") and rng.random() < 0.1:
            out.append((starts[k] + 1.0, span_id + ".extra", span_id, 1.0, "extra step", "api"))
    out.sort(key=lambda s: (s[0], s[1]))
    return (
        [s[1] for s in out],
        [s[2] for s in out],
        [s[0] for s in out],
        [s[3] for s in out],
        [s[4] for s in out],
        [s[5] for s in out],
    )


def forest_of(columns: Columns) -> tuple[SpanForest, SpanLabels]:
    ids, parents, starts, durations, names, services = columns
    forest = build_forest_columns(ids, parents, starts, durations, list(range(len(ids))), None, NOW)
    return forest, SpanLabels(names, services)


def median_ms(call: Callable[[], Any], repeats: int) -> float:
    """The median wall time of `call()` over `repeats` runs, after one untimed warm-up."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()
    repeats = max(1, args.repeats)

    wide = wide_trace(1_000, 99, seed=1)
    deep = chain(10_000)
    small_a = wide_trace(100, 99, seed=2, prefix="b")
    small_b = slower_copy(small_a, seed=3)
    wide_forest, wide_labels = forest_of(wide)
    deep_forest, deep_labels = forest_of(deep)
    (fa, la), (fb, lb) = forest_of(small_a), forest_of(small_b)

    rows: list[tuple[str, float, float | None, float | None]] = []

    def measure(
        label: str, call: Callable[[], Any], reference: float | None, target: float | None
    ) -> None:
        figure = median_ms(call, repeats)
        rows.append((label, figure, None if reference is None else figure / reference, target))
        print(f"  {label}: {figure:.1f} ms", file=sys.stderr)

    print(f"medians of {repeats} runs", file=sys.stderr)
    build_wide = median_ms(lambda: forest_of(wide), repeats)
    build_small = median_ms(lambda: forest_of(small_a), repeats)
    rows.append(("reference: build the 100,000-span forest", build_wide, 1.0, None))
    measure(
        "statistics, 100,000 spans",
        lambda: trace_statistics(wide_forest, wide_labels, NOW),
        build_wide,
        TARGET_MS,
    )
    measure(
        "flame layout (time), 100,000 spans",
        lambda: flame_layout(wide_forest, wide_labels, NOW),
        build_wide,
        TARGET_MS,
    )
    measure(
        "flame layout (merged), 100,000 spans",
        lambda: flame_layout(wide_forest, wide_labels, NOW, merged=True),
        build_wide,
        TARGET_MS,
    )
    measure(
        "statistics, chain 10,000 deep",
        lambda: trace_statistics(deep_forest, deep_labels, NOW),
        None,
        None,
    )
    measure(
        "flame layout (time), chain 10,000 deep",
        lambda: flame_layout(deep_forest, deep_labels, NOW),
        None,
        None,
    )
    rows.append(("reference: build a 10,000-span forest", build_small, 1.0, None))
    measure(
        f"diff, {len(fa):,} vs {len(fb):,} spans",
        lambda: diff_traces(fa, la, fb, lb, NOW),
        build_small,
        TARGET_MS,
    )
    measure(
        "diff, chains 10,000 deep",
        lambda: diff_traces(deep_forest, deep_labels, deep_forest, deep_labels, NOW),
        None,
        TARGET_MS,
    )

    load = os.getloadavg()
    print(
        f"\nlens_tui trace analysis bench  (Python {platform.python_version()}, {os.cpu_count()} cpus, "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, medians of {repeats})"
    )
    print(f"{'what':<44} {'median ms':>10} {'x build':>8} {'target':>8}  ok")
    for label, figure, ratio, target in rows:
        verdict = "" if target is None else ("yes" if figure <= target else "NO")
        print(
            f"{label:<44} {figure:>10.1f} {'' if ratio is None else f'{ratio:.2f}':>8} "
            f"{'' if target is None else f'{target:.0f}':>8}  {verdict}"
        )
    if not args.no_json:
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (out / f"trace_analysis-{stamp}.json").write_text(
            json.dumps(
                {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load": load,
                    "repeats": repeats,
                    "rows": [
                        {"what": r[0], "median_ms": r[1], "ratio_to_build": r[2], "target_ms": r[3]}
                        for r in rows
                    ],
                },
                indent=2,
            )
        )
    return 0 if all(t is None or f <= t for _l, f, _r, t in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
