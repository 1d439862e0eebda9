"""`SpanDetail`: everything about the highlighted span (or the open trace) in a scrolling panel."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from lens_tui import humanize as fmt
from lens_tui.forest import CYCLE, ORPHAN, SELF_PARENT, SpanForest
from lens_tui.store.records import PendingSpan, SpanRow, TraceSummary
from lens_tui.text import ELLIPSIS, visible
from lens_tui.ui.cells import component_style
from lens_tui.ui.focus import KeysFollowFocus
from lens_tui.ui.keys import DETAIL_KEYS, bindings

VALUE_LIMIT = 2_000
"""Longest attribute value shown in full."""
TEXT_LIMIT = 100_000
"""Longest traceback or body shown."""
LINE_LIMIT = 1_000
"""Longest line of a traceback, events or body shown: wrapping a megabyte-long line (a minified
body) stalls the panel for seconds (tests/reliability/test_ui_huge.py)."""
ATTRIBUTES_SHOWN = 500
"""Attributes listed; a span with 100,000 of them took 30 s to show (test_ui_huge.py)."""


def pretty_body(text: str) -> str:
    """A captured body for reading: JSON indented, anything else as it came."""
    stripped = text.strip()
    # Past a megabyte parsing and indenting costs more than the panel can show (TEXT_LIMIT).
    if stripped[:1] in ("{", "[") and len(stripped) <= 1_000_000:
        try:
            return json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            pass
    return text


def long_text(text: str) -> str:
    """A traceback or body made visible, newlines kept, cut at TEXT_LIMIT characters and each
    line at LINE_LIMIT, with an ellipsis where cut."""
    lines = visible(text, TEXT_LIMIT, keep_newlines=True).split("\n")
    return "\n".join(
        line if len(line) <= LINE_LIMIT else line[: LINE_LIMIT - 1] + ELLIPSIS for line in lines
    )


def attribute_value(encoded: str) -> str:
    """An attribute's JSON-encoded value as it reads best: strings bare, the rest as JSON."""
    try:
        value = json.loads(encoded)
    except (ValueError, RecursionError):
        return encoded
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


HTTP_STATUS_KEYS = ("http.response.status_code", "http.status_code")
"""Where a span keeps the HTTP status it answered with (OpenTelemetry's current name first)."""


def root_span(summary: TraceSummary | None, forest: SpanForest | None) -> SpanRow | None:
    """The trace's root span as read (None while its row is being read, or without one)."""
    if forest is None or not len(forest):
        return None
    node = forest.index_of.get(summary.root_span_id) if summary and summary.root_span_id else None
    if node is None:
        node = forest.order[0]
    span = forest.spans[node]
    return None if type(span) is PendingSpan else span


def http_status(span: SpanRow) -> str | None:
    """The HTTP status a span answered with, if it kept one."""
    found = dict(span.attributes)
    for key in HTTP_STATUS_KEYS:
        if key in found:
            return attribute_value(found[key])
    return None


class SpanDetail(KeysFollowFocus, VerticalScroll, can_focus=True):
    """Attributes, status, error and traceback, sizes, source location and captured bodies."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*DETAIL_KEYS)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "span-detail--title",
        "span-detail--label",
        "span-detail--error",
        "span-detail--ok",
        "span-detail--running",
        "span-detail--code",
    }

    DEFAULT_CSS = """
    SpanDetail {
        background: $surface;
        padding: 0 1;
        & > .span-detail--title { text-style: bold; color: $text; }
        & > .span-detail--label { color: $text-muted; }
        & > .span-detail--error { color: $error; }
        & > .span-detail--ok { color: $success; }
        & > .span-detail--running { color: $warning; }
        & > .span-detail--code { color: $text; }
        & > Static { width: 1fr; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.span: SpanRow | None = None
        """The span shown (None when showing the trace or nothing)."""
        self._head = Text()
        self._text = Text()
        self._bodies: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        """A span's first lines (title, status, duration: what ticks while it runs), then
        the rest: each a static text, rebuilt when the selection changes."""
        yield Static(id="detail-head")
        yield Static(id="detail-text")

    def action_top(self) -> None:
        """Scroll to the title."""
        self.scroll_home(animate=False)

    def action_bottom(self) -> None:
        """Scroll to the last body."""
        self.scroll_end(animate=False)

    def _style(self, component: str) -> Style:
        return component_style(self, component)

    def _show(self, text: Text, head: Text | None = None) -> None:
        if not self.is_attached:
            return  # quitting: a last message may still show a span in the removed panel
        self._show_head(head or Text())
        self._text = text
        self.query_one("#detail-text", Static).update(text)

    def _show_head(self, head: Text) -> None:
        same = head.plain == self._head.plain and head.spans == self._head.spans
        if same or not self.is_attached:
            return
        self._head = head
        shown = head.copy()
        shown.rstrip()  # the rest follows on the next line, not after an empty one
        widget = self.query_one("#detail-head", Static)
        widget.display = bool(shown.plain)
        widget.update(shown)

    def copy_text(self) -> str | None:
        """What `c` copies here: the whole panel as plain text."""
        return (self._head.plain + self._text.plain) or None

    def tick(self, now: float) -> None:
        """A running span's "… so far" goes on: only the first lines are drawn again (the
        rest may be a megabyte of body and traceback, seconds to lay out)."""
        span = self.span
        if span is None or span.duration_ms is not None:
            return
        self._show_head(self._span_head(span, now))

    def clear(self, message: str = "") -> None:
        """Show nothing (or a hint)."""
        self.span = None
        self._bodies = {}
        self._show(Text(message, style=self._style("span-detail--label")))

    # ---- building blocks

    def _field(self, text: Text, label: str, value: str, style: Style | None = None) -> None:
        text.append(f"{label:<10} ", self._style("span-detail--label"))
        text.append(value, style)
        text.append("\n")

    def _section(self, text: Text, title: str) -> None:
        text.append("\n")
        text.append(title + "\n", self._style("span-detail--title"))

    def _status_style(self, status: str) -> Style:
        return self._style(
            {"error": "span-detail--error", "running": "span-detail--running"}.get(
                status, "span-detail--ok"
            )
        )

    # ---- what is shown

    def show_trace(self, summary: TraceSummary | None, forest: SpanForest | None) -> None:
        """The open trace as a whole (no span highlighted yet)."""
        self.span = None
        self._bodies = {}
        text = Text()
        if summary is None and forest is None:
            self._show(text)
            return
        name = summary.root_span_name if summary else ""
        text.append(visible(name or "(trace)", 500) + "\n", self._style("span-detail--title"))
        if summary is not None:
            self._field(text, "trace", visible(summary.trace_id, 64))
            self._field(text, "status", summary.status, self._status_style(summary.status))
            self._field(text, "started", fmt.clock_time(summary.started_at))
            self._field(text, "duration", fmt.duration(summary.duration_ms))
            if summary.service or summary.source:
                self._field(text, "service", visible(summary.service or summary.source, 200))
            if summary.error_count:
                self._field(
                    text, "errors", str(summary.error_count), self._style("span-detail--error")
                )
        root = root_span(summary, forest)
        if root is not None:
            # How the request ended, before any span is highlighted.
            self._field(text, "root", root.status, self._status_style(root.status))
            code = http_status(root)
            if code is not None:
                self._field(text, "http", visible(code, 20), self._status_style(root.status))
            failure = ": ".join(
                visible(v, VALUE_LIMIT) for v in (root.exception_type, root.error_message) if v
            )
            if failure:
                self._field(text, "error", failure, self._style("span-detail--error"))
        if forest is not None:
            self._field(text, "spans", fmt.count(len(forest)))
            if forest.running:
                self._field(
                    text, "running", str(forest.running), self._style("span-detail--running")
                )
            if forest.marks:
                self._field(text, "broken", f"{len(forest.marks)} spans out of place")
        text.append("\n")
        text.append("↑/↓ in the waterfall shows a span here", self._style("span-detail--label"))
        self._show(text)
        self.scroll_home(animate=False)

    def show_span(self, forest: SpanForest, span: SpanRow, now: float) -> None:
        """One span in full; bodies appear when `set_body` brings them."""
        if self.span is None or self.span.span_id != span.span_id:
            self._bodies = {}
            self.scroll_home(animate=False)
        self.span = span
        node = forest.index_of.get(span.span_id)
        head = self._span_head(span, now)
        text = Text()
        # The failure first: it is what the reader of a red span came for.
        error = self._style("span-detail--error")
        if span.exception_type:
            self._field(text, "exception", visible(span.exception_type, 200), error)
        if span.error_message:
            self._field(text, "error", visible(span.error_message, VALUE_LIMIT), error)
        if node is not None:
            self_ms = forest.self_ms[node]
            if self_ms is not None:
                self._field(text, "self time", fmt.duration(self_ms))
            self._field(text, "offset", "+" + fmt.duration(span.started_at - forest.start))
            if node in forest.critical:
                self._field(
                    text, "critical", "on the critical path", self._style("span-detail--title")
                )
            mark = forest.marks.get(node)
            if mark is not None:
                self._field(text, "warning", _MARK_TEXT[mark], self._style("span-detail--running"))
        if span.traceback:
            self._section(text, "Traceback")
            text.append(
                long_text(span.traceback).rstrip("\n") + "\n",
                self._style("span-detail--code"),
            )
        if span.traceback:
            self._section(text, "Span")
        self._field(text, "started", fmt.clock_time(span.started_at))
        self._field(text, "span", visible(span.span_id, 64))
        if span.parent_span_id:
            self._field(text, "parent", visible(span.parent_span_id, 64))
        if span.service:
            self._field(text, "service", visible(span.service, 200))
        if span.kind:
            self._field(text, "kind", visible(span.kind, 50))
        if span.input_size is not None or span.output_size is not None:
            sizes = f"in {fmt.size(span.input_size)} · out {fmt.size(span.output_size)}"
            self._field(text, "sizes", sizes)
        if span.source_location:
            self._field(text, "source", visible(span.source_location, 500))
        if span.attributes:
            self._section(text, "Attributes")
            for key, encoded in span.attributes[:ATTRIBUTES_SHOWN]:
                text.append(visible(key, 200), self._style("span-detail--label"))
                text.append(" = ")
                text.append(visible(attribute_value(encoded), VALUE_LIMIT) + "\n")
            hidden = len(span.attributes) - ATTRIBUTES_SHOWN
            if hidden > 0:
                text.append(
                    f"{ELLIPSIS} {fmt.count(hidden)} more attributes\n",
                    self._style("span-detail--label"),
                )
        if span.events:
            self._section(text, "Events")
            text.append(long_text(pretty_body(span.events)) + "\n")
        bodies = (("Input", span.input_body_hash), ("Output", span.output_body_hash))
        for label, body_hash in bodies:
            if not body_hash:
                continue
            self._section(text, f"{label} body")
            body = self._bodies.get(body_hash)
            if body is None:
                text.append("loading…\n", self._style("span-detail--label"))
            else:
                text.append(long_text(pretty_body(body)) + "\n")
        self._show(text, head)

    def _span_head(self, span: SpanRow, now: float) -> Text:
        """Title, status and duration ("… so far" while running)."""
        head = Text()
        pending = type(span) is PendingSpan  # its row is being read: shown in a moment
        title = "… (reading this span)" if pending else visible(span.name, 500)
        head.append(title + "\n", self._style("span-detail--title"))
        status = "…" if pending else span.status
        self._field(
            head,
            "status",
            status,
            self._style("span-detail--label") if pending else self._status_style(status),
        )
        if span.duration_ms is None:
            self._field(
                head,
                "duration",
                fmt.duration(max(now - span.started_at, 0)) + " so far",
                self._style("span-detail--running"),
            )
        else:
            self._field(head, "duration", fmt.duration(span.duration_ms))
        return head

    def has_body(self, body_hash: str) -> bool:
        """Whether the body `body_hash` of the span shown has arrived."""
        return body_hash in self._bodies

    def set_body(self, forest: SpanForest, body_hash: str, body: str | None, now: float) -> None:
        """A captured body arrived from the worker: show it if its span is still shown."""
        span = self.span
        if span is None or body_hash not in (span.input_body_hash, span.output_body_hash):
            return
        self._bodies[body_hash] = body if body is not None else "(body not stored)"
        self.show_span(forest, span, now)


_MARK_TEXT = {
    ORPHAN: "parent span not in this trace (shown at top level)",
    CYCLE: "parent chain loops back (cut here)",
    SELF_PARENT: "names itself as parent",
}
