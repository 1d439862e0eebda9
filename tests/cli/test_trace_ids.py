"""The short trace id and the lookup of a typed part of an id, on ids the real writers make."""

from __future__ import annotations

import time
from pathlib import Path

from lens_tui.store.reader import TraceReader
from lens_tui.trace_ids import SHORT_ID_LENGTH, find_trace, short_id, short_id_length
from lens_tui.tracing.external import ExternalSpan
from lens_tui.tracing.ids import new_trace_int, trace_hex
from lens_tui.tracing.store import TraceStore


def test_ids_of_one_moment_share_their_head_and_differ_in_their_tail() -> None:
    ids = [trace_hex(new_trace_int()) for _ in range(5000)]
    assert len({i[:SHORT_ID_LENGTH] for i in ids}) <= 2  # the head is the time
    assert short_id_length(ids) == SHORT_ID_LENGTH
    assert len({short_id(i) for i in ids}) == len(ids)


def test_the_length_grows_only_as_far_as_a_shared_tail_needs() -> None:
    ids = [
        "01a25238000000aaaa" + "00000" + "0de34621f",
        "01a25239000000bbbb" + "00000" + "1de34621f",
        "01a25239" + "0" * 23 + "1",
    ]
    assert all(len(i) == 32 for i in ids)
    assert (
        short_id_length(ids) == 9
    )  # ...0de34621f and ...1de34621f differ in the 9th digit from the end
    assert {short_id(i, 9) for i in ids} == {"0de34621f", "1de34621f", "000000001"}
    assert short_id_length(ids[:1]) == SHORT_ID_LENGTH
    assert short_id_length([]) == SHORT_ID_LENGTH
    assert short_id_length(ids, minimum=12) == 12
    # One id the tail of another: the shorter shown whole, the longer one digit further.
    assert short_id_length(["34621f", "de34621f"], minimum=4) == 7
    assert short_id("abc") == "abc"


def _foreign(db: Path, *trace_ids: str) -> None:
    """Traces with the ids another program chose, through the real writer."""
    store = TraceStore(db, flush_interval=0.01, retention_days=None)
    now = time.time() * 1000
    for n, trace_id in enumerate(trace_ids):
        store.record_span(
            ExternalSpan(
                span_id=f"{n + 1:016x}",
                trace_id=trace_id,
                name=f"root {trace_id}",
                started_at=now + n,
                duration_ms=1.0,
                service="foreign",
            )
        )
    assert store.flush(10)
    store.shutdown()


def test_a_whole_id_wins_over_longer_ids_it_starts(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    _foreign(db, "abc", "abcdef", "xxabc", "Mixed-Case-01")
    with TraceReader(db) as reader:
        assert find_trace(reader, "abc").trace_id == "abc"
        assert find_trace(reader, " abcdef ").trace_id == "abcdef"
        both = find_trace(reader, "ab")
        assert both.trace_id is None and both.total == 2 and both.more == 0
        assert [t.trace_id for t in both.candidates] == ["abc", "abcdef"]
        assert [t.root_span_name for t in both.candidates] == ["root abc", "root abcdef"]
        tails = find_trace(reader, "…bc")
        assert tails.total == 2 and {t.trace_id for t in tails.candidates} == {"abc", "xxabc"}
        assert find_trace(reader, "def").trace_id == "abcdef"  # a tail
        assert find_trace(reader, "def…").total == 0  # a prefix only
        assert find_trace(reader, "Mixed-Case").trace_id == "Mixed-Case-01"  # stored case kept
        assert find_trace(reader, "").total == 0


def test_many_matches_list_a_few_and_count_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    _foreign(db, *(f"{n:032x}" for n in range(1, 31)))
    with TraceReader(db) as reader:
        found = find_trace(reader, "0000", shown=4)
        assert found.total == 30 and len(found.candidates) == 4 and found.more == 26
        assert not found.at_least
        bounded = find_trace(reader, "0000", shown=4, limit=20)
        assert bounded.total == 20 and bounded.at_least and bounded.more == 16
