"""A record-store file with fixed ids and times, written through the record store's own writer
rules (`record_store.RecordStore`): nested spans with an error, a running turn, records out of
order, duplicates, a close without its open, records without a turn, plain and gzipped bodies,
and hostile text (markup, escape sequences, a huge message, invalid JSON and UTF-8).
Shared by the read-side tests and the dashboard tests."""

from __future__ import annotations

import json
from pathlib import Path

from .record_store import RecordStore, log, span_close, span_open

T0 = 1_700_000_000_000
"""Epoch ms of the first turn (2023-11-14 22:13:20 UTC)."""

MARKUP_NAME = "[bold red]x[/]"
ESC_NAME = "\x1b]0;pwned\x07title"
ESC_MESSAGE = "\x1b[2J cleared [b]bold[/b]"
HUGE_MESSAGE = "long " * 40_000
REQUEST_BODY = "what is the weather in Oslo?"
"""The root span's plain body (under 1 KiB: stored as it is)."""
ANSWER_BODY = "it will rain"
TOOL_BODY = json.dumps({"forecast": [{"hour": h, "rain_mm": h % 3} for h in range(120)]})
"""The tool span's body: over 1 KiB and compressible, so stored gzipped."""
ERROR_BODY = "Traceback: forecast service 503\n" * 400
"""The error log's body (gzipped; longer than a log shows)."""
DEEP_ATTRIBUTES = '{"a":' * 3000 + "1" + "}" * 3000


def build(path: Path) -> RecordStore:
    """Write the sample at `path` (which must not exist); the writer stays open (close it)."""
    store = RecordStore(path)
    t = T0
    a = {"turnId": "turn-0001", "conversationId": "conv-1", "extensionId": "ext.alpha"}
    store.insert([
        span_open("s1-root", "handle message", t, attributes={"model": "m-1"},
                  body=REQUEST_BODY, **a),
        span_open("s1-tool", "tool: weather", t + 10, parentSpanId="s1-root",
                  links=[{"turnId": "turn-0002", "spanId": "s2-root"}], **a),
        log("debug", "looking up the forecast", t + 11, spanId="s1-tool", **a),
        log("info", "calling the forecast service", t + 12, spanId="s1-tool",
            attributes={"city": "Oslo"}, **a),
        log("warn", "forecast service slow", t + 30, spanId="s1-tool", **a),
        log("error", "forecast service failed", t + 39, spanId="s1-tool", body=ERROR_BODY, **a),
        span_close("s1-tool", "tool: weather", t + 40, 30, "error", parentSpanId="s1-root",
                   attributes={"retries": 2, "model": "tool-override"}, body=TOOL_BODY, **a),
        log("info", "answered", t + 95, spanId="s1-root", **a),
        span_close("s1-root", "handle message", t + 100, 100, body=ANSWER_BODY, **a),
    ])  # fmt: skip
    b = {"turnId": "turn-0002", "conversationId": "conv-1", "extensionId": "ext.alpha"}
    store.insert([
        span_open("s2-root", "stream reply", t + 1_000, **b),
        span_open("s2-llm", "llm call", t + 1_005, parentSpanId="s2-root", **b),
        log("info", "streaming", t + 1_010, spanId="s2-llm", **b),
        span_close("s2-llm", "llm call", t + 1_050, 45, parentSpanId="s2-root", **b),
    ])  # fmt: skip
    c = {"turnId": "turn-0003", "conversationId": "conv-2", "extensionId": "ext.beta"}
    child_open = span_open("s3-child", "late child", t + 2_020, parentSpanId="s3-root", **c)
    # Out of order: the closes and a log before their opens; the root's open last of all.
    store.insert([span_close("s3-root", "out of order", t + 2_100, 100, **c)])
    store.insert([log("info", "late log", t + 2_030, spanId="s3-child", **c)])
    store.insert([span_close("s3-child", "late child", t + 2_060, 40, parentSpanId="s3-root", **c)])
    store.insert([child_open])
    store.insert([child_open])  # the same record again: INSERT OR IGNORE keeps one
    store.insert([{**child_open, "timestamp": t + 2_021}], ids=["f" * 16])  # re-sent, another id
    store.insert([span_open("s3-root", "out of order", t + 2_000, **c)])
    # Closed twice: the later close (an error, 110 ms) is the one shown.
    store.insert([span_close("s3-root", "out of order", t + 2_110, 110, "error", **c)])
    d = {"turnId": "turn-0004", "conversationId": "conv-2", "extensionId": "ext.beta"}
    store.insert([
        span_close("s4-orphan", "orphan work", t + 3_020, 20, parentSpanId="s4-missing", **d),
        log("warn", "orphan log", t + 3_010, spanId="s4-orphan", **d),
    ])  # fmt: skip
    store.insert([
        span_open("s9-bg", "background sync", t + 4_000, conversationId="conv-9",
                  extensionId="ext.alpha"),
        log("info", "synced", t + 4_005, spanId="s9-bg", conversationId="conv-9",
            extensionId="ext.alpha"),
        span_close("s9-bg", "background sync", t + 4_010, 10, conversationId="conv-9",
                   extensionId="ext.alpha"),
        log("info", "extension started", t + 5_000, extensionId="ext.zeta"),
    ])  # fmt: skip
    e = {"turnId": "turn-0005", "conversationId": "conv-3", "extensionId": "[red]ext[/]"}
    store.insert([
        span_open("s5-root", MARKUP_NAME, t + 6_000, attributes={"[link=x]": ESC_MESSAGE}, **e),
        span_open("s5-esc", ESC_NAME, t + 6_001, parentSpanId="s5-root", **e),
        log("error", ESC_MESSAGE, t + 6_002, spanId="s5-esc", **e),
        log("info", HUGE_MESSAGE, t + 6_003, spanId="s5-esc", **e),
        span_close("s5-esc", ESC_NAME, t + 6_004, 3, parentSpanId="s5-root", **e),
        span_close("s5-root", MARKUP_NAME, t + 6_010, 10, **e),
    ])  # fmt: skip
    # Cells the writer would never produce, as another program might: attributes that are not
    # a JSON object, or nested too deep to parse, and a message of invalid UTF-8.
    with store.conn:
        store.conn.execute(
            "UPDATE records SET attributes = ? WHERE spanId = 's5-esc' AND kind = 'span-open'",
            ("{not json",),
        )
        store.conn.execute(
            "UPDATE records SET attributes = ? WHERE spanId = 's5-root' AND kind = 'span-close'",
            (DEEP_ATTRIBUTES,),
        )
        store.conn.execute(
            "INSERT INTO records (id, kind, level, msg, spanId, turnId, extensionId, timestamp)"
            " VALUES ('badutf8', 'log', 'warn', CAST(x'6f6b20ff20626164' AS TEXT), 's5-esc',"
            " 'turn-0005', '[red]ext[/]', ?)",
            (t + 6_005,),
        )
    return store


TRACE_IDS = (
    "turn-0005", "extension:ext.zeta", "conversation:conv-9", "turn-0004", "turn-0003",
    "turn-0002", "turn-0001",
)  # fmt: skip
"""The sample's traces, newest first."""
