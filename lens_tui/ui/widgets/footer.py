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
        if self._bindings_ready:
            self._shown = self._keys(self.screen)
        return super().compose()

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self._bindings_ready and screen is self.screen and self._keys(screen) == self._shown:
            return
        super().bindings_changed(screen)
