"""Whatever a query holds is data, never SQL: quotes, LIKE wildcards, NUL, SQL fragments and
JSON path syntax in values and keys select exactly the rows holding that text; huge numbers
compare; deep nesting is a clear error; the database is untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator

import apsw
import pytest

from lens_tui import schema
from lens_tui.query import QueryError, compile_log_query, compile_trace_query
from lens_tui.query.sql import json_path
from lens_tui.store.reader import TraceReader

HOSTILE_NAMES = [
    "100% done",
    "100 done",
    "a_b",
    "axb",
    "x' OR 1=1 --",
    'quote"d',
    "nul\x00byte",
    "nul",
    "back\\slash",
    "robert'); DROP TABLE spans; --",
    "*glob?[x]",
    "$.path",
    "plain",
]
HOSTILE_KEYS = [
    "it's",
    'dq"key',
    "$.x",
    "a.b[0]",
    "k'; DROP TABLE traces; --",
    "nul\x00key",
    "back\\k",
    "",
]


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TraceReader]:
    path = tmp_path_factory.mktemp("hostile") / "traces.db"
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    schema.migrate(conn)
    with conn:
        for n, name in enumerate(HOSTILE_NAMES):
            trace_id = f"{n:032x}"
            conn.execute(
                "INSERT INTO traces (trace_id, root_span_name, started_at, duration_ms, status)"
                " VALUES (?, ?, ?, ?, 'ok')",
                (trace_id, name, 1_000.0 + n, 1.0),
            )
            attributes = {HOSTILE_KEYS[n % len(HOSTILE_KEYS)]: name, "n": 10**n}
            conn.execute(
                "INSERT INTO spans (span_id, trace_id, name, started_at, duration_ms, status,"
                " attributes) VALUES (?, ?, ?, ?, 1.0, 'ok', ?)",
                (f"{n:016x}", trace_id, name, 1_000.0 + n, json.dumps(attributes)),
            )
            conn.execute(
                "INSERT INTO logs (level, message, timestamp, attributes) VALUES ('info', ?, ?, ?)",
                (name, 1_000.0 + n, json.dumps(attributes)),
            )
    conn.close()
    with TraceReader(path) as opened:
        yield opened


def names(reader: TraceReader, text: str) -> set[str]:
    return {t.root_span_name for t in reader.recent_traces(1000, where=compile_trace_query(text))}


def quoted(text: str) -> str:
    return json.dumps(text)


@pytest.mark.parametrize(
    "needle", ["%", "_", "'", '"', "\x00", "\\", "*", "?", "[x]", "--", "$.", "; DROP"]
)
def test_contains_is_literal(reader: TraceReader, needle: str) -> None:
    expected = {name for name in HOSTILE_NAMES if needle.casefold() in name.casefold()}
    assert names(reader, f"name ~ {quoted(needle)}") == expected
    assert names(reader, quoted(needle)) == expected


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_equality_is_exact(reader: TraceReader, name: str) -> None:
    assert names(reader, f"name = {quoted(name)}") == {name}
    assert names(reader, f"{{ name = {quoted(name)} }}") == {name}
    messages = [
        g.message for g in reader.logs(scope=compile_log_query(f"message = {quoted(name)}"))
    ]
    assert messages == [name]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_attribute_keys_are_data(reader: TraceReader, key: str) -> None:
    expected = {
        name for n, name in enumerate(HOSTILE_NAMES) if HOSTILE_KEYS[n % len(HOSTILE_KEYS)] == key
    }
    assert names(reader, f'{{ attr[{quoted(key)}] ~ "" }}') == expected
    assert names(reader, f'attr[{quoted(key)}] ~ ""') == expected  # the root span's
    logs = reader.logs(scope=compile_log_query(f'attr[{quoted(key)}] ~ ""'), limit=1000)
    assert {g.message for g in logs} == expected


def test_values_never_reach_the_sql_text() -> None:
    for text in HOSTILE_NAMES[4:10]:
        for key in HOSTILE_KEYS[:5]:
            query = compile_trace_query(
                f"name = {quoted(text)} {{ attr[{quoted(key)}] = {quoted(text)} }}"
            )
            sql, params = query.sql()
            assert text not in sql and text in params
            assert key not in sql and json_path(key) in params


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{ attr.n > 1e999 }", set()),
        ("{ attr.n < 1e999 }", set(HOSTILE_NAMES)),
        (
            "{ attr.n >= 99999999999999999999999 }",
            {n for i, n in enumerate(HOSTILE_NAMES) if 10**i >= 1e23},
        ),
        ("{ attr.n = 1000000000000 }", {HOSTILE_NAMES[12]}),
        ("{ attr.n > -99999999999999999999999999999999 }", set(HOSTILE_NAMES)),
        ("duration > 99999999999999999999999h", set()),
        ("duration < 1e300h", set(HOSTILE_NAMES)),
        ("since 99999999999999999999h", set(HOSTILE_NAMES)),
    ],
)
def test_huge_numbers_compare(reader: TraceReader, text: str, expected: set[str]) -> None:
    assert names(reader, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "(" * 100 + "a" + ")" * 100,
        "not " * 500 + "a",
        "{" * 50 + "}" * 50,
        "(" * 5000,
        "(" * 20_000,
    ],
)
def test_deep_nesting_is_an_error_not_a_crash(text: str) -> None:
    with pytest.raises(QueryError):
        compile_trace_query(text)


def test_the_database_is_untouched(reader: TraceReader) -> None:
    for text in ["x' OR 1=1 --", "robert'); DROP TABLE spans; --"]:
        names(reader, f"name = {quoted(text)}")
    stats = reader.stats()
    assert (stats.traces, stats.spans, stats.logs) == (len(HOSTILE_NAMES),) * 3
    assert names(reader, "") == set(HOSTILE_NAMES)
