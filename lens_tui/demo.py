"""`lens-tui demo`: a simulated web service traced with lens_tui.tracing, and the dashboard on it.

The workload runs in a child process (as a real service would) and drives a small ASGI app
through LensMiddleware: routes, handlers, database queries, cache hits and misses, outgoing calls
with retries, about 3 % errors with tracebacks, logs at every level, a few long in-flight jobs,
and now and then a trace of thousands of spans (the first one a few seconds in).

The child says `ready` on its stdout once it can write the database; if it exits before that,
the user gets one line with the reason instead of a dashboard waiting for a file that never comes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from lens_tui import tracing
from lens_tui.tracing import LensMiddleware, current_span, lens_fn, span

log = logging.getLogger("shop.api")
db_log = logging.getLogger("shop.db")
cache_log = logging.getLogger("shop.cache")
http_log = logging.getLogger("shop.http")

ERROR_RATE = 0.03
"""The share of traces that fail, about; the rates below add up to it with the route weights:

    POST /orders     15 % of requests, ~10 % of them fail (a timeout, a declined card, a query)
    GET /products    25 %, ~3 % (a KeyError in the handler, a query)
    GET /search      20 %, ~2 % (three queries)
    GET /users       35 %, ~0.8 % (one or two queries)
    GET /health       5 %, never

A trace fails when any span in it does, so a timed-out attempt that a retry then recovers counts.
"""
TIMEOUT_RATE = 0.03
"""Each attempt of an outgoing call times out with this probability (then it is retried)."""
DECLINE_RATE = 0.04
"""The payment service declines this share of charges (the order answers 402)."""
QUERY_ERROR_RATE = 0.006
"""This share of database queries hits the statement timeout (the request answers 500)."""
HANDLER_BUG_RATE = 0.03
"""GET /products/{product_id} fails with a KeyError this often (a bug: 500)."""
READY = b"ready"
"""What the child writes on its stdout once it can write the database."""
START_TIMEOUT_S = 10.0
"""How long the parent waits for READY before it opens the dashboard anyway."""

_MAIN = random.Random()
"""The workload's own random source: what arrives when (`--seed` seeds it)."""
_RNG: ContextVar[random.Random] = ContextVar("lens_demo_rng", default=_MAIN)


def rng() -> random.Random:
    """The current request's random source. Each request draws its own from the workload's, so
    a seeded run makes the same requests with the same outcomes however their tasks interleave."""
    return _RNG.get()


class PaymentDeclined(Exception):
    """A simulated downstream failure."""


class UpstreamTimeout(Exception):
    """A simulated timeout of an outgoing call."""


class QueryTimeout(Exception):
    """A simulated statement timeout of the database."""


def _ms(low: float, high: float) -> float:
    """A latency in seconds between low and high milliseconds, now and then a slow outlier."""
    r = rng()
    return r.uniform(low, high) / 1000.0 * r.choice((1, 1, 1, 1.5, 3))


@lens_fn("db.query")
async def db_query(statement: str, rows: int = 1) -> int:
    current = current_span()
    if current:
        current.set_attributes(
            **{"db.system": "postgresql", "db.statement": statement, "db.rows": rows}
        )
    await asyncio.sleep(_ms(0.3, 12))
    if rng().random() < QUERY_ERROR_RATE:
        raise QueryTimeout("canceling statement due to statement timeout")
    if rng().random() < 0.02:
        db_log.warning("slow query (%d rows): %s", rows, statement)
    else:
        db_log.debug("query ok: %s", statement)
    return rows


@lens_fn("cache.get")
async def cache_get(key: str) -> bool:
    hit = rng().random() < 0.7
    current = current_span()
    if current:
        current.set_attributes(**{"cache.key": key, "cache.hit": hit})
    await asyncio.sleep(_ms(0.05, 0.6))
    cache_log.debug("%s %s", "hit" if hit else "miss", key)
    return hit


@lens_fn("cache.set")
async def cache_set(key: str) -> None:
    await asyncio.sleep(_ms(0.05, 0.4))


async def http_call(service: str, path: str, *, retries: int = 2) -> int:
    """An outgoing call with retries and backoff; each attempt is its own span."""
    with span(
        f"http.client GET {service}",
        **{"peer.service": service, "http.url": f"http://{service}{path}"},
    ):
        for attempt in range(retries + 1):
            try:
                with span("attempt", attempt=attempt + 1):
                    await asyncio.sleep(_ms(2, 40))
                    if rng().random() < TIMEOUT_RATE:
                        raise UpstreamTimeout(f"{service} did not answer within 30ms")
                    return 200
            except UpstreamTimeout:
                if attempt == retries:
                    http_log.error("giving up on %s after %d attempts", service, attempt + 1)
                    raise
                http_log.warning("retrying %s (attempt %d)", service, attempt + 2)
                await asyncio.sleep(0.005 * 2**attempt)
    return 0


@lens_fn
async def load_user(user_id: int) -> dict[str, Any]:
    if not await cache_get(f"user:{user_id}"):
        await db_query("SELECT * FROM users WHERE id = $1")
        await cache_set(f"user:{user_id}")
    return {"id": user_id, "name": f"user{user_id}"}


@lens_fn
async def render_template(name: str) -> str:
    await asyncio.sleep(_ms(0.5, 4))
    return name


@lens_fn
async def charge_card(amount: float) -> str:
    await http_call("payments", "/v1/charges")
    if rng().random() < DECLINE_RATE:
        raise PaymentDeclined(
            f"card declined for amount {amount:.2f} (code 51: insufficient funds)"
        )
    return "ch_" + "".join(rng().choices("abcdef0123456789", k=12))


async def route_get_user(params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    user = await load_user(int(params["user_id"]))
    await db_query(
        "SELECT * FROM orders WHERE user_id = $1 ORDER BY created DESC LIMIT 20", rows=20
    )
    await render_template("user.html")
    log.info("served profile of user %s", params["user_id"])
    return 200, user


async def route_search(params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    query = rng().choice(["shoes", "red shirt", "laptop bag", "[bold]promo[/]", "café"])
    with span("search.parse", query=query):
        await asyncio.sleep(_ms(0.1, 1))
    shards = [
        db_query(f"SELECT * FROM products_{shard} WHERE tsv @@ $1", rows=rng().randint(0, 40))
        for shard in range(3)
    ]
    hits = await asyncio.gather(*shards, return_exceptions=True)  # no query outlives its request
    for failed in hits:
        if isinstance(failed, BaseException):
            raise failed
    with span("search.rank", candidates=sum(hits)):
        await asyncio.sleep(_ms(0.5, 6))
    log.info("search %r: %d hits", query, sum(hits))
    return 200, {"hits": sum(hits)}


async def route_create_order(params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    user = await load_user(rng().randint(1, 500))
    with span("validate.cart", items=rng().randint(1, 6)):
        await asyncio.sleep(_ms(0.2, 2))
    amount = rng().uniform(5, 400)
    try:
        charge = await charge_card(amount)
    except PaymentDeclined:
        log.warning("payment declined for user %s", user["id"])
        return 402, {"error": "payment declined"}
    await db_query("INSERT INTO orders (user_id, amount, charge) VALUES ($1, $2, $3)")
    await http_call("email", "/v1/send", retries=1)
    log.info("order created for user %s: %.2f", user["id"], amount)
    return 201, {"charge": charge}


async def route_product(params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    product_id = int(params["product_id"])
    if not await cache_get(f"product:{product_id}"):
        await db_query("SELECT * FROM products WHERE id = $1")
    if rng().random() < HANDLER_BUG_RATE:
        _ = {"sku": product_id}["price"]  # a real KeyError with a real traceback
    return 200, {"id": product_id}


async def route_health(params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    return 200, {"ok": True}


async def route_reindex(params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Now and then: a trace of thousands of spans."""
    log.warning("full reindex requested: this will take a while")
    for batch in range(60):
        with span("reindex.batch", batch=batch):
            for doc in range(rng().randint(30, 60)):
                with span("reindex.document", doc=batch * 100 + doc):
                    if doc % 10 == 0:
                        await asyncio.sleep(0.001)
    log.info("reindex finished")
    return 200, {"ok": True}


ROUTES: list[tuple[str, str, Any, float]] = [
    ("GET", "/users/{user_id}", route_get_user, 0.35),
    ("GET", "/search", route_search, 0.2),
    ("POST", "/orders", route_create_order, 0.15),
    ("GET", "/products/{product_id}", route_product, 0.25),
    ("GET", "/health", route_health, 0.05),
]


class Route:
    """Enough of a route object for LensMiddleware to name spans by template."""

    def __init__(self, path: str) -> None:
        self.path = path


async def shop_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A tiny ASGI app: the handler named by scope['route'], JSON responses, errors as 500."""
    await receive()
    handler = scope["handler"]
    status, payload = await handler(scope.get("path_params", {}))
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


APP = LensMiddleware(shop_app, capture_bodies=True, max_body_bytes=16 * 1024)


async def one_request(method: str, template: str, handler: Any, seed: int) -> None:
    """One request through the middleware, its outcomes drawn from `random.Random(seed)`."""
    _RNG.set(random.Random(seed))  # this task's context only
    params: dict[str, str] = {}
    path = template
    for name in ("user_id", "product_id"):
        if "{" + name + "}" in path:
            params[name] = str(rng().randint(1, 500))
            path = path.replace("{" + name + "}", params[name])
    body = (
        json.dumps({"items": [rng().randint(1, 99) for _ in range(3)]}).encode()
        if method == "POST"
        else b""
    )
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "handler": handler,
        "route": Route(template),
        "path_params": params,
        "client": ("10.0.0.7", 51234),
        "headers": [(b"x-lens-source", rng().choice([b"web", b"web", b"mobile", b"cli"]))],
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    try:
        await APP(scope, receive, send)
    except Exception:
        log.exception("unhandled error in %s %s", method, template)


@lens_fn("job.export_report")
async def long_job(seconds: float) -> None:
    """A long in-flight span, visible as running while it works."""
    log.info("export started, about %.0fs", seconds)
    steps = int(seconds)
    for step in range(steps):
        with span("export.chunk", chunk=step):
            await asyncio.sleep(1.0)
    log.info("export finished")


async def workload(rate: float, duration: float | None) -> None:
    """Requests at about `rate` per second, plus long jobs and now and then a huge trace: the
    first job 2 s in, the first huge trace 3 s in (a new user sees both soon), then every
    10-25 s and 30-60 s. With a duration, jobs end by the deadline."""
    start = time.monotonic()
    deadline = None if duration is None else start + duration
    weights = [w for *_rest, w in ROUTES]
    schedule = random.Random(_MAIN.getrandbits(64))  # when arrivals vary, what arrives does not
    tasks: set[asyncio.Task[None]] = set()

    def background(coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    next_job = start + 2
    next_reindex = start + 3
    while deadline is None or time.monotonic() < deadline:
        method, template, handler, _w = _MAIN.choices(ROUTES, weights)[0]
        background(one_request(method, template, handler, _MAIN.getrandbits(64)))
        now = time.monotonic()
        if now >= next_job:
            next_job = now + schedule.uniform(10, 25)
            seconds = schedule.uniform(6, 20)
            background(long_job(seconds if deadline is None else min(seconds, deadline - now)))
        if now >= next_reindex:
            next_reindex = now + schedule.uniform(30, 60)
            background(
                one_request("POST", "/admin/reindex", route_reindex, schedule.getrandbits(64))
            )
        if _MAIN.random() < 0.01:
            log.debug("heartbeat: %d requests in flight", len(tasks))
        await asyncio.sleep(_MAIN.expovariate(rate))
    await asyncio.gather(*tasks, return_exceptions=True)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def worker_main(argv: list[str] | None = None) -> int:
    """The child process: check it can write the database, say READY, run the workload until stopped."""
    from lens_tui.tracing.sql import open_writable

    parser = argparse.ArgumentParser(prog="python -m lens_tui.demo")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    if args.seed is not None:
        _MAIN.seed(args.seed)
    try:
        open_writable(args.db).close()  # creates and migrates it: the dashboard never waits for it
    except Exception as exc:
        print(f"cannot write {args.db}: {exc}", file=sys.stderr)
        return 1
    tracing.configure(args.db, service="shop-api")
    tracing.install_logging(logging.DEBUG, stderr=False)
    signal.signal(signal.SIGTERM, _interrupt)
    sys.stdout.buffer.write(READY + b"\n")
    sys.stdout.flush()
    try:
        asyncio.run(workload(args.rate, args.duration))
    except KeyboardInterrupt:
        pass
    finally:
        tracing.shutdown()
    return 0


def _wait_until_ready(child: subprocess.Popen[bytes], timeout: float) -> bool:
    """False if the child exited before it said READY; True if it did, or is merely slow."""
    said: list[bytes] = []
    stream = child.stdout
    assert stream is not None
    reader = threading.Thread(target=lambda: said.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not said or said[0].strip() == READY:
        return True
    child.wait()  # end of its stdout: it is exiting
    return False


def _why_it_stopped(child: subprocess.Popen[bytes], log_path: Path, offset: int) -> str:
    """The child's exit code and the last line it wrote on stderr (its log) since `offset`."""
    try:
        with open(log_path, "rb") as log_file:
            log_file.seek(offset)
            lines = log_file.read().decode("utf-8", "replace").splitlines()
    except OSError:
        lines = []
    last = next((line.strip() for line in reversed(lines) if line.strip()), "no message")
    return f"{last[:300]} (exit code {child.returncode}; log: {log_path})"


def run(
    db: Path | None,
    *,
    rate: float = 40.0,
    ui: bool = True,
    duration: float | None = None,
    seed: int | None = None,
) -> int:
    """Start the workload in a child process; show the dashboard (or wait) and stop the child.

    If the child exits before it can write the database, or while it should be running, say so
    in one line on stderr (exit code 1) instead of leaving a dashboard waiting for it.

    Without `db`, the workload writes into a new temporary directory, removed (the database
    and the workload's log) when the demo ends; kept only when the workload failed, as the
    message then points at its log."""
    temporary = db is None
    if db is None:
        db = Path(tempfile.mkdtemp(prefix="lens-demo-")) / "traces.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "lens_tui.demo", "--db", str(db), "--rate", str(rate)]
    if duration is not None and not ui:
        command += ["--duration", str(duration)]
    if seed is not None:
        command += ["--seed", str(seed)]
    log_path = db.parent / (db.name + ".demo.log")
    errors = open(log_path, "ab")
    offset = errors.tell()
    failed = False
    child = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
    )
    try:
        if not _wait_until_ready(child, START_TIMEOUT_S):
            failed = True
            print(
                f"lens-tui demo: the workload stopped at start: {_why_it_stopped(child, log_path, offset)}",
                file=sys.stderr,
            )
            return 1
        if not ui:
            kept = "; a temporary file, removed then" if temporary else ""
            print(f"demo writing to {db} (Ctrl+C stops{kept})", file=sys.stderr)
            code = child.wait()
        else:
            from lens_tui.cli import require_terminal
            from lens_tui.ui.app import run_dashboard

            require_terminal()
            code = run_dashboard(db)
        if child.poll():  # it stopped by itself, and not well: the dashboard stopped moving then
            failed = True
            print(
                f"lens-tui demo: the workload stopped: {_why_it_stopped(child, log_path, offset)}",
                file=sys.stderr,
            )
            return code if code > 0 else 1
        return code
    except KeyboardInterrupt:
        return 0
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if child.stdout is not None:
            child.stdout.close()
        errors.close()
        if temporary and not failed:
            shutil.rmtree(db.parent, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(worker_main())
