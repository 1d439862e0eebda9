"""Parsing: the trees queries mean, the one-line errors that point at the problem, the limits
that keep a hostile query from exhausting the parser, the compilers or SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

import apsw
import pytest

from lens_tui.query import QueryError, compile_span_query, compile_trace_query, parse
from lens_tui.query.ast import EVERYTHING, And, Attribute, Compare, Not, Or, Selector
from lens_tui.query.parser import MAX_DEPTH, MAX_TERMS
from lens_tui.query.render import render
from lens_tui.schema import Trace, migrate

from .examples import log_examples, trace_examples
from .fixture import HOUR, MINUTE, NOW


def trace(text: str) -> object:
    return parse(text, "trace", now_ms=NOW)


def local_ms(*parts: int) -> float:
    return datetime(*parts).timestamp() * 1000.0


def test_the_trees_of_the_table() -> None:
    assert trace("checkout") == Compare("name", "~", "checkout")
    assert trace("status = error") == Compare("status", "=", "error")
    assert trace("duration > 250ms") == Compare("duration", ">", 250.0)
    assert trace('service = "shop-api"') == Compare("service", "=", "shop-api")
    assert trace('name ~ "orders"') == Compare("name", "~", "orders")
    assert trace('name !~ "orders"') == Compare("name", "!~", "orders")
    assert trace("attr.http.status_code >= 500") == Attribute("http.status_code", ">=", 500)
    assert trace('{ name = "db.query" and duration > 50ms }') == Selector(
        And((Compare("name", "=", "db.query"), Compare("duration", ">", 50.0)))
    )
    assert trace("{ attr.user.id = 42 }") == Selector(Attribute("user.id", "=", 42))
    assert trace('{ attr["odd key"] = "x" }') == Selector(Attribute("odd key", "=", "x"))
    assert trace('{ status = error and service = "payments" }') == Selector(
        And((Compare("status", "=", "error"), Compare("service", "=", "payments")))
    )
    assert trace("since 15m") == Compare("start", ">=", NOW - 15 * MINUTE)
    assert trace("since 2026-12-07T10:00") == Compare("start", ">=", local_ms(2026, 12, 7, 10, 0))
    assert trace("until 10:30") == Compare("start", "<", local_ms(2026, 12, 7, 10, 30))
    assert trace("a or b") == Or((Compare("name", "~", "a"), Compare("name", "~", "b")))
    assert trace('not { name = "cache.get" }') == Not(Selector(Compare("name", "=", "cache.get")))
    assert trace("a b") == Compare("name", "~", "a b")
    assert trace("( a or b ) c") == And((trace("a or b"), Compare("name", "~", "c")))  # type: ignore[arg-type]


def test_log_trees() -> None:
    def log(text: str) -> object:
        return parse(text, "log", now_ms=NOW)

    assert log("level >= warn") == Compare("level", ">=", "warn")
    assert log("level >= WARNING") == Compare("level", ">=", "warn")
    assert log('logger = "shop.db"') == Compare("logger", "=", "shop.db")
    assert log('message ~ "timeout"') == Compare("message", "~", "timeout")
    assert log('attr.request_id = "r-17"') == Attribute("request_id", "=", "r-17")
    assert log("trace = 01a25") == Compare("trace", "=", "01a25")
    assert log("since 5m") == Compare("start", ">=", NOW - 5 * MINUTE)
    assert log("connection reset") == Compare("message", "~", "connection reset")


def test_bare_words_side_by_side_are_one_phrase_as_typed() -> None:
    """Today's filter text keeps its meaning: the words as one substring, spacing kept."""
    assert trace("GET  /users/{id}") == Compare("name", "~", "GET  /users/{id}")
    assert trace("GET and /users") == And(
        (Compare("name", "~", "GET"), Compare("name", "~", "/users"))
    )
    assert trace("not a b") == And((Not(Compare("name", "~", "a")), Compare("name", "~", "b")))
    assert trace('"status = x"') == Compare("name", "~", "status = x")
    assert trace("status") == Compare("name", "~", "status")  # a field only before an operator
    assert trace("android notion") == Compare("name", "~", "android notion")


def test_spelling_variants() -> None:
    assert trace("A OR B") == Or((Compare("name", "~", "A"), Compare("name", "~", "B")))
    assert trace("a || b") == trace("a or b")
    assert trace("status = error && duration > 1s") == trace("status = error and duration > 1s")
    assert trace("NOT a") == Not(Compare("name", "~", "a"))
    assert trace("STATUS == ERROR") == Compare("status", "=", "error")
    assert trace("status=error duration>1s") == trace("status = error duration > 1s")
    assert trace("duration > 5 ms") == Compare("duration", ">", 5.0)
    assert trace("ATTR.x = 1") == Attribute("x", "=", 1)


def test_units() -> None:
    for text, ms in [
        ("1us", 0.001),
        ("1µs", 0.001),
        ("1μs", 0.001),
        ("2ms", 2.0),
        ("1.5s", 1500.0),
        ("2m", 120_000.0),
        ("1h", HOUR),
        ("0.5 h", HOUR / 2),
        ("1e3ms", 1000.0),
    ]:
        assert trace(f"duration > {text}") == Compare("duration", ">", ms), text


def test_values_of_attributes() -> None:
    assert trace("attr.a = 42") == Attribute("a", "=", 42)
    assert trace('attr.a = "42"') == Attribute("a", "=", "42")
    assert trace("attr.a = -4.5e1") == Attribute("a", "=", -45.0)
    assert trace("attr.a = true") == Attribute("a", "=", True)
    assert trace("attr.a = r-17") == Attribute("a", "=", "r-17")
    assert trace("attr.a ~ 42") == Attribute("a", "~", "42")
    assert trace("attr.a = 99999999999999999999") == Attribute("a", "=", 1e20)
    assert trace("attr.a = 9223372036854775807") == Attribute("a", "=", 9223372036854775807)
    assert trace('attr["a\\"b"] = 1') == Attribute('a"b', "=", 1)
    assert trace('attr[""] = 1') == Attribute("", "=", 1)
    assert trace('name = "\\u00fc\\n"') == Compare("name", "=", "ü\n")


def test_times() -> None:
    assert trace("since 2026-12-07") == Compare("start", ">=", local_ms(2026, 12, 7))
    assert trace("since 2026-12-07 10:00") == Compare("start", ">=", local_ms(2026, 12, 7, 10))
    utc = datetime(2026, 12, 7, 10, tzinfo=UTC).timestamp() * 1000.0
    assert trace("since 2026-12-07T10:00Z") == Compare("start", ">=", utc)
    assert trace("since 2026-12-07T11:00+01:00") == Compare("start", ">=", utc)
    assert trace("until 10:30:15.25") == Compare(
        "start", "<", local_ms(2026, 12, 7, 10, 30, 15) + 250
    )
    assert trace("until 2h") == Compare("start", "<", NOW - 2 * HOUR)
    assert trace("since 15 m") == Compare("start", ">=", NOW - 15 * MINUTE)


def test_span_queries() -> None:
    inner = And((Compare("duration", ">", 10.0), Compare("service", "=", "db")))
    assert compile_span_query('{ duration > 10ms and service = "db" }').tree == inner
    assert compile_span_query('duration > 10ms and service = "db"').tree == inner
    assert compile_span_query("select").tree == Compare("name", "~", "select")
    assert compile_span_query("kind = server").tree == Compare("kind", "=", "server")
    assert compile_span_query("").tree == EVERYTHING


def test_the_empty_query_is_everything() -> None:
    assert trace("") == EVERYTHING
    assert trace("   ") == EVERYTHING
    assert compile_trace_query("").sql_where(None, None) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("duration > 5 parsecs", "unknown unit 'parsecs' at column 14: use us, ms, s, m, h"),
        ("duration > 5parsecs", "unknown unit 'parsecs' at column 13: use us, ms, s, m, h"),
        ("duration > 5", "missing unit after 5 at column 13: use us, ms, s, m, h"),
        ("duration > 5 and x", "missing unit after 5 at column 13: use us, ms, s, m, h"),
        (
            "duration > fast",
            "expected a duration, not 'fast' at column 12: like 250ms; units us, ms, s, m, h",
        ),
        ("status = weird", "unknown status 'weird' at column 10: use ok, error, running"),
        (
            "colour = red",
            "unknown field 'colour' at column 1: trace queries use name, status, duration, "
            "service, trace, attr.KEY, since, until",
        ),
        (
            "http.status_code = 1",
            "unknown field 'http.status_code' at column 1: attributes are attr.KEY or attr[\"KEY\"]",
        ),
        ("name > x", "name cannot be compared with '>' at column 6: use =, !=, ~, !~"),
        ("status ~ err", "status cannot be compared with '~' at column 8: use =, !="),
        ("(a", "unclosed '(' at column 1"),
        ("x { a", "unclosed '{' at column 3"),
        ("a )", "unmatched ')' at column 3"),
        ('name = "abc', 'unterminated string at column 8: close it with "'),
        (
            "name =",
            'expected a value, not the end of the query at column 7: quote text with spaces or symbols: "…"',
        ),
        (
            "attr.x",
            "expected an operator, not the end of the query at column 7: =, !=, ~, !~, <, <=, >, >=",
        ),
        (
            "= 5",
            "unexpected '=' at column 1: a comparison needs a field before it (name, status, attr.KEY…); quote text: \"…\"",
        ),
        (
            "a or",
            "the query ends too early at column 5: expected a term: a word, a comparison, ( ) or { }",
        ),
        ("a and and b", "'and' needs a term on each side at column 7"),
        (
            "since yesterday",
            "expected a time, not 'yesterday' at column 7: like 15m, 10:30 or 2026-12-07T10:00",
        ),
        (
            "since 2026-13-01",
            "not a valid time: '2026-13-01' at column 7: try 10:30 or 2026-12-07T10:00",
        ),
        ("until 25:00", "not a valid time: '25:00' at column 7: try 10:30 or 2026-12-07T10:00"),
        ('name = "\\q"', 'bad escape in string at column 8: use \\" \\\\ \\n \\t or \\uXXXX'),
        ('name = "\\ud800"', "invalid \\u escape (a lone surrogate) at column 8"),
        ("attr.x > true", "true and false compare with = and != only, not '>' at column 8"),
        ('attr["x" = 1', "expected ']', not '=' at column 10"),
        (
            "{ { a } }",
            "unexpected '{' at column 3: selectors do not nest: a span query is one { } or the terms inside one",
        ),
        ('trace = ""', "empty trace id at column 9"),
    ],
)
def test_errors_are_one_line_pointing_at_the_problem(text: str, line: str) -> None:
    with pytest.raises(QueryError) as caught:
        compile_trace_query(text, now_ms=NOW)
    assert str(caught.value) == line
    assert "\n" not in str(caught.value)


def test_log_query_errors() -> None:
    with pytest.raises(
        QueryError, match=r"unknown field 'duration' at column 1: log queries use level"
    ):
        parse("duration > 5ms", "log")
    with pytest.raises(
        QueryError, match=r"^unexpected '\{' at column 1: log queries have no spans$"
    ):
        parse("{ name = x }", "log")
    with pytest.raises(
        QueryError, match=r"^unknown level 'loud' at column 9: use debug, info, warn, error$"
    ):
        parse("level = loud", "log")


def test_the_pointer_shows_the_column() -> None:
    with pytest.raises(QueryError) as caught:
        parse("duration > 5 parsecs", "trace")
    assert caught.value.column == 14
    assert caught.value.pointer("duration > 5 parsecs") == "duration > 5 parsecs\n             ^"


def test_columns_count_characters() -> None:
    with pytest.raises(QueryError) as caught:
        parse("über = 1", "trace")  # not a field name: a word, then a stray operator
    assert caught.value.column == 6
    with pytest.raises(QueryError) as caught:
        parse("ü ü status = bad", "trace")
    assert caught.value.column == 14


def test_text_that_is_not_utf8() -> None:
    """An argument with undecodable bytes arrives with surrogate escapes: refused, not bound."""
    with pytest.raises(QueryError, match="not UTF-8"):
        parse("abc\udcff", "trace")


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1),
        "(" * 4000 + "a" + ")" * 4000,
        "not " * 2000 + "a",
        "{" * 3000 + "}" * 3000,
        "(" * 9000,
    ],
    ids=["just-too-deep", "4000-parens", "2000-nots", "3000-braces", "unclosed-9000"],
)
def test_deep_nesting_is_a_clear_error(text: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text, "trace")
    assert "at column" in str(caught.value)


def test_too_long_and_too_many_terms() -> None:
    with pytest.raises(QueryError, match="query too long"):
        parse("a" * 10_001, "trace")
    with pytest.raises(QueryError, match=f"too many terms \\(at most {MAX_TERMS}\\)"):
        parse(" or ".join(["a"] * (MAX_TERMS + 1)), "trace")


def test_the_limits_themselves_run_in_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The deepest and the widest query accepted compile, render to SQL and run."""
    conn = apsw.Connection(str(tmp_path / "t.db"))
    migrate(conn)
    deepest = "(" * (MAX_DEPTH - 1) + "{ attr.k = 1 }" + ")" * (MAX_DEPTH - 1)
    nots = "not " * (MAX_DEPTH - 1) + "{ status = error }"
    widest = " or ".join(f'{{ attr.k{n} = "v" }}' for n in range(MAX_TERMS))
    for text in (deepest, nots, widest):
        query = compile_trace_query(text)
        sql, params = Trace.select(Trace.trace_id).where(*query.sql_where(_full())).sql()
        assert conn.execute(sql, params).fetchall() == []


def _full():  # type: ignore[no-untyped-def]
    from lens_tui.query.sql import FULL_LAYOUT

    return FULL_LAYOUT


@pytest.mark.parametrize("text", [text for text, _ in trace_examples(NOW)])
def test_render_gives_text_of_the_same_tree(text: str) -> None:
    tree = trace(text)
    assert trace(render(tree)) == tree  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [text for text, _ in log_examples(NOW)])
def test_render_of_log_queries(text: str) -> None:
    tree = parse(text, "log", now_ms=NOW)
    assert parse(render(tree), "log") == tree
