"""The SQL and the live predicate of one query agree: random rows (odd ones included: NULLs,
infinities, stored statuses and levels in other spellings, numbers as strings, invalid JSON)
written into a real database, random query trees, the reader's answer against the predicate's
on the rows the reader decodes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import apsw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lens_tui import schema
from lens_tui.query import parse
from lens_tui.query.ast import And, Attribute, Compare, Node, Not, Or, Selector
from lens_tui.query.compiled import LogQuery, SpanQuery, TraceQuery
from lens_tui.query.render import render
from lens_tui.query.sql import FULL_LAYOUT
from lens_tui.store.decode import span_row
from lens_tui.store.filters import register_sql_functions
from lens_tui.store.reader import TraceReader

from .fixture import HOUR, NOW, insert_row

INF = float("inf")
NAMES = ["GET /orders", "checkout", "Über", "ÜBER straße", "", "a_b", "100%", "x\x00y", "db.query"]
NEEDLES = ["", "orders", "ÜBER", "über", "STRASSE", "_", "%", "\x00", "db.", "x"]
SERVICES = [None, "", "shop-api", "payments", "Payments"]
STATUSES = [None, "", "ok", "error", "running", "ERROR", "Running", "weird"]
DURATIONS = [None, 0.0, 0.5, 50.0, 250.0, 1000.0, INF, -INF, float("nan")]
TIMES = [None, 0.0, NOW - HOUR, NOW - 600_000.0, NOW, INF]
TIME_BOUNDS = [0.0, NOW - HOUR, NOW - 600_000.0, NOW]
KEYS = ["user.id", "odd key", 'a"b']
JSON_VALUES: list[Any] = [
    -1,
    0,
    42,
    500,
    2**63,
    -(2**63) - 1,
    42.0,
    4.2e1,
    0.1,
    INF,
    "42",
    " 42 ",
    "042",
    "4.2e1",
    "-0",
    "+5",
    "1.",
    "abc",
    "",
    "Über",
    "ÜBER",
    True,
    False,
    None,
    [1, 2],
    {"n": 1},
]
LITERALS: list[Any] = [-1, 0, 42, 500, 42.5, 9.2e18, INF, "42", "abc", "", "über", True, False]
BAD_JSON = ["not json", "[1, 2]", "{", '{"x": NaN}', "", "   ", "42"]
LEVEL_SPELLINGS = [
    "info",
    "warn",
    "WARNING",
    " Warn ",
    "warnish",
    "ERROR",
    "fatal",
    "debug",
    "TRACE",
    "chatty",
    "",
    "\tinfo\n",
    "Critical",
]
ID_PREFIXES = ["01a25", "01A25", "0", "z", "01a2"]


def attributes() -> st.SearchStrategy[str | None]:
    objects = st.dictionaries(
        st.sampled_from(KEYS), st.sampled_from(JSON_VALUES), min_size=1, max_size=3
    )
    return st.one_of(
        st.none(), objects.map(json.dumps), objects.map(json.dumps), st.sampled_from(BAD_JSON)
    )


span_rows = st.fixed_dictionaries(
    {
        "name": st.sampled_from(NAMES),
        "service": st.sampled_from(SERVICES),
        "kind": st.sampled_from([None, "server", "client"]),
        "status": st.sampled_from(STATUSES),
        "error_message": st.sampled_from([None, "boom"]),
        "duration_ms": st.sampled_from(DURATIONS),
        "started_at": st.sampled_from([0.0, NOW - HOUR, NOW, INF]),
        "attributes": attributes(),
        "parentless": st.booleans(),
    }
)
trace_rows = st.fixed_dictionaries(
    {
        "root_span_name": st.sampled_from([*NAMES, None]),
        "status": st.sampled_from(STATUSES),
        "error_count": st.sampled_from([0, 1, 2, -1]),
        "duration_ms": st.sampled_from(DURATIONS),
        "started_at": st.sampled_from(TIMES),
        "prefix": st.sampled_from(["01a25", "01A25", "abc"]),
        "root": st.sampled_from([None, 0, 1, "elsewhere"]),  # the span the trace row names
        "spans": st.lists(span_rows, min_size=1, max_size=4),
    }
)
log_rows = st.fixed_dictionaries(
    {
        "level": st.sampled_from(LEVEL_SPELLINGS),
        "message": st.sampled_from(NAMES),
        "logger": st.sampled_from([None, "shop.db", "shop.api", ""]),
        "service": st.sampled_from(SERVICES),
        "trace": st.sampled_from([None, "01a25", "01A25", "abc"]),
        "span": st.sampled_from([None, "00ab", "ffff"]),
        "timestamp": st.sampled_from([0.0, NOW - HOUR, NOW, INF]),
        "attributes": attributes(),
    }
)

ORDER_OPS = ["=", "!=", "<", "<=", ">", ">="]
TEXT_OPS = ["=", "!=", "~", "!~"]


def attribute_terms() -> st.SearchStrategy[Node]:
    def build(key: str, op: str, value: Any) -> Attribute:
        if isinstance(value, bool) and op not in ("=", "!="):
            op = "="
        if op in ("~", "!~"):
            value = (
                str(value).lower()
                if isinstance(value, bool)
                else (value if isinstance(value, str) else repr(value))
            )
        return Attribute(key, op, value)  # type: ignore[arg-type]

    return st.builds(
        build,
        st.sampled_from(KEYS),
        st.sampled_from(ORDER_OPS + ["~", "!~"]),
        st.sampled_from(LITERALS),
    )


def compare(field: str, ops: list[str], values: list[Any]) -> st.SearchStrategy[Node]:
    return st.builds(Compare, st.just(field), st.sampled_from(ops), st.sampled_from(values))


def starts() -> st.SearchStrategy[Node]:
    return st.builds(
        Compare, st.just("start"), st.sampled_from([">=", "<"]), st.sampled_from(TIME_BOUNDS)
    )


SPAN_LEAVES = st.one_of(
    compare("name", TEXT_OPS, NAMES + NEEDLES),
    compare("service", TEXT_OPS, ["", "shop-api", "payments", "pay"]),
    compare("kind", TEXT_OPS, ["server", "client", ""]),
    compare("status", ["=", "!="], ["ok", "error", "running"]),
    compare("duration", ORDER_OPS, [0.0, 0.5, 50.0, 250.0, 1e9]),
    starts(),
    attribute_terms(),
)
TRACE_LEAVES = st.one_of(
    compare("name", TEXT_OPS, NAMES + NEEDLES),
    compare("status", ["=", "!="], ["ok", "error", "running"]),
    compare("duration", ORDER_OPS, [0.0, 0.5, 50.0, 250.0, 1e9]),
    compare("service", TEXT_OPS, ["", "shop-api", "payments", "pay"]),
    compare("trace", ["=", "!="], ID_PREFIXES),
    starts(),
    attribute_terms(),
    st.builds(Selector, st.one_of(st.just(And(())), SPAN_LEAVES)),
)
LOG_LEAVES = st.one_of(
    compare("level", ORDER_OPS, ["debug", "info", "warn", "error"]),
    compare("message", TEXT_OPS, NAMES + NEEDLES),
    compare("logger", TEXT_OPS, ["shop.db", "shop", ""]),
    compare("service", TEXT_OPS, ["", "shop-api", "payments"]),
    compare("trace", ["=", "!="], ID_PREFIXES),
    compare("span", ["=", "!="], ["00", "ff", "FF"]),
    starts(),
    attribute_terms(),
)


def trees(leaves: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    def extend(inner: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
        return st.one_of(
            st.builds(lambda ts: And(tuple(ts)), st.lists(inner, min_size=2, max_size=3)),
            st.builds(lambda ts: Or(tuple(ts)), st.lists(inner, min_size=2, max_size=3)),
            st.builds(Not, inner),
        )

    return st.recursive(leaves, extend, max_leaves=6)


def span_trees() -> st.SearchStrategy[Node]:
    return trees(SPAN_LEAVES)


TRACE_TREES = st.one_of(trees(TRACE_LEAVES), st.builds(Selector, span_trees()))


def write(path: Path, traces: list[dict[str, Any]], logs: list[dict[str, Any]]) -> None:
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    schema.migrate(conn)
    conn.execute("BEGIN")
    for n, trace in enumerate(traces):
        trace_id = f"{trace['prefix']}{n:027x}"
        insert_row(
            conn,
            schema.Trace,
            trace_id=trace_id,
            root_span_name=trace["root_span_name"],
            started_at=trace["started_at"],
            duration_ms=trace["duration_ms"],
            status=trace["status"],
            error_count=trace["error_count"],
            root_span_id=trace["root"]
            if trace["root"] in (None, "elsewhere")
            else f"{n:08x}{trace['root']:08x}",
        )
        for k, span in enumerate(trace["spans"]):
            parent = None if k == 0 or span["parentless"] else f"{n:08x}{0:08x}"
            columns = {c: v for c, v in span.items() if c != "parentless"}
            insert_row(
                conn,
                schema.Span,
                span_id=f"{n:08x}{k:08x}",
                trace_id=trace_id,
                parent_span_id=parent,
                **columns,
            )
    for log in logs:
        columns = {c: v for c, v in log.items() if c not in ("trace", "span")}
        insert_row(
            conn,
            schema.Log,
            trace_id=None if log["trace"] is None else f"{log['trace']}{7:027x}",
            span_id=log["span"],
            **columns,
        )
    conn.execute("COMMIT")
    conn.close()


AGREEMENT = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@AGREEMENT
@given(
    traces=st.lists(trace_rows, min_size=1, max_size=5),
    queries=st.lists(TRACE_TREES, min_size=1, max_size=8),
)
def test_trace_sql_and_predicate_agree(traces: list[dict[str, Any]], queries: list[Node]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "t.db"
        write(path, traces, [])
        with TraceReader(path) as reader:
            every = reader.recent_traces(1000)
            details = {t.trace_id: reader.trace(t.trace_id) for t in every}
            for tree in queries:
                query = TraceQuery(render(tree), tree)
                by_sql = {t.trace_id for t in reader.recent_traces(1000, where=query)}
                by_predicate = {
                    t.trace_id for t in every if query.matches(t, spans=details[t.trace_id].spans)
                }
                assert by_sql == by_predicate, query.text


@AGREEMENT
@given(
    logs=st.lists(log_rows, min_size=1, max_size=8),
    queries=st.lists(trees(LOG_LEAVES), min_size=1, max_size=8),
)
def test_log_sql_and_predicate_agree(logs: list[dict[str, Any]], queries: list[Node]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "t.db"
        write(path, [], logs)
        with TraceReader(path) as reader:
            every = reader.logs(limit=1000)
            for tree in queries:
                query = LogQuery(render(tree), tree)
                by_sql = [log.id for log in reader.logs(scope=query, limit=1000)]
                assert by_sql == [log.id for log in every if query.matches(log)], query.text


@AGREEMENT
@given(
    traces=st.lists(trace_rows, min_size=1, max_size=3),
    queries=st.lists(span_trees(), min_size=1, max_size=8),
)
def test_span_sql_and_predicate_agree(traces: list[dict[str, Any]], queries: list[Node]) -> None:
    """A span query's condition on `spans` (the waterfall's search) and SpanRow.matches."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "t.db"
        write(path, traces, [])
        conn = apsw.Connection(
            f"file:{path}?mode=ro", flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
        )
        register_sql_functions(conn)
        columns = ", ".join(f'"{c}"' for c in _span_columns())
        rows = {r[0]: span_row(r) for r in conn.execute(f"SELECT {columns} FROM spans").fetchall()}
        for tree in queries:
            query = SpanQuery(render(tree), tree)
            sql, params = (
                schema.Span.select(schema.Span.span_id).where(query.condition(FULL_LAYOUT)).sql()
            )
            by_sql = {r[0] for r in conn.execute(sql, params).fetchall()}
            assert by_sql == {sid for sid, span in rows.items() if query.matches(span)}, query.text
        conn.close()


def _span_columns() -> tuple[str, ...]:
    from lens_tui.store.decode import SPAN_COLUMNS

    return SPAN_COLUMNS


@settings(max_examples=300, deadline=None)
@given(tree=TRACE_TREES)
def test_rendered_trees_parse_back_to_themselves(tree: Node) -> None:
    assert parse(render(tree), "trace") == tree


@settings(max_examples=200, deadline=None)
@given(tree=trees(LOG_LEAVES))
def test_rendered_log_trees_parse_back_to_themselves(tree: Node) -> None:
    assert parse(render(tree), "log") == tree
