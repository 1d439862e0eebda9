"""The record-store layout read by the real reader: files written by raw SQL exactly as the
dispatch trace store's writer writes them (its CREATE TABLE and CREATE INDEX statements), read
back through `TraceReader` and `lens-tui show`, never written."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest

from lens_tui.query import compile_log_query, compile_trace_query
from lens_tui.query.run import LogFollower, TraceFollower, find_logs, find_traces
from lens_tui.store import record_layout
from lens_tui.store.decode import UNPARSED_KEY
from lens_tui.store.filters import LogScope, TraceFilter
from lens_tui.store.queries import traces as trace_queries
from lens_tui.store.reader import OpenError, TraceMark, TraceReader, check_path
from lens_tui.store.stats import route_stats

from . import record_sample
from .record_sample import T0
from .record_store import SCHEMA, RecordStore, log, span_close, span_open, stable_id

ROOT = Path(__file__).resolve().parents[2]


def sha256(path: Path) -> str:
    """The file's bytes, hashed: what must not change while lens_tui reads it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """The sample record store, its writer closed (everything checkpointed into the file)."""
    path = tmp_path / "dispatch.db"
    record_sample.build(path).close()
    return path


@pytest.fixture
def reader(sample: Path) -> Iterator[TraceReader]:
    """A reader open on the sample."""
    with TraceReader(sample) as handle:
        yield handle


def raw(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Rows read by a second, plain connection."""
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# --------------------------------------------------------------------------- the file itself


def test_the_file_is_the_writers_layout(sample: Path) -> None:
    tables = {r[0]: r[1] for r in raw(sample, "SELECT name, sql FROM sqlite_master")}
    assert set(tables) >= {"records", "bodies", "idx_records_turnId", "idx_records_bodyHash"}
    assert tables["records"].split() == SCHEMA[0].replace("IF NOT EXISTS ", "").split()
    kinds = dict(raw(sample, "SELECT kind, count(*) FROM records GROUP BY kind"))
    assert kinds == {"span-open": 10, "span-close": 10, "log": 13}
    # The sample's re-sent identical record was ignored; its copy under another id was not.
    assert raw(sample, "SELECT count(*) FROM records WHERE spanId = 's3-child'")[0][0] == 4
    ids = [r[0] for r in raw(sample, "SELECT id FROM records WHERE spanId = 's1-root'")]
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


def test_detected_and_opened_read_only(sample: Path) -> None:
    before = sha256(sample)
    assert check_path(sample) == "record-store"
    with TraceReader(sample) as reader:
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
    assert raw(sample, "SELECT count(*) FROM sqlite_master WHERE type = 'view'") == [(0,)]
    assert sha256(sample) == before


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


def test_turns_are_traces_newest_first(reader: TraceReader) -> None:
    rows = reader.recent_traces()
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
    assert reader.summaries(["turn-0004", "missing"])[0].root_span_name == "orphan work"


def test_trace_ids_by_prefix_and_tail(reader: TraceReader) -> None:
    assert reader.find_trace_ids("turn-000") == [f"turn-000{n}" for n in range(1, 6)]
    assert reader.find_trace_ids("conversation:") == ["conversation:conv-9"]
    assert reader.find_trace_ids_ending("0003") == ["turn-0003"]


def test_trace_filters_agree_with_their_live_rule(reader: TraceReader) -> None:
    everything = reader.recent_traces()
    now = float(T0 + 10_000)
    for where in (
        TraceFilter(errors_only=True),
        TraceFilter(name="MESSAGE"),
        TraceFilter(min_duration_ms=50.0),
        TraceFilter(name="sync", min_duration_ms=5.0),
    ):
        listed = [t.trace_id for t in reader.recent_traces(where=where, now_ms=now)]
        assert listed == [t.trace_id for t in everything if where.matches(t, now)], where
    errors = reader.recent_traces(where=TraceFilter(errors_only=True))
    assert [t.trace_id for t in errors] == ["turn-0003", "turn-0001"]
    # A running trace counts as slow once it has run that long.
    slow = reader.recent_traces(where=TraceFilter(min_duration_ms=1_000.0), now_ms=now)
    assert [t.trace_id for t in slow] == ["turn-0002"]


# --------------------------------------------------------------------------- spans


def test_a_span_is_its_open_joined_to_its_close(reader: TraceReader) -> None:
    detail = reader.trace("turn-0001")
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


def test_an_open_without_a_close_is_running(reader: TraceReader) -> None:
    root, llm = reader.trace("turn-0002").spans
    assert (root.name, root.status, root.duration_ms) == ("stream reply", "running", None)
    assert (llm.status, llm.duration_ms) == ("ok", 45.0)


def test_records_out_of_order_and_duplicates_make_one_span_each(reader: TraceReader) -> None:
    spans = reader.trace("turn-0003").spans
    assert [s.span_id for s in spans] == ["s3-root", "s3-child"]
    root, child = spans
    # The first open (by commit order) and the latest close: closed twice, its error shows.
    assert (root.started_at, root.duration_ms, root.status) == (T0 + 2_000, 110.0, "error")
    assert (child.started_at, child.duration_ms, child.parent_span_id) == (
        T0 + 2_020, 40.0, "s3-root"
    )  # fmt: skip


def test_a_close_without_an_open_started_its_duration_earlier(reader: TraceReader) -> None:
    (orphan,) = reader.trace("turn-0004").spans
    assert (orphan.name, orphan.started_at, orphan.duration_ms) == ("orphan work", T0 + 3_000, 20.0)
    assert (orphan.parent_span_id, orphan.status) == ("s4-missing", "ok")


def test_trace_keys_packed_and_by_rows_match_the_spans(reader: TraceReader) -> None:
    summary, keys = reader.trace_keys("turn-0001")
    assert summary is not None and summary.span_count == 2
    assert keys.span_ids == ["s1-root", "s1-tool"] and keys.parent_ids == [None, "s1-root"]
    assert list(keys.starts) == [T0, T0 + 10] and keys.durations == [100.0, 30.0]
    assert all(isinstance(rowid, str) for rowid in keys.rows)  # the packed path
    assert list(reader.spans_at(keys.rows).values()) == list(reader.trace("turn-0001").spans)
    _, columns = reader.trace_columns("turn-0002")
    assert [reader.decode_span(r) for r in columns.rows] == list(reader.trace("turn-0002").spans)


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


def test_find_spans_by_name(reader: TraceReader) -> None:
    assert reader.find_spans("turn-0001", "WEATHER") == ["s1-tool"]
    assert reader.find_spans("turn-0005", "[bold") == ["s5-root"]


def test_bodies_resolve_by_hash_gunzipped_when_compressed(
    sample: Path, reader: TraceReader
) -> None:
    root, tool = reader.trace("turn-0001").spans
    assert root.input_body_hash == hashlib.sha256(record_sample.REQUEST_BODY.encode()).hexdigest()
    assert reader.body(root.input_body_hash) == record_sample.REQUEST_BODY
    assert reader.body(root.output_body_hash or "") == record_sample.ANSWER_BODY
    assert tool.input_body_hash is None and tool.output_body_hash is not None
    assert reader.body(tool.output_body_hash) == record_sample.TOOL_BODY
    assert (root.input_size, tool.output_size) == (28, len(record_sample.TOOL_BODY))
    stored = dict(raw(sample, "SELECT hash, isCompressed FROM bodies"))
    assert stored[root.input_body_hash] == 0 and stored[tool.output_body_hash] == 1
    packed = raw(sample, "SELECT body FROM bodies WHERE hash = ?", (tool.output_body_hash,))
    assert gzip.decompress(packed[0][0]).decode() == record_sample.TOOL_BODY
    assert reader.body("0" * 64) is None


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


def test_logs_under_their_spans(reader: TraceReader) -> None:
    logs = reader.logs(trace_id="turn-0001")
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
    (lonely,) = reader.logs(trace_id="extension:ext.zeta")
    assert (lonely.message, lonely.span_id, lonely.attributes) == ("extension started", None, None)


def test_log_level_filter_counts_and_paging(reader: TraceReader) -> None:
    assert reader.level_counts() == {"debug": 1, "info": 7, "warn": 3, "error": 2}
    assert reader.level_counts(trace_id="turn-0001") == {
        "debug": 1,
        "info": 2,
        "warn": 1,
        "error": 1,
    }
    loud = reader.logs(scope=LogScope(min_level="warn"))
    assert [g.level for g in loud] == ["warn", "error", "warn", "error", "warn"]
    assert all(LogScope(min_level="warn").matches(g) for g in loud)
    newest = reader.logs(limit=3)
    older = reader.logs(limit=100, before_id=newest[0].id)
    assert [g.id for g in older + newest] == [g.id for g in reader.logs(limit=100)]
    assert reader.max_log_id() == newest[-1].id
    upto = newest[0].id
    assert sum(reader.level_counts_upto(upto).values()) == len(older) + 1
    tool = frozenset({"s1-tool"})
    assert reader.level_counts_upto(10_000, trace_id="turn-0001", span_ids=tool)["info"] == 1
    in_tool = reader.logs(scope=LogScope("turn-0001", tool, min_level="info"))
    assert [g.message for g in in_tool][-1] == "forecast service failed"
    assert reader.logs(scope=LogScope(text="SLOW")) == [
        g for g in reader.logs(limit=100) if "slow" in g.message
    ]  # fmt: skip


# --------------------------------------------------------------------------- hostile text


def test_hostile_text_comes_back_as_stored(reader: TraceReader) -> None:
    root, esc = reader.trace("turn-0005").spans
    assert (root.name, esc.name) == (record_sample.MARKUP_NAME, record_sample.ESC_NAME)
    assert root.service == "[red]ext[/]"
    # Attributes that are not a JSON object, or nested too deep to parse, show raw.
    assert esc.attributes == ((UNPARSED_KEY, "{not json"),)
    assert root.attributes == ((UNPARSED_KEY, record_sample.DEEP_ATTRIBUTES),)
    messages = [g.message for g in reader.logs(trace_id="turn-0005")]
    assert messages == [record_sample.ESC_MESSAGE, record_sample.HUGE_MESSAGE, "ok \ufffd bad"]


# --------------------------------------------------------------------------- tailing


def test_tailing_new_records_and_a_close_completing_a_running_span(sample: Path) -> None:
    with TraceReader(sample) as reader:
        reader.changed()
        mark = reader.current_trace_mark()
        log_mark = reader.max_log_id()
        before = {t.trace_id: t for t in reader.recent_traces()}["turn-0002"]
        assert reader.traces_since(mark) == ([], mark)
        store = RecordStore(sample)
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
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trace_queries, "TRACES_SINCE_LIMIT", 2)
    with TraceReader(sample) as reader:
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


def test_stats_count_the_records(reader: TraceReader) -> None:
    stats = reader.stats()
    assert (stats.traces, stats.spans, stats.logs) == (7, 10, 13)
    assert stats.last_write_at == T0 + 6_005 and stats.writers == ()


def test_stats_count_new_records_as_a_full_count_would(sample: Path) -> None:
    with TraceReader(sample) as reader:
        assert reader.stats().traces == 7
        store = RecordStore(sample)
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
        with TraceReader(sample) as fresh:
            assert fresh.stats() == counted
        assert counted.last_write_at == T0 + 7_005


# --------------------------------------------------------------------------- the query language

TRACE_QUERIES = {
    "status = error": ["turn-0003", "turn-0001"],
    "status = running": ["turn-0002"],
    "duration > 50ms": ["turn-0003", "turn-0001"],
    "service = ext.beta": ["turn-0004", "turn-0003"],
    'attr.model = "m-1"': ["turn-0001"],
    'attr.conversationId = "conv-2"': ["turn-0004", "turn-0003"],
    '{ name = "tool: weather" and status = error }': ["turn-0001"],
    "{ duration >= 40ms and duration < 50ms }": ["turn-0003", "turn-0002"],
    'not { service = "ext.alpha" }': ["turn-0005", "extension:ext.zeta", "turn-0004", "turn-0003"],
    "trace = conversation": ["conversation:conv-9"],
    '"[bold red]"': ["turn-0005"],
}


@pytest.mark.parametrize("text", list(TRACE_QUERIES))
def test_trace_queries_select_in_sql_what_their_predicate_keeps(
    reader: TraceReader, text: str
) -> None:
    query = compile_trace_query(text)
    found = [t.trace_id for t in find_traces(reader, query, limit=100)]
    assert found == TRACE_QUERIES[text]
    kept = [
        t.trace_id
        for t in reader.recent_traces()
        if query.matches(t, spans=reader.trace(t.trace_id).spans)
    ]
    assert found == kept


LOG_QUERIES = {
    "level >= warn": 5,
    'logger = "ext.beta"': 2,
    'attr.city = "Oslo"': 1,
    'message ~ "FORECAST"': 4,
    "trace = turn-0001 level >= info": 4,
    "span = s1-tool": 4,
    'attr.conversationId = "conv-9"': 1,
}


@pytest.mark.parametrize("text", list(LOG_QUERIES))
def test_log_queries_select_in_sql_what_their_predicate_keeps(
    reader: TraceReader, text: str
) -> None:
    query = compile_log_query(text)
    found = find_logs(reader, query, limit=100)
    assert len(found) == LOG_QUERIES[text]
    assert found == [g for g in reader.logs(limit=100) if query.matches(g)]


def test_following_queries_as_records_arrive(sample: Path) -> None:
    # One reader each: a follower's poll takes the change it saw (`changed()`).
    with TraceReader(sample) as reader, TraceReader(sample) as log_reader:
        traces = TraceFollower(reader, compile_trace_query("status = error"))
        logs = LogFollower(log_reader, compile_log_query("level >= error"))
        assert traces.poll() == [] and logs.poll() == []
        store = RecordStore(sample)
        ids = {"turnId": "turn-0008", "extensionId": "ext.alpha"}
        store.insert([
            span_open("s8", "fails later", T0 + 8_000, **ids),
            log("error", "it broke", T0 + 8_001, spanId="s8", **ids),
        ])  # fmt: skip
        assert traces.poll() == []  # running, not failed yet
        assert [g.message for g in logs.poll()] == ["it broke"]
        store.insert([span_close("s8", "fails later", T0 + 8_010, 10, "error", **ids)])
        store.close()
        assert [t.trace_id for t in traces.poll()] == ["turn-0008"]
        assert traces.poll() == [] and logs.poll() == []


def test_route_stats_per_extension_and_root_name(reader: TraceReader) -> None:
    rows = route_stats(reader, since_ms=None, until_ms=float(T0 + 10_000), by="service")
    by_service = {r.key.fields()["service"]: r for r in rows}
    alpha = by_service["ext.alpha"]  # turns 1 and 2, and conv-9's background work
    assert (alpha.count, alpha.running, alpha.errors) == (3, 1, 1)
    assert (alpha.p50_ms, alpha.max_ms) == (10.0, 100.0)
    beta = by_service["ext.beta"]
    assert (beta.count, beta.errors, beta.max_ms) == (2, 1, 110.0)
    named = route_stats(
        reader,
        since_ms=None,
        until_ms=float(T0 + 10_000),
        where=compile_trace_query("status = error"),
    )
    assert sorted((r.key.fields()["name"], r.p95_ms) for r in named) == [
        ("handle message", 100.0), ("out of order", 110.0)
    ]  # fmt: skip


# --------------------------------------------------------------------------- lens-tui show


def _show(db: Path, *args: str, command: str = "show") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "lens_tui", command, "--db", str(db), *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_show_prints_a_turn_as_a_tree_and_as_json(sample: Path) -> None:
    before = sha256(sample)
    tree = _show(sample, "turn-0001")
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.splitlines() == [
        "trace turn-0001  handle message  100ms  started 2023-11-14 22:13:20.000  1 error",
        "  handle message  100ms  [ext.alpha]",
        "      INFO  answered",
        "    ✗ tool: weather  30.0ms  [ext.alpha]",
        "        DEBUG looking up the forecast",
        "        INFO  calling the forecast service",
        "        WARN  forecast service slow",
        "        ERROR forecast service failed",
    ]
    out = _show(sample, "0003", "--json")  # a tail names the turn
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["trace"]["trace_id"] == "turn-0003" and data["trace"]["status"] == "error"
    assert [(s["span_id"], s["duration_ms"]) for s in data["spans"]] == [
        ("s3-root", 110.0), ("s3-child", 40.0)
    ]  # fmt: skip
    assert data["spans"][0]["attributes"] == {"conversationId": "conv-2"}
    assert [g["message"] for g in data["logs"]] == ["late log"]
    assert sha256(sample) == before


def test_show_makes_hostile_text_visible(sample: Path) -> None:
    out = _show(sample, "turn-0005")
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout
    assert "[bold red]x[/]" in out.stdout and "␛]0;pwned␇title" in out.stdout
    assert "ok \ufffd bad" in out.stdout
    missing = _show(sample, "turn-9999")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "no trace 'turn-9999'" in missing.stderr


def test_query_logs_and_stats_commands_read_a_record_store(sample: Path) -> None:
    before = sha256(sample)
    found = _show(sample, "status = error", "--format", "jsonl", command="query")
    assert found.returncode == 0, found.stderr
    assert [json.loads(line)["trace_id"] for line in found.stdout.splitlines()] == [
        "turn-0003", "turn-0001"
    ]  # fmt: skip
    logs = _show(sample, "level >= error", "--format", "jsonl", command="logs")
    assert logs.returncode == 0, logs.stderr
    assert [json.loads(line)["span_id"] for line in logs.stdout.splitlines()] == [
        "s1-tool",
        "s5-esc",
    ]
    stats = _show(sample, "--since", "all", "--format", "json", command="stats")
    assert stats.returncode == 0, stats.stderr
    assert sum(row["count"] for row in json.loads(stats.stdout)) == 7
    assert sha256(sample) == before


def test_commands_that_write_refuse_a_record_store(sample: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    before = sha256(sample)
    for command in (["prune", "--db", str(sample)], ["otlp", "--db", str(sample), "--port", "0"]):
        done = subprocess.run(
            [sys.executable, "-m", "lens_tui", *command],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().endswith("lens-tui shows it but never writes to it")
        assert "Traceback" not in done.stderr
    assert sha256(sample) == before
