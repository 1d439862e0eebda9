"""TraceReader and check_path on real SQLite files, with a second connection writing."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import apsw
import pytest

from lens_tui import schema
from lens_tui.store import reader as reader_module
from lens_tui.store.queries import logs as log_queries
from lens_tui.store.reader import OpenError, TraceMark, TraceReader, check_path

from .conftest import TraceDb, make_original_layout, now_ms, sid, tid


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- check_path


def _expect_error(path: Path, fragment: str) -> str:
    with pytest.raises(OpenError) as info:
        check_path(path)
    message = str(info.value)
    assert "\n" not in message
    assert fragment in message
    return message


def test_check_path_missing_directory(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope" / "traces.db", "does not exist")


def test_check_path_missing_file_is_waited_for(tmp_path: Path) -> None:
    assert check_path(tmp_path / "traces.db") == "missing"
    assert not (tmp_path / "traces.db").exists()


def test_check_path_directory(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    _expect_error(tmp_path / "dir.db", "is a directory")


def test_check_path_fifo_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.db"
    os.mkfifo(fifo)
    outcome: list[BaseException | str] = []

    def attempt() -> None:
        try:
            outcome.append(check_path(fifo))
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome.append(exc)

    # In a thread: opening a FIFO for reading would block forever, failing here instead.
    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "check_path blocked on a FIFO"
    (error,) = outcome
    assert isinstance(error, OpenError) and "not a regular file" in str(error)


def test_check_path_zero_length(tmp_path: Path) -> None:
    (tmp_path / "empty.db").write_bytes(b"")
    _expect_error(tmp_path / "empty.db", "is not a SQLite database")


def test_check_path_random_bytes(tmp_path: Path) -> None:
    (tmp_path / "random.db").write_bytes(os.urandom(8192))
    _expect_error(tmp_path / "random.db", "is not a SQLite database")


def test_check_path_text_file(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("hello\nworld\n" * 100)
    _expect_error(tmp_path / "notes.db", "is not a SQLite database")


def test_check_path_sqlite_of_another_app(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = apsw.Connection(str(path))
    conn.execute("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    _expect_error(path, "no traces/spans/logs tables")


def test_check_path_same_table_names_other_columns(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = apsw.Connection(str(path))
    conn.execute("CREATE TABLE traces(a); CREATE TABLE spans(b); CREATE TABLE logs(c);")
    conn.close()
    _expect_error(path, "not a trace database")


def test_check_path_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    conn = apsw.Connection(str(path))
    schema.migrate(conn)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    _expect_error(path, "newer")


def test_check_path_truncated_database(tmp_path: Path) -> None:
    path = tmp_path / "cut.db"
    conn = apsw.Connection(str(path))
    schema.migrate(conn)
    conn.execute("BEGIN")
    for _n in range(3000):
        conn.execute(
            "INSERT INTO logs(level, message, timestamp) VALUES ('info', ?, 0)", ("x" * 200,)
        )
    conn.execute("COMMIT")
    conn.close()
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)
    message = _expect_error(path, str(path))
    assert "corrupt" in message or "malformed" in message


def test_check_path_ok_and_never_writes(db: TraceDb) -> None:
    db.trace(1)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = sha256(db.path)
    assert check_path(db.path) == "ok"
    assert sha256(db.path) == before


def test_open_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(OpenError, match="no such file"):
        TraceReader(tmp_path / "traces.db").open()


def test_path_with_uri_metacharacters(tmp_path: Path) -> None:
    directory = tmp_path / "odd dir?#%"
    directory.mkdir()
    handle = TraceDb(directory / "a?b#c%20.db")
    handle.trace(1)
    with TraceReader(handle.path) as reader:
        assert [t.trace_id for t in reader.recent_traces()] == [tid(1)]
    handle.close()


# --------------------------------------------------------------------------- traces


def test_recent_traces_newest_first_with_keyset_paging(db: TraceDb) -> None:
    for n in range(1, 11):
        db.trace(n)
    with TraceReader(db.path) as reader:
        first = reader.recent_traces(4)
        assert [t.trace_id for t in first] == [tid(n) for n in (10, 9, 8, 7)]
        second = reader.recent_traces(4, before=first[-1].started_at)
        assert [t.trace_id for t in second] == [tid(n) for n in (6, 5, 4, 3)]
        last = reader.recent_traces(4, before=second[-1].started_at)
        assert [t.trace_id for t in last] == [tid(2), tid(1)]


def test_recent_traces_summary_fields(db: TraceDb) -> None:
    db.trace(1, name="POST /x", spans=3, errors=1, status="error", started_at=5.5)
    db.trace(2, duration_ms=None, status="running")
    with TraceReader(db.path) as reader:
        by_id = {t.trace_id: t for t in reader.recent_traces()}
    one = by_id[tid(1)]
    assert (one.root_span_name, one.source, one.service) == ("POST /x", "test", "svc")
    assert (one.started_at, one.ended_at, one.duration_ms) == (5.5, 15.5, 10.0)
    assert (one.span_count, one.error_count, one.status) == (3, 1, "error")
    assert one.updated_at is not None
    assert by_id[tid(2)].status == "running" and by_id[tid(2)].duration_ms is None


def test_recent_traces_name_filter_escapes_like(db: TraceDb) -> None:
    db.trace(1, name="GET /users/100%")
    db.trace(2, name="GET /users/1000")
    db.trace(3, name="load_user")
    db.trace(4, name="loadXuser")
    db.trace(5, name="get /USERS/7")
    with TraceReader(db.path) as reader:
        assert [t.trace_id for t in reader.recent_traces(name_filter="100%")] == [tid(1)]
        assert [t.trace_id for t in reader.recent_traces(name_filter="load_")] == [tid(3)]
        assert {t.trace_id for t in reader.recent_traces(name_filter="/users/")} == {
            tid(1),
            tid(2),
            tid(5),
        }


_FOLD_NAMES = (
    "GET /Über",
    "get /über",
    "GET /UBER",
    "50%_off",
    "50% off",
    "a_b",
    "axb",
    "x\\y",
    "xy",
    "Straße",
    "STRASSE",
    "\u212a-kelvin",
    "İstanbul",
    "nul\x00byte",
)


@pytest.mark.parametrize(
    ("needle", "expected"),
    [
        ("ÜBER", {"GET /Über", "get /über"}),
        ("über", {"GET /Über", "get /über"}),
        ("uber", {"GET /UBER"}),
        ("%", {"50%_off", "50% off"}),
        ("%_", {"50%_off"}),
        ("_", {"50%_off", "a_b"}),
        ("a_b", {"a_b"}),
        ("\\", {"x\\y"}),
        ("X\\Y", {"x\\y"}),
        ("ss", {"Straße", "STRASSE"}),
        ("ß", {"Straße", "STRASSE"}),
        ("k", {"\u212a-kelvin"}),  # KELVIN SIGN folds to an ASCII k: LIKE alone misses it
        ("i̇st", {"İstanbul"}),
        ("\x00b", {"nul\x00byte"}),
        ("byte", {"nul\x00byte"}),
    ],
)
def test_recent_traces_name_filter_folds_unicode_case_literally(
    db: TraceDb, needle: str, expected: set[str]
) -> None:
    for n, name in enumerate(_FOLD_NAMES, 1):
        db.trace(n, name=name)
    with TraceReader(db.path) as reader:
        found = {t.root_span_name for t in reader.recent_traces(name_filter=needle)}
        assert found == expected
        assert found == {n for n in _FOLD_NAMES if reader_module.name_matches(n, needle)}
        # A page of older traces applies the same rule.
        older = reader.recent_traces(name_filter=needle, before=1_000_000.0 + 8 * 100.0)
        assert {t.root_span_name for t in older} == {
            n for i, n in enumerate(_FOLD_NAMES, 1) if n in expected and i < 8
        }


def test_name_filter_survives_a_replaced_file(db: TraceDb) -> None:
    db.trace(1, name="Über old")
    with TraceReader(db.path) as reader:

        def names() -> list[str]:
            return [t.root_span_name for t in reader.recent_traces(name_filter="ÜBER")]

        assert names() == ["Über old"]
        db.close()
        fresh = _replace_database(db.path)
        fresh.trace(2, name="über new")
        assert reader.changed() is True  # a new connection: the SQL function comes with it
        assert names() == ["über new"]
        fresh.close()
    db.conn = apsw.Connection(":memory:")  # the fixture closes it


@pytest.mark.parametrize(("needle", "found"), [("GET", 50), ("Über", 50), ("\ufffd", 0)])
def test_name_filter_keeps_the_started_at_index(db: TraceDb, needle: str, found: int) -> None:
    db.conn.execute("BEGIN")
    for n in range(200):
        db.trace(n, name=("GET /a", "Über /b")[n % 2])
    db.conn.execute("COMMIT")
    with TraceReader(db.path) as reader:
        statements = _captured_statements(reader)
        assert len(reader.recent_traces(50, name_filter=needle)) == found
        assert reader._conn is not None
        ((sql, params),) = [s for s in statements if "root_span_name" in s[0].split("FROM")[1]]
        # The reader's own connection: a plain one has no lens_name_contains.
        plan = [r[3] for r in reader._conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
        assert plan == ["SCAN t1 USING INDEX idx_traces_started_at"], plan


def test_recent_traces_errors_only(db: TraceDb) -> None:
    db.trace(1)
    db.trace(2, status="error", errors=1)
    db.trace(3, status="ok", errors=2)  # a child failed, the root recovered
    with TraceReader(db.path) as reader:
        found = reader.recent_traces(errors_only=True)
        assert [t.trace_id for t in found] == [tid(3), tid(2)]
        assert reader.recent_traces(errors_only=True, name_filter="nothing") == []


def test_traces_since_sees_new_and_updated_rows_from_another_connection(db: TraceDb) -> None:
    db.trace(1)
    db.trace(2, duration_ms=None, status="running")
    with TraceReader(db.path) as reader:
        initial, mark = reader.traces_since(TraceMark())
        assert {t.trace_id for t in initial} == {tid(1), tid(2)}
        assert reader.traces_since(mark) == ([], mark)
        assert reader.current_trace_mark() == mark

        db.trace(3)
        db.conn.execute(
            "UPDATE traces SET status='ok', duration_ms=20, span_count=5, updated_at=? "
            "WHERE trace_id=?",
            (now_ms(), tid(2)),
        )
        assert reader.changed()
        delta, mark2 = reader.traces_since(mark)
        by_id = {t.trace_id: t for t in delta}
        assert set(by_id) == {tid(2), tid(3)}
        assert by_id[tid(2)].status == "ok" and by_id[tid(2)].span_count == 5
        assert [t.started_at for t in delta] == sorted((t.started_at for t in delta), reverse=True)
        assert reader.traces_since(mark2) == ([], mark2)


def test_traces_since_pages_through_one_big_commit(db: TraceDb) -> None:
    total = reader_module.TRACES_SINCE_LIMIT + 700
    db.conn.execute("BEGIN")
    for n in range(total):
        db.trace(n, updated_at=1.0)
    db.conn.execute("COMMIT")
    with TraceReader(db.path) as reader:
        mark = reader.current_trace_mark()
        # One later commit stamps every row with the same updated_at: the keyset must not lose
        # the rows past the LIMIT that share it.
        db.conn.execute("UPDATE traces SET status='error', updated_at=?", (now_ms(),))
        seen: set[str] = set()
        for _ in range(5):
            batch, mark = reader.traces_since(mark)
            assert len(batch) <= reader_module.TRACES_SINCE_LIMIT
            assert all(t.status == "error" for t in batch)
            seen.update(t.trace_id for t in batch)
            if not batch:
                break
        assert len(seen) == total


def test_find_trace_ids_by_prefix(db: TraceDb) -> None:
    for n in (0x10, 0x11, 0x12, 0x20):
        db.trace(n)
    with TraceReader(db.path) as reader:
        prefix = tid(0x10)[:-1]
        assert reader.find_trace_ids(prefix) == [tid(0x10), tid(0x11), tid(0x12)]
        assert reader.find_trace_ids(prefix.upper(), limit=2) == [tid(0x10), tid(0x11)]
        assert reader.find_trace_ids("ff") == []
        assert reader.find_trace_ids("  ") == []


def test_find_trace_ids_by_tail(db: TraceDb) -> None:
    for n in (0x1A, 0x2A, 0x2B):
        db.trace(n)
    with TraceReader(db.path) as reader:
        assert reader.find_trace_ids("a", tail=True) == [tid(0x1A), tid(0x2A)]
        assert reader.find_trace_ids("2A", limit=5, tail=True) == [tid(0x2A)]
        assert reader.find_trace_ids("a", limit=1, tail=True) == [tid(0x1A)]
        assert (
            reader.find_trace_ids("ff", tail=True) == []
            and reader.find_trace_ids(" ", tail=True) == []
        )


def test_summaries_by_id_in_both_layouts(db: TraceDb, tmp_path: Path) -> None:
    db.trace(2, started_at=20.0)
    db.trace(1, started_at=10.0, errors=1, status="error")
    with TraceReader(db.path) as reader:
        found = reader.summaries([tid(2), tid(9), tid(1), tid(2)])
        assert [(t.trace_id, t.status) for t in found] == [(tid(1), "error"), (tid(2), "ok")]
        assert reader.summaries([]) == []
    original = tmp_path / "lens.db"
    make_original_layout(original, wal=False)
    with TraceReader(original) as reader:
        [second] = reader.summaries([tid(2)])
        # Counts the layout does not store are computed from the spans.
        assert (second.span_count, second.error_count, second.status) == (2, 1, "error")


# --------------------------------------------------------------------------- spans


def test_trace_returns_spans_by_start_time_with_details(db: TraceDb) -> None:
    db.trace(1, spans=3, errors=1)
    db.span(1, 2, name="late", started_at=30.0, parent=0)
    db.span(
        1,
        0,
        name="root",
        started_at=10.0,
        duration_ms=50.0,
        status="ok",
        attributes=json.dumps({"http.method": "GET", "n": 3, "nested": {"a": [1, 2]}}),
    )
    db.span(
        1,
        1,
        name="failing",
        started_at=20.0,
        parent=0,
        status="error",
        error_message="boom",
        exception_type="ValueError",
        traceback="Traceback...",
        attributes="{not json",
    )
    db.span(
        1,
        3,
        name="running",
        started_at=25.0,
        duration_ms=None,
        parent=0,
        status="running",
        attributes="[1, 2]",
    )
    db.span(2, 0, name="other trace")
    with TraceReader(db.path) as reader:
        detail = reader.trace(tid(1))
    assert detail.summary is not None and detail.summary.span_count == 3
    assert [s.name for s in detail.spans] == ["root", "failing", "running", "late"]
    root, failing, running, _late = detail.spans
    assert root.parent_span_id is None and root.duration_ms == 50.0
    assert root.attributes == (
        ("http.method", '"GET"'),
        ("n", "3"),
        ("nested", '{"a": [1, 2]}'),
    )
    assert (failing.status, failing.error_message, failing.exception_type) == (
        "error",
        "boom",
        "ValueError",
    )
    assert failing.parent_span_id == sid(1, 0)
    assert failing.attributes == (("(unparsed)", "{not json"),)
    assert running.attributes == (("(unparsed)", "[1, 2]"),)
    assert running.status == "running" and running.duration_ms is None


def test_trace_unknown_id(db: TraceDb) -> None:
    with TraceReader(db.path) as reader:
        assert reader.trace(tid(99)) == reader_module.TraceDetail(None, ())


def test_span_status_derived_when_not_stored(db: TraceDb) -> None:
    db.trace(1)
    db.span(1, 0, started_at=1.0, error_message="bad")
    db.span(1, 1, started_at=2.0, duration_ms=None)
    db.span(1, 2, started_at=3.0)
    with TraceReader(db.path) as reader:
        assert [s.status for s in reader.trace(tid(1)).spans] == ["error", "running", "ok"]


def test_spans_since_returns_only_rewritten_spans(db: TraceDb) -> None:
    db.trace(1)
    db.span(1, 0, started_at=1.0, updated_at=100.0)
    db.span(1, 1, started_at=2.0, duration_ms=None, status="running", updated_at=100.0)
    with TraceReader(db.path) as reader:
        assert len(reader.spans_since(tid(1), None)) == 2
        assert reader.spans_since(tid(1), 100.0) == []
        db.conn.execute(
            "UPDATE spans SET status='ok', duration_ms=7, updated_at=200 WHERE span_id=?",
            (sid(1, 1),),
        )
        (updated,) = reader.spans_since(tid(1), 100.0)
        assert (updated.span_id, updated.status, updated.duration_ms) == (sid(1, 1), "ok", 7.0)


# --------------------------------------------------------------------------- logs


def test_logs_newest_limit_ascending_then_after_id(db: TraceDb) -> None:
    ids = [db.log(f"m{n}") for n in range(10)]
    with TraceReader(db.path) as reader:
        newest = reader.logs(limit=3)
        assert [row.id for row in newest] == ids[-3:]
        assert [row.message for row in newest] == ["m7", "m8", "m9"]
        assert [row.id for row in reader.logs(after_id=ids[2], limit=3)] == ids[3:6]
        assert reader.logs(after_id=ids[-1]) == []
        assert reader.max_log_id() == ids[-1]


def test_logs_min_level_normalises_stored_spellings(db: TraceDb) -> None:
    stored = ["debug", "info", "warn", "WARNING", "error", "CRITICAL", "Fatal", "chatty", "INFO"]
    for n, level in enumerate(stored):
        db.log(f"m{n}", level=level)
    with TraceReader(db.path) as reader:
        everything = reader.logs()
        assert [row.level for row in everything] == [
            "debug",
            "info",
            "warn",
            "warn",
            "error",
            "error",
            "error",
            "info",
            "info",
        ]
        assert [row.message for row in reader.logs(min_level="warn")] == [
            "m2",
            "m3",
            "m4",
            "m5",
            "m6",
        ]
        assert [row.message for row in reader.logs(min_level="error", limit=2)] == ["m5", "m6"]
        assert [row.message for row in reader.logs(min_level="ERROR", after_id=1)] == [
            "m4",
            "m5",
            "m6",
        ]
        assert reader.level_counts() == {"debug": 1, "info": 3, "warn": 2, "error": 3}


def test_logs_text_filter_escapes_like_metacharacters(db: TraceDb) -> None:
    db.log("progress 100% done")
    db.log("progress 1000 done")
    db.log("user_id=7")
    db.log("userXid=8")
    db.log("Path C:\\temp")
    with TraceReader(db.path) as reader:
        assert [r.message for r in reader.logs(text="100%")] == ["progress 100% done"]
        assert [r.message for r in reader.logs(text="user_id")] == ["user_id=7"]
        assert [r.message for r in reader.logs(text="c:\\TEMP")] == ["Path C:\\temp"]
        assert [r.message for r in reader.logs(text="PROGRESS", min_level="warn")] == []


def test_logs_by_trace_and_span_ids(db: TraceDb) -> None:
    db.trace(1)
    db.trace(2)
    db.span(2, 0)
    a, b, c = sid(1, 0), sid(1, 1), sid(1, 2)
    for n in range(30):
        db.log(f"t1-{n}", trace=1, span=(a, b, c)[n % 3], level="error" if n % 5 == 0 else "info")
        db.log(f"t2-{n}", trace=2, span=sid(2, 0))
    with TraceReader(db.path) as reader:
        of_trace = reader.logs(trace_id=tid(1))
        assert len(of_trace) == 30 and all(r.trace_id == tid(1) for r in of_trace)
        errors = reader.logs(trace_id=tid(1), min_level="error")
        assert [r.message for r in errors] == [f"t1-{n}" for n in range(0, 30, 5)]
        of_spans = reader.logs(trace_id=tid(1), span_ids=frozenset({b, c}), limit=4)
        assert [r.message for r in of_spans] == ["t1-25", "t1-26", "t1-28", "t1-29"]
        first = reader.logs(trace_id=tid(1), span_ids=frozenset({a}), after_id=1, limit=2)
        assert [r.span_id for r in first] == [a, a] and first[0].message == "t1-3"
        assert reader.logs(trace_id=tid(1), span_ids=frozenset()) == []
        # Without trace_id, the span ids lead to their trace first.
        assert reader.logs(span_ids=frozenset({sid(2, 0)}), limit=5)[-1].message == "t2-29"
        assert reader.level_counts(trace_id=tid(1)) == {
            "debug": 0,
            "info": 24,
            "warn": 0,
            "error": 6,
        }


def test_logs_span_ids_page_past_the_first_page(db: TraceDb) -> None:
    db.conn.execute("BEGIN")
    for n in range(2500):
        db.log(f"n{n}", trace=1, span=sid(1, 1 if n < 3 else 2))
    db.conn.execute("COMMIT")
    with TraceReader(db.path) as reader:
        rows = reader.logs(trace_id=tid(1), span_ids=frozenset({sid(1, 1)}), limit=10)
        assert [r.message for r in rows] == ["n0", "n1", "n2"]


def test_level_counts_are_incremental_and_follow_new_rows(
    db: TraceDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.log("a", level="debug")
    db.log("b", level="error")
    with TraceReader(db.path) as reader:
        assert reader.level_counts() == {"debug": 1, "info": 0, "warn": 0, "error": 1}
        db.log("c", level="warning")
        db.log("d", level="error")
        assert reader.level_counts() == {"debug": 1, "info": 0, "warn": 1, "error": 2}
        db.conn.execute("DELETE FROM logs WHERE message IN ('a', 'b')")  # a retention prune
        assert reader.level_counts() == {"debug": 0, "info": 0, "warn": 1, "error": 1}
        db.log("e", level="info")
        db.conn.execute("DELETE FROM logs WHERE message = 'd'")  # neither oldest nor newest
        # The incremental count cannot see a deletion in the middle...
        assert reader.level_counts() == {"debug": 0, "info": 1, "warn": 1, "error": 1}
        monkeypatch.setattr(log_queries, "LEVEL_RECOUNT_S", 0.0)
        # ...the periodic full count does.
        assert reader.level_counts() == {"debug": 0, "info": 1, "warn": 1, "error": 0}


def test_level_counts_survive_a_level_that_is_not_utf8(db: TraceDb) -> None:
    """Another program's invalid UTF-8 level counts as the rows show it (info), instead of
    failing the whole count."""
    db.log("a", level="error")
    db.conn.execute(
        "INSERT INTO logs (level, message, timestamp) VALUES (CAST(X'FFFE' AS TEXT), 'b', 1)"
    )
    with TraceReader(db.path) as reader:
        expected = {"debug": 0, "info": 1, "warn": 0, "error": 1}
        assert reader.level_counts() == expected
        db.log("c", level="error")
        assert reader.level_counts() == {**expected, "error": 2}  # the incremental count
        assert [row.level for row in reader.logs()] == ["error", "info", "error"]


def test_level_counts_upto_a_log_id_for_all_a_trace_or_some_spans(db: TraceDb) -> None:
    """Exact counts through a log id: all logs, one trace's, or some spans' (uncapped)."""
    db.trace(1)
    db.trace(2)
    a, b = db.span(1, 0), db.span(1, 1, parent=0)
    db.log("x", level="debug", trace=1, span=a)
    db.log("y", level="warning", trace=1, span=b)
    db.log("z", level="error", trace=2, span=sid(2, 0))
    upto = db.log("w", level="info", trace=1)  # tied to the trace, to no span
    db.log("later", level="error", trace=1, span=a)  # past `upto`: not counted
    zero = dict.fromkeys(("debug", "info", "warn", "error"), 0)
    with TraceReader(db.path) as reader:
        assert reader.level_counts_upto(upto) == {
            **zero,
            "debug": 1,
            "info": 1,
            "warn": 1,
            "error": 1,
        }
        assert reader.level_counts_upto(upto, trace_id=tid(1)) == {
            **zero,
            "debug": 1,
            "info": 1,
            "warn": 1,
        }
        assert reader.level_counts_upto(upto, trace_id=tid(1), span_ids=frozenset({a})) == {
            **zero,
            "debug": 1,
        }
        assert reader.level_counts_upto(upto + 1, span_ids=frozenset({a, b})) == {
            **zero,
            "debug": 1,
            "warn": 1,
            "error": 1,
        }
        assert reader.level_counts_upto(upto, span_ids=frozenset()) == zero


def test_find_spans_by_name_ignores_case_and_takes_wildcards_literally(db: TraceDb) -> None:
    db.trace(1)
    db.trace(2)
    ids = {
        name: db.span(1, n, name=name)
        for n, name in enumerate(["GET /Über", "cache 50%_off", "cache 50 off", "db.query"])
    }
    db.span(2, 0, name="über in another trace")
    with TraceReader(db.path) as reader:
        assert set(reader.find_spans(tid(1), "ÜBER")) == {ids["GET /Über"]}
        assert set(reader.find_spans(tid(1), "%_")) == {ids["cache 50%_off"]}
        assert set(reader.find_spans(tid(1), "CACHE")) == {
            ids["cache 50%_off"],
            ids["cache 50 off"],
        }
        assert reader.find_spans(tid(1), "absent") == []


# --------------------------------------------------------------------------- bodies, stats


def test_body_gzip_roundtrip_raw_and_invalid_utf8(db: TraceDb) -> None:
    text = "{" + '"k": "välue ✓", ' * 500 + "}"
    packed = db.body(text.encode(), compress=True)
    small = db.body(b"tiny", compress=False)
    broken = db.body(b"ok \xff\xfe end", compress=False)
    with TraceReader(db.path) as reader:
        assert reader.body(packed) == text
        assert reader.body(small) == "tiny"
        assert reader.body(broken) == "ok \ufffd\ufffd end"
        assert reader.body("0" * 64) is None
        db.insert(
            schema.Body,
            hash="bad",
            body=b"not gzip",
            is_compressed=1,
            original_size=8,
            stored_size=8,
            created_at=0.0,
        )
        assert "could not be decompressed" in (reader.body("bad") or "")


def test_stats_totals_and_writers(db: TraceDb) -> None:
    for n in range(5):
        db.trace(n, updated_at=1_000.0)
        db.span(n, 0)
        db.log("x", timestamp=2_000.0)
    db.insert(
        schema.Writer,
        writer_id="w1",
        pid=42,
        hostname="h",
        service="svc",
        started_at=0.0,
        last_write_at=5_000.0,
        spans_written=5,
        logs_written=5,
        dropped=7,
        errors=1,
    )
    with TraceReader(db.path) as reader:
        stats = reader.stats()
    assert (stats.traces, stats.spans, stats.logs) == (5, 5, 5)
    assert stats.dropped == 7 and stats.last_write_at == 5_000.0
    (writer,) = stats.writers
    assert (writer.writer_id, writer.pid, writer.dropped, writer.errors) == ("w1", 42, 7, 1)


def test_columns_of_our_schema(db: TraceDb) -> None:
    with TraceReader(db.path) as reader:
        columns = reader.columns
    assert columns["spans"] == frozenset(schema.column_names(schema.Span))
    assert set(columns) == {"traces", "spans", "logs", "bodies", "writers"}


# --------------------------------------------------------------------------- original layout


@pytest.mark.parametrize("wal", [False, True], ids=["rollback", "wal"])
def test_original_layout_is_read_and_never_modified(tmp_path: Path, wal: bool) -> None:
    path = tmp_path / "lens.db"
    make_original_layout(path, wal=wal)
    files_before = sorted(os.listdir(tmp_path))
    digest = sha256(path)
    assert check_path(path) == "ok"
    with TraceReader(path) as reader:
        assert reader.columns["traces"] == frozenset(schema.ORIGINAL_COLUMNS["traces"])
        traces = reader.recent_traces()
        assert [t.trace_id for t in traces] == [tid(4), tid(3), tid(2), tid(1)]
        by_id = {t.trace_id: t for t in traces}
        two = by_id[tid(2)]
        assert isinstance(two.started_at, float) and two.started_at == 2000.0
        assert (two.service, two.updated_at) == (None, None)
        assert (two.span_count, two.error_count, two.status) == (2, 1, "error")
        assert by_id[tid(4)].status == "running"
        assert by_id[tid(1)].status == "ok"
        assert [t.trace_id for t in reader.recent_traces(errors_only=True)] == [tid(2)]
        detail = reader.trace(tid(2))
        assert detail.summary is not None and detail.summary.error_count == 1
        assert [s.status for s in detail.spans] == ["ok", "error"]
        assert detail.spans[1].attributes == () and detail.spans[1].kind is None
        assert detail.spans[0].input_size == 10
        assert [s.status for s in reader.trace(tid(4)).spans] == ["running"]
        assert reader.spans_since(tid(2), 1.0) == list(detail.spans)
        logs = reader.logs()
        assert [r.message for r in logs] == ["log 1", "log 2", "log 3"]
        assert logs[0].logger is None and logs[0].timestamp == 1006.0
        assert [r.message for r in reader.logs(min_level="warn")] == ["log 2"]
        assert reader.level_counts() == {"debug": 0, "info": 2, "warn": 1, "error": 0}
        stats = reader.stats()
        assert (stats.traces, stats.spans, stats.logs, stats.writers) == (4, 7, 3, ())
        assert stats.last_write_at == 4000.0
        assert reader.body("abc") is None
        mark = reader.current_trace_mark()
        assert mark == TraceMark(rowid=4)
        assert len(reader.traces_since(TraceMark())[0]) == 4
        assert reader.traces_since(mark)[0] == []
        assert reader.find_trace_ids(tid(3)) == [tid(3)]
        assert reader.changed() is False
    assert sha256(path) == digest
    if not wal:
        # A rollback-journal database gets no -wal, -shm or -journal from a read-only reader.
        assert sorted(os.listdir(tmp_path)) == files_before


def test_original_layout_new_rows_are_tailed(tmp_path: Path) -> None:
    path = tmp_path / "lens.db"
    make_original_layout(path, wal=True)
    with TraceReader(path) as reader:
        mark = reader.current_trace_mark()
        writer = apsw.Connection(str(path))
        writer.execute("INSERT INTO traces VALUES (?, 'route 9', NULL, 9000, 9010, 10)", (tid(9),))
        writer.close()
        assert reader.changed()
        new, _ = reader.traces_since(mark)
        assert [t.trace_id for t in new] == [tid(9)]


# --------------------------------------------------------------------------- change detection


def test_changed_follows_commits_of_another_connection(db: TraceDb) -> None:
    with TraceReader(db.path) as reader:
        assert reader.changed() is False
        db.log("x")
        assert reader.changed() is True
        assert reader.changed() is False
        assert reader.take_replaced() is False


def _replace_database(path: Path) -> TraceDb:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return TraceDb(path)


def test_replaced_file_is_detected_and_reopened(db: TraceDb) -> None:
    db.trace(1, name="old")
    with TraceReader(db.path) as reader:
        assert [t.root_span_name for t in reader.recent_traces()] == ["old"]
        db.close()
        fresh = _replace_database(db.path)
        fresh.trace(2, name="new")
        assert reader.changed() is True
        assert reader.take_replaced() is True
        assert reader.take_replaced() is False
        assert [t.root_span_name for t in reader.recent_traces()] == ["new"]
        assert reader.changed() is False
        fresh.close()
    db.conn = apsw.Connection(":memory:")  # the fixture closes it


def test_deleted_file_empties_then_recreated_file_shows(db: TraceDb) -> None:
    db.trace(1)
    with TraceReader(db.path) as reader:
        db.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db.path}{suffix}").unlink(missing_ok=True)
        assert reader.changed() is True and reader.take_replaced() is True
        assert reader.changed() is False
        assert reader.recent_traces() == [] and reader.logs() == []
        assert reader.stats().traces == 0 and reader.trace(tid(1)).spans == ()
        # A writer is creating the file: empty for a moment, then a database without tables.
        db.path.write_bytes(b"")
        assert reader.changed() is False
        fresh = TraceDb(db.path)
        fresh.trace(3)
        assert reader.changed() is True
        assert [t.trace_id for t in reader.recent_traces()] == [tid(3)]
        fresh.close()
    db.conn = apsw.Connection(":memory:")


# --------------------------------------------------------------------------- read transactions


def _assert_checkpoint_completes(db: TraceDb) -> None:
    busy, log_frames, checkpointed = db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()[
        0
    ]
    assert busy == 0 and log_frames == checkpointed
    assert os.path.getsize(f"{db.path}-wal") == 0


def test_no_read_transaction_survives_any_call(db: TraceDb) -> None:
    db.conn.set_busy_timeout(200)  # a held read lock fails fast instead of hanging the test
    digest = db.body(b"x" * 5000, compress=True)
    for n in range(20):
        db.trace(n)
        db.span(n, 0, started_at=float(n))
        db.log(f"m{n}", trace=n, span=sid(n, 0), level=("info", "error")[n % 2])
    calls = [
        lambda r: r.recent_traces(5),
        lambda r: r.recent_traces(5, errors_only=True, name_filter="GET"),
        lambda r: r.traces_since(TraceMark()),
        lambda r: r.current_trace_mark(),
        lambda r: r.trace(tid(3)),
        lambda r: r.spans_since(tid(3), None),
        lambda r: r.logs(limit=5),
        lambda r: r.logs(min_level="error", limit=3),
        lambda r: r.logs(trace_id=tid(3), span_ids=frozenset({sid(3, 0)})),
        lambda r: r.level_counts(),
        lambda r: r.level_counts(trace_id=tid(3)),
        lambda r: r.max_log_id(),
        lambda r: r.body(digest),
        lambda r: r.stats(),
        lambda r: r.find_trace_ids("0000"),
        lambda r: r.changed(),
    ]
    with TraceReader(db.path) as reader:
        for number, call in enumerate(calls):
            db.log(f"more {number}")  # something in the WAL for the checkpoint to move
            call(reader)
            _assert_checkpoint_completes(db)


def test_concurrent_calls_from_threads_while_writing(db: TraceDb) -> None:
    errors: list[BaseException] = []
    with TraceReader(db.path) as reader:

        def hammer() -> None:
            try:
                for _ in range(40):
                    reader.recent_traces(20)
                    reader.logs(limit=20)
                    reader.traces_since(TraceMark())
                    reader.changed()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for thread in threads:
            thread.start()
        for n in range(100):
            db.trace(n)
            db.log(f"m{n}")
        for thread in threads:
            thread.join(10)
        assert errors == []
        assert len(reader.recent_traces()) == 100


# --------------------------------------------------------------------------- query plans


def _captured_statements(reader: TraceReader) -> list[tuple[str, tuple[object, ...]]]:
    captured: list[tuple[str, tuple[object, ...]]] = []

    def tracer(_cursor: apsw.Cursor, sql: str, bindings: object) -> bool:
        if sql.lstrip().upper().startswith("SELECT"):
            captured.append((sql, tuple(bindings or ())))  # type: ignore[arg-type]
        return True

    assert reader._conn is not None
    reader._conn.exec_trace = tracer
    return captured


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.recent_traces(50),
        lambda r: r.recent_traces(50, before=5_000.0),
        lambda r: r.traces_since(TraceMark(rowid=3, updated_at=1.0, updated_rowid=3)),
        lambda r: r.current_trace_mark(),
        lambda r: r.trace(tid(3)),
        lambda r: r.logs(trace_id=tid(3)),
        lambda r: r.logs(trace_id=tid(3), min_level="warn"),
        lambda r: r.logs(min_level="error"),
        lambda r: r.logs(min_level="warn", after_id=10),
        lambda r: r.logs(),
        lambda r: r.level_counts(trace_id=tid(3)),
        lambda r: r.find_trace_ids("00"),
        lambda r: r.stats(),
    ],
    ids=[
        "recent",
        "recent-before",
        "traces_since",
        "mark",
        "trace",
        "logs-trace",
        "logs-trace-level",
        "logs-level",
        "logs-level-after",
        "logs-newest",
        "counts-trace",
        "find",
        "stats",
    ],
)
def test_queries_use_indexes(db: TraceDb, call: object) -> None:
    db.conn.execute("BEGIN")
    for n in range(200):
        db.trace(n)
        for s in range(3):
            db.span(n, s, started_at=float(s))
            db.log("m", trace=n, level=("info", "warn", "error")[s])
    db.conn.execute("COMMIT")
    with TraceReader(db.path) as reader:
        statements = _captured_statements(reader)
        call(reader)  # type: ignore[operator]
        assert statements
        probe = apsw.Connection(str(db.path))
        for sql, params in statements:
            if '"writers"' in sql:
                continue  # one row per writing process: sorting it is free
            plan = [row[3] for row in probe.execute("EXPLAIN QUERY PLAN " + sql, params)]
            for step in plan:
                # A full table scan or a sort of all matches is what breaks at 1M rows.
                # (A bare SCAN is fine without WHERE under a LIMIT: it stops after LIMIT rows.)
                full_scan = (
                    step.startswith("SCAN ")
                    and " USING " not in step
                    and step != "SCAN CONSTANT ROW"
                    and not (" WHERE " not in sql and " LIMIT " in sql)
                )
                assert not full_scan, (sql, plan)
                assert "TEMP B-TREE FOR ORDER BY" not in step, (sql, plan)
        probe.close()


# --------------------------------------------------------------------------- layering


def test_store_imports_no_ui_modules() -> None:
    code = (
        "import sys, lens_tui.store.reader, lens_tui.store.tail; "
        "bad = [m for m in ('textual', 'rich') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- read-only places

_AS_OTHER_USER = ["unshare", "--user", "--map-user=1000", "--map-group=1000"]


def _can_drop_root() -> bool:
    try:
        result = subprocess.run([*_AS_OTHER_USER, "true"], capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@pytest.mark.skipif(not _can_drop_root(), reason="needs unprivileged user namespaces (unshare)")
def test_wal_database_in_read_only_directory_is_shown(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    handle = TraceDb(directory / "traces.db")
    handle.trace(1, name="visible")
    handle.close()  # the last writer closes: -wal and -shm are gone
    assert sorted(os.listdir(directory)) == ["traces.db"]
    digest = sha256(handle.path)
    directory.chmod(0o555)
    # As a non-root user in a user namespace the 0o555 directory really is read-only.
    code = (
        "import sys; from lens_tui.store.reader import TraceReader, check_path\n"
        f"path = {str(handle.path)!r}\n"
        "assert check_path(path) == 'ok'\n"
        "with TraceReader(path) as r:\n"
        "    print(r.immutable, [t.root_span_name for t in r.recent_traces()], r.changed())\n"
    )
    try:
        result = subprocess.run(
            [*_AS_OTHER_USER, sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=Path(__file__).resolve().parents[2],
        )
    finally:
        directory.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True ['visible'] False"
    assert sorted(os.listdir(directory)) == ["traces.db"]
    assert sha256(handle.path) == digest
