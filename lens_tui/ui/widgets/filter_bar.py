"""`FilterBar`: the one-line text filter `/` opens for the trace list or the log pane."""

from __future__ import annotations

from typing import ClassVar, Literal

from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label

from lens_tui.ui.focus import KeysFollowFocus, focus_now
from lens_tui.ui.keys import FILTER_BAR_KEYS, bindings

FilterTarget = Literal["traces", "logs", "spans", "query"]

_PROMPTS: dict[FilterTarget, str] = {
    "traces": "filter root span names:",
    "logs": "filter log messages:",
    "spans": "find spans named:",
    "query": "trace query:",
}


class FilterInput(KeysFollowFocus, Input):
    """The filter's text field; keys typed after Enter or Escape go where the focus went."""

    async def on_key(self, event: events.Key) -> None:
        """Enter applies here and now; any other key goes on as usual."""
        # Enter applies at once, not when the key has bubbled up to the app's bindings: the
        # focus must move before the next key of a burst is handled (`lens_tui.ui.focus`).
        if event.key == "enter" and self.screen.focused is self:
            event.stop()
            event.prevent_default()
            bar = self.parent
            if isinstance(bar, FilterBar):
                bar.submit(self.value)


class FilterBar(Horizontal):
    """A prompt and an input; Enter applies, Escape clears (both close the bar)."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(*FILTER_BAR_KEYS)

    DEFAULT_CSS = """
    FilterBar {
        /* In the layout's flow, just above the footer: docked at the bottom, the footer
           (docked there too) covered it and the filter was typed blind. */
        height: 1;
        display: none;
        background: $panel;
        &.-open { display: block; }
        & > Label { padding: 0 1; color: $accent; text-style: bold; }
        & > FilterInput {
            border: none; height: 1; padding: 0; width: 1fr; background: $panel;
            /* Input's own `:focus` rule would draw its tall border (two rows in a bar of one) */
            &:focus { border: none; background: $panel; }
        }
    }
    """

    class Applied(Message):
        """The user pressed Enter: filter `target` by `text` ("" removes the filter)."""

        def __init__(self, target: FilterTarget, text: str) -> None:
            super().__init__()
            self.target = target
            self.text = text

    class Cleared(Message):
        """The user pressed Escape: remove the filter on `target`."""

        def __init__(self, target: FilterTarget) -> None:
            super().__init__()
            self.target = target

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.target: FilterTarget = "traces"
        """Which pane the text filters."""
        self._back: Widget | None = None
        """Where the focus goes when the bar closes."""

    def compose(self) -> ComposeResult:
        """Prompt and input."""
        yield Label(_PROMPTS["traces"])
        yield FilterInput(placeholder="text (Enter applies, Esc clears)")

    def open(self, target: FilterTarget, value: str, *, back: Widget | None) -> None:
        """Show the bar for `target`, prefilled with the current filter, and focus it; the
        focus goes `back` when the bar closes."""
        self.target = target
        self._back = back
        self.query_one(Label).update(_PROMPTS[target])
        field = self.query_one(FilterInput)
        field.value = value
        field.cursor_position = len(value)
        self.add_class("-open")
        focus_now(field)

    def close(self) -> None:
        """Hide the bar; the focus goes back where it came from, at once."""
        self.remove_class("-open")
        back, self._back = self._back, None
        if back is not None and back.is_attached:
            focus_now(back)

    def submit(self, value: str) -> None:
        """Apply `value` (Enter)."""
        self.close()
        self.post_message(self.Applied(self.target, value.strip()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter by other ways than a key (a paste ending in a newline)."""
        event.stop()
        if self.has_class("-open"):
            self.submit(event.value)

    def action_clear(self) -> None:
        """Escape: clear."""
        self.query_one(FilterInput).value = ""
        self.close()
        self.post_message(self.Cleared(self.target))
