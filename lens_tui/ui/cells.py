"""Fitting text into fixed-width terminal cells and turning styled pieces into a `Strip`."""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from lens_tui.text import ELLIPSIS

Piece = tuple[str, Style | None]
"""A run of already-sanitised text and its style."""


def fit(text: str, width: int, *, align: str = "left") -> str:
    """`text` cut (with an ellipsis) or padded to exactly `width` cells."""
    if width <= 0:
        return ""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + ELLIPSIS if width > 1 else ELLIPSIS
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


def strip(pieces: Iterable[Piece], width: int) -> Strip:
    """A strip of exactly `width` cells from styled pieces (cut or padded at the end)."""
    segments = [Segment(text, style) for text, style in pieces if text]
    return Strip(segments).adjust_cell_length(width)


def fg_only(style: Style) -> Style:
    """The foreground and text attributes of a component style, without its background.

    Component styles carry the widget's background; painted over a highlighted cursor row
    that background would hide the highlight.
    """
    return Style(
        color=style.color,
        bold=style.bold,
        dim=style.dim,
        italic=style.italic,
        underline=style.underline,
        reverse=style.reverse,
        strike=style.strike,
    )


def component_style(widget: Widget, component: str) -> Style:
    """A component class's foreground style (`fg_only`); plain once the widget is gone
    (quitting clears its component styles while a last message may still draw)."""
    return fg_only(widget.get_component_rich_style(component, default=Style()))
