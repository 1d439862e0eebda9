"""Every example of the language against a database of known contents: through the compiled
SQL as the reader runs it, and through the predicate on the same rows read back live."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lens_tui.query import compile_log_query, compile_trace_query
from lens_tui.store.reader import TraceReader

from . import fixture
from .examples import log_examples, trace_examples


def _query_text(value: object) -> str | None:
    """Test ids: the query (an expected set prints in no fixed order, which xdist refuses)."""
    return value if isinstance(value, str) else None


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TraceReader]:
    path = fixture.write(tmp_path_factory.mktemp("examples") / "traces.db")
    with TraceReader(path) as opened:
        yield opened


@pytest.mark.parametrize(("text", "expected"), trace_examples(fixture.NOW), ids=_query_text)
def test_trace_example_through_sql(reader: TraceReader, text: str, expected: set[str]) -> None:
    query = compile_trace_query(text, now_ms=fixture.NOW)
    found = reader.recent_traces(1000, where=query)
    assert {t.trace_id for t in found} == expected
    assert [t.started_at for t in found] == sorted((t.started_at for t in found), reverse=True)


@pytest.mark.parametrize(("text", "expected"), trace_examples(fixture.NOW), ids=_query_text)
def test_trace_example_through_the_live_predicate(
    reader: TraceReader, text: str, expected: set[str]
) -> None:
    query = compile_trace_query(text, now_ms=fixture.NOW)
    kept = set()
    for summary in reader.recent_traces(1000):
        detail = reader.trace(summary.trace_id)
        if query.matches(summary, spans=detail.spans):
            kept.add(summary.trace_id)
    assert kept == expected


@pytest.mark.parametrize(("text", "expected"), log_examples(fixture.NOW), ids=_query_text)
def test_log_example_through_sql(reader: TraceReader, text: str, expected: list[str]) -> None:
    query = compile_log_query(text, now_ms=fixture.NOW)
    assert [log.message for log in reader.logs(scope=query, limit=1000)] == expected


@pytest.mark.parametrize(("text", "expected"), log_examples(fixture.NOW), ids=_query_text)
def test_log_example_through_the_live_predicate(
    reader: TraceReader, text: str, expected: list[str]
) -> None:
    query = compile_log_query(text, now_ms=fixture.NOW)
    assert [log.message for log in reader.logs(limit=1000) if query.matches(log)] == expected


def test_every_example_selects_something_and_not_everything() -> None:
    """The fixture tells the examples apart: none is trivially all or nothing (but the two that
    stand for the table's placeholders, `( … )` and `a b`)."""
    everything = {t.trace_id for t in fixture.TRACES}
    for text, expected in trace_examples(fixture.NOW):
        if text not in ("( … )", "a b"):
            assert expected and expected != everything, text
    for text, expected in log_examples(fixture.NOW):
        assert expected and len(expected) < len(fixture.LOGS), text


def test_a_query_about_spans_needs_them_live(reader: TraceReader) -> None:
    from lens_tui.query.compiled import SpansNeeded

    summary = reader.recent_traces(1)[0]
    assert not compile_trace_query("status = error").needs_spans
    assert compile_trace_query("status = error").matches(summary) in (True, False)
    for text in ('{ name = "x" }', 'service = "a"', "attr.k = 1"):
        query = compile_trace_query(text)
        assert query.needs_spans
        with pytest.raises(SpansNeeded):
            query.matches(summary)
