"""Queries on a database written by the real tracing library: statuses from raised exceptions,
attributes from span keyword arguments, logs with `extra` fields, real durations."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from lens_tui import tracing
from lens_tui.query import compile_log_query, compile_trace_query
from lens_tui.store.reader import TraceReader
from lens_tui.tracing import lens_fn, span


@pytest.fixture(scope="module")
def written(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TraceReader, dict[str, str]]]:
    db = tmp_path_factory.mktemp("writer") / "traces.db"
    tracing.configure(db, service="shop-api", flush_interval=0.02)
    handler = tracing.LogHandler()
    log = logging.getLogger("shop.db")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    ids: dict[str, str] = {}

    def request(
        name: str,
        status: int,
        user: object,
        *,
        slow: bool = False,
        fail: bool = False,
        cache: bool = True,
    ) -> None:
        @lens_fn(name)
        def handle() -> None:
            holder = tracing.current_span()
            assert holder is not None
            holder.set_attributes(**{"http.status_code": status})
            ids[name] = holder.trace_id
            with span("db.query", **{"user.id": user}):
                if slow:
                    time.sleep(0.06)
                log.warning("query for %s", name, extra={"request_id": f"r-{name}"})
            if cache:
                with span("cache.get"):
                    log.debug("cache lookup")
            if fail:
                try:
                    with span("payments.charge"):
                        raise RuntimeError("card declined")
                except RuntimeError:
                    log.error("payment failed for %s", name)

        handle()

    request("GET /a", 200, 42, slow=True)
    request("GET /b", 503, "42", fail=True)
    request("POST /c", 404, 420, cache=False)
    tracing.flush()
    tracing.shutdown()
    log.removeHandler(handler)
    with TraceReader(db) as reader:
        yield reader, ids


def ids_of(reader: TraceReader, text: str) -> set[str]:
    query = compile_trace_query(text)
    found = {t.trace_id for t in reader.recent_traces(100, where=query)}
    live = {
        t.trace_id
        for t in reader.recent_traces(100)
        if query.matches(t, spans=reader.trace(t.trace_id).spans)
    }
    assert found == live, text
    return found


def test_trace_queries(written: tuple[TraceReader, dict[str, str]]) -> None:
    reader, ids = written
    a, b, c = ids["GET /a"], ids["GET /b"], ids["POST /c"]
    assert ids_of(reader, "status = error") == {b}  # a child raised; the root did not
    assert ids_of(reader, "status = ok") == {a, c}
    assert ids_of(reader, "{ status = error }") == {b}
    assert ids_of(reader, '{ status = error and name = "payments.charge" }') == {b}
    assert ids_of(reader, "attr.http.status_code >= 500") == {b}
    assert ids_of(reader, "attr.http.status_code >= 400") == {b, c}
    assert ids_of(reader, "{ attr.user.id = 42 }") == {a, b}  # 42 and "42"; not 420
    assert ids_of(reader, '{ attr.user.id = "42" }') == {b}
    assert ids_of(reader, '{ name = "db.query" and duration > 50ms }') == {a}
    assert ids_of(reader, 'not { name = "cache.get" }') == {c}
    assert ids_of(reader, 'service = "shop-api"') == {a, b, c}
    assert ids_of(reader, 'service != "shop-api"') == set()
    assert ids_of(reader, "GET") == {a, b}
    assert ids_of(reader, "GET /b or POST") == {b, c}
    assert ids_of(reader, f"trace = {a[:12]}") == {t for t in (a, b, c) if t.startswith(a[:12])}
    assert ids_of(reader, "since 10m") == {a, b, c}
    assert ids_of(reader, "until 10m") == set()


def test_log_queries(written: tuple[TraceReader, dict[str, str]]) -> None:
    reader, ids = written

    def messages(text: str) -> list[str]:
        query = compile_log_query(text)
        found = [g.message for g in reader.logs(scope=query, limit=100)]
        assert found == [g.message for g in reader.logs(limit=100) if query.matches(g)], text
        return found

    assert messages("level >= warn") == [
        "query for GET /a",
        "query for GET /b",
        "payment failed for GET /b",
        "query for POST /c",
    ]
    assert messages("level = error") == ["payment failed for GET /b"]
    assert messages('attr.request_id = "r-GET /b"') == ["query for GET /b"]
    assert messages('logger = "shop.db" cache') == ["cache lookup", "cache lookup"]
    assert messages(f"trace = {ids['GET /b']}") == [
        "query for GET /b",
        "cache lookup",
        "payment failed for GET /b",
    ]
    assert messages('message ~ "PAYMENT"') == ["payment failed for GET /b"]
    assert messages('service = "shop-api" level < info') == ["cache lookup", "cache lookup"]
