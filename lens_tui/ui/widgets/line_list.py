"""`LineList`: the base of every list in the dashboard, drawn with Textual's line API.

Textual's `DataTable` and `Tree` rebuild on change and stop scaling long before our sizes
(docs/findings.md), so each list here is a `ScrollView` that renders only the rows on screen, from
a small LRU of strips, with a keyboard/mouse cursor and an optional fixed header line.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar

from rich.style import Style
from textual import events
from textual.binding import BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from lens_tui.text import visible
from lens_tui.ui.cells import component_style, fit, strip
from lens_tui.ui.focus import KeysFollowFocus, focus_now
from lens_tui.ui.keys import LIST_KEYS, bindings


class LineList(KeysFollowFocus, ScrollView, can_focus=True):
    """A focusable, scrolling list of rows with a cursor; subclasses say how a row looks."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*LIST_KEYS)

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "line-list--cursor",
        "line-list--header",
        "line-list--empty",
    }

    DEFAULT_CSS = """
    LineList {
        overflow-x: hidden;
        overflow-y: auto;
        scrollbar-size-vertical: 1;
        background: $surface;
        & > .line-list--cursor { background: $foreground 8%; }
        &:focus > .line-list--cursor { background: $foreground 17%; text-style: bold; }
        & > .line-list--header { color: $text-muted; text-style: bold; }
        & > .line-list--empty { color: $text-muted; text-style: italic; }
    }
    """

    header_lines: ClassVar[int] = 0
    """Lines at the top that do not scroll (column titles, a time ruler)."""

    empty_message: str = ""
    """What an empty list says instead of rows."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.cursor = -1
        """Index of the highlighted row; -1 when nothing is highlighted."""
        self._strips: LRUCache[Hashable, Strip] = LRUCache(1024)
        self.virtual_floor = 0
        """Lines the scroll area keeps even past the last row, so rows added above can be
        scrolled out of the way when the list is shorter than the view (holding still)."""

    # ---- what subclasses provide

    @property
    def row_count(self) -> int:
        """How many rows the list has."""
        return 0

    def row_key(self, index: int) -> Hashable:
        """A value that changes whenever row `index` would look different."""
        return index

    def render_row(self, index: int, width: int) -> Strip:
        """Row `index` as exactly `width` cells (styles without background)."""
        return Strip.blank(width)

    def render_header(self, line: int, width: int) -> Strip:
        """Fixed header line `line`."""
        return Strip.blank(width)

    def cursor_moved(self, user: bool) -> None:
        """Called after the cursor moved; `user` when a key or click moved it."""

    def action_select(self) -> None:
        """The row under the cursor was chosen (enter or double click)."""

    # ---- helpers for subclasses

    def style_of(self, component: str) -> Style:
        """A component class's foreground style (cached by Textual, cleared on theme change)."""
        return component_style(self, component)

    @property
    def content_width(self) -> int:
        """Cells available for a row (excludes the scrollbar)."""
        return max(self.scrollable_content_region.width, 1)

    @property
    def body_height(self) -> int:
        """Rows visible below the header."""
        return max(self.scrollable_content_region.height - self.header_lines, 1)

    @property
    def first_visible(self) -> int:
        """Index of the row at the top of the view."""
        return self.scroll_offset.y

    def redraw(self) -> None:
        """Draw every visible row again (what they show changed, not which rows there are)."""
        self._strips.clear()
        self.refresh()

    def rows_changed(self, *, clear_cache: bool = False) -> None:
        """Rows were added, removed or changed: resize the scroll area and repaint."""
        if clear_cache:
            self._strips.clear()
        self.cursor = min(self.cursor, self.row_count - 1)
        self.virtual_size = Size(self.content_width, self._virtual_height())
        self.refresh()

    def _virtual_height(self) -> int:
        return max(self.row_count + self.header_lines, self.virtual_floor)

    def scroll_rows(self, y: int) -> None:
        """Put row `y` at the top of the view, immediately."""
        max_y = max(self._virtual_height() - self.scrollable_content_region.height, 0)
        self.scroll_to(y=max(0, min(y, max_y)), animate=False, force=True)

    def move_cursor(self, index: int, *, user: bool = False, scroll: bool = True) -> None:
        """Highlight row `index` (clamped), bring it into view, tell the subclass."""
        count = self.row_count
        index = -1 if count == 0 else max(0, min(index, count - 1))
        changed = index != self.cursor
        self.cursor = index
        if scroll and index >= 0:
            self.scroll_cursor_into_view()
        self.refresh()
        if changed or user:
            self.cursor_moved(user)

    def scroll_cursor_into_view(self) -> None:
        """Scroll just enough for the cursor row to be visible."""
        top, height = self.first_visible, self.body_height
        if self.cursor < top:
            self.scroll_rows(self.cursor)
        elif self.cursor >= top + height:
            self.scroll_rows(self.cursor - height + 1)

    # ---- rendering

    def notify_style_update(self) -> None:
        """Theme or focus changed: cached strips hold old colours."""
        super().notify_style_update()
        self._strips.clear()

    def on_resize(self, _event: events.Resize) -> None:
        """New size: rows are laid out again and the cursor stays in view."""
        self.rows_changed(clear_cache=True)
        if self.cursor >= 0:
            self.scroll_cursor_into_view()

    def render_line(self, y: int) -> Strip:
        """Line `y` of the view: a header line, a (cached) row, or blank."""
        width = self.content_width
        base = self.rich_style
        if y < self.header_lines:
            return self.render_header(y, width).apply_style(base)
        index = self.first_visible + y - self.header_lines
        count = self.row_count
        if count == 0:
            if y == self.header_lines and self.empty_message:
                # It may name the file or quote an open error: data, made visible.
                text = fit("  " + visible(self.empty_message, 500), width)
                return strip([(text, self.style_of("line-list--empty"))], width).apply_style(base)
            return Strip.blank(width, base)
        if index >= count:
            return Strip.blank(width, base)
        selected = index == self.cursor
        key = (self.row_key(index), width, selected, selected and self.has_focus)
        cached = self._strips.get(key)
        if cached is not None:
            return cached
        line = self.render_row(index, width)
        if selected:
            line = line.apply_style(self.get_component_rich_style("line-list--cursor"))
        line = line.apply_style(base)
        self._strips[key] = line
        return line

    # ---- keys and mouse

    def action_cursor_up(self) -> None:
        """Move up one row."""
        self.move_cursor(max(self.cursor - 1, 0), user=True)

    def action_cursor_down(self) -> None:
        """Move down one row."""
        self.move_cursor(self.cursor + 1, user=True)

    def action_page_up(self) -> None:
        """Move up one screen."""
        self.move_cursor(max(self.cursor - self.body_height, 0), user=True)

    def action_page_down(self) -> None:
        """Move down one screen."""
        self.move_cursor(max(self.cursor, 0) + self.body_height, user=True)

    def action_first(self) -> None:
        """Go to the first row."""
        self.move_cursor(0, user=True)

    def action_last(self) -> None:
        """Go to the last row."""
        self.move_cursor(self.row_count - 1, user=True)

    def on_click(self, event: events.Click) -> None:
        """A click highlights the row under the pointer; a double click also chooses it."""
        offset = event.get_content_offset(self)
        if offset is None or offset.y < self.header_lines:
            return
        index = self.first_visible + offset.y - self.header_lines
        if 0 <= index < self.row_count:
            focus_now(self)
            self.move_cursor(index, user=True, scroll=False)
            if event.chain >= 2:
                self.action_select()
