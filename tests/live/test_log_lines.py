"""`LogLines`: the log pane's lines in time order, capped, ties kept in commit order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lens_tui.live.log_lines import LogLines
from lens_tui.store.presence import Presence
from lens_tui.store.records import LogRow


def row(log_id: int, at: float) -> LogRow:
    return LogRow(log_id, None, None, "info", f"m{log_id}", at)


def test_lines_slot_in_by_time_and_the_earliest_go_past_the_cap() -> None:
    lines = LogLines(cap=3)
    assert [lines.insert(row(i, t)) for i, t in ((1, 10.0), (2, 30.0), (3, 20.0))] == [0, 1, 1]
    assert [log.id for log in lines] == [1, 3, 2]
    lines.insert(row(4, 5.0))
    assert lines.drop_overflow() == 1
    assert [log.id for log in lines] == [1, 3, 2]  # the 5.0 line was the earliest: it went
    assert lines.oldest_id() == 1 and lines.index_of(2) == 2 and lines.index_of(9) is None
    assert lines.drop_gone(Presence(oldest_log=25.0)) == [0, 1]  # pruned by age
    assert [log.id for log in lines] == [2]
    assert lines.drop_gone(Presence(missing_logs=frozenset({2, 7}))) == [0]  # deleted by id
    assert not lines


@given(st.lists(st.tuples(st.integers(0, 50), st.booleans()), max_size=60))
def test_inserting_one_by_one_is_sorting_once(stamps: list[tuple[int, bool]]) -> None:
    logs = [row(i, float(t)) for i, (t, _) in enumerate(stamps)]
    one_by_one = LogLines(cap=20)
    for log in logs:
        one_by_one.insert(log)
        one_by_one.drop_overflow()
    at_once = LogLines(cap=20)
    at_once.replace(logs)
    expected = sorted(logs, key=lambda log: (log.timestamp, log.id))
    # Dropped along the way or at the end: the cap keeps the latest 20 by time either way,
    # except a line earlier than all held when it came, which one-by-one drops at once.
    assert list(at_once) == expected[-20:]
    assert [log.id for log in one_by_one] == sorted(
        (log.id for log in one_by_one), key=lambda i: (logs[i].timestamp, i)
    )
    assert len(one_by_one) == min(len(logs), 20)
