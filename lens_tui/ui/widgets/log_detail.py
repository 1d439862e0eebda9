"""`LogDetail`: one log line in full, beside the log pane: its message, level as it was logged,
where it came from, the exception it was logged with and its attributes."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from lens_tui import humanize as fmt
from lens_tui.levels import LEVEL_NAME_KEY, RANK
from lens_tui.live.log_lines import kept_level
from lens_tui.store.decode import parse_attributes
from lens_tui.store.records import LogRow
from lens_tui.text import ELLIPSIS, visible
from lens_tui.ui.cells import component_style
from lens_tui.ui.focus import KeysFollowFocus
from lens_tui.ui.keys import DETAIL_KEYS, bindings
from lens_tui.ui.widgets.span_detail import (
    ATTRIBUTES_SHOWN,
    VALUE_LIMIT,
    attribute_value,
    long_text,
)

EMPTY = "↑/↓ on the log pane shows a line here"


class LogDetail(KeysFollowFocus, VerticalScroll, can_focus=True):
    """The highlighted log line in full (shown by `i` on the log pane, which it follows)."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*DETAIL_KEYS)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-detail--title",
        "log-detail--label",
        "log-detail--debug",
        "log-detail--info",
        "log-detail--warn",
        "log-detail--error",
        "log-detail--code",
    }

    DEFAULT_CSS = """
    LogDetail {
        display: none;
        width: 1fr;
        min-width: 36;
        height: 1fr;
        background: $surface;
        padding: 0 1;
        &.-shown { display: block; }
        & > .log-detail--title { text-style: bold; color: $text; }
        & > .log-detail--label { color: $text-muted; }
        & > .log-detail--debug { color: $text-muted; }
        & > .log-detail--info { color: $success; }
        & > .log-detail--warn { color: $warning; text-style: bold; }
        & > .log-detail--error { color: $error; text-style: bold; }
        & > .log-detail--code { color: $text; }
        & > Static { width: 1fr; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.row: LogRow | None = None
        """The line shown (None: none yet)."""
        self._text = Text()

    def compose(self) -> ComposeResult:
        """The text, rebuilt for each line shown."""
        yield Static(id="log-detail-text")

    def on_mount(self) -> None:
        """Its title."""
        self.border_title = Content.styled("Log detail", "bold")

    @property
    def shown(self) -> bool:
        """The panel is on screen."""
        return self.has_class("-shown")

    def action_top(self) -> None:
        """Scroll to the message."""
        self.scroll_home(animate=False)

    def action_bottom(self) -> None:
        """Scroll to the last attribute."""
        self.scroll_end(animate=False)

    def copy_text(self) -> str | None:
        """What `c` copies here: the whole panel as plain text."""
        return self._text.plain if self.row is not None else None

    def _style(self, component: str) -> Style:
        return component_style(self, f"log-detail--{component}")

    def _field(self, text: Text, label: str, value: str, style: Style | None = None) -> None:
        text.append(f"{label:<10} ", self._style("label"))
        text.append(value, style)
        text.append("\n")

    def _section(self, text: Text, title: str) -> None:
        text.append("\n" + title + "\n", self._style("title"))

    def show(self, log: LogRow | None) -> None:
        """Show `log` in full (None: say how to choose one)."""
        if log is not None and self.row is not None and log.id == self.row.id:
            return
        self.row = log
        text = Text()
        if log is None:
            text.append(EMPTY, self._style("label"))
        else:
            self._build(text, log)
        self._text = text
        if self.is_attached:
            self.query_one("#log-detail-text", Static).update(text)
            self.scroll_home(animate=False)

    def _build(self, text: Text, log: LogRow) -> None:
        level_style = self._style(log.level if log.level in RANK else "info")
        label = kept_level(log)
        message = visible(log.message, VALUE_LIMIT, keep_newlines=True)
        first, _, rest = message.partition("\n")
        text.append(visible(label, 20).upper() + "  ", level_style)
        text.append(first + "\n", self._style("title"))
        self._field(text, "time", fmt.clock_time_or_date(log.timestamp, with_date=True))
        level = log.level if label == log.level else f"{visible(label, 40)} (stored as {log.level})"
        self._field(text, "level", level, level_style)
        for name, value in (
            ("logger", log.logger),
            ("service", log.service),
            ("source", log.source_location),
            ("trace", log.trace_id),
            ("span", log.span_id),
        ):
            if value:
                self._field(text, name, visible(value, 500))
        if log.exception_type:
            self._field(text, "exception", visible(log.exception_type, 200), self._style("error"))
        if log.traceback:
            self._section(text, "Traceback")
            text.append(long_text(log.traceback).rstrip("\n") + "\n", self._style("code"))
        if rest:
            self._section(text, "Message")
            text.append(message + "\n")
        pairs = [p for p in parse_attributes(log.attributes) if p[0] != LEVEL_NAME_KEY]
        if pairs:
            self._section(text, "Attributes")
            for key, encoded in pairs[:ATTRIBUTES_SHOWN]:
                text.append(visible(key, 200), self._style("label"))
                text.append(" = " + visible(attribute_value(encoded), VALUE_LIMIT) + "\n")
            hidden = len(pairs) - ATTRIBUTES_SHOWN
            if hidden > 0:
                text.append(
                    f"{ELLIPSIS} {fmt.count(hidden)} more attributes\n", self._style("label")
                )
