"""`KeysFooter`: Textual's `Footer`, rebuilt only when the keys it shows change."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    """Textual's footer recomposes (a dozen widgets, then a layout pass of the whole screen)
    each time the screen's bindings may have changed: twice per focus change, most often to
    show the same keys. That was about 35 ms of the UI thread per focus change, spent while a
    trace is being read. This one recomposes only when what it would show differs."""

    _shown: Any = None
    """What the footer shows (see `_keys`), once the screen's bindings are known."""
    _ready = False
    """The screen has announced its bindings once (before that the footer shows nothing)."""

    def _keys(self, screen: Screen[Any]) -> Any:
        return (
            self.show_command_palette,
            self.compact,
            tuple(
                (binding.key, binding.action, binding.description, binding.show, enabled, tooltip)
                for (_, binding, enabled, tooltip) in screen.active_bindings.values()
            ),
        )

    def compose(self) -> Any:
        """Textual's keys, noting which they are."""
        if self._ready:
            self._shown = self._keys(self.screen)
        return super().compose()

    def watch_show_command_palette(self) -> None:
        """The palette key comes or goes with the width (`LensApp.on_resize`): lay the keys out
        again. Repainted only, the old palette key stayed drawn over the keys at its left
        (`Filter▏^p palettea` after narrowing to 80 columns)."""
        if self._ready and self.is_attached:
            self.bindings_changed(self.screen)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        """Recompose only if the keys to show differ from those shown (or about to be)."""
        if self._ready and screen is self.screen:
            keys = self._keys(screen)
            if keys == self._shown:
                return
            if screen.app.app_focus and self.is_attached:
                # Textual recomposes after the next refresh: the same keys announced again
                # before then (a focus change sends two) need no second recompose.
                self._shown = keys
        self._ready = True
        super().bindings_changed(screen)
