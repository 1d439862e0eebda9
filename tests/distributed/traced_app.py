"""A lens-traced program sending OTLP: `python traced_app.py --otlp URL [--db PATH] [--traces N]`.

Makes N traces (a root, two children and a log line each) as fast as it can, then shuts the
tracing down and prints one JSON line: how long the work took, the sender's counts as the work
ended and after shutdown, and how long shutdown took.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time

from lens_tui import tracing
from lens_tui.tracing import LogHandler, lens_fn, span


@lens_fn("price lookup")
def lookup(i: int) -> int:
    return i * 2


@lens_fn("stock check")
def stock(i: int) -> int:
    return i % 7


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--otlp", required=True)
    parser.add_argument("--db", default=None)
    parser.add_argument("--traces", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=10.0, help="OTLP request timeout")
    parser.add_argument("--max-queue", type=int, default=100_000)
    parser.add_argument("--shutdown", type=float, default=5.0)
    parser.add_argument("--token", default=None)
    args = parser.parse_args()

    writer = tracing.configure(
        args.db,
        service="traced-app",
        otlp_endpoint=args.otlp,
        otlp_timeout=args.timeout,
        otlp_max_queue=args.max_queue,
        otlp_token=args.token,
        flush_interval=0.05,
        otlp_max_retry_s=args.shutdown,
    )
    logger = logging.getLogger("traced.app")
    logger.addHandler(LogHandler())
    logger.setLevel(logging.INFO)
    started = time.perf_counter()
    for i in range(args.traces):
        with span(f"order {i % 5}", order=i):
            lookup(i)
            stock(i)
            logger.info("order %d placed", i)
        if i % 50 == 49:
            time.sleep(0.01)  # a little pacing: the writer drains as it goes, as in a service
    work_s = time.perf_counter() - started
    assert writer.otlp is not None
    during = dataclasses.asdict(writer.otlp.stats())
    started = time.perf_counter()
    tracing.shutdown(args.shutdown)
    shutdown_s = time.perf_counter() - started
    after = dataclasses.asdict(writer.otlp.stats())
    print(
        json.dumps({"work_s": work_s, "during": during, "after": after, "shutdown_s": shutdown_s}),
        flush=True,
    )


if __name__ == "__main__":
    main()
