"""Cases 8 and 9 (dashboard): escape sequences, invisible characters and markup in data never
reach the terminal as anything but visible text.

The real dashboard runs once in a pseudo-terminal while a Pilot script tours every pane (trace
list, waterfall, span detail with attributes, error, traceback, events and a captured body, log
pane, copy and its notification) and clicks on `[@click=app.quit]` text. Every byte it writes is
captured: the only escape sequences in it are Textual's own, each payload shows as visible
placeholders (␛ …) or verbatim brackets, and what `c` puts on the clipboard is placeholders too
(a pasted ESC could end bracketed paste and run the rest in the user's shell).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lens_tui.text import visible

from .conftest import write_script
from .ui_support import (
    T0,
    PtyRun,
    RawText,
    clipboard_writes,
    foreign_controls,
    insert,
    run_in_pty,
    unsafe_in,
    writer,
)

PAYLOADS: list[tuple[str, str | bytes]] = [
    ("osc-title", "\x1b]0;PWN\x07"),
    ("osc-52", "\x1b]52;c;UFdO\x07"),
    ("osc-8", "\x1b]8;;http://evil.example/\x1b\\L\x1b]8;;\x1b\\"),
    ("csi-clear", "\x1b[2J\x1b[H"),
    ("alt-screen", "\x1b[?1049h"),
    ("dcs", "\x1bPq#0;2;0;0;0\x1b\\"),
    ("apc", "\x1b_Gf=100;QQ\x1b\\"),
    ("c1-csi", "\x9b2J"),
    ("c1-osc", "\x9d0;PWN\x9c"),
    ("bel", "a\x07\x07b"),
    ("cr", "abc\rX"),
    ("bs", "abc\x08\x08X"),
    ("bidi", "\u202egnp.exe"),
    ("zero-width", "a\u200bb\u200dc\ufeff"),
    ("nul", "a\x00b"),
    # Invalid UTF-8 stored as TEXT (a C writer, a surrogate encoded as bytes), then a BLOB.
    ("invalid-utf8", RawText(b"\xff\xfe\xed\xb3\xbf\x1b[2J\xc3")),
    ("blob", b"\x1b]0;PWN\x07blob"),
    # Case 9: markup. Shown verbatim, never parsed (a crash, a style, a link or an action).
    ("markup-close", "x[/]"),
    ("markup-style", "[bold red]b[/bold red]"),
    ("markup-click", "[@click=app.quit]q"),
    ("markup-link", '[link="http://evil.example/"]L[/link]'),
    ("markup-nested", "[[b]] [b][[/b]]"),
    ("markup-backslash", "x\\"),
]
"""(label, payload): str stored as TEXT, RawText as TEXT with invalid UTF-8, bytes as a BLOB."""
MARKUP = [label for label, _ in PAYLOADS if label.startswith("markup-")]
MARKER_FIRST = {"markup-backslash"}
"""Payloads that must end the stored text (a trailing backslash): the marker goes first."""

SLOTS = {
    "r": "root span name (trace list)",
    "n": "span name (waterfall, detail title)",
    "k": "attribute key (detail)",
    "v": "attribute value (detail)",
    "e": "error message (detail)",
    "x": "exception type (detail)",
    "t": "traceback (detail)",
    "l": "log message (log pane)",
}
HOSTILE_NAME = "[b]root[/b] x[/] [@click=app.quit]q ~RT~"
"""The hostile trace's root name: in the waterfall's and log pane's titles and the detail."""
HOSTILE_TRACE = "\x1b]0;PWN-ID\x07" + "a" * 22
"""The trace whose spans carry the payloads; its id is hostile too (`c` in the list copies it)."""
HOSTILE_SPAN = "\x1b]0;PWN-SPAN\x07" + "b" * 4
FILE_NAME = "t\x1b]0;PWN-FILE\x07[@click=app.quit]q.db"
"""The database file's own name is hostile (the header and the "opening …" line show it)."""
BODY = "plain body \x1b]0;PWN-BODY\x07 \x1b[2J end"
EVENTS = json.dumps([{"name": "evt", "attributes": {"m": "x"}}]) + "\x1b]0;PWN-EVT\x07"


def marker(index: int, slot: str) -> str:
    """A unique ASCII tag after each payload: finds it in the output, raw or made visible."""
    return f"~{index:02d}{slot}~"


def label_of(index: int) -> str:
    """The payload's label."""
    return PAYLOADS[index][0]


def tagged(text: str, index: int, slot: str) -> str:
    """Payload text and its marker in stored order."""
    tag = marker(index, slot)
    return tag + text if label_of(index) in MARKER_FIRST else text + tag


def stored(payload: str | bytes, index: int, slot: str) -> Any:
    """The value as written to the database: payload and marker, keeping its storage type."""
    if isinstance(payload, str):
        return tagged(payload, index, slot)
    tag = marker(index, slot).encode()
    if isinstance(payload, RawText):
        return RawText(bytes(payload) + tag)
    return payload + tag


def as_read(payload: str | bytes) -> str:
    """The payload as the reader hands it over (invalid UTF-8 as U+FFFD)."""
    return payload if isinstance(payload, str) else bytes(payload).decode("utf-8", "replace")


def build(path: Path) -> None:
    """One hostile trace (a span per payload, a log per payload) plus a root-named trace per
    payload, and a captured body and events with escapes."""
    conn = writer(path)
    conn.execute("BEGIN IMMEDIATE")
    count = len(PAYLOADS) + 1
    insert(
        conn,
        "traces",
        trace_id=HOSTILE_TRACE,
        root_span_name=HOSTILE_NAME,
        started_at=T0,
        ended_at=T0 + 100,
        duration_ms=100.0,
        root_span_id=HOSTILE_SPAN,
        service="evil",
        status="error",
        span_count=count,
        error_count=len(PAYLOADS),
        updated_at=T0 + 200,
    )
    insert(
        conn,
        "bodies",
        hash="b0dy",
        body=BODY.encode(),
        is_compressed=0,
        original_size=len(BODY),
        stored_size=len(BODY),
        created_at=T0,
    )
    insert(
        conn,
        "spans",
        span_id=HOSTILE_SPAN,
        trace_id=HOSTILE_TRACE,
        name=HOSTILE_NAME,
        started_at=T0,
        duration_ms=100.0,
        status="ok",
        service="evil",
        events=EVENTS,
        input_body_hash="b0dy",
        input_size=len(BODY),
        updated_at=T0 + 200,
    )
    for i, (_, payload) in enumerate(PAYLOADS):
        span_id = f"{i + 1:016x}"
        key = stored(payload, i, "k")
        insert(
            conn,
            "spans",
            span_id=span_id,
            trace_id=HOSTILE_TRACE,
            parent_span_id=HOSTILE_SPAN,
            name=stored(payload, i, "n"),
            started_at=T0 + 1 + i,
            duration_ms=2.0,
            status="error",
            service="evil",
            error_message=stored(payload, i, "e"),
            exception_type=stored(payload, i, "x"),
            traceback=_traceback(payload, i),
            attributes=_attributes(key, payload, i),
            updated_at=T0 + 200,
        )
        insert(
            conn,
            "logs",
            trace_id=HOSTILE_TRACE,
            span_id=span_id,
            level="error",
            message=stored(payload, i, "l"),
            timestamp=T0 + 2 + i,
            logger="evil",
            service="evil",
        )
        insert(
            conn,
            "traces",
            trace_id=f"{i + 1:032x}",
            root_span_name=stored(payload, i, "r"),
            started_at=T0 + 1_000 + i,
            ended_at=T0 + 1_001 + i,
            duration_ms=1.0,
            service="evil",
            status="ok",
            span_count=0,
            error_count=0,
            updated_at=T0 + 200,
        )
    conn.execute("COMMIT")
    conn.close()


def _traceback(payload: str | bytes, index: int) -> Any:
    head = 'Traceback (most recent call last):\n  File "x.py", line 1\n  '
    if isinstance(payload, str):
        return head + tagged(payload, index, "t") + "\nValueError: no"
    return RawText(head.encode() + bytes(payload) + marker(index, "t").encode() + b"\nValueError")


def _attributes(key: Any, payload: str | bytes, index: int) -> Any:
    """A JSON object {key: value}; JSON cannot carry invalid UTF-8, so that one is raw text."""
    if isinstance(payload, str):
        return json.dumps({key: tagged(payload, index, "v")})
    text = as_read(payload)
    return json.dumps({text + marker(index, "k"): text + marker(index, "v")})


TOUR = """
    import json, sys, time
    from pathlib import Path
    from lens_tui.ui.app import LensApp

    db, report, hostile, count = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    click_span = sys.argv[5]  # the span named "[@click=app.quit]q…"
    done = {"clicked": 0}

    async def until(pilot, condition, timeout=15.0):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(str(condition))
            await pilot.pause(0.05)

    async def click_text(pilot, widget, rows, needle, x):
        # Click on the row whose text holds `needle` (rows below a one-line header + border).
        index = next(i for i in range(len(rows)) if needle in str(rows[i]))
        widget.move_cursor(index)
        await pilot.pause(0.05)
        y = 2 + index - widget.first_visible
        await pilot.click(widget, offset=(x, y))
        await pilot.pause(0.2)  # an @click=app.quit action would have ended the app by now
        clicked(pilot.app, widget.id)

    def clicked(app, where):
        done["clicked"] += 1
        if app.return_code is not None:  # exit() was called: the click ran an action
            done.setdefault("quit_after_click", where)

    async def tour(pilot):
        app = pilot.app
        try:
            await until(pilot, lambda: app.trace_list.row_count >= count and app.log_pane.row_count)
            t0 = time.monotonic()
            # Column 16: the first character of the root span name (border, mark, time).
            await click_text(pilot, app.trace_list, app.trace_list.rows, "@click", 16)
            app.trace_list.move_cursor(app.trace_list.rows.index(hostile), user=True)
            await pilot.pause(0.1)
            await pilot.press("c")  # copies the (hostile) trace id
            await pilot.pause(0.2)
            await pilot.press("enter")
            await until(pilot, lambda: app.waterfall.row_count >= count)
            await pilot.press("down")  # the root span: events and a captured body
            await until(pilot, lambda: "PWN-BODY" in app.detail.copy_text())
            await pilot.pause(0.1)
            await pilot.press("c")  # copies the (hostile) span id
            await pilot.pause(0.2)
            done["t_open"] = time.monotonic() - t0
            for _ in range(app.waterfall.row_count):  # every span in the detail panel
                await pilot.press("down")
                # The detail panel shows this span, then a frame with it reaches the terminal
                # (a fixed short pause lost frames when the machine was busy).
                await until(pilot, lambda: getattr(app.detail.span, "span_id", None)
                            == app.waterfall.selected_span.span_id)
                await pilot.pause(0.08)
            done["t_spans"] = time.monotonic() - t0
            # The detail panel (rich text, unlike the line lists) names the span in its first
            # line: click on that name's first character (after border and padding).
            app.waterfall.select_span(click_span)
            await until(pilot, lambda: app.detail.span and app.detail.span.span_id == click_span)
            await pilot.pause(0.1)
            await pilot.click(app.detail, offset=(2, 1))
            await pilot.pause(0.2)
            clicked(app, "detail")
            app.waterfall.focus()
            await pilot.press("home")  # the root again: the log pane shows all its logs
            await until(pilot, lambda: app.log_pane.row_count >= count - 1)
            app.detail.focus()
            await pilot.pause(0.05)
            await pilot.press("c")  # copies the detail panel
            await pilot.pause(0.2)
            app.log_pane.focus()
            await pilot.press("home")  # the oldest lines scroll into view (newest were shown)
            await pilot.pause(0.1)
            # Column 20: the first character of the message (border, time, level).
            await click_text(pilot, app.log_pane, app.log_pane.rows, "@click", 20)
            await pilot.press("c")  # copies a log message
            await pilot.pause(0.4)  # the notification is drawn
            done.update(
                t_end=time.monotonic() - t0, traces=app.trace_list.row_count,
                spans=app.waterfall.row_count, logs=app.log_pane.row_count,
                clipboard=app.clipboard,
            )
        except BaseException as exc:
            done["error"] = repr(exc)
        finally:
            report.write_text(json.dumps(done))
            app.exit(0)

    LensApp(db, poll=0.5).run(auto_pilot=tour)
"""


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> PtyRun:
    """The dashboard run once in a pseudo-terminal over the hostile database (both cases read
    its output)."""
    tmp_path = tmp_path_factory.mktemp("injection")
    db = tmp_path / FILE_NAME
    build(db)
    script = write_script(tmp_path, "tour.py", TOUR)
    report = tmp_path / "report.json"
    click = next(i for i, (label, _) in enumerate(PAYLOADS) if label == "markup-click")
    args = (str(db), str(report), HOSTILE_TRACE, str(COUNT), f"{click + 1:016x}")
    run = run_in_pty(script, *args, report=report)
    return run


COUNT = len(PAYLOADS) + 1
"""Spans in the hostile trace (and traces listed)."""


def _finished(run: PtyRun) -> str:
    """The output as text, after checking the tour ran to its end."""
    tail = run.output[-2000:].decode("utf-8", "replace")
    assert run.report and run.report.get("error") is None, f"tour failed: {run.report} {tail}"
    assert run.returncode == 0, tail
    assert run.report["spans"] == COUNT and run.report["logs"] >= len(PAYLOADS)
    return run.output.decode("utf-8")


def _shown(index: int, slot: str) -> str:
    """What the screen must show for payload `index` in `slot`: placeholders, brackets as is."""
    payload = as_read(PAYLOADS[index][1])
    return tagged(visible(payload, keep_newlines=slot == "t"), index, slot)


def test_ui_08_escape_injection_never_reaches_the_terminal(tour: PtyRun) -> None:
    """The bytes the real dashboard wrote hold only Textual's own sequences; every payload in
    every pane shows as placeholders; the clipboard gets placeholders."""
    shown = _finished(tour)
    out = tour.output
    # 1. Nothing but Textual's own sequences: no OSC/DCS/APC, no C1, BEL, BS, CR, NUL, bidi.
    assert foreign_controls(out) == []
    assert out.count(b"\x1b[?1049h") == 1 and out.startswith(b"\x1b[?1049h")
    # 2. No payload arrived raw, in any slot.
    for i, (label, payload) in enumerate(PAYLOADS):
        for slot in SLOTS:
            raw = tagged(as_read(payload), i, slot).encode("utf-8", "surrogateescape")
            if label not in MARKUP:
                assert raw not in out, f"{label} reached the terminal raw via {SLOTS[slot]}"
    # 3. Each payload shows, as placeholders, in every pane.
    missing = [
        f"{PAYLOADS[i][0]}/{SLOTS[slot]}: {_shown(i, slot)!r}"
        for i in range(len(PAYLOADS))
        for slot in SLOTS
        if _shown(i, slot) not in shown
    ]
    assert not missing, f"payloads not shown as placeholders: {missing}"
    for extra in ("PWN-FILE", "PWN-BODY", "PWN-EVT", "PWN-ID", "PWN-SPAN"):
        assert f"␛]0;{extra}␇" in shown, f"{extra} not shown as placeholders"
    assert "copied: " in shown
    # 4. The clipboard: four copies, each free of control and invisible characters.
    copies = clipboard_writes(out)
    assert len(copies) == 4, copies
    for text in copies:
        assert unsafe_in(text) == [], f"the clipboard got control characters: {text[:200]!r}"
    assert any("PWN-ID" in text for text in copies) and any("PWN-SPAN" in t for t in copies)
    report = tour.report
    print(
        f"case 8: {len(PAYLOADS)} payloads x {len(SLOTS)} slots, {len(out):,} bytes written, "
        f"run {tour.elapsed:.1f} s (open {report['t_open']:.1f} s, every span "
        f"{report['t_spans']:.1f} s, all {report['t_end']:.1f} s): no foreign sequence, "
        f"{len(copies)} clean clipboard writes"
    )


def test_ui_09_markup_is_shown_verbatim_and_never_acts(tour: PtyRun) -> None:
    """Markup in every slot shows character for character; no OSC 8 link is written; clicking
    on `[@click=app.quit]` text in the trace list, the detail panel and the log pane leaves the
    app running."""
    quit_at = tour.report.get("quit_after_click")
    assert quit_at is None, f"clicking on [@click=app.quit] in the {quit_at} ended the app"
    shown = _finished(tour)
    for label in MARKUP:
        i = next(n for n, (name, _) in enumerate(PAYLOADS) if name == label)
        for slot in SLOTS:
            assert _shown(i, slot) in shown, f"{label} not verbatim in {SLOTS[slot]}"
    # The hostile trace's root name, in the waterfall and log titles and the detail panel.
    assert shown.count(HOSTILE_NAME[:20]) >= 3
    assert "[@click=app.quit]q.db" in shown  # the file name in the header
    assert b"\x1b]8;" not in tour.output, "a hyperlink was written"
    assert tour.report["clicked"] == 3, "the app ended while clicking on [@click=app.quit]"
    print(f"case 9: {len(MARKUP)} markup payloads x {len(SLOTS)} slots verbatim, 3 clicks")
