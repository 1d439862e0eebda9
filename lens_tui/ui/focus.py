"""Keys follow the focus, even keys typed before it moved.

Textual routes a key to the widget focused when the key *arrives*, and the key's bindings
are looked up only when it has bubbled back up to the app, along the focus chain of *that*
moment. Keys typed in one burst (a paste, a fast typist, keys bunched up by a slow SSH link)
right after one that moves the focus were routed to the pane being left, then looked up from
the new one: `/checkout⏎` lost its letters (`e` toggled errors only, `c` copied) and applied
an empty filter. `KeysFollowFocus` notes which widget a key was routed to, and
`retype_if_focus_moved` (called by the app) hands such a key to the widget focused now.

Textual has no public way to hand an already-routed key on in order: this module alone uses
two of its private methods, `App._check_bindings` and `Message._set_forwarded` (docs/decisions.md
says why and what holds them).
"""

from __future__ import annotations

from textual import events
from textual.app import App
from textual.dom import NoScreen
from textual.widget import Widget

_ROUTED_TO = "_lens_routed_to"


def focus_now(widget: Widget) -> None:
    """Focus `widget` before the next queued event is handled (`Widget.focus()` waits)."""
    try:
        widget.screen.set_focus(widget)
    except NoScreen:
        pass


class KeysFollowFocus:
    """Mixed into a focusable widget (before its Textual base): notes on each key the widget
    receives that the key was routed to it, and leaves a key alone (to bubble up and be
    retyped) once the focus has moved away. A plain mixin, not a `Widget`: Textual merges
    CSS, component classes and type names along the widget classes of the MRO."""

    async def on_key(self, event: events.Key) -> None:
        """Note where the key was routed (before the widget's own handling)."""
        _note_route(self, event)

    async def on_paste(self, event: events.Paste) -> None:
        """A paste is routed and bubbles like a key."""
        _note_route(self, event)


def _note_route(widget: object, event: events.Key | events.Paste) -> None:
    if getattr(event, _ROUTED_TO, None) is None:
        setattr(event, _ROUTED_TO, widget)
    if widget.screen.focused is not widget:  # type: ignore[attr-defined]
        event.prevent_default()  # e.g. an Input must not take a letter meant elsewhere


async def retype_if_focus_moved(app: App[object], event: events.Key | events.Paste) -> bool:
    """If the focus moved since `event` was routed, act on the key as if it arrived now: the
    app's priority bindings first (as on arrival), else the widget focused now gets it (in
    the order keys came); a paste likewise. Returns True when it was taken care of here."""
    routed_to = getattr(event, _ROUTED_TO, None)
    focused = app.focused
    if routed_to is None or focused is None or focused is routed_to:
        return False
    if routed_to in focused.ancestors:
        return False  # it came up from the focused widget itself: never retype in a circle
    event.stop()
    event.prevent_default()
    retyped: events.Key | events.Paste
    if isinstance(event, events.Paste):
        retyped = events.Paste(event.text)
    elif await app._check_bindings(event.key, priority=True):  # noqa: SLF001
        return True
    else:
        retyped = events.Key(event.key, event.character)
    retyped._set_forwarded()  # noqa: SLF001  (as the app's own routing does)
    focused.post_message(retyped)
    return True
