"""The record-store layout read by the real reader: files written by raw SQL exactly as the
dispatch trace store's writer writes them (its CREATE TABLE and CREATE INDEX statements), read
back through `TraceReader`, never written (the commands: test_record_queries.py)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import apsw
import pytest

from lens_tui.store import record_layout
from lens_tui.store.decode import UNPARSED_KEY
from lens_tui.store.filters import LogScope, TraceFilter
from lens_tui.store.queries import traces as trace_queries
from lens_tui.store.reader import OpenError, TraceMark, TraceReader, check_path

from . import record_sample
from .record_sample import T0
from .record_store import (
    SCHEMA,
    RecordStore,
    file_sha256,
    log,
    span_close,
    span_open,
    stable_id,
)


def raw(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Rows read by a second, plain connection."""
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# --------------------------------------------------------------------------- the file itself


def test_the_file_is_the_writers_layout(record_db: Path) -> None:
    tables = {r[0]: r[1] for r in raw(record_db, "SELECT name, sql FROM sqlite_master")}
    assert set(tables) >= {"records", "bodies", "idx_records_turnId", "idx_records_bodyHash"}
    assert tables["records"].split() == SCHEMA[0].replace("IF NOT EXISTS ", "").split()
    kinds = dict(raw(record_db, "SELECT kind, count(*) FROM records GROUP BY kind"))
    assert kinds == {"span-open": 10, "span-close": 10, "log": 13}
    # The record_db's re-sent identical record was ignored; its copy under another id was not.
    assert raw(record_db, "SELECT count(*) FROM records WHERE spanId = 's3-child'")[0][0] == 4
    ids = [r[0] for r in raw(record_db, "SELECT id FROM records WHERE spanId = 's1-root'")]
    assert stable_id(span_close("s1-root", "handle message", T0 + 100, 100,
                                turnId="turn-0001", conversationId="conv-1",
                                extensionId="ext.alpha", body=record_sample.ANSWER_BODY)) in ids  # fmt: skip


def test_stable_id_is_the_writers_fnv1a_over_canonical_json() -> None:
    # Key order does not matter (canonical JSON); any field does.
    one = stable_id({"kind": "log", "msg": "é", "timestamp": 1, "extensionId": "x"})
    assert one == stable_id({"extensionId": "x", "timestamp": 1, "msg": "é", "kind": "log"})
    assert one != stable_id({"kind": "log", "msg": "e", "timestamp": 1, "extensionId": "x"})
    assert len(one) == 16 and int(one, 16) >= 0
    # FNV-1a 64 of the empty object "{}": 0xcbf29ce484222325 folded with '{' then '}'.
    digest = 0xCBF29CE484222325
    for unit in b"{}":
        digest = ((digest ^ unit) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    assert stable_id({}) == f"{digest:016x}"


def test_detected_and_opened_read_only(record_db: Path) -> None:
    before = file_sha256(record_db)
    assert check_path(record_db) == "record-store"
    with TraceReader(record_db) as reader:
        assert set(reader.columns) == {"records", "traces", "spans", "logs", "bodies"}
        assert "updated_at" in reader.columns["spans"]
        reader.recent_traces()
        reader.trace("turn-0001")
        reader.logs()
        reader.stats()
        conn = reader._conn
        assert conn is not None and not conn.in_transaction
        with pytest.raises(apsw.ReadOnlyError):
            conn.execute("INSERT INTO main.records (id, kind, extensionId, timestamp)"
                         " VALUES ('x', 'log', 'e', 1)")  # fmt: skip
        # The views live in the connection's TEMP schema, not in the file.
        temp = {r[0] for r in conn.execute("SELECT name FROM temp.sqlite_master")}
        assert temp == set(record_layout.VIEWS)
    assert raw(record_db, "SELECT count(*) FROM sqlite_master WHERE type = 'view'") == [(0,)]
    assert file_sha256(record_db) == before


def test_a_records_table_of_another_application_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = apsw.Connection(str(path))
    conn.execute("CREATE TABLE records (id TEXT PRIMARY KEY, kind TEXT, timestamp INTEGER)")
    conn.close()
    with pytest.raises(OpenError) as caught:
        check_path(path)
    assert str(caught.value) == (
        f"{path}: table records has no spanId, turnId column: not a trace database"
    )


def test_a_file_without_bodies_opens_without_them(tmp_path: Path) -> None:
    path = tmp_path / "no-bodies.db"
    conn = apsw.Connection(str(path))
    conn.execute(SCHEMA[0])
    conn.execute(
        "INSERT INTO records (id, kind, name, spanId, turnId, extensionId, timestamp)"
        " VALUES ('a', 'span-open', 'alone', 's', 't', 'e', 5)"
    )
    conn.close()
    with TraceReader(path) as reader:
        assert "bodies" not in reader.columns
        (span,) = reader.trace("t").spans
        assert (span.name, span.status, span.input_body_hash) == ("alone", "running", None)
        assert reader.body("anything") is None


# --------------------------------------------------------------------------- traces


def test_turns_are_traces_newest_first(record_reader: TraceReader) -> None:
    rows = record_reader.recent_traces()
    assert [t.trace_id for t in rows] == list(record_sample.TRACE_IDS)
    by_id = {t.trace_id: t for t in rows}
    first = by_id["turn-0001"]
    assert (first.root_span_name, first.source, first.service) == (
        "handle message", "conv-1", "ext.alpha"
    )  # fmt: skip
    assert (first.started_at, first.ended_at, first.duration_ms) == (T0, T0 + 100, 100.0)
    assert (first.span_count, first.error_count, first.status) == (2, 1, "error")
    running = by_id["turn-0002"]
    assert (running.status, running.duration_ms, running.ended_at) == ("running", None, None)
    assert running.span_count == 2 and running.error_count == 0
    # Records without a turn: grouped per conversation, or per extension without one.
    background = by_id["conversation:conv-9"]
    assert (background.root_span_name, background.source, background.span_count) == (
        "background sync", "conv-9", 1
    )  # fmt: skip
    lonely = by_id["extension:ext.zeta"]
    assert (lonely.root_span_name, lonely.service, lonely.span_count) == ("", "ext.zeta", 0)
    assert record_reader.summaries(["turn-0004", "missing"])[0].root_span_name == "orphan work"


def test_trace_ids_by_prefix_and_tail(record_reader: TraceReader) -> None:
    assert record_reader.find_trace_ids("turn-000") == [f"turn-000{n}" for n in range(1, 6)]
    assert record_reader.find_trace_ids("conversation:") == ["conversation:conv-9"]
    assert record_reader.find_trace_ids("0003", tail=True) == ["turn-0003"]


def test_trace_filters_agree_with_their_live_rule(record_reader: TraceReader) -> None:
    everything = record_reader.recent_traces()
    now = float(T0 + 10_000)
    for where in (
        TraceFilter(errors_only=True),
        TraceFilter(name="MESSAGE"),
        TraceFilter(min_duration_ms=50.0),
        TraceFilter(name="sync", min_duration_ms=5.0),
    ):
        listed = [t.trace_id for t in record_reader.recent_traces(where=where, now_ms=now)]
        assert listed == [t.trace_id for t in everything if where.matches(t, now)], where
    errors = record_reader.recent_traces(where=TraceFilter(errors_only=True))
    assert [t.trace_id for t in errors] == ["turn-0003", "turn-0001"]
    # A running trace counts as slow once it has run that long.
    slow = record_reader.recent_traces(where=TraceFilter(min_duration_ms=1_000.0), now_ms=now)
    assert [t.trace_id for t in slow] == ["turn-0002"]


# --------------------------------------------------------------------------- spans


def test_a_span_is_its_open_joined_to_its_close(record_reader: TraceReader) -> None:
    detail = record_reader.trace("turn-0001")
    root, tool = detail.spans
    assert (root.span_id, root.parent_span_id, root.name) == ("s1-root", None, "handle message")
    assert (root.started_at, root.duration_ms, root.status) == (T0, 100.0, "ok")
    assert root.service == "ext.alpha" and root.kind is None
    assert dict(root.attributes) == {"conversationId": '"conv-1"', "model": '"m-1"'}
    assert (tool.parent_span_id, tool.status, tool.duration_ms) == ("s1-root", "error", 30.0)
    # The close's attributes join the open's (and win); links come through as stored.
    assert dict(tool.attributes) == {
        "conversationId": '"conv-1"', "retries": "2", "model": '"tool-override"'
    }  # fmt: skip
    assert json.loads(tool.links or "") == [{"turnId": "turn-0002", "spanId": "s2-root"}]
    assert detail.summary is not None and detail.summary.error_count == 1


def test_an_open_without_a_close_is_running(record_reader: TraceReader) -> None:
    root, llm = record_reader.trace("turn-0002").spans
    assert (root.name, root.status, root.duration_ms) == ("stream reply", "running", None)
    assert (llm.status, llm.duration_ms) == ("ok", 45.0)


def test_records_out_of_order_and_duplicates_make_one_span_each(record_reader: TraceReader) -> None:
    spans = record_reader.trace("turn-0003").spans
    assert [s.span_id for s in spans] == ["s3-root", "s3-child"]
    root, child = spans
    # The first open (by commit order) and the latest close: closed twice, its error shows.
    assert (root.started_at, root.duration_ms, root.status) == (T0 + 2_000, 110.0, "error")
    assert (child.started_at, child.duration_ms, child.parent_span_id) == (
        T0 + 2_020, 40.0, "s3-root"
    )  # fmt: skip


def test_a_close_without_an_open_started_its_duration_earlier(record_reader: TraceReader) -> None:
    (orphan,) = record_reader.trace("turn-0004").spans
    assert (orphan.name, orphan.started_at, orphan.duration_ms) == ("orphan work", T0 + 3_000, 20.0)
    assert (orphan.parent_span_id, orphan.status) == ("s4-missing", "ok")


def test_trace_keys_packed_and_by_rows_match_the_spans(record_reader: TraceReader) -> None:
    summary, keys = record_reader.trace_keys("turn-0001")
    assert summary is not None and summary.span_count == 2
    assert keys.span_ids == ["s1-root", "s1-tool"] and keys.parent_ids == [None, "s1-root"]
    assert list(keys.starts) == [T0, T0 + 10] and keys.durations == [100.0, 30.0]
    assert all(isinstance(rowid, str) for rowid in keys.rows)  # the packed path
    assert list(record_reader.spans_at(keys.rows).values()) == list(
        record_reader.trace("turn-0001").spans
    )
    _, columns = record_reader.trace_columns("turn-0002")
    assert [record_reader.decode_span(r) for r in columns.rows] == list(
        record_reader.trace("turn-0002").spans
    )


def test_trace_keys_fall_back_to_rows(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "odd.db")
    # A span id holding the packed path's separator makes it give up; the row path reads it.
    store.insert([
        span_open("a\x1fb", "odd id", T0, turnId="t"),
        span_open("c", "child", T0 + 1, parentSpanId="a\x1fb", turnId="t"),
        span_close("c", "child", T0 + 3, 2, turnId="t"),
    ])  # fmt: skip
    with TraceReader(store.path) as reader:
        _, keys = reader.trace_keys("t")
        assert keys.span_ids == ["a\x1fb", "c"] and keys.durations == [None, 2.0]
        assert all(isinstance(rowid, int) for rowid in keys.rows)
        assert [s.name for s in reader.spans_at(keys.rows).values()] == ["odd id", "child"]
    store.close()


def test_find_spans_by_name(record_reader: TraceReader) -> None:
    assert record_reader.find_spans("turn-0001", "WEATHER") == ["s1-tool"]
    assert record_reader.find_spans("turn-0005", "[bold") == ["s5-root"]


def test_bodies_resolve_by_hash_gunzipped_when_compressed(
    record_db: Path, record_reader: TraceReader
) -> None:
    root, tool = record_reader.trace("turn-0001").spans
    assert root.input_body_hash == hashlib.sha256(record_sample.REQUEST_BODY.encode()).hexdigest()
    assert record_reader.body(root.input_body_hash) == record_sample.REQUEST_BODY
    assert record_reader.body(root.output_body_hash or "") == record_sample.ANSWER_BODY
    assert tool.input_body_hash is None and tool.output_body_hash is not None
    assert record_reader.body(tool.output_body_hash) == record_sample.TOOL_BODY
    assert (root.input_size, tool.output_size) == (28, len(record_sample.TOOL_BODY))
    stored = dict(raw(record_db, "SELECT hash, isCompressed FROM bodies"))
    assert stored[root.input_body_hash] == 0 and stored[tool.output_body_hash] == 1
    packed = raw(record_db, "SELECT body FROM bodies WHERE hash = ?", (tool.output_body_hash,))
    assert gzip.decompress(packed[0][0]).decode() == record_sample.TOOL_BODY
    assert record_reader.body("0" * 64) is None


def test_a_body_that_does_not_inflate_is_a_note_not_a_failure(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "bad-body.db")
    store.insert([
        span_open("s", "op", T0, turnId="t", body="x" * 2_000),
        log("info", "with body", T0 + 1, turnId="t", spanId="s", body="x" * 2_000),
    ])  # fmt: skip
    with store.conn:  # another program's bytes under the gzip flag
        store.conn.execute("UPDATE bodies SET body = x'00ff00ff'")
    store.close()
    with TraceReader(store.path) as reader:
        (span,) = reader.trace("t").spans
        note = reader.body(span.input_body_hash or "")
        assert note is not None and note.startswith("(stored body could not be decompressed")
        (line,) = reader.logs(trace_id="t")
        assert json.loads(line.attributes or "")["body"] == note


# --------------------------------------------------------------------------- logs


def test_logs_under_their_spans(record_reader: TraceReader) -> None:
    logs = record_reader.logs(trace_id="turn-0001")
    assert [(g.span_id, g.level, g.message) for g in logs] == [
        ("s1-tool", "debug", "looking up the forecast"),
        ("s1-tool", "info", "calling the forecast service"),
        ("s1-tool", "warn", "forecast service slow"),
        ("s1-tool", "error", "forecast service failed"),
        ("s1-root", "info", "answered"),
    ]
    assert {(g.trace_id, g.service, g.logger) for g in logs} == {
        ("turn-0001", "ext.alpha", "ext.alpha")
    }
    assert all(g.timestamp >= T0 for g in logs) and logs == sorted(logs, key=lambda g: g.id)
    assert json.loads(logs[1].attributes or "") == {"conversationId": "conv-1", "city": "Oslo"}
    # A log's body is resolved (gunzipped) into its attributes, cut for the log pane.
    body = json.loads(logs[3].attributes or "")["body"]
    assert body.startswith(record_sample.ERROR_BODY[: record_layout.LOG_BODY_BYTES])
    assert body.endswith(f"(body cut at {record_layout.LOG_BODY_BYTES} bytes)")
    (lonely,) = record_reader.logs(trace_id="extension:ext.zeta")
    assert (lonely.message, lonely.span_id, lonely.attributes) == ("extension started", None, None)


def test_log_level_filter_counts_and_paging(record_reader: TraceReader) -> None:
    assert record_reader.level_counts() == {"debug": 1, "info": 7, "warn": 3, "error": 2}
    assert record_reader.level_counts(trace_id="turn-0001") == {
        "debug": 1,
        "info": 2,
        "warn": 1,
        "error": 1,
    }
    loud = record_reader.logs(scope=LogScope(min_level="warn"))
    assert [g.level for g in loud] == ["warn", "error", "warn", "error", "warn"]
    assert all(LogScope(min_level="warn").matches(g) for g in loud)
    newest = record_reader.logs(limit=3)
    older = record_reader.logs(limit=100, before_id=newest[0].id)
    assert [g.id for g in older + newest] == [g.id for g in record_reader.logs(limit=100)]
    assert record_reader.max_log_id() == newest[-1].id
    upto = newest[0].id
    assert sum(record_reader.level_counts_upto(upto).values()) == len(older) + 1
    tool = frozenset({"s1-tool"})
    assert record_reader.level_counts_upto(10_000, trace_id="turn-0001", span_ids=tool)["info"] == 1
    in_tool = record_reader.logs(scope=LogScope("turn-0001", tool, min_level="info"))
    assert [g.message for g in in_tool][-1] == "forecast service failed"
    assert record_reader.logs(scope=LogScope(text="SLOW")) == [
        g for g in record_reader.logs(limit=100) if "slow" in g.message
    ]  # fmt: skip


# --------------------------------------------------------------------------- hostile text


def test_hostile_text_comes_back_as_stored(record_reader: TraceReader) -> None:
    root, esc = record_reader.trace("turn-0005").spans
    assert (root.name, esc.name) == (record_sample.MARKUP_NAME, record_sample.ESC_NAME)
    assert root.service == "[red]ext[/]"
    # Attributes that are not a JSON object, or nested too deep to parse, show raw.
    assert esc.attributes == ((UNPARSED_KEY, "{not json"),)
    assert root.attributes == ((UNPARSED_KEY, record_sample.DEEP_ATTRIBUTES),)
    messages = [g.message for g in record_reader.logs(trace_id="turn-0005")]
    assert messages == [record_sample.ESC_MESSAGE, record_sample.HUGE_MESSAGE, "ok \ufffd bad"]


# --------------------------------------------------------------------------- tailing


def test_tailing_new_records_and_a_close_completing_a_running_span(record_db: Path) -> None:
    with TraceReader(record_db) as reader:
        reader.changed()
        mark = reader.current_trace_mark()
        log_mark = reader.max_log_id()
        before = {t.trace_id: t for t in reader.recent_traces()}["turn-0002"]
        assert reader.traces_since(mark) == ([], mark)
        store = RecordStore(record_db)
        b = {"turnId": "turn-0002", "conversationId": "conv-1", "extensionId": "ext.alpha"}
        store.insert([
            log("info", "reply sent", T0 + 1_190, spanId="s2-root", **b),
            span_close("s2-root", "stream reply", T0 + 1_200, 200, **b),
            span_open("s6-new", "new turn", T0 + 9_000, turnId="turn-0006"),
        ])  # fmt: skip
        assert reader.changed()
        traces, mark2 = reader.traces_since(mark)
        assert [t.trace_id for t in traces] == ["turn-0006", "turn-0002"]
        done = traces[1]
        assert (done.status, done.duration_ms, done.ended_at) == ("ok", 200.0, T0 + 1_200)
        assert done.updated_at is not None and before.updated_at is not None
        assert done.updated_at > before.updated_at
        (completed,) = reader.spans_since("turn-0002", before.updated_at)
        assert (completed.span_id, completed.status, completed.duration_ms) == (
            "s2-root",
            "ok",
            200.0,
        )
        assert traces[0].status == "running"
        assert [g.message for g in reader.logs(after_id=log_mark)] == ["reply sent"]
        assert reader.traces_since(mark2) == ([], mark2)
        store.close()


def test_tailing_many_new_traces_continues_from_its_mark(
    record_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trace_queries, "TRACES_SINCE_LIMIT", 2)
    with TraceReader(record_db) as reader:
        mark = TraceMark()
        seen: list[str] = []
        for _ in range(10):
            traces, mark = reader.traces_since(mark)
            if not traces:
                break
            assert len(traces) <= 2
            seen.extend(t.trace_id for t in traces)
        assert sorted(seen) == sorted(record_sample.TRACE_IDS)


def test_a_schema_change_while_open_is_followed(tmp_path: Path) -> None:
    # An old file (records without bodyHash, no bodies table) migrated by its writer while
    # the reader has it open, as the writer's migrateOldBodies does: the bodies appear.
    path = tmp_path / "old.db"
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(SCHEMA[0].replace("bodyHash TEXT", "spare TEXT"))
    conn.execute(
        "INSERT INTO records (id, kind, name, spanId, turnId, extensionId, timestamp,"
        " durationMs, status) VALUES ('a', 'span-close', 'op', 's', 't', 'e', 10, 4, 'ok')"
    )
    with TraceReader(path) as reader:
        (span,) = reader.trace("t").spans
        assert span.output_body_hash is None and "bodies" not in reader.columns
        conn.execute("ALTER TABLE records ADD COLUMN bodyHash TEXT")
        for statement in SCHEMA[1:]:
            conn.execute(statement)
        digest = hashlib.sha256(b"later").hexdigest()
        conn.execute("INSERT INTO bodies VALUES (?, ?, 0, 5, 5)", (digest, b"later"))
        conn.execute("UPDATE records SET bodyHash = ? WHERE id = 'a'", (digest,))
        (span,) = reader.trace("t").spans
        assert span.output_body_hash == digest and reader.body(digest) == "later"
    conn.close()


def test_stats_count_the_records(record_reader: TraceReader) -> None:
    stats = record_reader.stats()
    assert (stats.traces, stats.spans, stats.logs) == (7, 10, 13)
    assert stats.last_write_at == T0 + 6_005 and stats.writers == ()


def test_stats_count_new_records_as_a_full_count_would(record_db: Path) -> None:
    with TraceReader(record_db) as reader:
        assert reader.stats().traces == 7
        store = RecordStore(record_db)
        store.insert([
            span_open("s7", "new turn", T0 + 7_000, turnId="turn-0007"),
            log("info", "more", T0 + 7_001, turnId="turn-0001", extensionId="ext.alpha"),
            log("info", "again", T0 + 7_002, conversationId="conv-9", extensionId="ext.alpha"),
            log("info", "new talk", T0 + 7_003, conversationId="conv-10"),
            log("info", "zeta again", T0 + 7_004, extensionId="ext.zeta"),
            log("info", "omega", T0 + 7_005, extensionId="ext.omega"),
        ])  # fmt: skip
        store.close()
        counted = reader.stats()
        assert (counted.traces, counted.spans, counted.logs) == (10, 11, 18)
        with TraceReader(record_db) as fresh:
            assert fresh.stats() == counted
        assert counted.last_write_at == T0 + 7_005
